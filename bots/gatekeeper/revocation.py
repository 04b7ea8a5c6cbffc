"""Keeping verified rooms verified: revocation, expiry, deactivation, reminders.

::

    the gatekeeper's @periodic "sweep", every sweep_interval seconds (or at once
    when woken by !revoke):
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
other way. Steps 2 to 4 go member by member through the supervisor
(:meth:`~curbside.matrix.supervisor.Supervisor.each`): each in its own
transaction, so one member the sweep cannot handle is moved aside (dead
letter, audit, operator notice) instead of leaving every other member in the
room; a homeserver that is down fails the whole sweep, which is retried. A
member's network work comes before their transaction's first write, so a slow
homeserver does not hold the SQLite write lock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import nio
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bots.gatekeeper.config import GatekeeperConfig
from bots.gatekeeper.notices import (
    contact_room,
    mark_sent,
    remember_contact,
    was_sent,
)
from bots.gatekeeper.registry.models import Provider
from curbside.audit import AuditLog
from curbside.credentials import VerifiedCredential, VerifiedRoom, active_credential, verified_name
from curbside.database import session_scope
from curbside.matrix.jobs import Job
from curbside.matrix.rooms import create_encrypted_room
from curbside.matrix.supervisor import Supervisor

log = logging.getLogger(__name__)

SWEEP = "sweep"  # the periodic job's name (the bot declares it)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


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


@dataclass(frozen=True, slots=True)
class Removal:
    """A member of a verified room without an active credential."""

    room_id: str
    user_id: str
    reason: str

    def __str__(self) -> str:  # the supervisor's key for it
        return f"remove {self.user_id} from {self.room_id}"


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


async def open_dm(client: nio.AsyncClient, user_id: str) -> str:
    """A new encrypted direct-message room with ``user_id`` (they are invited)."""
    return await create_encrypted_room(client, invite=[user_id], is_direct=True,
                                       name="Curbside gatekeeper")


def _joined(client: nio.AsyncClient, room_id: str, user_id: str) -> bool:
    room = client.rooms.get(room_id)
    return room is not None and user_id in room.users and user_id not in room.invited_users


class Sweeper:
    """One sweep of the verified rooms; the gatekeeper's periodic job runs it."""

    def __init__(
        self,
        *,
        client: Callable[[], nio.AsyncClient],
        engine: Engine,
        audit: AuditLog,
        config: GatekeeperConfig,
        supervisor: Supervisor,
    ) -> None:
        self._client = client
        self._engine = engine
        self._audit = audit
        self._config = config
        self._supervisor = supervisor

    async def sweep(self, now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        with session_scope(self._engine) as session:
            revoke_deactivated(session, self._audit, now)

        async def remove(job: Job, removal: Removal) -> None:
            await self._remove(job, removal, now)

        async def notify(job: Job, user_id: str) -> None:
            await self._notify_removed(job, user_id, now)

        async def remind(job: Job, due: tuple[str, int]) -> None:
            await self._remind(job, *due, now)

        each = self._supervisor.each
        await each(SWEEP, self._members_without_credential(now), remove)
        await each(SWEEP, self._ended_unnotified(now), notify, key=lambda u: f"notify {u}")
        await each(SWEEP, self._due_reminders(now), remind,
                   key=lambda due: f"remind {due[0]} {due[1]}d")

    # -- removal --------------------------------------------------------------

    def _members_without_credential(self, now: datetime) -> list[Removal]:
        """Every verified-room member without an active credential, with the reason."""
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
                        found.append(Removal(room_id, user_id,
                                             ending_of(session, user_id, now).reason))
        return found

    async def _remove(self, job: Job, removal: Removal, now: datetime) -> None:
        """Kick one member, rotate the room key, then audit and say so in the room."""
        client = self._client()
        room_id, user_id = removal.room_id, removal.user_id
        response = await client.room_kick(room_id, user_id,
                                          reason=f"Verification ended: {removal.reason}")
        if isinstance(response, nio.RoomKickError):
            log.warning("could not remove a member from %s: %s", room_id, response.message)
            return
        await self.rotate_room_key(client, room_id)
        ending = ending_of(job.session, user_id, now)
        self._audit.record(
            job.session, actor="gatekeeper", action="verified_room.remove",
            record_type="verified_room", record_id=room_id, reason=ending.cause,
            details={"user_id": user_id},
        )
        job.post(room_id, f"{verified_name(job.session, user_id)} was removed from this "
                          "verified room: their verification is no longer active.")

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

    async def _dm_room(self, user_id: str, now: datetime) -> str | None:
        """The user's DM room if the bot can post in it now (opening one where needed)."""
        client = self._client()
        with session_scope(self._engine) as session:
            room_id = contact_room(session, user_id)
        if room_id is None:
            room_id = await open_dm(client, user_id)
            with session_scope(self._engine) as session:
                remember_contact(session, user_id, room_id, now)
        # Post only once the user has *joined*: a room key is shared with
        # joined members, so a message sent while they are merely invited
        # would stay unreadable to them. Until then the notice waits for a
        # later sweep (it is recorded as sent only when queued).
        return room_id if _joined(client, room_id, user_id) else None

    def _ended_unnotified(self, now: datetime) -> list[str]:
        """Users whose credential ended and who were not yet told of this ending."""
        with session_scope(self._engine) as session:
            ended = session.scalars(
                select(VerifiedCredential.user_id).where(
                    (VerifiedCredential.revoked_at.is_not(None))
                    | (VerifiedCredential.expires_at <= now)
                )
            ).all()
            return [
                u for u in ended
                if not was_sent(session, u, "removed", ending_of(session, u, now).key)
            ]

    async def _notify_removed(self, job: Job, user_id: str, now: datetime) -> None:
        room_id = await self._dm_room(user_id, now)
        if room_id is None:
            return
        ending = ending_of(job.session, user_id, now)
        if was_sent(job.session, user_id, "removed", ending.key):
            return
        job.post(room_id,
                 f"Your Curbside verification is no longer active: {ending.reason}. "
                 "You have been removed from every verified room, and new messages there "
                 f"are encrypted with keys you do not receive. To regain access, "
                 f"{ending.next_step}.")
        mark_sent(job.session, user_id, "removed", ending.key, now)

    def _due_reminders(self, now: datetime) -> list[tuple[str, int]]:
        with session_scope(self._engine) as session:
            return [(row.user_id, days) for row, days in
                    due_reminders(session, self._config.reminder_days, now)]

    async def _remind(self, job: Job, user_id: str, days: int, now: datetime) -> None:
        room_id = await self._dm_room(user_id, now)
        row = job.session.get(VerifiedCredential, user_id)
        if row is None or room_id is None:
            return
        key = _reminder_key(row, days)
        if was_sent(job.session, user_id, "reminder", key):
            return
        expires = _aware(row.expires_at).date().isoformat()
        job.post(room_id,
                 f"Reminder: your Curbside verification expires on {expires} (within "
                 f"{days} days). Send me !verify before then to renew it; otherwise you "
                 "will be removed from verified rooms on that day.")
        mark_sent(job.session, user_id, "reminder", key, now)
