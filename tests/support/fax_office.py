"""Playing the office at the other end of the fax: pen marks on a reply sheet, then fax noise.

    page image + where our form lies on it (points → pixels, an affine map)
      ├─ tick(box)         a pen check mark, slightly different every time
      ├─ fill(bubble)      a scribble that covers most of the bubble
      ├─ write_digits      digits pen-stroked into the write-in cells (for people)
      ├─ scrawl(lines)     wavy strokes standing for a handwritten reason
      └─ degrade           turn (a fax feeder's skew), rescale, speckle, drop rows

The office finds the form on the page the way a person does, by looking:
for a received page we locate it with the reader's own alignment (which the
office's eyes stand in for), for a freshly rendered sheet the map is the
rendering scale. Randomness comes from the caller's ``random.Random``, so a
failing sheet can be regenerated from its seed.
"""

from __future__ import annotations

import io
import random
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageSequence

from fax_gateway import rasterise_pdf
from fax_gateway.inbound_pdf import tiff_to_pdf
from fax_gateway.libtiff import CcittTiffWriter, PageGeometry
from fax_gateway.profile_f import Coding
from referral.documents import reply_layout as layout
from referral.documents.packet import Packet
from referral.documents.reply_layout import Answer
from referral.reply_marks import Points, apply
from referral.reply_reader import Appointment

FAX_WIDTH = 1728  # pixels across a fax line (T.4, 204 dpi)

# Digits as pen strokes on a unit cell (x right, y down), like block handwriting.
_STROKES: dict[str, list[list[tuple[float, float]]]] = {
    "0": [[(0.5, 0), (0.1, 0.25), (0.1, 0.75), (0.5, 1), (0.9, 0.75), (0.9, 0.25), (0.5, 0)]],
    "1": [[(0.3, 0.2), (0.55, 0), (0.55, 1)]],
    "2": [[(0.1, 0.2), (0.5, 0), (0.9, 0.25), (0.1, 1), (0.9, 1)]],
    "3": [[(0.1, 0.1), (0.8, 0.1), (0.4, 0.45), (0.9, 0.7), (0.5, 1), (0.1, 0.9)]],
    "4": [[(0.7, 1), (0.7, 0), (0.1, 0.7), (0.95, 0.7)]],
    "5": [[(0.85, 0), (0.2, 0), (0.15, 0.45), (0.8, 0.5), (0.8, 0.9), (0.15, 1)]],
    "6": [[(0.8, 0), (0.2, 0.5), (0.2, 0.95), (0.8, 0.95), (0.8, 0.55), (0.2, 0.55)]],
    "7": [[(0.1, 0), (0.9, 0), (0.4, 1)]],
    "8": [[(0.5, 0.5), (0.15, 0.25), (0.5, 0), (0.85, 0.25), (0.15, 0.75), (0.5, 1),
           (0.85, 0.75), (0.5, 0.5)]],
    "9": [[(0.8, 0.45), (0.2, 0.45), (0.2, 0.05), (0.8, 0.05), (0.8, 0.45), (0.6, 1)]],
}


@dataclass(frozen=True, slots=True)
class OfficeAnswer:
    """What the office means to say on the sheet."""

    answers: frozenset[Answer]
    appointment: Appointment | None = None


class Pen:
    """Draws on a grey page image where our form's points land."""

    def __init__(self, image: Image.Image, matrix: Points, rng: random.Random) -> None:
        self.image = image
        self.draw = ImageDraw.Draw(image)
        self.matrix = matrix
        self.rng = rng
        self.scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))

    def stroke(self, points: Sequence[tuple[float, float]], width_pt: float) -> None:
        pixels = apply(self.matrix, np.array(points, dtype=np.float64))
        width = max(round(width_pt * self.scale), 1)
        self.draw.line([tuple(p) for p in pixels], fill=0, width=width, joint="curve")

    def _jitter(self, amount: float) -> float:
        return self.rng.uniform(-amount, amount)

    def tick(self, box: layout.Rect) -> None:
        """A check mark across the box, or a cross, as people make them."""
        left, top, size = box.left, box.top, box.width
        width = self.rng.uniform(1.8, 2.6)
        if self.rng.random() < 0.5:
            self.stroke([(left + size * 0.15 + self._jitter(1), top + size * 0.55),
                        (left + size * 0.42, top + size * 0.88 + self._jitter(1)),
                        (left + size * 1.05 + self._jitter(2), top - size * 0.1)], width)
        else:
            self.stroke([(left + 3, top + 3), (left + size - 3, top + size - 3)], width)
            self.stroke([(left + size - 3, top + 3), (left + 3, top + size - 3)], width)

    def fill(self, centre: tuple[float, float]) -> None:
        """A scribble filling the bubble, back and forth with a pen."""
        x, y = centre
        radius = layout.BUBBLE_DIAMETER / 2 - 1.5
        width = self.rng.uniform(2.0, 2.8)
        points = []
        rows = 7
        for row in range(rows + 1):
            dy = -radius + 2 * radius * row / rows
            dx = (radius**2 - dy**2) ** 0.5
            side = 1 if row % 2 == 0 else -1
            points += [(x - side * dx + self._jitter(0.5), y + dy),
                       (x + side * dx + self._jitter(0.5), y + dy)]
        self.stroke(points, width)

    def digit(self, cell: layout.Rect, character: str) -> None:
        for stroke in _STROKES[character]:
            self.stroke([(cell.left + 3 + x * (cell.width - 6) + self._jitter(0.6),
                         cell.top + 3 + y * (cell.height - 6) + self._jitter(0.6))
                        for x, y in stroke], 1.6)

    def scrawl(self, lines: layout.Rect) -> None:
        """Wavy strokes along the writing lines, standing for handwriting."""
        y = lines.top + layout.WRITING_LINE_PITCH - 5
        x = lines.left + 4
        points = []
        while x < lines.left + lines.width * self.rng.uniform(0.5, 0.9):
            points.append((x, y + self.rng.uniform(-4, 3)))
            x += self.rng.uniform(3, 7)
        self.stroke(points, 1.5)


def mark_sheet(pen: Pen, answer: OfficeAnswer) -> None:
    """Tick the answers and, for an appointment, write and bubble its date and time."""
    for tick in layout.TICK_BOXES:
        if tick.answer in answer.answers:
            pen.tick(tick.box)
            if tick.lines is not None:
                pen.scrawl(tick.lines)
    if answer.appointment is None:
        return
    when = answer.appointment
    values = (when.month, when.day, when.hour, when.minute)
    for digit_field, value in zip(layout.DIGIT_FIELDS, values, strict=True):
        for column, character in enumerate(f"{value:02d}"):
            pen.digit(layout.write_in_cell(digit_field, column), character)
            pen.fill(layout.bubble_centre(digit_field, column, int(character)))


def degrade(image: Image.Image, rng: random.Random, *, y_dpi: float, max_angle: float = 2.5,
            speckle: float = 0.004, dropouts: int = 3) -> Image.Image:
    """A page at 204 dpi as a fax line delivers it: 1728 px wide at ``y_dpi`` rows per inch,
    turned up to ``max_angle`` degrees, rescaled by up to 3 %, shifted, 1-bit, speckled,
    with a few rows lost (one affine resampling, so a noisy sheet costs milliseconds)."""
    angle = np.radians(rng.uniform(-max_angle, max_angle))
    scale = rng.uniform(0.97, 1.03)
    width, height = image.size
    rows = round(height * y_dpi / 204)
    squash = y_dpi / 204
    # output pixel (u, v) → input pixel: undo the line density, the turn and the rescale
    cos, sin = np.cos(angle) / scale, np.sin(angle) / scale
    cx, cy = width / 2 + rng.uniform(-15, 15), height / 2 + rng.uniform(-15, 15)
    a, b = cos, sin / squash
    d, e = -sin, cos / squash
    c = cx - a * FAX_WIDTH / 2 - b * rows / 2
    f = cy - d * FAX_WIDTH / 2 - e * rows / 2
    faxed = image.transform((FAX_WIDTH, rows), Image.Transform.AFFINE, (a, b, c, d, e, f),
                            resample=Image.Resampling.BILINEAR, fillcolor=255)
    pixels = np.where(np.asarray(faxed, dtype=np.uint8) < 150, 0, 255).astype(np.uint8)
    noise = np.random.default_rng(rng.getrandbits(32))
    flips = noise.random(pixels.shape, dtype=np.float32) < speckle
    pixels[flips] = 255 - pixels[flips]
    for _ in range(dropouts):  # a row or two lost on the line: white streaks
        row = int(noise.integers(0, rows - 2))
        pixels[row:row + int(noise.integers(1, 3))] = 255
    return Image.fromarray(pixels)


def random_answer(rng: random.Random) -> OfficeAnswer:
    """One of the answers an office gives, with a random appointment when it schedules."""
    kind = rng.choice(["accept", "accept+schedule", "schedule", "decline", "need-info"])
    if kind == "decline":
        return OfficeAnswer(frozenset({Answer.DECLINED}))
    if kind == "need-info":
        return OfficeAnswer(frozenset({Answer.NEED_INFO}))
    if kind == "accept":
        return OfficeAnswer(frozenset({Answer.ACCEPTED}))
    month = rng.randint(1, 12)
    when = Appointment(month, rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59))
    answers = {Answer.SCHEDULED} | ({Answer.ACCEPTED} if kind == "accept+schedule" else set())
    return OfficeAnswer(frozenset(answers), when)


def nominal(dpi: float) -> Points:
    """The map from our form's points to a page rendered at ``dpi``, untouched."""
    s = dpi / 72
    return np.array([[s, 0.0, 0.0], [0.0, s, 0.0]])


def as_images(pages: Iterable[np.ndarray]) -> list[Image.Image]:
    return [Image.fromarray(page) for page in pages]


def fax_tiff(pages: Sequence[Image.Image], y_dpi: float) -> bytes:
    """Pages as :func:`degrade` leaves them, coded as a fax line delivers them (T.6 TIFF)."""
    with tempfile.TemporaryDirectory() as scratch:
        tiff = Path(scratch) / "fax.tif"
        with CcittTiffWriter(tiff, Coding.T6) as writer:
            for index, page in enumerate(pages):
                bits = np.packbits(np.asarray(page, dtype=np.uint8) < 128, axis=1).tobytes()
                geometry = PageGeometry(page.width, page.height, 204, y_dpi)
                writer.write_page(bits, geometry, page_index=index, page_count=len(pages))
        return tiff.read_bytes()


def fax_pdf(pages: Sequence[Image.Image], y_dpi: float) -> bytes:
    """:func:`fax_tiff`, then the gateway's lossless TIFF → PDF (what
    :meth:`fax_gateway.Gateway.inbound_document` gives for a received fax)."""
    with tempfile.TemporaryDirectory() as scratch:
        tiff, pdf = Path(scratch) / "fax.tif", Path(scratch) / "fax.pdf"
        tiff.write_bytes(fax_tiff(pages, y_dpi))
        tiff_to_pdf(tiff, pdf)
        return pdf.read_bytes()


def sheet_from_packet(packet: Packet) -> Image.Image:
    """The packet's reply sheet printed at 204 dpi, as the office has it in hand."""
    return rasterise_pdf(packet.data, 204)[1 + packet.letter_pages]


def tiff_pages(tiff: bytes) -> list[Image.Image]:
    """A received TIFF's pages as grey images with square pixels at 204 dpi (how the office
    sees them printed): a standard-resolution page's rows are doubled."""
    pages = []
    with Image.open(io.BytesIO(tiff)) as opened:
        for frame in ImageSequence.Iterator(opened):
            x_dpi, y_dpi = (float(v) for v in frame.info.get("dpi", (204, 196)))
            grey = frame.convert("L")
            rows = round(grey.height * x_dpi / y_dpi)
            pages.append(grey.resize((grey.width, rows), Image.Resampling.NEAREST))
    return pages


def images_pdf(pages: Sequence[Image.Image], dpi: float = 204) -> bytes:
    """Page images as a PDF, as an office's scanner or fax software would hand them on."""
    buffer = io.BytesIO()
    first, *rest = [page.convert("L") for page in pages]
    first.save(buffer, format="PDF", resolution=dpi, save_all=True, append_images=rest)
    return buffer.getvalue()


def consult_note_page(referral_id: str) -> Image.Image:
    """A typed consult note, one page at 204 dpi."""
    page = Image.new("L", (1728, 2244), 255)
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=40)
    lines = [f"CONSULT NOTE  re {referral_id}", "Beacon Cardiology",
             "Seen in clinic. Atrial fibrillation, CHA2DS2-VASc 3.",
             "Plan: start apixaban 5 mg twice daily; Holter in 4 weeks."]
    for number, line in enumerate(lines):
        draw.text((160, 200 + number * 70), line, fill=0, font=font)
    return page
