"""The pharmacovigilance process written as two tables: what an MSL determines, what PV does.

    request   undetermined ──none──> none ──reported──> reported ──reported──> reported
                    └──────────reported───────────────────┘   (more to report: another item)
    PV item   forwarded ──ack (PV: !ack PV-… or a reaction)──> acknowledged

The screens are not trusted to find every adverse event: before an MSL may
``!close`` a request they record a determination — ``none``, or ``reported``
with their own words, which forward to the sponsor's PV room as one more PV
item. Each forwarded item waits for PV's acknowledgement; the daily
reconciliation lists those that wait and every ``reported`` request with no
item (:mod:`bots.medinfo.pv_process`). The rows say who owns each move, and the
audit action it writes; :meth:`bots.medinfo.store.RequestStore.determine` and
:meth:`~bots.medinfo.store.RequestStore.acknowledge` apply them and nothing
else sets these columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from curbside.transitions import describe_moves


class Determination(StrEnum):
    """The MSL's AE/complaint determination; ``undetermined`` is a NULL column."""

    UNDETERMINED = "undetermined"
    NONE = "none"
    REPORTED = "reported"


class ItemState(StrEnum):
    """A PV item, as ``medinfo_pv_reports.state`` holds it."""

    FORWARDED = "forwarded"
    ACKNOWLEDGED = "acknowledged"


class Side(StrEnum):
    MSL = "msl"
    PV = "pv"


@dataclass(frozen=True, slots=True)
class Move:
    """One allowed move of either table."""

    source: StrEnum
    target: StrEnum
    side: Side
    reason_required: bool
    action: str


D, P = Determination, ItemState
DETERMINATIONS: tuple[Move, ...] = (
    # from             to            owner   reason (the MSL's words)  audit action
    Move(D.UNDETERMINED, D.NONE, Side.MSL, False, "medinfo.safety_none"),
    Move(D.UNDETERMINED, D.REPORTED, Side.MSL, True, "medinfo.safety_reported"),
    Move(D.NONE, D.REPORTED, Side.MSL, True, "medinfo.safety_reported"),
    Move(D.REPORTED, D.REPORTED, Side.MSL, True, "medinfo.safety_reported"),
)
ITEMS: tuple[Move, ...] = (
    Move(P.FORWARDED, P.ACKNOWLEDGED, Side.PV, False, "medinfo.pv_ack"),
)
del D, P


class ProcessError(Exception):
    """A move neither table allows; the message is for the person who tried it."""


def check(table: tuple[Move, ...], source: StrEnum, target: StrEnum, side: Side,
          reason: str = "") -> Move:
    """The row for this move, or :class:`ProcessError` saying what is allowed."""
    row = next((m for m in table if (m.source, m.target, m.side) == (source, target, side)),
               None)
    if row is None:
        raise ProcessError(f"{source.value} cannot become {target.value}; allowed from "
                           f"{source.value}: {describe_moves(table, source)}")
    if row.reason_required and not reason.strip():
        raise ProcessError(f"{target.value} needs your words: what was reported, about whom")
    return row


def determination_of(value: str | None) -> Determination:
    """The column's value as a state (NULL is undetermined)."""
    return Determination(value) if value else Determination.UNDETERMINED
