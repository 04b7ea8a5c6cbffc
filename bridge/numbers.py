"""Fax numbers as Matrix users: ``+16175550134`` ⇄ ``@fax_16175550134:server``.

The registration (``bridge/registration.py``) reserves exactly this
namespace, so a puppet's user id *is* the number it stands for; nothing else
needs to be stored to map one to the other. Numbers are parsed and shown by
the kernel's rules (:mod:`curbside.phones`), like everywhere else.
"""

from __future__ import annotations

import re

from bridge.registration import PUPPET_PREFIX
from curbside.phones import display
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
