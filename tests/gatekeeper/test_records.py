"""Credential records without a homeserver: roster import, deactivation, reminders, directory."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, select

from bots.gatekeeper import models
from bots.gatekeeper.directory import find_colleagues, set_listed
from bots.gatekeeper.revocation import due_reminders, ending_of, revoke_deactivated
from bots.gatekeeper.roster import RosterFormatError, import_roster
from curbside.audit import AuditEntry
from curbside.credentials import active_credential
from curbside.database import session_scope
from curbside.homeserver import existing_accounts
from tests.gatekeeper.registry_data import (
    BOB,
    CAROL,
    DANA,
    LATER_DEACTIVATED,
    ORGANISATION,
    deactivate,
)

ADMIN = "@admin:curbside.test"


def _roster(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "roster.csv"
    path.write_text("matrix_id,npi,licence_state,licence_number,checked\n" + "\n".join(rows))
    return path


def test_migrated_schema_matches_models(engine) -> None:
    ours = MetaData(naming_convention=models.Base.metadata.naming_convention)
    for table in models.Base.metadata.sorted_tables:
        if table.name.startswith("gatekeeper_"):
            table.to_metadata(ours)
    assert len(ours.tables) == 7
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "include_name": lambda name, kind, _p: kind != "table"
            or name.startswith("gatekeeper_"),
            "compare_type": True,
        })
        assert compare_metadata(context, ours) == []


def test_roster_import_attests_valid_rows_and_explains_the_rest(engine, audit, tmp_path) -> None:
    path = _roster(tmp_path, [
        f"@dana:curbside.test,{DANA},ma,md 123456,HR identity check",
        f"@bob:curbside.test,{BOB},MA,MD999999,HR identity check",
        f"@org:curbside.test,{ORGANISATION},MA,X,HR identity check",
        f"not-a-user,{CAROL},MA,RN333333,HR identity check",
        f"@carol:curbside.test,{CAROL},MA,RN333333,",
        f"@dana:curbside.test,{DANA},MA,MD123456,again",
    ])

    result = import_roster(engine, path, ADMIN, audit=audit)

    assert result.imported == 1
    reasons = {r.line: r.reason for r in result.rejections}
    assert "no MA licence" in reasons[3]
    assert "organisation" in reasons[4]
    assert "not a Matrix ID" in reasons[5]
    assert "checked" in reasons[6]
    assert reasons[7] == "listed twice in the roster"
    with session_scope(engine) as session:
        dana = active_credential(session, "@dana:curbside.test")
        assert dana is not None
        assert dana.display_name == "Dana Whitfield, MD · Cardiovascular Disease"
        entries = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "credential.roster_import")).all()
        assert [(e.actor, e.record_id) for e in entries] == [(ADMIN, "@dana:curbside.test")]
        assert entries[0].reason == "roster import: HR identity check"
    assert audit.verify(engine) == []


def test_roster_without_the_columns_is_refused(engine, audit, tmp_path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("user,npi\n@a:b,1\n")
    with pytest.raises(RosterFormatError, match="matrix_id"):
        import_roster(engine, path, ADMIN, audit=audit)


def test_a_registry_deactivation_revokes_the_credential(engine, audit, tmp_path) -> None:
    import_roster(engine, _roster(tmp_path, [
        f"@lee:curbside.test,{LATER_DEACTIVATED},MA,DO555555,HR check"]), ADMIN, audit=audit)
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        assert revoke_deactivated(session, audit, now) == []
    deactivate(engine, tmp_path)
    with session_scope(engine) as session:
        assert revoke_deactivated(session, audit, now) == ["@lee:curbside.test"]
        assert active_credential(session, "@lee:curbside.test") is None
        ending = ending_of(session, "@lee:curbside.test", now)
        assert ending.cause == "deactivated" and "2025-06-01" in ending.reason
        assert revoke_deactivated(session, audit, now) == []


def test_reminders_are_due_once_per_threshold(engine, audit, tmp_path) -> None:
    from bots.gatekeeper.notices import mark_sent

    now = datetime.now(UTC)
    import_roster(engine, _roster(tmp_path, [f"@dana:curbside.test,{DANA},MA,MD123456,HR"]),
                  ADMIN, audit=audit, now=now - timedelta(days=340))
    with session_scope(engine) as session:
        due = due_reminders(session, (30, 7), now)
        assert [(row.user_id, days) for row, days in due] == [("@dana:curbside.test", 30)]
        mark_sent(session, "@dana:curbside.test", "reminder",
                  f"30d:{due[0][0].expires_at.replace(tzinfo=UTC).isoformat()}", now)
    with session_scope(engine) as session:
        assert due_reminders(session, (30, 7), now) == []
        later = due_reminders(session, (30, 7), now + timedelta(days=20))
        assert [days for _, days in later] == [7]


def test_directory_finds_listed_colleagues_by_specialty_and_state(engine, audit, tmp_path) -> None:
    import_roster(engine, _roster(tmp_path, [
        f"@dana:curbside.test,{DANA},MA,MD123456,HR",
        f"@bob:curbside.test,{BOB},MA,MD222222,HR",
        f"@carol:curbside.test,{CAROL},MA,RN333333,HR",
    ]), ADMIN, audit=audit)
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        found = find_colleagues(session, "cardiology", "ma", now=now, limit=10)
        assert [c.user_id for c in found] == ["@dana:curbside.test", "@bob:curbside.test"]
        assert find_colleagues(session, "cardiology", "NH", now=now, limit=10) == []
        assert set_listed(session, audit, "@bob:curbside.test", listed=False, now=now)
    with session_scope(engine) as session:
        found = find_colleagues(session, "cardiology", "MA", now=now, limit=10)
        assert [c.user_id for c in found] == ["@dana:curbside.test"]
        assert [c.user_id for c in find_colleagues(session, "nurse practitioner", "MA",
                                                   now=now, limit=10)] == ["@carol:curbside.test"]


def test_roster_rows_naming_no_account_on_the_homeserver_are_refused(
    engine, audit, tmp_path, homeserver, unique
) -> None:
    """Real Synapse: the account check asks it which of the roster's ids exist."""
    dana = asyncio.run(homeserver.register_user(f"dana{unique}", "pw-" + unique))
    ghost = f"@ghost{unique}:{homeserver.server_name}"
    path = _roster(tmp_path, [f"{dana},{DANA},MA,MD123456,HR", f"{ghost},{DANA},MA,MD123456,HR"])

    result = import_roster(engine, path, ADMIN, audit=audit,
                           accounts=lambda ids: asyncio.run(existing_accounts(homeserver.url, ids)))

    assert result.imported == 1
    [refused] = result.rejections
    assert (refused.line, refused.matrix_id) == (3, ghost)
    assert refused.reason.startswith(f"no account {ghost} exists on the homeserver")
    with session_scope(engine) as session:
        assert active_credential(session, dana) is not None
        assert active_credential(session, ghost) is None
