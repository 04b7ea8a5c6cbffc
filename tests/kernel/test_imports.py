"""Every package's command group imports on its own, and none reaches up into the CLI.

``curbside.cli`` imports every package's group to wire them together, so a
group that imported ``curbside.cli`` back only worked when the CLI happened to
be imported first (``python -c "import bots.gatekeeper.cli"`` failed). Each
import runs in a fresh interpreter: inside this test process the modules are
already imported and a cycle would not show.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bots", "bridge", "fax_gateway", "referral")


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


CLI_MODULES = sorted(_module(p) for package in PACKAGES for p in (ROOT / package).rglob("cli.py"))


def test_the_command_groups_are_found() -> None:
    assert {"bots.gatekeeper.cli", "bots.medinfo.cli", "fax_gateway.cli", "referral.cli"} <= set(
        CLI_MODULES
    )


@pytest.mark.parametrize("module", [*CLI_MODULES, "curbside.cli"])
def test_module_imports_in_a_fresh_interpreter(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def _imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_package_imports_the_cli() -> None:
    composition_root = ROOT / "curbside" / "cli"
    entry_point = ROOT / "curbside" / "__main__.py"  # `python -m curbside` runs the CLI
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for package in (*PACKAGES, "curbside", "screening")
        for path in (ROOT / package).rglob("*.py")
        if composition_root not in path.parents and path != entry_point
        for name in _imports_of(path)
        if name == "curbside.cli" or name.startswith("curbside.cli.")
    ]
    assert offenders == []
