"""The relay's feeds as supervised consumers: failures retried, a poisoned fax moved aside.

No homeserver: the relay runs on its own Supervisor over the real database
(both backends) with a stand-in gateway feed and portals whose effect is a
row in the bridge's store, committed with the feed's cursor.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from alembic import command
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bridge.bridge import Bridge
from bridge.config import BridgeConfig
from bridge.models import HeldDelivery
from bridge.relay import INBOUND_FEED, RELAY_ACCOUNT, STATUS_FEED, Relay
from bridge.services import Services
from bridge.store import BridgeStore, Held
from curbside.audit import AuditEntry, AuditLog
from curbside.background import BackgroundTasks
from curbside.database import _alembic_config, make_engine, migrate, session_scope
from curbside.matrix.config import RuntimeConfig
from curbside.matrix.models import MatrixFeedCursor
from curbside.matrix.offloop import MainLoop
from curbside.matrix.storage import RuntimeStore
from curbside.matrix.supervisor import MAX_ITEM_ATTEMPTS
from curbside.phi import FieldCipher
from fax_gateway import Disposition, InboundRecord, Owner, OwnerKind
from tests.support.matrix_testkit import wait_for

LEE = "@lee:x"


def _record(seq: int) -> InboundRecord:
    return InboundRecord(seq, f"fax-{seq}", "loopback", f"p{seq}",
                         Owner(OwnerKind.MATRIX_USER, LEE), 1, datetime.now(UTC))


class Gateway:
    """The gateway's feeds as the relay reads them; the first read fails."""

    def __init__(self) -> None:
        self.records = [_record(1), _record(2), _record(3)]
        self.reads_failing = 1
        self.queue: asyncio.Queue[InboundRecord] = asyncio.Queue()

    def received_after(self, seq: int, limit: int) -> list[InboundRecord]:
        if self.reads_failing:
            self.reads_failing -= 1
            raise RuntimeError("inbox table locked")
        return [r for r in self.records if r.seq > seq][:limit]

    def changes_after(self, seq: int, limit: int) -> list[Any]:
        return []

    def inbound_envelope(self, inbound_id: str) -> SimpleNamespace:
        return SimpleNamespace(to_number="+13125550111")

    def subscribe_inbound(self) -> asyncio.Queue[InboundRecord]:
        return self.queue

    def dispose(self, inbound_id: str, disposition: Disposition, **_: Any) -> bool:
        return True

    def unsubscribe_inbound(self, queue: asyncio.Queue[InboundRecord]) -> None:
        pass


class FakePortal:
    """Holds each fax (a row written in the feed's session); fax-2 is poisoned."""

    def __init__(self, store: BridgeStore) -> None:
        self.store = store
        self.tries: dict[str, int] = {}

    async def handle_received(self, inbound_id: str, session: Session) -> Disposition:
        self.tries[inbound_id] = self.tries.get(inbound_id, 0) + 1
        if inbound_id == "fax-1" and self.tries[inbound_id] == 1:
            raise aiohttp.ClientConnectionError("homeserver unreachable")
        if inbound_id == "fax-2":
            raise ValueError("this fax breaks the portal")
        self.store.hold(session, Held(inbound_id, "!dm:x", "@fax_13125550111:x", LEE))
        return Disposition.HELD


class Host:
    def __init__(self, portal: FakePortal) -> None:
        self.the_portal = portal

    async def portal_receiving(self, number: str, owner: Owner) -> FakePortal:
        return self.the_portal


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    migrate(engine, Bridge.version_locations())
    yield engine
    engine.dispose()


def held(engine: Engine) -> list[str]:
    with session_scope(engine) as session:
        return sorted(session.scalars(select(HeldDelivery.inbound_id)).all())


async def test_the_inbound_feed_outlives_failures_and_moves_a_poisoned_fax_aside(
        engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cipher = FieldCipher({"k1": bytes(range(32))}, "k1")
    runtime = RuntimeConfig("http://127.0.0.1:1", tmp_path, secrets.token_hex(8), engine,
                            cipher, audit=AuditLog(b"a" * 32))
    config = BridgeConfig(server_name="x", sender_localpart="faxbridge", as_token="a",
                          hs_token="h", port=1, runtime=runtime, feed_interval=0.05)
    gateway, store = Gateway(), BridgeStore(lambda number: number)
    portal = FakePortal(store)
    services = Services(config, gateway, store, Host(portal))  # type: ignore[arg-type]
    tasks = BackgroundTasks(logging.getLogger("test"))
    relay = Relay(services, tasks)
    caplog.set_level(logging.ERROR)
    relay.start(MainLoop(asyncio.get_running_loop(), workers=4))
    try:
        await wait_for(lambda: held(engine) == ["fax-1", "fax-3"], timeout=30,
                       what="faxes 1 and 3 relayed past the poisoned fax 2")
        gateway.records.append(_record(4))  # the feed goes on, woken by the gateway
        await gateway.queue.put(gateway.records[-1])
        await wait_for(lambda: held(engine) == ["fax-1", "fax-3", "fax-4"], timeout=10,
                       what="fax 4")
    finally:
        await tasks.cancel_all()

    assert portal.tries["fax-1"] == 2  # the outage was retried, not counted against it
    assert portal.tries["fax-2"] == MAX_ITEM_ATTEMPTS
    with session_scope(engine) as session:
        (letter,) = RuntimeStore(RELAY_ACCOUNT, cipher).dead_letters(session)
        assert (letter.source, letter.item, letter.error) == (
            f"feed {INBOUND_FEED}", "2", "ValueError")
        cursor = session.get(MatrixFeedCursor, (RELAY_ACCOUNT, INBOUND_FEED))
        assert cursor is not None and cursor.position == 4 and cursor.failures == 0
        actions = session.scalars(select(AuditEntry.action)).all()
    assert "runtime.dead_letter" in actions
    assert any("gave up on item 2 after" in r.getMessage() for r in caplog.records)
    assert any("feed fax-inbound failed (1 in a row)" in r.getMessage() for r in caplog.records)


def test_an_upgraded_bridge_keeps_its_feed_positions(engine: Engine) -> None:
    """bridge_0004 carries bridge_cursors over: nothing relayed again, nothing skipped."""
    config = _alembic_config(engine, Bridge.version_locations())
    command.downgrade(config, "bridge_0003")
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO bridge_cursors (name, seq) VALUES ('job_changes', 41), ('inbound', 7)")
    migrate(engine, Bridge.version_locations())
    with session_scope(engine) as session:
        rows = session.scalars(select(MatrixFeedCursor).where(
            MatrixFeedCursor.account == RELAY_ACCOUNT)).all()
        assert {(r.consumer, r.position) for r in rows} == {(STATUS_FEED, 41), (INBOUND_FEED, 7)}
    command.downgrade(config, "bridge_0003")
    with engine.connect() as connection:
        back = connection.exec_driver_sql("SELECT name, seq FROM bridge_cursors").all()
    assert sorted(back) == [("inbound", 7), ("job_changes", 41)]
