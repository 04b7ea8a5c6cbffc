"""Join requests: a verified clinician asks, one of the room's owners decides.

    !join <room> ─► open_request (pending, expires after join_request_hours)
                    notice in the room ─(sent)─► noted(notice event id)
    owner: !accept <id> / 👍 on the notice ─► decide(ACCEPTED) ─► consent + invite
    owner: !decline <id> [reason] / 👎    ─► decide(DECLINED) ─► requester told
    the sweep                             ─► expire_due ─► requester told

The lifecycle is :data:`MOVES`; :func:`decide` applies a row with a
compare-and-set on the state, so two owners answering at once decide once.
Nothing here touches Matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bots.gatekeeper.models import JoinRequest
from curbside.transitions import describe_moves


class JoinState(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"


class Side(StrEnum):
    OWNER = "room's owner"
    GATEKEEPER = "gatekeeper"


@dataclass(frozen=True, slots=True)
class JoinMove:
    source: JoinState
    target: JoinState
    side: Side
    reason_required: bool = False


MOVES = (
    JoinMove(JoinState.PENDING, JoinState.ACCEPTED, Side.OWNER),
    JoinMove(JoinState.PENDING, JoinState.DECLINED, Side.OWNER),
    JoinMove(JoinState.PENDING, JoinState.EXPIRED, Side.GATEKEEPER),
)

#: Reactions on a request's notice that answer it (Element's quick reactions and ✅/❌).
ACCEPT_KEYS = frozenset({"👍", "👍️", "✅", "✔️"})
DECLINE_KEYS = frozenset({"👎", "👎️", "❌", "✖️"})


class JoinError(Exception):
    """The request cannot move as asked; the message says why."""


def pending_for(session: Session, room_id: str, user_id: str) -> JoinRequest | None:
    return session.scalars(select(JoinRequest).where(
        JoinRequest.room_id == room_id, JoinRequest.user_id == user_id,
        JoinRequest.state == JoinState.PENDING.value)).first()


def open_request(session: Session, room_id: str, user_id: str, dm_room_id: str,
                 now: datetime, lifetime: timedelta) -> JoinRequest:
    request = JoinRequest(room_id=room_id, user_id=user_id, dm_room_id=dm_room_id,
                          state=JoinState.PENDING.value, requested_at=now,
                          expires_at=now + lifetime)
    session.add(request)
    session.flush()
    return request


def noted(session: Session, request_id: int, notice_event_id: str) -> None:
    """The notice owners answer with a reaction was sent as ``notice_event_id``."""
    request = session.get(JoinRequest, request_id)
    if request is not None:
        request.notice_event_id = notice_event_id


def by_notice(session: Session, notice_event_id: str) -> JoinRequest | None:
    return session.scalars(
        select(JoinRequest).where(JoinRequest.notice_event_id == notice_event_id)).first()


def decide(session: Session, request: JoinRequest, target: JoinState, by: str, now: datetime,
           reason: str | None = None) -> None:
    """Move a pending request to ``target``; refused when it was decided meanwhile."""
    if not any(m.source.value == request.state and m.target is target for m in MOVES):
        raise JoinError(f"Request #{request.id} is already {request.state}; allowed from "
                        f"{request.state}: {describe_moves(MOVES, JoinState(request.state))}.")
    result = session.execute(
        update(JoinRequest)
        .where(JoinRequest.id == request.id, JoinRequest.state == JoinState.PENDING.value)
        .values(state=target.value, decided_by=by, decided_at=now, reason=reason)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise JoinError(f"Request #{request.id} was decided meanwhile.")
    session.refresh(request)


def due(session: Session, now: datetime) -> list[JoinRequest]:
    """Pending requests whose time is up."""
    return list(session.scalars(select(JoinRequest).where(
        JoinRequest.state == JoinState.PENDING.value, JoinRequest.expires_at <= now)))
