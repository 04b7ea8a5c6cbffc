"""FHIR R4 export: one referral as a Bundle a receiving EHR can ingest.

    Bundle (collection)
      Task ─focus─> ServiceRequest ─subject─> Patient ─managingOrganization─> Organization
       │                  ├─requester─> Practitioner (NPI)          (referrer's)
       │                  ├─performer─> recipient: PractitionerRole ─> Practitioner (NPI),
       │                  │               specialty (NUCC) — a clinician on Matrix;
       │                  │             or Organization — a fax number or a practice room
       │                  ├─insurance─> Coverage (payer, member id)
       │                  └─supportingInfo─> DocumentReference (the packet: size, SHA-1)
       ├─ output ─> DocumentReference (the consult note, LOINC 11488-4) once one was sent
       └─ status = state machine status, businessStatus = last business status

Resources are referenced by ``urn:uuid`` full URLs derived from the referral
id, so exporting the same referral twice gives the same ids. The Bundle is
checked against the R4B models of ``fhir.resources`` (R4B differs from R4
only in resources this export does not use) before it is returned.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import select
from sqlalchemy.orm import Session

from curbside.credentials import VerifiedCredential
from referral.cases import RECORD_TYPE, ReferralEnv, get_referral
from referral.models import ReferralBusinessStatus, ReferralCase, ReferralTransition, as_utc
from referral.states import Status
from referral.validation import RecipientKind

NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
ICD10CM_SYSTEM = "http://hl7.org/fhir/sid/icd-10-cm"
REFERRAL_ID_SYSTEM = "urn:curbside:referral-id"
BUSINESS_STATUS_SYSTEM = "urn:curbside:referral-business-status"
MATRIX_SYSTEM = "urn:curbside:matrix-id"
NUCC_SYSTEM = "http://nucc.org/provider-taxonomy"
CONSULT_NOTE_STATUS = "consult-note-sent"

_SERVICE_REQUEST_STATUS = {
    Status.DRAFT: "draft",
    Status.REQUESTED: "active",
    Status.ACCEPTED: "active",
    Status.IN_PROGRESS: "active",
    Status.ON_HOLD: "on-hold",
    Status.COMPLETED: "completed",
    Status.REJECTED: "revoked",
    Status.CANCELLED: "revoked",
    Status.FAILED: "revoked",
}


def _urn(case: ReferralCase, kind: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'curbside:{case.id}:{kind}')}"


def _ref(url: str, display: str | None = None) -> dict[str, str]:
    return {"reference": url, "display": display} if display else {"reference": url}


def _iso(value: Any) -> str:
    return as_utc(value).isoformat(timespec="seconds")


def _human_name(text: str) -> dict[str, Any]:
    parts = text.split()
    name: dict[str, Any] = {"text": text, "family": parts[-1]}
    if len(parts) > 1:
        name["given"] = parts[:-1]
    return name


def _patient(case: ReferralCase, org_url: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [
            {
                "use": "usual",
                "type": {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}
                    ]
                },
                "value": case.patient_mrn,
                "assigner": _ref(org_url, case.referring_org_name),
            }
        ],
        "name": [_human_name(case.patient_name)],
        "gender": case.patient_sex,
        "birthDate": case.patient_dob,
        "telecom": [{"system": "phone", "value": case.patient_phone}],
        "managingOrganization": _ref(org_url, case.referring_org_name),
    }


def _practitioner(case: ReferralCase) -> dict[str, Any]:
    return {
        "resourceType": "Practitioner",
        "identifier": [
            {"system": NPI_SYSTEM, "value": case.referrer_npi},
            {"system": MATRIX_SYSTEM, "value": case.referrer_user_id},
        ],
        "name": [_human_name(case.referrer_name)],
        "qualification": [{"code": {"text": case.referrer_credential}}]
        if case.referrer_credential
        else None,
    }


def _referring_org(case: ReferralCase) -> dict[str, Any]:
    return {
        "resourceType": "Organization",
        "name": case.referring_org_name,
        "telecom": [
            {"system": "phone", "value": case.referring_org_phone},
            {"system": "fax", "value": case.referring_org_fax},
        ],
    }


def _recipient_org(case: ReferralCase) -> dict[str, Any]:
    telecom = (
        [{"system": "fax", "value": case.recipient_address}]
        if case.kind is RecipientKind.FAX
        else [{"system": "other", "value": case.recipient_address}]
    )
    if case.recipient_phone:
        telecom.append({"system": "phone", "value": case.recipient_phone})
    return {"resourceType": "Organization", "name": case.recipient_name, "telecom": telecom}


def _recipient_clinician(
    case: ReferralCase, credential: VerifiedCredential | None
) -> dict[str, Any]:
    """The recipient on Matrix as a Practitioner: NPI and legal name when verified."""
    identifiers = [{"system": MATRIX_SYSTEM, "value": case.recipient_address}]
    if credential is not None:
        identifiers.insert(0, {"system": NPI_SYSTEM, "value": credential.npi})
    name = credential.legal_name if credential is not None else case.recipient_name
    resource: dict[str, Any] = {
        "resourceType": "Practitioner",
        "identifier": identifiers,
        "name": [_human_name(name)],
    }
    if credential is not None and credential.credential_text:
        resource["qualification"] = [{"code": {"text": credential.credential_text}}]
    return resource


def _recipient_role(
    case: ReferralCase, credential: VerifiedCredential | None, practitioner_url: str
) -> dict[str, Any]:
    """What the recipient is asked to do as: their specialty (NUCC taxonomy)."""
    resource: dict[str, Any] = {
        "resourceType": "PractitionerRole",
        "active": credential is not None,
        "practitioner": _ref(practitioner_url, case.recipient_name),
        "telecom": [{"system": "other", "value": case.recipient_address}],
    }
    if case.recipient_phone:
        resource["telecom"].append({"system": "phone", "value": case.recipient_phone})
    if credential is not None:
        resource["specialty"] = [
            {
                "coding": [
                    {
                        "system": NUCC_SYSTEM,
                        "code": credential.taxonomy_code,
                        "display": credential.specialty,
                    }
                ],
                "text": credential.specialty,
            }
        ]
    return resource


def _consult_note(
    case: ReferralCase, note: ReferralBusinessStatus, urls: dict[str, str]
) -> dict[str, Any]:
    """The consult note that closed the loop: its text (or what was sent), by whom, when."""
    text = note.note or "consult note sent in the referral's thread"
    return {
        "resourceType": "DocumentReference",
        "status": "current",
        "type": {
            "coding": [{"system": "http://loinc.org", "code": "11488-4", "display": "Consult note"}]
        },
        "subject": _ref(urls["patient"]),
        "date": _iso(note.at),
        "author": [_ref(urls.get("recipient_practitioner", urls["recipient"]), note.actor)],
        "content": [
            {
                "attachment": {
                    "contentType": "text/plain; charset=utf-8",
                    "data": base64.b64encode(text.encode()).decode(),
                    "title": f"Consult note for referral {case.id}",
                    "creation": _iso(note.at),
                }
            }
        ],
        "context": {"related": [_ref(urls["service_request"])]},
    }


def _latest_consult_note(session: Session, case: ReferralCase) -> ReferralBusinessStatus | None:
    return session.scalars(
        select(ReferralBusinessStatus)
        .where(
            ReferralBusinessStatus.referral_id == case.id,
            ReferralBusinessStatus.code == CONSULT_NOTE_STATUS,
        )
        .order_by(ReferralBusinessStatus.id.desc())
    ).first()


def _coverage(case: ReferralCase, patient_url: str) -> dict[str, Any]:
    return {
        "resourceType": "Coverage",
        "status": "active",
        "subscriberId": case.member_id,
        "beneficiary": _ref(patient_url),
        "payor": [{"display": case.payer}],
    }


def _document_reference(case: ReferralCase, urls: dict[str, str]) -> dict[str, Any]:
    sha1_b64 = base64.b64encode(bytes.fromhex(case.packet_sha1 or "")).decode()
    return {
        "resourceType": "DocumentReference",
        "status": "current",
        "type": {
            "coding": [
                {"system": "http://loinc.org", "code": "57133-1", "display": "Referral note"}
            ]
        },
        "subject": _ref(urls["patient"]),
        "date": _iso(case.document_date),
        "author": [_ref(urls["practitioner"])],
        "content": [
            {
                "attachment": {
                    "contentType": "application/pdf",
                    "size": case.packet_size,
                    "hash": sha1_b64,
                    "title": f"Referral packet {case.id} ({case.packet_pages} pages)",
                    "creation": _iso(case.document_date),
                }
            }
        ],
        "context": {"related": [_ref(urls["service_request"])]},
    }


def _service_request(case: ReferralCase, urls: dict[str, str]) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "identifier": [{"system": REFERRAL_ID_SYSTEM, "value": case.id}],
        "status": _SERVICE_REQUEST_STATUS[case.state],
        "intent": "order",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://snomed.info/sct",
                        "code": "3457005",
                        "display": "Patient referral",
                    }
                ]
            }
        ],
        "priority": case.urgency,
        "subject": _ref(urls["patient"]),
        "authoredOn": _iso(case.document_date),
        "requester": _ref(urls["practitioner"], case.referrer_name),
        "performer": [_ref(urls["recipient"], case.recipient_name)],
        "reasonCode": [
            {
                "coding": [{"system": ICD10CM_SYSTEM, "code": code} for code in case.codes],
                "text": case.reason,
            }
        ],
        "insurance": [_ref(urls["coverage"])],
        "note": [
            {"text": f"Clinical question: {case.clinical_question}"},
            {
                "text": f"Patient consent attested by {case.consent_attested_by} "
                f"on {_iso(case.consent_attested_at)}"
            },
        ],
    }
    if "document" in urls:
        resource["supportingInfo"] = [_ref(urls["document"])]
    return resource


def _task(session: Session, case: ReferralCase, urls: dict[str, str]) -> dict[str, Any]:
    last = session.scalars(
        select(ReferralTransition)
        .where(ReferralTransition.referral_id == case.id)
        .order_by(ReferralTransition.id.desc())
    ).first()
    task: dict[str, Any] = {
        "resourceType": "Task",
        "identifier": [{"system": REFERRAL_ID_SYSTEM, "value": case.id}],
        "basedOn": [_ref(urls["service_request"])],
        "status": case.status,
        "intent": "order",
        "priority": case.urgency,
        "focus": _ref(urls["service_request"]),
        "for": _ref(urls["patient"]),
        "authoredOn": _iso(case.created_at),
        "lastModified": _iso(case.updated_at),
        "requester": _ref(urls["practitioner"], case.referrer_name),
        "owner": _ref(urls["recipient"], case.recipient_name),
    }
    if last is not None and last.reason:
        task["statusReason"] = {"text": last.reason}
    if case.business_status:
        task["businessStatus"] = {
            "coding": [{"system": BUSINESS_STATUS_SYSTEM, "code": case.business_status}],
            "text": case.business_status,
        }
    if "document" in urls:
        task["input"] = [
            {"type": {"text": "referral packet"}, "valueReference": _ref(urls["document"])}
        ]
    if "consult_note" in urls:
        task["output"] = [
            {"type": {"text": "consult note"}, "valueReference": _ref(urls["consult_note"])}
        ]
    return task


def build_bundle(session: Session, case: ReferralCase) -> dict[str, Any]:
    """The Bundle as a JSON-ready dict, validated by fhir.resources (raises if invalid)."""
    kinds = [
        "task",
        "service_request",
        "patient",
        "practitioner",
        "referrer_org",
        "recipient",
        "coverage",
    ]
    clinician = case.kind is RecipientKind.MATRIX_USER
    credential = session.get(VerifiedCredential, case.recipient_address) if clinician else None
    if clinician:
        kinds.append("recipient_practitioner")
    if case.packet_sha256 is not None:
        kinds.append("document")
    note = _latest_consult_note(session, case)
    if note is not None:
        kinds.append("consult_note")
    urls = {kind: _urn(case, kind) for kind in kinds}
    resources = {
        "task": _task(session, case, urls),
        "service_request": _service_request(case, urls),
        "patient": _patient(case, urls["referrer_org"]),
        "practitioner": _practitioner(case),
        "referrer_org": _referring_org(case),
        "coverage": _coverage(case, urls["patient"]),
    }
    if clinician:
        resources["recipient"] = _recipient_role(case, credential, urls["recipient_practitioner"])
        resources["recipient_practitioner"] = _recipient_clinician(case, credential)
    else:
        resources["recipient"] = _recipient_org(case)
    if "document" in urls:
        resources["document"] = _document_reference(case, urls)
    if note is not None:
        resources["consult_note"] = _consult_note(case, note, urls)
    bundle = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"curbside:{case.id}:bundle")),
        "type": "collection",
        "timestamp": _iso(case.updated_at),
        "entry": [
            {"fullUrl": urls[kind], "resource": _drop_none(resources[kind])} for kind in kinds
        ],
    }
    return Bundle.model_validate(bundle).model_dump(mode="json", exclude_none=True)


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def export_bundle(
    session: Session, env: ReferralEnv, referral_id: str, *, actor: str
) -> dict[str, Any]:
    """Export one referral as a FHIR R4 Bundle; the export is audited (it reads PHI)."""
    case = get_referral(session, referral_id)
    bundle = build_bundle(session, case)
    env.audit.record(
        session,
        actor=actor,
        action="referral.export",
        record_type=RECORD_TYPE,
        record_id=case.id,
        details={"format": "fhir-r4-bundle", "entries": len(bundle["entry"])},
    )
    return bundle
