"""Fax numbers as Matrix users: ``+15551234567`` ⇄ ``@fax_15551234567:server``.

The registration (``bridge/registration.py``) reserves exactly this
namespace, so a puppet's user id *is* the number it stands for; nothing else
needs to be stored to map one to the other.
"""

from __future__ import annotations

import re

from bridge.registration import PUPPET_PREFIX
from fax_gateway import InvalidNumber, normalise_number

__all__ = ["InvalidNumber", "display", "normalise_number", "number_of", "puppet_id"]

_PUPPET = re.compile(rf"^@{PUPPET_PREFIX}([1-9][0-9]{{6,14}}):(.+)$")


def puppet_id(number: str, server_name: str) -> str:
    """The puppet user id for an E.164 number (validated here)."""
    return f"@{PUPPET_PREFIX}{normalise_number(number)[1:]}:{server_name}"


def number_of(user_id: str, server_name: str) -> str | None:
    """The E.164 number a puppet user id stands for; None for any other user."""
    match = _PUPPET.match(user_id)
    if match is None or match.group(2) != server_name:
        return None
    return "+" + match.group(1)


def display(number: str) -> str:
    """How people read a number: ``+1 555 123 4567`` for North America, E.164 otherwise."""
    if number.startswith("+1") and len(number) == 12:
        return f"+1 {number[2:5]} {number[5:8]} {number[8:]}"
    return number
