"""Documents for tests: small PDFs, and hostile files built byte by byte.

The hostile ones are generated here, at the size the issue names, so no big
binary is committed: a PDF whose page tree lists one page millions of times,
a TIFF with thousands of pages, a decompression-bomb PNG, a TIFF claiming
2^31 x 2^31 pixels and one whose strips are zero rows tall.
"""

from __future__ import annotations

import functools
import io
import struct
import zlib

from reportlab.lib.pagesizes import letter
from reportlab.pdfgen import canvas


def make_pdf(pages: int = 1, text: str = "Referral letter") -> bytes:
    """A Letter-size PDF of ``pages`` pages reading "<text> - page n of N"."""
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=letter)
    for number in range(1, pages + 1):
        page.setFont("Helvetica", 14)
        page.drawString(72, 700, f"{text} - page {number} of {pages}")
        page.showPage()
    page.save()
    return buffer.getvalue()


def _pdf_from_objects(objects: list[bytes]) -> bytes:
    """A PDF with a correct cross-reference table around ``objects`` (1-based)."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref,
    )
    return bytes(out)


@functools.cache
def page_tree_bomb(repeats: int = 3_300_000) -> bytes:
    """A PDF whose one page tree node lists the same page ``repeats`` times.

    The default is the issue's file: 18 MiB, "3.3 million pages". A reader that
    flattens the page tree copies the page once per listing (QPDF does, to make
    every page a distinct object): 30 s and 7 GB before the fix.
    """
    kids = b"3 0 R " * repeats
    return _pdf_from_objects([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % repeats,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
    ])


def page_tree_cycle() -> bytes:
    """A PDF whose page tree node lists itself as its own kid."""
    return _pdf_from_objects([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
    ])


def huge_image_pdf(width: int = 200_000, height: int = 200_000) -> bytes:
    """A one-page PDF drawing an image XObject that claims ``width`` x ``height`` pixels."""
    return _pdf_from_objects([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /XObject << /Im0 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
        b"/BitsPerComponent 1 /Length 0 >>\nstream\n\nendstream" % (width, height),
        b"<< /Length 10 >>\nstream\n/Im0 Do   \nendstream",
    ])


# TIFF tags used below (TIFF 6.0): width, length, bits, compression, photometric,
# strip offsets, rows per strip, strip byte counts, x/y resolution, unit.
_SHORT, _LONG, _RATIONAL = 3, 4, 5


def make_tiff(
    *,
    pages: int = 1,
    width: int = 1728,
    length: int = 2200,
    rows_per_strip: int | None = None,
    strip: bytes = b"\x00" * 16,
) -> bytes:
    """A little-endian Group 4 TIFF of ``pages`` pages that all share one strip.

    Each page is one 12-entry IFD (~150 bytes), so 20,001 pages fit in 2.4 MiB.
    The strip is not valid T.6 data unless the caller passes some: the hostile
    cases are refused from their tags, before any strip is decoded.
    """
    resolution_at = 8
    strip_at = resolution_at + 8
    first_ifd = strip_at + len(strip) + (len(strip) & 1)
    header = struct.pack("<2sHI", b"II", 42, first_ifd)
    rows = length if rows_per_strip is None else rows_per_strip
    entries = [
        (256, _LONG, width), (257, _LONG, length), (258, _SHORT, 1), (259, _SHORT, 4),
        (262, _SHORT, 0), (273, _LONG, strip_at), (277, _SHORT, 1), (278, _LONG, rows),
        (279, _LONG, len(strip)), (282, _RATIONAL, resolution_at),
        (283, _RATIONAL, resolution_at), (296, _SHORT, 2),
    ]
    ifd_size = 2 + 12 * len(entries) + 4
    body = bytearray(header + struct.pack("<II", 204, 1) + strip)
    if len(strip) & 1:
        body += b"\x00"
    for index in range(pages):
        following = first_ifd + (index + 1) * ifd_size if index + 1 < pages else 0
        body += struct.pack("<H", len(entries))
        for tag, kind, value in entries:
            packed = struct.pack("<H", value) + b"\x00\x00" if kind == _SHORT else struct.pack(
                "<I", value
            )
            body += struct.pack("<HHI", tag, kind, 1) + packed
        body += struct.pack("<I", following)
    return bytes(body)


def many_page_tiff(pages: int = 20_001) -> bytes:
    """The issue's 2.4 MiB TIFF with 20,001 pages."""
    return make_tiff(pages=pages)


def giant_tiff() -> bytes:
    """A TIFF whose one page claims 2^31 x 2^31 pixels."""
    return make_tiff(width=2**31, length=2**31)


def zero_rows_tiff() -> bytes:
    """A TIFF whose RowsPerStrip is 0 (a division by zero in a naive reader)."""
    return make_tiff(rows_per_strip=0)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF
    )


def _zeros_zlib(size: int) -> bytes:
    """A zlib stream of ``size`` zero bytes, built without compressing them all.

    After a full flush a deflate compressor forgets what came before, so every
    further mebibyte of zeros compresses to the same bytes: one block, repeated.
    The Adler-32 of n zeros is (n mod 65521) << 16 | 1.
    """
    chunk = 1 << 20
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflate.compress(b"\x00" * chunk)
    deflate.flush(zlib.Z_FULL_FLUSH)
    block = deflate.compress(b"\x00" * chunk) + deflate.flush(zlib.Z_FULL_FLUSH)
    rest = zlib.compressobj(9, zlib.DEFLATED, -15)
    tail = rest.compress(b"\x00" * (size % chunk)) + rest.flush()
    head = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = head.compress(b"\x00" * chunk) + head.flush(zlib.Z_FULL_FLUSH)
    body = first + block * (size // chunk - 1) if size >= chunk else b""
    adler = ((size % 65521) << 16) | 1
    return b"\x78\xda" + body + tail + struct.pack(">I", adler)


@functools.cache
def png_bomb(side: int = 30_000) -> bytes:
    """A valid grayscale PNG of ``side`` x ``side`` zeros: under 1 MiB, 900 MB decoded."""
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
        + _png_chunk(b"IDAT", _zeros_zlib(side * (side + 1)))
        + _png_chunk(b"IEND", b"")
    )


def make_png(width: int = 64, height: int = 48) -> bytes:
    """A small valid grayscale PNG."""
    raw = b"".join(b"\x00" + bytes((x * 4) % 256 for x in range(width)) for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + _png_chunk(b"IDAT", zlib.compress(raw))
        + _png_chunk(b"IEND", b"")
    )


def looping_tiff() -> bytes:
    """A two-page TIFF whose second page points back at the first: a reader that
    follows the chain without remembering where it has been never stops."""
    data = bytearray(make_tiff(pages=2))
    (first,) = struct.unpack_from("<I", data, 4)
    (entries,) = struct.unpack_from("<H", data, first)
    second = first + 2 + 12 * entries + 4
    struct.pack_into("<I", data, second + 2 + 12 * entries, first)
    return bytes(data)


@functools.cache
def hidden_page_tree_bomb(repeats: int = 3_300_000) -> bytes:
    """The page-tree bomb with its page tree node compressed inside an object stream.

    Nothing in the file's bytes shows the tree (a 20 MB /Kids array deflates
    to about 20 KB), so only the parser sees it: this is what the sandbox
    child's memory and CPU limits are for.
    """
    node = b"<< /Type /Pages /Kids [" + b"3 0 R " * repeats + b"] /Count %d >>" % repeats
    header = b"2 0 "
    packed = zlib.compress(header + node, 9)
    out = bytearray(b"%PDF-1.5\n")
    offsets = {}

    def add(number: int, body: bytes) -> None:
        offsets[number] = len(out)
        out.extend(b"%d 0 obj\n" % number + body + b"\nendobj\n")

    add(1, b"<< /Type /Catalog /Pages 2 0 R >>")
    add(3, b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>")
    add(4, b"<< /Type /ObjStm /N 1 /First %d /Filter /FlateDecode /Length %d >>\nstream\n"
        % (len(header), len(packed)) + packed + b"\nendstream")
    xref_at = len(out)
    rows = [struct.pack(">BIH", 0, 0, 65535), struct.pack(">BIH", 1, offsets[1], 0),
            struct.pack(">BIH", 2, 4, 0), struct.pack(">BIH", 1, offsets[3], 0),
            struct.pack(">BIH", 1, offsets[4], 0), struct.pack(">BIH", 1, xref_at, 0)]
    table = b"".join(rows)
    add(5, b"<< /Type /XRef /Size 6 /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n"
        % len(table) + table + b"\nendstream")
    out.extend(b"startxref\n%d\n%%%%EOF\n" % xref_at)
    return bytes(out)
