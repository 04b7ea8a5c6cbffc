"""The outbox worker: claims due jobs and moves each one step at a time.

    claim (lease) ─> queued:    deadline? rate slot? ──start──> rendering
                     rendering: decrypt PDF to scratch, render TIFF-F if the
                                transport wants it, commit attempt key, submit
                     sending, attempt key but no provider id (crash/timeout):
                                find(attempt key) at the provider ── found: adopt
                                                                 └─ not found: submit again
                     sending, provider id: poll ─> conclude (delivered | retry | failed)
               <─ release (due again at the next poll / backoff time)

Jobs of one batch are handled concurrently; database calls run in threads
(the engine is synchronous). An unexpected error leaves the lease to expire,
so the job is picked up again rather than lost. Log lines carry job ids and
error kinds, never numbers or names.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from curbside.metrics import RETRIES
from fax_gateway.outbox import Lease, LeaseLost, Outbox, WorkItem
from fax_gateway.render import RenderError, render_pdf_to_tiff_f
from fax_gateway.status import JobEvent, JobState
from fax_gateway.transports.base import (
    OutboundFax,
    PermanentTransportError,
    ProviderState,
    ProviderStatus,
    TemporaryTransportError,
    Transport,
    TransportError,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

#: (pdf, tiff out, sender ident, date) -> pages written
Renderer = Callable[[Path, Path, str, datetime], int]


def render_tiff(pdf: Path, tiff: Path, sender: str, date: datetime) -> int:
    """The production renderer: PDF -> TIFF Class F (fine, T.6)."""
    return render_pdf_to_tiff_f(pdf, tiff, sender=sender or "Curbside", date=date).pages


class Worker:
    def __init__(
        self,
        outbox: Outbox,
        transport: Transport,
        *,
        worker_id: str,
        lease_for: timedelta = timedelta(minutes=10),
        batch: int = 8,
        renderer: Renderer = render_tiff,
    ) -> None:
        self.outbox = outbox
        self.transport = transport
        self.worker_id = worker_id
        self.lease_for = lease_for
        self.batch = batch
        self.renderer = renderer

    @staticmethod
    async def _db(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(func, *args, **kwargs)

    async def run_once(self) -> int:
        """Claim one batch and handle it; the number of jobs handled."""
        leases = await self._db(
            self.outbox.claim, self.worker_id, limit=self.batch, lease_for=self.lease_for
        )
        await asyncio.gather(*(self._guarded(lease) for lease in leases))
        return len(leases)

    async def run(self, stop: asyncio.Event, idle: float = 0.5) -> None:
        """Work until ``stop`` is set, keeping up to ``batch`` jobs in flight.

        A slow job (a long fax call) holds one slot only: the others are
        refilled as soon as they finish. With nothing due, it waits ``idle``
        seconds before looking again.
        """
        running: set[asyncio.Task[None]] = set()
        while not stop.is_set():
            free = self.batch - len(running)
            leases = []
            if free > 0:
                leases = await self._db(
                    self.outbox.claim, self.worker_id, limit=free, lease_for=self.lease_for
                )
            for lease in leases:
                task = asyncio.create_task(self._guarded(lease))
                running.add(task)
                task.add_done_callback(running.discard)
            if not leases or len(running) >= self.batch:
                stopping = asyncio.create_task(stop.wait())
                await asyncio.wait(
                    {stopping, *running}, timeout=idle, return_when=asyncio.FIRST_COMPLETED
                )
                stopping.cancel()
        await asyncio.gather(*running)

    async def _guarded(self, lease: Lease) -> None:
        try:
            await self._handle(lease)
        except LeaseLost:
            log.info("fax job %s changed under worker %s; leaving it", lease.job_id, self.worker_id)
        except Exception as exc:  # the lease expires and the job is retried
            log.error("fax job %s: unexpected %s", lease.job_id, type(exc).__name__)

    async def _handle(self, lease: Lease) -> None:
        item = await self._db(self.outbox.work_item, lease)
        now = self.outbox.clock.now()
        if item.state is JobState.QUEUED:
            if now >= item.deadline_at:
                await self._db(
                    self.outbox.give_up, lease, item.state, "deadline passed before sending"
                )
                return
            if await self._rate_limited(lease, item):
                return
            await self._db(self.outbox.move, lease, item.state, JobEvent.START, "rendering")
            item = replace(item, state=JobState.RENDERING)
        if item.state is JobState.RENDERING:
            await self._send(lease, item)
            return
        if item.provider_id is not None:
            await self._poll(lease, item.provider_id)
            return
        if item.attempt_key is not None and await self._reconciled(lease, item.attempt_key):
            return
        if now >= item.deadline_at:
            reason = f"deadline passed after {item.attempts} attempt(s): {item.last_error}"
            await self._db(self.outbox.give_up, lease, item.state, reason)
            return
        if not await self._rate_limited(lease, item):
            await self._send(lease, item)

    async def _rate_limited(self, lease: Lease, item: WorkItem) -> bool:
        destination = await self._db(self.outbox.destination_of, item.job_id)
        free_at = await self._db(self.outbox.take_rate_slot, destination)
        if free_at is None:
            return False
        RETRIES.labels("fax_rate_limit").inc()
        await self._db(self.outbox.release, lease, item.state, free_at)
        return True

    async def _reconciled(self, lease: Lease, attempt_key: str) -> bool:
        """Ask the provider about an attempt whose outcome we never recorded."""
        try:
            provider_id = await self.transport.find(attempt_key)
        except TransportError as exc:
            await self._later(lease, f"reconcile failed: {exc}")
            return True
        if provider_id is None:
            return False
        log.info("fax job %s: adopted provider fax %s after restart", lease.job_id, provider_id)
        await self._db(self.outbox.accepted, lease, provider_id)
        await self._poll(lease, provider_id)
        return True

    async def _send(self, lease: Lease, item: WorkItem) -> None:
        store = self.outbox.store
        with store.scratch_dir() as scratch:
            pdf_path = scratch / "document.pdf"
            pdf_path.write_bytes(await self._db(store.get, item.document_ref))
            tiff_path: Path | None = None
            pages = item.pages
            if self.transport.needs_tiff:
                tiff_path = scratch / "document.tif"
                try:
                    pages = await asyncio.to_thread(
                        self.renderer,
                        pdf_path,
                        tiff_path,
                        item.caller_ident,
                        self.outbox.clock.now(),
                    )
                except RenderError as exc:
                    await self._db(
                        self.outbox.give_up,
                        lease,
                        item.state,
                        f"document cannot be rendered: {exc}",
                    )
                    return
            key = await self._db(self.outbox.begin_attempt, lease, item)
            fax = OutboundFax(
                job_id=item.job_id,
                attempt_key=key,
                to_number=item.to_number,
                caller_ident=item.caller_ident,
                pdf_path=pdf_path,
                tiff_path=tiff_path,
                pages=pages,
            )
            try:
                provider_id = await self.transport.submit(fax)
            except PermanentTransportError as exc:
                reason = f"provider refused the fax: {exc}"
                await self._db(self.outbox.give_up, lease, JobState.SENDING, reason)
                return
            except Exception as exc:  # outcome unknown: reconcile by attempt key later
                detail = str(exc) if isinstance(exc, TransportError) else type(exc).__name__
                await self._later(lease, f"submit failed: {detail}", attempt=item.attempts + 1)
                return
        await self._db(self.outbox.accepted, lease, provider_id)
        await self._poll(lease, provider_id)

    async def _later(self, lease: Lease, error: str, attempt: int | None = None) -> None:
        """Keep the job in ``sending`` and come back after backoff (never past the deadline)."""
        RETRIES.labels("fax_send").inc()
        item = await self._db(self.outbox.work_item, lease)
        now = self.outbox.clock.now()
        at = min(now + self.outbox.policy.delay(attempt or item.attempts), item.deadline_at)
        await self._db(self.outbox.release, lease, JobState.SENDING, at, last_error=error)

    async def _poll(self, lease: Lease, provider_id: str) -> None:
        try:
            status = await self.transport.poll(provider_id)
        except TemporaryTransportError as exc:
            at = self.outbox.clock.now() + self.outbox.policy.poll_interval
            await self._db(
                self.outbox.release, lease, JobState.SENDING, at, last_error=f"poll failed: {exc}"
            )
            return
        except PermanentTransportError as exc:
            status = ProviderStatus(ProviderState.FAILED, reason=f"provider lost the fax: {exc}")
        await self._db(
            self.outbox.conclude, lease.job_id, status, actor=self.worker_id, lease=lease
        )
