"""PDF -> TIFF Class F, one page at a time.

    pdfium (pypdfium2) renders a page in grey at 204 dpi square pixels
      -> portrait: landscape pages are turned a quarter, then scaled to fit the
         1728-pixel line below a header band, aspect kept
      -> resampled to the fax line density (98 or 196 lines per inch)
      -> header line drawn into the band ("date  sender ... Page x/y", like a
         fax machine's TTI line)
      -> bilevel: photo-like regions Floyd-Steinberg dithered, everything
         else hard-thresholded so text stays crisp
      -> libtiff CCITT encoder (T.6 by default, or T.4 MH/MR), one strip and
         the profile-F tags per page

Photo detection works on 32x32-pixel tiles: a tile is photo-like when a
good share of its pixels are mid-grey *and* in a smooth neighbourhood.
Anti-aliased text also has mid-grey pixels, but only on edges beside black
and white ones, so its local contrast is high and it stays thresholded.
Everything is done by Pillow and pdfium in C; no per-pixel Python.

The API is synchronous and CPU bound; callers run it in a worker thread.
pdfium is not thread-safe, so a module lock serialises its calls.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pypdfium2
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

from fax_gateway.libtiff import CcittTiffWriter, PageGeometry
from fax_gateway.profile_f import Coding, Resolution

#: Scan-line width for A4 and Letter at 204 dpi (T.4, 215 mm).
FAX_WIDTH = 1728

ProgressCallback = Callable[[int, int], None]

_TEXT_THRESHOLD = 150  # grey levels below this become black in text regions
_TILE = 32  # photo-detection tile, in square pixels
_MID_LOW, _MID_HIGH = 40, 215  # "mid-grey" band
_SMOOTH_RANGE = 48  # max 3x3 grey-level range of a "smooth" pixel
_PHOTO_SHARE = 0.3  # share of smooth mid-grey pixels that makes a tile photo-like
_HEADER_PT = 8.0  # header text size, points
_HEADER_BAND_IN = 0.16  # header band height, inches
_HEADER_MARGIN_IN = 0.12  # left/right margin of the header text, inches

_pdfium_lock = threading.Lock()


class RenderError(ValueError):
    """The PDF cannot be turned into fax pages (damaged, encrypted, empty)."""


@dataclass(frozen=True, slots=True)
class FaxHeader:
    """What the header line on every page says; no patient data belongs here."""

    sender: str
    date: datetime

    def line(self, page: int, total: int) -> tuple[str, str]:
        """Left and right parts of the header of page ``page`` (1-based)."""
        return f"{self.date:%Y-%m-%d %H:%M}   FROM: {self.sender}", f"Page {page}/{total}"


@dataclass(frozen=True, slots=True)
class RenderResult:
    """What was written: the file, its page count and its encoding."""

    path: Path
    pages: int
    resolution: Resolution
    coding: Coding


def render_pdf_to_tiff_f(
    pdf: Path | bytes,
    out: Path,
    *,
    sender: str,
    date: datetime,
    resolution: Resolution = Resolution.FINE,
    coding: Coding = Coding.T6,
    progress: ProgressCallback | None = None,
) -> RenderResult:
    """Render every page of ``pdf`` into the TIFF Class F file ``out``.

    ``progress(page_done, total)`` is called after each page is written.
    Raises :class:`RenderError` for PDFs that cannot be opened or have no
    pages; ``out`` is then removed rather than left half-written.
    """
    header = FaxHeader(sender=sender, date=date)
    with _pdfium_lock:
        try:
            document = pypdfium2.PdfDocument(pdf)
        except pypdfium2.PdfiumError as exc:
            raise RenderError(f"cannot open PDF: {exc}") from exc
        total = len(document)
    try:
        if total == 0:
            raise RenderError("PDF has no pages")
        try:
            with CcittTiffWriter(out, coding) as writer:
                for index in range(total):
                    grey = _render_page_grey(document, index, resolution, header, total)
                    bits = _to_bilevel(grey).tobytes("raw", "1;I")
                    geometry = PageGeometry(
                        grey.width, grey.height, resolution.x_dpi, resolution.y_dpi
                    )
                    writer.write_page(bits, geometry, page_index=index, page_count=total)
                    if progress is not None:
                        progress(index + 1, total)
        except BaseException:
            out.unlink(missing_ok=True)
            raise
    finally:
        with _pdfium_lock:
            document.close()
    return RenderResult(path=out, pages=total, resolution=resolution, coding=coding)


def _render_page_grey(
    document: pypdfium2.PdfDocument,
    index: int,
    resolution: Resolution,
    header: FaxHeader,
    total: int,
) -> Image.Image:
    """The page as an "L" image at fax geometry, header band included."""
    x_dpi, y_dpi = resolution.x_dpi, resolution.y_dpi
    with _pdfium_lock:
        page = document[index]
        try:
            width_pt, height_pt = page.get_size()
            rotation = 90 if width_pt > height_pt else 0
            if rotation:
                width_pt, height_pt = height_pt, width_pt
            # Pages are faxed at their physical size, shrunk only if wider
            # than the 215 mm fax line; the content then shrinks a little
            # more to leave room for the header band, aspect kept.
            paper_scale = min(FAX_WIDTH / width_pt, x_dpi / 72)
            paper_rows = round(height_pt * paper_scale * y_dpi / x_dpi)
            band_rows = round(_HEADER_BAND_IN * y_dpi)
            box_rows_square = (paper_rows - band_rows) * x_dpi / y_dpi
            scale = min(paper_scale, box_rows_square / height_pt)
            bitmap = page.render(scale=scale, rotation=rotation, grayscale=True)
            try:
                content = bitmap.to_pil().convert("L")
            finally:
                bitmap.close()
        finally:
            page.close()
    content_rows = min(paper_rows - band_rows, round(content.height * y_dpi / x_dpi))
    content = content.resize((min(content.width, FAX_WIDTH), content_rows), Image.Resampling.BOX)
    canvas = Image.new("L", (FAX_WIDTH, paper_rows), 255)
    canvas.paste(content, ((FAX_WIDTH - content.width) // 2, band_rows))
    canvas.paste(_header_band(header, index + 1, total, band_rows, x_dpi, y_dpi), (0, 0))
    return canvas


def _header_band(
    header: FaxHeader, page: int, total: int, band_rows: int, x_dpi: int, y_dpi: int
) -> Image.Image:
    """The header line drawn in square pixels, then squeezed to ``y_dpi``."""
    square_rows = round(band_rows * x_dpi / y_dpi)
    band = Image.new("L", (FAX_WIDTH, square_rows), 255)
    draw = ImageDraw.Draw(band)
    font = ImageFont.load_default(size=round(_HEADER_PT * x_dpi / 72))
    margin = round(_HEADER_MARGIN_IN * x_dpi)
    left, right = header.line(page, total)
    middle_y = square_rows / 2
    draw.text((margin, middle_y), left, fill=0, font=font, anchor="lm")
    draw.text((FAX_WIDTH - margin, middle_y), right, fill=0, font=font, anchor="rm")
    return band.resize((FAX_WIDTH, band_rows), Image.Resampling.BOX)


def _photo_mask(grey: Image.Image) -> Image.Image | None:
    """Mask ("L", 255 = dither) of photo-like tiles, or None for a text-only page.

    Runs at half size (text edges are still sharp there). First the cheap
    test: tiles where mid-grey pixels alone reach the share; a page without
    any (most letters) stops here. Only inside those tiles is the local
    contrast measured, as the larger of the horizontal and vertical
    two-pixel differences, made from shifted copies (all C, no rank filter).
    """
    small = grey.reduce(2)
    tile = _TILE // 2
    tiles = (max(1, small.width // tile), max(1, small.height // tile))
    mid = small.point(lambda v: 255 if _MID_LOW <= v <= _MID_HIGH else 0)
    candidates = _tiles_over_share(mid, tiles)
    box = candidates.getbbox()
    if box is None:
        return None
    # Measure contrast only over the candidate tiles (plus one pixel of context).
    scale_x, scale_y = small.width / tiles[0], small.height / tiles[1]
    left, right = round(box[0] * scale_x), round(box[2] * scale_x)
    top, bottom = round(box[1] * scale_y), round(box[3] * scale_y)
    region = small.crop((left - 1, top - 1, right + 1, bottom + 1))
    contrast = ImageChops.lighter(
        ImageChops.difference(ImageChops.offset(region, 1, 0), ImageChops.offset(region, -1, 0)),
        ImageChops.difference(ImageChops.offset(region, 0, 1), ImageChops.offset(region, 0, -1)),
    ).crop((1, 1, region.width - 1, region.height - 1))
    smooth = contrast.point(lambda v: 255 if v <= _SMOOTH_RANGE else 0)
    smooth_mid = Image.new("L", small.size, 0)
    smooth_mid.paste(ImageChops.multiply(mid.crop((left, top, right, bottom)), smooth), (left, top))
    photo_tiles = _tiles_over_share(smooth_mid, tiles)
    if photo_tiles.getbbox() is None:
        return None
    # Grow by one tile so the photo's own edges are dithered, not cut off.
    photo_tiles = photo_tiles.filter(ImageFilter.MaxFilter(3))
    return photo_tiles.resize(grey.size, Image.Resampling.NEAREST)


def _tiles_over_share(pixels: Image.Image, tiles: tuple[int, int]) -> Image.Image:
    """Tile map: 255 where at least ``_PHOTO_SHARE`` of the tile's pixels are set."""
    share = pixels.resize(tiles, Image.Resampling.BOX)
    return share.point(lambda v: 255 if v >= _PHOTO_SHARE * 255 else 0)


def _to_bilevel(grey: Image.Image) -> Image.Image:
    """Threshold text, dither photos; returns a mode "1" image (0 = black)."""
    text = grey.point(lambda v: 255 if v >= _TEXT_THRESHOLD else 0, mode="1")
    mask = _photo_mask(grey)
    if mask is None:
        return text
    dithered = grey.convert("1", dither=Image.Dither.FLOYDSTEINBERG)
    return Image.composite(dithered, text, mask)
