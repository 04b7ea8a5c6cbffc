"""The delivery attempt table: every verdict it takes, and what it refuses with what message."""

from __future__ import annotations

import itertools

import pytest

from referral.delivery_states import (
    TERMINAL,
    TRANSITIONS,
    DeliveryStatus,
    DeliveryTransitionError,
    next_status,
)

D = DeliveryStatus


@pytest.mark.parametrize("row", TRANSITIONS, ids=lambda t: f"{t.source}->{t.target}")
def test_every_row_is_taken(row) -> None:
    assert next_status(row.source, row.target) is row


def test_the_table_moves_only_forward_and_ends_in_delivered_or_failed() -> None:
    assert {(t.source, t.target) for t in TRANSITIONS} == {
        (D.PENDING, D.ACCEPTED), (D.PENDING, D.DELIVERED), (D.PENDING, D.FAILED),
        (D.ACCEPTED, D.DELIVERED), (D.ACCEPTED, D.FAILED),
    }
    assert {D.DELIVERED, D.FAILED} == TERMINAL


@pytest.mark.parametrize("status", list(D))
def test_a_repeated_verdict_is_refused_as_no_news(status: DeliveryStatus) -> None:
    with pytest.raises(DeliveryTransitionError) as caught:
        next_status(status, status)
    assert str(caught.value) == (
        f"the attempt is already {status.value}; the repeated verdict changes nothing"
    )


def test_a_verdict_backwards_says_what_is_still_allowed() -> None:
    with pytest.raises(DeliveryTransitionError) as caught:
        next_status(D.ACCEPTED, D.PENDING)
    assert str(caught.value) == (
        "a delivery attempt that is accepted cannot become pending; "
        "allowed from accepted: delivered, failed"
    )
    assert (caught.value.source, caught.value.target) == (D.ACCEPTED, D.PENDING)


@pytest.mark.parametrize(("final", "late"), [(f, s) for f in TERMINAL for s in D if s is not f])
def test_a_late_verdict_cannot_reopen_or_contradict_a_final_one(
    final: DeliveryStatus, late: DeliveryStatus
) -> None:
    with pytest.raises(DeliveryTransitionError, match=f"nothing: {final.value} is final"):
        next_status(final, late)


def test_every_pair_outside_the_table_is_refused() -> None:
    table = {(t.source, t.target) for t in TRANSITIONS}
    for source, target in itertools.product(D, D):
        if (source, target) not in table:
            with pytest.raises(DeliveryTransitionError):
                next_status(source, target)
