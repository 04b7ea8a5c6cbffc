"""The rules of !verify without a homeserver: name matching and the step table."""

from __future__ import annotations

import pytest

from bots.gatekeeper import verification as v
from bots.gatekeeper.names import match_name
from bots.gatekeeper.registry import find_provider
from tests.gatekeeper.registry_data import BAD_CHECK_DIGIT, DANA, DEACTIVATED, ORGANISATION, TECH


@pytest.mark.parametrize(
    "given",
    ["Dana Whitfield", "dana whitfield", "Dr. Dana J. Whitfield, MD", "DANA JANE WHITFIELD",
     "Dána Whitfíeld"],
)
def test_names_that_match(given: str) -> None:
    assert match_name(given, "DANA", "JANE", "WHITFIELD").ok


@pytest.mark.parametrize(
    ("given", "why"),
    [("Dana Whitman", "last name"), ("Diana Whitfield", "first name"),
     ("Dana K Whitfield", "middle"), ("Whitfield", "first and last")],
)
def test_names_that_do_not_match_say_which_part(given: str, why: str) -> None:
    check = match_name(given, "DANA", "JANE", "WHITFIELD")
    assert not check.ok and why in check.reason


def test_apostrophes_compound_names_and_missing_middle() -> None:
    assert match_name("Sean O'Brien", "SEAN", None, "OBRIEN").ok
    assert match_name("Ana Garcia-Lopez", "ANA", None, "GARCIA LOPEZ").ok
    assert not match_name("Ana Lopez", "ANA", None, "GARCIA LOPEZ").ok
    assert match_name("Robert Q Chen", "ROBERT", None, "CHEN").ok


def test_the_steps_walk_npi_name_licence(engine) -> None:
    def find(npi: str):
        return find_provider(engine, npi)

    evidence = v.Evidence()
    for state, answer, refused in [
        (v.AWAITING_NPI, BAD_CHECK_DIGIT, "check digit"),
        (v.AWAITING_NPI, ORGANISATION, "organisation"),
        (v.AWAITING_NPI, DEACTIVATED, "deactivated"),
        (v.AWAITING_NPI, TECH, "no clinical taxonomy"),
    ]:
        step = v.STEPS[state](answer, evidence, find)
        assert step.state == state and not step.accepted
        assert refused in step.reply and step.reply.endswith("or !cancel to stop.")
    step = v.STEPS[v.AWAITING_NPI](f" {DANA} ", evidence, find)
    assert step.state == v.AWAITING_NAME and step.evidence.legal_name == "Dana Whitfield"
    assert step.evidence.credential_text == "MD"
    step = v.STEPS[v.AWAITING_NAME]("Dana J Whitfield", step.evidence, find)
    assert step.state == v.AWAITING_LICENCE
    wrong = v.STEPS[v.AWAITING_LICENCE]("MA 999", step.evidence, find)
    assert not wrong.accepted and "MA, NH" in wrong.reply
    step = v.STEPS[v.AWAITING_LICENCE]("nh nh 7788", step.evidence, find)
    assert step.state == v.AWAITING_ATTESTATION
    assert (step.evidence.licence_state, step.evidence.licence_number) == ("NH", "NH-7788")
    assert step.evidence.specialty == "Internal Medicine"


def test_too_many_wrong_answers_close_the_request(engine) -> None:
    from datetime import UTC, datetime

    from curbside.database import session_scope

    with session_scope(engine) as session:
        request = v.start_request(session, "@x:curbside.test", "!dm:curbside.test",
                                  datetime.now(UTC))
        for attempt in range(1, 4):
            step = v.apply_answer(request, "12345", lambda npi: find_provider(session, npi),
                                  max_attempts=3, now=datetime.now(UTC))
            assert request.attempts == attempt
        assert step.state == v.CLOSED == request.state
        assert "!verify to start again" in step.reply
        assert v.open_request(session, "@x:curbside.test") is None
