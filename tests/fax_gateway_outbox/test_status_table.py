"""The job state machine is one table: every pair is either allowed or refused."""

from __future__ import annotations

import itertools

import pytest

from fax_gateway.status import TERMINAL, IllegalTransition, JobEvent, JobState, next_state

S, E = JobState, JobEvent

ALLOWED = {
    (S.QUEUED, E.START): S.RENDERING,
    (S.QUEUED, E.GIVE_UP): S.FAILED,
    (S.QUEUED, E.CANCEL): S.CANCELLED,
    (S.RENDERING, E.RENDERED): S.SENDING,
    (S.RENDERING, E.RETRY): S.QUEUED,
    (S.RENDERING, E.GIVE_UP): S.FAILED,
    (S.RENDERING, E.CANCEL): S.CANCELLED,
    (S.SENDING, E.DELIVERED): S.DELIVERED,
    (S.SENDING, E.RETRY): S.QUEUED,
    (S.SENDING, E.GIVE_UP): S.FAILED,
}


@pytest.mark.parametrize(("pair", "target"), ALLOWED.items(), ids=lambda v: str(v))
def test_allowed_transitions(pair: tuple[JobState, JobEvent], target: JobState) -> None:
    assert next_state(*pair) is target


REFUSED = [pair for pair in itertools.product(S, E) if pair not in ALLOWED]


@pytest.mark.parametrize("pair", REFUSED, ids=lambda p: f"{p[0].value}-{p[1].value}")
def test_refused_transitions(pair: tuple[JobState, JobEvent]) -> None:
    with pytest.raises(IllegalTransition):
        next_state(*pair)


def test_terminal_states_take_no_event() -> None:
    assert {S.DELIVERED, S.FAILED, S.CANCELLED} == TERMINAL
    for state, event in itertools.product(TERMINAL, E):
        with pytest.raises(IllegalTransition):
            next_state(state, event)


def test_a_fax_on_the_wire_cannot_be_cancelled() -> None:
    with pytest.raises(IllegalTransition, match="sending job cannot take 'cancel'"):
        next_state(S.SENDING, E.CANCEL)
