"""TIFF Class F (RFC 3949 profile F): the values we write and a checker.

Profile F is what a fax machine's page memory looks like: bilevel,
WhiteIsZero, CCITT T.4 (MH/MR) or T.6 coded, the T.4 page widths at 204 dpi
and standard or fine line density, every page marked as a page of a multi-page
document with its number. The checker reads the tags of every page with
Pillow (no pixel decoding unless asked) and returns human-readable
violations, so tests and the gateway can refuse a file before a fax engine
does, with a reason instead of a T.30 error code.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from PIL import Image, TiffImagePlugin


class Coding(enum.Enum):
    """CCITT coding of the page data (TIFF Compression + T4/T6Options)."""

    T4_MH = "t4-mh"  # T.4 one-dimensional (Modified Huffman), Compression 3
    T4_MR = "t4-mr"  # T.4 two-dimensional (Modified READ), Compression 3
    T6 = "t6"  # T.6 (Modified Modified READ, "Group 4"), Compression 4


class Resolution(enum.Enum):
    """Fax line densities; the value is (x dpi, y dpi)."""

    STANDARD = (204, 98)
    FINE = (204, 196)

    @property
    def x_dpi(self) -> int:
        return self.value[0]

    @property
    def y_dpi(self) -> int:
        return self.value[1]


#: T.4 scan-line widths at 204 dpi: A4/Letter (215 mm), B4, A3.
ALLOWED_WIDTHS = frozenset({1728, 2048, 2432})
ALLOWED_X_DPI = frozenset({204})
ALLOWED_Y_DPI = frozenset({98, 196})

_TAG_NEWSUBFILETYPE = 254
_TAG_IMAGEWIDTH = 256
_TAG_BITSPERSAMPLE = 258
_TAG_COMPRESSION = 259
_TAG_PHOTOMETRIC = 262
_TAG_FILLORDER = 266
_TAG_STRIPOFFSETS = 273
_TAG_SAMPLESPERPIXEL = 277
_TAG_ROWSPERSTRIP = 278
_TAG_STRIPBYTECOUNTS = 279
_TAG_XRESOLUTION = 282
_TAG_YRESOLUTION = 283
_TAG_T4OPTIONS = 292
_TAG_T6OPTIONS = 293
_TAG_RESOLUTIONUNIT = 296
_TAG_PAGENUMBER = 297
_TAG_IMAGELENGTH = 257

_RESUNIT_INCH = 2
_T4_UNCOMPRESSED_MODE = 0x2
_T6_UNCOMPRESSED_MODE = 0x2


@dataclass(frozen=True, slots=True)
class Violation:
    """One rule broken by one page (``page`` is 1-based; 0 = the file)."""

    page: int
    rule: str

    def __str__(self) -> str:
        where = "file" if self.page == 0 else f"page {self.page}"
        return f"{where}: {self.rule}"


def _scalar(tags: Any, tag: int) -> Any:
    value = tags.get(tag)
    if isinstance(value, tuple) and len(value) == 1:
        return value[0]
    return value


def _dpi(value: Any) -> Fraction | None:
    if value is None:
        return None
    return Fraction(float(value)).limit_denominator(1000)


def _check_page(tags: Any, number: int, total: int) -> list[str]:
    problems: list[str] = []

    def expect(tag: int, name: str, allowed: set[int] | frozenset[int]) -> Any:
        value = _scalar(tags, tag)
        if value is None:
            problems.append(f"{name} ({tag}) missing")
        elif value not in allowed:
            problems.append(f"{name} is {value}, must be one of {sorted(allowed)}")
        return value

    expect(_TAG_IMAGEWIDTH, "ImageWidth", ALLOWED_WIDTHS)
    if not _scalar(tags, _TAG_IMAGELENGTH):
        problems.append("ImageLength missing or zero")
    expect(_TAG_BITSPERSAMPLE, "BitsPerSample", {1})
    if _scalar(tags, _TAG_SAMPLESPERPIXEL) not in (None, 1):
        problems.append("SamplesPerPixel must be 1")
    expect(_TAG_PHOTOMETRIC, "PhotometricInterpretation", {0})
    expect(_TAG_FILLORDER, "FillOrder", {1, 2})
    expect(_TAG_RESOLUTIONUNIT, "ResolutionUnit", {_RESUNIT_INCH})

    compression = expect(_TAG_COMPRESSION, "Compression", {3, 4})
    if compression == 3:
        t4 = _scalar(tags, _TAG_T4OPTIONS)
        if t4 is None:
            problems.append("T4Options (292) missing for Compression 3")
        elif t4 & _T4_UNCOMPRESSED_MODE:
            problems.append("T4Options must not allow uncompressed mode")
    elif compression == 4:
        t6 = _scalar(tags, _TAG_T6OPTIONS)
        if t6 is None:
            problems.append("T6Options (293) missing for Compression 4")
        elif t6 & _T6_UNCOMPRESSED_MODE:
            problems.append("T6Options must not allow uncompressed mode")

    x_dpi = _dpi(_scalar(tags, _TAG_XRESOLUTION))
    y_dpi = _dpi(_scalar(tags, _TAG_YRESOLUTION))
    if x_dpi is None or x_dpi not in ALLOWED_X_DPI:
        problems.append(f"XResolution is {x_dpi}, must be 204")
    if y_dpi is None or y_dpi not in ALLOWED_Y_DPI:
        problems.append(f"YResolution is {y_dpi}, must be 98 or 196")

    subfile = _scalar(tags, _TAG_NEWSUBFILETYPE)
    if subfile is None or not subfile & 0x2:
        problems.append(f"NewSubfileType is {subfile}, must have bit 1 (page) set")

    page_number = tags.get(_TAG_PAGENUMBER)
    if page_number is None:
        problems.append("PageNumber (297) missing")
    elif tuple(page_number) != (number - 1, total):
        problems.append(f"PageNumber is {tuple(page_number)}, expected ({number - 1}, {total})")

    offsets = tags.get(_TAG_STRIPOFFSETS)
    counts = tags.get(_TAG_STRIPBYTECOUNTS)
    if not offsets or not counts:
        problems.append("StripOffsets/StripByteCounts missing")
    elif len(offsets) != 1 or len(counts) != 1:
        problems.append(f"{len(offsets)} strips, profile F pages here must be one strip")
    elif counts[0] <= 0:
        problems.append("strip is empty")
    rows_per_strip = _scalar(tags, _TAG_ROWSPERSTRIP)
    length = _scalar(tags, _TAG_IMAGELENGTH)
    if rows_per_strip is not None and length and rows_per_strip < length:
        problems.append("RowsPerStrip is smaller than ImageLength (several strips)")
    return problems


def check_tiff_f(path: Path, *, decode: bool = False) -> list[Violation]:
    """Return every profile-F violation in ``path`` (empty list = conforming).

    ``decode=True`` also decodes each page's CCITT data, catching corrupt
    strips at the cost of a full decode.
    """
    violations: list[Violation] = []
    try:
        image = Image.open(path)
    except (OSError, Image.UnidentifiedImageError) as exc:
        return [Violation(0, f"not a readable TIFF file: {exc}")]
    with image:
        if not isinstance(image, TiffImagePlugin.TiffImageFile):
            return [Violation(0, f"not a TIFF file (format {image.format})")]
        total = getattr(image, "n_frames", 1)
        for index in range(total):
            image.seek(index)
            for rule in _check_page(image.tag_v2, index + 1, total):
                violations.append(Violation(index + 1, rule))
            if decode:
                try:
                    image.load()
                except (OSError, ValueError) as exc:
                    violations.append(Violation(index + 1, f"page data does not decode: {exc}"))
    return violations
