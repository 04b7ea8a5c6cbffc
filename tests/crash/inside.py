"""What a crash scenario's process script uses inside the component's process.

Kill points: the script arms named points (from its parameters); when the
code reaches an armed point for the first time, the process writes a marker
file named after it and freezes there — the event loop blocked, so nothing
after the point happens — until the test SIGKILLs it. The marker outlives
the process, so the restarted process, armed alike, goes through the point.

The points are monkeypatches of production code made by the test's own
process script: production has no crash hooks.

    Pauses.before_mark_sent(point, when)   the homeserver accepted an outbox row
                                           (PUT /send returned its event id); the
                                           row is not yet marked sent, its sent
                                           hook has not run
    Pauses.after(cls, method, point, when) an async method returned, inside the
                                           transaction it works in, before commit

:func:`runtime_config` builds the component's runtime on the database the
test already migrated.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from curbside.database import make_engine
from curbside.matrix.config import RuntimeConfig
from curbside.matrix.runtime import MatrixRuntime
from curbside.matrix.storage import OutboxItem
from curbside.phi import decode_master_key, install_cipher, load_cipher

FROZEN_FOR = 3600.0  # longer than any test; the test kills the process first


class Pauses:
    """The points armed in this process, and the folder where reaching one is marked."""

    def __init__(self, marker_dir: Path, armed: set[str]) -> None:
        self.marker_dir = marker_dir
        self.armed = armed

    def reached(self, point: str) -> None:
        """Freeze here if ``point`` is armed and no earlier process stopped at it."""
        marker = self.marker_dir / point
        if point not in self.armed or marker.exists():
            return
        marker.touch()
        time.sleep(FROZEN_FOR)  # blocks the loop: nothing of the process moves on

    def before_mark_sent(self, point: str, when: Callable[[OutboxItem], bool]) -> None:
        """Stop between a row's accepted send and its "sent" mark (and sent hook)."""
        original = MatrixRuntime._mark_sent

        @functools.wraps(original)
        async def mark_sent(runtime: MatrixRuntime, item: OutboxItem, event_id: str) -> bool:
            if when(item):
                self.reached(point)
            return await original(runtime, item, event_id)

        setattr(MatrixRuntime, "_mark_sent", mark_sent)  # noqa: B010 - a monkeypatch

    def after(self, owner: type, method: str, point: str,
              when: Callable[..., bool] = lambda *args: True) -> None:
        """Stop once ``owner.method`` (async) returned, when ``when(*its args)`` holds."""
        original = getattr(owner, method)

        @functools.wraps(original)
        async def wrapped(*args: Any, **kwargs: Any) -> Any:
            result = await original(*args, **kwargs)
            if when(*args, **kwargs):
                self.reached(point)
            return result

        setattr(owner, method, wrapped)


def body_of(item: OutboxItem) -> str:
    return str(item.content.get("body", ""))


def runtime_config(params: dict[str, Any]) -> RuntimeConfig:
    """The component's runtime on the database the test migrated (PHI cipher installed)."""
    engine = make_engine(params["db_url"])
    cipher = load_cipher(engine, decode_master_key(params["master_key"]))
    install_cipher(cipher)
    return RuntimeConfig(homeserver_url=params["url"], store_dir=Path(params["store_dir"]),
                         pickle_key=params["pickle_key"], engine=engine, cipher=cipher)


def pauses(params: dict[str, Any]) -> Pauses:
    return Pauses(Path(params["marker_dir"]), set(params["pauses"]))
