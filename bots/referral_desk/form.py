"""The guided referral form: a table of questions, each with its validator.

    !referral new ──> pending() asks the first unanswered question
    answer text  ──> answer(): validator ok ──> stored normalised, next question
                                 FieldError ──> the validator's message, asked again
    !back        ──> back(): forget the last answer, ask it again
    pasted lines ──> paste(): every "key: value" line at once, errors listed
    all answered ──> to_request() ──> referral.cases.create_referral

Everything here is pure: no database, no Matrix. The bot keeps a :class:`Form`
(its answers, in the order given) in the conversation row and calls these
functions; so the whole dialogue is testable without a homeserver, and a
restart resumes exactly where the person was.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

from curbside.phones import display
from referral.validation import (
    FieldError,
    RecipientKind,
    ReferralRequest,
    parse_date_of_birth,
    parse_icd10_codes,
    parse_matrix_room,
    parse_matrix_user,
    parse_member_id,
    parse_mrn,
    parse_name,
    parse_payer,
    parse_phone,
    parse_sex,
    parse_text,
    parse_urgency,
)

Validator = Callable[[str, date], str]


@dataclass(frozen=True, slots=True)
class Organisation:
    """The referring organisation configured for the desk (printed on the cover sheet)."""

    name: str = ""
    phone: str = ""
    fax: str = ""


def _recipient(value: str, _today: date) -> str:
    text = value.strip()
    if text.startswith("@"):
        return parse_matrix_user(text)
    if text.startswith("!"):
        return parse_matrix_room(text)
    try:
        return parse_phone(text, "recipient", "recipient fax number")
    except FieldError as error:
        raise FieldError("recipient", f"{error.message}. A Matrix recipient starts with @ "
                         "(a clinician, like @dana:example.org) or ! (a practice room)") from None


def _consent(value: str, _today: date) -> str:
    if value.strip().lower() in ("yes", "y", "i attest", "attested"):
        return "yes"
    raise FieldError(
        "consent",
        "answer yes once the patient has agreed to this referral; without consent it "
        "cannot be sent (!cancel stops here)",
    )


def _text(field: str, label: str, example: str) -> Validator:
    return lambda value, _today: parse_text(value, field, label, example)


def _phone(field: str, label: str) -> Validator:
    return lambda value, _today: parse_phone(value, field, label)


def _always(_answers: Mapping[str, str], _org: Organisation) -> bool:
    return True


def _is_fax(answers: Mapping[str, str], _org: Organisation) -> bool:
    recipient = answers.get("recipient", "")
    return bool(recipient) and not recipient.startswith(("@", "!"))


def _unless_configured(attr: str) -> Callable[[Mapping[str, str], Organisation], bool]:
    return lambda _answers, org: not getattr(org, attr)


@dataclass(frozen=True, slots=True)
class Question:
    """One row of the form: the answer's key, what is asked, how it is checked, when."""

    key: str
    prompt: str
    example: str
    validate: Validator
    applies: Callable[[Mapping[str, str], Organisation], bool] = _always


QUESTIONS: tuple[Question, ...] = (
    Question("patient_name", "Patient's full name?", "Maria Lopez",
             lambda v, _t: parse_name(v)),
    Question("date_of_birth", "Date of birth (YYYY-MM-DD)?", "1957-03-14",
             lambda v, today: parse_date_of_birth(v, today).isoformat()),
    Question("sex", "Sex (female, male, other, unknown)?", "female",
             lambda v, _t: parse_sex(v)),
    Question("mrn", "Medical record number (MRN)?", "A-123456", lambda v, _t: parse_mrn(v)),
    Question("patient_phone", "Patient's phone number?", "+1 617 555 0134",
             _phone("patient_phone", "patient phone")),
    Question("payer", "Payer (insurance plan, or self-pay)?", "Blue Cross MA",
             lambda v, _t: parse_payer(v)),
    Question("member_id", "Insurance member id?", "XJH123456789",
             lambda v, _t: parse_member_id(v)),
    Question("recipient", "Refer to whom? A verified clinician's Matrix id, a verified "
             "practice room id, or a fax number.", "@dana:curbside.example",
             _recipient),
    Question("recipient_name", "Name of the practice receiving the fax?",
             "Beacon Cardiology Associates",
             lambda v, _t: parse_name(v, "recipient_name", "recipient name (for a fax)"),
             _is_fax),
    Question("reason", "Reason for referral?", "new atrial fibrillation, rate control",
             _text("reason", "reason for referral", "'new atrial fibrillation, rate control'")),
    Question("icd10_codes", "ICD-10-CM code(s), separated by commas?", "I48.91, R00.2",
             lambda v, _t: ", ".join(parse_icd10_codes(v))),
    Question("urgency", "Urgency (routine, urgent or stat)?", "routine",
             lambda v, _t: parse_urgency(v)),
    Question("clinical_question", "The clinical question for the consultant?",
             "is anticoagulation indicated?",
             _text("clinical_question", "clinical question", "'is anticoagulation indicated?'")),
    Question("referring_org_name", "Your organisation's name (for the cover sheet)?",
             "Harbor Family Medicine",
             lambda v, _t: parse_name(v, "referring_org_name", "referring organisation name"),
             _unless_configured("name")),
    Question("referring_org_phone", "Your organisation's phone number?", "+1 617 555 0100",
             _phone("referring_org_phone", "referring organisation phone"),
             _unless_configured("phone")),
    Question("referring_org_fax", "Your organisation's fax number?", "+1 617 555 0101",
             _phone("referring_org_fax", "referring organisation fax"),
             _unless_configured("fax")),
    Question("consent", "Has the patient consented to this referral? Answer yes to attest.",
             "yes", _consent),
)

BY_KEY: dict[str, Question] = {q.key: q for q in QUESTIONS}

# Other words people use for the keys in a pasted referral.
ALIASES: dict[str, str] = {
    "patient": "patient_name", "name": "patient_name", "dob": "date_of_birth",
    "birth_date": "date_of_birth", "gender": "sex", "phone": "patient_phone",
    "insurance": "payer", "member": "member_id", "to": "recipient",
    "codes": "icd10_codes", "icd10": "icd10_codes", "icd_10": "icd10_codes",
    "question": "clinical_question", "organisation": "referring_org_name",
    "organization": "referring_org_name",
}

_LINE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9 _-]*?)\s*:\s*(.*?)\s*$")


@dataclass(frozen=True, slots=True)
class Form:
    """The answers given so far, in the order they were given (so !back undoes the last)."""

    answers: tuple[tuple[str, str], ...] = ()

    def as_dict(self) -> dict[str, str]:
        return dict(self.answers)

    def with_answer(self, key: str, value: str) -> Form:
        kept = tuple((k, v) for k, v in self.answers if k != key)
        return Form((*kept, (key, value)))


def pending(form: Form, org: Organisation) -> Question | None:
    """The next question to ask, or None when the form is complete."""
    answers = form.as_dict()
    for question in QUESTIONS:
        if question.applies(answers, org) and question.key not in answers:
            return question
    return None


def answer(form: Form, text: str, *, today: date, org: Organisation) -> Form:
    """Take ``text`` as the answer to the pending question; FieldError re-asks it."""
    question = pending(form, org)
    if question is None:
        raise FieldError("form", "every question is answered already")
    return form.with_answer(question.key, question.validate(text, today))


def back(form: Form) -> Form:
    """Forget the most recent answer so that its question is asked again."""
    return Form(form.answers[:-1])


def canonical_key(raw: str) -> str | None:
    key = re.sub(r"[\s-]+", "_", raw.strip().lower())
    key = ALIASES.get(key, key)
    return key if key in BY_KEY else None


def pasted_fields(text: str) -> dict[str, str]:
    """The recognised ``key: value`` lines of a message (later lines win)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        match = _LINE.match(line)
        if match:
            key = canonical_key(match.group(1))
            if key is not None:
                fields[key] = match.group(2)
    return fields


def looks_pasted(text: str) -> bool:
    """Two or more recognised ``key: value`` lines make a message a pasted referral."""
    return len(pasted_fields(text)) >= 2


def paste(form: Form, text: str, *, today: date) -> tuple[Form, list[FieldError]]:
    """Take every recognised field of a pasted message; report each one that failed."""
    errors: list[FieldError] = []
    for key, value in pasted_fields(text).items():
        try:
            form = form.with_answer(key, BY_KEY[key].validate(value, today))
        except FieldError as error:
            errors.append(error)
    return form, errors


def to_request(form: Form, org: Organisation) -> ReferralRequest:
    """The complete form as the referral API's request (every field a string)."""
    answers = form.as_dict()
    fax = _is_fax(answers, org)
    return ReferralRequest(
        patient_name=answers["patient_name"],
        date_of_birth=answers["date_of_birth"],
        sex=answers["sex"],
        mrn=answers["mrn"],
        patient_phone=answers["patient_phone"],
        payer=answers["payer"],
        member_id=answers["member_id"],
        referring_org_name=answers.get("referring_org_name", org.name),
        referring_org_phone=answers.get("referring_org_phone", org.phone),
        referring_org_fax=answers.get("referring_org_fax", org.fax),
        recipient=answers["recipient"],
        recipient_name=answers.get("recipient_name", "") if fax else "",
        reason=answers["reason"],
        icd10_codes=answers["icd10_codes"],
        urgency=answers["urgency"],
        clinical_question=answers["clinical_question"],
        consent_attested=answers.get("consent") == "yes",
    )


def recipient_summary(kind: RecipientKind, address: str, name: str) -> str:
    """Who a draft goes to, as its confirmations name them.

    A fax recipient is named with the number that will be dialled, in the one
    display form (``Beacon Cardiology (fax +1 617 555 0199)``), so a mistyped
    number is caught before !send rather than by a stranger's fax machine.
    """
    if kind is RecipientKind.FAX:
        return f"{name} (fax {display(address)})"
    return name


def template(org: Organisation) -> str:
    """The paste format: one ``key: example`` line per field the desk would ask."""
    lines = [
        f"{q.key}: {q.example}"
        for q in QUESTIONS
        if q.applies({"recipient": "+16175550199"}, org)
    ]
    note = (
        "# recipient: a Matrix id (@…), a practice room (!…) or a fax number; "
        "recipient_name is read only for a fax"
    )
    return "\n".join([note, *lines])
