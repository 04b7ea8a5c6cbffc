"""The state machine table: every allowed move, refusals and their messages."""

from __future__ import annotations

import itertools

import pytest

from referral.states import (
    BUSINESS_STATUSES,
    TERMINAL,
    TRANSITIONS,
    Side,
    Status,
    TransitionError,
    check_business_status,
    check_transition,
)


@pytest.mark.parametrize("row", TRANSITIONS, ids=lambda t: f"{t.source}->{t.target}")
def test_every_row_is_allowed_for_its_owner(row) -> None:
    reason = "patient moved away" if row.reason_required else ""
    assert check_transition(row.source, row.target, row.side, reason) is row


@pytest.mark.parametrize("row", TRANSITIONS, ids=lambda t: f"{t.source}->{t.target}")
def test_every_row_refuses_the_other_sides(row) -> None:
    for side in Side:
        if side is not row.side:
            with pytest.raises(TransitionError, match=f"only the {row.side.value} may"):
                check_transition(row.source, row.target, side, "a reason")


def test_reason_is_required_exactly_for_rejected_on_hold_cancelled_failed() -> None:
    needs = {Status.REJECTED, Status.ON_HOLD, Status.CANCELLED, Status.FAILED}
    for row in TRANSITIONS:
        assert row.reason_required == (row.target in needs), row
        if row.reason_required:
            with pytest.raises(TransitionError, match="needs a reason"):
                check_transition(row.source, row.target, row.side, "   ")


def test_refused_move_lists_what_is_allowed_and_by_whom() -> None:
    with pytest.raises(TransitionError) as caught:
        check_transition(Status.DRAFT, Status.COMPLETED, Side.RECIPIENT, "")
    assert str(caught.value) == (
        "a referral that is draft cannot become completed; allowed from draft: "
        "requested (by the referrer), cancelled (by the referrer, reason required)"
    )


def test_terminal_states_allow_nothing() -> None:
    for status in TERMINAL:
        with pytest.raises(TransitionError, match=f"nothing: {status.value} is final"):
            check_transition(status, Status.REQUESTED, Side.REFERRER, "x")


def test_sample_of_pairs_not_in_the_table_is_refused() -> None:
    table = {(t.source, t.target) for t in TRANSITIONS}
    missing = [p for p in itertools.product(Status, Status) if p not in table]
    assert len(missing) == len(Status) ** 2 - len(TRANSITIONS)
    for source, target in missing:
        with pytest.raises(TransitionError, match=f"cannot become {target.value}"):
            check_transition(source, target, Side.REFERRER, "x")


def test_the_closed_loop_path_exists() -> None:
    path = [Status.DRAFT, Status.REQUESTED, Status.ACCEPTED, Status.IN_PROGRESS, Status.COMPLETED]
    table = {(t.source, t.target) for t in TRANSITIONS}
    assert all(pair in table for pair in itertools.pairwise(path))


def test_business_statuses() -> None:
    assert check_business_status(Status.ACCEPTED, "scheduled", Side.RECIPIENT).label
    with pytest.raises(TransitionError, match="only the recipient may report 'no-show'"):
        check_business_status(Status.ACCEPTED, "no-show", Side.REFERRER)
    with pytest.raises(TransitionError, match="unknown business status 'lost'; use one of"):
        check_business_status(Status.ACCEPTED, "lost", Side.RECIPIENT)
    with pytest.raises(TransitionError, match="this one is draft"):
        check_business_status(Status.DRAFT, "scheduled", Side.RECIPIENT)
    assert check_business_status(Status.COMPLETED, "consult-note-received", Side.REFERRER)
    assert "delivered" in BUSINESS_STATUSES
