"""Fax → Matrix: job status changes and received faxes, posted by the number's puppet.

    Gateway.changes_after(cursor) ─► job linked to a portal? ─► status text
        ─► one transaction: notice into the puppet's outbox + cursor ─► send
    Gateway.received_after(cursor) ─► owner is a user or a room ─► the number's
        puppet, its portal for that owner (a new encrypted DM if none)
        ─► a user owner not joined yet? ─► one transaction: held row + cursor
        ─► else PDF read (audited) ─► encrypted upload ─► one transaction:
        notice + m.file into the outbox + cursor ─► send
    owner's join (transaction, puppet sync, or bridge start) ─► release: held
        row removed + notice + m.file into the outbox, one transaction ─► send

Why hold: a DM the puppet opens has only the puppet in it until the owner
accepts the invite. Anything posted then is encrypted with a room key shared
before the owner's devices were members, and strict clients (Element
"exclude insecure devices") showed those first messages as sent by an unknown
device. Held faxes are not even read from the inbox until they are released.

Both feeds are durable tables with sequence numbers, so the cursor committed
with the outbox rows makes each change and each fax appear exactly once, even
across restarts; the in-process inbound queue only wakes the loop early.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select

from bridge.numbers import display
from bridge.portal import RETRY_TEXT, STATUS_TEXT
from bridge.puppet import Puppet
from bridge.services import Services
from bridge.store import ROOM_OWNER, USER_OWNER, Held
from curbside.database import session_scope
from curbside.matrix import content as build
from curbside.matrix.files import upload_encrypted
from fax_gateway.inbox import InboundRecord
from fax_gateway.models import FaxInbound
from fax_gateway.outbox import JobChange
from fax_gateway.routing import OwnerKind
from fax_gateway.status import JobState
from fax_gateway.timing import as_utc

log = logging.getLogger(__name__)

STATUS_CURSOR = "job_changes"
INBOUND_CURSOR = "inbound"
PuppetFor = Callable[[str], Awaitable[Puppet]]


def status_text(change: JobChange, number: str, pages: int | None) -> str | None:
    """What the portal is told about a change; None for steps not worth a message."""
    if change.state is JobState.QUEUED:
        return None if change.reason == "submitted" else \
            RETRY_TEXT.format(reason=change.reason, number=display(number))
    template = STATUS_TEXT.get(change.state)
    if template is None:
        return None
    return template.format(number=display(number), pages=pages, reason=change.reason)


def _threaded(text: str, root: str, reply_to: str) -> dict[str, Any]:
    message = build.notice(text)
    message["m.relates_to"] = {
        "rel_type": "m.thread", "event_id": root, "is_falling_back": True,
        "m.in_reply_to": {"event_id": reply_to},
    }
    return message


class Relay:
    def __init__(self, services: Services, puppet_for: PuppetFor) -> None:
        self.services = services
        self._puppet_for = puppet_for
        self._engine = services.config.runtime.engine
        self._release_lock = asyncio.Lock()

    async def run_status(self) -> None:
        while True:
            if not await self._status_batch():
                await asyncio.sleep(self.services.config.feed_interval)

    async def run_inbound(self) -> None:
        queue = self.services.gateway.subscribe_inbound()
        try:
            while True:
                if not await self._inbound_batch():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(queue.get(), self.services.config.feed_interval)
        finally:
            self.services.gateway.inbox.unsubscribe(queue)

    # -- status ----------------------------------------------------------------

    async def _status_batch(self) -> bool:
        store, gateway = self.services.store, self.services.gateway
        with session_scope(self._engine) as session:
            after = store.cursor(session, STATUS_CURSOR)
        changes = await asyncio.to_thread(gateway.changes_after, after)
        for change in changes:
            with session_scope(self._engine) as session:
                link = store.fax(session, change.job_id)
            puppet = await self._puppet_for(link.puppet_id) if link else None
            text = None
            if link is not None and puppet is not None:
                job = await asyncio.to_thread(gateway.job, change.job_id)
                text = status_text(change, puppet.number, job.pages)
            with session_scope(self._engine) as session:
                if text is not None and link is not None and puppet is not None:
                    puppet.post(session, link.room_id,
                                _threaded(text, link.thread_root, link.event_id))
                store.advance(session, STATUS_CURSOR, change.seq)
            if puppet is not None:
                puppet.flush()
        return bool(changes)

    # -- inbound ---------------------------------------------------------------

    async def _inbound_batch(self) -> bool:
        store = self.services.store
        with session_scope(self._engine) as session:
            after = store.cursor(session, INBOUND_CURSOR)
        records = await asyncio.to_thread(self.services.gateway.received_after, after)
        for record in records:
            await self._deliver(record)
        return bool(records)

    async def _deliver(self, record: InboundRecord) -> None:
        store = self.services.store
        kind = {OwnerKind.MATRIX_USER: USER_OWNER, OwnerKind.ROOM: ROOM_OWNER}.get(
            record.owner.kind)
        puppet = room_id = None
        if kind is not None:
            with session_scope(self._engine) as session:
                to_number = session.scalars(
                    select(FaxInbound.to_number).where(FaxInbound.id == record.id)).one()
            puppet = await self._puppet_for(self.services.puppet_id(to_number))
            with session_scope(self._engine) as session:
                portal = store.portal_for_owner(session, puppet.user_id, kind, record.owner.id)
            if portal is not None:
                room_id = portal.room_id
                await puppet.wait_in_room(room_id)
            elif kind == USER_OWNER:
                room_id = await puppet.open_dm(record.owner.id)
            else:
                log.warning("inbound fax %s: its room has no portal for the number; "
                            "run !fax assign in that room", record.id)
        if puppet is not None and room_id is not None and kind == USER_OWNER \
                and not puppet.has_joined(room_id, record.owner.id):
            # Nothing is posted (no room key shared) before the owner's devices are in.
            with session_scope(self._engine) as session:
                store.hold(session, Held(record.id, room_id, puppet.user_id, record.owner.id))
                store.advance(session, INBOUND_CURSOR, record.seq)
            return
        contents = await self._fax_contents(puppet, record.id) \
            if puppet is not None and room_id is not None else []
        with session_scope(self._engine) as session:
            if puppet is not None and room_id is not None:
                for content in contents:
                    puppet.post(session, room_id, content)
            store.advance(session, INBOUND_CURSOR, record.seq)
        if puppet is not None:
            puppet.flush()

    async def release(self, room_id: str | None = None, *, wait: float = 0.0) -> int:
        """Deliver held faxes whose owner has joined (of ``room_id``, or all); how many.

        Called when a join is seen — in an appservice transaction, in a
        puppet's sync — and at start. ``wait`` gives the puppet's own sync
        that long to show the join (a transaction can be ahead of it): room
        keys go only to members the puppet knows. Under the lock, a fax still
        held is read, uploaded and queued with its row removed in one
        transaction, so concurrent triggers deliver it once.
        """
        store, delivered = self.services.store, 0
        with session_scope(self._engine) as session:
            held = store.held(session, room_id)
        for item in held:
            puppet = await self._puppet_for(item.puppet_id)
            if not await puppet.wait_joined(item.room_id, item.owner_id, wait):
                continue
            async with self._release_lock:
                with session_scope(self._engine) as session:
                    if item not in store.held(session, item.room_id):
                        continue  # another trigger delivered it
                contents = await self._fax_contents(puppet, item.inbound_id)
                with session_scope(self._engine) as session:
                    store.release(session, item.inbound_id)
                    for content in contents:
                        puppet.post(session, item.room_id, content)
            puppet.flush()
            delivered += 1
        return delivered

    async def _fax_contents(self, puppet: Puppet, inbound_id: str) -> list[dict[str, Any]]:
        """The notice and the encrypted PDF (read from the inbox: audited) of a received fax."""
        with session_scope(self._engine) as session:
            row = session.scalars(select(FaxInbound).where(FaxInbound.id == inbound_id)).one()
            from_number, pages, received_at = row.from_number, row.pages, as_utc(row.received_at)
        pdf = await asyncio.to_thread(
            self.services.gateway.inbox.document, inbound_id, actor=puppet.user_id,
            reason="deliver a received fax to the number's owner",
        )
        stamp = received_at.strftime("%Y-%m-%d %H:%M UTC")
        sender = display(from_number) if from_number and from_number.startswith("+") \
            else (from_number or "an unknown sender")
        message = build.notice(f"Fax received on {display(puppet.number)} from {sender} "
                               f"at {stamp} — {pages} pages.")
        file = await upload_encrypted(puppet.client, pdf,
                                      f"fax-{received_at:%Y%m%d-%H%M}-{inbound_id[:8]}.pdf",
                                      "application/pdf")
        return [message, file]
