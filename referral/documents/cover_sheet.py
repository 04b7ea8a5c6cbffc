"""The fax cover sheet: date, to, from, page count, and what to do if misdirected.

The cover sheet carries no patient identifiers — only the referral id — so a
fax that lands on the wrong machine shows a stranger nothing on its first
page but the notice asking them to call and destroy it. Its page count
includes itself, the way fax recipients count.
"""

from __future__ import annotations

from io import BytesIO
from xml.sax.saxutils import escape

from reportlab.lib.units import inch
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Frame, Paragraph, Table, TableStyle

from curbside.phones import display
from referral.documents.content import URGENCY_LABELS, ReferralDocument, format_date
from referral.documents.style import BODY, INVERSE, LABEL, MARGIN, PAGE, RULE, SMALL, black

CONFIDENTIALITY_NOTICE = (
    "<b>CONFIDENTIALITY NOTICE.</b> The pages that follow contain protected health "
    "information that is confidential under federal and state law, including HIPAA "
    "(45 CFR Parts 160 and 164). They are intended only for the recipient named above, "
    "for the patient's treatment. The recipient may not disclose this information to "
    "anyone else except as the law permits. If these pages include substance use "
    "disorder records protected by 42 CFR Part 2, that rule prohibits any further "
    "disclosure of them unless the patient's written consent expressly permits it or "
    "42 CFR Part 2 otherwise allows it; a general authorization to release medical "
    "information is not sufficient."
)


TITLE_GAP = 18  # points between the title and the sender's name and numbers
TITLE_MIN = 16


def misdirected_notice(sender_phone: str) -> str:
    return (
        "<b>IF YOU RECEIVED THIS FAX IN ERROR:</b> do not read, copy, forward or use it. "
        f"Call the sender at <b>{display(sender_phone)}</b> right away, then destroy "
        "every page (shred) or return them as the sender asks. Reading, copying or sharing "
        "a misdirected fax is prohibited."
    )


def _party_table(title: str, rows: list[tuple[str, str]], width: float) -> Table:
    data = [[Paragraph(title, LABEL), ""]] + [
        [Paragraph(label, LABEL), Paragraph(value, BODY)] for label, value in rows
    ]
    table = Table(data, colWidths=[0.9 * inch, width - 0.9 * inch])
    table.setStyle(
        TableStyle(
            [
                ("SPAN", (0, 0), (-1, 0)),
                ("BOX", (0, 0), (-1, -1), RULE, black),
                ("LINEBELOW", (0, 0), (-1, 0), RULE, black),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def _title_size(canvas: Canvas, title: str, room: float) -> float:
    """The largest size up to 30 pt at which ``title`` leaves the sender's block clear."""
    size = 30.0
    while size > TITLE_MIN and canvas.stringWidth(title, "Helvetica-Bold", size) > room:
        size -= 1
    return size


def render_cover_sheet(doc: ReferralDocument, total_pages: int) -> bytes:
    """One page; ``total_pages`` counts this cover too."""

    buffer = BytesIO()
    canvas = Canvas(buffer, pagesize=PAGE, invariant=1)
    canvas.setTitle(f"Fax cover {doc.referral_id}")
    canvas.setCreator("Curbside")
    width, height = PAGE
    inner = width - 2 * MARGIN
    top = height - MARGIN

    canvas.setFillColor(black)
    contact = f"Phone {display(doc.sender.phone)}  ·  Fax {display(doc.sender.fax)}"
    beside = max(
        canvas.stringWidth(doc.sender.organisation, "Helvetica-Bold", 13),
        canvas.stringWidth(contact, "Helvetica", 11),
    )
    title = "FAX" if doc.recipient_is_fax else "REFERRAL PACKET"
    canvas.setFont("Helvetica-Bold", _title_size(canvas, title, inner - beside - TITLE_GAP))
    canvas.drawString(MARGIN, top - 30, title)
    canvas.setFont("Helvetica-Bold", 13)
    canvas.drawRightString(width - MARGIN, top - 14, doc.sender.organisation)
    canvas.setFont("Helvetica", 11)
    canvas.drawRightString(width - MARGIN, top - 30, contact)
    canvas.setLineWidth(RULE * 2)
    canvas.line(MARGIN, top - 42, width - MARGIN, top - 42)

    summary = Table(
        [
            [
                Paragraph("Date", LABEL),
                Paragraph(format_date(doc.document_date), BODY),
                Paragraph("Pages", LABEL),
                Paragraph(f"<b>{total_pages}</b> (including this cover)", BODY),
            ],
            [
                Paragraph("Re", LABEL),
                Paragraph(
                    f"Referral {escape(doc.referral_id)} · {URGENCY_LABELS[doc.urgency]}", BODY
                ),
                "",
                "",
            ],
        ],
        colWidths=[0.9 * inch, inner / 2 - 0.9 * inch, 0.9 * inch, inner / 2 - 0.9 * inch],
    )
    summary.setStyle(TableStyle([("SPAN", (1, 1), (-1, 1)), ("VALIGN", (0, 0), (-1, -1), "TOP")]))

    recipient = doc.recipient
    to_rows = [("Name", escape(recipient.name))]
    if doc.recipient_is_fax:
        to_rows.append(("Fax", display(recipient.address)))
    else:
        to_rows.append(("Matrix", escape(recipient.address)))
    if recipient.phone:
        to_rows.append(("Phone", display(recipient.phone)))
    sender = doc.sender
    from_rows = [
        ("Name", escape(sender.name)),
        ("Org", escape(sender.organisation)),
        ("Phone", display(sender.phone)),
        ("Fax", display(sender.fax)),
    ]
    column = (inner - 12) / 2
    parties = Table(
        [[_party_table("TO", to_rows, column), _party_table("FROM", from_rows, column)]],
        colWidths=[column + 12, column],
    )
    parties.setStyle(
        TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)])
    )

    answer = (
        "The referral letter follows this cover, then a fax-back reply sheet: tick your "
        "answer on it and fax it back, with the consult note behind it. Enclosed records "
        "come last."
        if doc.recipient_is_fax
        else "The referral letter follows this cover, then any enclosed records. To accept, "
        "decline or ask a question, call or fax the sender and quote the referral ID."
    )
    message = Paragraph(f"Please find enclosed a referral for your review. {answer}", BODY)
    banner_items: list[Table | Paragraph] = []
    if doc.urgency != "routine":
        banner = Table(
            [[Paragraph(f"{URGENCY_LABELS[doc.urgency]}: please review promptly", INVERSE)]],
            colWidths=[inner],
        )
        banner.setStyle(TableStyle([("BACKGROUND", (0, 0), (-1, -1), black)]))
        banner_items.append(banner)

    notice = Table(
        [
            [Paragraph(CONFIDENTIALITY_NOTICE, SMALL)],
            [Paragraph(misdirected_notice(sender.phone), SMALL)],
        ],
        colWidths=[inner],
    )
    notice.setStyle(
        TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), RULE * 2, black),
                ("LINEBELOW", (0, 0), (-1, 0), RULE, black),
                ("LEFTPADDING", (0, 0), (-1, -1), 8),
                ("RIGHTPADDING", (0, 0), (-1, -1), 8),
                ("TOPPADDING", (0, 0), (-1, -1), 6),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
            ]
        )
    )

    body = Frame(
        MARGIN,
        MARGIN + 3.1 * inch,
        inner,
        top - 54 - MARGIN - 3.1 * inch,
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
    )
    spacer = Table([[""]], rowHeights=[12])
    body.addFromList([summary, spacer, parties, spacer, *banner_items, spacer, message], canvas)
    footer = Frame(
        MARGIN,
        MARGIN,
        inner,
        3.0 * inch,
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
    )
    footer.addFromList([notice], canvas)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
