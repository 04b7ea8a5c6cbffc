"""Scenario: a coordinator refers a patient to a cardiology practice by fax, and the loop closes."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import Engine, MetaData, select, text

from curbside.audit import AuditEntry, AuditLog
from curbside.database import Base, session_scope
from referral import cases, delivery
from referral.cli import referral as referral_cli
from referral.disclosures import PatientQuery, disclosures_command, disclosures_for_patient
from referral.documents.packet import Packet, build_packet
from referral.errors import NotVerified, PacketMismatch
from referral.fhir import NPI_SYSTEM, export_bundle
from referral.models import DeliveryAttempt, Disclosure, ReferralCase
from referral.packets import document_from_case, render_packet, verify_packet
from referral.states import Side, Status, TransitionError
from referral.validation import FieldError, ReferralInvalid
from tests.referral.db_support import CARDIOLOGIST, PRACTICE_ROOM, REFERRER, ReferralDb, fax_request
from tests.referral.samples import lab_pdf, scan_png
from tests.support.documents import huge_image_pdf, page_tree_bomb, png_bomb


class RecordingChannel:
    """A channel that answers like the fax outbox: accepted now, delivered later."""

    name = "fax"

    def __init__(self, answer: delivery.DeliveryStatus) -> None:
        self.answer = answer
        self.calls: list[tuple[str, delivery.Recipient, str]] = []

    async def deliver(
        self, packet: Packet, recipient: delivery.Recipient, idempotency_key: str
    ) -> delivery.DeliveryReceipt:
        self.calls.append((packet.sha256, recipient, idempotency_key))
        return delivery.DeliveryReceipt(self.answer, provider_ref=f"job-{len(self.calls)}")


def _sent_referral(db: ReferralDb) -> str:
    with session_scope(db.engine) as session:
        case = cases.create_referral(session, db.env, fax_request(), referrer=REFERRER)
        cases.add_attachment(
            session, db.env, case.id, actor=REFERRER, filename="ecg.png", data=scan_png()
        )
        cases.add_attachment(
            session, db.env, case.id, actor=REFERRER, filename="labs.pdf", data=lab_pdf(pages=2)
        )
        cases.transition(
            session, db.env, case.id, to=Status.REQUESTED, side=Side.REFERRER, actor=REFERRER
        )
        return case.id


def test_phi_is_encrypted_at_rest(referral_db: ReferralDb) -> None:
    referral_id = _sent_referral(referral_db)
    with referral_db.engine.connect() as connection:
        raw = connection.execute(
            text("SELECT patient_name, patient_mrn, reason FROM referral_cases WHERE id = :id"),
            {"id": referral_id},
        ).one()
        content = connection.execute(text("SELECT content FROM referral_attachments")).scalars()
        assert all(token.startswith("v1.") for token in content)
    assert all(value.startswith("v1.") and "Maria" not in value for value in raw)


def test_a_fax_packet_sealed_before_reply_sheets_still_verifies(referral_db: ReferralDb) -> None:
    referral_id = _sent_referral(referral_db)
    with session_scope(referral_db.engine) as session:
        case = cases.get_referral(session, referral_id)
        legacy = build_packet(document_from_case(case), reply_sheet=False)
        assert legacy.pages == case.packet_pages - 1
        case.packet_sha256 = legacy.sha256  # as sealed by the version before this one
        assert verify_packet(case) == legacy.data
        session.rollback()


def test_send_seals_the_packet_and_verify_checks_it(referral_db: ReferralDb) -> None:
    referral_id = _sent_referral(referral_db)
    with session_scope(referral_db.engine) as session:
        case = cases.get_referral(session, referral_id)
        assert case.packet_pages == 1 + render_packet(case).letter_pages + 1 + 3  # 1: reply sheet
        data = verify_packet(case)
        assert hashlib.sha256(data).hexdigest() == case.packet_sha256
        case.clinical_question = "changed after sending"
        with pytest.raises(PacketMismatch, match="no longer matches the one that was sent"):
            verify_packet(case)
        session.rollback()
    with (
        session_scope(referral_db.engine) as session,
        pytest.raises(TransitionError, match=r"only while .* draft"),
    ):
        cases.add_attachment(
            session,
            referral_db.env,
            referral_id,
            actor=REFERRER,
            filename="late.pdf",
            data=lab_pdf(1),
        )


def test_transitions_history_audit_and_refusals(referral_db: ReferralDb) -> None:
    referral_id = _sent_referral(referral_db)
    env = referral_db.env
    with session_scope(referral_db.engine) as session:
        with pytest.raises(TransitionError, match="only the recipient may move"):
            cases.transition(
                session, env, referral_id, to="accepted", side=Side.REFERRER, actor=REFERRER
            )
        with pytest.raises(TransitionError, match="needs a reason"):
            cases.transition(
                session, env, referral_id, to="rejected", side=Side.RECIPIENT, actor="fax"
            )
    with session_scope(referral_db.engine) as session:
        for target in ("accepted", "in-progress"):
            cases.transition(
                session,
                env,
                referral_id,
                to=target,
                side=Side.RECIPIENT,
                actor="@coordinator:curbside.test",
            )
        cases.record_business_status(
            session,
            env,
            referral_id,
            code="scheduled",
            side=Side.RECIPIENT,
            actor="fax",
            note="3 Dec 09:30",
        )
        cases.transition(
            session,
            env,
            referral_id,
            to="on-hold",
            side=Side.RECIPIENT,
            actor="fax",
            reason="awaiting echo report",
        )
        cases.transition(
            session, env, referral_id, to="in-progress", side=Side.RECIPIENT, actor="fax"
        )
        cases.transition(
            session, env, referral_id, to="completed", side=Side.RECIPIENT, actor="fax"
        )
    with session_scope(referral_db.engine) as session:
        rows = cases.history(session, referral_id)
        assert [(r.from_status, r.to_status) for r in rows] == [
            (None, "draft"),
            ("draft", "requested"),
            ("requested", "accepted"),
            ("accepted", "in-progress"),
            ("in-progress", "on-hold"),
            ("on-hold", "in-progress"),
            ("in-progress", "completed"),
        ]
        assert rows[4].reason == "awaiting echo report"
        assert [b.code for b in cases.business_statuses(session, referral_id)] == ["scheduled"]
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.record_id == referral_id)
        ).all()
        assert actions.count("referral.transition") == 6
        assert "referral.business_status" in actions
        details = " ".join(session.scalars(select(AuditEntry.details)).all())
        assert "Maria" not in details and "echo" not in details  # no PHI in the audit log
        with pytest.raises(TransitionError, match="nothing more can change it"):
            cases.transition(
                session,
                env,
                referral_id,
                to="cancelled",
                side=Side.REFERRER,
                actor=REFERRER,
                reason="x",
            )
    assert referral_db.env.audit.verify(referral_db.engine) == []


async def test_delivery_writes_attempts_and_disclosures(referral_db: ReferralDb) -> None:
    referral_id = _sent_referral(referral_db)
    env = referral_db.env
    channel = RecordingChannel(delivery.DeliveryStatus.ACCEPTED)
    receipt = await delivery.send_referral(
        referral_db.engine, env, referral_id, channel, actor=REFERRER
    )
    assert receipt.status is delivery.DeliveryStatus.ACCEPTED
    sha, recipient, key = channel.calls[0]
    assert recipient.address == "+16175550199" and recipient.name.startswith("Beacon")
    later = delivery.DeliveryReceipt(delivery.DeliveryStatus.DELIVERED, provider_ref="job-1")
    news = []
    for _ in range(2):  # the gateway may report twice; one disclosure only
        with session_scope(referral_db.engine) as session:
            news.append(delivery.record_delivery_outcome(session, env, key, later).new)
    assert news == [True, False], "the repeated verdict is not news"
    with session_scope(referral_db.engine) as session:
        late = delivery.DeliveryReceipt(delivery.DeliveryStatus.ACCEPTED)
        outcome = delivery.record_delivery_outcome(session, env, key, late)
        assert not outcome.new
        attempt = outcome.attempt
        assert attempt.status == "delivered" and attempt.packet_sha256 == sha
        case = cases.get_referral(session, referral_id)
        assert case.business_status == "delivered"
        found = disclosures_for_patient(
            session, env, PatientQuery("TESTPATIENT, Maria", case.date_of_birth), actor="privacy"
        )
    assert len(found) == 1
    disclosure = found[0]
    assert disclosure.recipient_name == "Beacon Cardiology Associates"
    assert disclosure.recipient_address == "fax +16175550199"
    assert disclosure.purpose == "treatment"
    assert f"Referral packet {referral_id} (6 pages" in disclosure.description
    assert "fax-back reply sheet (referral id only)" in disclosure.description
    assert "date of birth" in disclosure.description and "Maria" not in disclosure.description
    with session_scope(referral_db.engine) as session:
        assert (
            disclosures_for_patient(
                session,
                env,
                PatientQuery("Maria Testpatient", case.date_of_birth.replace(day=15)),
                actor="privacy",
            )
            == []
        )


async def test_failed_delivery_then_retry_with_a_new_attempt(referral_db: ReferralDb) -> None:
    referral_id = _sent_referral(referral_db)
    failing = RecordingChannel(delivery.DeliveryStatus.FAILED)
    await delivery.send_referral(
        referral_db.engine, referral_db.env, referral_id, failing, actor=REFERRER
    )
    working = RecordingChannel(delivery.DeliveryStatus.DELIVERED)
    await delivery.send_referral(
        referral_db.engine, referral_db.env, referral_id, working, actor=REFERRER
    )
    with session_scope(referral_db.engine) as session:
        attempts = session.scalars(
            select(DeliveryAttempt).order_by(DeliveryAttempt.attempt_no)
        ).all()
        assert [(a.attempt_no, a.status) for a in attempts] == [(1, "failed"), (2, "delivered")]
        assert failing.calls[0][2] != working.calls[0][2]
        case = cases.get_referral(session, referral_id)
        index = case.patient_index

        assert (
            len(session.scalars(select(Disclosure).where(Disclosure.patient_index == index)).all())
            == 1
        )


@pytest.mark.parametrize(
    ("verdicts", "news", "final"),
    [
        (["accepted", "accepted", "delivered", "failed", "accepted"],
         [True, False, True, False, False], "delivered"),
        (["delivered", "delivered"], [True, False], "delivered"),
        (["accepted", "failed", "delivered", "failed"], [True, True, False, False], "failed"),
        (["failed", "accepted", "delivered"], [True, False, False], "failed"),
    ],
    ids=["fax-delivered-then-late", "matrix-twice", "fax-failed-then-late", "failed-at-once"],
)
def test_only_new_verdicts_are_recorded_and_said_to_be_new(
    referral_db: ReferralDb, verdicts: list[str], news: list[bool], final: str
) -> None:
    referral_id = _sent_referral(referral_db)
    env = referral_db.env
    with session_scope(referral_db.engine) as session:
        key = delivery.prepare_delivery(
            session, env, referral_id, channel="fax", actor=REFERRER
        ).idempotency_key
    seen = []
    for number, verdict in enumerate(verdicts):
        receipt = delivery.DeliveryReceipt(
            delivery.DeliveryStatus(verdict), provider_ref=f"job-{number}", detail=f"d{number}"
        )
        with session_scope(referral_db.engine) as session:
            seen.append(delivery.record_delivery_outcome(session, env, key, receipt).new)
    assert seen == news
    first_final = next(i for i, v in enumerate(verdicts) if v in ("delivered", "failed"))
    with session_scope(referral_db.engine) as session:
        attempt = session.scalars(select(DeliveryAttempt)).one()
        assert attempt.status == final
        assert (attempt.provider_ref, attempt.detail) == (
            f"job-{first_final}", f"d{first_final}"), "a refused verdict overwrites nothing"
        assert attempt.finished_at is not None
        outcomes = session.scalars(
            select(AuditEntry.details).where(AuditEntry.action == "referral.delivery.outcome")
        ).all()
        assert [json.loads(d)["status"] for d in outcomes] == [
            v for v, new in zip(verdicts, news, strict=True) if new
        ]
        disclosed = session.scalars(select(Disclosure)).all()
        assert len(disclosed) == (1 if final == "delivered" else 0)


def test_prepare_delivery_is_idempotent_until_an_outcome(referral_db: ReferralDb) -> None:
    referral_id = _sent_referral(referral_db)
    with session_scope(referral_db.engine) as session:
        first = delivery.prepare_delivery(
            session, referral_db.env, referral_id, channel="fax", actor=REFERRER
        )
    with session_scope(referral_db.engine) as session:
        again = delivery.prepare_delivery(
            session, referral_db.env, referral_id, channel="fax", actor=REFERRER
        )
    assert again.idempotency_key == first.idempotency_key


class ReportingChannel(RecordingChannel):
    """Accepts a packet; meanwhile the channel reports another one delivered, as the
    Matrix outbox's sent hook does on its own thread while the delivery job runs."""

    def __init__(self, db: ReferralDb, reports: dict[str, str]) -> None:
        super().__init__(delivery.DeliveryStatus.ACCEPTED)
        self.db = db
        self.reports = reports  # key delivered -> key reported delivered meanwhile

    async def deliver(
        self, packet: Packet, recipient: delivery.Recipient, idempotency_key: str
    ) -> delivery.DeliveryReceipt:
        receipt = await super().deliver(packet, recipient, idempotency_key)
        other = self.reports.get(idempotency_key)
        if other is not None:
            with session_scope(self.db.engine) as session:
                delivery.record_delivery_outcome(
                    session, self.db.env, other,
                    delivery.DeliveryReceipt(delivery.DeliveryStatus.DELIVERED, "event-1"))
        return receipt


async def test_an_attempt_delivered_meanwhile_is_not_delivered_again(
    referral_db: ReferralDb,
) -> None:
    """The delivery job's pass resumes the attempts it listed and opens none: one that
    the channel reported delivered since the list was read gets no second attempt
    (a new idempotency key, so a second packet to the recipient)."""
    first, second = _sent_referral(referral_db), _sent_referral(referral_db)
    keys = []
    for referral_id in (first, second):
        with session_scope(referral_db.engine) as session:
            keys.append(delivery.prepare_delivery(
                session, referral_db.env, referral_id, channel="fax", actor=REFERRER
            ).idempotency_key)
    channel = ReportingChannel(referral_db, {keys[0]: keys[1]})
    await delivery.deliver_pending(referral_db.engine, referral_db.env, {"fax": channel},
                                   actor=REFERRER)
    assert [key for _, _, key in channel.calls] == [keys[0]]
    with session_scope(referral_db.engine) as session:
        attempts = session.scalars(
            select(DeliveryAttempt).where(DeliveryAttempt.referral_id == second)).all()
        assert [(a.attempt_no, a.status) for a in attempts] == [(1, "delivered")]


def test_draft_cannot_be_delivered(referral_db: ReferralDb) -> None:
    with session_scope(referral_db.engine) as session:
        case = cases.create_referral(session, referral_db.env, fax_request(), referrer=REFERRER)
        with pytest.raises(delivery.DeliveryRefused, match="is draft"):
            delivery.prepare_delivery(
                session, referral_db.env, case.id, channel="fax", actor=REFERRER
            )


def test_verification_rules(referral_db: ReferralDb) -> None:
    env = referral_db.env
    with session_scope(referral_db.engine) as session:
        with pytest.raises(NotVerified, match="not a verified clinician"):
            cases.create_referral(session, env, fax_request(), referrer="@nobody:curbside.test")
        with pytest.raises(NotVerified, match="not a verified practice room"):
            cases.create_referral(
                session, env, fax_request(recipient="!open:curbside.test"), referrer=REFERRER
            )
        with pytest.raises(ReferralInvalid, match="date of birth must be a real date"):
            cases.create_referral(
                session, env, fax_request(date_of_birth="1957-02-30"), referrer=REFERRER
            )
        to_user = cases.create_referral(
            session, env, fax_request(recipient=CARDIOLOGIST, recipient_name=""), referrer=REFERRER
        )
        assert to_user.recipient_name == "Ravi Okafor, MD · Cardiology"
        assert cases.side_of(to_user, CARDIOLOGIST) is Side.RECIPIENT
        assert cases.side_of(to_user, REFERRER) is Side.REFERRER
        to_room = cases.create_referral(
            session, env, fax_request(recipient=PRACTICE_ROOM), referrer=REFERRER
        )
        assert to_room.recipient_kind == "matrix-room"


def test_fhir_bundle_validates_and_links(referral_db: ReferralDb) -> None:
    referral_id = _sent_referral(referral_db)
    with session_scope(referral_db.engine) as session:
        bundle = export_bundle(session, referral_db.env, referral_id, actor="operator")
        case = session.get(ReferralCase, referral_id)
        assert case is not None
        sha1 = case.packet_sha1
        size = case.packet_size
    Bundle.model_validate(bundle)
    by_type = {e["resource"]["resourceType"]: e for e in bundle["entry"]}
    assert set(by_type) == {
        "Task",
        "ServiceRequest",
        "Patient",
        "Practitioner",
        "Organization",
        "Coverage",
        "DocumentReference",
    }
    urls = {e["fullUrl"] for e in bundle["entry"]}
    task = by_type["Task"]["resource"]
    request = by_type["ServiceRequest"]["resource"]
    document = by_type["DocumentReference"]["resource"]
    assert (
        task["status"] == "requested"
        and task["focus"]["reference"] == by_type["ServiceRequest"]["fullUrl"]
    )
    assert (
        task["for"]["reference"] == request["subject"]["reference"] == by_type["Patient"]["fullUrl"]
    )
    assert request["requester"]["reference"] == by_type["Practitioner"]["fullUrl"]
    assert request["priority"] == "urgent"
    assert [c["code"] for c in request["reasonCode"][0]["coding"]] == ["I48.91", "R00.2"]
    assert request["supportingInfo"][0]["reference"] == by_type["DocumentReference"]["fullUrl"]
    assert {"system": NPI_SYSTEM, "value": "1234567893"} in by_type["Practitioner"]["resource"][
        "identifier"
    ]
    attachment = document["content"][0]["attachment"]
    assert attachment["hash"] == base64.b64encode(bytes.fromhex(sha1 or "")).decode()
    assert attachment["size"] == size
    patient = by_type["Patient"]["resource"]
    assert patient["birthDate"] == "1957-03-14" and patient["identifier"][0]["value"] == "A-123456"
    references = json.dumps(bundle).count('"reference": "urn:uuid:')
    assert references >= 10
    for entry in bundle["entry"]:
        for ref in _references(entry["resource"]):
            assert ref in urls, ref


def test_fhir_recipient_clinician_is_a_role_and_the_consult_note_is_the_output(
    referral_db: ReferralDb,
) -> None:
    """A referral to a verified cardiologist on Matrix, closed with a consult note."""
    env = referral_db.env
    with session_scope(referral_db.engine) as session:
        case = cases.create_referral(
            session, env, fax_request(recipient=CARDIOLOGIST, recipient_name="Dr Okafor"),
            referrer=REFERRER,
        )
        for to, side, actor in [
            (Status.REQUESTED, Side.REFERRER, REFERRER),
            (Status.ACCEPTED, Side.RECIPIENT, CARDIOLOGIST),
            (Status.IN_PROGRESS, Side.RECIPIENT, CARDIOLOGIST),
            (Status.COMPLETED, Side.RECIPIENT, CARDIOLOGIST),
        ]:
            cases.transition(session, env, case.id, to=to, side=side, actor=actor)
        cases.record_business_status(
            session, env, case.id, code="consult-note-sent", side=Side.RECIPIENT,
            actor=CARDIOLOGIST, note="Start apixaban 5 mg twice daily; follow up in 3 months.",
        )
        bundle = export_bundle(session, env, case.id, actor="operator")
    entries = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    task = next(r for r in entries.values() if r["resourceType"] == "Task")
    request = next(r for r in entries.values() if r["resourceType"] == "ServiceRequest")
    role = entries[request["performer"][0]["reference"]]
    assert role["resourceType"] == "PractitionerRole"
    assert task["owner"]["reference"] == request["performer"][0]["reference"]
    assert role["specialty"][0]["coding"][0]["display"] == "Cardiology"
    assert role["specialty"][0]["coding"][0]["system"] == "http://nucc.org/provider-taxonomy"
    practitioner = entries[role["practitioner"]["reference"]]
    assert {"system": NPI_SYSTEM, "value": "1987654321"} in practitioner["identifier"]
    assert practitioner["name"][0]["text"] == "Ravi Okafor"
    assert not any(  # an Organization only for the referring practice
        r["resourceType"] == "Organization" and r["name"] == "Dr Okafor" for r in entries.values()
    )
    note = entries[task["output"][0]["valueReference"]["reference"]]
    assert note["resourceType"] == "DocumentReference"
    assert note["type"]["coding"][0]["code"] == "11488-4"
    assert note["author"][0]["reference"] == role["practitioner"]["reference"]
    text = base64.b64decode(note["content"][0]["attachment"]["data"]).decode()
    assert text == "Start apixaban 5 mg twice daily; follow up in 3 months."
    for resource in entries.values():
        for ref in _references(resource):
            assert ref in entries, ref


def _references(value: object) -> list[str]:
    if isinstance(value, dict):
        found = [value["reference"]] if isinstance(value.get("reference"), str) else []
        return found + [r for v in value.values() for r in _references(v)]
    if isinstance(value, list):
        return [r for v in value for r in _references(v)]
    return []


def test_migration_matches_models(referral_db: ReferralDb) -> None:
    ours = MetaData()
    for mapper in Base.registry.mappers:
        if mapper.class_.__module__.startswith("referral."):
            for table in mapper.tables:
                table.to_metadata(ours)
    assert ours.tables, "no referral models found"
    with referral_db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), ours)
    # The database also holds the kernel's tables (reported as removals, since
    # `ours` lacks them); any difference that names a referral table counts.
    assert [d for d in diff if "referral_" in repr(d)] == []


@dataclass
class _App:
    """The attributes of curbside's CLI context that referral commands use."""

    engine: Engine
    audit: AuditLog
    settings: SimpleNamespace
    cipher: None = None


def test_cli_export_writes_a_bundle(referral_db: ReferralDb, tmp_path: Path) -> None:
    referral_id = _sent_referral(referral_db)
    secrets = SimpleNamespace(master_key_bytes=referral_db.master_key)
    app = _App(referral_db.engine, referral_db.env.audit, SimpleNamespace(secrets=secrets))
    out = tmp_path / "bundle.json"
    result = CliRunner().invoke(referral_cli, ["export", referral_id, "-o", str(out)], obj=app)
    assert result.exit_code == 0, result.output
    bundle = json.loads(out.read_text())
    assert bundle["resourceType"] == "Bundle"
    assert referral_id in json.dumps(bundle)
    missing = CliRunner().invoke(referral_cli, ["export", "RF-NOPE"], obj=app)
    assert missing.exit_code == 1 and "there is no referral RF-NOPE" in missing.output


def test_cli_disclosures_report(referral_db: ReferralDb) -> None:
    secrets = SimpleNamespace(master_key_bytes=referral_db.master_key)
    app = _App(referral_db.engine, referral_db.env.audit, SimpleNamespace(secrets=secrets))
    args = ["--patient", "Maria Testpatient", "--dob", "1957-03-14"]
    empty = CliRunner().invoke(disclosures_command, args, obj=app)
    assert empty.exit_code == 0 and "no disclosures recorded" in empty.output
    bad = CliRunner().invoke(disclosures_command, ["--patient", "X Y", "--dob", "14/3/57"], obj=app)
    assert bad.exit_code == 2 and "like 1957-03-14" in bad.output


def test_two_verdicts_at_once_never_write_over_each_other(
    referral_db: ReferralDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The delivery job's "accepted" and the outbox's "delivered" race on handler threads.

    A rival records "delivered" after this verdict read the attempt as pending
    and before it writes: on SQLite (reads lock nothing) the later write must
    not put the attempt back to "accepted"; on PostgreSQL the row lock makes
    the rival wait, and it then moves the accepted attempt on to delivered.
    """
    referral_id = _sent_referral(referral_db)
    engine, env = referral_db.engine, referral_db.env
    with session_scope(engine) as session:
        job = delivery.prepare_delivery(session, env, referral_id, channel="matrix",
                                        actor=REFERRER)
    key = job.idempotency_key
    delivered = delivery.DeliveryReceipt(delivery.DeliveryStatus.DELIVERED,
                                         provider_ref="!dm:x $packet")
    accepted = delivery.DeliveryReceipt(delivery.DeliveryStatus.ACCEPTED, provider_ref="!dm:x")
    decide = delivery.next_status
    rivals: list[threading.Thread] = []

    def record_rival() -> None:
        with session_scope(engine) as session:
            delivery.record_delivery_outcome(session, env, key, delivered)

    def decide_with_a_rival(current, reported):  # type: ignore[no-untyped-def]
        if not rivals:
            rivals.append(threading.Thread(target=record_rival))
            rivals[0].start()
            rivals[0].join(timeout=2)  # done on SQLite; waiting for our row lock on PostgreSQL
        return decide(current, reported)

    monkeypatch.setattr(delivery, "next_status", decide_with_a_rival)
    with session_scope(engine) as session:
        delivery.record_delivery_outcome(session, env, key, accepted)
    rivals[0].join(timeout=20)
    assert not rivals[0].is_alive()
    with session_scope(engine) as session:
        attempt = session.scalars(select(DeliveryAttempt).where(
            DeliveryAttempt.idempotency_key == key)).one()
        assert (attempt.status, attempt.provider_ref) == ("delivered", "!dm:x $packet")
        assert cases.get_referral(session, referral_id).business_status == "delivered"


@pytest.mark.parametrize(
    ("name", "data", "why"),
    [
        ("tree.pdf", page_tree_bomb(200_000), "200,000 .*pages; the limit is 500"),
        ("bomb.png", png_bomb(20_000), "400,000,000 pixels"),
        ("image.pdf", huge_image_pdf(), "an image in the PDF is 40,000,000,000 pixels"),
    ],
)
def test_hostile_attachments_are_refused_by_the_sandbox_and_nothing_is_stored(
    referral_db: ReferralDb, name: str, data: bytes, why: str
) -> None:
    with session_scope(referral_db.engine) as session:
        referral_id = cases.create_referral(
            session, referral_db.env, fax_request(), referrer=REFERRER
        ).id
    with (
        session_scope(referral_db.engine) as session,
        pytest.raises(FieldError, match=f"{name} was refused: .*{why}"),
    ):
        cases.add_attachment(session, referral_db.env, referral_id, actor=REFERRER,
                             filename=name, data=data)
    with session_scope(referral_db.engine) as session:
        assert not cases.get_referral(session, referral_id).attachments
