"""What people type, bounded and cleaned; what bots echo back, escaped.

Every bot and validator takes text from strangers: names, free text,
command words. Two rules hold everywhere, so they live here once:

- **Refused, not stored**: control characters (NUL, escape, the C0/C1
  ranges; in a one-line field also newlines and tabs) and the invisible
  bidirectional overrides that make "Dr Lee" render as something else.
  :func:`check_line` and :func:`check_text` raise :class:`UnsafeText`
  naming the character, so the sender can fix it.
- **Echoed inert**: :func:`quoted` shows a value in a reply with every such
  character spelled out (``\\x00``), long values cut, inside typographic
  quotes so an apostrophe or a quote in the value stays readable
  (``'; DROP TABLE`` is shown as ``“'; DROP TABLE”``, not as ``'''``).
"""

from __future__ import annotations

import unicodedata

#: Bidirectional embedding/override/isolate controls (Unicode category Cf).
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")
_TEXT_WHITESPACE = frozenset("\n\t\r")


class UnsafeText(ValueError):
    """The text carries a character we do not store; the message names it."""


def _unsafe(char: str, *, multiline: bool) -> bool:
    if multiline and char in _TEXT_WHITESPACE:
        return False
    return unicodedata.category(char) == "Cc" or char in _BIDI


def _describe(char: str) -> str:
    name = unicodedata.name(char, "")
    code = f"U+{ord(char):04X}"
    return f"{code} {name}".strip() if name else f"{code} (a control character)"


def _check(value: str, label: str, limit: int, *, multiline: bool) -> str:
    if len(value) > limit:
        raise UnsafeText(f"{label} is too long ({len(value):,} characters, at most {limit:,})")
    for char in value:
        if _unsafe(char, multiline=multiline):
            where = "" if multiline else " (it must be one line)"
            raise UnsafeText(f"{label} contains {_describe(char)}{where}; type it without that")
    return value


def check_line(value: str, label: str, limit: int = 200) -> str:
    """``value`` unchanged if it is one line of printable text within ``limit``."""
    return _check(value, label, limit, multiline=False)


def check_text(value: str, label: str, limit: int = 4000) -> str:
    """``value`` unchanged if it is printable text (newlines and tabs allowed) within ``limit``."""
    return _check(value, label, limit, multiline=True)


def quoted(value: str, limit: int = 60) -> str:
    """``value`` for a reply: control characters spelled out, cut at ``limit``, in “quotes”."""
    shown = "".join(
        char.encode("unicode_escape").decode("ascii")
        if _unsafe(char, multiline=False) else char
        for char in value[: limit + 1]
    )
    if len(value) > limit:
        shown = shown[:limit] + "…"
    return f"“{shown}”"
