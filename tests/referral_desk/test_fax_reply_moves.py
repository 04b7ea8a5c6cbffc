"""What a reply sheet's ticks mean for a referral, as a table (no homeserver, no fax)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from bots.referral_desk.fax_replies import (
    FaxAnswer,
    Move,
    appointment_date,
    check_moves,
    moves_for,
    parse_classification,
)
from referral.documents.reply_layout import Answer
from referral.reply_reader import Appointment
from referral.states import Status, TransitionError

WHEN = datetime(2026, 12, 9, 14, 30)


def _answer(*answers: Answer, when: datetime | None = None,
            note: tuple[int, ...] = ()) -> FaxAnswer:
    return FaxAnswer("f" * 32, "RF-7K3M9Q2X", frozenset(answers), when, note)


@pytest.mark.parametrize(("answer", "state", "moves"), [
    (_answer(Answer.ACCEPTED), Status.REQUESTED, [Move(to=Status.ACCEPTED)]),
    (_answer(Answer.ACCEPTED), Status.IN_PROGRESS, []),
    (_answer(Answer.SCHEDULED, when=WHEN), Status.REQUESTED,
     [Move(to=Status.ACCEPTED), Move(to=Status.IN_PROGRESS),
      Move(business="scheduled", note="2026-12-09 14:30")]),
    (_answer(Answer.ACCEPTED, Answer.SCHEDULED, when=WHEN), Status.ACCEPTED,
     [Move(to=Status.IN_PROGRESS), Move(business="scheduled", note="2026-12-09 14:30")]),
    (_answer(Answer.NEED_INFO), Status.REQUESTED,
     [Move(business="more-information-requested",
           note="asked by fax; the request follows as an image")]),
])
def test_ticks_become_moves(answer: FaxAnswer, state: Status, moves: list[Move]) -> None:
    assert moves_for(answer, state) == moves


def test_a_decline_carries_a_reason_so_the_table_accepts_it() -> None:
    [move] = moves_for(_answer(Answer.DECLINED), Status.REQUESTED)
    assert move.to is Status.REJECTED and move.reason
    check_moves(_answer(Answer.DECLINED), Status.REQUESTED)


@pytest.mark.parametrize(("answer", "state"), [
    (_answer(Answer.ACCEPTED), Status.CANCELLED),
    (_answer(Answer.DECLINED), Status.ACCEPTED),
    (_answer(note=(1,)), Status.REQUESTED),  # a note closes only an accepted referral
])
def test_moves_the_table_refuses_are_caught_before_any_is_made(answer: FaxAnswer,
                                                               state: Status) -> None:
    with pytest.raises(TransitionError):
        check_moves(answer, state)


def test_accepted_with_a_note_closes_the_loop() -> None:
    check_moves(_answer(Answer.ACCEPTED, note=(1, 2)), Status.REQUESTED)


def test_the_appointment_is_the_next_such_date() -> None:
    today = date(2026, 12, 2)
    assert appointment_date(Appointment(12, 9, 14, 30), today) == WHEN
    assert appointment_date(Appointment(1, 5, 9, 0), today) == datetime(2027, 1, 5, 9, 0)
    assert appointment_date(Appointment(2, 29, 9, 0), today) == datetime(2028, 2, 29, 9, 0)


def test_a_coordinators_classification() -> None:
    def parse(words: str) -> FaxAnswer:
        return parse_classification(words, "f" * 32, "RF-7K3M9Q2X", "@coord:test", (1,))

    assert parse("accepted").answers == {Answer.ACCEPTED}
    scheduled = parse("scheduled 2026-12-09 14:30")
    assert (scheduled.answers, scheduled.appointment) == (
        {Answer.ACCEPTED, Answer.SCHEDULED}, WHEN)
    declined = parse("declined fully booked until March")
    assert (declined.answers, declined.reason) == ({Answer.DECLINED}, "fully booked until March")
    assert parse("note").answers == frozenset() and parse("note").note_pages == (1,)
    for bad, why in [("declined", "needs the words"), ("scheduled tomorrow", "date and time"),
                     ("maybe", "must be accepted")]:
        with pytest.raises(ValueError, match=why):
            parse(bad)
