"""Policy suite on a real Synapse: requirement → scenario → expected HTTP answer.

Every refusal row states who tries what, and asserts both the answer
(403 ``M_FORBIDDEN`` carrying the module's rule id, so it is the module that
refused and not Matrix's own auth rules) and that nothing changed: the state
the attempt aimed at reads back the same afterwards.

This homeserver encrypts *no* room by default
(``encryption_enabled_by_default_for_room_type: off``), so room creation is
judged on what the request itself asks for, and it lets anyone publish rooms
to the directory, so a publication refusal is the module's alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest

from curbside.matrix.rooms import MEGOLM
from tests.policy.raw_client import RawClient, Reply
from tests.policy.records import revoke_credential
from tests.policy.server import CACHE_TTL, policy_server
from tests.policy.world import ENCRYPTION, World, build_world, fill, verified_power_levels
from tests.support.matrix_testkit import eventually

pytestmark = pytest.mark.homeserver


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    async with policy_server(
        tmp_path_factory.mktemp("policy"),
        encryption_enabled_by_default_for_room_type="off",
        room_list_publication_rules=[{"action": "allow"}],
    ) as server:
        yield await build_world(server)


@dataclass(frozen=True)
class Case:
    """``actor`` sends ``method path body``; ``reader`` GETs ``probe`` before and after."""

    actor: str
    method: str
    path: str
    body: Any
    reader: str
    probe: str
    rule: str


def state(room: str, event_type: str, key: str = "") -> str:
    return f"/rooms/{{q_{room}}}/state/{event_type}/{key}"


def member(room: str, user: str) -> str:
    return state(room, "m.room.member", f"{{q_{user}}}")


def put_state(actor: str, room: str, event_type: str, content: Any, rule: str,
              reader: str = "gatekeeper") -> Case:
    path = state(room, event_type)
    return Case(actor, "PUT", path, content, reader, path, rule)


def invite(actor: str, room: str, user: str, rule: str, reader: str = "gatekeeper") -> Case:
    return Case(actor, "POST", f"/rooms/{{q_{room}}}/invite", {"user_id": f"{{{user}}}"},
                reader, member(room, user), rule)


def create(actor: str, body: dict[str, Any], rule: str) -> Case:
    return Case(actor, "POST", "/createRoom", body, actor, "/joined_rooms", rule)


REFUSALS = [
    pytest.param(invite("gatekeeper", "strict", "mallory", "VR-01"),
                 id="VR-01 unverified user cannot be invited"),
    pytest.param(Case("gatekeeper", "PUT", member("strict", "mallory"),
                      {"membership": "invite", "displayname": "Mallory"}, "gatekeeper",
                      member("strict", "mallory"), "VR-01"),
                 id="VR-01 nor invited through a membership state event"),
    pytest.param(Case("mallory", "POST", "/join/{q_lax}", {}, "gatekeeper",
                      member("lax", "mallory"), "VR-02"),
                 id="VR-02 unverified user cannot join even with an invite"),
    pytest.param(Case("mallory", "POST", "/join/{q_strict}", {}, "gatekeeper",
                      member("strict", "mallory"), "VR-02"),
                 id="VR-02 unverified user cannot join uninvited"),
    pytest.param(invite("dana", "lax", "eli", "VR-03"),
                 id="VR-03 member holding invite power cannot invite"),
    pytest.param(invite("dana", "strict", "eli", "VR-03"),
                 id="VR-03 member cannot invite a verified colleague"),
    pytest.param(invite("gatekeeper", "strict", "carol", "VR-04"),
                 id="VR-04 clinician of a server not allowed cannot be invited"),
    pytest.param(Case("mallory", "POST", "/knock/{q_strict}", {}, "gatekeeper",
                      member("strict", "mallory"), "VR-05"),
                 id="VR-05 nobody can knock on a verified room"),
    pytest.param(put_state("gatekeeper", "strict", "m.room.join_rules", {"join_rule": "public"},
                           "VR-06"),
                 id="VR-06 gatekeeper cannot make a verified room public"),
    pytest.param(put_state("gatekeeper", "strict", "m.room.join_rules", {"join_rule": "knock"},
                           "VR-06"),
                 id="VR-06 gatekeeper cannot open a verified room to knocking"),
    pytest.param(put_state("dana", "lax", "m.room.join_rules", {"join_rule": "public"},
                           "VR-06"),
                 id="VR-06 member with power cannot make a verified room public"),
    pytest.param(put_state("gatekeeper", "strict", "m.room.history_visibility",
                           {"history_visibility": "shared"}, "VR-07"),
                 id="VR-07 history cannot be shared with later members"),
    pytest.param(put_state("dana", "lax", "m.room.history_visibility",
                           {"history_visibility": "world_readable"}, "VR-07"),
                 id="VR-07 history cannot become world readable"),
    pytest.param(put_state("gatekeeper", "strict", "m.room.guest_access",
                           {"guest_access": "can_join"}, "VR-08"),
                 id="VR-08 guest access cannot be enabled"),
    pytest.param(Case("gatekeeper", "PUT", "/directory/list/room/{q_strict}",
                      {"visibility": "public"}, "dana", "/directory/list/room/{q_strict}",
                      "VR-09"),
                 id="VR-09 verified room cannot be published to the directory"),
    pytest.param(put_state("dana", "lax", "m.room.power_levels",
                           verified_power_levels(users={"{dana}": 100}), "VR-10"),
                 id="VR-10 only the gatekeeper changes power levels"),
    pytest.param(put_state("gatekeeper", "strict", "m.room.power_levels",
                           verified_power_levels(users={"{dana}": 100}), "VR-11"),
                 id="VR-11 gatekeeper cannot hand a member its powers"),
    pytest.param(put_state("gatekeeper", "strict", "m.room.power_levels",
                           verified_power_levels(kick=0), "VR-11"),
                 id="VR-11 gatekeeper cannot let everyone kick"),
    pytest.param(put_state("gatekeeper", "strict", "m.room.server_acl",
                           {"allow": ["*"], "deny": [], "allow_ip_literals": False}, "VR-12"),
                 id="VR-12 server ACL cannot admit every server"),
    pytest.param(put_state("mallory", "plain", "m.room.encryption", {}, "E2E-02",
                           reader="mallory"),
                 id="E2E-02 encryption cannot be removed from any room"),
    pytest.param(put_state("gatekeeper", "strict", "m.room.encryption",
                           {"algorithm": "org.example.plaintext"}, "E2E-02"),
                 id="E2E-02 encryption algorithm cannot be changed"),
    pytest.param(create("dana", {"preset": "private_chat"}, "E2E-01"),
                 id="E2E-01 private room cannot be created unencrypted"),
    pytest.param(create("dana", {"preset": "trusted_private_chat", "is_direct": True},
                        "E2E-01"),
                 id="E2E-01 trusted private room (DM) cannot be created unencrypted"),
    pytest.param(create("dana", {"name": "no preset"}, "E2E-01"),
                 id="E2E-01 room without a public preset cannot be created unencrypted"),
    pytest.param(create("dana", {"preset": "public_chat", "initial_state": [
        {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "invite"}}]},
                        "E2E-01"),
                 id="E2E-01 public preset made invite-only still needs encryption"),
    pytest.param(create("dana", {"preset": "private_chat", "initial_state": [
        {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "none"}}]},
                        "E2E-02"),
                 id="E2E-02 room cannot be created with another algorithm"),
    pytest.param(invite("mallory", "plain", "bea", "IB-01", reader="mallory"),
                 id="IB-01 blocked user cannot invite"),
    pytest.param(invite("mallory", "plain", "bo", "IB-01", reader="mallory"),
                 id="IB-01 a block on a whole server holds"),
    pytest.param(create("mallory", {"preset": "trusted_private_chat", "is_direct": True,
                                    "invite": ["{bea}"], "initial_state": [ENCRYPTION]},
                        "IB-01"),
                 id="IB-01 blocked user cannot open a DM with an invite"),
]


async def read(world: World, case: Case) -> Reply:
    return await world.client(case.reader).call("GET", fill(case.probe, world.names))


@pytest.mark.parametrize("case", REFUSALS)
async def test_refused_and_nothing_changed(world: World, case: Case) -> None:
    names = world.names
    before = await read(world, case)

    reply = await world.client(case.actor).call(
        case.method, fill(case.path, names), fill(case.body, names))

    assert (reply.status, reply.errcode, reply.rule) == (403, "M_FORBIDDEN", case.rule), reply
    assert reply.body["error"], "a refusal says why"
    assert await read(world, case) == before


async def test_gatekeeper_invites_a_verified_clinician_who_joins(world: World) -> None:
    room_id = await world.new_verified_room()
    eli = world.client("eli")
    world.consent(room_id, "eli")

    invited = await world.gatekeeper.invite(room_id, eli.user_id)
    assert invited.status == 200, invited
    assert await world.gatekeeper.membership(room_id, eli.user_id) == "invite"

    joined = await eli.join(room_id)
    assert joined.status == 200, joined
    assert await world.gatekeeper.membership(room_id, eli.user_id) == "join"


async def test_revocation_shuts_the_door_within_the_cache_ttl(world: World) -> None:
    room_id, other_room = await world.new_verified_room(), await world.new_verified_room()
    rob = world.client("rob")
    world.consent(room_id, "rob")
    world.consent(other_room, "rob")
    invited = await world.gatekeeper.invite(room_id, rob.user_id)
    assert invited.status == 200, "rob is verified: the invite goes through (and is cached)"

    revoke_credential(world.server.engine, rob.user_id)
    await asyncio.sleep(CACHE_TTL + 0.5)

    joined = await rob.join(room_id)
    assert (joined.status, joined.rule) == (403, "VR-02"), joined
    assert await world.gatekeeper.membership(room_id, rob.user_id) == "invite"
    reinvited = await world.gatekeeper.invite(other_room, rob.user_id)
    assert (reinvited.status, reinvited.rule) == (403, "VR-01"), reinvited
    assert await world.gatekeeper.membership(other_room, rob.user_id) is None


async def test_gatekeeper_may_adjust_power_levels_that_keep_its_monopoly(world: World) -> None:
    room_id = await world.new_verified_room()
    content = verified_power_levels(users={world.client("dana").user_id: 50}, redact=100)

    reply = await world.gatekeeper.put_state(room_id, "m.room.power_levels", content)

    assert reply.status == 200, reply
    read_back = await world.gatekeeper.get_state(room_id, "m.room.power_levels")
    assert read_back.body["redact"] == 100


async def test_unverified_user_may_open_a_dm_with_a_clinician(world: World) -> None:
    mallory, dana = world.client("mallory"), world.client("dana")
    room_id = await mallory.create_room(preset="trusted_private_chat", is_direct=True,
                                        initial_state=[ENCRYPTION])

    reply = await mallory.invite(room_id, dana.user_id)

    assert reply.status == 200, reply
    assert await mallory.membership(room_id, dana.user_id) == "invite"


async def test_encrypted_private_and_unencrypted_public_rooms_can_be_created(
    world: World,
) -> None:
    dana = world.client("dana")
    private = await dana.create_room(preset="private_chat", initial_state=[ENCRYPTION])
    public = await dana.create_room(preset="public_chat")

    encryption = await dana.get_state(private, "m.room.encryption")
    assert encryption.body == {"algorithm": MEGOLM}
    assert (await dana.get_state(public, "m.room.encryption")).status == 404


async def test_ordinary_rooms_can_still_be_published(world: World) -> None:
    dana = world.client("dana")
    room_id = await dana.create_room(preset="public_chat")
    path = f"/directory/list/room/{quote(room_id, safe='')}"

    reply = await dana.call("PUT", path, {"visibility": "public"})

    assert reply.status == 200, reply
    assert (await dana.call("GET", path)).body["visibility"] == "public"


# --- names in verified rooms ---------------------------------------------------------------
# Requirement: in a verified room a member is shown under their verified name and credential,
# however their client names them; elsewhere the module leaves names alone.

VERIFIED_NAME = "Dana Whitfield, MD · Cardiology"  # what tests.policy.records grants
AVATAR = "mxc://curbside.test/dana-photo"


async def _set_profile_name(client: RawClient, name: str) -> None:
    reply = await client.call(
        "PUT", f"/profile/{quote(client.user_id, safe='')}/displayname", {"displayname": name})
    assert reply.status == 200, reply


async def test_clinician_named_dana_joins_under_the_verified_name(world: World) -> None:
    """Scenario: global profile name "dana", plain invite and plain join (as Element does)."""
    dana = world.client("dana")
    await _set_profile_name(dana, "dana")
    room_id = await world.new_verified_room()
    world.consent(room_id, "dana")

    invited = await world.gatekeeper.invite(room_id, dana.user_id)
    assert invited.status == 200, invited
    invite = await world.gatekeeper.get_state(room_id, "m.room.member", dana.user_id)
    assert invite.body == {"membership": "invite", "displayname": VERIFIED_NAME}

    joined = await dana.join(room_id)
    assert joined.status == 200, joined
    join = await world.gatekeeper.get_state(room_id, "m.room.member", dana.user_id)
    assert (join.body["membership"], join.body["displayname"]) == ("join", VERIFIED_NAME)
    gatekeeper = await world.gatekeeper.get_state(room_id, "m.room.member",
                                                  world.gatekeeper.user_id)
    assert gatekeeper.body["displayname"] == "gatekeeper", "the gatekeeper keeps its own name"


async def test_a_per_room_name_is_replaced_and_the_avatar_kept(world: World) -> None:
    dana = world.client("dana")
    room_id = await world.new_verified_room()
    await world.admit(room_id, "dana")

    reply = await dana.put_state(room_id, "m.room.member", {
        "membership": "join", "displayname": "Dr Dana (real cardiologist)", "avatar_url": AVATAR,
    }, state_key=dana.user_id)

    assert reply.status == 200, reply
    shown = await world.gatekeeper.get_state(room_id, "m.room.member", dana.user_id)
    assert shown.body == {"membership": "join", "displayname": VERIFIED_NAME,
                          "avatar_url": AVATAR}


async def test_a_profile_name_change_reaches_every_room_but_verified_ones(
    world: World,
) -> None:
    dana = world.client("dana")
    verified = await world.new_verified_room()
    await world.admit(verified, "dana")
    plain = await dana.create_room(preset="private_chat", initial_state=[ENCRYPTION])
    # A per-room avatar makes the profile update visible in the verified room even though
    # the name it carries is rewritten back (Synapse drops a join identical to the last).
    with_avatar = await dana.put_state(verified, "m.room.member", {
        "membership": "join", "avatar_url": AVATAR}, state_key=dana.user_id)
    assert with_avatar.status == 200, with_avatar

    await _set_profile_name(dana, "Dana the Great")

    # Synapse re-sends the join into each of dana's rooms in a background task.
    async def profile_applied() -> dict[str, Any] | None:
        reply = await dana.get_state(verified, "m.room.member", dana.user_id)
        return None if "avatar_url" in reply.body else reply.body

    shown = await eventually(profile_applied, what="the profile update in the verified room")
    assert shown["displayname"] == VERIFIED_NAME
    await eventually(lambda: _displayname_is(dana, plain, "Dana the Great"),
                     what="the profile update in the plain room")


async def _displayname_is(client: RawClient, room_id: str, name: str) -> bool:
    reply = await client.get_state(room_id, "m.room.member", client.user_id)
    return reply.body.get("displayname") == name


async def test_names_outside_verified_rooms_are_left_alone(world: World) -> None:
    dana, eli = world.client("dana"), world.client("eli")
    room_id = await dana.create_room(preset="private_chat", initial_state=[ENCRYPTION],
                                     invite=[eli.user_id])
    joined = await eli.join(room_id)
    assert joined.status == 200, joined

    renamed = await dana.put_state(room_id, "m.room.member",
                                   {"membership": "join", "displayname": "Dr D"},
                                   state_key=dana.user_id)

    assert renamed.status == 200, renamed
    assert await _displayname_is(dana, room_id, "Dr D")
    eli_shown = await dana.get_state(room_id, "m.room.member", eli.user_id)
    assert eli_shown.body["displayname"] == "eli", "a verified clinician's profile name stays"
