"""`curbside init` and `curbside up` as a person runs them: in a subprocess.

:func:`init_project` writes a project whose every port is a free one (tests
run side by side); :func:`start_up` starts `curbside up` and returns once it
printed that it is ready, with what it printed so far.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from curbside.homeserver import free_port

CURBSIDE = [sys.executable, "-m", "curbside"]
READY = "Press Ctrl-C to stop."


def curbside(project: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CURBSIDE, *args], cwd=project, capture_output=True, text=True, timeout=timeout,
        check=False,
    )


def init_project(project: Path, fax: dict[str, Any] | None = None) -> dict[str, Any]:
    """`curbside init` with free ports (and ``fax`` settings merged in); returns the config."""
    _init(project)
    config_path = project / "config" / "curbside.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["homeserver"]["url"] = f"http://127.0.0.1:{free_port()}"
    config["fax"].update({"webhook_port": free_port(), **(fax or {})})
    config["bridge"]["port"] = free_port()
    config["metrics"]["port"] = free_port()
    config_path.write_text(yaml.safe_dump(config))
    _init(project)  # the bridge's registration names its port
    return config


def _init(project: Path) -> None:
    init = curbside(project, "init")
    assert init.returncode == 0, init.stderr


def start_up(project: Path) -> tuple[subprocess.Popen[str], list[str]]:
    """`curbside up`, read until ready (the caller stops it)."""
    process = subprocess.Popen(
        [*CURBSIDE, "up"], cwd=project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:
        lines.append(line)
        if READY in line:
            return process, lines
    process.wait(30)
    raise AssertionError("curbside up ended before it was ready:\n" + "".join(lines))
