"""Running work off the loop that found it, in order per room.

    producer ──submit(item)──► per-room queue ──► one worker task per room
                                                    │ (bounded by a semaphore
                                                    ▼  shared by all rooms)
                                                process(item)

The runtime uses this twice: the sync loop submits incoming events (handlers
of one room run in order; a slow handler holds up only its own room; the sync
loop never awaits a handler), and the outbox loader submits outgoing messages
(one room's messages are sent in order — a thread root before its replies —
while different rooms send concurrently instead of waiting for each other's
round trips). Worker tasks are kept referenced and their exceptions logged, so
nothing fails silently.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Collection
from typing import Generic, Protocol, TypeVar

log = logging.getLogger(__name__)


class RoomWork(Protocol):
    """What the dispatcher needs of an item: its room, and a key naming it once."""

    @property
    def room_id(self) -> str: ...

    @property
    def work_key(self) -> str: ...


W = TypeVar("W", bound=RoomWork)


class RoomDispatcher(Generic[W]):
    def __init__(
        self, process: Callable[[W], Awaitable[None]], max_concurrent: int, *, noun: str = "event"
    ) -> None:
        self._process = process
        self._noun = noun
        self._limit = asyncio.Semaphore(max_concurrent)
        self._queues: dict[str, deque[W]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._queued: set[str] = set()
        self._changed = asyncio.Condition()

    def submit(self, item: W) -> None:
        """Queue an item unless it is already queued or running."""
        if item.work_key in self._queued:
            return
        self._queued.add(item.work_key)
        self._queues.setdefault(item.room_id, deque()).append(item)
        if item.room_id not in self._workers:
            task = asyncio.create_task(self._work(item.room_id), name=f"room {item.room_id}")
            self._workers[item.room_id] = task

    def queued(self) -> frozenset[str]:
        """Keys of the items queued or running now (so a loader can skip them)."""
        return frozenset(self._queued)

    async def _work(self, room_id: str) -> None:
        queue = self._queues[room_id]
        try:
            while queue:
                item = queue[0]
                try:
                    async with self._limit:
                        await self._process(item)
                except Exception:
                    log.exception("handling %s %s in %s failed", self._noun, item.work_key,
                                  room_id)
                finally:
                    queue.popleft()
                    self._queued.discard(item.work_key)
                    async with self._changed:
                        self._changed.notify_all()
        finally:
            del self._workers[room_id]
            if not queue:
                del self._queues[room_id]

    async def settled(self, keys: Collection[str], timeout: float) -> None:
        """Wait until none of ``keys`` is queued or running, or ``timeout`` seconds passed."""
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: self._queued.isdisjoint(keys))
        except TimeoutError:
            return

    async def idle(self) -> None:
        """Wait until every queued item has been processed."""
        while self._workers:
            await asyncio.gather(*self._workers.values(), return_exceptions=True)

    async def stop(self) -> None:
        """Cancel running work; handler transactions roll back, unsent rows stay queued."""
        workers = list(self._workers.values())
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        self._queues.clear()
        self._queued.clear()
