"""The request lifecycle table: every allowed move, and refusals with their messages."""

from __future__ import annotations

import itertools

import pytest

from bots.medinfo.states import (
    OPEN,
    TERMINAL,
    TRANSITIONS,
    Side,
    State,
    TransitionError,
    allowed_from,
    check_transition,
)


@pytest.mark.parametrize("row", TRANSITIONS, ids=lambda t: f"{t.source}->{t.target}:{t.side}")
def test_every_row_is_allowed_for_its_owner(row) -> None:
    reason = "answered" if row.reason_required else ""
    assert check_transition(row.source, row.target, row.side, reason) is row


def test_the_table_is_the_lifecycle_the_desk_runs() -> None:
    assert {(t.source, t.target, t.side) for t in TRANSITIONS} == {
        (State.INTAKE, State.ROUTED, Side.DESK),
        (State.INTAKE, State.CANCELLED, Side.CLINICIAN),
        (State.INTAKE, State.CANCELLED, Side.DESK),
        (State.ROUTED, State.CLAIMED, Side.MSL),
        (State.ROUTED, State.CLOSED, Side.MSL),
        (State.CLAIMED, State.CLOSED, Side.MSL),
    }
    assert {t.action for t in TRANSITIONS} == {
        "medinfo.route", "medinfo.cancel", "medinfo.claim", "medinfo.close"}
    assert {State.ROUTED, State.CLAIMED} == OPEN


@pytest.mark.parametrize("row", TRANSITIONS, ids=lambda t: f"{t.source}->{t.target}:{t.side}")
def test_every_row_refuses_the_other_sides(row) -> None:
    owners = [t.side for t in TRANSITIONS if (t.source, t.target) == (row.source, row.target)]
    who = " or the ".join(side.value for side in owners)
    for side in set(Side) - set(owners):
        with pytest.raises(TransitionError, match=f"^only the {who} may move a request from"):
            check_transition(row.source, row.target, side, "a reason")


def test_a_closure_needs_its_outcome_and_a_desk_cancellation_its_reason() -> None:
    needs = {(State.CLOSED, Side.MSL), (State.CANCELLED, Side.DESK)}
    for row in TRANSITIONS:
        assert row.reason_required == ((row.target, row.side) in needs), row
    with pytest.raises(TransitionError) as caught:
        check_transition(State.CLAIMED, State.CLOSED, Side.MSL, "  ")
    assert str(caught.value) == "moving a request to closed needs a reason: close with its outcome"


def test_refused_move_lists_what_is_allowed_and_by_whom() -> None:
    with pytest.raises(TransitionError) as caught:
        check_transition(State.ROUTED, State.CANCELLED, Side.CLINICIAN)
    assert str(caught.value) == (
        "a request that is routed cannot become cancelled; allowed from routed: "
        "claimed (by the msl), closed (by the msl, reason required)"
    )
    assert (caught.value.source, caught.value.target) == (State.ROUTED, State.CANCELLED)


def test_the_wrong_side_is_told_who_may() -> None:
    with pytest.raises(TransitionError) as caught:
        check_transition(State.INTAKE, State.CANCELLED, Side.MSL)
    assert str(caught.value) == (
        "only the clinician or the desk may move a request from intake to cancelled "
        "(you are acting as the msl)"
    )


@pytest.mark.parametrize("state", sorted(TERMINAL))
def test_final_states_allow_nothing(state: State) -> None:
    assert allowed_from(state) == []
    for target, side in itertools.product(State, Side):
        with pytest.raises(TransitionError, match=f"nothing: {state.value} is final"):
            check_transition(state, target, side, "x")


def test_every_pair_outside_the_table_is_refused() -> None:
    table = {(t.source, t.target, t.side) for t in TRANSITIONS}
    for source, target, side in itertools.product(State, State, Side):
        if (source, target, side) not in table:
            with pytest.raises(TransitionError):
                check_transition(source, target, side, "x")
