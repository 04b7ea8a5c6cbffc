"""Scenarios: verified rooms are made locked down, admit only verified clinicians,
and lose a member (and that member's access to new messages) when a verification ends.

One gatekeeper serves the module; Alice and Bob are verified by roster import.
"""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

import aiohttp
import nio
import pytest

from bots.gatekeeper.roster import import_roster
from tests.gatekeeper.registry_data import BOB, DANA
from tests.gatekeeper.scenario import World, start_world
from tests.support.matrix_testkit import MatrixUser, eventually, wait_for

pytestmark = pytest.mark.homeserver

ALICE_NAME = "Dana Whitfield, MD · Cardiovascular Disease"
BOB_NAME = "Robert Chen, MD · Cardiovascular Disease"


class Huddle:
    """A verified room Alice created and invited Bob to; Bob has joined."""

    def __init__(self, world: World, alice: MatrixUser, bob: MatrixUser, zed: MatrixUser,
                 alice_dm: str, room_id: str) -> None:
        self.world, self.alice, self.bob, self.zed = world, alice, bob, zed
        self.alice_dm, self.room_id = alice_dm, room_id


@pytest.fixture(scope="module")
async def world(homeserver, tmp_path_factory):
    world = await start_world(homeserver, tmp_path_factory.mktemp("gatekeeper"),
                              uuid.uuid4().hex[:6])
    yield world
    await world.close()


@pytest.fixture(scope="module")
async def huddle(world: World, tmp_path_factory) -> Huddle:
    tag = uuid.uuid4().hex[:6]
    alice = await world.user(f"alice{tag}")
    bob = await world.user(f"bob{tag}")
    zed = await world.user(f"zed{tag}")
    roster = Path(tmp_path_factory.mktemp("roster")) / "roster.csv"
    roster.write_text(
        "matrix_id,npi,licence_state,licence_number,checked\n"
        f"{alice.user_id},{DANA},MA,MD123456,HR identity check and licence on file\n"
        f"{bob.user_id},{BOB},MA,MD222222,HR identity check and licence on file\n"
    )
    result = import_roster(world.engine, roster, "@admin:curbside.test", audit=world.audit)
    assert (result.imported, result.rejections) == (2, ())

    alice_dm = await world.dm(alice)
    created = await world.ask(alice, alice_dm, "!room create Cardiology huddle")
    found = re.search(r"\((![^)]+)\)", created)
    assert found is not None, created
    room_id = found.group(1)
    await wait_for(lambda: room_id in alice.client.invited_rooms, what="Alice's invite")
    assert isinstance(await alice.client.join(room_id), nio.JoinResponse)
    return Huddle(world, alice, bob, zed, alice_dm, room_id)


async def _state(user: MatrixUser, room_id: str) -> dict[tuple[str, str], dict]:
    response = await user.client.room_get_state(room_id)
    assert isinstance(response, nio.RoomGetStateResponse), response
    return {(e["type"], e.get("state_key", "")): e["content"] for e in response.events}


async def _raw_event(world: World, user: MatrixUser, room_id: str, event_id: str) -> dict:
    """The event as the homeserver stores it (still encrypted)."""
    async with aiohttp.ClientSession() as http, http.get(
        f"{world.homeserver.url}/_matrix/client/v3/rooms/{room_id}/event/{event_id}",
        headers={"Authorization": f"Bearer {user.client.access_token}"},
    ) as response:
        assert response.status == 200
        return dict(await response.json())


async def test_a_verified_room_is_locked_down_by_construction(huddle: Huddle) -> None:
    world, alice, room_id = huddle.world, huddle.alice, huddle.room_id
    state = await _state(alice, room_id)

    assert state[("m.room.join_rules", "")] == {"join_rule": "invite"}
    assert state[("m.room.history_visibility", "")] == {"history_visibility": "joined"}
    assert state[("m.room.guest_access", "")] == {"guest_access": "forbidden"}
    assert state[("m.room.encryption", "")]["algorithm"] == "m.megolm.v1.aes-sha2"
    assert state[("m.room.server_acl", "")] == {
        "allow": [world.homeserver.server_name], "deny": [], "allow_ip_literals": False}
    power = state[("m.room.power_levels", "")]
    assert (power["invite"], power["kick"], power["ban"], power["state_default"]) == (100,) * 4
    assert power["users_default"] == 0 and power["events_default"] == 0
    assert power.get("users", {}).get(alice.user_id, 0) == 0
    creator = state[("m.room.create", "")]
    bot_power = power.get("users", {}).get(world.bot_id)
    assert bot_power == 100 or creator.get("room_version") == "12"
    assert state[("m.room.member", alice.user_id)]["membership"] == "join"
    async with aiohttp.ClientSession() as http, http.get(
        f"{world.homeserver.url}/_matrix/client/v3/directory/list/room/{room_id}"
    ) as listed:
        assert (await listed.json())["visibility"] == "private"
    with_alias = await alice.client.room_put_state(room_id, "m.room.name", {"name": "mine"})
    assert isinstance(with_alias, nio.RoomPutStateError), "a member must not change room state"


async def test_invites_go_only_to_verified_colleagues_with_their_verified_name(
    huddle: Huddle,
) -> None:
    world, alice, bob, zed = huddle.world, huddle.alice, huddle.bob, huddle.zed
    refused = await world.ask(alice, huddle.alice_dm, f"!invite {zed.user_id} {huddle.room_id}")
    assert refused.startswith(f"{zed.user_id} is not a verified clinician")
    assert "!verify" in refused

    invited = await world.ask(alice, huddle.alice_dm, f"!invite {bob.user_id} {huddle.room_id}")
    assert invited == f"Invited {BOB_NAME} ({bob.user_id})."
    state = await _state(alice, huddle.room_id)
    assert state[("m.room.member", bob.user_id)] == {"membership": "invite",
                                                     "displayname": BOB_NAME}
    assert state[("m.room.member", alice.user_id)]["membership"] == "join"
    assert (("m.room.member", zed.user_id)) not in state

    await wait_for(lambda: huddle.room_id in bob.client.invited_rooms, what="Bob's invite")
    assert isinstance(await bob.client.join(huddle.room_id), nio.JoinResponse)
    # Bob's client joined under his profile name; the gatekeeper says who he really is.
    flagged = await wait_for(lambda: [
        r for r in alice.received if r.room_id == huddle.room_id
        and r.event.sender == world.bot_id and f"{bob.user_id} appears here as" in r.body
    ], what="the name flag")
    assert flagged[0].body.endswith(f"Their verified identity is {BOB_NAME}.")


async def test_find_lists_verified_colleagues(huddle: Huddle) -> None:
    world, alice, bob = huddle.world, huddle.alice, huddle.bob
    found = await world.ask(alice, huddle.alice_dm, "!find cardiology MA")
    assert f"{ALICE_NAME} — {alice.user_id}" in found and f"{BOB_NAME} — {bob.user_id}" in found
    nobody = await world.ask(alice, huddle.alice_dm, "!find cardiology VT")
    assert nobody.startswith("No verified colleagues found")
    assert "verified clinicians" in await world.ask(
        huddle.zed, await world.dm(huddle.zed), "!find cardiology MA")

    # A specialty of several words, then the state.
    spelled_out = await world.ask(alice, huddle.alice_dm, "!find cardiovascular disease ma")
    assert f"{ALICE_NAME} — {alice.user_id}" in spelled_out and bob.user_id in spelled_out
    no_state = await world.ask(alice, huddle.alice_dm, "!find cardiovascular disease")
    assert no_state.startswith("!find: <state> cannot be 'disease'")


async def test_a_clinician_can_hide_from_find_and_come_back(huddle: Huddle) -> None:
    world, alice, bob = huddle.world, huddle.alice, huddle.bob
    bob_dm = await world.dm(bob)
    assert (await world.ask(bob, bob_dm, "!directory hide")).startswith("You are hidden")
    assert bob.user_id not in await world.ask(alice, huddle.alice_dm, "!find cardiology MA")
    assert await world.ask(bob, bob_dm, "!directory show") == \
        "You are listed in the directory again."
    assert bob.user_id in await world.ask(alice, huddle.alice_dm, "!find cardiology MA")
    assert await world.ask(bob, bob_dm, "!directory shwo") == (
        "unknown command !directory shwo — did you mean !directory show?\n"
        "!directory hide — opt out of !find\n!directory show — be listed by !find again")


async def test_a_revoked_member_is_removed_told_why_and_cut_off_from_new_keys(
    huddle: Huddle,
) -> None:
    world, alice, bob, room_id = huddle.world, huddle.alice, huddle.bob, huddle.room_id
    before = await wait_for(lambda: [
        r for r in bob.received if r.room_id == room_id and r.event.sender == world.bot_id
    ], what="a gatekeeper message Bob could read")
    old_session = before[0].event.session_id
    assert old_session is not None

    reason = "licence suspended by the Massachusetts board"
    asked = time.monotonic()
    reply = await world.ask(world.verifier, world.verifiers_room, f"!revoke {bob.user_id} {reason}")
    assert reply.startswith(f"Revoked {bob.user_id}.")

    async def bob_is_out() -> bool:
        member = await alice.client.room_get_state_event(room_id, "m.room.member", bob.user_id)
        return (isinstance(member, nio.RoomGetStateEventResponse)
                and member.content.get("membership") == "leave")

    await eventually(bob_is_out, timeout=60, what="Bob's removal")
    assert time.monotonic() - asked < 60
    member = await alice.client.room_get_state_event(room_id, "m.room.member", bob.user_id)
    assert isinstance(member, nio.RoomGetStateEventResponse)
    assert member.content.get("reason", "").startswith("Verification ended: " + reason)

    # The gatekeeper's next message in the room uses a session Bob never received.
    removal = await wait_for(lambda: [
        r for r in alice.received if r.room_id == room_id and "was removed" in r.body
    ], what="the removal notice")
    new_session = removal[0].event.session_id
    assert new_session is not None and new_session != old_session
    sender_key = removal[0].event.sender_key
    assert bob.client.olm.inbound_group_store.get(room_id, sender_key, old_session) is not None
    assert bob.client.olm.inbound_group_store.get(room_id, sender_key, new_session) is None
    encrypted = nio.MegolmEvent.from_dict(
        await _raw_event(world, alice, room_id, removal[0].event.event_id))
    assert isinstance(encrypted, nio.MegolmEvent)
    encrypted.room_id = room_id
    with pytest.raises(nio.EncryptionError):
        bob.client.decrypt_event(encrypted)
    assert not [r for r in bob.received if "was removed" in r.body]

    # And Bob hears why, privately (he was verified by roster, so the DM is new).
    dm = await wait_for(lambda: next(iter(set(bob.client.invited_rooms) - {room_id}), None),
                        what="a DM from the gatekeeper")
    assert isinstance(await bob.client.join(dm), nio.JoinResponse)
    told = await wait_for(lambda: [b for b in world.notices(bob, dm) if "no longer active" in b],
                          timeout=60, what="the removal DM")
    assert reason in told[0] and "credentialing team" in told[0]
