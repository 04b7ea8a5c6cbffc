"""Time and retry policy, injectable so tests can move the clock by hand.

Backoff is exponential with "equal jitter": attempt *n* waits between half
and all of ``min(cap, base * 2**n)``. The jitter keeps a burst of jobs that
failed together (a provider outage) from retrying in lock step; the floor of
one half keeps a retry from coming back immediately.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """Wall-clock UTC time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait between attempts and how long a job may live."""

    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(minutes=30)
    default_deadline: timedelta = timedelta(hours=24)
    poll_interval: timedelta = timedelta(seconds=20)
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def delay(self, attempt: int) -> timedelta:
        """Wait before retry number ``attempt`` (1 = the first retry)."""
        ceiling = min(self.cap, self.base * (2 ** max(0, attempt - 1)))
        return ceiling * self.rng.uniform(0.5, 1.0)


@dataclass(frozen=True)
class RateLimit:
    """At most ``count`` submissions to one destination number per ``per``."""

    count: int = 10
    per: timedelta = timedelta(minutes=1)
