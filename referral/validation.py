"""Field validators whose errors a bot can send back word for word.

Each ``parse_*`` function takes what a person typed and returns the value in
its stored form (ISO date, E.164 number, upper-case ICD-10-CM code) or raises
:class:`FieldError` naming the field, what was wrong and an example of what
would be accepted. :func:`validate_referral` runs them all over one
submission and reports every problem at once, so a coordinator fixes a
referral in one round trip instead of one error at a time.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, cast

from curbside import phones
from curbside.text import UnsafeText, check_line, check_text, quoted
from referral import icd10

MAX_NAME = 200
MAX_TEXT = 4000
#: A referral names a handful of diagnoses; 3,000 codes is an attack, not a referral.
MAX_ICD10_CODES = 12
MAX_ICD10_INPUT = 400
MAX_ATTACHMENTS = 10


class FieldError(ValueError):
    """One field is unusable; ``str(error)`` is the message to show the person."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class ReferralInvalid(ValueError):
    """A whole submission failed; carries every :class:`FieldError` found."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors


def _safe(field: str, value: str, label: str, limit: int, *, multiline: bool = False) -> str:
    """``value`` if it has no control characters and is within ``limit``, else FieldError."""
    try:
        check = check_text if multiline else check_line
        return check(value, label, limit)
    except UnsafeText as unsafe:
        raise FieldError(field, str(unsafe)) from None


def _required(field: str, value: str, label: str, example: str, limit: int = MAX_NAME) -> str:
    text = " ".join(_safe(field, value, label, 4 * limit).split())
    if not text:
        raise FieldError(field, f"{label} is required, like {example}")
    if len(text) > limit:
        raise FieldError(field, f"{label} is too long ({len(text)} characters, at most {limit})")
    return text


def parse_name(value: str, field: str = "patient_name", label: str = "patient name") -> str:
    return _required(field, value, label, "'Maria Lopez'")


def parse_date_of_birth(value: str, today: date) -> date:
    """A real calendar date, not in the future, after 1900."""
    message = "date of birth must be a real date in the past, like 1957-03-14"
    text = value.strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise FieldError("date_of_birth", message)
    try:
        born = date.fromisoformat(text)
    except ValueError:
        raise FieldError("date_of_birth", message) from None
    if born > today or born.year < 1900:
        raise FieldError("date_of_birth", message)
    return born


SEXES = {
    "female": "female",
    "f": "female",
    "male": "male",
    "m": "male",
    "other": "other",
    "unknown": "unknown",
    "u": "unknown",
}


def parse_sex(value: str) -> str:
    """FHIR administrative gender: female, male, other, unknown."""
    sex = SEXES.get(value.strip().lower())
    if sex is None:
        raise FieldError("sex", "sex must be one of female, male, other or unknown (or F/M/U)")
    return sex


def parse_mrn(value: str) -> str:
    text = value.strip()
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]{0,39}", text):
        raise FieldError(
            "mrn", "MRN must be 1-40 letters, digits or dashes as your EHR shows it, like A-123456"
        )
    return text


def parse_phone(value: str, field: str = "phone", label: str = "phone number") -> str:
    """E.164, by the kernel's rules for every number (:func:`curbside.phones.parse`)."""
    try:
        return phones.parse(value, label)
    except phones.PhoneNumberError as error:
        raise FieldError(field, str(error)) from None


def parse_payer(value: str) -> str:
    return _required("payer", value, "payer", "'Blue Cross MA' or 'self-pay'")


def parse_member_id(value: str) -> str:
    text = value.strip()
    if not re.fullmatch(r"[A-Za-z0-9-]{1,40}", text):
        raise FieldError(
            "member_id", "member id must be 1-40 letters, digits or dashes, like XJH123456789"
        )
    return text


_ICD10 = re.compile(r"[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?")


def parse_icd10(value: str) -> str:
    """One billable ICD-10-CM code: the shape first, then the real code set.

    A code typed without its dot (I4891) gets it back (I48.91). A code that
    has the shape but is not in the tabular list (or is only a category) is
    refused with the closest billable codes (:mod:`referral.icd10`).
    """
    code = value.strip().upper()
    if re.fullmatch(r"[A-Z][0-9][0-9A-Z][0-9A-Z]{1,4}", code):
        code = f"{code[:3]}.{code[3:]}"
    if not _ICD10.fullmatch(code):
        raise FieldError(
            "icd10_codes",
            f"{quoted(value.strip())} is not an ICD-10-CM code; codes look like I48.91, R07.9 "
            "or Z00.00",
        )
    try:
        return icd10.lookup(code).code
    except icd10.IcdError as error:
        raise FieldError("icd10_codes", str(error)) from None


def parse_icd10_codes(value: str | list[str]) -> list[str]:
    """Codes separated by commas or spaces; 1-12, duplicates dropped, order kept.

    A value that is not a list of codes is echoed whole (escaped), so the
    sender sees what was read, not a fragment of it.
    """
    if isinstance(value, str):
        _safe("icd10_codes", value, "the ICD-10 codes", MAX_ICD10_INPUT)
    items = value if isinstance(value, list) else re.split(r"[,\s;]+", value)
    if len(items) > MAX_ICD10_CODES:
        raise FieldError(
            "icd10_codes",
            f"give at most {MAX_ICD10_CODES} ICD-10-CM codes (the main diagnoses); "
            f"{len(items):,} were given",
        )
    if isinstance(value, str) and not re.fullmatch(r"[A-Za-z0-9.,;\s]*", value):
        raise FieldError(
            "icd10_codes",
            f"{quoted(value.strip())} is not a list of ICD-10-CM codes; write them like "
            "I48.91, R07.9",
        )
    codes: list[str] = []
    for item in items:
        if item.strip():
            code = parse_icd10(item)
            if code not in codes:
                codes.append(code)
    if not codes:
        raise FieldError("icd10_codes", "give at least one ICD-10-CM code, like I48.91")
    return codes


URGENCIES = ("routine", "urgent", "stat")


def parse_urgency(value: str) -> str:
    urgency = value.strip().lower()
    if urgency not in URGENCIES:
        raise FieldError("urgency", "urgency must be routine, urgent or stat")
    return urgency


def parse_text(value: str, field: str, label: str, example: str) -> str:
    text = _safe(field, value, label, 2 * MAX_TEXT, multiline=True).strip()
    if not text:
        raise FieldError(field, f"{label} is required, like {example}")
    if len(text) > MAX_TEXT:
        raise FieldError(field, f"{label} is too long ({len(text)} characters, at most {MAX_TEXT})")
    return text


def parse_matrix_user(value: str, field: str = "recipient") -> str:
    text = value.strip()
    if not re.fullmatch(r"@[a-z0-9._=/+-]+:[A-Za-z0-9.-]+(?::\d+)?", text):
        raise FieldError(
            field, f"{quoted(text)} is not a Matrix user id; write it like @dana:curbside.example"
        )
    return text


def parse_matrix_room(value: str, field: str = "recipient") -> str:
    text = value.strip()
    if not re.fullmatch(r"![A-Za-z0-9._~=+/-]+:[A-Za-z0-9.-]+(?::\d+)?", text):
        raise FieldError(
            field, f"{quoted(text)} is not a Matrix room id; it looks like !abc123:curbside.example"
        )
    return text


@dataclass(frozen=True, slots=True)
class Attachment:
    """An attachment after its type was checked from its bytes, not its name."""

    filename: str
    content_type: str
    data: bytes


MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024


def parse_attachment(filename: str, data: bytes) -> Attachment:
    """Accept PDFs, PNGs and JPEGs, recognised by their magic bytes."""
    name = "".join(
        "_" if char in "/\\" or not char.isprintable() else char for char in filename.strip()
    )[:200] or "attachment"
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise FieldError("attachment", f"{name} is larger than 20 MB; send a smaller scan")
    if data.startswith(b"%PDF-"):
        kind = "application/pdf"
    elif data.startswith(b"\x89PNG\r\n\x1a\n"):
        kind = "image/png"
    elif data.startswith(b"\xff\xd8\xff"):
        kind = "image/jpeg"
    else:
        raise FieldError("attachment", f"{name} is not a PDF, PNG or JPEG; attach one of those")
    return Attachment(name, kind, data)


class RecipientKind(StrEnum):
    MATRIX_USER = "matrix-user"
    MATRIX_ROOM = "matrix-room"
    FAX = "fax"


@dataclass(frozen=True, slots=True)
class ReferralRequest:
    """A referral as typed by a person or a bot: every field a raw string.

    ``recipient`` is a Matrix user id (``@…``), a practice room id (``!…``) or
    a fax number; ``recipient_name`` is required for a fax.
    """

    patient_name: str
    date_of_birth: str
    sex: str
    mrn: str
    patient_phone: str
    payer: str
    member_id: str
    referring_org_name: str
    referring_org_phone: str
    referring_org_fax: str
    recipient: str
    recipient_name: str
    reason: str
    icd10_codes: str | list[str]
    urgency: str
    clinical_question: str
    consent_attested: bool
    recipient_phone: str = ""


@dataclass(frozen=True, slots=True)
class ValidReferral:
    """A :class:`ReferralRequest` after every field passed its validator."""

    patient_name: str
    date_of_birth: date
    sex: str
    mrn: str
    patient_phone: str
    payer: str
    member_id: str
    referring_org_name: str
    referring_org_phone: str
    referring_org_fax: str
    recipient_kind: RecipientKind
    recipient_address: str
    recipient_name: str
    recipient_phone: str
    reason: str
    icd10_codes: list[str]
    urgency: str
    clinical_question: str


def _recipient(request: ReferralRequest) -> tuple[RecipientKind, str, str]:
    address = request.recipient.strip()
    name = " ".join(request.recipient_name.split())
    if address.startswith("@"):
        return RecipientKind.MATRIX_USER, parse_matrix_user(address), name
    if address.startswith("!"):
        return RecipientKind.MATRIX_ROOM, parse_matrix_room(address), name
    if not address:
        raise FieldError(
            "recipient",
            "recipient is required: a Matrix user (@dana:example.org), a practice room "
            "(!abc:example.org) or a fax number (+1 617 555 0199)",
        )
    number = parse_phone(address, "recipient", "recipient fax number")
    return (
        RecipientKind.FAX,
        number,
        parse_name(name, "recipient_name", "recipient name (for a fax)"),
    )


def validate_referral(request: ReferralRequest, today: date) -> ValidReferral:
    """Check every field; raise :class:`ReferralInvalid` listing all that failed."""
    errors: list[FieldError] = []
    values: dict[str, object] = {}

    def take(key: str, parse: Callable[[], object]) -> None:
        try:
            values[key] = parse()
        except FieldError as error:
            errors.append(error)

    r = request
    take("patient_name", lambda: parse_name(r.patient_name))
    take("date_of_birth", lambda: parse_date_of_birth(r.date_of_birth, today))
    take("sex", lambda: parse_sex(r.sex))
    take("mrn", lambda: parse_mrn(r.mrn))
    take("patient_phone", lambda: parse_phone(r.patient_phone, "patient_phone", "patient phone"))
    take("payer", lambda: parse_payer(r.payer))
    take("member_id", lambda: parse_member_id(r.member_id))
    take(
        "referring_org_name",
        lambda: parse_name(
            r.referring_org_name, "referring_org_name", "referring organisation name"
        ),
    )
    take(
        "referring_org_phone",
        lambda: parse_phone(
            r.referring_org_phone, "referring_org_phone", "referring organisation phone"
        ),
    )
    take(
        "referring_org_fax",
        lambda: parse_phone(r.referring_org_fax, "referring_org_fax", "referring organisation fax"),
    )
    take("recipient", lambda: _recipient(r))
    take(
        "recipient_phone",
        lambda: (
            parse_phone(r.recipient_phone, "recipient_phone", "recipient phone")
            if r.recipient_phone.strip()
            else ""
        ),
    )
    take(
        "reason",
        lambda: parse_text(
            r.reason, "reason", "reason for referral", "'new atrial fibrillation, rate control'"
        ),
    )
    take("icd10_codes", lambda: parse_icd10_codes(r.icd10_codes))
    take("urgency", lambda: parse_urgency(r.urgency))
    take(
        "clinical_question",
        lambda: parse_text(
            r.clinical_question,
            "clinical_question",
            "clinical question",
            "'is anticoagulation indicated?'",
        ),
    )
    if not r.consent_attested:
        errors.append(
            FieldError(
                "consent", "the referrer must attest that the patient consented to this referral"
            )
        )
    if errors:
        raise ReferralInvalid(errors)
    kind, address, name = cast(tuple[RecipientKind, str, str], values.pop("recipient"))
    return ValidReferral(
        recipient_kind=kind,
        recipient_address=address,
        recipient_name=name,
        **cast(dict[str, Any], values),
    )
