"""The gateway's two feeds, read in order, each item handed to its portal.

    @feed fax-status:  Gateway.changes_after ─► job linked to a portal?
                       ─► Portal.handle_job_change
    @feed fax-inbound: Gateway.received_after ─► owned by a user or a room? ─► the
                       number (Gateway.inbound_envelope) ─► Bridge.portal_receiving
                       ─► Portal.handle_received ─► Gateway.dispose(delivered | held)
    a status change not sent from Matrix ─► the cursor alone advances
    a fax whose owner cannot receive it (a room without a portal for the number,
    an owner who left the portal, a user the homeserver does not know)
    ─► Gateway.dispose(operator): the operator fax
    inbox gets it (the referral desk posts it there)

Both feeds are durable tables with sequence numbers. The relay declares its
consumers as a bot does and runs them on the runtime's
:class:`~curbside.matrix.supervisor.Supervisor` (it is no bot: it has no
Matrix account, so no poster; each portal posts as its puppet): each item is
handled in one transaction with the cursor, so each change and each fax
appears exactly once, even across restarts; a failure is retried with
backoff, an item that keeps failing is moved aside (dead letter, audit,
operator notice) and the feed goes on. The gateway's in-process inbound queue
only wakes the inbound feed early. Faxes for the referral desk are not for
the bridge: their numbers are not even read. Every fax the bridge takes is
disposed of in the transaction that moves the cursor, so the gateway's ledger
says what became of it exactly when it happened.
"""

from __future__ import annotations

import asyncio

from bridge.portal import OWNER_KINDS
from bridge.services import Services
from curbside.background import BackgroundTasks
from curbside.matrix.jobs import Job, JobTable, feed
from curbside.matrix.offloop import MainLoop
from curbside.matrix.storage import RuntimeStore
from curbside.matrix.supervisor import Supervisor
from fax_gateway import Disposition, InboundRecord, JobChange

# Whose feed cursors and dead letters these are (kept under this name, not a
# Matrix account: the bridge bot does not post and puppets come and go).
RELAY_ACCOUNT = "fax-bridge"
STATUS_FEED = "fax-status"
INBOUND_FEED = "fax-inbound"
# What the ledger is told, by what the portal did (None: its owner cannot receive).
REASONS: dict[Disposition | None, str] = {
    Disposition.DELIVERED: "posted in its owner's portal",
    Disposition.HELD: "held until its owner joins the portal",
    None: "its owner left the portal",
}


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
        """Post (or hold) a received fax in its owner's portal; the operator inbox gets
        one whose owner cannot receive it. Referral-desk faxes are left to the desk."""
        if record.owner.kind not in OWNER_KINDS:
            return
        envelope = await asyncio.to_thread(self.services.gateway.inbound_envelope, record.id)
        portal = await self.services.host.portal_receiving(envelope.to_number, record.owner)
        outcome = None
        if portal is not None:
            outcome = await portal.handle_received(record.id, job.session)
        reason = REASONS[outcome] if portal is not None else \
            f"its owner ({record.owner.kind.value}) has no portal for the number"
        self.services.gateway.dispose(record.id, outcome or Disposition.OPERATOR,
                                      actor=RELAY_ACCOUNT, reason=reason, session=job.session)

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
