"""The service-level review as a supervised job: it outlives failures and bad requests.

No homeserver: the bot is built but not started; its supervisor runs the
declared review job against the real database (both backends), and what the
review queued is read back from the outbox.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bots.medinfo import lifecycle
from bots.medinfo.bot import REVIEW, MedinfoBot
from bots.medinfo.intake import Choice, Draft
from bots.medinfo.models import RequestRow
from bots.medinfo.service_levels import ManualClock
from bots.medinfo.sponsors import import_sponsors, load_directory
from bots.medinfo.store import Envelope
from curbside.audit import AuditEntry, AuditLog
from curbside.database import make_engine, migrate, session_scope
from curbside.matrix.config import BotAccount, RuntimeConfig
from curbside.matrix.offloop import MainLoop
from curbside.matrix.supervisor import MAX_ITEM_ATTEMPTS
from curbside.phi import FieldCipher
from tests.medinfo.sponsor_fixtures import PLACEHOLDER_NORTH, write_sponsors
from tests.support.matrix_testkit import wait_for

DESK = "@medinfo:curbside.test"
OPS = "!ops:curbside.test"
MONDAY_10AM = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
GLUCERA = Choice("northwind", "Northwind Pharma", "Glucera", "metrafide", "metabolic")


@pytest.fixture
def bot(db_url: str, tmp_path: Path) -> Iterator[MedinfoBot]:
    engine = make_engine(db_url)
    migrate(engine, MedinfoBot.version_locations())
    import_sponsors(engine, write_sponsors(tmp_path / "sponsors.yaml"))
    config = RuntimeConfig("http://127.0.0.1:1", tmp_path, "k" * 16, engine,
                           FieldCipher({"k1": bytes(range(32))}, "k1"),
                           audit=AuditLog(b"a" * 32), operator_room=OPS)
    yield MedinfoBot(BotAccount(DESK, "pw", "Medinfo"), config, audit_key=b"k" * 32,
                     clock=ManualClock(MONDAY_10AM), review_every=0.05)
    engine.dispose()


def routed(bot: MedinfoBot, name: str) -> str:
    """A routine request routed to Northwind, its MSL-thread root sent as ``$<name>``."""
    draft = Draft(question="Can Glucera be crushed?", product=GLUCERA, urgency="routine",
                  response="chat", consent=True, share_identity=False, confirmed=True)
    store = bot.runtime.store
    with session_scope(bot.config.engine) as session:
        sponsor = load_directory(session).get("northwind")
        assert sponsor is not None
        row = bot.requests.new(session, clinician="@dana:curbside.test",
                               room_id="!dm:curbside.test", thread_root=f"$ask-{name}",
                               envelope=Envelope(draft), received_at=MONDAY_10AM)
        txn = bot.poster.post(session, sponsor.teams[0].room_id, f"request {name}")
        lifecycle.route(bot.requests, session, row, sponsor=sponsor, team=sponsor.teams[0],
                        draft=draft, requester="a cardiologist", root_txn_id=txn,
                        now=MONDAY_10AM, actor="@dana:curbside.test")
        request_id = row.id
    with session_scope(bot.config.engine) as session:
        (root,) = [i for i in store.undelivered(session) if i.txn_id == txn]
        store.mark_sent(session, root.id, f"${name}")
    return request_id


def queued(bot: MedinfoBot, room: str) -> list[tuple[str, str | None]]:
    """(body, thread root) of what the bot queued for ``room``."""
    with session_scope(bot.config.engine) as session:
        return [(i.content["body"], (i.content.get("m.relates_to") or {}).get("event_id"))
                for i in bot.runtime.store.undelivered(session, limit=1000)
                if i.room_id == room]


async def test_the_review_survives_failures_and_moves_a_damaged_request_aside(
        bot: MedinfoBot, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    team_room = PLACEHOLDER_NORTH.msl_room
    good, damaged = routed(bot, "good"), routed(bot, "damaged")
    with session_scope(bot.config.engine) as session:
        row = session.get(RequestRow, damaged)
        assert row is not None
        row.team_room_id = None  # routed, its thread root sent, but the room lost
    bot.clock.advance(timedelta(days=3))  # both are overdue: escalations are due

    failing = {"passes": 3}
    awaiting = bot.requests.awaiting_answer

    def flaky(session):
        if failing["passes"] > 0:
            failing["passes"] -= 1
            raise RuntimeError("database hiccup")
        return sorted(awaiting(session), key=lambda row: row.id != damaged)  # damaged first

    monkeypatch.setattr(bot.requests, "awaiting_answer", flaky)
    caplog.set_level(logging.ERROR)
    bot.supervisor.start(MainLoop(asyncio.get_running_loop(), workers=4))
    try:
        def damaged_aside() -> bool:
            with session_scope(bot.config.engine) as session:
                return bool(bot.runtime.store.dead_letters(session))

        await wait_for(damaged_aside, timeout=30, what="the damaged request moved aside")
    finally:
        await bot.stop()

    # the good request was escalated once, in its MSL thread, despite both
    escalations = [(body, root) for body, root in queued(bot, team_room)
                   if body.startswith("Escalation")]
    assert len(escalations) == 1 and escalations[0][1] == "$good"
    assert queued(bot, "") == []  # the damaged one was posted nowhere
    with session_scope(bot.config.engine) as session:
        (letter,) = bot.runtime.store.dead_letters(session)
        assert (letter.source, letter.item, letter.error) == (
            f"periodic {REVIEW}", damaged, "LookupError")
        assert session.get(RequestRow, good).escalated_at is not None  # type: ignore[union-attr]
        assert session.get(RequestRow, damaged).escalated_at is None  # type: ignore[union-attr]
        actions = session.scalars(select(AuditEntry.action)).all()
    assert "runtime.dead_letter" in actions and "medinfo.escalate" in actions
    notices = [body for body, _ in queued(bot, OPS)]
    assert any(f"periodic job {REVIEW} failed 3 times" in n for n in notices)
    assert any(f"periodic job {REVIEW} runs again" in n for n in notices)
    assert any(f"gave up on item {damaged} after {MAX_ITEM_ATTEMPTS} tries (LookupError)" in n
               for n in notices)
