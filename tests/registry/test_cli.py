"""The operator commands print what they did (the CLI wires these into click)."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console
from sqlalchemy import Engine

from bots.gatekeeper.registry.cli import generate_command, import_command, taxonomy_command

from .conftest import NUCC_EXCERPT


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=200, force_terminal=False), out


def test_generate_then_import_then_taxonomy(engine: Engine, tmp_path: Path) -> None:
    console, out = _console()
    generated = generate_command(tmp_path / "npidata.csv", 300, seed=2, console=console)
    assert f"wrote 300 rows ({generated.organisations:,} organisations" in out.getvalue()

    result = import_command(engine, generated.path, console=console)
    assert result.inserted == 300
    assert "read 300 rows: 300 new, 0 updated" in out.getvalue()

    assert taxonomy_command(engine, NUCC_EXCERPT, console=console) > 40
    assert "NUCC taxonomy codes" in out.getvalue()
