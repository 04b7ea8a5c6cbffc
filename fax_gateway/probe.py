"""What an untrusted document claims to be, read without believing it.

    bytes ─► kind (PDF · TIFF · PNG · JPEG, by magic bytes)
        PDF   lexical scan: no /Count and no /Kids array above the page limit
              then the page tree walked with a budget (never pikepdf's
              ``pdf.pages``), each page's size at fax resolution and each
              image's Width x Height against the pixel limit
        TIFF  the IFD chain walked by hand: page budget, loop check, pixel
              area, RowsPerStrip > 0, strips inside the file
        PNG / JPEG  the header's size (PIL reads no pixels to know it)

Every check stops at the first limit it passes, so work and memory are
bounded by the limits, not by what the file says. This module runs inside
the sandbox child (:mod:`fax_gateway.sandbox_server`), whose memory and CPU
limits catch what the checks cannot see (a bomb hidden in a compressed
object stream); it imports only the standard library, pikepdf and PIL so
the child starts small, and is loaded there without the package.
"""

from __future__ import annotations

import io
import re
import struct
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

#: Pixels per inch a PDF page is rendered at for fax (TIFF-F fine: 204 x 196).
FAX_DPI = (204, 196)
_MAX_TIFF_TAGS = 512


@dataclass(frozen=True, slots=True)
class ProbeLimits:
    """The limits a document must stay within (``fax.documents`` in the settings)."""

    max_bytes: int = 20 * 1024 * 1024
    max_pages: int = 500
    max_pixels: int = 25_000_000


@dataclass(frozen=True, slots=True)
class DocumentFacts:
    """What the probe found: the kind, the page count, the largest page or image in pixels."""

    kind: str
    pages: int
    largest_pixels: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class DocumentRefused(ValueError):
    """The document is over a limit or malformed; ``status`` is the HTTP answer (413/415/422)."""

    def __init__(self, reason: str, status: int = 422) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def sniff(data: bytes) -> str:
    """``pdf``, ``tiff``, ``png`` or ``jpeg`` by the first bytes; anything else is refused."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    raise DocumentRefused("the file is not a PDF, TIFF, PNG or JPEG", 415)


def probe(data: bytes, limits: ProbeLimits) -> DocumentFacts:
    """The facts of ``data``, or :class:`DocumentRefused` naming the first limit it breaks."""
    if len(data) > limits.max_bytes:
        raise DocumentRefused(
            f"the file is {len(data) / 2**20:.1f} MiB; the limit is "
            f"{limits.max_bytes / 2**20:.1f} MiB", 413,
        )
    kind = sniff(data)
    if kind == "pdf":
        return _probe_pdf(data, limits)
    if kind == "tiff":
        return _probe_tiff(data, limits)
    return _probe_picture(data, kind, limits)


def _too_many_pages(limits: ProbeLimits, seen: str) -> DocumentRefused:
    return DocumentRefused(f"the document has {seen} pages; the limit is {limits.max_pages}")


def _check_pixels(pixels: int, what: str, limits: ProbeLimits) -> None:
    if pixels > limits.max_pixels:
        raise DocumentRefused(
            f"{what} is {pixels:,} pixels; the limit is {limits.max_pixels:,}"
        )


# -- PDF ---------------------------------------------------------------------------

_COUNT = re.compile(rb"/Count\s+(\d{1,20})")
_KIDS = re.compile(rb"/Kids\s*\[")


def _scan_pdf(data: bytes, limits: ProbeLimits) -> None:
    """Refuse page trees over the limit from the raw bytes, before a parser builds them.

    A parser holds every array entry as an object (pikepdf needed 7 GB and a
    minute for one 3.3-million-entry /Kids array); counting ``R`` tokens in
    the bytes needs nothing. Trees inside compressed object streams are not
    visible here; the walk and the child's limits handle those.
    """
    for match in _COUNT.finditer(data):
        if int(match.group(1)) > limits.max_pages:
            raise _too_many_pages(limits, f"{int(match.group(1)):,} (by its page count)")
    for match in _KIDS.finditer(data):
        end = data.find(b"]", match.end())
        listed = data.count(b"R", match.end(), len(data) if end < 0 else end)
        if listed > limits.max_pages:
            raise _too_many_pages(limits, f"{listed:,} (listed in one page tree node)")


def _probe_pdf(data: bytes, limits: ProbeLimits) -> DocumentFacts:
    import pikepdf

    _scan_pdf(data, limits)
    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            largest, pages = 0, 0
            for page in _walk_pages(pdf.Root.get("/Pages"), limits):
                pages += 1
                largest = max(largest, _page_pixels(page, limits))
    except DocumentRefused:
        raise
    except pikepdf.PasswordError:
        raise DocumentRefused("the PDF is password-protected; send it without a password") from None
    except (pikepdf.PdfError, AttributeError, KeyError, TypeError, ValueError) as exc:
        raise DocumentRefused(f"the PDF cannot be read: {type(exc).__name__}") from None
    if pages == 0:
        raise DocumentRefused("the PDF has no pages")
    return DocumentFacts("pdf", pages, largest)


def _walk_pages(root: Any, limits: ProbeLimits) -> Iterator[Any]:
    """Leaf pages depth first, each with its inherited MediaBox; a node seen twice is refused."""
    import pikepdf

    if not isinstance(root, pikepdf.Dictionary):
        raise DocumentRefused("the PDF has no page tree")
    seen: set[tuple[int, int]] = set()
    stack: list[tuple[Any, Any]] = [(root, None)]
    leaves = 0
    while stack:
        node, box = stack.pop()
        if not isinstance(node, pikepdf.Dictionary):
            raise DocumentRefused("the PDF's page tree holds something that is not a page")
        ident = node.objgen
        if ident != (0, 0):
            if ident in seen:
                raise DocumentRefused("the PDF's page tree lists a page or node twice")
            seen.add(ident)
        box = node.get("/MediaBox", box)
        kids = node.get("/Kids")
        if kids is None:
            leaves += 1
            if leaves > limits.max_pages:
                raise _too_many_pages(limits, f"more than {limits.max_pages}")
            yield node, box
            continue
        if not isinstance(kids, pikepdf.Array):
            raise DocumentRefused("the PDF's page tree has a node without a list of kids")
        if leaves + len(stack) + len(kids) > limits.max_pages:
            raise _too_many_pages(limits, f"more than {limits.max_pages}")
        stack.extend((kid, box) for kid in reversed(list(kids)))


def _page_pixels(entry: tuple[Any, Any], limits: ProbeLimits) -> int:
    """The page at fax resolution and every image it draws, each against the pixel limit."""
    import pikepdf

    page, box = entry
    largest = 0
    if isinstance(box, pikepdf.Array) and len(box) == 4:
        width_pt = abs(float(box[2]) - float(box[0]))
        height_pt = abs(float(box[3]) - float(box[1]))
        pixels = int(width_pt / 72 * FAX_DPI[0]) * int(height_pt / 72 * FAX_DPI[1])
        _check_pixels(pixels, "a page rendered for fax", limits)
        largest = pixels
    resources = page.get("/Resources")
    xobjects = resources.get("/XObject") if isinstance(resources, pikepdf.Dictionary) else None
    if isinstance(xobjects, pikepdf.Dictionary):
        for image in xobjects.values():
            if isinstance(image, pikepdf.Stream) and image.get("/Subtype") == "/Image":
                pixels = int(image.get("/Width", 0)) * int(image.get("/Height", 0))
                _check_pixels(pixels, "an image in the PDF", limits)
                largest = max(largest, pixels)
    return largest


# -- TIFF --------------------------------------------------------------------------

_TYPE_SIZES = {1: 1, 3: 2, 4: 4, 16: 8}  # BYTE, SHORT, LONG, LONG8
_TYPE_CODES = {1: "B", 3: "H", 4: "I", 16: "Q"}


class _Tiff:
    """Just enough TIFF to read an IFD's integer tags, every offset checked against the file."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.order = "<" if data[:2] == b"II" else ">"

    def unpack(self, fmt: str, offset: int) -> tuple[int, ...]:
        size = struct.calcsize(self.order + fmt)
        if offset < 0 or offset + size > len(self.data):
            raise DocumentRefused("the TIFF points past its own end")
        return struct.unpack_from(self.order + fmt, self.data, offset)

    def ifd(self, offset: int) -> tuple[dict[int, tuple[int, int, int]], int]:
        """{tag: (type, count, where its value is)} at ``offset``, and the next IFD's offset."""
        (entries,) = self.unpack("H", offset)
        if entries > _MAX_TIFF_TAGS:
            raise DocumentRefused("a TIFF page has more tags than any fax page")
        tags = {}
        for index in range(entries):
            tag, kind, count = self.unpack("HHI", offset + 2 + 12 * index)
            tags[tag] = (kind, count, offset + 2 + 12 * index + 8)
        (following,) = self.unpack("I", offset + 2 + 12 * entries)
        return tags, following

    def values(self, tags: dict[int, tuple[int, int, int]], tag: int, limit: int) -> list[int]:
        """The integer values of ``tag`` (at most ``limit`` of them)."""
        if tag not in tags:
            return []
        kind, count, at = tags[tag]
        if kind not in _TYPE_SIZES:
            raise DocumentRefused(f"TIFF tag {tag} has an unexpected type")
        if count > limit:
            raise DocumentRefused(f"TIFF tag {tag} lists {count:,} values")
        size = _TYPE_SIZES[kind] * count
        where = at if size <= 4 else self.unpack("I", at)[0]
        return list(self.unpack(_TYPE_CODES[kind] * count, where)) if count else []

    def one(self, tags: dict[int, tuple[int, int, int]], tag: int, default: int) -> int:
        found = self.values(tags, tag, 1)
        return found[0] if found else default


def _probe_tiff(data: bytes, limits: ProbeLimits) -> DocumentFacts:
    tiff = _Tiff(data)
    (magic, offset) = tiff.unpack("HI", 2)
    if magic != 42:
        raise DocumentRefused("BigTIFF and other TIFF variants are not fax files")
    seen: set[int] = set()
    pages = largest = 0
    while offset:
        if offset in seen:
            raise DocumentRefused("the TIFF's page chain loops back on itself")
        seen.add(offset)
        pages += 1
        if pages > limits.max_pages:
            raise _too_many_pages(limits, f"more than {limits.max_pages}")
        tags, offset = tiff.ifd(offset)
        largest = max(largest, _tiff_page(tiff, tags, pages, limits))
    if pages == 0:
        raise DocumentRefused("the TIFF has no pages")
    return DocumentFacts("tiff", pages, largest)


def _tiff_page(
    tiff: _Tiff, tags: dict[int, tuple[int, int, int]], number: int, limits: ProbeLimits
) -> int:
    width, length = tiff.one(tags, 256, 0), tiff.one(tags, 257, 0)
    if not width or not length:
        raise DocumentRefused(f"TIFF page {number} has no image size")
    _check_pixels(width * length, f"TIFF page {number}", limits)
    rows = tiff.one(tags, 278, length)
    if rows == 0:
        raise DocumentRefused(f"TIFF page {number} has strips of 0 rows (RowsPerStrip 0)")
    strips = -(-length // min(rows, length))
    offsets = tiff.values(tags, 273, strips)
    counts = tiff.values(tags, 279, strips)
    if len(offsets) != strips or len(counts) != strips:
        raise DocumentRefused(f"TIFF page {number}: the strip table does not match the image size")
    for start, size in zip(offsets, counts, strict=True):
        if start + size > len(tiff.data):
            raise DocumentRefused(f"TIFF page {number}: a strip runs past the end of the file")
    return width * length


# -- PNG / JPEG --------------------------------------------------------------------


def _probe_picture(data: bytes, kind: str, limits: ProbeLimits) -> DocumentFacts:
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = None  # our own limit below, checked before any pixel is read
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            _check_pixels(width * height, f"the {kind.upper()} image", limits)
            image.verify()
    except DocumentRefused:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DocumentRefused(
            f"the {kind.upper()} image cannot be read: {type(exc).__name__}"
        ) from None
    return DocumentFacts(kind, 1, width * height)
