"""Reading a lifecycle's transition table: which moves leave a state, said for people.

Each domain keeps its own table (``referral/states.py``, ``bots/medinfo/states.py``):
rows of from-state, to-state, the side that owns the move and whether a
reason is required. What every such table needs in its refusals — "allowed
from requested: accepted (by the recipient), cancelled (by the referrer,
reason required)" — is written here once.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import Protocol, TypeVar


class Move(Protocol):
    """One row of a transition table, as far as describing it goes."""

    @property
    def source(self) -> Enum: ...

    @property
    def target(self) -> Enum: ...

    @property
    def side(self) -> Enum: ...

    @property
    def reason_required(self) -> bool: ...


M = TypeVar("M", bound=Move)


def moves_from(table: Iterable[M], state: Enum) -> list[M]:
    """Rows that leave ``state``, in table order."""
    return [row for row in table if row.source is state]


def describe_moves(table: Iterable[Move], state: Enum) -> str:
    """'accepted (by the recipient), cancelled (by the referrer, reason required)'."""
    rows = moves_from(table, state)
    if not rows:
        return f"nothing: {state.value} is final"
    return ", ".join(
        f"{row.target.value} (by the {row.side.value}"
        f"{', reason required' if row.reason_required else ''})"
        for row in rows
    )
