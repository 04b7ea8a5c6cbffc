"""The referral state machine, written once as a table.

    draft ──> requested ──> accepted ──> in-progress ──> completed
                 │  │          │   ▲          │   ▲
                 │  └─> rejected   └─ on-hold ─┘   (on-hold resumes to accepted / in-progress)
                 └─> failed (system: delivery gave up)     cancelled (referrer, until completed)
                       └─> requested (referrer: !resend, the same sealed packet again)

Statuses are FHIR R4 ``Task.status`` codes, used the way the closed-loop
referral guides (HL7 BSeR, 360X) use them: the referrer *requests*, the
recipient *accepts* or *rejects*, works the case and *completes* it. Each row of
:data:`TRANSITIONS` names who owns the move — the referrer, the recipient, or
the system (delivery machinery) — and whether a reason must be given; nothing
else in the code decides what may happen next.

Business statuses (scheduled, patient did not attend, …) travel beside the
Task status as in BSeR: free of the state machine, but from a closed set, each
reported by its own side, and only once the referral was sent and while it is
open or completed (a consult note may arrive after the loop closed).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from curbside.transitions import describe_moves, moves_from


class Status(StrEnum):
    """FHIR ``Task.status`` codes a referral moves through."""

    DRAFT = "draft"
    REQUESTED = "requested"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    IN_PROGRESS = "in-progress"
    ON_HOLD = "on-hold"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"


class Side(StrEnum):
    """Which party makes a move."""

    REFERRER = "referrer"
    RECIPIENT = "recipient"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Transition:
    """One allowed move: from, to, who owns it, whether a reason is required."""

    source: Status
    target: Status
    side: Side
    reason_required: bool
    meaning: str


S, R = Status, Side
TRANSITIONS: tuple[Transition, ...] = (
    # from          to              owner        reason  meaning
    Transition(S.DRAFT, S.REQUESTED, R.REFERRER, False, "send the referral"),
    Transition(S.DRAFT, S.CANCELLED, R.REFERRER, True, "discard the draft"),
    Transition(S.REQUESTED, S.ACCEPTED, R.RECIPIENT, False, "accept the referral"),
    Transition(S.REQUESTED, S.REJECTED, R.RECIPIENT, True, "decline the referral"),
    Transition(S.REQUESTED, S.ON_HOLD, R.RECIPIENT, True, "pause, e.g. awaiting information"),
    Transition(S.REQUESTED, S.CANCELLED, R.REFERRER, True, "withdraw the referral"),
    Transition(S.REQUESTED, S.FAILED, R.SYSTEM, True, "delivery gave up"),
    Transition(S.ACCEPTED, S.IN_PROGRESS, R.RECIPIENT, False, "start work on the case"),
    Transition(S.ACCEPTED, S.ON_HOLD, R.RECIPIENT, True, "pause the case"),
    Transition(S.ACCEPTED, S.CANCELLED, R.REFERRER, True, "withdraw the referral"),
    Transition(S.IN_PROGRESS, S.COMPLETED, R.RECIPIENT, False, "close the loop"),
    Transition(S.IN_PROGRESS, S.ON_HOLD, R.RECIPIENT, True, "pause the case"),
    Transition(S.IN_PROGRESS, S.FAILED, R.RECIPIENT, True, "the service could not be done"),
    Transition(S.IN_PROGRESS, S.CANCELLED, R.REFERRER, True, "withdraw the referral"),
    Transition(S.ON_HOLD, S.ACCEPTED, R.RECIPIENT, False, "resume the accepted case"),
    Transition(S.ON_HOLD, S.IN_PROGRESS, R.RECIPIENT, False, "resume work on the case"),
    Transition(S.ON_HOLD, S.CANCELLED, R.REFERRER, True, "withdraw the referral"),
    # The one way out of a final status: a delivery that gave up is tried again.
    # referral.delivery.reopen_for_resend allows it only when no attempt ever arrived.
    Transition(S.FAILED, S.REQUESTED, R.REFERRER, False, "resend after delivery gave up"),
)
del S, R

TERMINAL: frozenset[Status] = frozenset(
    {Status.COMPLETED, Status.REJECTED, Status.CANCELLED, Status.FAILED}
)

_BY_PAIR: dict[tuple[Status, Status], Transition] = {(t.source, t.target): t for t in TRANSITIONS}


class TransitionError(Exception):
    """A move the table does not allow; the message says what is allowed and by whom."""


def allowed_from(status: Status) -> list[Transition]:
    """Rows that leave ``status``, in table order."""
    return moves_from(TRANSITIONS, status)


#: How a person says where a referral stands, and what a move would do to it.
STANDING: dict[Status, str] = {
    Status.DRAFT: "still a draft",
    Status.REQUESTED: "sent and waiting for the recipient's answer",
    Status.ACCEPTED: "accepted",
    Status.REJECTED: "declined",
    Status.IN_PROGRESS: "in progress",
    Status.ON_HOLD: "on hold",
    Status.COMPLETED: "completed (the loop is closed)",
    Status.CANCELLED: "cancelled",
    Status.FAILED: "failed",
}
DONE_TO: dict[Status, str] = {
    Status.DRAFT: "turned back into a draft",
    Status.REQUESTED: "sent",
    Status.ACCEPTED: "accepted",
    Status.REJECTED: "declined",
    Status.IN_PROGRESS: "started",
    Status.ON_HOLD: "put on hold",
    Status.COMPLETED: "completed",
    Status.CANCELLED: "cancelled",
    Status.FAILED: "marked as failed",
}


def refusal_text(source: Status, target: Status) -> str:
    """'This referral is completed (the loop is closed), so it cannot be declined now; …'."""
    moves = allowed_from(source)
    then = ("; what can still happen: "
            + "; ".join(f"{m.meaning} (the {m.side.value})" for m in moves)
            if moves else "; nothing more can change it")
    return f"This referral is {STANDING[source]}, so it cannot be {DONE_TO[target]} now{then}."


def describe_allowed(status: Status) -> str:
    """What may follow ``status`` and who owns each move, for a refusal."""
    return describe_moves(TRANSITIONS, status)


def check_transition(source: Status, target: Status, side: Side, reason: str) -> Transition:
    """Return the table row for this move or raise :class:`TransitionError`."""
    row = _BY_PAIR.get((source, target))
    if row is None:
        raise TransitionError(refusal_text(source, target))
    if row.side is not side:
        raise TransitionError(
            f"only the {row.side.value} may move a referral from {source.value} "
            f"to {target.value} (you are acting as the {side.value})"
        )
    if row.reason_required and not reason.strip():
        raise TransitionError(
            f"moving a referral to {target.value} needs a reason, e.g. "
            f"'{target.value}: patient chose another provider'"
        )
    return row


@dataclass(frozen=True, slots=True)
class BusinessStatus:
    """A BSeR-style business status: code, label, who may report it."""

    code: str
    label: str
    sides: frozenset[Side]


def _bs(code: str, label: str, *sides: Side) -> BusinessStatus:
    return BusinessStatus(code, label, frozenset(sides))


BUSINESS_STATUSES: dict[str, BusinessStatus] = {
    b.code: b
    for b in (
        _bs("delivered", "referral delivered to the recipient", Side.SYSTEM),
        _bs("received", "recipient confirmed receipt", Side.RECIPIENT),
        _bs("patient-contacted", "recipient contacted the patient", Side.RECIPIENT),
        _bs("scheduled", "appointment scheduled", Side.RECIPIENT),
        _bs("patient-declined", "patient declined the service", Side.RECIPIENT),
        _bs("no-show", "patient did not attend", Side.RECIPIENT),
        _bs("seen", "patient seen by the recipient", Side.RECIPIENT),
        _bs("consult-note-sent", "consult note sent to the referrer", Side.RECIPIENT),
        _bs("consult-note-received", "consult note received", Side.REFERRER),
        _bs("more-information-requested", "recipient asked for more information", Side.RECIPIENT),
        _bs("more-information-sent", "referrer sent the requested information", Side.REFERRER),
    )
}


def check_business_status(status: Status, code: str, side: Side) -> BusinessStatus:
    """Return the business status for ``code`` or raise with what would be accepted."""
    entry = BUSINESS_STATUSES.get(code)
    if entry is None:
        known = ", ".join(sorted(BUSINESS_STATUSES))
        raise TransitionError(f"unknown business status {code!r}; use one of: {known}")
    if side not in entry.sides:
        owners = " or ".join(sorted(s.value for s in entry.sides))
        raise TransitionError(f"only the {owners} may report '{code}' ({entry.label})")
    if status is Status.DRAFT or (status in TERMINAL and status is not Status.COMPLETED):
        raise TransitionError(
            f"business statuses are recorded only on a sent, open or completed referral; "
            f"this one is {status.value}"
        )
    return entry
