"""Received fax (TIFF, CCITT G3/G4) -> PDF, keeping the coded data as it is.

A PDF reader decodes CCITT itself (/CCITTFaxDecode), so each TIFF strip is
copied into an image XObject byte for byte, with the decode parameters
taken from the TIFF tags:

    Compression 4 (T.6)            -> /K -1
    Compression 3 (T.4), T4Options -> /K 0 (MH) or 1 (MR), /EndOfLine true,
                                      /EncodedByteAlign = fill bits (bit 2)
    Compression 2 (MH, no EOLs)    -> /K 0, /EncodedByteAlign true
    PhotometricInterpretation 1    -> /BlackIs1 true (0 = WhiteIsZero: false)

The page is sized from the pixel count and the resolution, so a standard
(98 lpi) page is not drawn twice as tall. A page stored as several strips
becomes several images stacked on the page (each strip is coded on its own,
so they cannot be concatenated). The one transformation is FillOrder 2
(least significant bit first, what spandsp writes): PDF wants the bits most
significant first, so those strips are bit-reversed byte by byte, which is
lossless. img2pdf does the same passthrough, but for Group 4 only; it
re-encodes T.4, which received faxes usually are.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

import pikepdf
from PIL import Image, TiffImagePlugin

_BIT_REVERSE = bytes(int(f"{byte:08b}"[::-1], 2) for byte in range(256))

_DEFAULT_X_DPI = 204
_T4_2D = 0x1
_T4_FILL_BITS = 0x4
_RESUNIT_CM = 3


class InboundFaxError(ValueError):
    """The received file is not a CCITT-coded TIFF we can pass through."""


@dataclass(frozen=True, slots=True)
class CcittStrip:
    """One strip's coded bytes (MSB first) and the parameters to decode it."""

    data: bytes
    rows: int
    decode_parms: dict[str, Any]


@dataclass(frozen=True, slots=True)
class FaxPage:
    """One received page: its strips and its physical size in points."""

    width: int
    strips: tuple[CcittStrip, ...]
    width_pt: float
    height_pt: float


@dataclass(frozen=True, slots=True)
class InboundPdfResult:
    path: Path
    pages: int


def read_fax_pages(tiff_path: Path) -> list[FaxPage]:
    """The pages of a CCITT TIFF with their coded strips, nothing decoded."""
    try:
        image = Image.open(tiff_path)
    except (OSError, Image.UnidentifiedImageError) as exc:
        raise InboundFaxError(f"not a readable TIFF file: {exc}") from exc
    with image, tiff_path.open("rb") as raw:
        if not isinstance(image, TiffImagePlugin.TiffImageFile):
            raise InboundFaxError(f"not a TIFF file (format {image.format})")
        pages = []
        for index in range(getattr(image, "n_frames", 1)):
            image.seek(index)
            pages.append(_page(image.tag_v2, raw, index + 1))
    return pages


def _scalar(tags: Any, tag: int, default: Any = None) -> Any:
    value = tags.get(tag, default)
    if isinstance(value, tuple) and len(value) == 1:
        return value[0]
    return value


def _page(tags: Any, raw: BinaryIO, number: int) -> FaxPage:
    width = int(_scalar(tags, 256, 0))
    length = int(_scalar(tags, 257, 0))
    if not width or not length:
        raise InboundFaxError(f"page {number}: missing image size")
    if _scalar(tags, 258, 1) != 1 or _scalar(tags, 277, 1) != 1:
        raise InboundFaxError(f"page {number}: not a bilevel image")
    compression = _scalar(tags, 259, 1)
    if compression not in (2, 3, 4):
        raise InboundFaxError(f"page {number}: Compression {compression} is not CCITT")
    parms: dict[str, Any] = {
        "Columns": width,
        "BlackIs1": _scalar(tags, 262, 0) == 1,
    }
    if compression == 4:
        parms["K"] = -1
    elif compression == 3:
        t4 = int(_scalar(tags, 292, 0))
        parms["K"] = 1 if t4 & _T4_2D else 0
        parms["EndOfLine"] = True
        parms["EncodedByteAlign"] = bool(t4 & _T4_FILL_BITS)
    else:
        parms["K"] = 0
        parms["EncodedByteAlign"] = True
    lsb_first = _scalar(tags, 266, 1) == 2

    offsets = tags.get(273) or ()
    counts = tags.get(279) or ()
    if not offsets or len(offsets) != len(counts):
        raise InboundFaxError(f"page {number}: strip table missing or inconsistent")
    rows_per_strip = int(_scalar(tags, 278, length) or length)
    strips = []
    for i, (offset, count) in enumerate(zip(offsets, counts, strict=True)):
        raw.seek(offset)
        data = raw.read(count)
        if len(data) != count:
            raise InboundFaxError(f"page {number}: strip {i + 1} runs past the end of the file")
        if lsb_first:
            data = data.translate(_BIT_REVERSE)
        rows = min(rows_per_strip, length - i * rows_per_strip)
        if rows <= 0:
            raise InboundFaxError(f"page {number}: more strips than the image has rows")
        strips.append(CcittStrip(data=data, rows=rows, decode_parms={**parms, "Rows": rows}))

    x_dpi, y_dpi = _resolution(tags, width, length)
    return FaxPage(
        width=width,
        strips=tuple(strips),
        width_pt=float(width / x_dpi * 72),
        height_pt=float(length / y_dpi * 72),
    )


def _resolution(tags: Any, width: int, length: int) -> tuple[Fraction, Fraction]:
    """Dots per inch across and down; guessed from the shape when absent.

    Without tags, x is the T.4 204 dpi and y whichever of fine/standard makes
    the page portrait-shaped, which is what fax pages are.
    """
    x = _scalar(tags, 282)
    y = _scalar(tags, 283)
    unit_factor = Fraction(254, 100) if _scalar(tags, 296, 2) == _RESUNIT_CM else Fraction(1)
    x_dpi = Fraction(float(x)) * unit_factor if x else Fraction(_DEFAULT_X_DPI)
    guessed_y = Fraction(196 if length / width > 0.9 else 98)
    y_dpi = Fraction(float(y)) * unit_factor if y else guessed_y
    return x_dpi, y_dpi


def tiff_to_pdf(tiff_path: Path, pdf_path: Path) -> InboundPdfResult:
    """Write ``pdf_path`` with one PDF page per fax page, CCITT data untouched."""
    pages = read_fax_pages(tiff_path)
    if not pages:
        raise InboundFaxError("TIFF has no pages")
    pdf = pikepdf.Pdf.new()
    for page in pages:
        pdf.pages.append(_pdf_page(pdf, page))
    tmp = pdf_path.with_name(pdf_path.name + ".part")
    pdf.save(tmp, stream_decode_level=pikepdf.StreamDecodeLevel.none)
    tmp.replace(pdf_path)
    return InboundPdfResult(path=pdf_path, pages=len(pages))


def _pdf_page(pdf: pikepdf.Pdf, page: FaxPage) -> pikepdf.Page:
    total_rows = sum(strip.rows for strip in page.strips)
    points_per_row = page.height_pt / total_rows
    xobjects = pikepdf.Dictionary()
    drawing = []
    top = page.height_pt
    for i, strip in enumerate(page.strips):
        image = pikepdf.Stream(pdf, strip.data)
        image.Type = pikepdf.Name.XObject
        image.Subtype = pikepdf.Name.Image
        image.Width = page.width
        image.Height = strip.rows
        image.ColorSpace = pikepdf.Name.DeviceGray
        image.BitsPerComponent = 1
        image.Filter = pikepdf.Name.CCITTFaxDecode
        image.DecodeParms = pikepdf.Dictionary(
            {f"/{key}": value for key, value in strip.decode_parms.items()}
        )
        name = f"/Fax{i}"
        xobjects[name] = image
        height = strip.rows * points_per_row
        top -= height
        drawing.append(f"q {page.width_pt:.4f} 0 0 {height:.4f} 0 {top:.4f} cm {name} Do Q")
    contents = pdf.make_stream("\n".join(drawing).encode("ascii"))
    return pikepdf.Page(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Page,
            MediaBox=[0, 0, round(page.width_pt, 4), round(page.height_pt, 4)],
            Resources=pikepdf.Dictionary(XObject=xobjects),
            Contents=contents,
        )
    )
