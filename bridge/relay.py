"""The gateway's two feeds, read in order, each item handed to its portal.

    Gateway.changes_after(cursor) ─► job linked to a portal? ─► Portal.handle_job_change
    Gateway.received_after(cursor) ─► owned by a user or a room? ─► the number
        (Gateway.inbound_envelope) ─► Bridge.portal_receiving ─► Portal.handle_received
    no portal for the item ─► the cursor alone advances

Both feeds are durable tables with sequence numbers, and the portal commits
the cursor together with what it posts (or holds), so each change and each
fax appears exactly once, even across restarts; the in-process inbound queue
only wakes the loop early. Faxes for the referral desk are not for the
bridge: their numbers are not even read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.orm import Session

from bridge.portal import OWNER_KINDS, Commit, Portal
from bridge.services import Services
from curbside.database import session_scope
from fax_gateway import InboundRecord, OwnerKind

log = logging.getLogger(__name__)

STATUS_CURSOR = "job_changes"
INBOUND_CURSOR = "inbound"


class Relay:
    def __init__(self, services: Services) -> None:
        self.services = services
        self._engine = services.config.runtime.engine

    async def run_status(self) -> None:
        while True:
            if not await self._status_batch():
                await asyncio.sleep(self.services.config.feed_interval)

    async def run_inbound(self) -> None:
        gateway = self.services.gateway
        queue = gateway.subscribe_inbound()
        try:
            while True:
                if not await self._inbound_batch():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(queue.get(), self.services.config.feed_interval)
        finally:
            gateway.unsubscribe_inbound(queue)

    def _advance(self, name: str, seq: int) -> Commit:
        def advance(session: Session) -> None:
            self.services.store.advance(session, name, seq)
        return advance

    def _skip(self, commit: Commit) -> None:
        with session_scope(self._engine) as session:
            commit(session)

    def _cursor(self, name: str) -> int:
        with session_scope(self._engine) as session:
            return self.services.store.cursor(session, name)

    async def _status_batch(self) -> bool:
        services = self.services
        changes = await asyncio.to_thread(services.gateway.changes_after,
                                          self._cursor(STATUS_CURSOR))
        for change in changes:
            commit = self._advance(STATUS_CURSOR, change.seq)
            with session_scope(self._engine) as session:
                link = services.store.fax(session, change.job_id)
            portal = await services.host.portal(link.room_id, link.puppet_id) \
                if link is not None else None
            if link is None or portal is None:
                self._skip(commit)  # not a fax sent from Matrix
            else:
                await portal.handle_job_change(change, link, commit)
        return bool(changes)

    async def _inbound_batch(self) -> bool:
        records = await asyncio.to_thread(self.services.gateway.received_after,
                                          self._cursor(INBOUND_CURSOR))
        for record in records:
            commit = self._advance(INBOUND_CURSOR, record.seq)
            portal = await self._portal_for(record)
            if portal is None:
                self._skip(commit)
            else:
                await portal.handle_received(record.id, commit)
        return bool(records)

    async def _portal_for(self, record: InboundRecord) -> Portal | None:
        if record.owner.kind not in OWNER_KINDS:
            return None
        envelope = await asyncio.to_thread(self.services.gateway.inbound_envelope, record.id)
        portal = await self.services.host.portal_receiving(envelope.to_number, record.owner)
        if portal is None and record.owner.kind is OwnerKind.ROOM:
            log.warning("inbound fax %s: its room has no portal for the number; "
                        "run !fax assign in that room", record.id)
        return portal
