"""Synthetic referral data (no real person) shared by tests, the benchmark and docs."""

from __future__ import annotations

from datetime import UTC, date, datetime
from io import BytesIO

from PIL import Image, ImageDraw
from reportlab.lib.pagesizes import LETTER
from reportlab.pdfgen.canvas import Canvas

from referral.documents.content import AttachmentFile, Party, ReferralDocument


def scan_png(label: str = "ECG 12-lead, 2026-11-20") -> bytes:
    """A small synthetic 'scanned' image with a visible trace."""
    image = Image.new("RGB", (850, 1100), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 40, 810, 1060), outline="black", width=4)
    draw.text((70, 70), label, fill="black")
    for row in range(4):
        y = 200 + row * 220
        points = [
            (60 + x * 8, y + (40 if x % 12 == 6 else 0) - (90 if x % 12 == 7 else 0))
            for x in range(92)
        ]
        draw.line(points, fill="black", width=3)
    buffer = BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def lab_pdf(pages: int = 2, title: str = "Basic metabolic panel") -> bytes:
    """A synthetic multi-page lab report PDF."""
    buffer = BytesIO()
    canvas = Canvas(buffer, pagesize=LETTER, invariant=1)
    for number in range(1, pages + 1):
        canvas.setFont("Helvetica-Bold", 16)
        canvas.drawString(72, 720, f"{title} (page {number} of {pages})")
        canvas.setFont("Helvetica", 12)
        for line, (name, value) in enumerate(
            [("Sodium", "139 mmol/L"), ("Potassium", "4.1 mmol/L"), ("Creatinine", "0.9 mg/dL")]
        ):
            canvas.drawString(72, 680 - 20 * line, f"{name}: {value}")
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


SENT_AT = datetime(2026, 11, 23, 14, 5, tzinfo=UTC)


def sample_document(attachments: tuple[AttachmentFile, ...] | None = None) -> ReferralDocument:
    if attachments is None:
        attachments = (
            AttachmentFile("ecg-2026-11-20.png", "image/png", scan_png()),
            AttachmentFile("bmp-2026-11-19.pdf", "application/pdf", lab_pdf()),
        )
    return ReferralDocument(
        referral_id="RF-7K3M9Q2X",
        document_date=SENT_AT,
        urgency="urgent",
        patient_name="Maria Q. Testpatient",
        date_of_birth=date(1957, 3, 14),
        sex="female",
        mrn="A-123456",
        patient_phone="+16175550134",
        payer="Blue Cross Blue Shield of Massachusetts",
        member_id="XJH123456789",
        referring_org_name="Harbor Family Medicine",
        referrer_name="Dana Whitfield",
        referrer_credential="MD",
        referrer_npi="1234567893",
        referrer_specialty="Family Medicine",
        referrer_user_id="@dana:curbside.example",
        sender=Party(
            name="Dana Whitfield, MD",
            organisation="Harbor Family Medicine",
            phone="+16175550100",
            fax="+16175550101",
            address="@dana:curbside.example",
        ),
        recipient=Party(
            name="Beacon Cardiology Associates",
            organisation="Beacon Cardiology Associates",
            phone="+16175550190",
            fax="+16175550199",
            address="+16175550199",
        ),
        recipient_is_fax=True,
        reason=(
            "New atrial fibrillation found at a routine visit, rate 112 at rest; "
            "started on metoprolol. Palpitations for three weeks, no syncope."
        ),
        icd10_codes=("I48.91", "R00.2"),
        clinical_question="Is anticoagulation indicated, and would you consider rhythm control?",
        consent_attested_by="Dana Whitfield, MD",
        consent_attested_at=datetime(2026, 11, 23, 13, 40, tzinfo=UTC),
        attachments=attachments,
    )
