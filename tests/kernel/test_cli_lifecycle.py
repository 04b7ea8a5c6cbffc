"""`curbside up` takes Synapse with it however it ends, and refuses to start
over a busy port or over a Curbside already running on the data directory.

A process left behind is found through /proc: every descendant of `curbside up`
(Synapse among them) is listed while it runs and must be gone after it ends.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from curbside.lifecycle import ExitCode
from tests.support.service import CURBSIDE, init_project, start_up


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project after `curbside init`, every port it listens on a free one."""
    init_project(tmp_path)
    return tmp_path


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _wait_gone(pids: set[int], within: float = 30.0) -> set[int]:
    """The pids still alive once they all ended or ``within`` seconds passed."""
    deadline = time.monotonic() + within
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return {p for p in pids if _alive(p)}


@pytest.fixture
def running(project: Path) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """`curbside up` in a subprocess, read until it is ready; nothing of it left after."""
    process, lines = start_up(project)
    try:
        yield process, lines
    finally:
        leftover = _descendants(process.pid)
        if process.poll() is None:
            process.kill()
        for pid in leftover:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _synapse_pid(project: Path) -> int:
    """The Synapse started with this project's homeserver config."""
    config = str(project / "data" / "homeserver" / "homeserver.yaml")
    pids = [
        int(cmdline.parent.name)
        for cmdline in Path("/proc").glob("[0-9]*/cmdline")
        if _argv(cmdline)[-2:] == ["-c", config]
    ]
    assert len(pids) == 1, pids
    return pids[0]


def _argv(cmdline: Path) -> list[str]:
    try:
        return cmdline.read_bytes().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return []


def test_sigkill_of_up_takes_synapse_with_it(
    project: Path, running: tuple[subprocess.Popen[str], list[str]]
) -> None:
    process, _ = running
    children = _descendants(process.pid)
    assert _synapse_pid(project) in children

    process.send_signal(signal.SIGKILL)
    process.wait(30)

    assert _wait_gone(children) == set()


def test_sighup_stops_cleanly_and_a_second_up_is_refused(
    project: Path, running: tuple[subprocess.Popen[str], list[str]]
) -> None:
    process, lines = running
    children = _descendants(process.pid)
    assert _synapse_pid(project) in children

    second = subprocess.run(
        [*CURBSIDE, "up"], cwd=project, capture_output=True, text=True, timeout=60, check=False
    )
    assert second.returncode == ExitCode.ALREADY_RUNNING, second.stderr
    assert f"already running on {project / 'data'} (pid {process.pid})" in second.stderr
    assert f"kill {process.pid}" in second.stderr

    process.send_signal(signal.SIGHUP)
    rest, _ = process.communicate(timeout=60)
    output = "".join(lines) + rest
    assert process.returncode == 0, output
    assert "stopping Synapse" in output
    assert "stopped." in output
    assert _wait_gone(children) == set()


def test_a_busy_port_is_reported_with_what_to_do(project: Path) -> None:
    config = yaml.safe_load((project / "config" / "curbside.yaml").read_text())
    port = int(config["homeserver"]["url"].rsplit(":", 1)[1])
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        result = subprocess.run(
            [*CURBSIDE, "up"], cwd=project, capture_output=True, text=True, timeout=60, check=False
        )
    assert result.returncode == ExitCode.PORT_IN_USE, result.stderr
    assert f"port {port} (the homeserver, config key homeserver.url) is already in use" in (
        result.stderr
    )
    assert f"ss -ltnp 'sport = :{port}'" in result.stderr
    assert "starting embedded Synapse" not in result.stdout


def test_a_homeserver_left_running_on_the_data_directory_is_reported(project: Path) -> None:
    """A Synapse an older Curbside left behind: a process run with this project's config."""
    config = project / "data" / "homeserver" / "homeserver.yaml"
    leftover = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)", "-m", "synapse.app.homeserver",
         "-c", str(config)]
    )
    try:
        assert _synapse_pid(project) == leftover.pid
        result = subprocess.run(
            [*CURBSIDE, "up"], cwd=project, capture_output=True, text=True, timeout=60, check=False
        )
    finally:
        leftover.kill()
        leftover.wait()
    assert result.returncode == ExitCode.ALREADY_RUNNING, result.stderr
    assert f"a homeserver is already running on this data directory (pid {leftover.pid}" in (
        result.stderr
    )
    assert f"kill {leftover.pid}" in result.stderr
