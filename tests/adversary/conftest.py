"""Prints the adversary suite's summary table at the end of the run."""

from __future__ import annotations

import pytest

from tests.adversary.ledger import LEDGER, summary_rows


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    rows = summary_rows(LEDGER)
    if not rows:
        return
    terminalreporter.section("adversary suite")
    header = ("actor", "attempts", "refused as expected", "unexpected", "5xx")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        terminalreporter.write_line(
            "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True))
        )
