"""The state machine table: every allowed move, refusals and their messages."""

from __future__ import annotations

import itertools

import pytest

from referral.states import (
    BUSINESS_STATUSES,
    DONE_TO,
    TERMINAL,
    TRANSITIONS,
    Side,
    Status,
    TransitionError,
    allowed_from,
    check_business_status,
    check_transition,
)


def _owner(source: Status, target: Status) -> Side:
    """Who owns a move, by the closed-loop rule (BSeR, 360X), not by reading the table:
    the referrer sends and withdraws, delivery fails a request it could not deliver,
    the recipient does everything else."""
    if target in (Status.REQUESTED, Status.CANCELLED):
        return Side.REFERRER
    if (source, target) == (Status.REQUESTED, Status.FAILED):
        return Side.SYSTEM
    return Side.RECIPIENT


@pytest.mark.parametrize("row", TRANSITIONS, ids=lambda t: f"{t.source}->{t.target}")
def test_every_row_belongs_to_the_side_the_rule_names(row) -> None:
    owner = _owner(row.source, row.target)
    assert row.side is owner
    reason = "patient moved away" if row.reason_required else ""
    assert check_transition(row.source, row.target, owner, reason) is row


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
        "This referral is still a draft, so it cannot be completed now; what can still "
        "happen: send the referral (the referrer); discard the draft (the referrer)."
    )


def test_a_refusal_after_the_loop_closed_is_in_plain_words() -> None:
    with pytest.raises(TransitionError) as caught:
        check_transition(Status.COMPLETED, Status.REJECTED, Side.RECIPIENT, "too late")
    assert str(caught.value) == ("This referral is completed (the loop is closed), so it "
                                 "cannot be declined now; nothing more can change it.")


def test_terminal_states_allow_nothing_but_a_resend_of_a_failed_one() -> None:
    for status in TERMINAL - {Status.FAILED}:
        with pytest.raises(TransitionError, match="nothing more can change it"):
            check_transition(status, Status.REQUESTED, Side.REFERRER, "x")
    assert [(t.target, t.side) for t in allowed_from(Status.FAILED)] == [
        (Status.REQUESTED, Side.REFERRER)]
    for side in (Side.RECIPIENT, Side.SYSTEM):
        with pytest.raises(TransitionError, match="only the referrer"):
            check_transition(Status.FAILED, Status.REQUESTED, side, "")


# Moves the closed loop forbids: skipping a step, going back to draft or to a
# status already passed, standing still. Written out, so a row added by mistake fails.
FORBIDDEN = [
    (Status.DRAFT, Status.ACCEPTED),
    (Status.DRAFT, Status.IN_PROGRESS),
    (Status.DRAFT, Status.COMPLETED),
    (Status.DRAFT, Status.FAILED),
    (Status.REQUESTED, Status.IN_PROGRESS),
    (Status.REQUESTED, Status.COMPLETED),
    (Status.REQUESTED, Status.DRAFT),
    (Status.ACCEPTED, Status.COMPLETED),
    (Status.ACCEPTED, Status.REQUESTED),
    (Status.ACCEPTED, Status.REJECTED),
    (Status.IN_PROGRESS, Status.ACCEPTED),
    (Status.IN_PROGRESS, Status.REJECTED),
    (Status.ON_HOLD, Status.COMPLETED),
    (Status.ON_HOLD, Status.REQUESTED),
    *((status, status) for status in Status),
]


@pytest.mark.parametrize(("source", "target"), FORBIDDEN, ids=lambda s: s.value)
def test_forbidden_moves_are_refused_for_every_side(source: Status, target: Status) -> None:
    for side in Side:
        with pytest.raises(TransitionError, match=f"cannot be {DONE_TO[target]} now"):
            check_transition(source, target, side, "a reason")


def test_the_table_has_one_row_per_move() -> None:
    assert len({(t.source, t.target) for t in TRANSITIONS}) == len(TRANSITIONS)


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
