"""Shared page geometry and type for fax-legible documents.

Fax pages are 1-bit at 204x98 or 204x196 dpi: anything grey dithers into
noise and a hairline vanishes. So text is pure black, at least 10 pt, rules
are at least 1 pt, and the only fill is solid black behind white bold type.
"""

from __future__ import annotations

from reportlab.lib.colors import black, white
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch

PAGE = LETTER
MARGIN = 0.75 * inch
RULE = 1.2  # points; thinner lines drop out at fax resolution
MIN_POINTS = 10

BODY = ParagraphStyle(
    "body", fontName="Helvetica", fontSize=11, leading=14, textColor=black, alignment=TA_LEFT
)
LABEL = ParagraphStyle("label", parent=BODY, fontName="Helvetica-Bold")
HEADING = ParagraphStyle(
    "heading", parent=BODY, fontName="Helvetica-Bold", fontSize=13, leading=16, spaceBefore=10
)
TITLE = ParagraphStyle("title", parent=BODY, fontName="Helvetica-Bold", fontSize=20, leading=24)
SMALL = ParagraphStyle("small", parent=BODY, fontSize=MIN_POINTS, leading=12.5)
INVERSE = ParagraphStyle("inverse", parent=LABEL, fontSize=14, leading=18, textColor=white)

__all__ = [
    "BODY",
    "HEADING",
    "INVERSE",
    "LABEL",
    "MARGIN",
    "PAGE",
    "RULE",
    "SMALL",
    "TITLE",
    "black",
    "white",
]
