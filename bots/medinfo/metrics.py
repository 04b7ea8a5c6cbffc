"""Medinfo's series, read from its tables at scrape time.

Open requests (routed or claimed, not closed) are counted by where their
due time stands, so an alert can fire on ``due="overdue"`` before a sponsor's
service level is missed by more. Safety reports forwarded to a PV room count
as unacknowledged until a member of that room reacts to them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bots.medinfo.models import PvReportRow, RequestRow
from bots.medinfo.states import OPEN
from curbside.metrics import Query

DUE_BUCKETS = ("overdue", "within_4h", "within_24h", "later", "no_due_time")
SOON = timedelta(hours=4)
TODAY = timedelta(hours=24)


def due_bucket(due_at: datetime | None, now: datetime) -> str:
    """Which of :data:`DUE_BUCKETS` a request due at ``due_at`` is in at ``now``."""
    if due_at is None:
        return "no_due_time"
    left = (due_at if due_at.tzinfo else due_at.replace(tzinfo=UTC)) - now
    if left < timedelta(0):
        return "overdue"
    if left <= SOON:
        return "within_4h"
    return "within_24h" if left <= TODAY else "later"


def _open_by_due(session: Session) -> Iterable[tuple[Sequence[str], float]]:
    now = datetime.now(UTC)
    query = select(RequestRow.due_at).where(RequestRow.state.in_([s.value for s in OPEN]))
    counts = dict.fromkeys(DUE_BUCKETS, 0)
    for due_at in session.scalars(query):
        counts[due_bucket(due_at, now)] += 1
    return [((bucket,), count) for bucket, count in counts.items()]


def _pv_unacknowledged(session: Session) -> Iterable[tuple[Sequence[str], float]]:
    query = (
        select(PvReportRow.sponsor_key, func.count())
        .where(PvReportRow.acknowledged_at.is_(None))
        .group_by(PvReportRow.sponsor_key)
    )
    return [((sponsor,), count) for sponsor, count in session.execute(query)]


QUERIES = (
    Query(
        "curbside_medinfo_open_requests",
        "Medical-information requests routed to a sponsor and not yet closed, by due time",
        ("due",),
        _open_by_due,
    ),
    Query(
        "curbside_pv_unacknowledged",
        "Safety reports forwarded to a sponsor's PV room that no one there acknowledged yet",
        ("sponsor",),
        _pv_unacknowledged,
    ),
)
