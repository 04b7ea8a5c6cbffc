"""What `curbside status` says about the fax gateway, read from the outbox table.

The queue depth is every job not finished; *stalled* are jobs due for more
than :data:`STALL_AFTER` that no worker holds a lease on — the sign that no
worker runs (neither `curbside up` nor `curbside fax worker`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from fax_gateway.models import FaxJob
from fax_gateway.status import JobState

STALL_AFTER = timedelta(minutes=2)
_OPEN = [s.value for s in JobState if not s.terminal]


@dataclass(frozen=True, slots=True)
class QueueHealth:
    by_state: dict[str, int]
    stalled: int

    @property
    def depth(self) -> int:
        return sum(self.by_state.values())


def queue_health(session: Session, now: datetime) -> QueueHealth:
    counts = session.execute(
        select(FaxJob.state, func.count()).where(FaxJob.state.in_(_OPEN)).group_by(FaxJob.state)
    ).all()
    stalled = session.scalar(
        select(func.count()).select_from(FaxJob).where(
            FaxJob.state.in_(_OPEN),
            FaxJob.next_attempt_at < now - STALL_AFTER,
            or_(FaxJob.lease_expires_at.is_(None), FaxJob.lease_expires_at < now),
        )
    )
    return QueueHealth({state: count for state, count in counts}, int(stalled or 0))
