"""Keeping verified rooms verified: revocation, expiry, deactivation, reminders.

::

    every sweep_interval seconds (or at once when woken by !revoke):
      1. credentials whose NPI NPPES now lists as deactivated  ──► revoked, audited
      2. every member (joined or invited) of every verified room
         without an active credential ──► kicked with the reason
             ──► member list refreshed, outbound Megolm session discarded, so
                 the next message goes out under a new key the removed user
                 never receives ──► notice in the room, audit record
      3. each removed user ──► one DM saying why and what to do (keyed, sent once)
      4. credentials expiring within a reminder threshold ──► one reminder each

One rule ("a member of a verified room holds an active credential") covers
revocation, expiry and deactivation alike, and also anyone who got in some
other way. Network work happens between database transactions, never inside
one, so a slow homeserver does not hold the SQLite write lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import nio
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bots.gatekeeper.config import GatekeeperConfig
from bots.gatekeeper.notices import (
    contact_room,
    mark_sent,
    open_dm,
    remember_contact,
    was_sent,
)
from bots.gatekeeper.registry.models import Provider
from curbside.audit import AuditLog
from curbside.credentials import VerifiedCredential, VerifiedRoom, active_credential
from curbside.database import session_scope
from curbside.matrix import content as build

log = logging.getLogger(__name__)

#: Queue a message in the bot's outbox inside ``session``: (session, room id, content).
Enqueue = Callable[[Session, str, dict[str, Any]], None]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def revoke(
    session: Session, audit: AuditLog, user_id: str, *, by: str, reason: str, now: datetime
) -> bool:
    """Revoke the user's credential; False when they hold no active one."""
    if active_credential(session, user_id, now) is None:
        return False
    credential = session.get(VerifiedCredential, user_id)
    assert credential is not None
    credential.revoked_at = now
    credential.revoked_reason = reason
    session.flush()
    audit.record(
        session, actor=by, action="credential.revoke", record_type="verified_credential",
        record_id=user_id, reason=reason, details={"npi": credential.npi},
    )
    return True


def revoke_deactivated(session: Session, audit: AuditLog, now: datetime) -> list[str]:
    """Revoke credentials whose NPI the registry now lists as deactivated."""
    rows = session.execute(
        select(VerifiedCredential, Provider.deactivation_date)
        .join(Provider, Provider.npi == VerifiedCredential.npi)
        .where(VerifiedCredential.revoked_at.is_(None), Provider.active.is_(False))
    ).all()
    revoked = []
    for credential, deactivated_on in rows:
        when = deactivated_on.isoformat() if deactivated_on else "a recent registry update"
        reason = f"your NPI {credential.npi} was deactivated in NPPES on {when}"
        credential.revoked_at = now
        credential.revoked_reason = reason
        session.flush()
        audit.record(
            session, actor="gatekeeper", action="credential.revoke",
            record_type="verified_credential", record_id=credential.user_id,
            reason="registry deactivation", details={"npi": credential.npi},
        )
        revoked.append(credential.user_id)
    return revoked


@dataclass(frozen=True, slots=True)
class Ending:
    """Why a user may no longer be in verified rooms, and what they can do about it."""

    cause: str
    reason: str
    next_step: str
    key: str


def ending_of(session: Session, user_id: str, now: datetime) -> Ending:
    """The ending of a credential that is not active (or of no credential at all)."""
    row = session.get(VerifiedCredential, user_id)
    if row is None:
        return Ending("unverified", "you are not a verified clinician",
                      "send me !verify to get verified", "none")
    if row.revoked_at is not None:
        deactivated = (row.revoked_reason or "").startswith("your NPI")
        return Ending(
            "deactivated" if deactivated else "revoked",
            row.revoked_reason or "your verification was revoked",
            "once NPPES lists your NPI as active again, send me !verify" if deactivated
            else "contact your credentialing team if you think this is a mistake",
            f"revoked:{_aware(row.revoked_at).isoformat()}",
        )
    expires = _aware(row.expires_at)
    return Ending(
        "expired", f"your verification expired on {expires.date().isoformat()}",
        "send me !verify to verify again", f"expired:{expires.isoformat()}",
    )


@dataclass
class SweepResult:
    revoked: list[str] = field(default_factory=list)
    removed: list[tuple[str, str]] = field(default_factory=list)
    notified: list[str] = field(default_factory=list)
    reminded: list[str] = field(default_factory=list)


def due_reminders(
    session: Session, reminder_days: tuple[int, ...], now: datetime
) -> list[tuple[VerifiedCredential, int]]:
    """Active credentials inside a reminder threshold not yet reminded of, with the threshold.

    Only the nearest threshold is returned: a credential first seen five days
    from expiry gets the 7-day reminder, not the 30-day one as well.
    """
    if not reminder_days:
        return []
    horizon = now + timedelta(days=max(reminder_days))
    rows = session.scalars(
        select(VerifiedCredential).where(
            VerifiedCredential.revoked_at.is_(None),
            VerifiedCredential.expires_at > now,
            VerifiedCredential.expires_at <= horizon,
        )
    ).all()
    due = []
    for row in rows:
        left = _aware(row.expires_at) - now
        inside = [d for d in sorted(reminder_days) if left <= timedelta(days=d)]
        if inside and not was_sent(session, row.user_id, "reminder", _reminder_key(row, inside[0])):
            due.append((row, inside[0]))
    return due


def _reminder_key(row: VerifiedCredential, days: int) -> str:
    return f"{days}d:{_aware(row.expires_at).isoformat()}"


def _joined(client: nio.AsyncClient, room_id: str, user_id: str) -> bool:
    room = client.rooms.get(room_id)
    return room is not None and user_id in room.users and user_id not in room.invited_users


class Sweeper:
    """Runs the sweep in the bot's process; :meth:`wake` makes it sweep at once."""

    def __init__(
        self,
        *,
        client: Callable[[], nio.AsyncClient],
        engine: Engine,
        audit: AuditLog,
        config: GatekeeperConfig,
        enqueue: Enqueue,
        delivered: Callable[[], None],
    ) -> None:
        self._client = client
        self._engine = engine
        self._audit = audit
        self._config = config
        self._enqueue = enqueue
        self._delivered = delivered
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Sweep forever; a failed sweep is logged and retried next interval."""
        while True:
            try:
                await self.sweep_once()
            except Exception:
                log.exception("gatekeeper sweep failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._config.sweep_interval)
            self._wake.clear()

    async def sweep_once(self, now: datetime | None = None) -> SweepResult:
        now = now or datetime.now(UTC)
        result = SweepResult()
        with session_scope(self._engine) as session:
            result.revoked = revoke_deactivated(session, self._audit, now)
        removals = self._members_without_credential(now)
        removed = await self._remove(removals)
        result.removed = removed
        with session_scope(self._engine) as session:
            for room_id, user_id in removed:
                ending = ending_of(session, user_id, now)
                self._audit.record(
                    session, actor="gatekeeper", action="verified_room.remove",
                    record_type="verified_room", record_id=room_id, reason=ending.cause,
                    details={"user_id": user_id},
                )
                self._enqueue(session, room_id, build.notice(
                    f"{user_id} was removed from this verified room: their verification "
                    "is no longer active."
                ))
        result.notified = await self._notify_removed(now)
        result.reminded = await self._remind(now)
        if removed or result.notified or result.reminded:
            self._delivered()
        return result

    # -- removal --------------------------------------------------------------

    def _members_without_credential(self, now: datetime) -> list[tuple[str, str, str]]:
        """(room, user, reason) for every verified-room member without an active credential."""
        client = self._client()
        me = str(client.user_id)
        found = []
        with session_scope(self._engine) as session:
            rooms = session.scalars(select(VerifiedRoom.room_id)).all()
            for room_id in rooms:
                room = client.rooms.get(room_id)
                if room is None:
                    continue
                members = (set(room.users) | set(room.invited_users)) - {me}
                for user_id in sorted(members):
                    if active_credential(session, user_id, now) is None:
                        found.append((room_id, user_id, ending_of(session, user_id, now).reason))
        return found

    async def _remove(self, removals: list[tuple[str, str, str]]) -> list[tuple[str, str]]:
        client = self._client()
        removed = []
        for room_id, user_id, reason in removals:
            response = await client.room_kick(room_id, user_id, reason=f"Verification ended: "
                                              f"{reason}")
            if isinstance(response, nio.RoomKickError):
                log.warning("could not remove a member from %s: %s", room_id, response.message)
                continue
            await self.rotate_room_key(client, room_id)
            removed.append((room_id, user_id))
        return removed

    @staticmethod
    async def rotate_room_key(client: nio.AsyncClient, room_id: str) -> None:
        """Make the next message in ``room_id`` use a Megolm session the removed user lacks.

        nio discards the outbound session itself when it *syncs* a membership
        change, but a message sent before that sync would still use the old
        session and share it with the stale member list. So the member list is
        refreshed from the server and the session dropped now. (It is popped
        directly: ``invalidate_outbound_session`` keeps a session nio has not
        marked fully shared, which may still have reached the removed user.)
        """
        await client.joined_members(room_id)
        if client.olm is not None:
            client.olm.outbound_group_sessions.pop(room_id, None)

    # -- notices --------------------------------------------------------------

    async def _dm_rooms(self, user_ids: list[str], now: datetime) -> dict[str, str]:
        """The DM room of each user the bot can post in now (opening DMs where needed)."""
        client = self._client()
        with session_scope(self._engine) as session:
            known = {user_id: contact_room(session, user_id) for user_id in user_ids}
        for user_id, room_id in known.items():
            if room_id is None:
                room_id = await open_dm(client, user_id)
                with session_scope(self._engine) as session:
                    remember_contact(session, user_id, room_id, now)
                known[user_id] = room_id
        # Post only once the user has *joined*: a room key is shared with
        # joined members, so a message sent while they are merely invited
        # would stay unreadable to them. Until then the notice waits for a
        # later sweep (it is recorded as sent only when queued).
        return {u: r for u, r in known.items() if r is not None and _joined(client, r, u)}

    async def _notify_removed(self, now: datetime) -> list[str]:
        with session_scope(self._engine) as session:
            ended = session.scalars(
                select(VerifiedCredential.user_id).where(
                    (VerifiedCredential.revoked_at.is_not(None))
                    | (VerifiedCredential.expires_at <= now)
                )
            ).all()
            pending = [
                u for u in ended
                if not was_sent(session, u, "removed", ending_of(session, u, now).key)
            ]
        if not pending:
            return []
        rooms = await self._dm_rooms(pending, now)
        notified = []
        with session_scope(self._engine) as session:
            for user_id, room_id in rooms.items():
                ending = ending_of(session, user_id, now)
                if was_sent(session, user_id, "removed", ending.key):
                    continue
                self._enqueue(session, room_id, build.notice(
                    f"Your Curbside verification is no longer active: {ending.reason}. "
                    "You have been removed from every verified room, and new messages there "
                    f"are encrypted with keys you do not receive. To regain access, "
                    f"{ending.next_step}."
                ))
                mark_sent(session, user_id, "removed", ending.key, now)
                notified.append(user_id)
        return notified

    async def _remind(self, now: datetime) -> list[str]:
        with session_scope(self._engine) as session:
            due = [(row.user_id, days) for row, days in
                   due_reminders(session, self._config.reminder_days, now)]
        if not due:
            return []
        rooms = await self._dm_rooms([user for user, _ in due], now)
        reminded = []
        with session_scope(self._engine) as session:
            for user_id, days in due:
                row = session.get(VerifiedCredential, user_id)
                room_id = rooms.get(user_id)
                if row is None or room_id is None:
                    continue
                key = _reminder_key(row, days)
                if was_sent(session, user_id, "reminder", key):
                    continue
                expires = _aware(row.expires_at).date().isoformat()
                self._enqueue(session, room_id, build.notice(
                    f"Reminder: your Curbside verification expires on {expires} (within "
                    f"{days} days). Send me !verify before then to renew it; otherwise you "
                    "will be removed from verified rooms on that day."
                ))
                mark_sent(session, user_id, "reminder", key, now)
                reminded.append(user_id)
        return reminded
