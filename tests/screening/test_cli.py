"""`curbside medinfo screen FILE.jsonl`: one JSON line out per line in, no sponsor needed."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from bots.medinfo.cli import medinfo


def test_each_line_gets_the_issue_fields(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(
        json.dumps({"id": "A1", "text": "Mrs. Delgado vomited for days on Ozempic"}) + "\n\n"
        + json.dumps({"text": "what is the half-life of apixaban?"}) + "\n", encoding="utf-8")
    result = CliRunner().invoke(medinfo, ["screen", str(source)])
    assert result.exit_code == 0, result.output
    first, second = (json.loads(line) for line in result.output.splitlines())
    assert first["id"] == "A1" and first["adverse_event"] and first["pv"]
    assert first["complaint"] is False and first["special_situation"] is None
    assert first["phi"] == [{"kind": "name", "start": 0, "end": 12}]
    assert first["redacted"] == "[NAME] vomited for days on Ozempic"
    assert second["id"] is None and not second["pv"] and second["phi"] == []
    assert set(first) >= {"id", "adverse_event", "complaint", "special_situation", "pv", "phi",
                          "redacted"}


def test_a_bad_line_is_named(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('{"text": "ok"}\n{"id": 2}\n', encoding="utf-8")
    result = CliRunner().invoke(medinfo, ["screen", str(source)])
    assert result.exit_code == 1
    assert 'line 2 has no "text" string' in result.output
