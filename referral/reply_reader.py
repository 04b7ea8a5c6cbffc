"""Reading a faxed-back reply sheet: which referral, which boxes, which date — or "unclear".

    received pages (grey, square pixels, at ``dpi``)
      for each page: QR "CURBSIDE-REPLY:RF-…"? ─► align (reply_marks) ─► read
                     no QR but our four fiducials and our printed boxes? ─► a sheet
                     whose id could not be read (never guessed)
      tick box  = ink share inside it: marked ≥ MARKED, blank ≤ BLANK, else unclear
      bubbles   = per digit column: one marked bubble and the rest blank, else unclear
      then what the marks say must be one consistent answer (rules below)
    ─► ReplyReading per sheet: the referral id, the answers, the appointment,
       the pages behind it (the consult note), crops of the written reason,
       and ``unclear`` — every doubt, in words for the coordinator

Pure: pixels in, a reading out; no database, no Matrix. What a reading
*does* to a referral is the desk's business. A reading with anything in
``unclear`` must not be acted on — it goes to a person with the pages.
"""

from __future__ import annotations

import calendar
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from PIL import Image

from referral.documents import reply_layout as layout
from referral.documents.reply_layout import Answer
from referral.reply_marks import MAX_RESIDUAL_PT, Alignment, Grey, InkMeter, align, find_qr_codes

READ_DPI = 120  # pages are rasterised at this many pixels per inch (square) to be read
BOX_MARKED, BOX_BLANK = 0.10, 0.04  # ink share inside a tick box
BUBBLE_MARKED, BUBBLE_BLANK = 0.40, 0.14  # ink share inside a bubble
OUTLINE_PRESENT = 0.6  # ink share along our printed box borders on a sheet without a QR
BLANK_PAGE = 0.002  # a page behind the sheet with less ink than this is not part of the note
_BOX_SAMPLE = layout.BOX_SIZE - 2 * 5.5  # the middle of a tick box, clear of its border
_BUBBLE_SAMPLE = layout.BUBBLE_DIAMETER / 2 - 3.0  # radius read inside a bubble


class Mark(StrEnum):
    BLANK = "blank"
    MARKED = "marked"
    UNCLEAR = "unclear"


def _mark(share: float, marked: float, blank: float) -> Mark:
    if share >= marked:
        return Mark.MARKED
    if share <= blank:
        return Mark.BLANK
    return Mark.UNCLEAR


@dataclass(frozen=True, slots=True)
class Appointment:
    month: int
    day: int
    hour: int
    minute: int

    def __str__(self) -> str:
        return f"{self.month:02d}-{self.day:02d} {self.hour:02d}:{self.minute:02d}"


@dataclass(frozen=True, slots=True)
class ReplyReading:
    """What one reply sheet in a fax says, and every doubt about it.

    ``sheet_page`` and ``note_pages`` are 0-based page indexes in the fax.
    ``writing`` holds PNG crops of the lines written under Declined / Need
    more information, to pass on as images (we read marks, not handwriting).
    """

    referral_id: str | None
    sheet_page: int
    note_pages: tuple[int, ...]
    answers: frozenset[Answer]
    appointment: Appointment | None
    unclear: tuple[str, ...]
    writing: dict[Answer, bytes] = field(default_factory=dict)

    @property
    def confident(self) -> bool:
        return self.referral_id is not None and not self.unclear


@dataclass(frozen=True, slots=True)
class _Sheet:
    page: int
    referral_id: str | None
    alignment: Alignment


def _find_sheet(index: int, page: Grey, dpi: float) -> _Sheet | None:
    ours = [hit for hit in find_qr_codes(page, layout.QR_PREFIX)
            if hit.text.startswith(layout.QR_PREFIX)]
    if ours:
        alignment = align(page, dpi, ours[0])
        if alignment is None:  # our QR but not our fiducials: still our sheet, unaligned
            return _Sheet(index, ours[0].text.removeprefix(layout.QR_PREFIX),
                          Alignment(np.zeros((2, 3)), float("inf")))
        return _Sheet(index, ours[0].text.removeprefix(layout.QR_PREFIX), alignment)
    alignment = align(page, dpi, None)
    if alignment is None or alignment.residual_pt > MAX_RESIDUAL_PT:
        return None
    meter = InkMeter(page, alignment)
    borders = [meter.outline(tick.box) for tick in layout.TICK_BOXES]
    if min(borders) < OUTLINE_PRESENT:
        return None  # four black corners, but not our form
    return _Sheet(index, None, alignment)


def _crop_png(page: Grey, box: tuple[int, int, int, int]) -> bytes:
    left, top, right, bottom = box
    buffer = io.BytesIO()
    Image.fromarray(page[top:bottom, left:right]).convert("1").save(buffer, format="PNG")
    return buffer.getvalue()


def _read_digits(meter: InkMeter) -> tuple[dict[str, int | None], list[str], bool]:
    """Each field's value (None: left empty), the doubts, and whether any bubble was filled."""
    values: dict[str, int | None] = {}
    doubts: list[str] = []
    any_filled = False
    radius = _BUBBLE_SAMPLE
    for digit_field in layout.DIGIT_FIELDS:
        digits: list[int | None] = []
        for column in (0, 1):
            marks = [_mark(meter.disc(layout.bubble_centre(digit_field, column, d), radius),
                           BUBBLE_MARKED, BUBBLE_BLANK) for d in range(10)]
            filled = [d for d, m in enumerate(marks) if m is Mark.MARKED]
            any_filled |= bool(filled) or Mark.UNCLEAR in marks
            which = "tens" if column == 0 else "units"
            if Mark.UNCLEAR in marks:
                doubts.append(f"a {digit_field.label.lower()} bubble ({which}) is only "
                              "partly filled")
                digits.append(None)
            elif len(filled) > 1:
                doubts.append(f"more than one {digit_field.label.lower()} bubble ({which}) "
                              "is filled")
                digits.append(None)
            else:
                digits.append(filled[0] if filled else None)
        tens, units = digits
        if tens is None and units is None:
            values[digit_field.name] = None
            continue
        if tens is None or units is None:
            doubts.append(f"the {digit_field.label.lower()} needs a bubble in both columns "
                          "(fill 0 for a leading zero)")
            values[digit_field.name] = None
            continue
        value = tens * 10 + units
        if not digit_field.low <= value <= digit_field.high:
            doubts.append(f"{value:02d} is not a valid {digit_field.label.lower()}")
            values[digit_field.name] = None
        else:
            values[digit_field.name] = value
    return values, doubts, any_filled


def _appointment(values: dict[str, int | None], doubts: list[str]) -> Appointment | None:
    month, day, hour, minute = (values[f.name] for f in layout.DIGIT_FIELDS)
    if month is None or day is None or hour is None or minute is None:
        missing = [f.label.lower() for f in layout.DIGIT_FIELDS if values[f.name] is None]
        doubts.append(f"the appointment's {', '.join(missing)} is not filled in")
        return None
    if day > calendar.monthrange(2024, month)[1]:  # 2024: a leap year allows 29 February
        doubts.append(f"{month:02d}-{day:02d} is not a date")
        return None
    return Appointment(month, day, hour, minute)


def _consistency(answers: frozenset[Answer], bubbles_filled: bool, note: bool) -> list[str]:
    """The answer the ticks give must be one the desk can act on.

    No tick at all is an answer only when pages follow the sheet: the office
    returns the consult note and has nothing else to say.
    """
    doubts = []
    if not answers and not note:
        doubts.append("no box is ticked and no pages follow the sheet")
    if Answer.DECLINED in answers and answers & {Answer.ACCEPTED, Answer.SCHEDULED}:
        doubts.append("Declined is ticked together with Accepted or Appointment scheduled")
    if Answer.NEED_INFO in answers and answers & {Answer.DECLINED, Answer.SCHEDULED}:
        doubts.append("Need more information is ticked together with Declined or "
                      "Appointment scheduled")
    if bubbles_filled and Answer.SCHEDULED not in answers:
        doubts.append("appointment bubbles are filled but Appointment scheduled is not ticked")
    return doubts


def _read_sheet(sheet: _Sheet, page: Grey, note_pages: tuple[int, ...]) -> ReplyReading:
    doubts: list[str] = []
    if sheet.referral_id is None:
        doubts.append("the QR code with the referral id could not be read")
    if sheet.alignment.residual_pt > MAX_RESIDUAL_PT:
        doubts.append("the page could not be aligned by its four corner marks")
        return ReplyReading(sheet.referral_id, sheet.page, note_pages, frozenset(), None,
                            tuple(doubts))
    meter = InkMeter(page, sheet.alignment)
    answers: set[Answer] = set()
    writing: dict[Answer, bytes] = {}
    for tick in layout.TICK_BOXES:
        mark = _mark(meter.square(tick.box.centre, _BOX_SAMPLE), BOX_MARKED, BOX_BLANK)
        if mark is Mark.UNCLEAR:
            doubts.append(f"the {tick.answer.value} box is faintly marked")
        elif mark is Mark.MARKED:
            answers.add(tick.answer)
            if tick.lines is not None:
                writing[tick.answer] = _crop_png(page, meter.crop_box(tick.lines))
    values, digit_doubts, filled = _read_digits(meter)
    doubts += digit_doubts
    appointment = None
    if Answer.SCHEDULED in answers and not digit_doubts:
        appointment = _appointment(values, doubts)
    doubts += _consistency(frozenset(answers), filled, bool(note_pages))
    return ReplyReading(sheet.referral_id, sheet.page, note_pages, frozenset(answers),
                        appointment, tuple(doubts), writing)


def _has_ink(page: Grey) -> bool:
    return float((page < 128).mean()) >= BLANK_PAGE


def read_replies(pages: Sequence[Grey], dpi: float = READ_DPI) -> list[ReplyReading]:
    """Every reply sheet in a received fax, each with the pages behind it (up to the next)."""
    sheets = [s for i, page in enumerate(pages) if (s := _find_sheet(i, page, dpi)) is not None]
    readings = []
    for number, sheet in enumerate(sheets):
        end = sheets[number + 1].page if number + 1 < len(sheets) else len(pages)
        note = tuple(i for i in range(sheet.page + 1, end) if _has_ink(pages[i]))
        readings.append(_read_sheet(sheet, pages[sheet.page], note))
    return readings


def as_grey(image: Image.Image) -> Grey:
    """A page image as the reader wants it: 8-bit grey, 255 white."""
    return np.asarray(image.convert("L"), dtype=np.uint8)
