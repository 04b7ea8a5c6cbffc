"""The database answers the verified-room policy needs, with a short memory.

    VerifiedRoomPolicy (in Synapse, via a worker thread) ──> PolicyFacts ──> curbside.credentials

Every method blocks on the database, so the Synapse adapter calls them through
``ModuleApi.defer_to_thread``; they are thread-safe.

Only answers that *grant* something are remembered, and only for ``ttl``
seconds: "this user holds an active credential (shown as this name)" and
"this room is verified".
So a revocation takes effect within ``ttl`` (the one delay the design
accepts), while a new approval, a freshly verified room and a new block take
effect at once — a remembered "no" could otherwise leave a verified room
unguarded for a moment right after the gatekeeper created it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from bots.gatekeeper.policy import (
    CREATE,
    DISPLAYNAME,
    REDACTION,
    TOMBSTONE,
    Facts,
    ProposedEvent,
    looks_verified,
)
from curbside.credentials import (
    active_credential,
    blocks_invites_from,
    invite_consented,
    is_verified_room,
    upgrade_announced,
)

T = TypeVar("T")


class _Remembered(Generic[T]):
    """Values known to hold until a deadline (monotonic clock)."""

    def __init__(self, ttl: float, clock: Callable[[], float]) -> None:
        self._ttl = ttl
        self._clock = clock
        self._until: dict[str, tuple[float, T]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> T | None:
        with self._lock:
            remembered = self._until.get(key)
            if remembered is None:
                return None
            deadline, value = remembered
            if deadline <= self._clock():
                del self._until[key]
                return None
            return value

    def remember(self, key: str, value: T) -> None:
        if self._ttl > 0:
            with self._lock:
                self._until[key] = (self._clock() + self._ttl, value)


@dataclass(frozen=True, slots=True)
class RoomState:
    """What the adapter read from the room's current state (Synapse's, not the database)."""

    encrypted: bool = False
    has_join_rule: bool = True
    predecessor: str | None = None
    """The room this one replaced, from its ``m.room.create``."""
    protected_event_ids: frozenset[str] = frozenset()
    """Ids of the room's current membership and policy state events."""


class PolicyFacts:
    """Reads verification state from the Curbside database (blocking calls)."""

    def __init__(
        self, engine: Engine, ttl: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._engine = engine
        self._verified_names: _Remembered[str] = _Remembered(ttl, clock)
        self._verified_rooms: _Remembered[bool] = _Remembered(ttl, clock)

    def facts_for(
        self, room_id: str, event: ProposedEvent, room: RoomState = RoomState()
    ) -> Facts:
        """Every fact :func:`~bots.gatekeeper.policy.judge_event` reads for this event.

        A room that succeeds a verified room (its ``m.room.create`` names one) is
        verified from its first event, whether or not it is recorded yet.
        """
        base = Facts(room_verified=False, room_encrypted=room.encrypted,
                     has_join_rule=room.has_join_rule)
        if event.event_type == CREATE:
            predecessor = event.predecessor
            verified = predecessor is not None and self.room_is_verified(predecessor)
            return replace(base, room_verified=verified, upgrade_announced=verified and (
                self._announced(predecessor or "")))
        room_verified = self.room_is_verified(room_id) or (
            room.predecessor is not None and self.room_is_verified(room.predecessor))
        facts = replace(base, room_verified=room_verified)
        if event.event_type == TOMBSTONE:
            return replace(facts, upgrade_announced=room_verified and self._announced(room_id))
        if event.event_type == REDACTION:
            return replace(facts, redacts_protected=event.redacts in room.protected_event_ids)
        membership = event.membership
        if membership not in ("invite", "join") or not event.state_key:
            return facts
        target = event.state_key
        needs_name = room_verified or looks_verified(event.content.get(DISPLAYNAME))
        name = self.verified_name(target) if needs_name else None
        inviting = membership == "invite"
        return replace(
            facts,
            member_verified=name is not None,
            member_blocks_sender=inviting and self.blocks(target, event.sender),
            member_verified_name=name,
            invite_consented=inviting and room_verified and self.consented(room_id, target),
        )

    def consented(self, room_id: str, user_id: str) -> bool:
        with Session(self._engine) as session:
            return invite_consented(session, room_id, user_id)

    def _announced(self, room_id: str) -> bool:
        with Session(self._engine) as session:
            return upgrade_announced(session, room_id)

    def room_is_verified(self, room_id: str) -> bool:
        if self._verified_rooms.get(room_id):
            return True
        with Session(self._engine) as session:
            verified = is_verified_room(session, room_id)
        if verified:
            self._verified_rooms.remember(room_id, True)
        return verified

    def user_is_verified(self, user_id: str) -> bool:
        """Does the user hold a credential that is neither revoked nor expired?"""
        return self.verified_name(user_id) is not None

    def verified_name(self, user_id: str) -> str | None:
        """The display name of the user's active credential; ``None`` if they hold none.

        A re-issued credential (say, a new specialty) shows within ``ttl``, like a revocation.
        """
        remembered = self._verified_names.get(user_id)
        if remembered is not None:
            return remembered
        with Session(self._engine) as session:
            credential = active_credential(session, user_id)
        if credential is None:
            return None
        self._verified_names.remember(user_id, credential.display_name)
        return credential.display_name

    def blocks(self, user_id: str, inviter: str) -> bool:
        """Has ``user_id`` blocked invites from ``inviter`` (or from its whole server)?"""
        with Session(self._engine) as session:
            return blocks_invites_from(session, user_id, inviter)

    def blocking_invitees(self, invitees: list[str], inviter: str) -> list[str]:
        """Which of ``invitees`` refuse invites from ``inviter`` (one session for all)."""
        with Session(self._engine) as session:
            return [u for u in invitees if blocks_invites_from(session, u, inviter)]
