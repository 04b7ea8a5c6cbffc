"""The appservice HTTP API on both database backends: tokens per the spec, and a
transaction the homeserver sends again is recorded (and handled) once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from sqlalchemy import Engine

from bridge.appservice import AppserviceServer
from bridge.bridge import Bridge
from bridge.store import BridgeStore
from curbside.database import make_engine, migrate, session_scope
from curbside.homeserver import free_port
from fax_gateway.models import number_hash

HS_TOKEN = "hs-token-for-the-tests-0123"
INVITE = {
    "event_id": "$invite1", "room_id": "!r:curbside.test", "type": "m.room.member",
    "sender": "@lee:curbside.test", "state_key": "@fax_13125550145:curbside.test",
    "content": {"membership": "invite", "displayname": "Fax"},
}
MESSAGE = {
    "event_id": "$msg1", "room_id": "!r:curbside.test", "type": "m.room.encrypted",
    "sender": "@lee:curbside.test", "content": {"ciphertext": "…"},
}


def _store() -> BridgeStore:
    return BridgeStore(lambda number: number_hash(b"test pepper", number))


@dataclass
class Api:
    url: str
    engine: Engine
    wakes: list[int]
    asked: list[str]


@pytest.fixture
async def api(db_url: str) -> AsyncIterator[Api]:
    engine = make_engine(db_url)
    migrate(engine, Bridge.version_locations())
    wakes: list[int] = []
    asked: list[str] = []

    async def user_exists(user_id: str) -> bool:
        asked.append(user_id)
        return user_id.startswith("@fax_")

    server = AppserviceServer(hs_token=HS_TOKEN, engine=engine, store=_store(),
                              on_events=lambda: wakes.append(1), user_exists=user_exists)
    port = free_port()
    await server.start("127.0.0.1", port)
    try:
        yield Api(f"http://127.0.0.1:{port}/_matrix/app/v1", engine, wakes, asked)
    finally:
        await server.stop()
        engine.dispose()


def _auth(token: str = HS_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_tokens_are_checked_as_the_spec_says(api: Api) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.put(f"{api.url}/transactions/t1", json={"events": []}) as missing:
            assert missing.status == 401
            assert (await missing.json())["errcode"] == "M_UNAUTHORIZED"
        async with http.put(f"{api.url}/transactions/t1", json={"events": []},
                            headers=_auth("wrong")) as wrong:
            assert wrong.status == 403
            assert (await wrong.json())["errcode"] == "M_FORBIDDEN"
        async with http.post(f"{api.url}/ping", json={}, headers=_auth()) as ping:
            assert ping.status == 200
    with session_scope(api.engine) as session:
        assert _store().transaction_count(session) == 0


async def test_a_resent_transaction_is_recorded_once(api: Api) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(2):  # the homeserver did not see our first 200, and sends it again
            async with http.put(f"{api.url}/transactions/t7",
                                json={"events": [INVITE, MESSAGE]}, headers=_auth()) as sent:
                assert sent.status == 200
        # the same event inside a later transaction is not recorded again either
        async with http.put(f"{api.url}/transactions/t8", json={"events": [MESSAGE]},
                            headers=_auth()) as later:
            assert later.status == 200
    store = _store()
    with session_scope(api.engine) as session:
        assert store.transaction_count(session) == 2
        pending = store.pending_events(session)
    assert [(e.event_id, e.membership, e.state_key) for e in pending] == [
        ("$invite1", "invite", "@fax_13125550145:curbside.test"),
        ("$msg1", None, None),
    ]
    assert len(api.wakes) == 2  # t7 once, t8 once: the resend woke nobody


async def test_user_queries_create_puppets_only_for_fax_numbers(api: Api) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{api.url}/users/@fax_13125550145:curbside.test",
                            headers=_auth()) as puppet:
            assert puppet.status == 200
        async with http.get(f"{api.url}/users/@someone:curbside.test",
                            headers=_auth()) as other:
            assert other.status == 404
    assert api.asked == ["@fax_13125550145:curbside.test", "@someone:curbside.test"]
