"""The audit chain detects edited, deleted and truncated entries on both backends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from curbside.audit import AuditLog
from curbside.database import make_engine, migrate, session_scope

KEY = b"audit-key-for-tests-0123456789ab"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    migrate(engine)
    yield engine
    engine.dispose()


def _write(engine: Engine, count: int) -> AuditLog:
    log = AuditLog(KEY)
    for n in range(count):
        with session_scope(engine) as session:
            log.record(
                session,
                actor="@coord:curbside.test",
                action="referral.sent",
                record_type="referral",
                record_id=f"R{n}",
                reason="treatment",
            )
    return log


def test_intact_chain_verifies(engine: Engine) -> None:
    assert _write(engine, 5).verify(engine) == []


def test_edited_row_is_detected(engine: Engine) -> None:
    log = _write(engine, 5)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = '@mallory:x' WHERE seq = 3"))
    problems = log.verify(engine)
    assert [p.seq for p in problems] == [3]
    assert "altered" in problems[0].problem


def test_deleted_row_is_detected(engine: Engine) -> None:
    log = _write(engine, 5)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = 2"))
    assert any("missing" in p.problem for p in log.verify(engine))


def test_truncated_tail_is_detected(engine: Engine) -> None:
    log = _write(engine, 5)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq >= 4"))
    assert any("head says 5" in p.problem for p in log.verify(engine))


def test_rolled_back_effect_leaves_no_entry(engine: Engine) -> None:
    log = AuditLog(KEY)
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        log.record(session, actor="a", action="x", record_type="t", record_id="1")
        raise RuntimeError("effect failed")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one() == 0
    assert log.verify(engine) == []


def test_wrong_key_fails_verification(engine: Engine) -> None:
    _write(engine, 2)
    assert AuditLog(b"another-key-another-key-00000000").verify(engine)
