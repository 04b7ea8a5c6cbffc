"""The gateway's two feeds, read in order, each item handed to its portal.

    @feed fax-status:  Gateway.changes_after ─► job linked to a portal?
                       ─► Portal.handle_job_change
    @feed fax-inbound: Gateway.received_after ─► owned by a user or a room? ─► the
                       number (Gateway.inbound_envelope) ─► Bridge.portal_receiving
                       ─► Portal.handle_received
    no portal for the item ─► the cursor alone advances

Both feeds are durable tables with sequence numbers. The relay declares its
consumers as a bot does and runs them on the runtime's
:class:`~curbside.matrix.supervisor.Supervisor` (it is no bot: it has no
Matrix account, so no poster; each portal posts as its puppet): each item is
handled in one transaction with the cursor, so each change and each fax
appears exactly once, even across restarts; a failure is retried with
backoff, an item that keeps failing is moved aside (dead letter, audit,
operator notice) and the feed goes on. The gateway's in-process inbound queue
only wakes the inbound feed early. Faxes for the referral desk are not for
the bridge: their numbers are not even read.
"""

from __future__ import annotations

import asyncio
import logging

from bridge.portal import OWNER_KINDS, Portal
from bridge.services import Services
from curbside.background import BackgroundTasks
from curbside.matrix.jobs import Job, JobTable, feed
from curbside.matrix.offloop import MainLoop
from curbside.matrix.storage import RuntimeStore
from curbside.matrix.supervisor import Supervisor
from fax_gateway import InboundRecord, JobChange, OwnerKind

log = logging.getLogger(__name__)

# Whose feed cursors and dead letters these are (kept under this name, not a
# Matrix account: the bridge bot does not post and puppets come and go).
RELAY_ACCOUNT = "fax-bridge"
STATUS_FEED = "fax-status"
INBOUND_FEED = "fax-inbound"


class Relay:
    def __init__(self, services: Services, tasks: BackgroundTasks) -> None:
        self.services = services
        runtime = services.config.runtime
        self.supervisor = Supervisor(
            self, JobTable.of(Relay), engine=runtime.engine,
            store=RuntimeStore(RELAY_ACCOUNT, runtime.cipher), poster=None, tasks=tasks,
            audit=runtime.audit, operator_room=None,  # notices are logged: nobody to post them
        )
        self._tasks = tasks

    @property
    def feed_interval(self) -> float:
        """Seconds between polls of a drained feed (the bridge's option)."""
        return self.services.config.feed_interval

    def start(self, main: MainLoop) -> None:
        self.supervisor.start(main)
        self._tasks.spawn(self._wake_on_inbound(), "inbound wake")

    # -- status ----------------------------------------------------------------

    def changes_after(self, after: int, limit: int) -> list[JobChange]:
        return self.services.gateway.changes_after(after, limit)

    @feed(STATUS_FEED, source="changes_after", poll="feed_interval")
    async def job_change(self, job: Job, change: JobChange) -> None:
        """Tell the file's thread how its fax is doing; a fax not sent from Matrix is skipped."""
        services = self.services
        link = services.store.fax(job.session, change.job_id)
        if link is None:
            return
        portal = await services.host.portal(link.room_id, link.puppet_id)
        if portal is not None:
            await portal.handle_job_change(change, link, job.session)

    # -- inbound ---------------------------------------------------------------

    def received_after(self, after: int, limit: int) -> list[InboundRecord]:
        return self.services.gateway.received_after(after, limit)

    @feed(INBOUND_FEED, source="received_after", poll="feed_interval")
    async def received(self, job: Job, record: InboundRecord) -> None:
        """Post (or hold) a received fax in its owner's portal; skipped if it has none."""
        portal = await self._portal_for(record)
        if portal is not None:
            await portal.handle_received(record.id, job.session)

    async def _portal_for(self, record: InboundRecord) -> Portal | None:
        if record.owner.kind not in OWNER_KINDS:
            return None
        envelope = await asyncio.to_thread(self.services.gateway.inbound_envelope, record.id)
        portal = await self.services.host.portal_receiving(envelope.to_number, record.owner)
        if portal is None and record.owner.kind is OwnerKind.ROOM:
            log.warning("inbound fax %s: its room has no portal for the number; "
                        "run !fax assign in that room", record.id)
        return portal

    async def _wake_on_inbound(self) -> None:
        """Read the inbound feed as soon as the gateway received a fax (else: every poll)."""
        gateway = self.services.gateway
        queue = gateway.subscribe_inbound()
        try:
            while True:
                await queue.get()
                self.supervisor.wake(INBOUND_FEED)
        finally:
            gateway.unsubscribe_inbound(queue)
