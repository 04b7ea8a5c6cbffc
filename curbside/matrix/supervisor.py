"""Running a bot's declared background work so that no loop dies silently.

    start ─► one task per @periodic and per @feed (kept in BackgroundTasks)

    periodic:  run in a transaction ─► commit ─► wait `every` (or a wake)
               failure ─► log, roll back, retry after backoff (≤ every);
               the 3rd failure in a row ─► operator notice (once per outage)
               each(name, records, handler): inside a pass, every record in its
               own transaction; a failing one is rolled back alone, counted, and
               after MAX_ITEM_ATTEMPTS passes moved aside (dead letter, audit,
               operator notice) and left out of later passes

    feed:      cursor ─► source(after=cursor) ─► for each item, in order:
               handler + cursor advance + queued messages: one transaction
               failure ─► attempt counted in the cursor row (survives restarts)
                          ─► after MAX_ITEM_ATTEMPTS: the item is moved aside —
                          dead-letter row, audit row, operator notice and the
                          cursor past it, in one transaction — and the feed goes on

    transient: an exception of a kind that says "the homeserver is unreachable"
               (TRANSIENT) is no record's fault: it is never counted against an
               item, the work backs off and tries the same item again (and the
               operator hears once it failed 3 times in a row)

    sent hook: the runtime calls run_sent_hook in the transaction that marks an
               outbox row sent, so the hook's effects commit with that mark

    after_commit(session, job): start a job once the session committed (never
               after a rollback), kept and logged like every other task

Job bodies, sent hooks and after-commit work run on the runtime's handler
threads (offloop.py), like event handlers; the supervisor's own bookkeeping
runs on worker threads, so the event loop never waits on the database.

Operator notices go to the configured operator room; without one (or for an
owner without a poster) they are logged at ERROR. They name the work and the
exception's type only — an exception's message may carry patient data, so it
stays in the log filter's hands and out of rooms.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from curbside.audit import AuditLog
from curbside.background import BackgroundTasks, RetrySoon
from curbside.database import after_commit, session_scope
from curbside.matrix.jobs import Feed, FeedItem, Job, JobTable, Periodic, SentEvent
from curbside.matrix.offloop import MainLoop
from curbside.matrix.posting import Poster
from curbside.matrix.runtime import TRANSIENT
from curbside.matrix.storage import RuntimeStore
from curbside.metrics import RETRIES

log = logging.getLogger(__name__)

MAX_ITEM_ATTEMPTS = 3  # tries at one feed item before it is moved aside
NOTICE_AFTER = 3  # consecutive failures of a periodic job before the operator hears
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 30.0
FEED_BATCH = 100

T = TypeVar("T")
R = TypeVar("R")


class Supervisor:
    """Starts, restarts and records one bot's declared background work."""

    def __init__(
        self,
        owner: object,
        table: JobTable,
        *,
        engine: Engine,
        store: RuntimeStore,
        poster: Poster | None,
        tasks: BackgroundTasks,
        audit: AuditLog | None = None,
        operator_room: str | None = None,
    ) -> None:
        self._owner = owner
        self._table = table
        self._engine = engine
        self._store = store
        self._poster = poster
        self._tasks = tasks
        self._audit = audit
        self._operator_room = operator_room
        self._wakes: dict[str, asyncio.Event] = {}
        self._tries: dict[tuple[str, str], int] = {}  # (work, item) ─► failed tries so far
        self._main: MainLoop | None = None

    def start(self, main: MainLoop) -> None:
        self._main = main
        for periodic_job in self._table.periodic:
            self._tasks.spawn(self._run_periodic(periodic_job), f"periodic {periodic_job.name}")
        for feed in self._table.feeds:
            self._tasks.spawn(self._run_feed(feed), f"feed {feed.name}")

    def wake(self, name: str) -> None:
        """Run a periodic job or read a feed now rather than at its next tick (any thread)."""
        event = self._wake_event(name)
        if self._main is None:
            event.set()
        else:
            self._main.call(event.set)

    def after_commit(
        self, session: Session, job: Callable[[], Coroutine[Any, Any, None]], name: str
    ) -> None:
        """Start ``job()`` once ``session`` has committed; never if it rolls back.

        The job runs on a handler thread, started from the main loop, so it
        outlives the handler whose commit started it.
        """

        def start() -> None:
            self._tasks.spawn(self._off_loop(job), name)

        after_commit(session, start)

    # -- periodic --------------------------------------------------------------

    async def _run_periodic(self, spec: Periodic) -> None:
        run = getattr(self._owner, spec.attr)
        what = f"periodic job {spec.name}"
        failures = 0
        while True:
            interval = self._seconds(spec.every)
            try:
                await self._in_transaction(run)
            except Exception as exc:
                failures = await self._failed(what, failures, exc)
                delay = min(interval, _backoff(failures))
            else:
                failures = await self._recovered(what, failures)
                delay = interval
            await self._sleep(spec.name, delay)

    async def each(
        self,
        name: str,
        records: Iterable[T],
        handle: Callable[[Job, T], Awaitable[R]],
        *,
        key: Callable[[T], str] = str,
    ) -> list[R]:
        """Handle each record of one pass of the periodic job ``name`` in its own transaction.

        Returns what the handler returned for the records whose transaction
        committed. A record whose handler raises is rolled back alone and the
        pass goes on; the one that fails ``MAX_ITEM_ATTEMPTS`` passes running
        is moved aside (dead letter keyed by ``key(record)``, audit, operator
        notice) and left out of every later pass, until an operator removes
        its dead letter. A transient failure ends the pass (it is raised).
        ``key`` names the record in logs, dead letters and notices, so it
        must carry no patient data (an id, not a name).
        """
        source = f"periodic {name}"
        with session_scope(self._engine) as session:
            aside = {d.item for d in self._store.dead_letters(session) if d.source == source}
        results: list[R] = []
        for record in records:
            item = key(record)[:255]  # the dead letter's column
            if item in aside:
                continue
            done: list[R] = []

            async def work(job: Job, record: T = record, done: list[R] = done) -> None:
                done.append(await handle(job, record))

            try:
                await self._in_transaction(work)
            except TRANSIENT:
                raise
            except Exception as exc:
                log.exception("%s: record %s failed", source, item)
                self._count_record_failure(source, item, exc)
                continue
            self._tries.pop((source, item), None)
            results.extend(done)
        return results

    def _count_record_failure(self, source: str, item: str, exc: Exception) -> None:
        tries = self._tries.get((source, item), 0) + 1
        if tries < MAX_ITEM_ATTEMPTS:
            self._tries[(source, item)] = tries
            return
        self._tries.pop((source, item), None)
        with session_scope(self._engine) as session:
            self._give_up(session, source, item, exc, tries)

    # -- feeds -----------------------------------------------------------------

    async def _run_feed(self, spec: Feed) -> None:
        fetch: Callable[[int, int], Sequence[FeedItem]] = getattr(self._owner, spec.source)
        handle = getattr(self._owner, spec.attr)
        what = f"feed {spec.name}"
        failures = 0
        while True:
            try:
                done = await self._feed_batch(spec, fetch, handle)
            except Exception as exc:
                failures = await self._failed(what, failures, exc)
                await self._sleep(spec.name, _backoff(failures))
                continue
            failures = await self._recovered(what, failures)
            if done:
                await self._sleep(spec.name, self._seconds(spec.poll))

    async def _feed_batch(
        self,
        spec: Feed,
        fetch: Callable[[int, int], Sequence[FeedItem]],
        handle: Callable[[Job, Any], Awaitable[None]],
    ) -> bool:
        """Handle the next items; True when the feed is drained for now."""
        after = await asyncio.to_thread(self._cursor_position, spec.name)
        items = await asyncio.to_thread(fetch, after, FEED_BATCH)
        for item in items:

            async def work(job: Job, item: FeedItem = item) -> None:
                await handle(job, item)

            def advance(session: Session, item: FeedItem = item) -> None:
                self._store.advance_feed(session, spec.name, item.seq)

            try:
                await self._in_transaction(work, also=advance)
            except TRANSIENT:
                raise
            except Exception as exc:
                log.exception("feed %s: item %d failed", spec.name, item.seq)
                if not await asyncio.to_thread(self._count_item_failure, spec, item, exc):
                    raise
        return len(items) < FEED_BATCH

    def _cursor_position(self, name: str) -> int:
        with session_scope(self._engine) as session:
            return self._store.feed_cursor(session, name).position

    def _count_item_failure(self, spec: Feed, item: FeedItem, exc: Exception) -> bool:
        """Count a failed try; True when the item was moved aside (the feed goes on)."""
        with session_scope(self._engine) as session:
            tries = self._store.count_feed_failure(session, spec.name, item.seq)
            if tries < MAX_ITEM_ATTEMPTS:
                return False
            self._store.advance_feed(session, spec.name, item.seq)
            self._give_up(session, f"feed {spec.name}", str(item.seq), exc, tries)
        return True

    # -- sent hooks ------------------------------------------------------------

    async def run_sent_hook(
        self, hook: str, sent: SentEvent, mark_sent: Callable[[Session], None]
    ) -> bool:
        """Run a sent row's hook and ``mark_sent`` in one transaction.

        False when the hook failed: the caller retries the send, which the
        homeserver answers with the same event id, and the hook runs again.
        After ``MAX_ITEM_ATTEMPTS`` failures the hook is given up (dead
        letter, audit, operator notice, committed with the sent mark).
        """
        name, _, argument = hook.partition(":")
        spec = self._table.sent_hooks.get(name)
        if spec is None:
            log.error("no handler for sent hook %s; marking the message sent", name)
            await asyncio.to_thread(self._commit_with, mark_sent)
            return True
        handler = getattr(self._owner, spec.attr)
        try:
            await self._in_transaction(lambda job: handler(job, argument, sent), also=mark_sent)
        except Exception as exc:
            tries = self._tries.get(("sent hook", hook), 0) + 1
            self._tries[("sent hook", hook)] = tries
            log.exception("sent hook %s failed (%d)", name, tries)
            if tries < MAX_ITEM_ATTEMPTS:
                return False
            error = exc

            def give_up(session: Session) -> None:
                mark_sent(session)
                self._give_up(session, f"sent hook {name}", argument, error, tries)

            await asyncio.to_thread(self._commit_with, give_up)
        self._tries.pop(("sent hook", hook), None)
        return True

    # -- shared ----------------------------------------------------------------

    def _commit_with(self, work: Callable[[Session], None]) -> None:
        with session_scope(self._engine) as session:
            work(session)

    async def _off_loop(self, job: Callable[[], Coroutine[Any, Any, None]]) -> None:
        if self._main is None:
            await job()
        else:
            await self._main.off_loop(job)

    def _seconds(self, value: float | str) -> float:
        return float(getattr(self._owner, value) if isinstance(value, str) else value)

    async def _failed(self, what: str, failures: int, exc: Exception) -> int:
        """Log one more failure in a row; the operator hears at the NOTICE_AFTER-th."""
        failures += 1
        RETRIES.labels("job").inc()
        if isinstance(exc, RetrySoon):
            log.warning("%s must wait (%d in a row): %s", what, failures, exc)
        else:
            log.exception("%s failed (%d in a row)", what, failures)
        if failures == NOTICE_AFTER:
            await asyncio.to_thread(
                self._tell_operator, what,
                f"failed {failures} times in a row ({type(exc).__name__}); it keeps retrying",
            )
        return failures

    async def _recovered(self, what: str, failures: int) -> int:
        if failures >= NOTICE_AFTER:
            await asyncio.to_thread(self._tell_operator, what, "runs again")
        return 0

    async def _in_transaction(
        self,
        work: Callable[[Job], Awaitable[None]],
        also: Callable[[Session], None] | None = None,
    ) -> None:
        """``work`` and ``also`` in one transaction, committed, on a handler thread."""
        await self._off_loop(lambda: self._transaction(work, also))

    async def _transaction(
        self,
        work: Callable[[Job], Awaitable[None]],
        also: Callable[[Session], None] | None,
    ) -> None:
        with session_scope(self._engine, autoflush=False) as session:
            await work(Job(session, self._poster))
            if also is not None:
                also(session)

    def _give_up(
        self, session: Session, what: str, item: str, exc: Exception, tries: int
    ) -> None:
        """Keep the failed item for the operator, in the caller's transaction."""
        error = type(exc).__name__
        self._store.dead_letter(session, what, item, error)
        if self._audit is not None:
            self._audit.record(
                session, actor=self._store.account, action="runtime.dead_letter",
                record_type="background_work", record_id=f"{what} {item}"[:255],
                details={"error": error, "tries": tries},
            )
        self._tell_operator(
            what, f"gave up on item {item} after {tries} tries ({error}); it was moved "
            "aside (matrix_dead_letters) and the work goes on", session=session,
        )

    def _tell_operator(self, what: str, text: str, *, session: Session | None = None) -> None:
        line = f"{self._store.account}: {what} {text}."
        log.error("operator notice: %s", line)
        if self._operator_room is None or self._poster is None:
            return
        if session is not None:
            self._poster.post(session, self._operator_room, line)
            return
        with session_scope(self._engine) as own:
            self._poster.post(own, self._operator_room, line)

    def _wake_event(self, name: str) -> asyncio.Event:
        return self._wakes.setdefault(name, asyncio.Event())

    async def _sleep(self, name: str, seconds: float) -> None:
        wake = self._wake_event(name)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), seconds)
        wake.clear()


def _backoff(failures: int) -> float:
    return float(min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (failures - 1)))
