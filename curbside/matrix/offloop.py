"""Handlers run off the event loop, so no database call of theirs can stall it.

    main event loop (sync, outbox, dispatch, timers — never waits on a database lock)
        │ submit(handler)                         ▲ marshalled: client calls,
        ▼                                         │ task spawns, wakes
    handler thread pool ── each handler: its own short-lived event loop, its
        own session; synchronous SQL runs here and may wait for SQLite's write
        lock (busy_timeout) without holding up anything but itself

A handler is ordinary async code. What it awaits that belongs to the main
loop — the nio client, which owns one aiohttp session bound to that loop —
it reaches through :class:`LoopBoundClient`, whose coroutine methods are run
on the main loop and awaited from the handler's loop. So a handler can flush,
audit or hold a transaction across an ``await`` and the worst it can do is
make *other writers* wait for it; the sync loop, the outbox and every other
bot keep running.

Anything a handler starts that must outlive it (background tasks, wakes of
the outbox or of a job) goes to the main loop through :meth:`MainLoop.call`;
the handler's own loop ends with the handler.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import inspect
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import Session

T = TypeVar("T")


class LoopStopped(RuntimeError):
    """The main loop is shutting down; work a handler asked of it was not done."""


class MainLoop:
    """The event loop that owns the Matrix client, reachable from handler threads."""

    def __init__(self, loop: asyncio.AbstractEventLoop, *, workers: int) -> None:
        self.loop = loop
        self._thread = threading.get_ident()
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="curbside-handler"
        )
        self._pending: set[concurrent.futures.Future[Any]] = set()
        self._stopping = False
        self._thread_loops = _ThreadLoops()

    @property
    def here(self) -> bool:
        """True on the main loop's own thread."""
        return threading.get_ident() == self._thread

    def call(self, function: Callable[..., Any], *args: Any) -> None:
        """Run ``function(*args)`` on the main loop: now if here, else soon (thread-safe)."""
        if self.here:
            function(*args)
        elif not self._stopping:
            self.loop.call_soon_threadsafe(function, *args)

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` on the main loop, from the main loop or from a handler thread."""
        if self.here:
            return await coro
        if self._stopping:
            coro.close()
            raise LoopStopped("the bot is stopping")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)
        try:
            return await asyncio.wrap_future(future)
        except concurrent.futures.CancelledError:
            raise LoopStopped("the bot is stopping") from None

    async def off_loop(self, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run ``work()`` on a handler thread, in an event loop of its own; await the result.

        Already on a handler thread (a job handing out its records), ``work``
        simply runs there.
        """
        if not self.here:
            return await work()
        if self._stopping:
            raise LoopStopped("the bot is stopping")
        return await self.loop.run_in_executor(self._pool, self._thread_loops.run, work)

    async def stop(self) -> None:
        """Refuse new work, cancel what handlers wait for here, wait for the threads."""
        self._stopping = True
        for future in list(self._pending):
            future.cancel()
        await asyncio.to_thread(self._pool.shutdown, True)
        await asyncio.to_thread(self._thread_loops.close)  # a loop closes off any running loop


class _ThreadLoops:
    """One event loop per handler thread, kept from one handler to the next.

    ``asyncio.run`` would build and tear down a loop for every handler, which
    costs more than a short handler itself, on the path of every reply. Each
    run still ends as ``asyncio.run`` would end it: whatever the handler left
    running on its loop is cancelled, so nothing outlives its handler.
    """

    def __init__(self) -> None:
        self._local = threading.local()
        self._runners: list[asyncio.Runner] = []
        self._lock = threading.Lock()

    def run(self, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
        runner: asyncio.Runner | None = getattr(self._local, "runner", None)
        if runner is None:
            runner = self._local.runner = asyncio.Runner()
            with self._lock:
                self._runners.append(runner)
        try:
            # A fresh context each time, as asyncio.run gives: nothing a handler
            # sets in a context variable reaches the next one.
            return runner.run(work(), context=contextvars.copy_context())
        finally:
            _cancel_leftovers(runner)

    def close(self) -> None:
        """Close every thread's loop, from a thread with no loop running, once they finished."""
        with self._lock:
            runners, self._runners = self._runners, []
        for runner in runners:
            runner.close()


def _cancel_leftovers(runner: asyncio.Runner) -> None:
    loop = runner.get_loop()
    leftovers = asyncio.all_tasks(loop)
    if not leftovers:
        return
    for task in leftovers:
        task.cancel()
    runner.run(_settle(leftovers))


async def _settle(tasks: set[asyncio.Task[Any]]) -> None:
    await asyncio.gather(*tasks, return_exceptions=True)


class LoopBoundClient:
    """The nio client as code on a handler thread sees it.

    Plain attributes (``rooms``, ``user_id``, ``device_id``) are read directly;
    every coroutine method runs on the main loop, where the client's HTTP
    session lives.
    """

    def __init__(self, client: Any, main: MainLoop) -> None:
        self._client = client
        self._main = main

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._client, name)
        if not inspect.iscoroutinefunction(value):
            return value
        main = self._main

        async def on_main_loop(*args: Any, **kwargs: Any) -> Any:
            return await main.run(value(*args, **kwargs))

        return on_main_loop


class ThreadSafeLock:
    """A lock async code may hold across awaits, shared by the main loop and handler threads.

    ``asyncio.Lock`` belongs to one event loop; handlers each have their own,
    so state they share with the main loop (a portal's) needs this instead.
    """

    POLL = 0.005  # seconds between tries while another holder has it

    def __init__(self) -> None:
        self._lock = threading.Lock()

    async def acquire(self) -> None:
        while not self._lock.acquire(blocking=False):
            await asyncio.sleep(self.POLL)

    def release(self) -> None:
        self._lock.release()

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *exc: object) -> None:
        self.release()

    async def hold_for(self, session: Session) -> None:
        """Take the lock until ``session``'s transaction ends (commit or rollback).

        For writes that another holder must see: released at the caller's
        return they would still be uncommitted on this thread while the next
        holder, on another, reads.
        """
        await self.acquire()
        released = False

        def release(*_: object) -> None:
            nonlocal released
            if not released:
                released = True
                self._lock.release()

        event.listen(session, "after_commit", release, once=True)
        event.listen(session, "after_soft_rollback", release, once=True)
