"""Operator commands: `audit verify` on an intact and a tampered chain,
`keys rotate`, and `user add` against a running homeserver."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import text

from bots.medinfo.records import COLUMNS
from curbside.audit_anchor import CheckpointFile
from curbside.cli import cli
from curbside.database import make_engine, session_scope
from curbside.homeserver import EmbeddedSynapse


@pytest.fixture
def project(tmp_path: Path) -> Path:
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "config/curbside.yaml"), "init"])
    assert result.exit_code == 0, result.output
    return tmp_path


def _run(project: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", str(project / "config/curbside.yaml"), *args])
    return result.exit_code, result.output


def _audit_rows(project: Path) -> int:
    engine = make_engine(f"sqlite:///{project / 'data/curbside.db'}")
    with engine.connect() as conn:
        rows = int(conn.scalar(text("SELECT count(*) FROM audit_log")))
    engine.dispose()
    return rows


def test_audit_verify_detects_a_tampered_row(project: Path) -> None:
    before = _audit_rows(project)  # the demo's set-up is audited too
    assert _run(project, "keys", "rotate")[0] == 0  # writes an audit entry
    assert _run(project, "keys", "rotate")[0] == 0
    rows = _audit_rows(project)
    assert rows == before + 2
    code, output = _run(project, "audit", "verify")
    assert code == 0
    assert output.startswith(f"audit chain intact: {rows} entries checked, 0 of 0 checkpoint(s)")

    engine = make_engine(f"sqlite:///{project / 'data/curbside.db'}")
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET reason = 'nothing to see' WHERE seq = 1"))
    engine.dispose()
    code, output = _run(project, "audit", "verify")
    assert code == 1
    assert "entry 1: entry was altered after it was written" in output
    assert f"{rows} entries checked" in output


def test_audit_verify_names_a_cut_after_the_last_checkpoint(project: Path) -> None:
    """The attack the chain alone misses: newest entries deleted, the head set to match."""
    base = _audit_rows(project)  # the demo's set-up is audited too
    for _ in range(4):
        assert _run(project, "keys", "rotate")[0] == 0
    config = yaml.safe_load((project / "config/curbside.yaml").read_text())
    engine = make_engine(f"sqlite:///{project / 'data/curbside.db'}")
    checkpoints = CheckpointFile(project / "data/audit-checkpoints.jsonl",
                                 config["secrets"]["audit_key"].encode())
    with session_scope(engine) as session:
        assert checkpoints.take(session, datetime.now(UTC)) is not None
    code, output = _run(project, "audit", "verify")
    assert code == 0, output
    assert f"{base + 4} entries checked, 1 of 1 checkpoint(s) matched" in output

    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq > :kept"), {"kept": base + 2})
        conn.execute(text("UPDATE audit_head SET seq = :kept, hash = "
                          "(SELECT hash FROM audit_log WHERE seq = :kept)"), {"kept": base + 2})
    engine.dispose()
    code, output = _run(project, "audit", "verify")
    assert code == 1
    assert f"entry {base + 4}: entries {base + 3}..{base + 4} missing" in output
    assert "cut short after that checkpoint" in output
    assert f"{base + 2} entries checked, 0 of 1 checkpoint(s) matched" in output


def test_keys_rotate_reports_the_new_key(project: Path) -> None:
    code, output = _run(project, "keys", "rotate")
    assert code == 0, output
    assert "new primary key k" in output
    assert "retired k" in output  # the key created at init


def test_user_add_creates_an_account(
    project: Path, homeserver: EmbeddedSynapse, unique: str
) -> None:
    config_path = project / "config/curbside.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["homeserver"]["url"] = homeserver.url
    config["homeserver"]["server_name"] = homeserver.server_name
    config["homeserver"]["registration_shared_secret"] = (
        homeserver.layout.registration_shared_secret
    )
    config_path.write_text(yaml.safe_dump(config))
    code, output = _run(project, "user", "add", f"dana{unique}", "--display-name", "Dana W")
    assert code == 0, output
    assert f"created @dana{unique}:curbside.test" in output
    code, output = _run(project, "user", "add", f"dana{unique}")
    assert code == 1
    assert "already exists" in output


def test_user_add_without_a_homeserver_says_what_to_do(project: Path) -> None:
    config_path = project / "config/curbside.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["homeserver"]["url"] = "http://127.0.0.1:9"
    config_path.write_text(yaml.safe_dump(config))
    code, output = _run(project, "user", "add", "nobody")
    assert code == 1
    assert "is `curbside up` running?" in output


def test_package_groups_reach_the_database_through_the_host(project: Path) -> None:
    """`verify` (gatekeeper) and `medinfo` (medinfo) get the migrated database and the
    audit log from the command's context object, without importing the CLI."""
    roster = project / "roster.csv"
    roster.write_text(
        "matrix_id,npi,licence_state,licence_number,checked\n"
        "@lee:example.org,1234567893,MA,MD123,2026-01-05\n"
    )
    code, output = _run(project, "verify", "import", str(roster), "--by", "@admin:example.org")
    assert code == 0, output
    assert "verified 0 clinician(s); 1 row(s) refused" in output
    code, output = _run(project, "medinfo", "export", "--sponsor", "nobody")
    assert code == 1
    assert "no sponsor 'nobody'; no sponsors are imported yet" in output
    assert ",".join(COLUMNS) not in output
