"""One set of phone-number rules: what is refused, with what words, and how numbers read."""

from __future__ import annotations

import pytest

from curbside.identifiers import is_valid_npi, make_npi
from curbside.phones import PhoneNumberError, display, parse


def refusal(text: str, **kwargs: str) -> str:
    with pytest.raises(PhoneNumberError) as caught:
        parse(text, **kwargs)
    return str(caught.value)


def test_numbers_become_e164_whichever_way_they_are_written() -> None:
    for written in ("(617) 555-0134", "617.555.0134", "1 617 555 0134", "+1 617-555-0134",
                    "011 1 617 555 0134"):
        assert parse(written) == "+16175550134"
    assert parse("+44 20 7946 0958") == "+442079460958"


def test_an_npi_is_not_taken_for_a_fax_number() -> None:
    npi = make_npi("123456789")
    assert is_valid_npi(npi) and npi == "1234567893"
    assert "that looks like an NPI, not a fax number" in refusal(npi)
    assert "that looks like an NPI" in refusal("123-456-7893")
    # An NPI that is also a dialable US number is accepted with its country code.
    lookalike = next(n for n in (f"212555{line:04d}" for line in range(100, 200))
                     if is_valid_npi(n))
    assert "that looks like an NPI" in refusal(lookalike)
    assert parse("+1" + lookalike) == "+1" + lookalike
    # Ten digits that fail the check digit are an ordinary number.
    assert parse("2125550100") == "+12125550100"


@pytest.mark.parametrize(("number", "kind"), [
    ("+1 900 555 0134", "premium-rate"),
    ("1-900-555-0134", "premium-rate"),
    ("+44 909 879 0000", "premium-rate"),
    ("+44 843 123 4567", "premium-rate"),
    ("+34 901 12 34 56", "shared-cost"),
    ("+1 500 555 0006", "personal"),
    ("+44 70 1234 5678", "personal"),
    ("+49 177 99 1234567", "voicemail"),
    ("+44 76 4012 3456", "pager"),
])
def test_special_tariff_voicemail_and_pager_numbers_are_refused(number: str, kind: str) -> None:
    message = refusal(number)
    assert kind in message and "direct line" in message


def test_toll_free_voip_and_uk_03_numbers_are_accepted() -> None:
    assert parse("800-555-0100") == "+18005550100"
    assert parse("+44 56 1234 5678") == "+445612345678"  # VoIP (cloud fax lines)
    assert parse("+44 300 123 4567") == "+443001234567"  # UAN, geographic rate


@pytest.mark.parametrize("number", ["+1 555 123 4567", "+1 617 555 01", "+44 20 7946",
                                    "+999 123 4567", "fax me", "+1 617 555 0134 ext. 12"])
def test_invalid_numbers_are_refused_saying_what_is_expected(number: str) -> None:
    assert "+1 617 555 0134" in refusal(number)


def test_a_number_without_country_code_is_read_in_the_default_region() -> None:
    message = refusal("020 7946 0958")  # a London number, typed as people in London do
    assert "not a valid US number" in message and "country code" in message
    assert parse("020 7946 0958", region="GB") == "+442079460958"
    assert "not a valid GB number" in refusal("(617) 555-0134", region="GB")


def test_the_message_names_the_field() -> None:
    assert refusal("", what="patient phone") == (
        "no patient phone given: write it like +1 617 555 0134 (E.164)"
    )
    assert refusal("1234567893", what="patient phone").startswith(
        "'1234567893': that looks like an NPI, not a patient phone."
    )


def test_north_american_numbers_read_with_their_area_code_others_internationally() -> None:
    assert display("+16175550134") == "+1 617 555 0134"
    assert display("+18005550100") == "+1 800 555 0100"
    assert display("+442079460958") == "+44 20 7946 0958"
    assert display("+4930123456") == "+49 30 123456"
    assert display(parse("(617) 555-0134")) == "+1 617 555 0134"
    assert display("anonymous") == "anonymous"  # a caller id that is no number at all
