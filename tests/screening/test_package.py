"""screening/ stands below the bots: it imports only the kernel (DESIGN.md)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OURS = ("curbside", "bots", "bridge", "referral", "fax_gateway", "sponsors", "screening")


def test_screening_imports_nothing_of_ours_but_the_kernel() -> None:
    offenders = []
    for path in (ROOT / "screening").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.module
                     and node.level == 0 else [])
            offenders += [f"{path.name}: {name}" for name in names
                          if name.split(".")[0] in OURS
                          and name.split(".")[0] not in ("curbside", "screening")]
    assert offenders == []
