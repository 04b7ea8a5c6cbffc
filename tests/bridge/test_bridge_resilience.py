"""The bridge against a homeserver that cannot reach it, and a bridge that cannot start.

* The bridge is down while a clinician invites a number; Synapse keeps the
  transaction and sends it again once the bridge is back (the start-up ping
  makes it retry at once). The invite is handled once: one portal, one welcome.
* Start-up fails fast, with a message naming the cause and a distinct exit code.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import select

from bridge.bridge import Bridge
from bridge.errors import BridgeStartupError, ExitCode
from bridge.models import AppserviceEvent, Portal
from curbside.database import session_scope
from curbside.homeserver import free_port
from tests.bridge.harness import bridge_world, notices
from tests.conftest import make_synapse
from tests.support.matrix_testkit import wait_for

NUMBER = "+13125550111"


async def test_a_transaction_retried_after_an_outage_is_handled_once(tmp_path: Path) -> None:
    async with bridge_world(tmp_path) as world:
        lee = await world.clinician("lee")
        puppet_id = world.puppet_id(NUMBER)
        await world.bridge.homeserver.ensure_user(puppet_id[1:].split(":")[0])
        await world.bridge.server.stop()  # the bridge is unreachable …

        room_id = await lee.create_encrypted_room([puppet_id])
        log = world.synapse.layout.log_path
        await wait_for(lambda: "push_bulk to" in log.read_text(), timeout=60,
                       what="Synapse to fail pushing the invite")
        await world.bridge.server.start(world.config.host, world.config.port)  # … and back
        await world.bridge.homeserver.ping()  # what a restarted bridge does first

        await wait_for(lambda: notices(lee, room_id, puppet_id), timeout=60,
                       what="the puppet's welcome after the retry")
        with session_scope(world.engine) as session:
            portals = session.scalars(select(Portal).where(Portal.room_id == room_id)).all()
            invites = session.scalars(select(AppserviceEvent).where(
                AppserviceEvent.room_id == room_id, AppserviceEvent.state_key == puppet_id,
                AppserviceEvent.membership == "invite")).all()
        assert len(portals) == 1
        assert [e.handled for e in invites] == [True]
        sentinel = await lee.send(room_id, "!fax help")  # later traffic flows normally
        await wait_for(lambda: lee.replies_to(sentinel, puppet_id), what="help")
        assert len(notices(lee, room_id, puppet_id, "This chat faxes")) == 1


async def test_start_fails_fast_when_the_homeserver_is_unreachable(tmp_path: Path) -> None:
    async with bridge_world(tmp_path, start=False) as world:
        runtime = dataclasses.replace(world.config.runtime,
                                      homeserver_url=f"http://127.0.0.1:{free_port()}")
        bridge = Bridge(dataclasses.replace(world.config, runtime=runtime), world.gateway)
        with pytest.raises(BridgeStartupError) as failure:
            await bridge.start()
    assert failure.value.code is ExitCode.HOMESERVER_UNREACHABLE
    assert "cannot reach the homeserver" in str(failure.value)


async def test_start_fails_fast_on_a_wrong_hs_token(tmp_path: Path) -> None:
    async with bridge_world(tmp_path, start=False) as world:
        config = dataclasses.replace(world.config, hs_token="not-the-registered-hs-token")
        with pytest.raises(BridgeStartupError) as failure:
            await Bridge(config, world.gateway).start()
    assert failure.value.code is ExitCode.HS_TOKEN_MISMATCH


async def test_start_fails_fast_when_the_registration_is_not_installed(tmp_path: Path) -> None:
    async with bridge_world(tmp_path, start=False) as world:
        bare = make_synapse(tmp_path / "bare")  # no app_service_config_files
        bare.start()
        try:
            runtime = dataclasses.replace(world.config.runtime, homeserver_url=bare.url)
            bridge = Bridge(dataclasses.replace(world.config, runtime=runtime), world.gateway)
            with pytest.raises(BridgeStartupError) as failure:
                await bridge.start()
        finally:
            bare.stop()
    assert failure.value.code is ExitCode.REGISTRATION_NOT_INSTALLED
    assert "app_service_config_files" in str(failure.value)
