"""The fax gateway's series, read from its tables at scrape time.

Jobs by state and pages delivered come from ``fax_jobs``; inbound faxes by
where routing sent them from ``fax_inbound``. Read from rows rather than
counted in memory, they include what every worker process did and survive a
restart. Retries are counted as they happen, in ``curbside_retries_total``
(kind ``fax_send``), by the outbox and the worker.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from curbside.metrics import Query
from fax_gateway.models import FaxInbound, FaxJob
from fax_gateway.status import JobState


def _jobs_by_state(session: Session) -> Iterable[tuple[Sequence[str], float]]:
    counts = dict(session.execute(select(FaxJob.state, func.count()).group_by(FaxJob.state)).all())
    return [((state.value,), counts.get(state.value, 0)) for state in JobState]


def _pages_sent(session: Session) -> Iterable[tuple[Sequence[str], float]]:
    query = select(func.coalesce(func.sum(FaxJob.pages), 0)).where(
        FaxJob.state == JobState.DELIVERED.value
    )
    return [((), float(session.scalar(query) or 0))]


def _inbound_by_route(session: Session) -> Iterable[tuple[Sequence[str], float]]:
    query = select(FaxInbound.owner_kind, func.count()).group_by(FaxInbound.owner_kind)
    return [((kind,), count) for kind, count in session.execute(query)]


QUERIES = (
    Query("curbside_fax_jobs", "Outbound fax jobs by state", ("state",), _jobs_by_state),
    Query(
        "curbside_fax_pages_sent",
        "Pages of outbound faxes the provider confirmed delivered",
        (),
        _pages_sent,
        kind="counter",
    ),
    Query(
        "curbside_inbound_faxes",
        "Inbound faxes received, by where routing sent them (owner kind)",
        ("routed_to",),
        _inbound_by_route,
        kind="counter",
    ),
)
