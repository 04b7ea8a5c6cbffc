"""Accounting of disclosures (45 CFR 164.528): when, to whom, what, why.

    delivery reported "delivered" ──> record_disclosure ──> referral_disclosures
                                       (patient_index, date, recipient, description, purpose)
    consult note forwarded to the referrer (a Matrix file, text, or fax pages)
                                  ──> record_note_disclosure ──> referral_disclosures
    curbside audit disclosures --patient NAME --dob DATE
        ──> blind index of (name, DOB) ──> rows for that patient, newest first

Disclosure rows carry no PHI values: the recipient's name and address are
the recipient's, the description names *which* documents and fields went
out, and the patient is found through the keyed blind index
(:mod:`referral.patient_index`) instead of by decrypting every case. Running
the report is itself audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from curbside.database import session_scope
from curbside.host import Host
from referral.app import env_from_app
from referral.cases import RECORD_TYPE, ReferralEnv
from referral.models import DeliveryAttempt, Disclosure, ReferralCase, as_utc
from referral.patient_index import patient_index
from referral.validation import FieldError, RecipientKind, parse_date_of_birth, parse_name

ACCOUNTING_PERIOD = timedelta(days=6 * 366)  # six years back, as 164.528(a) allows asking
PHI_FIELDS = (
    "patient name, date of birth, sex, MRN, phone, payer and member id; reason for referral "
    "with ICD-10-CM codes; clinical question"
)
CHANNEL_WORDS = {
    RecipientKind.FAX: "fax",
    RecipientKind.MATRIX_USER: "Matrix user",
    RecipientKind.MATRIX_ROOM: "Matrix room",
}


@dataclass(frozen=True, slots=True)
class PatientQuery:
    name: str
    date_of_birth: date


def describe_packet(case: ReferralCase) -> str:
    """'Referral packet RF-… (6 pages, SHA-256 ab12…): cover sheet; referral letter (…); …'."""
    attachments = case.attachments
    images = sum(1 for a in attachments if a.content_type.startswith("image/"))
    pdfs = len(attachments) - images
    enclosures = (
        f"{len(attachments)} enclosure(s): {pdfs} PDF, {images} image"
        if attachments
        else "no enclosures"
    )
    reply = "fax-back reply sheet (referral id only); " if case.kind is RecipientKind.FAX else ""
    return (
        f"Referral packet {case.id} ({case.packet_pages} pages, SHA-256 "
        f"{(case.packet_sha256 or '')[:16]}): fax cover sheet; referral letter ({PHI_FIELDS}); "
        f"{reply}{enclosures}"
    )


def record_disclosure(
    session: Session,
    env: ReferralEnv,
    case: ReferralCase,
    attempt: DeliveryAttempt,
    *,
    actor: str,
    purpose: str = "treatment",
) -> Disclosure:
    """One disclosure for one delivered attempt (the unique delivery id keeps it one)."""
    where = CHANNEL_WORDS[RecipientKind(attempt.recipient_kind)]
    row = Disclosure(
        referral_id=case.id,
        delivery_id=attempt.id,
        patient_index=case.patient_index,
        disclosed_at=env.clock(),
        recipient_name=case.recipient_name,
        recipient_address=f"{where} {attempt.recipient_address}",
        description=describe_packet(case),
        purpose=purpose,
        disclosed_by=case.referrer_user_id,
    )
    return _keep(session, env, row, actor=actor, delivery=attempt.id, purpose=purpose)


def record_note_disclosure(
    session: Session,
    env: ReferralEnv,
    case: ReferralCase,
    *,
    received: str,
    actor: str,
    purpose: str = "treatment",
) -> Disclosure:
    """The recipient's consult note reaching the referrer through the desk.

    ``received`` says how and what, without PHI values: "by fax (2 pages,
    SHA-256 ab12…)", "on Matrix (file consult.pdf)". The same record whichever
    way the note came, so the accounting reads alike for fax and Matrix.
    """
    row = Disclosure(
        referral_id=case.id,
        delivery_id=None,
        patient_index=case.patient_index,
        disclosed_at=env.clock(),
        recipient_name=case.referrer_name,
        recipient_address=f"{CHANNEL_WORDS[RecipientKind.MATRIX_USER]} {case.referrer_user_id}",
        description=f"Consult note for referral {case.id} received {received}, "
        "forwarded to the referring clinician",
        purpose=purpose,
        disclosed_by=case.recipient_address,
    )
    return _keep(session, env, row, actor=actor, consult_note=True, purpose=purpose)


def _keep(session: Session, env: ReferralEnv, row: Disclosure, *, actor: str,
          **details: object) -> Disclosure:
    """Store a disclosure and audit it in the same transaction (its id in the audit row)."""
    session.add(row)
    session.flush()
    env.audit.record(
        session,
        actor=actor,
        action="referral.disclosure",
        record_type=RECORD_TYPE,
        record_id=row.referral_id,
        details={"disclosure": row.id, **details},
    )
    return row


def disclosures_for_patient(
    session: Session,
    env: ReferralEnv,
    query: PatientQuery,
    *,
    actor: str,
    since: datetime | None = None,
) -> list[Disclosure]:
    """Every disclosure of this patient's PHI since ``since`` (default six years), newest first."""
    start = since or env.clock() - ACCOUNTING_PERIOD
    index = patient_index(env.index_key, query.name, query.date_of_birth)
    rows = [
        row
        for row in session.scalars(
            select(Disclosure)
            .where(Disclosure.patient_index == index)
            .order_by(Disclosure.disclosed_at.desc(), Disclosure.id.desc())
        )
        if as_utc(row.disclosed_at) >= start
    ]
    env.audit.record(
        session,
        actor=actor,
        action="referral.disclosures.report",
        record_type="patient_index",
        record_id=index,
        details={"count": len(rows)},
    )
    return rows


@click.command("disclosures")
@click.option("--patient", "name", required=True, help="The patient's name as on the referral.")
@click.option("--dob", required=True, help="Date of birth, YYYY-MM-DD.")
@click.option("--actor", default="operator", show_default=True, help="Who asks (audited).")
@click.pass_obj
def disclosures_command(app: Host, name: str, dob: str, actor: str) -> None:
    """Accounting of disclosures for one patient (45 CFR 164.528), newest first."""
    try:
        query = PatientQuery(parse_name(name), parse_date_of_birth(dob, date.today()))
    except FieldError as error:
        raise click.BadParameter(error.message) from None
    env = env_from_app(app)
    with session_scope(app.engine) as session:
        rows = disclosures_for_patient(session, env, query, actor=actor)
        if not rows:
            click.echo("no disclosures recorded for this patient")
            return
        for row in rows:
            click.echo(
                f"{as_utc(row.disclosed_at):%Y-%m-%d %H:%M} UTC | to {row.recipient_name} "
                f"({row.recipient_address}) | purpose: {row.purpose} | {row.description}"
            )
        click.echo(f"{len(rows)} disclosure(s)")
