"""Phone and fax numbers: one set of rules, one stored form, one way to show them.

    parse(text, what="fax number", region="US")
        10 bare digits that pass the NPI check ──> refused: "looks like an NPI"
        no country code ──> read as a number of ``region``; not valid there ──>
                            refused, asking for the country code
        not a valid number (phonenumbers' metadata), or with an extension ──> refused
        a special tariff or a line no fax can reach ──> refused (REFUSED_TYPES)
        otherwise ──> E.164, "+16175550134": what is stored, hashed and dialled
    display("+16175550134") ──> "+1 617 555 0134" (North America)
    display("+442079460958") ──> "+44 20 7946 0958" (elsewhere: international format)

Every package that takes a number from a person (the referral form and API,
the fax bridge's ``!fax`` commands, the fax gateway's outbox, CLI and route
settings) parses it here, so a number accepted in one place is accepted in
all, and every confirmation shows it the same way. Errors are
:class:`PhoneNumberError`, whose text says what was wrong and what is
expected, for a bot to send word for word.
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

from curbside.identifiers import NPI_LENGTH, is_valid_npi

DEFAULT_REGION = "US"
EXAMPLE = "+1 617 555 0134"

#: Number types refused, with the words used to say why.
#: Special tariffs are refused because the caller pays above an ordinary call
#: (per minute, for every page of a fax) and they are the usual target of toll
#: fraud: premium rate (+1 900, UK 09), shared cost (UK 084/087) and personal
#: numbers (NANP 5XX "follow-me" numbers, UK 070, often charged like premium
#: lines). Voicemail access numbers and pagers are refused because no fax
#: machine or person answers them. Allowed: fixed lines, mobiles (every US
#: number is "fixed line or mobile"), toll free, VoIP (cloud fax services
#: number their lines so) and UAN (UK 03, charged as a geographic call and
#: used by the NHS and public bodies).
REFUSED_TYPES: dict[int, str] = {
    PhoneNumberType.PREMIUM_RATE: "a premium-rate number",
    PhoneNumberType.SHARED_COST: "a shared-cost (special tariff) number",
    PhoneNumberType.PERSONAL_NUMBER: "a personal (follow-me, special tariff) number",
    PhoneNumberType.VOICEMAIL: "a voicemail access number",
    PhoneNumberType.PAGER: "a pager number",
}

_SEPARATORS = re.compile(r"[\s().\-/]")


class PhoneNumberError(ValueError):
    """A number that will not be used; ``str(error)`` is the message for the person."""


def _refuse(text: str, what: str, problem: str) -> PhoneNumberError:
    return PhoneNumberError(f"{text!r} is not a {what} I can use: {problem}")


def parse(text: str, what: str = "fax number", region: str = DEFAULT_REGION) -> str:
    """The E.164 form of a number a person typed; :class:`PhoneNumberError` if refused.

    ``what`` names the field in the message ("fax number", "patient phone");
    ``region`` is the country a number without a country code is read in.
    """
    typed = text.strip()
    if not typed:
        raise PhoneNumberError(f"no {what} given: write it like {EXAMPLE} (E.164)")
    digits = _SEPARATORS.sub("", typed)
    if len(digits) == NPI_LENGTH and is_valid_npi(digits):
        raise PhoneNumberError(
            f"{typed!r}: that looks like an NPI, not a {what}. If it really is a "
            f"{what}, write it with its country code, like {EXAMPLE}"
        )
    try:
        number = phonenumbers.parse(typed, region)
    except NumberParseException:
        raise _refuse(typed, what, f"write it with its country code, like {EXAMPLE} "
                      "(E.164)") from None
    if not phonenumbers.is_valid_number(number):
        if not typed.startswith("+"):
            raise _refuse(typed, what, f"it is not a valid {region} number; a number "
                          f"elsewhere needs its country code, like {EXAMPLE} (E.164) or "
                          "+44 20 7946 0958")
        raise _refuse(typed, what, f"no such number exists; check the digits, written "
                      f"like {EXAMPLE} (E.164)")
    if number.extension:
        raise _refuse(typed, what, "an extension cannot be dialled by a fax machine; give "
                      f"the direct line, like {EXAMPLE}")
    kind = REFUSED_TYPES.get(phonenumbers.number_type(number))
    if kind is not None:
        shown = display(_e164(number))
        raise _refuse(typed, what, f"{shown} is {kind}, and faxes and calls are never "
                      "placed to special-tariff, voicemail or pager numbers; give a "
                      "direct line")
    return _e164(number)


def _e164(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def display(number: str) -> str:
    """How people read an E.164 number; anything unparsable is shown as it is.

    North American numbers read "+1 617 555 0134" (the national grouping after
    +1, so a reader sees the area code at once); others use the international
    format, "+44 20 7946 0958". Not a validity check: stored and received
    numbers are shown even when the rules have since changed.
    """
    try:
        parsed = phonenumbers.parse(number, None)
    except NumberParseException:
        return number
    if parsed.country_code == 1:
        national = phonenumbers.national_significant_number(parsed)
        if len(national) == 10:
            return f"+1 {national[:3]} {national[3:6]} {national[6:]}"
    return phonenumbers.format_number(parsed, PhoneNumberFormat.INTERNATIONAL)


def find_in_text(text: str, region: str = DEFAULT_REGION) -> list[tuple[int, int]]:
    """Where phone-like numbers occur in free text, as (start, end) character offsets.

    Uses libphonenumber's matcher at its most lenient level (``POSSIBLE``): a
    screen looking for numbers that must not leave (a patient's phone) wants
    every candidate, valid or not, so it can decide from the words around it.
    """
    matcher = phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.POSSIBLE)
    return [(match.start, match.end) for match in matcher]
