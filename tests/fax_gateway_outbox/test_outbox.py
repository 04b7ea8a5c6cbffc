"""Outbox scenarios on both database backends, with a clock moved by hand.

A coordinator's referral letter is queued once however often it is
submitted, retried with growing pauses until its deadline, held back when a
destination gets too many faxes, and never sent twice across crashes.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select

from curbside.audit import AuditEntry, AuditLog
from curbside.database import session_scope
from fax_gateway.gateway import FaxSettings, RateLimitSettings
from fax_gateway.models import FaxJob
from fax_gateway.numbers import InvalidNumber
from fax_gateway.outbox import IdempotencyConflict, InvalidDocument, LeaseLost
from fax_gateway.status import IllegalTransition, JobEvent, JobState
from fax_gateway.timing import RetryPolicy
from fax_gateway.transports.base import (
    PermanentTransportError,
    ProviderState,
    ProviderStatus,
    TemporaryTransportError,
)
from tests.support.documents import make_pdf

from .conftest import GatewayFactory, ManualClock
from .scripted import PENDING, AcceptedButLost, ScriptedTransport

TO = "+1 (312) 555-0102"
FAILED_LINE = ProviderStatus(ProviderState.FAILED, reason="provider: lineError")


@pytest.fixture
def transport() -> ScriptedTransport:
    return ScriptedTransport()


@pytest.fixture
def gateway(make_gateway: GatewayFactory, transport: ScriptedTransport, clock: ManualClock):
    return make_gateway(transport=transport, clock=clock)


def _jobs(engine: Engine) -> int:
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(FaxJob)) or 0


def _actions(engine: Engine, job_id: str) -> list[str]:
    with session_scope(engine) as session:
        return list(
            session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.record_id == job_id)
                .order_by(AuditEntry.seq)
            )
        )


# -- submitting ---------------------------------------------------------------------


def test_same_key_twice_is_one_job_and_one_document(gateway, engine, key, tmp_path) -> None:
    pdf = make_pdf()
    first = gateway.submit(pdf, TO, idempotency_key=key, actor="@coord:test")
    second = gateway.submit(pdf, TO, idempotency_key=key, actor="@coord:test")
    assert second.id == first.id
    assert _jobs(engine) == 1
    assert len(list((tmp_path / "fax-documents").rglob("*.fax"))) == 1


def test_reusing_a_key_for_another_fax_is_refused(gateway, key) -> None:
    gateway.submit(make_pdf(), TO, idempotency_key=key, actor="@coord:test")
    with pytest.raises(IdempotencyConflict):
        gateway.submit(make_pdf(text="other"), TO, idempotency_key=key, actor="@coord:test")
    with pytest.raises(IdempotencyConflict):
        gateway.submit(make_pdf(), "+13125550199", idempotency_key=key, actor="@coord:test")


def test_bad_documents_and_numbers_are_refused_up_front(gateway, engine, key) -> None:
    with pytest.raises(InvalidDocument):
        gateway.submit(b"hello", TO, idempotency_key=key, actor="@coord:test")
    with pytest.raises(InvalidDocument):
        gateway.submit(b"%PDF-1.4 broken", TO, idempotency_key=key, actor="@coord:test")
    with pytest.raises(InvalidNumber):
        gateway.submit(make_pdf(), "555-0100", idempotency_key=key, actor="@coord:test")
    with pytest.raises(InvalidNumber, match="premium-rate"):
        gateway.submit(make_pdf(), "+1 900 555 0134", idempotency_key=key, actor="@coord:test")
    with pytest.raises(InvalidNumber, match="looks like an NPI"):
        gateway.submit(make_pdf(), "1234567893", idempotency_key=key, actor="@coord:test")
    assert _jobs(engine) == 0


def test_document_is_encrypted_at_rest(gateway, key, tmp_path) -> None:
    pdf = make_pdf(text="Patient Jane Roe")
    gateway.submit(pdf, TO, idempotency_key=key, actor="@coord:test")
    [stored] = (tmp_path / "fax-documents").rglob("*.fax")
    assert b"%PDF" not in stored.read_bytes()
    assert b"Jane Roe" not in stored.read_bytes()


# -- the happy path and the feed ---------------------------------------------------


async def test_delivered_job_is_audited_at_every_step(
    gateway, engine, transport, key, audit: AuditLog
) -> None:
    job = gateway.submit(make_pdf(pages=2), TO, idempotency_key=key, actor="@coord:test")
    assert await gateway.worker("w1").run_once() == 1
    done = gateway.job(job.id)
    assert done.state is JobState.DELIVERED
    assert transport.submitted == [f"{job.id}-1"]
    assert transport.pages_seen == [2]
    assert [c.state for c in gateway.changes_after(0)] == [
        JobState.QUEUED,
        JobState.RENDERING,
        JobState.SENDING,
        JobState.DELIVERED,
    ]
    assert _actions(engine, job.id) == [
        "fax.job.queued",
        "fax.job.rendering",
        "fax.job.sending",
        "fax.job.accepted",
        "fax.job.delivered",
    ]
    assert audit.verify(engine) == []


async def test_pending_faxes_are_polled_later(gateway, transport, clock, key) -> None:
    job = gateway.submit(make_pdf(), TO, idempotency_key=key, actor="@coord:test")
    transport.poll_script.extend([PENDING, PENDING])
    worker = gateway.worker("w1")
    await worker.run_once()
    assert gateway.job(job.id).state is JobState.SENDING
    assert await worker.run_once() == 0  # not due yet
    clock.advance(gateway.outbox.policy.poll_interval)
    await worker.run_once()
    clock.advance(gateway.outbox.policy.poll_interval)
    await worker.run_once()
    assert gateway.job(job.id).state is JobState.DELIVERED
    assert len(transport.submitted) == 1


# -- retries, backoff, deadline ----------------------------------------------------


def test_backoff_grows_with_jitter_and_stops_at_the_cap() -> None:
    policy = RetryPolicy(
        base=timedelta(seconds=10), cap=timedelta(seconds=60), rng=random.Random(7)
    )
    for attempt, ceiling in [(1, 10), (2, 20), (3, 40), (4, 60), (9, 60)]:
        delays = {policy.delay(attempt).total_seconds() for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered, not lock step


async def test_failed_attempts_back_off_until_the_deadline(
    make_gateway: GatewayFactory, transport: ScriptedTransport, clock: ManualClock, key: str
) -> None:
    settings = FaxSettings.model_validate(
        {"retry": {"base_seconds": 30, "cap_seconds": 120, "deadline_hours": 0.1}}
    )
    gateway = make_gateway(settings, transport=transport, clock=clock)
    transport.poll_script.extend([FAILED_LINE] * 20)
    job = gateway.submit(make_pdf(), TO, idempotency_key=key, actor="@coord:test")
    worker = gateway.worker("w1")
    waits = []
    while not (view := gateway.job(job.id)).state.terminal:
        assert await worker.run_once() == 1
        view = gateway.job(job.id)
        if view.state is JobState.QUEUED:
            wait = view.next_attempt_at - clock.now()
            waits.append(wait.total_seconds())
            assert await worker.run_once() == 0  # nothing before the backoff ends
            clock.advance(wait)
    assert view.state is JobState.FAILED
    assert view.failure_reason is not None
    assert view.failure_reason.startswith(f"deadline passed after {view.attempts} attempt(s)")
    assert "lineError" in view.failure_reason
    assert len(transport.submitted) == view.attempts == len(waits) + 1
    ceilings = [min(120, 30 * 2**n) for n in range(len(waits))]
    assert all(c / 2 <= w <= c for w, c in zip(waits, ceilings, strict=True))
    assert sum(waits) < 6 * 60  # never scheduled past the 6-minute deadline


async def test_refused_fax_fails_at_once_with_the_reason(gateway, transport, key) -> None:
    transport.submit_script.append(
        PermanentTransportError("Phaxio answered 422: Invalid phone number")
    )
    job = gateway.submit(make_pdf(), TO, idempotency_key=key, actor="@coord:test")
    await gateway.worker("w1").run_once()
    view = gateway.job(job.id)
    assert view.state is JobState.FAILED
    assert (
        view.failure_reason == "provider refused the fax: Phaxio answered 422: Invalid phone number"
    )


async def test_partial_delivery_is_not_resent(gateway, transport, key) -> None:
    transport.poll_script.append(
        ProviderStatus(ProviderState.FAILED, reason="partial delivery (pageError)", retryable=False)
    )
    job = gateway.submit(make_pdf(), TO, idempotency_key=key, actor="@coord:test")
    await gateway.worker("w1").run_once()
    view = gateway.job(job.id)
    assert (view.state, view.failure_reason) == (JobState.FAILED, "partial delivery (pageError)")
    assert len(transport.submitted) == 1


# -- never twice: timeouts, crashes, leases --------------------------------------


async def test_timeout_after_acceptance_is_adopted_not_resent(
    gateway, transport, clock, key
) -> None:
    transport.submit_script.append(AcceptedButLost("Phaxio unreachable (TimeoutError)"))
    job = gateway.submit(make_pdf(), TO, idempotency_key=key, actor="@coord:test")
    worker = gateway.worker("w1")
    await worker.run_once()
    view = gateway.job(job.id)
    assert (view.state, view.provider_id) == (JobState.SENDING, None)
    assert view.last_error == "submit failed: Phaxio unreachable (TimeoutError)"
    clock.advance(view.next_attempt_at - clock.now())
    await worker.run_once()
    view = gateway.job(job.id)
    assert view.state is JobState.DELIVERED
    assert transport.submitted == [f"{job.id}-1"]


async def test_error_before_acceptance_is_sent_again_under_a_new_key(
    gateway, transport, clock, key
) -> None:
    transport.submit_script.append(TemporaryTransportError("Phaxio answered 500"))
    job = gateway.submit(make_pdf(), TO, idempotency_key=key, actor="@coord:test")
    worker = gateway.worker("w1")
    await worker.run_once()
    clock.advance(gateway.job(job.id).next_attempt_at - clock.now())
    await worker.run_once()
    assert gateway.job(job.id).state is JobState.DELIVERED
    assert transport.submitted == [f"{job.id}-1", f"{job.id}-2"]


async def test_crash_between_acceptance_and_record_is_reconciled(
    gateway, transport, clock, key
) -> None:
    job = gateway.submit(make_pdf(), TO, idempotency_key=key, actor="@coord:test")
    outbox = gateway.outbox
    # A worker gets as far as the provider accepting the fax, then dies.
    [lease] = outbox.claim("doomed", limit=1, lease_for=timedelta(minutes=1))
    outbox.move(lease, JobState.QUEUED, JobEvent.START)
    item = outbox.work_item(lease)
    attempt = outbox.begin_attempt(lease, item)
    transport.accepted[attempt] = "p-before-crash"
    assert outbox.claim("other", limit=1, lease_for=timedelta(minutes=1)) == []  # still leased
    clock.advance(timedelta(minutes=2))  # the dead worker's lease runs out
    await gateway.worker("restarted").run_once()
    view = gateway.job(job.id)
    assert (view.state, view.provider_id) == (JobState.DELIVERED, "p-before-crash")
    assert transport.submitted == []  # the restarted worker never sent it again


async def test_two_workers_never_hold_the_same_job(gateway, clock) -> None:
    for n in range(6):
        gateway.submit(make_pdf(), TO, idempotency_key=f"k{n}", actor="@coord:test")
    outbox = gateway.outbox
    first = outbox.claim("a", limit=4, lease_for=timedelta(minutes=1))
    second = outbox.claim("b", limit=4, lease_for=timedelta(minutes=1))
    assert len(first) == 4 and len(second) == 2
    assert not {lease.job_id for lease in first} & {lease.job_id for lease in second}
    clock.advance(timedelta(minutes=2))
    taken_over = outbox.claim("c", limit=10, lease_for=timedelta(minutes=1))
    assert len(taken_over) == 6
    with pytest.raises(LeaseLost):  # the first holder's lease is gone
        outbox.move(first[0], JobState.QUEUED, JobEvent.START)


# -- rate limit ----------------------------------------------------------------------


async def test_rate_limit_per_destination(make_gateway: GatewayFactory, transport, clock) -> None:
    settings = FaxSettings(rate_limit=RateLimitSettings(count=2, per_seconds=60))
    gateway = make_gateway(settings, transport=transport, clock=clock)
    same = [
        gateway.submit(make_pdf(text=str(n)), TO, idempotency_key=f"s{n}", actor="@c:t")
        for n in range(3)
    ]
    other = gateway.submit(make_pdf(), "+13125550103", idempotency_key="o", actor="@c:t")
    await gateway.worker("w1", batch=10).run_once()
    states = [gateway.job(job.id).state for job in same]
    assert states.count(JobState.DELIVERED) == 2
    [held] = [job for job in same if gateway.job(job.id).state is JobState.QUEUED]
    assert gateway.job(other.id).state is JobState.DELIVERED
    assert gateway.job(held.id).next_attempt_at == clock.now() + timedelta(seconds=60)
    assert gateway.job(held.id).attempts == 0  # held back, not a failed attempt
    clock.advance(timedelta(seconds=60))
    await gateway.worker("w1").run_once()
    assert gateway.job(held.id).state is JobState.DELIVERED


# -- cancel and callbacks ----------------------------------------------------------


async def test_cancel_before_sending(gateway, engine, transport, key) -> None:
    job = gateway.submit(make_pdf(), TO, idempotency_key=key, actor="@coord:test")
    cancelled = gateway.cancel(job.id, actor="@coord:test", reason="wrong recipient")
    assert cancelled.state is JobState.CANCELLED
    assert await gateway.worker("w1").run_once() == 0
    assert transport.submitted == []
    assert _actions(engine, job.id)[-1] == "fax.job.cancelled"
    with pytest.raises(IllegalTransition):
        gateway.cancel(job.id, actor="@coord:test")


async def test_cancel_while_rendering_stops_the_worker(gateway, key) -> None:
    job = gateway.submit(make_pdf(), TO, idempotency_key=key, actor="@coord:test")
    outbox = gateway.outbox
    [lease] = outbox.claim("w1", limit=1, lease_for=timedelta(minutes=1))
    outbox.move(lease, JobState.QUEUED, JobEvent.START)
    gateway.cancel(job.id, actor="@coord:test")
    with pytest.raises(LeaseLost):
        outbox.begin_attempt(lease, outbox.work_item(lease))


async def test_a_fax_being_sent_cannot_be_cancelled(gateway, transport, key) -> None:
    transport.poll_script.append(PENDING)
    job = gateway.submit(make_pdf(), TO, idempotency_key=key, actor="@coord:test")
    await gateway.worker("w1").run_once()
    with pytest.raises(IllegalTransition):
        gateway.cancel(job.id, actor="@coord:test")
    assert gateway.job(job.id).state is JobState.SENDING


async def test_provider_callback_concludes_and_replays_change_nothing(
    gateway, transport, key
) -> None:
    transport.poll_script.append(PENDING)
    job = gateway.submit(make_pdf(), TO, idempotency_key=key, actor="@coord:test")
    await gateway.worker("w1").run_once()
    provider_id = gateway.job(job.id).provider_id
    assert provider_id is not None
    delivered = ProviderStatus(ProviderState.DELIVERED, pages=1)
    await gateway.status_changed("scripted", provider_id, delivered)
    assert gateway.job(job.id).state is JobState.DELIVERED
    before = gateway.changes_after(0)
    await gateway.status_changed("scripted", provider_id, delivered)
    await gateway.status_changed("scripted", "unknown-id", delivered)
    assert gateway.changes_after(0) == before


async def test_watchers_follow_the_status_feed(gateway, key) -> None:
    job = gateway.submit(make_pdf(), TO, idempotency_key=key, actor="@coord:test")
    await gateway.worker("w1").run_once()
    feed = gateway.watch(after=0, interval=0.01)
    seen = [await anext(feed) for _ in range(4)]
    await feed.aclose()
    assert [(c.job_id, c.state) for c in seen] == [
        (job.id, JobState.QUEUED),
        (job.id, JobState.RENDERING),
        (job.id, JobState.SENDING),
        (job.id, JobState.DELIVERED),
    ]
    assert gateway.changes_after(seen[1].seq) == seen[2:]
