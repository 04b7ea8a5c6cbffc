"""PDF -> TIFF Class F: the next pages render while this one is encoded.

    render thread (pdfium, <= 2 pages ahead)      caller's thread
    ------------------------------------------    --------------------------------
    pdfium draws the page straight into a grey    Binarizer.to_bits: text thresholded,
    buffer of the fax geometry: 1728 px wide,     photos screened, rows packed
    98/196 rows per inch, landscape turned a  ->  libtiff CCITT encoder (T.6, or
    quarter, shrunk to fit below the header       T.4 MH/MR), one strip and the
    band; then the header line ("date  sender     profile-F tags per page
    ... Page x/y", a fax machine's TTI line)      progress(page, total)

Why this shape: pdfium renders with a matrix whose x and y scales differ, so
the page lands in its final pixels with no intermediate image, resize or
paste; text and line art are drawn without anti-aliasing (a fax page is
black or white, and a page of text then has no grey pixels to search for
photos). pdfium and libtiff run in C and release the GIL, so rendering page
n+1 overlaps encoding page n and a long document keeps both cores busy,
while at most a few pages are held in memory (their buffers are reused).
Progress is reported from the caller's thread, in page order. A process
pool (two workers rendering, the parent encoding) was measured too and was
slower on two cores: the work is the same, pages must cross processes, and
workers must start.

The API is synchronous and CPU bound; callers run it in a worker thread.
pdfium is not thread-safe, so a module lock serialises its calls.
"""

from __future__ import annotations

import ctypes
import threading
from collections import deque
from collections.abc import Callable, Generator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import numpy as np
import pypdfium2
import pypdfium2.raw as pdfium_c
from PIL import Image, ImageDraw, ImageFont

from fax_gateway.bilevel import TEXT_THRESHOLD, Binarizer, Grey
from fax_gateway.libtiff import CcittTiffWriter, PageGeometry
from fax_gateway.profile_f import Coding, Resolution

#: Scan-line width for A4 and Letter at 204 dpi (T.4, 215 mm).
FAX_WIDTH = 1728

ProgressCallback = Callable[[int, int], None]

_HEADER_PT = 8.0  # header text size, points
_HEADER_BAND_IN = 0.16  # header band height, inches
_HEADER_MARGIN_IN = 0.12  # left/right margin of the header text, inches
_PAGES_AHEAD = 2  # rendered pages waiting for the encoder, at most
# Annotations drawn (stamps, signatures), grey output, no anti-aliasing for
# text and paths; images keep smooth scaling so photos keep their tones.
_RENDER_FLAGS = (
    pdfium_c.FPDF_ANNOT
    | pdfium_c.FPDF_GRAYSCALE
    | pdfium_c.FPDF_RENDER_NO_SMOOTHTEXT
    | pdfium_c.FPDF_RENDER_NO_SMOOTHPATH
)

_pdfium_lock = threading.Lock()
_T = TypeVar("_T")


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

    ``progress(page_done, total)`` is called after each page is written, in
    the calling thread. Raises :class:`RenderError` for PDFs that cannot be
    opened or have no pages; ``out`` is then removed rather than left
    half-written.
    """
    with _pdfium_lock:
        try:
            document = pypdfium2.PdfDocument(pdf)
        except pypdfium2.PdfiumError as exc:
            raise RenderError(f"cannot open PDF: {exc}") from exc
        total = len(document)
    try:
        if total == 0:
            raise RenderError("PDF has no pages")
        painter = _PagePainter(document, resolution, FaxHeader(sender=sender, date=date), total)
        binarizer = Binarizer(resolution.y_dpi / resolution.x_dpi)
        try:
            with (
                CcittTiffWriter(out, coding) as writer,
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="fax-render") as pool,
                closing(_in_order(pool, painter.page, total)) as pages,
            ):
                for index, grey in enumerate(pages):
                    rows = grey.shape[0]
                    geometry = PageGeometry(FAX_WIDTH, rows, resolution.x_dpi, resolution.y_dpi)
                    bits = binarizer.to_bits(grey)
                    painter.recycle(grey)
                    writer.write_page(bits.data, geometry, page_index=index, page_count=total)
                    if progress is not None:
                        progress(index + 1, total)
        except BaseException:
            out.unlink(missing_ok=True)
            raise
    finally:
        with _pdfium_lock:
            document.close()
    return RenderResult(path=out, pages=total, resolution=resolution, coding=coding)


def _in_order(
    pool: ThreadPoolExecutor, work: Callable[[int], _T], count: int
) -> Generator[_T, None, None]:
    """``work(0) .. work(count - 1)`` run in ``pool``, yielded in order.

    At most ``_PAGES_AHEAD`` submitted items wait unclaimed, which bounds
    memory; when the generator is closed early, work not yet started is
    cancelled.
    """
    pending: deque[Future[_T]] = deque()
    submitted = 0
    try:
        for _ in range(count):
            while submitted < count and len(pending) < _PAGES_AHEAD:
                pending.append(pool.submit(work, submitted))
                submitted += 1
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()


@dataclass(frozen=True, slots=True)
class _Placement:
    """Where a page lands in the fax image: rows, header band, pdfium matrix.

    ``clip`` (left, top, right, bottom, in pixels) is the page's own box, so
    content lying outside the page does not spill into the margins.
    """

    rows: int
    band_rows: int
    matrix: tuple[float, float, float, float, float, float]
    clip: tuple[float, float, float, float]


def _placement(width_pt: float, height_pt: float, resolution: Resolution) -> _Placement:
    """Fit a page of ``width_pt`` x ``height_pt`` (as displayed) to the fax line.

    Pages are faxed at their physical size, shrunk only if wider than the
    215 mm fax line; the content then shrinks a little more to leave room
    for the header band, aspect kept, centred across the line. A landscape
    page is turned a quarter clockwise first.
    """
    x_dpi, y_dpi = resolution.x_dpi, resolution.y_dpi
    turned = width_pt > height_pt
    if turned:
        width_pt, height_pt = height_pt, width_pt
    y_per_x = y_dpi / x_dpi
    paper_scale = min(FAX_WIDTH / width_pt, x_dpi / 72)
    rows = round(height_pt * paper_scale * y_per_x)
    band_rows = round(_HEADER_BAND_IN * y_dpi)
    scale_x = min(paper_scale, (rows - band_rows) / y_per_x / height_pt)
    scale_y = scale_x * y_per_x
    left = (FAX_WIDTH - width_pt * scale_x) / 2
    if turned:
        # Displayed (x, y) -> fax (left + scale_x * (width - y), band + scale_y * x).
        matrix = (0.0, scale_y, -scale_x, 0.0, left + scale_x * width_pt, float(band_rows))
    else:
        matrix = (scale_x, 0.0, 0.0, scale_y, left, float(band_rows))
    clip = (left, float(band_rows), left + width_pt * scale_x, band_rows + height_pt * scale_y)
    return _Placement(rows, band_rows, matrix, clip)


class _PagePainter:
    """Draws page ``n`` of one document as a grey fax page, header included."""

    def __init__(
        self,
        document: pypdfium2.PdfDocument,
        resolution: Resolution,
        header: FaxHeader,
        total: int,
    ) -> None:
        self._document = document
        self._resolution = resolution
        self._header = header
        self._total = total
        self._free: deque[Grey] = deque()
        x_dpi = resolution.x_dpi
        self._band_square_rows = round(
            round(_HEADER_BAND_IN * resolution.y_dpi) * x_dpi / resolution.y_dpi
        )
        self._font = ImageFont.load_default(size=round(_HEADER_PT * x_dpi / 72))
        self._margin = round(_HEADER_MARGIN_IN * x_dpi)
        # The left part (date, sender) is the same on every page: drawn once.
        self._band = Image.new("L", (FAX_WIDTH, self._band_square_rows), 255)
        left, _ = header.line(1, total)
        ImageDraw.Draw(self._band).text(
            (self._margin, self._band_square_rows / 2), left, fill=0, font=self._font, anchor="lm"
        )

    def page(self, index: int) -> Grey:
        """Page ``index`` (0-based) as a uint8 array of FAX_WIDTH columns.

        Hand the array back with :meth:`recycle` once it is no longer needed.
        """
        with _pdfium_lock:
            try:
                page = self._document[index]
            except pypdfium2.PdfiumError as exc:
                raise RenderError(f"cannot read page {index + 1}: {exc}") from exc
            try:
                width_pt, height_pt = page.get_size()
                placement = _placement(width_pt, height_pt, self._resolution)
                grey = self._blank(placement.rows)
                _draw(page, grey, placement)
            finally:
                page.close()
        grey[: placement.band_rows] = self._header_band(index + 1, placement.band_rows)
        return grey

    def recycle(self, grey: Grey) -> None:
        """Take back a page from :meth:`page`; its memory is reused for a later page."""
        base = grey.base
        if isinstance(base, np.ndarray):
            self._free.append(base)

    def _blank(self, rows: int) -> Grey:
        """A white page of ``rows`` rows, in recycled memory where there is some.

        Fresh page-sized memory costs the kernel's zeroing of every page of
        it again; the few buffers in flight are reused instead. ``deque``'s
        append and pop are atomic, so the two threads need no lock here.
        """
        size = rows * FAX_WIDTH
        try:
            buffer = self._free.pop()
        except IndexError:
            buffer = np.empty(size, dtype=np.uint8)
        if buffer.size < size:
            buffer = np.empty(size, dtype=np.uint8)
        grey = buffer[:size].reshape(rows, FAX_WIDTH)
        grey.fill(255)
        return grey

    def _header_band(self, page: int, band_rows: int) -> Grey:
        """The header line drawn in square pixels, squeezed to the line density.

        It is thresholded here, being text: the anti-aliased grey of its
        edges would otherwise make every page look like it might hold a
        photo and cost each one the full photo search.
        """
        band = self._band.copy()
        _, right = self._header.line(page, self._total)
        ImageDraw.Draw(band).text(
            (FAX_WIDTH - self._margin, self._band_square_rows / 2),
            right,
            fill=0,
            font=self._font,
            anchor="rm",
        )
        squeezed = np.asarray(band.resize((FAX_WIDTH, band_rows), Image.Resampling.BOX))
        return np.where(squeezed < TEXT_THRESHOLD, np.uint8(0), np.uint8(255))


def _draw(page: pypdfium2.PdfPage, grey: Grey, placement: _Placement) -> None:
    """pdfium draws ``page`` into ``grey`` (white, C-contiguous) below the band."""
    rows, width = grey.shape
    bitmap = pdfium_c.FPDFBitmap_CreateEx(
        width, rows, pdfium_c.FPDFBitmap_Gray, grey.ctypes.data_as(ctypes.c_void_p), width
    )
    if not bitmap:
        raise RenderError("pdfium could not create a page bitmap")
    try:
        matrix = pdfium_c.FS_MATRIX(*placement.matrix)
        clip = pdfium_c.FS_RECTF(*placement.clip)
        pdfium_c.FPDF_RenderPageBitmapWithMatrix(bitmap, page.raw, matrix, clip, _RENDER_FLAGS)
    finally:
        pdfium_c.FPDFBitmap_Destroy(bitmap)


def rasterise_pdf(pdf: bytes, dpi: float) -> list[Image.Image]:
    """Every page of ``pdf`` as an 8-bit grey image at ``dpi`` (square pixels).

    For readers of received faxes (the referral desk's reply sheets): an
    inbound fax's PDF carries its CCITT pages at their true size, so any
    line density comes out with square pixels. Under the module's pdfium
    lock, since the outbound renderer may be running in another thread.
    """
    with _pdfium_lock:
        try:
            document = pypdfium2.PdfDocument(pdf)
        except pypdfium2.PdfiumError as exc:
            raise RenderError(f"cannot open PDF: {exc}") from exc
        try:
            return [
                document[index].render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
                for index in range(len(document))
            ]
        finally:
            document.close()
