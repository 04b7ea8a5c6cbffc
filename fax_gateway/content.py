"""What an arriving document is, judged by its bytes, not by its label."""

from __future__ import annotations

from fax_gateway.transports.base import ContentKind


class UnsupportedContent(ValueError):
    """Not a PDF or TIFF fax we can store and show (HTTP 415)."""


def sniff_kind(content: bytes) -> ContentKind:
    """PDF (``%PDF-``) or TIFF (``II*\\0`` / ``MM\\0*``); anything else is refused."""
    if content.startswith(b"%PDF-"):
        return ContentKind.PDF
    if content[:4] in (b"II*\x00", b"MM\x00*"):
        return ContentKind.TIFF
    raise UnsupportedContent("only PDF and TIFF faxes are accepted")
