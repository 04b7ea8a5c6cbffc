"""A delivery attempt's life, written once as a table.

    pending ──accepted──> accepted ──delivered──> delivered
       │  └─────────────delivered──────────────────┘
       │                     └──────failed───────> failed
       └────────────────failed───────────────────┘

A channel answers ``accepted`` (the fax outbox queued it) or at once
``delivered`` (a Matrix event was sent), and may report ``delivered`` or
``failed`` later. Verdicts arrive at least once and not always in order: the
fax gateway's feed is replayed after a restart, and a report about an attempt
may come after another one closed it. So the first verdict that moves an
attempt along the table wins; a repeated one, one that would move it back, or
one contradicting a final verdict is refused by :func:`next_status` with what
the attempt still allows, and the writer
(:func:`referral.delivery.record_delivery_outcome`) records nothing for it and
tells its caller the verdict was not new.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class DeliveryStatus(StrEnum):
    """Where one attempt stands; the values are what ``referral_deliveries.status`` holds."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class DeliveryTransition:
    """One move a channel's verdict may make; every move is the channel's."""

    source: DeliveryStatus
    target: DeliveryStatus
    meaning: str


D = DeliveryStatus
TRANSITIONS: tuple[DeliveryTransition, ...] = (
    DeliveryTransition(D.PENDING, D.ACCEPTED, "the channel took the packet (fax queued)"),
    DeliveryTransition(D.PENDING, D.DELIVERED, "the recipient has it (Matrix event sent)"),
    DeliveryTransition(D.PENDING, D.FAILED, "the channel could not take it"),
    DeliveryTransition(D.ACCEPTED, D.DELIVERED, "the recipient has it (fax confirmed)"),
    DeliveryTransition(D.ACCEPTED, D.FAILED, "the channel gave up (fax failed or cancelled)"),
)
del D

TERMINAL: frozenset[DeliveryStatus] = frozenset({DeliveryStatus.DELIVERED, DeliveryStatus.FAILED})

_BY_PAIR: dict[tuple[DeliveryStatus, DeliveryStatus], DeliveryTransition] = {
    (t.source, t.target): t for t in TRANSITIONS
}


class DeliveryTransitionError(Exception):
    """A verdict the attempt cannot take; the message says what it still allows."""

    def __init__(self, message: str, source: DeliveryStatus, target: DeliveryStatus) -> None:
        super().__init__(message)
        self.source = source
        self.target = target


def describe_allowed(status: DeliveryStatus) -> str:
    """'delivered, failed', or that the status is final."""
    targets = [t.target.value for t in TRANSITIONS if t.source is status]
    return ", ".join(targets) if targets else f"nothing: {status.value} is final"


def next_status(current: DeliveryStatus, reported: DeliveryStatus) -> DeliveryTransition:
    """The table row a verdict of ``reported`` takes from ``current``, or refuse it."""
    row = _BY_PAIR.get((current, reported))
    if row is not None:
        return row
    if reported is current:
        message = f"the attempt is already {current.value}; the repeated verdict changes nothing"
    else:
        message = (f"a delivery attempt that is {current.value} cannot become "
                   f"{reported.value}; allowed from {current.value}: {describe_allowed(current)}")
    raise DeliveryTransitionError(message, current, reported)
