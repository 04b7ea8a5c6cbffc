"""A medical-information request's life, written once as a table.

    intake ──route──> routed ──claim──> claimed ──close──> closed
      │                  └───────────close────────────────┘
      └──cancel──> cancelled (the clinician, or the desk when no team can take it)

A request is in ``intake`` while the clinician answers the desk's questions
(:mod:`bots.medinfo.intake` runs that conversation); once confirmed the desk
*routes* it to a sponsor's MSL team, an MSL *claims* it (``!claim``, a
reaction, or simply by answering first) and *closes* it with its outcome.
Each row of :data:`TRANSITIONS` names who owns the move — the clinician, the
desk (the bot itself) or an MSL — whether a reason must be given (a
cancellation by the desk says why; a closure says its outcome), and the audit
action it writes. :meth:`bots.medinfo.store.RequestStore.move` applies every
move and nothing else in the code sets a request's state.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from curbside.transitions import describe_moves, moves_from


class State(StrEnum):
    """Where a request stands; the values are what ``medinfo_requests.state`` holds."""

    INTAKE = "intake"
    ROUTED = "routed"
    CLAIMED = "claimed"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class Side(StrEnum):
    """Who makes a move."""

    CLINICIAN = "clinician"
    DESK = "desk"
    MSL = "msl"


@dataclass(frozen=True, slots=True)
class Transition:
    """One allowed move: from, to, who owns it, whether a reason is required, its audit."""

    source: State
    target: State
    side: Side
    reason_required: bool
    action: str
    meaning: str


S, W = State, Side
TRANSITIONS: tuple[Transition, ...] = (
    # from       to           owner        reason  audit action      meaning
    Transition(S.INTAKE, S.ROUTED, W.DESK, False, "medinfo.route",
               "send the confirmed request to the sponsor's team"),
    Transition(S.INTAKE, S.CANCELLED, W.CLINICIAN, False, "medinfo.cancel",
               "cancel before anything reached a sponsor"),
    Transition(S.INTAKE, S.CANCELLED, W.DESK, True, "medinfo.cancel",
               "no team of the sponsor can take the request"),
    Transition(S.ROUTED, S.CLAIMED, W.MSL, False, "medinfo.claim",
               "take the request (!claim, a reaction, or a first answer)"),
    Transition(S.ROUTED, S.CLOSED, W.MSL, True, "medinfo.close",
               "close with its outcome"),
    Transition(S.CLAIMED, S.CLOSED, W.MSL, True, "medinfo.close",
               "close with its outcome"),
)
del S, W

OPEN: frozenset[State] = frozenset({State.ROUTED, State.CLAIMED})
TERMINAL: frozenset[State] = frozenset({State.CLOSED, State.CANCELLED})

_BY_MOVE: dict[tuple[State, State, Side], Transition] = {
    (t.source, t.target, t.side): t for t in TRANSITIONS
}


class TransitionError(Exception):
    """A move the table does not allow; the message says what is allowed and by whom."""

    def __init__(self, message: str, source: State, target: State) -> None:
        super().__init__(message)
        self.source = source
        self.target = target


def allowed_from(state: State) -> list[Transition]:
    """Rows that leave ``state``, in table order."""
    return moves_from(TRANSITIONS, state)


def describe_allowed(state: State) -> str:
    """What may follow ``state`` and who owns each move, for a refusal."""
    return describe_moves(TRANSITIONS, state)


def check_transition(source: State, target: State, side: Side, reason: str = "") -> Transition:
    """Return the table row for this move or raise :class:`TransitionError`."""
    row = _BY_MOVE.get((source, target, side))
    if row is None:
        owners = [t.side.value for t in TRANSITIONS if (t.source, t.target) == (source, target)]
        if owners:
            message = (f"only the {' or the '.join(owners)} may move a request from "
                       f"{source.value} to {target.value} (you are acting as the {side.value})")
        else:
            message = (f"a request that is {source.value} cannot become {target.value}; "
                       f"allowed from {source.value}: {describe_allowed(source)}")
        raise TransitionError(message, source, target)
    if row.reason_required and not reason.strip():
        raise TransitionError(
            f"moving a request to {target.value} needs a reason: {row.meaning}", source, target
        )
    return row
