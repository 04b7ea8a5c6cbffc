"""Packet rendering: content, page counts, fax legibility, QR, byte-for-byte determinism."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import replace
from io import BytesIO

import pikepdf
import pypdfium2
import pytest
import zxingcpp
from PIL import Image
from pypdf import PdfReader

from curbside.phones import display
from referral.documents.content import AttachmentFile, format_date
from referral.documents.cover_sheet import render_cover_sheet
from referral.documents.letter import render_letter
from referral.documents.packet import Packet, build_packet
from referral.documents.reply_sheet import render_reply_sheet
from tests.referral.samples import lab_pdf, sample_document, scan_png


@pytest.fixture(scope="module")
def packet() -> Packet:
    return build_packet(sample_document())


def _text(pdf: bytes) -> list[str]:
    return [" ".join(page.extract_text().split()) for page in PdfReader(BytesIO(pdf)).pages]


def test_pages_are_cover_letter_reply_sheet_and_attachments(packet: Packet) -> None:
    # cover 1 + letter + reply sheet (a fax recipient) + image (1 page) + lab PDF (2 pages)
    assert (packet.attachment_pages, packet.reply_pages) == (3, 1)
    pages = _text(packet.data)
    assert packet.pages == 1 + packet.letter_pages + 1 + 3 == len(pages)
    assert f"{packet.pages} (including this cover)" in pages[0]
    sheet = pages[1 + packet.letter_pages]
    assert "FAX-BACK REPLY" in sheet and "ATTACH THE CONSULT NOTE BEHIND THIS PAGE" in sheet


def test_a_matrix_recipient_gets_no_reply_sheet() -> None:
    doc = replace(sample_document(), recipient_is_fax=False)
    packet = build_packet(doc)
    assert packet.reply_pages == 0
    assert packet.pages == 1 + packet.letter_pages + packet.attachment_pages


def test_the_reply_sheet_qr_decodes_to_the_referral_id_only() -> None:
    sheet = render_reply_sheet(sample_document())
    image = pypdfium2.PdfDocument(sheet)[0].render(scale=200 / 72).to_pil()
    assert [code.text for code in zxingcpp.read_barcodes(image)] == [
        "CURBSIDE-REPLY:RF-7K3M9Q2X"]
    text = _text(sheet)[0]
    doc = sample_document()
    for phi in [doc.patient_name, doc.mrn, doc.member_id, format_date(doc.date_of_birth)]:
        assert phi not in text


def test_letter_has_every_field_and_page_numbers(packet: Packet) -> None:
    doc = sample_document()
    pages = _text(packet.data)
    letter = " ".join(pages[1 : 1 + packet.letter_pages])
    expected = [
        doc.patient_name,
        format_date(doc.date_of_birth),
        "Female",
        doc.mrn,
        display(doc.patient_phone),
        doc.payer,
        doc.member_id,
        f"{doc.referrer_name}, {doc.referrer_credential}",
        doc.referrer_npi,
        doc.referrer_specialty,
        doc.referring_org_name,
        doc.recipient.name,
        display(doc.recipient.address),
        doc.reason,
        *doc.icd10_codes,
        doc.clinical_question,
        "URGENT",
        "attests that the patient consented",
        doc.referral_id,
        *(a.filename for a in doc.attachments),
    ]
    for value in expected:
        assert value in letter, value
    for number in range(1, packet.letter_pages + 1):
        assert f"Page {number} of {packet.letter_pages}" in pages[number]


def test_cover_sheet_has_parties_notice_and_no_patient_identifiers(packet: Packet) -> None:
    doc = sample_document()
    cover = _text(packet.data)[0]
    for value in [
        format_date(doc.document_date),
        doc.recipient.name,
        display(doc.recipient.address),
        display(doc.recipient.phone),
        doc.sender.name,
        display(doc.sender.phone),
        display(doc.sender.fax),
        "42 CFR Part 2",
        "HIPAA",
        "IF YOU RECEIVED THIS FAX IN ERROR",
        "destroy",
    ]:
        assert value in cover, value
    for phi in [doc.patient_name, doc.mrn, doc.member_id, format_date(doc.date_of_birth)]:
        assert phi not in cover


def test_long_text_flows_onto_more_letter_pages() -> None:
    doc = replace(sample_document(attachments=()), reason="Palpitations and dyspnoea. " * 300)
    packet = build_packet(doc)
    assert packet.letter_pages >= 3
    assert packet.pages == 1 + packet.letter_pages + packet.reply_pages
    assert f"Page 3 of {packet.letter_pages}" in _text(packet.data)[3]


def test_qr_code_decodes_to_the_referral_id_only() -> None:
    letter = render_letter(sample_document())
    page = pypdfium2.PdfDocument(letter)[0]
    image = page.render(scale=200 / 72).to_pil()  # about fax fine resolution
    found = [code.text for code in zxingcpp.read_barcodes(image)]
    assert found == ["CURBSIDE-REFERRAL:RF-7K3M9Q2X"]


def _number(operand: object) -> float | None:
    try:
        return float(operand)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _drawing_operators(pdf: bytes) -> list[tuple[str, list[float]]]:
    ops = []
    with pikepdf.open(BytesIO(pdf)) as document:
        for page in document.pages:
            for instruction in pikepdf.parse_content_stream(page):
                if isinstance(instruction, pikepdf.ContentStreamInstruction):
                    numbers = [n for n in map(_number, instruction.operands) if n is not None]
                    ops.append((str(instruction.operator), numbers))
    return ops


@pytest.mark.parametrize("part", ["letter", "cover"])
def test_fax_legible_black_text_at_least_10pt_no_hairlines(part: str) -> None:
    doc = sample_document()
    pdf = render_letter(doc) if part == "letter" else render_cover_sheet(doc, 6)
    ops = _drawing_operators(pdf)
    sizes = [nums[-1] for op, nums in ops if op == "Tf"]
    assert sizes and min(sizes) >= 10
    width, saved = 1.0, []
    for op, nums in ops:
        if op in {"rg", "RG", "g", "G"}:
            assert set(nums) <= {0.0, 1.0}, (op, nums)  # black or white, never grey
        elif op == "w":
            width = nums[0]
        elif op == "q":
            saved.append(width)
        elif op == "Q":
            width = saved.pop()
        elif op in {"S", "s", "B", "B*", "b", "b*"}:
            assert width >= 1.0, width  # thinner strokes vanish at fax resolution


def _sha_in_fresh_process() -> str:
    code = (
        "import hashlib, sys\n"
        "from tests.referral.samples import sample_document\n"
        "from referral.documents.packet import build_packet\n"
        "sys.stdout.write(build_packet(sample_document()).sha256)\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "random"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=os.getcwd(),
    )
    return result.stdout


def test_same_referral_same_bytes_across_processes(packet: Packet) -> None:
    first, second = _sha_in_fresh_process(), _sha_in_fresh_process()
    assert first == second == packet.sha256 == hashlib.sha256(packet.data).hexdigest()


def test_any_change_changes_the_hash(packet: Packet) -> None:
    other = replace(sample_document(), clinical_question="Rate or rhythm control?")
    assert build_packet(other).sha256 != packet.sha256
    jpeg = BytesIO()

    Image.open(BytesIO(scan_png())).convert("RGB").save(jpeg, format="JPEG")
    with_jpeg = replace(
        sample_document(),
        attachments=(
            AttachmentFile("ecg.jpg", "image/jpeg", jpeg.getvalue()),
            AttachmentFile("labs.pdf", "application/pdf", lab_pdf(pages=1)),
        ),
    )
    assert build_packet(with_jpeg).pages == 1 + packet.letter_pages + 1 + 2


def test_letter_fits_one_page_with_urgency_once_and_code_descriptions(packet: Packet) -> None:
    assert packet.letter_pages == 1
    letter = _text(packet.data)[1]
    assert letter.count("URGENT") == 1  # the banner; no second "Urgency" section
    assert "I48.91 Unspecified atrial fibrillation" in letter
    assert "R00.2 Palpitations" in letter


def test_every_enclosure_page_names_the_referral_and_its_packet_page(packet: Packet) -> None:
    pages = _text(packet.data)
    # Stamped: every page after the letter, the fax-back reply sheet included.
    after_letter = 1 + packet.letter_pages
    for number in range(after_letter + 1, packet.pages + 1):
        stamp = f"Referral {packet.referral_id} · packet page {number} of {packet.pages}"
        assert stamp in pages[number - 1], (number, pages[number - 1])
    assert not any("packet page" in page for page in pages[:after_letter])


def _right_edge_of(text_page: pypdfium2.PdfTextPage, needle: str) -> tuple[float, float]:
    """(left of the first char, right of the last char) of ``needle`` on the page."""
    text = text_page.get_text_range()
    start = text.index(needle)
    left = text_page.get_charbox(start)[0]
    right = text_page.get_charbox(start + len(needle) - 1)[2]
    return left, right


def test_cover_title_leaves_the_senders_numbers_clear() -> None:
    doc = sample_document()
    to_matrix = replace(doc, recipient_is_fax=False,
                        recipient=replace(doc.recipient, address="@kim:curbside.example"))
    pdf = pypdfium2.PdfDocument(render_cover_sheet(to_matrix, 5))
    text_page = pdf[0].get_textpage()
    _, title_right = _right_edge_of(text_page, "REFERRAL PACKET")
    phone_left, _ = _right_edge_of(text_page, "Phone +1")
    organisation_left, _ = _right_edge_of(text_page, doc.sender.organisation)
    assert title_right < min(phone_left, organisation_left)
