"""Fax numbers in one shape (E.164) so hashing, routing and limits agree.

The rules are the kernel's (:mod:`curbside.phones`): the outbox, the CLI and
the route settings refuse exactly what the referral form and the bridge refuse.
"""

from __future__ import annotations

from curbside.phones import PhoneNumberError as InvalidNumber
from curbside.phones import parse

__all__ = ["InvalidNumber", "normalise_number"]


def normalise_number(raw: str) -> str:
    """The E.164 form of a fax number; :class:`InvalidNumber` says why one is refused."""
    return parse(raw, "fax number")
