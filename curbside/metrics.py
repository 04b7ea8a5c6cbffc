"""Prometheus metrics: counted where things happen, queried where rows are kept.

    handlers, senders, fax worker ──inc()/observe()──> counters in this process
    scrape (GET /metrics) ──> collectors ──SELECT count(*) … GROUP BY──> gauges
    `curbside up` ──serve(registry)──> http://127.0.0.1:<metrics.port>/metrics

Counters for what happens (events handled, retries, pages sent) live next to
the code that counts them, in this module for the kernel's and in each
package's own ``metrics`` module for theirs. What is *standing* (outbox depth,
fax jobs by state, open requests) is read from the database at scrape time by
a :class:`QueryCollector`, so it is right after a restart and costs nothing
between scrapes. docs/operations.md lists every series with alert rules.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from threading import Thread
from wsgiref.simple_server import WSGIServer

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from curbside.database import session_scope
from curbside.matrix.models import MatrixAccount, MatrixOutboxMessage

log = logging.getLogger(__name__)

EVENTS_HANDLED = Counter(
    "curbside_events_handled",
    "Matrix events a bot's handlers finished, by outcome (ok, failed)",
    ["bot", "outcome"],
)
HANDLER_SECONDS = Histogram(
    "curbside_handler_seconds",
    "Time from handing an event to a bot's handler to its commit",
    ["bot"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
UNDECRYPTABLE_EVENTS = Counter(
    "curbside_undecryptable_events",
    "Encrypted events a bot received without the room key to read them",
    ["bot"],
)
RETRIES = Counter(
    "curbside_retries",
    "Work tried again after a transient failure (matrix_send, job, fax_send, …)",
    ["kind"],
)

Rows = Callable[[Session], Iterable[tuple[Sequence[str], float]]]


@dataclass(frozen=True)
class Query:
    """One family read by a query returning ``(label values, value)`` rows.

    ``counter`` for totals the database keeps (pages ever delivered), which
    only grow; ``gauge`` for what stands now (jobs queued).
    """

    name: str
    documentation: str
    labels: tuple[str, ...]
    rows: Rows
    kind: str = "gauge"

    def family(self) -> Metric:
        family = CounterMetricFamily if self.kind == "counter" else GaugeMetricFamily
        return family(self.name, self.documentation, labels=self.labels)


class QueryCollector(Collector):
    """Families read from the database on every scrape (on the server's thread).

    A query that fails is logged and its family left out of that scrape, so
    one broken table never hides every other series.
    """

    def __init__(self, engine: Engine, queries: Sequence[Query]) -> None:
        self.engine = engine
        self.queries = tuple(queries)

    def describe(self) -> Iterator[Metric]:
        for query in self.queries:
            yield query.family()

    def collect(self) -> Iterator[Metric]:
        for query in self.queries:
            family = query.family()
            try:
                with session_scope(self.engine) as session:
                    for labels, value in query.rows(session):
                        family.add_metric(list(labels), value)  # type: ignore[attr-defined]
            except Exception:
                log.exception("metrics: reading %s failed", query.name)
                continue
            yield family


def _outbox_depth(session: Session) -> Iterable[tuple[Sequence[str], float]]:
    """Unsent rows per account, 0 for every account that has none."""
    query = (
        select(MatrixOutboxMessage.account, func.count())
        .where(
            MatrixOutboxMessage.sent_event_id.is_(None),
            MatrixOutboxMessage.failed_reason.is_(None),
        )
        .group_by(MatrixOutboxMessage.account)
    )
    depth = dict(session.execute(query).all())
    accounts = set(session.scalars(select(MatrixAccount.user_id))) | set(depth)
    return [((account,), depth.get(account, 0)) for account in sorted(accounts)]


OUTBOX_DEPTH = Query(
    "curbside_outbox_depth",
    "Matrix messages committed and not yet sent, per bot or bridge account",
    ("account",),
    _outbox_depth,
)


def serve(
    host: str, port: int, collectors: Sequence[Collector], registry: CollectorRegistry = REGISTRY
) -> Callable[[], None]:
    """Register the scrape-time collectors and serve /metrics; returns the stop function."""
    for collector in collectors:
        registry.register(collector)
    server: WSGIServer
    thread: Thread
    server, thread = start_http_server(port, addr=host, registry=registry)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(5)
        for collector in collectors:
            registry.unregister(collector)

    return stop

