"""The bots never act on plaintext in an encrypted room, even where the homeserver lets it in.

Scenario on the shared homeserver, which does *not* load the Curbside module (the
external-Synapse case): a coordinator's client sends unencrypted commands into her
encrypted room with the referral desk. Synapse accepts them (200); the desk — like
every bot, through the kernel runtime — handles none, and says so once, encrypted.
The order of a room's events is kept, so once the desk answers a later encrypted
``!ping``, any answer to the plaintext before it would already be there.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

import aiohttp
import pytest

from curbside.matrix.rooms import PLAINTEXT_IGNORED
from tests.adversary.ledger import Attempt, judge
from tests.referral_desk.conftest import desk_world
from tests.support.matrix_testkit import MatrixUser, wait_for

pytestmark = pytest.mark.homeserver


async def _send_clear(homeserver, user: MatrixUser, room_id: str, body: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    path = (f"{homeserver.url}/_matrix/client/v3/rooms/{quote(room_id, safe='')}"
            f"/send/m.room.message/{uuid.uuid4().hex}")
    async with aiohttp.ClientSession() as http, http.put(
        path, json={"msgtype": "m.text", "body": body},
        headers={"Authorization": f"Bearer {user.client.access_token}"},
    ) as response:
        answer = await response.json()
        return response.status, str(answer.get("event_id", ""))


async def test_the_desk_ignores_plaintext_and_says_so_once(homeserver, tmp_path, unique) -> None:  # type: ignore[no-untyped-def]
    async with desk_world(homeserver, tmp_path, unique) as world:
        coordinator, desk_id, room = world.coordinator, world.desk.user_id, world.room
        sent = []
        for body in ("!help", "!refer"):
            status, event_id = await _send_clear(homeserver, coordinator, room, body)
            assert status == 200, "this homeserver has no module: the plaintext is stored"
            sent.append(event_id)

        warned = await wait_for(lambda: [
            r for r in coordinator.received
            if r.room_id == room and r.event.sender == desk_id and PLAINTEXT_IGNORED in r.body
        ], what="the desk's notice about plaintext")
        assert warned[0].event.decrypted, "the notice itself is encrypted"

        ping = await coordinator.send(room, "!ping")
        await wait_for(lambda: coordinator.replies_to(ping, desk_id), what="the answer to !ping")
        for event_id in sent:
            judge(Attempt("E2E-03 (bots)", "member",
                          "plaintext command to the desk, homeserver without the module", 0,
                          "ignored"), 0,
                  "answered" if coordinator.replies_to(event_id, desk_id) else "ignored")
        told = [r for r in coordinator.received if r.event.sender == desk_id
                and PLAINTEXT_IGNORED in r.body]
        assert len(told) == 1, "said once, not once per message"
