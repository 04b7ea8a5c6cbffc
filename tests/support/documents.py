"""Small PDFs for tests that send documents: one line of text per page."""

from __future__ import annotations

import io

from reportlab.lib.pagesizes import letter
from reportlab.pdfgen import canvas


def make_pdf(pages: int = 1, text: str = "Referral letter") -> bytes:
    """A Letter-size PDF of ``pages`` pages reading "<text> - page n of N"."""
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=letter)
    for number in range(1, pages + 1):
        page.setFont("Helvetica", 14)
        page.drawString(72, 700, f"{text} - page {number} of {pages}")
        page.showPage()
    page.save()
    return buffer.getvalue()
