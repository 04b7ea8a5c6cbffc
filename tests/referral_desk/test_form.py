"""The guided form without a homeserver: questions, re-asks, !back, pasting."""

from __future__ import annotations

from datetime import date

import pytest

from bots.referral_desk import form
from referral.validation import FieldError, RecipientKind, validate_referral

TODAY = date(2026, 11, 24)
ORG = form.Organisation("Harbor Family Medicine", "+16175550100", "+16175550101")

ANSWERS = [
    "Maria Q. Testpatient", "1957-03-14", "F", "A-123456", "617 555 0134", "BCBS MA",
    "XJH123456789", "@cardio:curbside.test", "New atrial fibrillation", "i4891, R00.2",
    "urgent", "Is anticoagulation indicated?", "yes",
]


def fill(answers: list[str], org: form.Organisation = ORG) -> form.Form:
    state = form.Form()
    for text in answers:
        state = form.answer(state, text, today=TODAY, org=org)
    return state


def test_answers_in_order_make_a_valid_request() -> None:
    state = fill(ANSWERS)

    assert form.pending(state, ORG) is None
    request = form.to_request(state, ORG)
    valid = validate_referral(request, TODAY)
    assert valid.icd10_codes == ["I48.91", "R00.2"]
    assert valid.sex == "female" and valid.patient_phone == "+16175550134"
    assert valid.referring_org_name == "Harbor Family Medicine"


def test_a_malformed_answer_is_refused_with_the_validators_message() -> None:
    state = fill(ANSWERS[:1])
    with pytest.raises(FieldError) as refused:
        form.answer(state, "14/03/1957", today=TODAY, org=ORG)

    assert "real date in the past, like 1957-03-14" in refused.value.message
    assert form.pending(state, ORG) is form.BY_KEY["date_of_birth"]


def test_back_asks_the_last_question_again() -> None:
    state = fill(ANSWERS[:3])
    assert form.pending(state, ORG) is form.BY_KEY["mrn"]

    state = form.back(state)

    assert form.pending(state, ORG) is form.BY_KEY["sex"]
    assert "sex" not in state.as_dict()


def test_a_fax_recipient_adds_the_practice_name_question() -> None:
    state = fill([*ANSWERS[:7], "+1 617 555 0199"])

    assert form.pending(state, ORG) is form.BY_KEY["recipient_name"]
    state = form.answer(state, "Beacon Cardiology", today=TODAY, org=ORG)
    assert form.pending(state, ORG) is form.BY_KEY["reason"]


def test_a_fax_draft_names_the_number_to_be_dialled() -> None:
    state = fill([*ANSWERS[:7], "(617) 555-0199"])
    assert state.as_dict()["recipient"] == "+16175550199"
    assert form.recipient_summary(RecipientKind.FAX, "+16175550199", "Beacon Cardiology") == (
        "Beacon Cardiology (fax +1 617 555 0199)"
    )
    assert form.recipient_summary(RecipientKind.MATRIX_USER, "@cardio:curbside.test",
                                  "Ravi Okafor, MD") == "Ravi Okafor, MD"


def test_a_fax_recipient_is_held_to_the_number_rules() -> None:
    for typed, problem in (("1234567893", "that looks like an NPI, not a recipient fax number"),
                           ("+1 900 555 0134", "premium-rate"),
                           ("020 7946 0958", "country code")):
        with pytest.raises(FieldError, match=problem) as caught:
            fill([*ANSWERS[:7], typed])
        assert caught.value.field == "recipient" and "starts with @" in caught.value.message


def test_organisation_questions_are_asked_only_when_not_configured() -> None:
    bare = form.Organisation()
    state = fill(ANSWERS[:-1], bare)

    assert form.pending(state, bare) is form.BY_KEY["referring_org_name"]


def test_consent_must_be_yes() -> None:
    state = fill(ANSWERS[:-1])
    with pytest.raises(FieldError, match="answer yes"):
        form.answer(state, "not yet", today=TODAY, org=ORG)


def test_pasted_template_fills_the_form_and_reports_each_bad_line() -> None:
    text = form.template(ORG).replace("1957-03-14", "1957-02-30").replace(
        "@dana:curbside.example", "@cardio:curbside.test")

    state, errors = form.paste(form.Form(), text, today=TODAY)

    assert [e.field for e in errors] == ["date_of_birth"]
    assert form.pending(state, ORG) is form.BY_KEY["date_of_birth"]
    state = form.answer(state, "1957-03-14", today=TODAY, org=ORG)
    assert form.pending(state, ORG) is None
    assert validate_referral(form.to_request(state, ORG), TODAY).recipient_address


def test_aliases_and_free_text_are_told_apart() -> None:
    assert form.pasted_fields("DOB: 1957-03-14\nTo: @x:y\nsee you") == {
        "date_of_birth": "1957-03-14", "recipient": "@x:y",
    }
    assert form.looks_pasted("Patient: Maria\nDOB: 1957-03-14")
    assert not form.looks_pasted("Reason: chest pain, see note")
