"""The test's side of a crash scenario: start a component process, wait, SIGKILL it.

A process script (``python -m tests.crash.<name> PARAMS.json``) prints
``ready`` once its component runs; :class:`Component` starts it again with
the same parameters after each kill, and :meth:`Component.kill_at` waits for
the marker of a kill point (see :mod:`tests.crash.pauses`) before killing.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

from tests.support.matrix_testkit import wait_for

REPO_ROOT = Path(__file__).resolve().parents[2]


class Component:
    """One component under test, run (and re-run) in its own process."""

    def __init__(self, module: str, params: dict[str, Any], tmp_path: Path, *,
                 start_attempts: int = 1) -> None:
        self.module = module
        self.start_attempts = start_attempts
        self.markers = tmp_path / "kill-points"
        self.markers.mkdir(exist_ok=True)
        self.params_file = tmp_path / f"{module.rsplit('.', 1)[-1]}.json"
        self.params_file.write_text(json.dumps({**params, "marker_dir": str(self.markers)}))
        self.log = tmp_path / f"{module.rsplit('.', 1)[-1]}.stderr"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> str:
        """Start the process; returns what it printed after ``ready``.

        With ``start_attempts`` above 1 a process that exits before it is
        ready is started again, as a service manager would
        (``Restart=on-failure``).
        """
        for attempt in range(1, self.start_attempts + 1):
            line = await self._start_once()
            if line.startswith(b"ready") or attempt == self.start_attempts:
                break
            await asyncio.sleep(1.0)
        assert line.startswith(b"ready"), (line, self.log.read_text()[-3000:])
        return line.decode().removeprefix("ready").strip()

    async def _start_once(self) -> bytes:
        with self.log.open("ab") as stderr:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", self.module, str(self.params_file),
                stdout=asyncio.subprocess.PIPE, stderr=stderr, cwd=REPO_ROOT,
            )
        self.process = process
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=90)
        if not line:
            await process.wait()
        return line

    async def kill_at(self, point: str, timeout: float = 60.0) -> None:
        """Wait until the process froze at ``point``, then SIGKILL it."""
        process = self.process
        assert process is not None
        await wait_for(lambda: (self.markers / point).exists() or process.returncode is not None,
                       timeout=timeout, what=f"the process to reach {point}")
        assert process.returncode is None, f"died before {point}: {self.log.read_text()[-3000:]}"
        await self.kill()

    async def restart_after_kill_at(self, point: str, timeout: float = 60.0) -> str:
        await self.kill_at(point, timeout)
        return await self.start()

    async def kill(self) -> None:
        process = self.process
        if process is not None and process.returncode is None:
            process.send_signal(signal.SIGKILL)
            await process.wait()
