"""Background tasks that are kept and whose failures are logged.

asyncio holds only a weak reference to a task, so a fire-and-forget task can
vanish mid-run, and an exception in one nobody awaits is lost. Every
long-lived component (the Matrix runtime, the fax bridge) keeps its tasks
here: a strong reference until they finish, a log line if they fail, and one
call to cancel and await them all on stop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any


class RetrySoon(Exception):
    """Work that cannot finish now for a reason outside it, and will be tried again.

    A channel that is down is not a bug: the supervisor logs it as a warning,
    without a traceback, and backs off as for any failure (the operator still
    hears when it goes on).
    """


class BackgroundTasks:
    """A set of running tasks owned by one component.

    Once :meth:`bind` has named the component's event loop, a spawn from
    another thread (a handler running off the loop) is handed to that loop,
    so the task outlives the handler's own short-lived loop.
    """

    def __init__(self, log: logging.Logger) -> None:
        self._log = log
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        loop = self._loop
        if loop is not None and _running_loop() is not loop:
            loop.call_soon_threadsafe(self._start, coro, name)
            return
        self._start(coro, name)

    def _start(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._log.error("task %s failed", task.get_name(), exc_info=task.exception())

    async def cancel_all(self, *others: asyncio.Task[Any]) -> None:
        """Cancel every kept task (and ``others``) and wait until they have ended."""
        tasks = [*self._tasks, *others]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
