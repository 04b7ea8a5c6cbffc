"""Feed consumers never miss a row that committed after a later one was read.

A consumer of the job-status feed or of the inbound feed keeps one cursor,
the highest ``seq`` it has seen, and asks for rows above it. Two writers
race: the first has inserted its feed row and is held there with its
transaction open; the second writes a row of the same feed and tries to
commit; the consumer reads and moves its cursor; then the first commits.
The consumer must still get the first writer's row, on both backends.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from sqlalchemy import Engine, event, text

from fax_gateway.gateway import Gateway
from fax_gateway.transports.base import ContentKind, ReceivedFax
from tests.support.documents import make_pdf

from .conftest import GatewayFactory

TO = "+13125550102"
HOLD_LIMIT = 30.0  # seconds a held writer waits before it gives up on the test
SQLITE_GRACE = 0.5  # SQLite cannot tell us that a writer waits: give it this long


class FeedEntry(Protocol):
    @property
    def seq(self) -> int: ...


Entry = TypeVar("Entry", bound=FeedEntry)


class HeldInsert:
    """Holds the first transaction that inserts into ``table`` just after the INSERT.

    The first writer then has its feed row (and its seq) but has not committed;
    everything it would do after the INSERT waits until :meth:`release`.
    """

    def __init__(self, engine: Engine, table: str) -> None:
        self._engine = engine
        self._prefix = f"INSERT INTO {table} "
        self.inserted = threading.Event()
        self._released = threading.Event()

    def __enter__(self) -> HeldInsert:
        event.listen(self._engine, "after_cursor_execute", self._hold)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        event.remove(self._engine, "after_cursor_execute", self._hold)

    def release(self) -> None:
        self._released.set()

    def _hold(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().startswith(self._prefix) and not self.inserted.is_set():
            self.inserted.set()
            self._released.wait(HOLD_LIMIT)


def _waits_for_a_lock(engine: Engine) -> bool:
    with engine.connect() as connection:
        waiting = connection.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
    return bool(waiting)


def _until_committed_or_waiting(engine: Engine, writer: Future[Any]) -> None:
    """Return once ``writer`` committed, or once it is blocked behind the held one."""
    start = time.monotonic()
    while not writer.done() and time.monotonic() - start < HOLD_LIMIT:
        if engine.dialect.name == "postgresql":
            if _waits_for_a_lock(engine):
                return
        elif time.monotonic() - start > SQLITE_GRACE:
            return
        time.sleep(0.02)


def _race(
    engine: Engine,
    table: str,
    read_after: Callable[[int], Sequence[Entry]],
    first: Callable[[], object],
    second: Callable[[], object],
) -> list[Entry]:
    """Run the race described above; return everything the consumer read."""
    seen: list[Entry] = []

    def poll() -> None:
        cursor = seen[-1].seq if seen else 0
        seen.extend(read_after(cursor))

    with ThreadPoolExecutor(max_workers=2) as pool, HeldInsert(engine, table) as held:
        first_done = pool.submit(first)
        assert held.inserted.wait(HOLD_LIMIT), "the first writer never inserted its row"
        second_done = pool.submit(second)
        _until_committed_or_waiting(engine, second_done)
        poll()
        held.release()
        first_done.result(HOLD_LIMIT)
        second_done.result(HOLD_LIMIT)
    poll()
    return seen


def test_job_feed_consumer_gets_a_change_that_committed_late(
    make_gateway: GatewayFactory, engine: Engine
) -> None:
    gateway = make_gateway()
    ids: dict[str, str] = {}

    def submit(key: str) -> Callable[[], None]:
        def run() -> None:
            ids[key] = gateway.submit(make_pdf(text=key), TO, idempotency_key=key, actor="@c:t").id

        return run

    seen = _race(engine, "fax_job_events", gateway.changes_after, submit("held"), submit("quick"))
    assert sorted(change.job_id for change in seen) == sorted(ids.values())
    assert [change.seq for change in seen] == sorted({change.seq for change in seen})


def _fax(gateway: Gateway, provider_fax_id: str) -> Callable[[], None]:
    fax = ReceivedFax(
        transport="loopback",
        provider_fax_id=provider_fax_id,
        from_number="+13125550106",
        to_number=TO,
        content=make_pdf(text=provider_fax_id),
        kind=ContentKind.PDF,
    )
    return lambda: gateway.inbox.accept(fax)


def test_inbound_feed_consumer_gets_a_fax_that_committed_late(
    make_gateway: GatewayFactory, engine: Engine
) -> None:
    gateway = make_gateway()
    seen = _race(
        engine, "fax_inbound", gateway.received_after, _fax(gateway, "held"), _fax(gateway, "quick")
    )
    assert sorted(record.provider_fax_id for record in seen) == ["held", "quick"]
    assert [record.seq for record in seen] == sorted({record.seq for record in seen})
