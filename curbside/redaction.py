"""Keep PHI out of log lines.

The rule is that code never logs PHI; this filter is the second line of
defence for when someone does. It masks two kinds of text in every record
that reaches a handler:

* values the PHI cipher has seen (every field encrypted or decrypted in this
  process is remembered, most recent first, in a bounded set), and
* identifier shapes that are PHI whatever their source: US SSNs, e-mail
  addresses, North American phone numbers, dates of birth written with a
  ``DOB``/``born`` cue, and MRNs written with an ``MRN`` cue.

The filter rewrites the record's message in place (after ``%`` formatting),
so every handler and formatter downstream sees only the masked text.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from threading import Lock

MASK = "[REDACTED]"
_MIN_REMEMBERED_LENGTH = 4
_MAX_REMEMBERED = 10_000

_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"\b\d{3}-\d{2}-\d{4}\b"),
    re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"),
    re.compile(r"(?<!\d)(?:\+?1[ .-]?)?\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}(?!\d)"),
    re.compile(
        r"(?i)\b(?:dob|d\.o\.b\.|date of birth|born)\b[:\s]*\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}"
    ),
    re.compile(r"(?i)\b(?:mrn|medical record (?:number|no\.?))\b[:#\s]*[A-Z0-9-]{4,}"),
)

_remembered: OrderedDict[str, None] = OrderedDict()
_lock = Lock()


def remember(value: str) -> None:
    """Record a PHI value so the filter masks it if it ever reaches a log."""
    value = value.strip()
    if len(value) < _MIN_REMEMBERED_LENGTH:
        return
    with _lock:
        _remembered[value] = None
        _remembered.move_to_end(value)
        while len(_remembered) > _MAX_REMEMBERED:
            _remembered.popitem(last=False)


def redact(text: str) -> str:
    """Return ``text`` with remembered PHI values and PHI shapes masked."""
    with _lock:
        known = sorted(_remembered, key=len, reverse=True)
    for value in known:
        if value in text:
            text = text.replace(value, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(MASK, text)
    return text


class PhiRedactingFilter(logging.Filter):
    """A logging filter that masks PHI in the fully formatted message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True


def install(handler: logging.Handler) -> None:
    """Attach the filter to a handler (filters on handlers see every logger's records)."""
    if not any(isinstance(f, PhiRedactingFilter) for f in handler.filters):
        handler.addFilter(PhiRedactingFilter())
