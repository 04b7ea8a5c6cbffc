"""Signed checkpoints catch what the chain alone cannot: a cut at its end with the head rewritten.

On both backends: the attacker can write the database (delete entries, set
``audit_head``) but not the checkpoint file nor the audit key.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from bots.gatekeeper.bot import CHECKPOINT, GatekeeperBot
from curbside.audit import AuditLog
from curbside.audit_anchor import CheckpointFile, notice
from curbside.database import make_engine, migrate, session_scope
from curbside.matrix.jobs import JobTable

KEY = b"audit-key-for-tests-0123456789ab"
NOW = datetime(2026, 12, 2, 10, 15, tzinfo=UTC)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    migrate(engine)
    yield engine
    engine.dispose()


def _write(engine: Engine, log: AuditLog, count: int) -> None:
    for n in range(count):
        with session_scope(engine) as session:
            log.record(session, actor="@coord:curbside.test", action="referral.sent",
                       record_type="referral", record_id=f"R{n}", reason="treatment")


def _checkpoint(engine: Engine, file: CheckpointFile) -> None:
    with session_scope(engine) as session:
        assert file.take(session, NOW) is not None


def _cut_to(engine: Engine, seq: int) -> None:
    """Delete every entry after ``seq`` and make the head agree: the chain verifies alone."""
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq > :seq"), {"seq": seq})
        conn.execute(text("UPDATE audit_head SET seq = :seq, hash = "
                          "(SELECT hash FROM audit_log WHERE seq = :seq) WHERE id = 1"),
                     {"seq": seq})


def test_a_cut_with_a_rewritten_head_passes_the_chain_but_not_the_checkpoints(
    engine: Engine, tmp_path: Path
) -> None:
    log, file = AuditLog(KEY), CheckpointFile(tmp_path / "anchor" / "checkpoints.jsonl", KEY)
    _write(engine, log, 6)
    _checkpoint(engine, file)
    _write(engine, log, 2)
    _cut_to(engine, 4)
    assert log.verify(engine) == []  # the chain alone is fooled
    checkpoints, bad = file.read()
    report = log.verify_chain(engine, checkpoints)
    assert bad == []
    assert (report.entries, report.checkpoints) == (4, 0)
    [problem] = report.problems
    assert problem.seq == 6
    assert problem.problem.startswith("entries 5..6 missing: the checkpoint of 2026-12-02T10:15")


def test_an_intact_chain_matches_every_checkpoint(engine: Engine, tmp_path: Path) -> None:
    log, file = AuditLog(KEY), CheckpointFile(tmp_path / "checkpoints.jsonl", KEY)
    _write(engine, log, 3)
    _checkpoint(engine, file)
    with session_scope(engine) as session:
        assert file.take(session, NOW) is None  # nothing new: no second line
    _write(engine, log, 2)
    _checkpoint(engine, file)
    report = log.verify_chain(engine, file.read()[0])
    assert (report.entries, report.checkpoints, report.problems) == (5, 2, [])


def test_a_rewritten_checkpointed_entry_is_named(engine: Engine, tmp_path: Path) -> None:
    """Re-chaining from an edited entry with the right key is impossible without the key;
    with a copy of the key, the checkpoint still names the entry that changed."""
    log, file = AuditLog(KEY), CheckpointFile(tmp_path / "checkpoints.jsonl", KEY)
    _write(engine, log, 3)
    _checkpoint(engine, file)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET hash = :h WHERE seq = 3"), {"h": "f" * 64})
    problems = log.verify_chain(engine, file.read()[0]).problems
    assert any(p.seq == 3 and "differs from the checkpoint" in p.problem for p in problems)


def test_a_forged_checkpoint_line_is_refused(engine: Engine, tmp_path: Path) -> None:
    log, file = AuditLog(KEY), CheckpointFile(tmp_path / "checkpoints.jsonl", KEY)
    _write(engine, log, 2)
    _checkpoint(engine, file)
    forged = {"seq": 1, "hash": "0" * 64, "at": "2026-12-02T10:15:00+00:00", "mac": "ab" * 32}
    with file.path.open("a") as handle:
        handle.write(json.dumps(forged) + "\nnot json\n")
    good, bad = file.read()
    assert [c.seq for c in good] == [2]
    assert bad == ["checkpoint line 2 (entry 1) is not signed with this deployment's audit key",
                   "checkpoint line 3 is not a checkpoint"]
    other_key = CheckpointFile(file.path, b"another-deployment-key-0123456789")
    assert other_key.read()[0] == []


def test_the_checkpoint_is_a_declared_job_and_its_notice_names_seq_and_hash(
    engine: Engine, tmp_path: Path
) -> None:
    assert CHECKPOINT in {job.name for job in JobTable.of(GatekeeperBot).periodic}
    log, file = AuditLog(KEY), CheckpointFile(tmp_path / "checkpoints.jsonl", KEY)
    _write(engine, log, 1)
    with session_scope(engine) as session:
        checkpoint = file.take(session, NOW)
    assert checkpoint is not None
    text_ = notice(checkpoint)
    assert f"entry {checkpoint.seq}, hash {checkpoint.hash[:16]}" in text_
