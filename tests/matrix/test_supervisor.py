"""Declared background work: restarted after failures, poison moved aside, never silent.

Runs the real Supervisor on both databases with a real outbox; only the
homeserver is absent (nothing here sends), so what a job queued is read back
from the outbox table.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from curbside.audit import AuditEntry, AuditLog
from curbside.background import BackgroundTasks
from curbside.database import KERNEL_VERSIONS, make_engine, migrate, session_scope
from curbside.matrix.jobs import Job, JobTable, SentEvent, feed, on_sent, periodic
from curbside.matrix.models import MatrixFeedCursor
from curbside.matrix.offloop import MainLoop
from curbside.matrix.posting import Poster
from curbside.matrix.storage import RuntimeStore
from curbside.matrix.supervisor import MAX_ITEM_ATTEMPTS, Supervisor
from curbside.phi import decode_master_key, load_cipher, new_master_key
from tests.support.matrix_testkit import wait_for

OPERATOR_ROOM = "!ops:x"


@dataclass(frozen=True)
class Item:
    seq: int
    poison: bool = False


class Worker:
    """A stand-in bot: the declarations are what the Supervisor reads."""

    tick_every = 0.05

    def __init__(self, items: list[Item]) -> None:
        self.items = items
        self.ticks = 0
        self.fail_ticks = 0
        self.handled: list[int] = []
        self.sent: list[tuple[str, str]] = []
        self.fail_hook = 0

    @periodic("ticker", every="tick_every")
    async def tick(self, job: Job) -> None:
        self.ticks += 1
        if self.ticks <= self.fail_ticks:
            raise RuntimeError("transient")
        job.post("!ticks:x", f"tick {self.ticks}")

    def items_after(self, after: int, limit: int) -> list[Item]:
        return [i for i in self.items if i.seq > after][:limit]

    @feed("items", source="items_after", poll=0.05)
    async def take(self, job: Job, item: Item) -> None:
        if item.poison:
            raise ValueError("cannot handle this one")
        job.post("!room:x", f"item {item.seq}")
        self.handled.append(item.seq)

    @on_sent("packet")
    async def packet_sent(self, job: Job, argument: str, sent: SentEvent) -> None:
        if self.fail_hook > 0:
            self.fail_hook -= 1
            raise RuntimeError("hook failed")
        self.sent.append((argument, sent.event_id))
        job.post(sent.room_id, f"packet {argument} is {sent.event_id}")


@pytest.fixture
def world(db_url):
    engine = make_engine(db_url)
    migrate(engine, [KERNEL_VERSIONS])
    store = RuntimeStore("@bot:x", load_cipher(engine, decode_master_key(new_master_key())))
    wakes: list[int] = []
    poster = Poster(store, require_encrypted=lambda room: None, wake=lambda: wakes.append(1))
    yield engine, store, poster, wakes
    engine.dispose()


def supervise(owner: Worker, world, audit: AuditLog | None = None) -> tuple[Supervisor,
                                                                             BackgroundTasks]:
    engine, store, poster, _ = world
    tasks = BackgroundTasks(logging.getLogger("test"))
    supervisor = Supervisor(owner, JobTable.of(Worker), engine=engine, store=store,
                            poster=poster, tasks=tasks, audit=audit,
                            operator_room=OPERATOR_ROOM)
    return supervisor, tasks


def queued(world, room: str) -> list[str]:
    engine, store, _, _ = world
    with session_scope(engine) as session:
        return [i.content["body"] for i in store.undelivered(session, limit=1000)
                if i.room_id == room]


def test_the_table_lists_what_the_class_declares():
    table = JobTable.of(Worker)
    assert [p.name for p in table.periodic] == ["ticker"]
    assert [(f.name, f.source, f.attr) for f in table.feeds] == [("items", "items_after", "take")]
    assert set(table.sent_hooks) == {"packet"}


def test_a_job_declared_twice_is_refused():
    class Twice(Worker):
        @periodic("ticker", every=1.0)
        async def other(self, job: Job) -> None: ...

    with pytest.raises(ValueError, match="declared twice"):
        JobTable.of(Twice)


async def test_a_periodic_job_restarts_after_exceptions_and_tells_the_operator(world):
    worker = Worker([])
    worker.fail_ticks = 3
    supervisor, tasks = supervise(worker, world)
    supervisor.start(MainLoop(asyncio.get_running_loop(), workers=4))
    try:
        await wait_for(lambda: len(queued(world, "!ticks:x")) >= 2, timeout=20)
    finally:
        await tasks.cancel_all()
    assert worker.ticks >= 5
    # the failed runs queued nothing; the later ones did, each once
    assert queued(world, "!ticks:x")[:2] == ["tick 4", "tick 5"]
    notices = queued(world, OPERATOR_ROOM)
    assert any("periodic job ticker failed 3 times" in n for n in notices)
    assert any("periodic job ticker runs again" in n for n in notices)


async def test_a_poisoned_feed_item_is_moved_aside_and_the_feed_goes_on(world):
    engine, store, _, _ = world
    audit = AuditLog(b"a" * 32)
    worker = Worker([Item(1), Item(2, poison=True), Item(3)])
    supervisor, tasks = supervise(worker, world, audit)
    supervisor.start(MainLoop(asyncio.get_running_loop(), workers=4))
    try:
        await wait_for(lambda: worker.handled == [1, 3], timeout=30)
        # handled is set inside the item's transaction: wait for its commit too.
        await wait_for(lambda: queued(world, "!room:x") == ["item 1", "item 3"], timeout=30)
    finally:
        await tasks.cancel_all()
    assert queued(world, "!room:x") == ["item 1", "item 3"]
    with session_scope(engine) as session:
        (letter,) = store.dead_letters(session)
        assert (letter.source, letter.item, letter.error) == ("feed items", "2", "ValueError")
        cursor = session.get(MatrixFeedCursor, ("@bot:x", "items"))
        assert cursor is not None and cursor.position == 3 and cursor.failures == 0
        actions = session.scalars(select(AuditEntry.action)).all()
    assert "runtime.dead_letter" in actions
    (notice,) = queued(world, OPERATOR_ROOM)
    assert f"gave up on item 2 after {MAX_ITEM_ATTEMPTS} tries (ValueError)" in notice
    assert "cannot handle" not in notice  # exception messages never reach a room


async def test_a_feed_resumes_from_its_cursor_and_counts_failures_across_restarts(world):
    engine, store, _, _ = world
    worker = Worker([Item(1), Item(2, poison=True)])
    supervisor, tasks = supervise(worker, world)
    supervisor.start(MainLoop(asyncio.get_running_loop(), workers=4))
    await wait_for(lambda: worker.handled == [1], timeout=10)

    def position() -> int | None:  # handled is set inside the item's transaction
        with session_scope(engine) as session:
            cursor = session.get(MatrixFeedCursor, ("@bot:x", "items"))
            return None if cursor is None else cursor.position

    await wait_for(lambda: position() == 1, timeout=10)
    await tasks.cancel_all()  # "crash" with item 2 failing

    again = Worker([Item(1), Item(2, poison=True), Item(3)])
    supervisor, tasks = supervise(again, world)
    supervisor.start(MainLoop(asyncio.get_running_loop(), workers=4))
    try:
        await wait_for(lambda: again.handled == [3], timeout=30)
    finally:
        await tasks.cancel_all()
    assert queued(world, "!room:x") == ["item 1", "item 3"]  # item 1 not handled twice
    with session_scope(engine) as session:
        assert [d.item for d in store.dead_letters(session)] == ["2"]


async def test_a_sent_hook_runs_with_the_sent_mark_and_is_retried_then_given_up(world):
    engine, store, poster, _ = world
    worker = Worker([])
    supervisor, _ = supervise(worker, world)
    with session_scope(engine) as session:
        poster.post(session, "!dm:x", content={"body": "packet"}, on_sent="packet:RF-1")
    with session_scope(engine) as session:
        (row,) = store.undelivered(session)
    assert row.sent_hook == "packet:RF-1"

    def mark(session):
        store.mark_sent(session, row.id, "$sent")

    worker.fail_hook = 1
    assert not await supervisor.run_sent_hook(row.sent_hook, SentEvent("!dm:x", "$sent"), mark)
    with session_scope(engine) as session:
        assert [i.txn_id for i in store.undelivered(session)] == [row.txn_id]  # not marked
    assert await supervisor.run_sent_hook(row.sent_hook, SentEvent("!dm:x", "$sent"), mark)
    assert worker.sent == [("RF-1", "$sent")]
    assert queued(world, "!dm:x") == ["packet RF-1 is $sent"]

    worker.fail_hook = MAX_ITEM_ATTEMPTS
    with session_scope(engine) as session:
        poster.post(session, "!dm:x", content={"body": "again"}, on_sent="packet:RF-2")
    with session_scope(engine) as session:
        second = next(i for i in store.undelivered(session) if i.sent_hook == "packet:RF-2")
    results = [
        await supervisor.run_sent_hook(
            "packet:RF-2", SentEvent("!dm:x", "$two"),
            lambda s: store.mark_sent(s, second.id, "$two"))
        for _ in range(MAX_ITEM_ATTEMPTS)
    ]
    assert results == [False] * (MAX_ITEM_ATTEMPTS - 1) + [True]
    with session_scope(engine) as session:
        assert [d.source for d in store.dead_letters(session)] == ["sent hook packet"]
        assert all(i.txn_id != second.txn_id for i in store.undelivered(session))


async def test_after_commit_runs_on_commit_and_never_after_a_rollback(world):
    engine, _, poster, wakes = world
    supervisor, tasks = supervise(Worker([]), world)
    ran: list[str] = []

    async def job(name: str) -> None:
        ran.append(name)

    with session_scope(engine) as session:
        supervisor.after_commit(session, lambda: job("kept"), "kept")
        poster.post(session, "!room:x", "hello")
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        supervisor.after_commit(session, lambda: job("dropped"), "dropped")
        poster.post(session, "!room:x", "never")
        raise RuntimeError("handler failed")
    await asyncio.sleep(0.05)
    await tasks.cancel_all()
    assert ran == ["kept"]
    assert queued(world, "!room:x") == ["hello"]
    assert len(wakes) == 1  # the rolled-back post woke nobody
