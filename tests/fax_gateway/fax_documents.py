"""Small PDFs that look like what clinics fax, made with reportlab and Pillow.

Shared by the fax gateway tests and ``benchmarks/fax_render.py`` so both
measure the same documents. Nothing here is patient data.
"""

from __future__ import annotations

import io

from PIL import Image
from reportlab.lib.pagesizes import A4, landscape, letter
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

_PARAGRAPH = (
    "Thank you for seeing this patient, who was referred for evaluation of "
    "exertional chest pain. Current medication and recent results are listed "
    "below; please contact the referring clinic with any questions."
)


def _letter_page(pdf: canvas.Canvas, page: int, total: int, size: tuple[float, float]) -> None:
    width, height = size
    pdf.setFont("Helvetica-Bold", 16)
    pdf.drawString(72, height - 80, "Referral letter")
    pdf.setFont("Helvetica", 10)
    y = height - 110
    line = 0
    while y > 90:
        words = f"{line + 1:02d}. {_PARAGRAPH}"
        pdf.drawString(72, y, words[:95])
        y -= 14
        line += 1
    pdf.setFont("Times-Roman", 8)
    pdf.drawString(width - 140, 40, f"page {page} of {total}")
    pdf.rect(60, 60, width - 120, height - 120)


def text_letter(pages: int = 1, size: tuple[float, float] = letter) -> bytes:
    """A typed letter of ``pages`` pages; text and rules only."""
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=size)
    for page in range(1, pages + 1):
        _letter_page(pdf, page, pages, size)
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def photo_gradient() -> Image.Image:
    """A left-to-right grey ramp, black to white: the shape of a photo's tones."""
    return Image.linear_gradient("L").rotate(90, expand=True)


def scanned_photo_page(size: tuple[float, float] = A4) -> bytes:
    """A caption over a large continuous-tone image, like a scanned photograph.

    The image spans x 72..522 pt, y 250..650 pt (from the bottom).
    """
    height = size[1]
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=size)
    pdf.setFont("Helvetica", 12)
    pdf.drawString(72, height - 72, "Wound photograph, day 3")
    ramp = photo_gradient().resize((900, 800)).convert("RGB")
    pdf.drawImage(ImageReader(ramp), 72, 250, width=450, height=400)
    soft = Image.radial_gradient("L").resize((300, 300)).convert("RGB")
    pdf.drawImage(ImageReader(soft), 72, 60, width=150, height=150)
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def landscape_page() -> bytes:
    """A Letter page in landscape: a wide table-like form."""
    size = landscape(letter)
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=size)
    pdf.setFont("Helvetica-Bold", 18)
    pdf.drawString(72, size[1] - 72, "Medication chart (landscape)")
    pdf.setFont("Helvetica", 10)
    for row in range(20):
        y = size[1] - 110 - row * 22
        pdf.line(60, y - 6, size[0] - 60, y - 6)
        pdf.drawString(72, y, f"Row {row + 1}   08:00   12:00   18:00   22:00   notes")
    pdf.showPage()
    pdf.save()
    return out.getvalue()


SAMPLE_DOCUMENTS = {
    "letter_text": lambda: text_letter(1, letter),
    "a4_text": lambda: text_letter(2, A4),
    "scanned_photo": scanned_photo_page,
    "landscape": landscape_page,
}
