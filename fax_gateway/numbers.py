"""Fax numbers in one shape (E.164) so hashing, routing and limits agree."""

from __future__ import annotations

import re

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_SEPARATORS = re.compile(r"[\s().-]")


class InvalidNumber(ValueError):
    """Not a fax number we can dial: it must be E.164, e.g. +15555550123."""


def normalise_number(raw: str) -> str:
    """Strip spaces, dots, dashes and brackets; require ``+`` and 7-15 digits."""
    number = _SEPARATORS.sub("", raw)
    if not _E164.match(number):
        raise InvalidNumber("fax numbers must be in E.164 form, e.g. +15555550123")
    return number
