"""Room creation on a homeserver that encrypts every new room by default.

The module judges the room's *effective* state: with Synapse's
``encryption_enabled_by_default_for_room_type: all`` (the embedded server's
setting) a private room requested without an encryption event still comes
out encrypted, so it is allowed — while an encryption event that would
override the default with something else is refused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from curbside.matrix.rooms import MEGOLM
from tests.policy.server import PolicyServer, policy_server

pytestmark = pytest.mark.homeserver


@pytest.fixture(scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[PolicyServer]:
    async with policy_server(
        tmp_path_factory.mktemp("policy-default-on"),
        encryption_enabled_by_default_for_room_type="all",
    ) as started:
        yield started


async def test_private_room_without_encryption_event_is_encrypted_by_default(server):
    dana = await server.user("dana")

    room_id = await dana.create_room(preset="private_chat")

    encryption = await dana.get_state(room_id, "m.room.encryption")
    assert encryption.body == {"algorithm": MEGOLM}


async def test_malformed_encryption_event_cannot_override_the_default(server):
    dana = await server.user("dana")
    before = await dana.call("GET", "/joined_rooms")

    reply = await dana.call("POST", "/createRoom", {"preset": "private_chat", "initial_state": [
        {"type": "m.room.encryption", "state_key": "", "content": {}}]})

    assert (reply.status, reply.errcode, reply.rule) == (403, "M_FORBIDDEN", "E2E-02"), reply
    assert await dana.call("GET", "/joined_rooms") == before
