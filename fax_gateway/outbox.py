"""The durable outbox: what callers submit and what workers claim.

    submit(pdf, to, idempotency key) ──> fax_jobs row (queued) + encrypted PDF
    worker: claim() ── lease (token, expiry) ──> move()/accepted()/release()
    provider verdict ──> conclude(): delivered | retry with backoff | failed
    callers: get(), changes_after(seq), watch() ── the fax_job_events feed

Every state change goes through :func:`fax_gateway.status.next_state`, is one
conditional UPDATE (on the expected state and, for workers, the lease token)
and commits together with its audit entry and its event row. A worker whose
lease was taken over or whose job was cancelled gets :class:`LeaseLost` and
stops touching the job; two workers therefore never both act on a job.

The event row is each transaction's last write (:func:`fax_gateway.feed.append`),
so events commit in seq order and a caller's cursor never skips a late one.

The crash window between "provider accepted" and "we recorded it" is closed
by the attempt key: it is committed before the transport is called and the
transport sends it along, so a worker that finds a job in ``sending`` with an
attempt but no provider id asks the provider (``Transport.find``) before it
sends anything again.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from curbside.audit import AuditLog
from curbside.database import session_scope
from curbside.metrics import RETRIES
from fax_gateway import feed
from fax_gateway.models import FaxDestination, FaxJob, FaxJobEvent, number_hash
from fax_gateway.numbers import normalise_number
from fax_gateway.probe import DocumentRefused
from fax_gateway.sandbox import Sandbox
from fax_gateway.status import JobEvent, JobState, next_state
from fax_gateway.storage import DocumentStore
from fax_gateway.timing import Clock, RateLimit, RetryPolicy, SystemClock, as_utc
from fax_gateway.transports.base import ProviderState, ProviderStatus

RECORD_TYPE = "fax_job"
_ACTIVE = (JobState.QUEUED.value, JobState.RENDERING.value, JobState.SENDING.value)


class InvalidDocument(ValueError):
    """The submitted file is not a PDF with at least one page within the document limits."""


class IdempotencyConflict(ValueError):
    """The key was used before for a different document or number."""


class JobNotFound(LookupError):
    pass


class LeaseLost(RuntimeError):
    """The job changed under this worker (lease expired and taken, or cancelled)."""


@dataclass(frozen=True, slots=True)
class JobView:
    """A job as callers see it: no number, no document, no PHI."""

    id: str
    idempotency_key: str
    state: JobState
    transport: str
    pages: int | None
    attempts: int
    provider_id: str | None
    failure_reason: str | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    next_attempt_at: datetime
    deadline_at: datetime


@dataclass(frozen=True, slots=True)
class JobChange:
    """One entry of the status feed."""

    seq: int
    job_id: str
    state: JobState
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Lease:
    job_id: str
    token: str
    worker_id: str


@dataclass(frozen=True, slots=True)
class WorkItem:
    """What a worker needs to act on a claimed job (holds PHI: keep in memory)."""

    job_id: str
    state: JobState
    to_number: str
    caller_ident: str
    document_ref: str
    pages: int
    attempts: int
    attempt_key: str | None
    provider_id: str | None
    deadline_at: datetime
    last_error: str | None


def _view(job: FaxJob) -> JobView:
    return JobView(
        id=job.id,
        idempotency_key=job.idempotency_key,
        state=JobState(job.state),
        transport=job.transport,
        pages=job.pages,
        attempts=job.attempts,
        provider_id=job.provider_id,
        failure_reason=job.failure_reason,
        last_error=job.last_error,
        created_at=as_utc(job.created_at),
        updated_at=as_utc(job.updated_at),
        next_attempt_at=as_utc(job.next_attempt_at),
        deadline_at=as_utc(job.deadline_at),
    )


class Outbox:
    """Durable outbound fax jobs on one database."""

    def __init__(
        self,
        engine: Engine,
        store: DocumentStore,
        audit: AuditLog,
        *,
        transport: str,
        pepper: bytes,
        sandbox: Sandbox,
        clock: Clock | None = None,
        policy: RetryPolicy | None = None,
        rate_limit: RateLimit | None = None,
    ) -> None:
        self.engine = engine
        self.store = store
        self.audit = audit
        self.transport = transport
        self.clock = clock or SystemClock()
        self.policy = policy or RetryPolicy()
        self.rate_limit = rate_limit or RateLimit()
        self._pepper = pepper
        self._sandbox = sandbox

    # -- callers ---------------------------------------------------------------

    def submit(
        self,
        pdf: bytes,
        to_number: str,
        *,
        idempotency_key: str,
        actor: str,
        caller_ident: str = "",
        recipient_name: str | None = None,
        deadline: timedelta | None = None,
    ) -> JobView:
        """Queue ``pdf`` for ``to_number``; the same key returns the same job.

        Raises :class:`InvalidDocument`, :class:`~fax_gateway.numbers.InvalidNumber`,
        or :class:`IdempotencyConflict` when the key was used for another fax.
        """
        if not 0 < len(idempotency_key) <= 255:
            raise ValueError("the idempotency key must be 1-255 characters")
        number = normalise_number(to_number)
        digest = hashlib.sha256(pdf).hexdigest()
        destination = number_hash(self._pepper, number)
        existing = self._by_key(idempotency_key)
        if existing is not None:
            return self._same_or_conflict(existing, digest, destination)
        try:  # checked in the sandbox: a clinician's upload is as untrusted as a webhook's
            pages = self._sandbox.inspect(pdf, kinds=("pdf",)).pages
        except DocumentRefused as refused:
            raise InvalidDocument(refused.reason) from None
        ref = self.store.put(pdf)
        now = self.clock.now()
        job = FaxJob(
            id=secrets.token_hex(16),
            idempotency_key=idempotency_key,
            state=JobState.QUEUED.value,
            transport=self.transport,
            to_number=number,
            destination_hash=destination,
            recipient_name=recipient_name,
            caller_ident=caller_ident[:20],
            document_ref=ref,
            document_sha256=digest,
            pages=pages,
            attempts=0,
            next_attempt_at=now,
            deadline_at=now + (deadline or self.policy.default_deadline),
            submitted_by=actor,
            created_at=now,
            updated_at=now,
        )
        try:
            with session_scope(self.engine) as session:
                session.add(job)
                session.flush()
                self._record(session, job.id, None, JobState.QUEUED, None, actor, "submitted")
        except IntegrityError:
            self.store.delete(ref)
            existing = self._by_key(idempotency_key)
            if existing is None:
                raise
            return self._same_or_conflict(existing, digest, destination)
        return _view(job)

    def _by_key(self, key: str) -> FaxJob | None:
        with session_scope(self.engine) as session:
            return session.scalars(select(FaxJob).where(FaxJob.idempotency_key == key)).first()

    @staticmethod
    def _same_or_conflict(job: FaxJob, digest: str, destination: str) -> JobView:
        if job.document_sha256 != digest or job.destination_hash != destination:
            raise IdempotencyConflict(
                "this idempotency key was already used for a different document or number"
            )
        return _view(job)

    def get(self, job_id: str) -> JobView:
        with session_scope(self.engine) as session:
            job = session.get(FaxJob, job_id)
            if job is None:
                raise JobNotFound(job_id)
            return _view(job)

    def resolve(self, prefix: str) -> str:
        """The id of the one job whose id starts with ``prefix`` (as a short listing shows it).

        Raises :class:`JobNotFound` for none, and for more than one, naming them.
        """
        prefix = prefix.strip().lower()
        with session_scope(self.engine) as session:
            ids = session.scalars(
                select(FaxJob.id).where(FaxJob.id.startswith(prefix, autoescape=True)).limit(5)
            ).all()
        if len(ids) == 1:
            return ids[0]
        if not ids:
            raise JobNotFound(f"no fax job {prefix}")
        raise JobNotFound(f"{prefix} is ambiguous: it starts {', '.join(ids)}; give more of it")

    def recent(self, limit: int = 20) -> list[JobView]:
        with session_scope(self.engine) as session:
            jobs = session.scalars(
                select(FaxJob).order_by(FaxJob.created_at.desc()).limit(limit)
            ).all()
            return [_view(job) for job in jobs]

    def cancel(self, job_id: str, *, actor: str, reason: str = "cancelled") -> JobView:
        """Cancel a job that is not yet with the provider (IllegalTransition otherwise)."""
        with session_scope(self.engine) as session:
            state = session.scalar(select(FaxJob.state).where(FaxJob.id == job_id))
            if state is None:
                raise JobNotFound(job_id)
            self._change(session, job_id, JobState(state), JobEvent.CANCEL, actor, reason)
        return self.get(job_id)

    def changes_after(self, seq: int, limit: int = 100) -> list[JobChange]:
        """Status changes with a sequence number above ``seq``, oldest first."""
        with session_scope(self.engine) as session:
            rows = feed.rows_after(session, FaxJobEvent, seq, limit)
            return [
                JobChange(row.seq, row.job_id, JobState(row.state), row.reason, as_utc(row.at))
                for row in rows
            ]

    async def watch(self, after: int = 0, interval: float = 1.0) -> AsyncIterator[JobChange]:
        """Follow the status feed forever (works across processes: it polls)."""
        while True:
            changes = await asyncio.to_thread(self.changes_after, after)
            for change in changes:
                after = change.seq
                yield change
            if not changes:
                await asyncio.sleep(interval)

    # -- workers ---------------------------------------------------------------

    def claim(self, worker_id: str, *, limit: int, lease_for: timedelta) -> list[Lease]:
        """Lease up to ``limit`` due jobs that nobody else holds."""
        now = self.clock.now()
        free = or_(FaxJob.lease_expires_at.is_(None), FaxJob.lease_expires_at < now)
        with session_scope(self.engine) as session:
            ids = session.scalars(
                select(FaxJob.id)
                .where(FaxJob.state.in_(_ACTIVE), FaxJob.next_attempt_at <= now, free)
                .order_by(FaxJob.next_attempt_at)
                .limit(limit)
            ).all()
        leases = []
        for job_id in ids:
            token = secrets.token_hex(16)
            with session_scope(self.engine) as session:
                result = session.execute(
                    update(FaxJob)
                    .where(FaxJob.id == job_id, FaxJob.state.in_(_ACTIVE), free)
                    .values(
                        lease_owner=worker_id, lease_token=token, lease_expires_at=now + lease_for
                    )
                )
                if result.rowcount == 1:  # type: ignore[attr-defined]
                    leases.append(Lease(job_id, token, worker_id))
        return leases

    def work_item(self, lease: Lease) -> WorkItem:
        with session_scope(self.engine) as session:
            job = session.get(FaxJob, lease.job_id)
            if job is None or job.lease_token != lease.token:
                raise LeaseLost(lease.job_id)
            return WorkItem(
                job_id=job.id,
                state=JobState(job.state),
                to_number=job.to_number,
                caller_ident=job.caller_ident,
                document_ref=job.document_ref,
                pages=job.pages or 0,
                attempts=job.attempts,
                attempt_key=job.attempt_key,
                provider_id=job.provider_id,
                deadline_at=as_utc(job.deadline_at),
                last_error=job.last_error,
            )

    def move(
        self, lease: Lease, state: JobState, event: JobEvent, reason: str = "", **values: Any
    ) -> JobState:
        """Apply ``event`` to a leased job in ``state``; raises LeaseLost if it moved."""
        with session_scope(self.engine) as session:
            return self._change(
                session,
                lease.job_id,
                state,
                event,
                lease.worker_id,
                reason,
                token=lease.token,
                **values,
            )

    def update(self, lease: Lease, state: JobState, **values: Any) -> None:
        """Change fields of a leased job without changing its state."""
        with session_scope(self.engine) as session:
            self._guarded_update(session, lease.job_id, state, lease.token, values)

    def release(self, lease: Lease, state: JobState, at: datetime, **values: Any) -> None:
        """Give the job back, due again at ``at``."""
        self.update(
            lease,
            state,
            next_attempt_at=at,
            lease_owner=None,
            lease_token=None,
            lease_expires_at=None,
            **values,
        )

    def begin_attempt(self, lease: Lease, item: WorkItem) -> str:
        """Commit a new attempt key before the transport is called; return it."""
        attempt = item.attempts + 1
        key = f"{item.job_id}-{attempt}"
        values: dict[str, Any] = {"attempts": attempt, "attempt_key": key, "provider_id": None}
        with session_scope(self.engine) as session:
            if item.state is JobState.RENDERING:
                self._change(
                    session,
                    item.job_id,
                    item.state,
                    JobEvent.RENDERED,
                    lease.worker_id,
                    f"attempt {attempt}",
                    token=lease.token,
                    **values,
                )
            else:
                self._guarded_update(session, item.job_id, item.state, lease.token, values)
        return key

    def accepted(self, lease: Lease, provider_id: str) -> None:
        """Record the provider's id for the current attempt (audited)."""
        with session_scope(self.engine) as session:
            self._guarded_update(
                session,
                lease.job_id,
                JobState.SENDING,
                lease.token,
                {"provider_id": provider_id, "last_error": None},
            )
            self.audit.record(
                session,
                actor=lease.worker_id,
                action="fax.job.accepted",
                record_type=RECORD_TYPE,
                record_id=lease.job_id,
                details={"transport": self.transport, "provider_id": provider_id},
            )

    def take_rate_slot(self, destination_hash: str) -> datetime | None:
        """Count one submission to a destination; when limited, when to retry."""
        limit = self.rate_limit
        now = self.clock.now()
        cutoff = now - limit.per
        row = FaxDestination
        with session_scope(self.engine) as session:
            counted = session.execute(
                update(row)
                .where(
                    row.destination_hash == destination_hash,
                    row.window_start > cutoff,
                    row.count < limit.count,
                )
                .values(count=row.count + 1)
            ).rowcount  # type: ignore[attr-defined]
            if counted:
                return None
            reset = session.execute(
                update(row)
                .where(row.destination_hash == destination_hash, row.window_start <= cutoff)
                .values(window_start=now, count=1)
            ).rowcount  # type: ignore[attr-defined]
            if reset:
                return None
            start = session.scalar(
                select(row.window_start).where(row.destination_hash == destination_hash)
            )
            if start is not None:
                return as_utc(start) + limit.per
        try:
            with session_scope(self.engine) as session:
                session.add(
                    FaxDestination(destination_hash=destination_hash, window_start=now, count=1)
                )
        except IntegrityError:  # another worker created the window first
            return self.take_rate_slot(destination_hash)
        return None

    def job_for_provider(self, provider_id: str) -> str | None:
        """The job whose current attempt has this provider id, if any."""
        with session_scope(self.engine) as session:
            return session.scalar(
                select(FaxJob.id).where(
                    FaxJob.transport == self.transport, FaxJob.provider_id == provider_id
                )
            )

    def destination_of(self, job_id: str) -> str:
        with session_scope(self.engine) as session:
            value = session.scalar(select(FaxJob.destination_hash).where(FaxJob.id == job_id))
            if value is None:
                raise JobNotFound(job_id)
            return value

    def conclude(
        self,
        job_id: str,
        status: ProviderStatus,
        *,
        actor: str,
        lease: Lease | None = None,
        provider_id: str | None = None,
    ) -> JobState:
        """Apply a provider verdict to a job in ``sending``.

        From a worker (``lease``) or from a provider callback (``provider_id``,
        which must still be the job's current attempt). Pending schedules the
        next poll; delivered is final; a failure retries with backoff until
        the deadline, unless the provider says a retry makes no sense.
        """
        now = self.clock.now()
        sending = JobState.SENDING
        token = lease.token if lease else None
        with session_scope(self.engine) as session:
            job = session.get(FaxJob, job_id)
            if job is None or job.state != sending.value:
                raise LeaseLost(job_id)
            if provider_id is not None and job.provider_id != provider_id:
                raise LeaseLost(job_id)
            if status.state is ProviderState.PENDING:
                if lease is not None:
                    self._guarded_update(
                        session,
                        job_id,
                        sending,
                        token,
                        {
                            "next_attempt_at": now + self.policy.poll_interval,
                            "lease_owner": None,
                            "lease_token": None,
                            "lease_expires_at": None,
                        },
                        guard_provider_id=provider_id,
                    )
                return sending
            if status.state is ProviderState.DELIVERED:
                return self._change(
                    session,
                    job_id,
                    sending,
                    JobEvent.DELIVERED,
                    actor,
                    "provider confirmed delivery",
                    token=token,
                    guard_provider_id=provider_id,
                    pages=status.pages or job.pages,
                )
            reason = status.reason or "the provider reported a failure"
            return self._retry_or_fail(
                session,
                job,
                sending,
                reason,
                actor,
                token=token,
                retryable=status.retryable,
                provider_id=provider_id,
            )

    def give_up(self, lease: Lease, state: JobState, reason: str) -> JobState:
        return self.move(lease, state, JobEvent.GIVE_UP, reason, failure_reason=reason)

    def _retry_or_fail(
        self,
        session: Session,
        job: FaxJob,
        state: JobState,
        error: str,
        actor: str,
        *,
        token: str | None,
        retryable: bool,
        provider_id: str | None = None,
    ) -> JobState:
        now = self.clock.now()
        at = now + self.policy.delay(job.attempts)
        if retryable and at < as_utc(job.deadline_at):
            RETRIES.labels("fax_send").inc()
            return self._change(
                session,
                job.id,
                state,
                JobEvent.RETRY,
                actor,
                error,
                token=token,
                guard_provider_id=provider_id,
                last_error=error,
                next_attempt_at=at,
                attempt_key=None,
                provider_id=None,
            )
        reason = (
            error if not retryable else f"deadline passed after {job.attempts} attempt(s): {error}"
        )
        return self._change(
            session,
            job.id,
            state,
            JobEvent.GIVE_UP,
            actor,
            reason,
            token=token,
            guard_provider_id=provider_id,
            failure_reason=reason,
            last_error=error,
        )

    # -- the one place state changes ------------------------------------------

    def _guarded_update(
        self,
        session: Session,
        job_id: str,
        state: JobState,
        token: str | None,
        values: dict[str, Any],
        *,
        guard_provider_id: str | None = None,
    ) -> None:
        conditions = [FaxJob.id == job_id, FaxJob.state == state.value]
        if token is not None:
            conditions.append(FaxJob.lease_token == token)
        if guard_provider_id is not None:
            conditions.append(FaxJob.provider_id == guard_provider_id)
        values = {"updated_at": self.clock.now(), **values}
        result = session.execute(update(FaxJob).where(and_(*conditions)).values(**values))
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise LeaseLost(job_id)

    def _change(
        self,
        session: Session,
        job_id: str,
        state: JobState,
        event: JobEvent,
        actor: str,
        reason: str,
        *,
        token: str | None = None,
        guard_provider_id: str | None = None,
        **values: Any,
    ) -> JobState:
        new = next_state(state, event)
        values["state"] = new.value
        if new.terminal or new is JobState.QUEUED:
            values.update(lease_owner=None, lease_token=None, lease_expires_at=None)
        if new.terminal:
            values["finished_at"] = self.clock.now()
        self._guarded_update(
            session, job_id, state, token, values, guard_provider_id=guard_provider_id
        )
        self._record(session, job_id, state, new, event, actor, reason)
        return new

    def _record(
        self,
        session: Session,
        job_id: str,
        old: JobState | None,
        new: JobState,
        event: JobEvent | None,
        actor: str,
        reason: str,
    ) -> None:
        self.audit.record(
            session,
            actor=actor,
            action=f"fax.job.{new.value}",
            record_type=RECORD_TYPE,
            record_id=job_id,
            reason=reason,
            details={"from": old.value if old else None, "event": event.value if event else None},
        )
        event_row = FaxJobEvent(job_id=job_id, state=new.value, reason=reason, at=self.clock.now())
        feed.append(session, event_row)
