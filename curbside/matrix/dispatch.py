"""Running handlers off the sync loop.

    sync loop ──submit(event)──► per-room queue ──► one worker task per room
                                                      │ (bounded by a semaphore
                                                      ▼  shared by all rooms)
                                                  process(event)

Events of one room are handled in order; a slow handler holds up only its own
room; the sync loop never awaits a handler. Worker tasks are kept referenced
and their exceptions logged, so nothing fails silently.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from curbside.matrix.events import IncomingEvent

log = logging.getLogger(__name__)


class RoomDispatcher:
    def __init__(
        self, process: Callable[[IncomingEvent], Awaitable[None]], max_concurrent: int
    ) -> None:
        self._process = process
        self._limit = asyncio.Semaphore(max_concurrent)
        self._queues: dict[str, deque[IncomingEvent]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._queued: set[str] = set()

    def submit(self, event: IncomingEvent) -> None:
        """Queue an event unless it is already queued or running."""
        if event.event_id in self._queued:
            return
        self._queued.add(event.event_id)
        self._queues.setdefault(event.room_id, deque()).append(event)
        if event.room_id not in self._workers:
            task = asyncio.create_task(self._work(event.room_id), name=f"room {event.room_id}")
            self._workers[event.room_id] = task

    async def _work(self, room_id: str) -> None:
        queue = self._queues[room_id]
        try:
            while queue:
                event = queue[0]
                try:
                    async with self._limit:
                        await self._process(event)
                except Exception:
                    log.exception("handling event %s in %s failed", event.event_id, room_id)
                finally:
                    queue.popleft()
                    self._queued.discard(event.event_id)
        finally:
            del self._workers[room_id]
            if not queue:
                del self._queues[room_id]

    async def idle(self) -> None:
        """Wait until every queued event has been handled."""
        while self._workers:
            await asyncio.gather(*self._workers.values(), return_exceptions=True)

    async def stop(self) -> None:
        """Cancel running handlers; their transactions roll back and replay next start."""
        workers = list(self._workers.values())
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        self._queues.clear()
        self._queued.clear()
