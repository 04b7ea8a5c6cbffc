"""The request store's one writer on both backends: moves, their audit, and refusals."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import Engine, func, select, text

from bots.medinfo import lifecycle
from bots.medinfo.bot import MedinfoBot
from bots.medinfo.intake import Choice, Draft
from bots.medinfo.lifecycle import Refused
from bots.medinfo.models import PvReportRow, RequestRow
from bots.medinfo.pv_states import Determination
from bots.medinfo.states import Side, TransitionError
from bots.medinfo.store import Envelope, RequestStore
from curbside.audit import AuditEntry, AuditLog
from curbside.database import _alembic_config, make_engine, migrate, session_scope
from curbside.phi import FieldCipher
from tests.medinfo.sponsor_fixtures import directory

CLINICIAN = "@dana:curbside.test"
MSL, OTHER_MSL = "@msl:north.example", "@msl2:north.example"
DESK = "@medinfo:curbside.test"
MONDAY_10AM = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)  # 10:00 in New York
GLUCERA = Choice("northwind", "Northwind Pharma", "Glucera", "metrafide", "metabolic")


@dataclass
class DeskDb:
    engine: Engine
    store: RequestStore
    audit: AuditLog


@pytest.fixture
def desk_db(db_url: str) -> Iterator[DeskDb]:
    engine = make_engine(db_url)
    migrate(engine, MedinfoBot.version_locations())
    audit = AuditLog(b"k" * 32)
    cipher = FieldCipher({"k1": bytes(range(32))}, "k1")
    yield DeskDb(engine, RequestStore(DESK, cipher, audit), audit)
    engine.dispose()


def _new(db: DeskDb, root: str = "$root") -> str:
    draft = Draft(question="Can Glucera be crushed?", product=GLUCERA, urgency="routine",
                  response="chat", consent=True, share_identity=False, confirmed=True)
    with session_scope(db.engine) as session:
        row = db.store.new(session, clinician=CLINICIAN, room_id="!dm:curbside.test",
                           thread_root=root, envelope=Envelope(draft),
                           received_at=MONDAY_10AM)
        return row.id


def _routed(db: DeskDb, root: str = "$root") -> str:
    request_id = _new(db, root)
    sponsor = directory().get("northwind")
    assert sponsor is not None
    with session_scope(db.engine) as session:
        row = session.get(RequestRow, request_id)
        assert row is not None
        draft = db.store.open(row).draft
        due = lifecycle.route(db.store, session, row, sponsor=sponsor, team=sponsor.teams[0],
                              draft=draft, requester="a verified cardiologist in MA",
                              root_txn_id=f"txn-{root}", now=MONDAY_10AM, actor=CLINICIAN)
    assert due == datetime(2026, 12, 2, 15, 0, tzinfo=UTC)  # two business days
    return request_id


def _trail(db: DeskDb, request_id: str) -> list[tuple[str, str, str, dict[str, object]]]:
    with session_scope(db.engine) as session:
        entries = session.scalars(select(AuditEntry).where(
            AuditEntry.record_id == request_id).order_by(AuditEntry.seq)).all()
        return [(e.action, e.actor, e.reason, json.loads(e.details)) for e in entries]


def test_routed_answered_and_closed_each_move_audited(desk_db: DeskDb) -> None:
    request_id = _routed(desk_db)
    answered_at = MONDAY_10AM + timedelta(hours=1)
    with session_scope(desk_db.engine) as session:
        row = session.get(RequestRow, request_id)
        assert row is not None
        lifecycle.answered(desk_db.store, session, row, MSL, answered_at)
        lifecycle.answered(desk_db.store, session, row, OTHER_MSL, answered_at + timedelta(1))
    with session_scope(desk_db.engine) as session:
        row = session.get(RequestRow, request_id)
        assert row is not None
        with pytest.raises(Refused, match="record whether it holds an adverse event"):
            lifecycle.may_close(row, "answered")
        desk_db.store.determine(session, row, Determination.NONE, by=MSL, words="",
                                at=answered_at)
        lifecycle.may_close(row, "answered")
        desk_db.store.close(session, row, outcome="answered", by=MSL, at=answered_at)
    with session_scope(desk_db.engine) as session:
        row = session.get(RequestRow, request_id)
        assert row is not None
        assert (row.state, row.sponsor_key, row.team_room_id, row.root_txn_id) == (
            "closed", "northwind", directory().get("northwind").teams[0].room_id, "txn-$root")
        assert (row.product, row.priority, row.response_mode, row.requester) == (
            "Glucera", "routine", "chat", "a verified cardiologist in MA")
        assert (row.claimed_by, row.answers, row.outcome) == (MSL, 2, "answered")
        assert row.first_answer_at is not None and row.closed_at is not None
        assert row.first_answer_at.replace(tzinfo=UTC) == answered_at
    assert _trail(desk_db, request_id) == [
        ("medinfo.route", CLINICIAN, "",
         {"from": "intake", "sponsor": "northwind", "team": "Northwind US medical",
          "priority": "routine"}),
        ("medinfo.claim", MSL, "", {"from": "routed", "by": MSL}),
        ("medinfo.safety_none", MSL, "", {"from": "undetermined"}),
        ("medinfo.close", MSL, "answered", {"from": "claimed"}),
    ]
    assert desk_db.audit.verify(desk_db.engine) == []


def test_a_refused_move_writes_nothing(desk_db: DeskDb) -> None:
    request_id = _new(desk_db)
    with session_scope(desk_db.engine) as session:
        row = session.get(RequestRow, request_id)
        assert row is not None
        desk_db.store.cancel(session, row, Side.CLINICIAN, actor=CLINICIAN)
    with session_scope(desk_db.engine) as session:
        row = session.get(RequestRow, request_id)
        assert row is not None
        with pytest.raises(TransitionError, match="nothing: cancelled is final"):
            desk_db.store.claim(session, row, MSL)
        with pytest.raises(TransitionError, match="cannot become closed"):
            desk_db.store.close(session, row, outcome="answered", by=MSL, at=MONDAY_10AM)
    with session_scope(desk_db.engine) as session:
        row = session.get(RequestRow, request_id)
        assert row is not None
        assert (row.state, row.claimed_by, row.outcome, row.closed_at) == (
            "cancelled", None, None, None)
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 1
    assert _trail(desk_db, request_id) == [("medinfo.cancel", CLINICIAN, "", {"from": "intake"})]


def test_the_desk_cancels_with_its_reason(desk_db: DeskDb) -> None:
    request_id = _new(desk_db)
    with session_scope(desk_db.engine) as session:
        row = session.get(RequestRow, request_id)
        assert row is not None
        with pytest.raises(TransitionError, match="needs a reason"):
            desk_db.store.cancel(session, row, Side.DESK, actor=DESK)
        desk_db.store.cancel(session, row, Side.DESK, actor=DESK,
                             reason="Northwind Pharma has no team for metabolic in TX")
    assert _trail(desk_db, request_id) == [
        ("medinfo.cancel", DESK, "Northwind Pharma has no team for metabolic in TX",
         {"from": "intake"})]


def test_a_claim_is_the_first_msl_s_and_others_are_told_whose(desk_db: DeskDb) -> None:
    request_id = _routed(desk_db)
    with session_scope(desk_db.engine) as session:
        row = session.get(RequestRow, request_id)
        assert row is not None
        assert lifecycle.claim(desk_db.store, session, row, MSL) is True
    with session_scope(desk_db.engine) as session:
        row = session.get(RequestRow, request_id)
        assert row is not None
        assert lifecycle.claim(desk_db.store, session, row, MSL) is False
        with pytest.raises(Refused) as refused:
            lifecycle.claim(desk_db.store, session, row, OTHER_MSL)
        assert str(refused.value) == f"{lifecycle.reference(row)} is claimed by {MSL}."
        assert row.claimed_by == MSL
    assert [action for action, *_ in _trail(desk_db, request_id)] == [
        "medinfo.route", "medinfo.claim"]


def test_closing_twice_is_refused_before_anything_is_prepared(desk_db: DeskDb) -> None:
    request_id = _routed(desk_db)
    with session_scope(desk_db.engine) as session:
        row = session.get(RequestRow, request_id)
        assert row is not None
        desk_db.store.determine(session, row, Determination.NONE, by=MSL, words="",
                                at=MONDAY_10AM)
        with pytest.raises(Refused, match="needs a reason: close with its outcome"):
            lifecycle.may_close(row, " ")
        desk_db.store.close(session, row, outcome="no data", by=MSL, at=MONDAY_10AM)
        with pytest.raises(Refused) as refused:
            lifecycle.may_close(row, "answered")
        assert str(refused.value) == f"Request {lifecycle.reference(row)} is already closed."


def test_only_open_unanswered_requests_await_an_answer(desk_db: DeskDb) -> None:
    waiting, claimed, answered, closed = (_routed(desk_db, f"$r{i}") for i in range(4))
    _new(desk_db, "$intake")
    with session_scope(desk_db.engine) as session:
        rows = {i: session.get(RequestRow, i) for i in (claimed, answered, closed)}
        desk_db.store.claim(session, rows[claimed], MSL)  # type: ignore[arg-type]
        lifecycle.answered(desk_db.store, session, rows[answered], MSL,  # type: ignore[arg-type]
                           MONDAY_10AM)
        desk_db.store.close(session, rows[closed], outcome="answered",  # type: ignore[arg-type]
                            by=MSL, at=MONDAY_10AM)
    with session_scope(desk_db.engine) as session:
        assert sorted(r.id for r in desk_db.store.awaiting_answer(session)) == sorted(
            [waiting, claimed])


def test_pv_items_forwarded_before_the_pv_process_get_a_reference(db_url: str) -> None:
    """medinfo_0002 gives every earlier PV forward a PV-… reference, then requires one."""
    engine = make_engine(db_url)
    config = _alembic_config(engine, MedinfoBot.version_locations())
    command.upgrade(config, "medinfo_0001")
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO medinfo_pv_reports (source_event_id, request_id, sponsor_key, kind, "
            "received_at, forwarded_at, seconds_to_forward, txn_id) VALUES ('$e1', 'r1', "
            "'northwind', 'ae', :at, :at, 1.5, 'txn-1'), ('$e2', 'r1', 'northwind', "
            "'complaint', :at, :at, 2.0, 'txn-2')"), {"at": MONDAY_10AM})
    command.upgrade(config, "heads")
    with session_scope(engine) as session:
        items = session.scalars(select(PvReportRow)).all()
        refs = {item.ref for item in items}
        assert len(refs) == 2 and all(re.fullmatch(r"PV-[0-9A-F]{8}", ref) for ref in refs)
        assert {(i.state, i.origin) for i in items} == {("forwarded", "screen")}
    engine.dispose()
