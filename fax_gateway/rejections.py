"""Audit rows for refused webhook calls, rate-limited so a flood cannot grow the table.

    refused call ──> RejectionAudit.admit(now)
        within the window's first ``count``: an audit row (reason, and how many
            calls the previous windows suppressed)
        beyond it: only counted in memory; the next row that is written says so

Every refusal is still answered with its 4xx; only the record of it is
thinned out. A flood of N bad calls thus writes at most ``count`` rows per
``per`` window, and the suppressed tally keeps the total visible.
"""

from __future__ import annotations

import threading
from datetime import datetime

from fax_gateway.timing import RateLimit


class RejectionAudit:
    """Decides which refusals get an audit row; safe across threads."""

    def __init__(self, limit: RateLimit) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._window_start: datetime | None = None
        self._written = 0
        self._suppressed = 0

    def admit(self, now: datetime) -> int | None:
        """None: do not write a row. Otherwise write one, naming this many suppressed calls."""
        with self._lock:
            if self._window_start is None or now - self._window_start >= self._limit.per:
                self._window_start, self._written = now, 0
            if self._written >= self._limit.count:
                self._suppressed += 1
                return None
            self._written += 1
            suppressed, self._suppressed = self._suppressed, 0
            return suppressed



