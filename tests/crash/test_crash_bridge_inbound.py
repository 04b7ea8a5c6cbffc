"""Scenario: the fax bridge is SIGKILLed twice while delivering a received fax.

Dr. Okafor owns an office number and has its portal open. A fax to the
number goes over the loopback line (the gateway's worker runs in the test
process) into the gateway's inbox; the bridge, in its own process, is killed

1. after it uploaded the fax's PDF for the portal but before the transaction
   that queues the notice and the file with the inbound feed's cursor — the
   restarted relay reads the fax again from the cursor;
2. after the homeserver accepted the m.file but before the puppet's outbox
   marked it sent — the restarted outbox sends it again under its fixed
   transaction id.

Afterwards the portal holds exactly one fax file and one "Fax received"
notice, and the file opens as the fax's pages.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pikepdf
import pytest

import tests.bridge.harness as harness
from bridge.relay import INBOUND_FEED, RELAY_ACCOUNT
from curbside.database import session_scope
from curbside.matrix.files import download_decrypted
from curbside.matrix.models import MatrixFeedCursor
from curbside.phi import new_master_key
from fax_gateway import Owner, OwnerKind
from tests.bridge.harness import AUDIT_KEY, SERVER, bridge_world, files, notices
from tests.crash.processes import Component
from tests.support.documents import make_pdf
from tests.support.matrix_testkit import wait_for

OFFICE = "+13125550145"
SETTLE = 3.0  # seconds left for anything that would arrive twice


async def test_a_received_fax_reaches_its_portal_once_across_two_kills(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    master_key = new_master_key()  # the bridge's process must open the same PHI keys
    monkeypatch.setattr(harness, "new_master_key", lambda: master_key)
    async with bridge_world(tmp_path, start=False, db_url=db_url) as world:
        config, runtime = world.config, world.config.runtime
        bridge = Component("tests.crash.bridge_process", {
            "url": runtime.homeserver_url, "store_dir": str(runtime.store_dir),
            "db_url": str(world.engine.url), "master_key": master_key,
            "pickle_key": runtime.pickle_key, "server_name": SERVER,
            "as_token": config.as_token, "hs_token": config.hs_token, "port": config.port,
            "audit_key": AUDIT_KEY.hex(), "documents_dir": str(tmp_path / "documents"),
            "pauses": ["fax-uploaded", "fax-file-sent"],
        }, tmp_path, start_attempts=3)
        stop = asyncio.Event()
        worker = asyncio.create_task(world.gateway.worker("crash-test").run(stop, idle=0.1))
        try:
            await bridge.start()
            okafor = await world.clinician("okafor")
            puppet_id = world.puppet_id(OFFICE)
            portal = await okafor.create_encrypted_room([puppet_id])
            await wait_for(lambda: notices(okafor, portal, puppet_id), timeout=60,
                           what="the puppet's welcome in the portal")
            world.gateway.assign_route(OFFICE, Owner(OwnerKind.MATRIX_USER, okafor.user_id),
                                       actor=okafor.user_id, reason="the office is hers")
            world.gateway.submit(make_pdf(2), OFFICE, idempotency_key="crash-inbound-1",
                                 actor="@coordinator:curbside.test")

            await bridge.restart_after_kill_at("fax-uploaded", timeout=120)
            await bridge.restart_after_kill_at("fax-file-sent")

            await wait_for(lambda: files(okafor, portal, puppet_id), timeout=60,
                           what="the fax in the portal")
            await asyncio.sleep(SETTLE)
        finally:
            stop.set()
            await worker
            await bridge.kill()

        arrived = files(okafor, portal, puppet_id)
        assert len(arrived) == 1, f"{len(arrived)} fax files in the portal"
        assert len(notices(okafor, portal, puppet_id, "Fax received")) == 1
        pdf = await download_decrypted(okafor.client, arrived[0].content)
        with pikepdf.open(io.BytesIO(pdf)) as document:
            assert len(document.pages) == 2
        [received] = world.gateway.received_after(0)
        with session_scope(world.engine) as session:
            cursor = session.get(MatrixFeedCursor, (RELAY_ACCOUNT, INBOUND_FEED))
            assert cursor is not None and cursor.position == received.seq
