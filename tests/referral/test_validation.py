"""Validators: stored forms, and messages a bot can send back as they are."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from referral import icd10
from referral.validation import (
    FieldError,
    RecipientKind,
    ReferralInvalid,
    ReferralRequest,
    parse_attachment,
    parse_date_of_birth,
    parse_icd10,
    parse_icd10_codes,
    parse_phone,
    parse_sex,
    parse_urgency,
    validate_referral,
)

TODAY = date(2026, 11, 24)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("I48.91", "I48.91"),
        ("r07.9", "R07.9"),
        ("Z00.00", "Z00.00"),
        ("e119", "E11.9"),
        ("I4891", "I48.91"),
        ("S72.001A", "S72.001A"),
        ("U07.1", "U07.1"),
    ],
)
def test_icd10_shapes_accepted(typed: str, stored: str) -> None:
    assert parse_icd10(typed) == stored


@pytest.mark.parametrize("typed", ["48.91", "I4", "II8.9", "I48.12345", "I48.", "I48-91", "ICD"])
def test_icd10_shapes_refused(typed: str) -> None:
    with pytest.raises(FieldError, match=r"codes look like I48\.91, R07\.9 or Z00\.00"):
        parse_icd10(typed)


def test_a_code_not_in_the_code_set_is_refused_with_the_closest() -> None:
    with pytest.raises(FieldError) as refused:
        parse_icd10("I48.99")
    assert refused.value.message.startswith("I48.99 is not in the ICD-10-CM code set")
    assert "I48.91 (Unspecified atrial fibrillation)" in refused.value.message


def test_a_category_is_refused_with_billable_codes_under_it() -> None:
    with pytest.raises(FieldError) as refused:
        parse_icd10("E11")
    message = refused.value.message
    assert "E11 (Type 2 diabetes mellitus) is a category, not a billable code" in message
    assert "E11." in message.split("e.g.", 1)[1]


def test_codes_carry_their_descriptions() -> None:
    assert icd10.lookup("R00.2") == icd10.Icd10Code("R00.2", "Palpitations")
    assert icd10.describe("I48.91") == "Unspecified atrial fibrillation"


def test_icd10_list_dedupes_and_needs_one() -> None:
    assert parse_icd10_codes("I48.91, r00.2 I48.91") == ["I48.91", "R00.2"]
    with pytest.raises(FieldError, match="at least one"):
        parse_icd10_codes(" , ")


@pytest.mark.parametrize("typed", ["1957-02-30", "14/03/1957", "2030-01-01", "1899-12-31", ""])
def test_date_of_birth_refused_with_example(typed: str) -> None:
    with pytest.raises(FieldError) as caught:
        parse_date_of_birth(typed, TODAY)
    assert str(caught.value) == "date of birth must be a real date in the past, like 1957-03-14"


def test_date_of_birth_accepted() -> None:
    assert parse_date_of_birth(" 1957-03-14 ", TODAY) == date(1957, 3, 14)


def test_phone_normalised_to_e164() -> None:
    assert parse_phone("(617) 555-0134") == "+16175550134"
    assert parse_phone("+44 20 7946 0958") == "+442079460958"
    with pytest.raises(FieldError, match=r"like \+1 617 555 0134 \(E.164\)"):
        parse_phone("555-0134")


def test_phones_follow_the_kernel_rules_and_name_the_field() -> None:
    for typed, problem in (("1234567893", "that looks like an NPI, not a referring org fax"),
                           ("+1 900 555 0134", "premium-rate"),
                           ("+1 555 123 4567", "no such number"),
                           ("020 7946 0958", "needs its country code")):
        with pytest.raises(FieldError, match=problem) as caught:
            parse_phone(typed, "referring_org_fax", "referring org fax")
        assert caught.value.field == "referring_org_fax"


def test_sex_and_urgency() -> None:
    assert parse_sex("F") == "female"
    assert parse_urgency(" STAT ") == "stat"
    with pytest.raises(FieldError, match="routine, urgent or stat"):
        parse_urgency("asap")


def test_attachment_type_comes_from_bytes() -> None:
    assert parse_attachment("scan.pdf", b"%PDF-1.7 ...").content_type == "application/pdf"
    assert parse_attachment("x", b"\x89PNG\r\n\x1a\n...").content_type == "image/png"
    with pytest.raises(FieldError, match=r"notes\.docx is not a PDF, PNG or JPEG"):
        parse_attachment("notes.docx", b"PK\x03\x04")


GOOD = ReferralRequest(
    patient_name="Maria Testpatient",
    date_of_birth="1957-03-14",
    sex="f",
    mrn="A-123456",
    patient_phone="617 555 0134",
    payer="BCBS MA",
    member_id="XJH123456789",
    referring_org_name="Harbor Family Medicine",
    referring_org_phone="6175550100",
    referring_org_fax="6175550101",
    recipient="+1 617 555 0199",
    recipient_name="Beacon Cardiology",
    reason="New AF",
    icd10_codes="I48.91",
    urgency="urgent",
    clinical_question="Anticoagulate?",
    consent_attested=True,
)


def test_valid_referral_fax_recipient() -> None:
    valid = validate_referral(GOOD, TODAY)
    assert valid.recipient_kind is RecipientKind.FAX
    assert valid.recipient_address == "+16175550199"
    assert valid.patient_phone == "+16175550134"


def test_all_problems_reported_at_once() -> None:
    bad = replace(
        GOOD,
        date_of_birth="1957-13-01",
        icd10_codes="48.91",
        consent_attested=False,
        recipient="+1 555",
        recipient_name="",
    )
    with pytest.raises(ReferralInvalid) as caught:
        validate_referral(bad, TODAY)
    fields = [e.field for e in caught.value.errors]
    assert fields == ["date_of_birth", "recipient", "icd10_codes", "consent"]
    assert "must attest that the patient consented" in str(caught.value)


def test_matrix_recipients() -> None:
    user = validate_referral(replace(GOOD, recipient="@cardio:curbside.test"), TODAY)
    assert user.recipient_kind is RecipientKind.MATRIX_USER
    room = validate_referral(replace(GOOD, recipient="!abc:curbside.test"), TODAY)
    assert room.recipient_kind is RecipientKind.MATRIX_ROOM
    with pytest.raises(ReferralInvalid, match="not a Matrix user id"):
        validate_referral(replace(GOOD, recipient="@Bad User"), TODAY)
