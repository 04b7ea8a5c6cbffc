"""Delivering a sent referral's packet, over Matrix or fax, and recording what happened.

    prepare_delivery (txn 1) ── verify packet hash, open an attempt row ──> DeliveryJob
    await deliver(channel, job)   the only I/O: DeliveryChannel.deliver(...); a refusal is
                                  "failed", an outage (ChannelUnavailable) leaves it pending
    reopen_for_resend (!resend)   the last attempt failed and none ever arrived ──> a failed
                                  referral is requested again, a new pending attempt
                                  carries the same sealed packet (checked by its hash)
    record_delivery_outcome (txn 2, and again for each later status update)
    deliver_pending: those three steps for every pending attempt (after a send,
        and whatever a crash or an outage left); a channel down ─► DeliveryDeferred.
        It resumes the attempts it listed (resume_delivery) and never opens one: an
        attempt reported delivered meanwhile (the Matrix outbox's sent hook) is skipped,
        not re-opened under a new key (which would send the packet twice)
        accepted   the channel took it (event sent, fax queued)
        delivered  the recipient has it ──> disclosure record + business status "delivered"
        failed     attempt closed with its detail; the case stays as it was
        a repeated or late verdict ──> nothing recorded; the result says it was not new

An attempt's statuses move only along the table in
:mod:`referral.delivery_states`, and only :func:`_move` changes them.

The database work sits in its own transactions on either side of the one
``await``, so no lock is held while the channel waits on the network. The
idempotency key is fixed per attempt and handed to the channel: a crash
after ``prepare_delivery`` re-opens the same pending attempt and the channel
(Matrix outbox, fax outbox) de-duplicates the repeat.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from curbside.background import RetrySoon
from curbside.database import session_scope
from referral.cases import (
    RECORD_TYPE,
    ReferralEnv,
    get_referral,
    record_business_status,
    transition,
)
from referral.delivery_states import (
    TERMINAL,
    DeliveryStatus,
    DeliveryTransitionError,
    next_status,
)
from referral.disclosures import record_disclosure
from referral.documents.packet import Packet
from referral.errors import DeliveryRefused, ReferralNotFound
from referral.models import DeliveryAttempt, ReferralCase
from referral.packets import load_packet
from referral.states import Side, Status
from referral.validation import RecipientKind

log = logging.getLogger(__name__)

DELIVERABLE = frozenset({Status.REQUESTED, Status.ACCEPTED, Status.IN_PROGRESS, Status.ON_HOLD})


@dataclass(frozen=True, slots=True)
class Recipient:
    """Where a packet goes: a Matrix user or room, or a fax number, and who that is."""

    kind: RecipientKind
    address: str
    name: str
    phone: str = ""


@dataclass(frozen=True, slots=True)
class DeliveryReceipt:
    """A channel's answer; ``provider_ref`` is its own id (event id, fax job id)."""

    status: DeliveryStatus
    provider_ref: str | None = None
    detail: str = ""


class DeliveryChannel(Protocol):
    """What the desk bot's Matrix sender and the fax gateway's outbox both provide.

    ``deliver`` must be idempotent on ``idempotency_key``: called twice with
    the same key it sends once and returns the same receipt. It may answer
    ``accepted`` and report ``delivered``/``failed`` later through
    :func:`record_delivery_outcome` with the same key.
    """

    name: str

    async def deliver(
        self, packet: Packet, recipient: Recipient, idempotency_key: str
    ) -> DeliveryReceipt: ...


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """What recording a verdict did: the attempt as it stands, and whether the verdict
    moved it (``new``) or repeated or came after what the attempt already knew."""

    attempt: DeliveryAttempt
    new: bool


@dataclass(frozen=True, slots=True)
class DeliveryJob:
    attempt_id: str
    referral_id: str
    channel: str
    idempotency_key: str
    packet: Packet
    recipient: Recipient


def recipient_of(case: ReferralCase) -> Recipient:
    return Recipient(case.kind, case.recipient_address, case.recipient_name, case.recipient_phone)


def prepare_delivery(
    session: Session, env: ReferralEnv, referral_id: str, *, channel: str, actor: str
) -> DeliveryJob:
    """Check the packet against its stored hash and open (or re-open) an attempt."""
    case = _deliverable(session, referral_id)
    packet = load_packet(case)
    pending = session.scalars(
        select(DeliveryAttempt).where(
            DeliveryAttempt.referral_id == case.id,
            DeliveryAttempt.channel == channel,
            DeliveryAttempt.status == DeliveryStatus.PENDING.value,
        )
    ).first()
    if pending is None:
        number = (
            session.scalar(
                select(func.count())
                .select_from(DeliveryAttempt)
                .where(DeliveryAttempt.referral_id == case.id)
            )
            or 0
        ) + 1
        pending = DeliveryAttempt(
            id=secrets.token_hex(12),
            referral_id=case.id,
            attempt_no=number,
            channel=channel,
            idempotency_key=f"referral:{case.id}:{number}:{packet.sha256[:16]}",
            recipient_kind=case.recipient_kind,
            recipient_address=case.recipient_address,
            packet_sha256=packet.sha256,
            status=DeliveryStatus.PENDING.value,
            actor=actor,
            started_at=env.clock(),
        )
        session.add(pending)
        session.flush()
        env.audit.record(
            session,
            actor=actor,
            action="referral.delivery.start",
            record_type=RECORD_TYPE,
            record_id=case.id,
            details={"attempt": pending.id, "channel": channel, "attempt_no": number},
        )
    return _job(case, pending, packet)


def resume_delivery(session: Session, attempt_id: str) -> DeliveryJob | None:
    """The job of an attempt that is still pending; None once it has moved on.

    The delivery job resumes the attempts it listed, never opens one: the
    outbox may report a listed attempt delivered before the job reaches it,
    and :func:`prepare_delivery` would then open a second attempt under a
    new idempotency key, which the channel sends again.
    """
    attempt = session.get(DeliveryAttempt, attempt_id)
    if attempt is None or attempt.status != DeliveryStatus.PENDING.value:
        return None
    case = _deliverable(session, attempt.referral_id)
    return _job(case, attempt, load_packet(case))


def _deliverable(session: Session, referral_id: str) -> ReferralCase:
    """The case, locked, if its state lets a packet go out; else DeliveryRefused."""
    case = get_referral(session, referral_id, for_update=True)
    if case.state not in DELIVERABLE:
        raise DeliveryRefused(
            f"referral {case.id} is {case.status}; only a sent, open referral can be delivered"
        )
    return case


def _job(case: ReferralCase, attempt: DeliveryAttempt, packet: Packet) -> DeliveryJob:
    return DeliveryJob(
        attempt_id=attempt.id,
        referral_id=case.id,
        channel=attempt.channel,
        idempotency_key=attempt.idempotency_key,
        packet=packet,
        recipient=recipient_of(case),
    )


def attempts_of(session: Session, referral_id: str) -> list[DeliveryAttempt]:
    """Every delivery attempt of a referral, oldest first."""
    return list(session.scalars(
        select(DeliveryAttempt).where(DeliveryAttempt.referral_id == referral_id)
        .order_by(DeliveryAttempt.attempt_no)))


def resend_refusal(session: Session, case: ReferralCase) -> str | None:
    """Why the referral cannot be sent again, or None: its last attempt failed and the
    recipient never got the packet (a partly sent fax fails too, and may be resent)."""
    attempts = attempts_of(session, case.id)
    if not attempts:
        return f"{case.id} has not been sent yet; !send sends it."
    last = attempts[-1]
    if any(a.status == DeliveryStatus.DELIVERED.value for a in attempts):
        return f"{case.id} was delivered; there is nothing to resend."
    if last.status != DeliveryStatus.FAILED.value:
        return f"{case.id} is still being delivered (attempt {last.attempt_no} is {last.status})."
    if case.state not in (Status.FAILED, *DELIVERABLE):
        return f"{case.id} is {case.status}; only a failed or open referral can be resent."
    return None


def reopen_for_resend(
    session: Session, env: ReferralEnv, referral_id: str, *, actor: str
) -> DeliveryJob:
    """A new pending attempt with the same sealed packet for a referral whose delivery
    failed; a failed referral is requested again first (the table's one move out of
    a final status). Raises :class:`DeliveryRefused` with :func:`resend_refusal`."""
    case = get_referral(session, referral_id, for_update=True)
    refusal = resend_refusal(session, case)
    if refusal is not None:
        raise DeliveryRefused(refusal)
    channel = attempts_of(session, case.id)[-1].channel
    if case.state is Status.FAILED:
        transition(session, env, case.id, to=Status.REQUESTED, side=Side.REFERRER, actor=actor)
    env.audit.record(session, actor=actor, action="referral.delivery.resend",
                     record_type=RECORD_TYPE, record_id=case.id)
    return prepare_delivery(session, env, case.id, channel=channel, actor=actor)


class ChannelUnavailable(RuntimeError):
    """A channel cannot be reached now (an outage); the attempt stays pending for a retry."""


async def deliver(channel: DeliveryChannel, job: DeliveryJob) -> DeliveryReceipt:
    """Hand the packet to the channel; a refusal becomes a ``failed`` receipt.

    :class:`ChannelUnavailable` propagates: an outage is not the recipient's
    answer, so the caller leaves the attempt pending and tries again.
    """
    try:
        return await channel.deliver(job.packet, job.recipient, job.idempotency_key)
    except ChannelUnavailable:
        raise
    except Exception as exc:  # a channel's refusal is an outcome to record, not a crash
        return DeliveryReceipt(DeliveryStatus.FAILED, detail=f"{type(exc).__name__}: {exc}"[:500])


def pending_attempts(session: Session) -> list[tuple[str, str, str]]:
    """(attempt id, referral id, channel) of every attempt still waiting for its channel,
    oldest first."""
    rows = session.execute(
        select(DeliveryAttempt.id, DeliveryAttempt.referral_id, DeliveryAttempt.channel)
        .where(DeliveryAttempt.status == DeliveryStatus.PENDING.value)
        .order_by(DeliveryAttempt.started_at)
    ).all()
    return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]


def has_attempt(session: Session, idempotency_key: str) -> bool:
    """Whether a delivery attempt of ours carries this key (a feed names others' jobs too)."""
    found = session.scalar(
        select(DeliveryAttempt.id).where(DeliveryAttempt.idempotency_key == idempotency_key)
    )
    return found is not None


def record_delivery_outcome(
    session: Session,
    env: ReferralEnv,
    idempotency_key: str,
    receipt: DeliveryReceipt,
    *,
    actor: str = "system",
    purpose: str = "treatment",
) -> DeliveryOutcome:
    """Apply a channel's verdict to its attempt; idempotent, and never moves backwards.

    Only a verdict the table takes from the attempt's status is recorded, and
    the result says so (``new``): a repeated or late verdict changes nothing,
    and a caller that tells people about verdicts tells them once. The first
    ``delivered`` writes the disclosure record (45 CFR 164.528) and sets the
    business status "delivered" on the case.
    """
    attempt = session.scalars(
        select(DeliveryAttempt)
        .where(DeliveryAttempt.idempotency_key == idempotency_key)
        .with_for_update()
    ).one_or_none()
    if attempt is None:
        raise ReferralNotFound(f"no delivery attempt has the key {idempotency_key!r}")
    try:
        _move(session, env, attempt, receipt, actor=actor)
    except DeliveryTransitionError:
        return DeliveryOutcome(attempt, new=False)
    if receipt.status is DeliveryStatus.DELIVERED:
        case = get_referral(session, attempt.referral_id)
        record_disclosure(session, env, case, attempt, actor=actor, purpose=purpose)
        if case.state in DELIVERABLE:
            record_business_status(
                session, env, case.id, code="delivered", side=Side.SYSTEM, actor=actor
            )
    session.flush()
    return DeliveryOutcome(attempt, new=True)


def _move(
    session: Session, env: ReferralEnv, attempt: DeliveryAttempt, receipt: DeliveryReceipt,
    *, actor: str
) -> None:
    """The one place an attempt's status changes: check the table, write, audit.

    The write is a compare-and-set on the status the decision was made from:
    two verdicts about one attempt may be recorded at once (the delivery job's
    "accepted" and the outbox's "delivered" on handler threads), and a read
    on SQLite locks nothing, so a verdict decided on a status that changed
    meanwhile is decided again on the new one — never written over it.

    Raises :class:`~referral.delivery_states.DeliveryTransitionError` before
    anything is written when the table has no such move.
    """
    while True:
        move = next_status(DeliveryStatus(attempt.status), receipt.status)
        values = {
            "status": move.target.value,
            "provider_ref": receipt.provider_ref or attempt.provider_ref,
            "detail": receipt.detail or attempt.detail,
            "finished_at": env.clock() if move.target in TERMINAL else attempt.finished_at,
        }
        written = session.execute(
            update(DeliveryAttempt)
            .where(DeliveryAttempt.id == attempt.id, DeliveryAttempt.status == attempt.status)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if written.rowcount == 1:  # type: ignore[attr-defined]
            break
        session.refresh(attempt)  # another verdict got there first: decide again
    session.refresh(attempt)
    env.audit.record(
        session,
        actor=actor,
        action="referral.delivery.outcome",
        record_type=RECORD_TYPE,
        record_id=attempt.referral_id,
        details={"attempt": attempt.id, "status": move.target.value, "channel": attempt.channel},
    )


# Takes a channel's verdict in the transaction that records it: the default
# records it; a desk also tells both sides what changed.
Recorder = Callable[[Session, str, DeliveryReceipt], None]


class DeliveryDeferred(RetrySoon):
    """Some deliveries could not reach their channel now; they stay pending."""


async def deliver_pending(
    engine: Engine, env: ReferralEnv, channels: Mapping[str, DeliveryChannel], *,
    actor: str, record: Recorder | None = None,
) -> None:
    """One pass over every pending attempt whose channel is given.

    Raises :class:`DeliveryDeferred` when some attempt's channel was
    unavailable: those stay pending for the next pass.
    """
    with session_scope(engine) as session:
        pending = pending_attempts(session)
    deferred = 0
    for attempt_id, referral_id, channel_name in pending:
        channel = channels.get(channel_name)
        if channel is None:
            continue
        with session_scope(engine) as session:
            job = resume_delivery(session, attempt_id)
        if job is None:
            continue  # delivered or failed since the list was read
        try:
            await _attempt(engine, env, job, channel, actor=actor, record=record)
        except ChannelUnavailable as exc:
            log.warning("delivering %s must wait: %s", referral_id, exc)
            deferred += 1
    if deferred:
        raise DeliveryDeferred(f"{deferred} deliveries wait for their channel")


async def send_referral(
    engine: Engine, env: ReferralEnv, referral_id: str, channel: DeliveryChannel, *, actor: str
) -> DeliveryReceipt:
    """Prepare, deliver and record one referral now (ChannelUnavailable propagates)."""
    with session_scope(engine) as session:
        job = prepare_delivery(session, env, referral_id, channel=channel.name, actor=actor)
    return await _attempt(engine, env, job, channel, actor=actor)


async def _attempt(
    engine: Engine, env: ReferralEnv, job: DeliveryJob, channel: DeliveryChannel, *,
    actor: str, record: Recorder | None = None,
) -> DeliveryReceipt:
    """Deliver a prepared job, then record the receipt in a transaction of its own."""
    receipt = await deliver(channel, job)
    with session_scope(engine) as session:
        if record is None:
            record_delivery_outcome(session, env, job.idempotency_key, receipt, actor=actor)
        else:
            record(session, job.idempotency_key, receipt)
    return receipt
