"""`curbside init` + `curbside up` on a fresh project: it starts, prints how to
connect, stops on Ctrl-C, and a second start restores the same bot devices."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from tests.support.service import init_project

CURBSIDE = [sys.executable, "-m", "curbside"]
READY = "Press Ctrl-C to stop."


def _curbside(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CURBSIDE, *args], cwd=project, capture_output=True, text=True, timeout=120, check=False
    )


def _up_until_ready(project: Path) -> tuple[dict[str, str], str]:
    process = subprocess.Popen(
        [*CURBSIDE, "up"], cwd=project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 120
    try:
        for line in process.stdout:
            lines.append(line)
            if READY in line or time.monotonic() > deadline:
                break
        assert any(READY in line for line in lines), "".join(lines)
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    output = "".join(lines) + rest
    assert process.returncode == 0, output
    devices = dict(re.findall(r"bot (@\S+) on device (\S+)", output))
    return devices, output


def test_up_twice_keeps_devices_and_prints_how_to_connect(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    config = init_project(project)  # every port a free one: tests run side by side
    config_path = project / "config" / "curbside.yaml"

    first, output = _up_until_ready(project)
    assert len(first) == 3, output
    assert config["homeserver"]["url"] in output
    assert re.search(r"^    demo-clinician +\S+ +a new clinician", output, re.M), output
    assert "first three things to try:" in output
    assert "fax gateway: loopback line" in output
    assert "stopped." in output
    # The first start made the operator's rooms and wrote them into the config.
    assert "created operator.room !" in output and "created operator.fax_inbox_room !" in output
    operator = yaml.safe_load(config_path.read_text())["operator"]
    assert operator["room"].startswith("!") and operator["fax_inbox_room"].startswith("!")
    # Libraries' INFO lines stay in the log file; their warnings may show (issue 13, item 5).
    assert " INFO nio." not in output
    log_file = project / "data" / "logs" / "curbside.log"
    assert f"logs: {log_file}" in output
    assert "INFO nio." in log_file.read_text()

    second, output = _up_until_ready(project)
    assert second == first, output
    assert "created operator." not in output
    assert yaml.safe_load(config_path.read_text())["operator"] == operator

    status = _curbside(project, "status")
    assert "database    at head" in status.stdout
    assert status.stdout.count("synced") == 3, status.stdout
    assert "NOT reachable" in status.stdout  # the service is stopped
    assert status.returncode == 1


def test_init_keeps_an_existing_config(tmp_path: Path) -> None:
    assert _curbside(tmp_path, "init").returncode == 0
    before = (tmp_path / "config" / "curbside.yaml").read_text()
    again = _curbside(tmp_path, "init")
    assert again.returncode == 0
    assert "keeping existing" in again.stdout
    assert (tmp_path / "config" / "curbside.yaml").read_text() == before


def test_broken_config_names_the_key(tmp_path: Path) -> None:
    config = tmp_path / "config" / "curbside.yaml"
    config.parent.mkdir()
    config.write_text("homeserver:\n  url: ftp://nowhere\n")
    result = _curbside(tmp_path, "status")
    assert result.returncode != 0
    assert "run `curbside init`" in result.stderr  # secrets still unfilled
