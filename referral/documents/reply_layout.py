"""Where everything on the fax-back reply sheet is, in points from the page's top left.

    ■ fiducial                                              ■ fiducial
      FAX-BACK REPLY · Referral RF-…                    [QR: CURBSIDE-REPLY:RF-…]
      [ ] ACCEPTED
      [ ] DECLINED — reason: ______________________
      [ ] NEED MORE INFORMATION — what: ___________
      [ ] APPOINTMENT SCHEDULED
          Month   Day     Hour    Minute      write-in cells, then
          ○○      ○○      ○○      ○○          one bubble per column, 0 to 9
      ATTACH THE CONSULT NOTE BEHIND THIS PAGE
    ■ fiducial                                              ■ fiducial

The renderer (:mod:`referral.documents.reply_sheet`) draws from this table
and the reader (:mod:`referral.reply_reader`) looks exactly here after
aligning the page by the four fiducials, so the two can never disagree:
reading a form we drew is geometry, not OCR. Nothing else may be printed in
the clear zones around the fiducials (``FIDUCIAL_CLEAR``), where the reader
searches for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from reportlab.lib.pagesizes import LETTER

PAGE_WIDTH, PAGE_HEIGHT = LETTER  # 612 x 792 points
QR_PREFIX = "CURBSIDE-REPLY:"  # the letter's QR says CURBSIDE-REFERRAL:; a reply sheet is this

FIDUCIAL_SIZE = 24.0  # solid black squares, a third of an inch
FIDUCIAL_CLEAR = 40.0  # nothing else printed this far around a fiducial's centre
# fiducial centres: top-left, top-right, bottom-left, bottom-right
FIDUCIALS: tuple[tuple[float, float], ...] = (
    (48.0, 48.0),
    (PAGE_WIDTH - 48.0, 48.0),
    (48.0, PAGE_HEIGHT - 48.0),
    (PAGE_WIDTH - 48.0, PAGE_HEIGHT - 48.0),
)

CONTENT_LEFT = 96.0
CONTENT_RIGHT = PAGE_WIDTH - 96.0

QR_BOX = (392.0, 64.0, 124.0)  # left, top, side
BOX_SIZE = 22.0  # tick boxes
BOX_LINE = 2.5
BUBBLE_DIAMETER = 15.0
BUBBLE_LINE = 1.5
BUBBLE_PITCH = 18.0  # between rows 0..9
COLUMN_PITCH = 22.0  # between the two digit columns of a field


class Answer(StrEnum):
    """The tick boxes, in print order."""

    ACCEPTED = "accepted"
    DECLINED = "declined"
    NEED_INFO = "need-info"
    SCHEDULED = "scheduled"


@dataclass(frozen=True, slots=True)
class Rect:
    left: float
    top: float
    width: float
    height: float

    @property
    def centre(self) -> tuple[float, float]:
        return self.left + self.width / 2, self.top + self.height / 2


@dataclass(frozen=True, slots=True)
class TickBox:
    answer: Answer
    box: Rect
    label: str
    lines: Rect | None  # where the office writes (a reason), sent on as an image


def _box(top: float) -> Rect:
    return Rect(CONTENT_LEFT, top, BOX_SIZE, BOX_SIZE)


TICK_BOXES: tuple[TickBox, ...] = (
    TickBox(Answer.ACCEPTED, _box(196.0), "ACCEPTED: we will see the patient", None),
    TickBox(Answer.DECLINED, _box(236.0), "DECLINED: reason on the lines below",
            Rect(CONTENT_LEFT + 30, 262.0, CONTENT_RIGHT - CONTENT_LEFT - 30, 62.0)),
    TickBox(Answer.NEED_INFO, _box(336.0), "NEED MORE INFORMATION: what we need below",
            Rect(CONTENT_LEFT + 30, 362.0, CONTENT_RIGHT - CONTENT_LEFT - 30, 42.0)),
    TickBox(Answer.SCHEDULED, _box(416.0), "APPOINTMENT SCHEDULED: fill one bubble per column",
            None),
)
WRITING_LINE_PITCH = 20.0  # ruled lines inside a TickBox's ``lines``


@dataclass(frozen=True, slots=True)
class DigitField:
    """Two digit columns (tens, units) of a date or time part, each bubbles 0..9."""

    name: str
    label: str
    left: float  # x of the tens column's bubble centres
    low: int  # smallest allowed value
    high: int  # largest allowed value


DIGIT_LABEL_TOP = 446.0  # field labels
WRITE_IN_TOP = 462.0  # one write-in cell per digit, for the office's own eyes
BUBBLES_TOP = 496.0  # centre of the "0" row
DIGIT_FIELDS: tuple[DigitField, ...] = (
    DigitField("month", "Month", CONTENT_LEFT + 40, 1, 12),
    DigitField("day", "Day", CONTENT_LEFT + 140, 1, 31),
    DigitField("hour", "Hour (0-23)", CONTENT_LEFT + 240, 0, 23),
    DigitField("minute", "Minute", CONTENT_LEFT + 340, 0, 59),
)
NOTE_LINE_TOP = BUBBLES_TOP + 9 * BUBBLE_PITCH + 34  # "attach the consult note …"


def bubble_centre(field: DigitField, column: int, digit: int) -> tuple[float, float]:
    """Centre of the bubble for ``digit`` in the tens (0) or units (1) column."""
    return field.left + column * COLUMN_PITCH, BUBBLES_TOP + digit * BUBBLE_PITCH


def write_in_cell(field: DigitField, column: int) -> Rect:
    x, _ = bubble_centre(field, column, 0)
    return Rect(x - 9, WRITE_IN_TOP, 18, 22)
