"""The ``!verify`` conversation: one question at a time, kept in the database.

::

    !verify ─► awaiting_npi ──NPI ok──► awaiting_name ──name ok──► awaiting_licence
                   │  ▲ wrong:                │  ▲ wrong:               │  ▲ wrong:
                   └──┘ say why, ask again    └──┘ say why, ask again  └──┘ say why
                                                                          │ licence ok
                                                                          ▼
                 approved ◄──!approve── awaiting_attestation ──!deny──► denied
    any open state ──!cancel──► cancelled;  too many wrong answers ──► closed

The steps are a table (:data:`STEPS`) of pure functions from (answer,
evidence so far, registry lookup) to a :class:`Step`; the functions below the
table keep a :class:`~bots.gatekeeper.models.VerificationRequest` row in step
with it, so a bot restart resumes the conversation where it stood.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bots.gatekeeper.models import VerificationRequest
from bots.gatekeeper.names import clean_credential, display_legal_name, match_name
from bots.gatekeeper.registry import (
    LicenceRecord,
    ProviderRecord,
    classify,
    validate_npi,
)

AWAITING_NPI = "awaiting_npi"
AWAITING_NAME = "awaiting_name"
AWAITING_LICENCE = "awaiting_licence"
AWAITING_ATTESTATION = "awaiting_attestation"
APPROVED = "approved"
DENIED = "denied"
CANCELLED = "cancelled"
CLOSED = "closed"

#: States in which the clinician owes an answer.
ANSWERING = (AWAITING_NPI, AWAITING_NAME, AWAITING_LICENCE)
#: States of a request that is still going (one per clinician at a time).
OPEN = (*ANSWERING, AWAITING_ATTESTATION)

Lookup = Callable[[str], ProviderRecord | None]

QUESTIONS: dict[str, str] = {
    AWAITING_NPI: "What is your NPI (National Provider Identifier, 10 digits)?",
    AWAITING_NAME: "What is your full legal name, as on your licence (e.g. 'Dana J Whitfield')?",
    AWAITING_LICENCE: (
        "Which state licence should I check? Send the state and the licence number, "
        "e.g. 'MA 123456'."
    ),
}

_RETRY = " Send it again, or !cancel to stop."


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the conversation has established so far (public registry facts)."""

    npi: str | None = None
    registry_name: str | None = None
    legal_name: str | None = None
    credential_text: str | None = None
    name_given: str | None = None
    licence_state: str | None = None
    licence_number: str | None = None
    taxonomy_code: str | None = None
    specialty: str | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """The outcome of one answer: where the conversation goes and what to say."""

    state: str
    reply: str
    evidence: Evidence
    accepted: bool


def _refuse(state: str, evidence: Evidence, why: str) -> Step:
    return Step(state, why + _RETRY, evidence, accepted=False)


def short_specialty(licence: LicenceRecord) -> str:
    """'Internal Medicine - Cardiovascular Disease' -> 'Cardiovascular Disease'.

    Empty when the code is not in the loaded taxonomy: a code is not a name
    a person can read, and :func:`bots.gatekeeper.specialties.refresh_specialties`
    fills the name in once a taxonomy that has it is imported.
    """
    return licence.specialty.rsplit(" - ", 1)[-1] if licence.specialty else ""


def registry_refusal(npi: str, provider: ProviderRecord | None) -> str | None:
    """Why a registry record cannot be verified, or None when it can."""
    if provider is None:
        return (
            f"NPI {npi} is not in the provider registry (NPPES). Check it at "
            "https://npiregistry.cms.hhs.gov; a newly issued NPI appears after the next "
            "registry update."
        )
    if not provider.active:
        when = provider.deactivation_date.isoformat() if provider.deactivation_date else "?"
        return (
            f"NPI {npi} was deactivated in NPPES on {when}. If that is a mistake, ask NPPES "
            "to reactivate it, then send !verify again; or send another NPI."
        )
    if not provider.is_individual:
        return (
            f"NPI {npi} belongs to an organisation ({provider.display_name}), not a person. "
            "Send your individual (Type 1) NPI."
        )
    if not any(lic.clinical for lic in provider.licences):
        codes = ", ".join(lic.taxonomy_code for lic in provider.licences) or "none"
        why = classify(provider.licences[0].taxonomy_code).reason if provider.licences else ""
        return (
            f"NPI {npi} has no clinical taxonomy (registered: {codes}"
            + (f"; {why}" if why else "")
            + "). Verified rooms are for clinicians who treat patients; if your NPPES "
            "taxonomy is out of date, update it at NPPES and try again."
        )
    return None


def answer_npi(answer: str, evidence: Evidence, find: Lookup) -> Step:
    check = validate_npi(answer)
    if not check.ok:
        return _refuse(AWAITING_NPI, evidence, check.reason)
    provider = find(check.npi)
    refusal = registry_refusal(check.npi, provider)
    if refusal is not None or provider is None:
        return _refuse(AWAITING_NPI, evidence, refusal or "")
    found = replace(
        evidence,
        npi=check.npi,
        registry_name=provider.display_name,
        legal_name=display_legal_name(provider.first_name, provider.last_name),
        credential_text=clean_credential(provider.credential),
    )
    return Step(
        AWAITING_NAME,
        f"NPI {check.npi} is an active clinician in the registry. {QUESTIONS[AWAITING_NAME]}",
        found,
        accepted=True,
    )


def answer_name(answer: str, evidence: Evidence, find: Lookup) -> Step:
    provider = find(evidence.npi or "")
    if provider is None:
        return Step(AWAITING_NPI, "Your NPI is no longer in the registry. "
                    + QUESTIONS[AWAITING_NPI], Evidence(), accepted=False)
    check = match_name(answer, provider.first_name, provider.middle_name, provider.last_name)
    if not check.ok:
        return _refuse(
            AWAITING_NAME,
            evidence,
            f"That name does not match the registry record of NPI {evidence.npi}: "
            f"{check.reason}. Give your legal name as NPPES lists it.",
        )
    return Step(
        AWAITING_LICENCE,
        f"Thank you, the name matches. {QUESTIONS[AWAITING_LICENCE]}",
        replace(evidence, name_given=answer.strip()),
        accepted=True,
    )


def normalise_licence(number: str) -> str:
    """Licence numbers compare without case, spaces, dashes or dots."""
    return re.sub(r"[\s.\-]", "", number).upper()


def find_licence(
    provider: ProviderRecord, state: str, number: str
) -> LicenceRecord | None:
    """The registry licence slot with this state and number, preferring a clinical one."""
    wanted = normalise_licence(number)
    matches = [
        lic
        for lic in provider.licences
        if (lic.licence_state or "").upper() == state
        and normalise_licence(lic.licence_number or "") == wanted
    ]
    return next((lic for lic in matches if lic.clinical), next(iter(matches), None))


def parse_licence(answer: str) -> tuple[str, str] | None:
    """'MA 123456' / 'ma: 123-456' -> ('MA', '123-456'); None when not that shape."""
    found = re.fullmatch(r"\s*([A-Za-z]{2})[\s:,#-]+(\S.*?)\s*", answer)
    return (found.group(1).upper(), found.group(2)) if found else None


def answer_licence(answer: str, evidence: Evidence, find: Lookup) -> Step:
    parsed = parse_licence(answer)
    if parsed is None:
        return _refuse(
            AWAITING_LICENCE, evidence,
            "I need the two-letter state and the licence number, e.g. 'MA 123456'.",
        )
    state, number = parsed
    provider = find(evidence.npi or "")
    licence = find_licence(provider, state, number) if provider else None
    if licence is None:
        states = sorted({lic.licence_state for lic in provider.licences if lic.licence_state}) \
            if provider else []
        listed = ", ".join(states) or "no state"
        return _refuse(
            AWAITING_LICENCE, evidence,
            f"No {state} licence with that number is listed for NPI {evidence.npi} "
            f"(the registry lists licences for: {listed}). Check the number on your licence; "
            "if NPPES is out of date, update it there first.",
        )
    if not licence.clinical:
        return _refuse(
            AWAITING_LICENCE, evidence,
            f"The {state} licence is listed under taxonomy {licence.taxonomy_code}, which is "
            f"not a clinical one ({classify(licence.taxonomy_code).reason}). Send a licence "
            "you hold as a clinician.",
        )
    return Step(
        AWAITING_ATTESTATION,
        "Thank you, the licence matches the registry. Last step: a member of the "
        "credentialing team will confirm your identity (for example your government ID "
        "and licence, by video). You will hear from me here; !cancel withdraws the request.",
        replace(
            evidence,
            licence_state=state,
            licence_number=licence.licence_number,
            taxonomy_code=licence.taxonomy_code,
            specialty=short_specialty(licence),
        ),
        accepted=True,
    )


#: The conversation as a table: state awaiting an answer -> what handles it.
STEPS: dict[str, Callable[[str, Evidence, Lookup], Step]] = {
    AWAITING_NPI: answer_npi,
    AWAITING_NAME: answer_name,
    AWAITING_LICENCE: answer_licence,
}


# -- persistence --------------------------------------------------------------

_EVIDENCE_FIELDS = tuple(Evidence.__dataclass_fields__)


def evidence_of(request: VerificationRequest) -> Evidence:
    return Evidence(**{name: getattr(request, name) for name in _EVIDENCE_FIELDS})


def open_request(session: Session, user_id: str) -> VerificationRequest | None:
    """The clinician's request that is still going, if any."""
    return session.scalars(
        select(VerificationRequest)
        .where(VerificationRequest.user_id == user_id, VerificationRequest.state.in_(OPEN))
        .order_by(VerificationRequest.id.desc())
    ).first()


def start_request(
    session: Session, user_id: str, room_id: str, now: datetime
) -> VerificationRequest:
    """A new request awaiting the NPI (flushed, so it has its id)."""
    request = VerificationRequest(
        user_id=user_id, room_id=room_id, state=AWAITING_NPI, attempts=0,
        created_at=now, updated_at=now,
    )
    session.add(request)
    session.flush()
    return request


def move_to_room(request: VerificationRequest, room_id: str) -> None:
    """The conversation continues in ``room_id`` (the clinician said !verify there)."""
    request.room_id = room_id


def cancel_request(session: Session, request: VerificationRequest, now: datetime) -> None:
    """The clinician withdrew the request (!cancel)."""
    request.state = CANCELLED
    request.updated_at = now
    session.flush()


def apply_answer(
    request: VerificationRequest, answer: str, find: Lookup, *, max_attempts: int, now: datetime
) -> Step:
    """Advance ``request`` by one answer and return what to tell the clinician."""
    step = STEPS[request.state](answer, evidence_of(request), find)
    if step.accepted:
        request.attempts = 0
    else:
        request.attempts += 1
        if request.attempts >= max_attempts:
            step = Step(
                CLOSED,
                f"{step.reply.removesuffix(_RETRY)} That was {request.attempts} unsuccessful "
                "answers, so I closed this request. Check your details (NPI, legal name, "
                "licence) against https://npiregistry.cms.hhs.gov, then send !verify to "
                "start again.",
                step.evidence,
                accepted=False,
            )
    request.state = step.state
    for name in _EVIDENCE_FIELDS:
        setattr(request, name, getattr(step.evidence, name))
    request.updated_at = now
    return step
