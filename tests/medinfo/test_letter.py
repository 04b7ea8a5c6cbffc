"""The response letter as a clinician reads it (the PDF's text, pages and bytes), and the
answers it is made from, kept sealed with the request."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import UTC, date, datetime

import pypdf

from bots.medinfo import letter, routing
from bots.medinfo.intake import Choice, Draft
from bots.medinfo.models import RequestRow
from bots.medinfo.sponsors import Member, Sponsor
from bots.medinfo.store import Envelope, RequestStore
from curbside.audit import AuditLog
from curbside.credentials import Credential
from curbside.phi import FieldCipher
from tests.medinfo.sponsor_fixtures import directory

QUESTION = "Can Cardiova be taken with grapefruit juice by a patient on dialysis?"
ANSWERS = ("No interaction study with grapefruit exists.",
           "In dialysis no dose change is needed; see section 8.6.")


def _northwind() -> Sponsor:
    sponsor = directory().get("northwind")
    assert sponsor is not None
    return sponsor


def _credential() -> Credential:
    return Credential(
        user_id="@dana:curbside.test", npi="1234567893", legal_name="Dana Whitfield",
        credential_text="MD", specialty="Cardiovascular Disease", licence_state="MA",
        expires_at=datetime(2031, 1, 1, tzinfo=UTC),
    )


def _letter(*, share_identity: bool = False, sponsor: Sponsor | None = None,
            answers: tuple[str, ...] = ANSWERS,
            responder: str = "@msl:north.example") -> letter.Letter:
    sponsor = sponsor or _northwind()
    product = Choice("northwind", sponsor.name, "Cardiova", "velostatin", "cardiology")
    return letter.compose(
        sponsor, reference="MI-ABC123", dated=date(2026, 11, 30),
        addressee=routing.requester(_credential(), share_identity=share_identity),
        draft=Draft(question=QUESTION, product=product), answers=answers,
        documents=("Cardiova-PI.pdf", "Grapefruit-SRL.pdf"),
        responder=responder,
    )


def _pages(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_the_letter_carries_question_answers_documents_and_disclaimer() -> None:
    text = _flat(" ".join(_pages(letter.render(_letter()))))
    for expected in ("Northwind Pharma", "Medical Information", "30 November 2026",
                     "MI-ABC123", letter.SUBJECT, "Cardiova (velostatin)", QUESTION, *ANSWERS,
                     "Cardiova-PI.pdf", "Grapefruit-SRL.pdf",
                     "Medical Science Liaison, Northwind Pharma", "Page 1 of 1",
                     "a verified Cardiovascular Disease clinician in MA"):
        assert expected in text, expected
    assert text.index(ANSWERS[0]) < text.index(ANSWERS[1]), "answers keep their order"
    for line in letter.disclaimer_lines("Northwind Pharma", "", "MI-ABC123"):
        assert _flat(line) in text, line
    assert "unsolicited request" in text and "full prescribing information" in text
    assert "pharmacovigilance" in text


def test_no_npi_or_name_without_consent_and_both_with_it() -> None:
    without = _flat(" ".join(_pages(letter.render(_letter(share_identity=False)))))
    assert "1234567893" not in without and "Whitfield" not in without
    with_consent = _flat(" ".join(_pages(letter.render(_letter(share_identity=True)))))
    assert "NPI 1234567893" in with_consent and "Dana Whitfield" in with_consent


def test_responder_contact_and_pv_contact_only_when_configured() -> None:
    plain = _flat(" ".join(_pages(letter.render(_letter()))))
    assert "msl@north.example" not in plain and "contact:" not in plain
    sponsor = _northwind()
    configured = replace(
        sponsor, pv_contact="1-800-555-0100 or safety@north.example",
        members=tuple(replace(m, contact="jane.roe@north.example")
                      if m.role == "msl" else m for m in sponsor.members))
    assert any(isinstance(m, Member) and m.contact for m in configured.members)
    text = _flat(" ".join(_pages(letter.render(_letter(sponsor=configured)))))
    assert "contact: jane.roe@north.example" in text
    assert "contact 1-800-555-0100 or safety@north.example" in text


def test_the_sponsor_file_configures_the_contacts_a_letter_prints() -> None:
    helix = directory().get("helix")
    assert helix is not None
    composed = _letter(sponsor=helix, responder="@msl:helix.example")
    text = _flat(" ".join(_pages(letter.render(composed))))
    assert "Medical Science Liaison, Helix Therapeutics — contact: msl.desk@helix.example" in text
    assert "contact +44 20 7946 0000 or drugsafety@helix.example" in text


def test_a_long_answer_numbers_every_page_of_the_total() -> None:
    long_answer = tuple(f"Paragraph {n}: " + "pharmacokinetic detail " * 40 for n in range(12))
    pages = _pages(letter.render(_letter(answers=long_answer)))
    assert len(pages) >= 2
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page


def test_same_inputs_give_the_same_bytes() -> None:
    first = letter.render(_letter())
    letter.render(_letter(answers=("CrCl ≥ 30 mL/min",)))  # font subsets are per document
    assert letter.render(_letter()) == first
    assert first.startswith(b"%PDF-")
    later = letter.render(replace(_letter(), dated=date(2026, 12, 1)))
    assert later != first, "the date is data, so a different date changes the bytes"


def test_markup_in_an_answer_is_printed_as_text() -> None:
    hostile = "Use <b>half</b> & <font size=2>see PI</font>\nthen recheck"
    text = " ".join(_pages(letter.render(_letter(answers=(hostile,)))))
    assert "Use <b>half</b> & <font size=2>see PI</font>" in text
    assert "then recheck" in text


def test_signs_beyond_latin_1_are_printed() -> None:
    text = " ".join(_pages(letter.render(_letter(answers=("CrCl ≥ 30 mL/min; 5 µg ± 1",)))))
    assert "CrCl ≥ 30 mL/min; 5 µg ± 1" in text


def test_answers_are_sealed_and_envelopes_from_before_letters_still_open() -> None:
    cipher = FieldCipher({"k1": bytes(range(32))}, "k1")
    store = RequestStore("@medinfo:curbside.test", cipher, AuditLog(b"k" * 32))
    row = RequestRow(id="abc123def456")
    envelope = Envelope(Draft(question=QUESTION), answers=list(ANSWERS),
                        documents=["Cardiova-PI.pdf"], letter_covers=2)
    store.seal(row, envelope)
    assert ANSWERS[0] not in row.sealed_draft
    reopened = store.open(row)
    assert (reopened.answers, reopened.documents, reopened.letter_covers) == (
        list(ANSWERS), ["Cardiova-PI.pdf"], 2)
    assert reopened.uncovered, "the document is not in the last letter"
    old: dict[str, object] = {"draft": Draft(question=QUESTION).to_json(), "pending_text": None,
           "pending_file": None, "pending_safety": []}
    row.sealed_draft = cipher.encrypt_bytes(json.dumps(old).encode(),
                                            b"medinfo_requests.sealed_draft\x1fabc123def456")
    assert not store.open(row).uncovered
