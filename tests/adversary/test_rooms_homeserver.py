"""Adversary suite, homeserver side: every way into or around a verified room, tried.

Requirement → scenario → expected status. Each row names the rule it tests,
who tries (the actor, played as in tests/adversary/rooms_arena.py), the
request, and the answer it must get: HTTP status, errcode and — when the
Curbside module is the one refusing — the module's rule id
(``org.curbside.rule``; ``None`` when Matrix's own auth rules refuse first).
The state the attempt aims at is read back before and after: a refusal
changes nothing. A few rows are controls that must succeed (what Element
itself sends in the clear, an ordinary room's upgrade) so the suite cannot
pass by refusing everything.

This homeserver encrypts no room by default and lets anyone publish to the
directory, so each refusal of those is the module's own.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from curbside.matrix.rooms import MEGOLM
from tests.adversary.ledger import Attempt, judge
from tests.adversary.rooms_arena import ACTING, NINA_NAME, Arena, build_arena
from tests.policy.raw_client import Reply
from tests.policy.server import policy_server
from tests.policy.world import ENCRYPTION, fill, verified_power_levels

pytestmark = pytest.mark.homeserver

NAME = "Dana Whitfield, MD · Cardiology"  # the verified name tests.policy.records grants
LOOK_ALIKE = "Dana Whitfield\uff0c\uff2d\uff24 \u2022 Cardiology"
FORBIDDEN = "M_FORBIDDEN"
PL = "VR-PL"  # a verified room's power levels reserve this state for the gatekeeper


@pytest.fixture(scope="module")
async def arena(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Arena]:
    async with policy_server(
        tmp_path_factory.mktemp("adversary-rooms"),
        encryption_enabled_by_default_for_room_type="off",
        room_list_publication_rules=[{"action": "allow"}],
    ) as server:
        yield await build_arena(server)


@dataclass(frozen=True)
class Try:
    """``attempt.actor`` sends ``method path body``; ``probe`` is read before and after."""

    attempt: Attempt
    method: str
    path: str
    body: Any
    probe: str
    rule: str | None
    reader: str = "gatekeeper"


def state(room: str, event_type: str, key: str = "") -> str:
    return f"/rooms/{{q_{room}}}/state/{event_type}/{key}"


def member(room: str, user: str) -> str:
    return state(room, "m.room.member", f"{{q_{user}}}")


def full(room: str) -> str:
    return f"/rooms/{{q_{room}}}/state"


def timeline(room: str) -> str:
    return f"timeline:{room}"


def send(room: str, event_type: str) -> str:
    return f"/rooms/{{q_{room}}}/send/{event_type}/{{txn}}"


def refused(rule: str, actor: str, what: str, method: str, path: str, body: Any, probe: str, *,
            module: str | None = None, status: int = 403, errcode: str | None = FORBIDDEN,
            reader: str = "gatekeeper") -> Try:
    """A refusal: ``module`` is the module's rule id in the answer (None: Matrix's auth)."""
    return Try(Attempt(rule, actor, what, status, errcode), method, path, body, probe, module,
               reader)


def by_module(rule: str, actor: str, what: str, method: str, path: str, body: Any, probe: str,
              reader: str = "gatekeeper") -> Try:
    return refused(rule, actor, what, method, path, body, probe, module=rule, reader=reader)


def put(rule: str, actor: str, room: str, event_type: str, content: Any, what: str,
        key: str = "", reader: str = "gatekeeper") -> Try:
    path = state(room, event_type, key)
    return by_module(rule, actor, what, "PUT", path, content, full(room), reader)


def outsider(rule: str, room: str, event_type: str, content: Any, what: str) -> Try:
    """The homeserver admin, not in the room: Matrix refuses before the module is asked."""
    return refused(rule, ADM, f"PUT {event_type} ({what}) without being in {room}", "PUT",
                   state(room, event_type), content, full(room))


def invite(rule: str, actor: str, room: str, user: str, module: str | None = None) -> Try:
    return refused(rule, actor, f"POST /rooms/{room}/invite {user}", "POST",
                   f"/rooms/{{q_{room}}}/invite", {"user_id": f"{{{user}}}"},
                   member(room, user), module=module)


def clear(actor: str, room: str, event_type: str, content: Any, what: str,
          reader: str = "gatekeeper") -> Try:
    return by_module("E2E-03", actor, f"{what} in the clear into {room}", "PUT",
                     send(room, event_type), content, timeline(room), reader)


def create(rule: str, actor: str, body: dict[str, Any], what: str) -> Try:
    return by_module(rule, actor, f"POST /createRoom ({what})", "POST", "/createRoom", body,
                     "/joined_rooms", reader=ACTING[actor])


UNV, NON, MEM, OWN, ADM, BOT = ACTING
ANNOUNCE = "creation_content"
TEXT = {"msgtype": "m.text", "body": "Patient Jane Roe, DOB 1961-04-02"}


def _predecessor(actor: str) -> Try:
    body = {"preset": "private_chat", "initial_state": [ENCRYPTION],
            ANNOUNCE: {"predecessor": {"room_id": "{strict}"}}}
    return create("VR-14", actor, body, "claims strict as its predecessor")


def _upgrade(actor: str, room: str = "strict") -> Try:
    return by_module("VR-14", actor, f"POST /rooms/{room}/upgrade", "POST",
                     f"/rooms/{{q_{room}}}/upgrade", {"new_version": "10"}, full(room))


def _redact(actor: str, event: str, what: str, room: str = "strict") -> Try:
    return by_module("VR-15", actor, f"redact {what} in {room}", "PUT",
                     f"/rooms/{{q_{room}}}/redact/{{{event}}}/{{txn}}", {}, full(room))


def _room_name(rule: str, actor: str, room: str, name: str, what: str,
               module: str | None = "VN-01") -> Try:
    user = ACTING[actor]
    return refused(rule, actor, f"per-room name {what} in {room}", "PUT",
                   member(room, user), {"membership": "join", "displayname": name},
                   member(room, user), module=module)


CONSENT = [
    invite("VR-03", MEM, "strict", "nina", "VR-03"),
    invite("VR-03", OWN, "strict", "nina", "VR-03"),
    invite("VR-03", MEM, "strict", "carol", "VR-03"),
    invite("VR-03", NON, "strict", "nina", "VR-03"),
    invite("VR-03", UNV, "strict", "nina", "VR-03"),
    invite("VR-03", ADM, "strict", "nina", "VR-03"),
    invite("VR-13", BOT, "strict", "nina", "VR-13"),
    invite("VR-13", BOT, "strict", "bea", "VR-13"),
    invite("VR-01", BOT, "strict", "mallory", "VR-01"),
    invite("VR-01", BOT, "strict", "root", "VR-01"),
    invite("VR-04", BOT, "strict", "carol", "VR-04"),
    invite("VR-03", OWN, "lax", "nina", "VR-03"),
    by_module("VR-13", BOT, "PUT m.room.member invite nina with her verified name", "PUT",
              member("strict", "nina"), {"membership": "invite", "displayname": NINA_NAME},
              member("strict", "nina")),
    refused("VR-02", NON, "POST /join strict uninvited", "POST", "/join/{q_strict}", {},
            member("strict", "nina")),
    by_module("VR-02", UNV, "POST /join strict", "POST", "/join/{q_strict}", {},
              member("strict", "mallory")),
    by_module("VR-02", UNV, "POST /join lax holding an invite", "POST", "/join/{q_lax}", {},
              member("lax", "mallory")),
    by_module("VR-02", ADM, "POST /join strict", "POST", "/join/{q_strict}", {},
              member("strict", "root")),
    by_module("VR-02", UNV, "POST /join by the alias", "POST", "/join/{q_alias}", {},
              member("strict", "mallory")),
    refused("VR-02", NON, "POST /join by the alias", "POST", "/join/{q_alias}", {},
            member("strict", "nina")),
    by_module("VR-02", UNV, "POST /join strict, found as a child of her space", "POST",
              "/join/{q_strict}?server_name=curbside.test", {}, member("strict", "mallory")),
    by_module("VR-03", ADM, "admin API: join mallory into strict", "POST",
              "/_synapse/admin/v1/join/{q_strict}", {"user_id": "{mallory}"},
              member("strict", "mallory")),
    by_module("VR-03", ADM, "admin API: join nina into strict", "POST",
              "/_synapse/admin/v1/join/{q_strict}", {"user_id": "{nina}"},
              member("strict", "nina")),
    by_module("VR-03", ADM, "admin API: join root himself into strict", "POST",
              "/_synapse/admin/v1/join/{q_strict}", {"user_id": "{root}"},
              member("strict", "root")),
    by_module("VR-11", ADM, "admin API: make eli admin of strict", "POST",
              "/_synapse/admin/v1/rooms/{q_strict}/make_room_admin", {"user_id": "{eli}"},
              full("strict")),
    by_module("VR-11", ADM, "admin API: make root admin of strict", "POST",
              "/_synapse/admin/v1/rooms/{q_strict}/make_room_admin", {"user_id": "{root}"},
              full("strict")),
]

SIDE_DOORS = [
    by_module("VR-05", NON, "POST /knock strict", "POST", "/knock/{q_strict}", {},
              member("strict", "nina")),
    by_module("VR-05", UNV, "POST /knock strict", "POST", "/knock/{q_strict}", {},
              member("strict", "mallory")),
    by_module("VR-05", ADM, "POST /knock strict", "POST", "/knock/{q_strict}", {},
              member("strict", "root")),
    by_module("VR-05", UNV, "POST /knock by the alias", "POST", "/knock/{q_alias}", {},
              member("strict", "mallory")),
    refused("VR-05", MEM, "POST /invite by e-mail (third-party invite)", "POST",
            "/rooms/{q_strict}/invite",
            {"id_server": "id.example", "id_access_token": "x", "medium": "email",
             "address": "intruder@example.org"}, full("strict")),
    refused("VR-05", BOT, "POST /invite by e-mail (third-party invite)", "POST",
            "/rooms/{q_strict}/invite",
            {"id_server": "id.example", "id_access_token": "x", "medium": "email",
             "address": "intruder@example.org"}, full("strict")),
    put("VR-05", BOT, "strict", "m.room.third_party_invite",
        {"display_name": "intruder", "key_validity_url": "https://id.example/v",
         "public_key": "abc"}, "PUT m.room.third_party_invite", key="tok1"),
    put("VR-05", OWN, "lax", "m.room.third_party_invite",
        {"display_name": "intruder", "key_validity_url": "https://id.example/v",
         "public_key": "abc"}, "PUT m.room.third_party_invite", key="tok2"),
    refused(PL, MEM, "PUT m.room.canonical_alias naming an outside alias", "PUT",
            state("strict", "m.room.canonical_alias"), {"alias": "{alias}"}, full("strict")),
    refused(PL, MEM, "PUT m.space.parent into strict", "PUT",
            state("strict", "m.space.parent", "{q_space}"), {"via": ["curbside.test"]},
            full("strict")),
]

DIRECTORY = [
    by_module("VR-09", actor, "PUT /directory/list/room/strict public", "PUT",
              "/directory/list/room/{q_strict}", {"visibility": "public"},
              "/directory/list/room/{q_strict}")
    for actor in (BOT, OWN, MEM, ADM)
] + [
    by_module("VR-09", OWN, "PUT /directory/list/room/lax public (with power)", "PUT",
              "/directory/list/room/{q_lax}", {"visibility": "public"},
              "/directory/list/room/{q_lax}"),
    refused("VR-08", "anonymous", "POST /register?kind=guest (no guests on this server)",
            "POST", "/register?kind=guest", {}, "/joined_rooms", errcode=None,
            reader="mallory"),
]

SETTINGS = [
    *(put("VR-06", actor, "strict", "m.room.join_rules", {"join_rule": rule},
          f"join rule {rule}")
      for actor, rule in ((BOT, "public"), (BOT, "knock"), (MEM, "public"))),
    outsider("VR-06", "strict", "m.room.join_rules", {"join_rule": "public"}, "join rule public"),
    put("VR-06", BOT, "strict", "m.room.join_rules",
        {"join_rule": "restricted", "allow": [{"type": "m.room_membership",
                                               "room_id": "{space}"}]},
        "join rule restricted to mallory's space"),
    put("VR-06", OWN, "lax", "m.room.join_rules", {"join_rule": "knock_restricted",
                                                   "allow": []}, "join rule knock_restricted"),
    put("VR-07", BOT, "strict", "m.room.history_visibility", {"history_visibility": "shared"},
        "history shared"),
    put("VR-07", MEM, "strict", "m.room.history_visibility",
        {"history_visibility": "world_readable"}, "history world_readable"),
    put("VR-07", OWN, "lax", "m.room.history_visibility",
        {"history_visibility": "world_readable"}, "history world_readable (with power)"),
    put("VR-08", BOT, "strict", "m.room.guest_access", {"guest_access": "can_join"},
        "guest access can_join"),
    put("VR-08", MEM, "strict", "m.room.guest_access", {"guest_access": "can_join"},
        "guest access can_join"),
    put("VR-08", OWN, "lax", "m.room.guest_access", {"guest_access": "can_join"},
        "guest access can_join (with power)"),
    put("VR-10", MEM, "strict", "m.room.power_levels",
        verified_power_levels(users={"{eli}": 100}), "power levels raising himself"),
    put("VR-10", OWN, "strict", "m.room.power_levels",
        verified_power_levels(users={"{dana}": 100}), "power levels raising herself"),
    put("VR-10", OWN, "lax", "m.room.power_levels",
        verified_power_levels(users={"{dana}": 100}), "power levels (holding 100)"),
    outsider("VR-10", "strict", "m.room.power_levels",
             verified_power_levels(users={"{root}": 100}), "power levels raising himself"),
    put("VR-11", BOT, "strict", "m.room.power_levels",
        verified_power_levels(users={"{dana}": 100}), "power levels giving the owner 100"),
    put("VR-11", BOT, "strict", "m.room.power_levels",
        verified_power_levels(users_default=100), "power levels users_default 100"),
    put("VR-11", BOT, "strict", "m.room.power_levels", verified_power_levels(invite=0),
        "power levels invite 0"),
    put("VR-11", BOT, "strict", "m.room.power_levels",
        verified_power_levels(users={"{eli}": "100"}), "power levels with a string level"),
    put("VR-11", BOT, "strict", "m.room.power_levels",
        verified_power_levels(state_default=0, events={}), "power levels state_default 0"),
    put("VR-12", BOT, "strict", "m.room.server_acl",
        {"allow": ["*"], "deny": [], "allow_ip_literals": False}, "server ACL allow *"),
    put("VR-12", BOT, "strict", "m.room.server_acl",
        {"allow": ["curbside.test", "evil.example"], "deny": []}, "server ACL adds a server"),
    put("VR-12", BOT, "strict", "m.room.server_acl", {"deny": []}, "server ACL without allow"),
    put("VR-12", MEM, "strict", "m.room.server_acl", {"allow": ["*"]}, "server ACL allow *"),
    outsider("VR-12", "strict", "m.room.server_acl", {"allow": ["*"]}, "server ACL allow *"),
    put("E2E-02", BOT, "strict", "m.room.encryption", {}, "encryption removed"),
    put("E2E-02", MEM, "strict", "m.room.encryption", {"algorithm": "none"},
        "encryption algorithm none"),
    put("E2E-02", ADM, "rootroom", "m.room.encryption", {}, "encryption removed",
        reader="root"),
    put("E2E-02", UNV, "plain", "m.room.encryption", {"algorithm": "m.olm.v1.curve25519"},
        "encryption algorithm changed", reader="mallory"),
    put("E2E-02", OWN, "dopen", "m.room.encryption", {"algorithm": "org.example.rot13"},
        "encryption with a made-up algorithm", reader="dana"),
]

PLAINTEXT = [
    clear(UNV, "plain", "m.room.message", TEXT, "m.room.message", reader="mallory"),
    clear(OWN, "strict", "m.room.message", TEXT, "m.room.message"),
    clear(MEM, "strict", "m.room.message", {"msgtype": "m.notice", "body": "Jane Roe"},
          "m.notice"),
    clear(BOT, "strict", "m.room.message", TEXT, "m.room.message"),
    clear(ADM, "rootroom", "m.room.message", TEXT, "m.room.message", reader="root"),
    clear(MEM, "strict", "org.example.note", {"text": "Jane Roe"}, "a custom event type"),
    clear(MEM, "strict", "m.sticker", {"body": "Jane Roe", "url": "mxc://x/y", "info": {}},
          "m.sticker"),
    clear(MEM, "strict", "m.call.invite", {"call_id": "1", "version": "1", "lifetime": 1,
                                           "offer": {"type": "offer", "sdp": "Jane Roe"}},
          "m.call.invite"),
    clear(MEM, "strict", "m.room.message",
          {"msgtype": "m.text", "body": "* Jane Roe", "m.new_content": {
              "msgtype": "m.text", "body": "Jane Roe"},
           "m.relates_to": {"rel_type": "m.replace", "event_id": "{ev_create}"}},
          "an edit (m.replace)"),
    clear(MEM, "strict", "m.room.message",
          {"msgtype": "m.text", "body": "Jane Roe",
           "m.relates_to": {"rel_type": "m.thread", "event_id": "{ev_create}"}},
          "a thread reply"),
    clear(MEM, "strict", "m.reaction",
          {"body": "Jane Roe", "m.relates_to": {"rel_type": "m.annotation",
                                                "event_id": "{ev_create}", "key": "ok"}},
          "a reaction carrying a body"),
    clear(MEM, "strict", "m.reaction",
          {"m.relates_to": {"rel_type": "m.annotation", "event_id": "{ev_create}",
                            "key": "Patient Jane Roe, DOB 1961-04-02, MRN 12345678"}},
          "a reaction whose key is a sentence"),
    clear(MEM, "strict", "m.room.redaction", {"redacts": "$elsewhere", "body": "Jane Roe"},
          "a redaction event carrying a body"),
    clear(OWN, "lax", "m.room.message", TEXT, "m.room.message (with power)"),
    clear(UNV, "plain", "m.room.message", {"msgtype": "m.file", "body": "referral.pdf",
                                           "url": "mxc://curbside.test/abc"},
          "an unencrypted file", reader="mallory"),
]

PRIVATE_UNENCRYPTED = [
    *(put("E2E-04", actor, room, "m.room.join_rules", {"join_rule": rule},
          f"unencrypted public room made {rule}", reader=ACTING[actor])
      for actor, room, rule in ((OWN, "dopen", "invite"), (OWN, "dopen", "knock"),
                                (OWN, "dopen", "restricted"), (UNV, "mopen", "invite"),
                                (UNV, "mopen", "knock_restricted"))),
    create("E2E-01", UNV, {"preset": "private_chat"}, "private, unencrypted"),
    create("E2E-01", OWN, {"preset": "trusted_private_chat", "is_direct": True},
           "a DM, unencrypted"),
    create("E2E-01", ADM, {"preset": "private_chat"}, "private, unencrypted"),
    create("E2E-01", NON, {"preset": "public_chat", "initial_state": [
        {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "knock"}}]},
        "public preset made knock, unencrypted"),
    create("E2E-02", UNV, {"preset": "private_chat", "initial_state": [
        {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "none"}}]},
        "private with a made-up algorithm"),
]

UPGRADES = [
    _upgrade(MEM), _upgrade(OWN), _upgrade(NON), _upgrade(ADM), _upgrade(BOT),
    _upgrade(OWN, "lax"),
    put("VR-14", BOT, "strict", "m.room.tombstone",
        {"body": "moved", "replacement_room": "{plain}"}, "PUT m.room.tombstone"),
    put("VR-14", OWN, "lax", "m.room.tombstone",
        {"body": "moved", "replacement_room": "{plain}"}, "PUT m.room.tombstone (with power)"),
    _predecessor(OWN), _predecessor(BOT), _predecessor(ADM), _predecessor(UNV),
]

REDACTIONS = [
    _redact(MEM, "ev_eli_member", "his own join"),
    _redact(OWN, "ev_dana_member", "her own join"),
    _redact(BOT, "ev_eli_member", "a member's join"),
    _redact(BOT, "ev_join_rules", "the join rules"),
    _redact(BOT, "ev_power_levels", "the power levels"),
    _redact(BOT, "ev_encryption", "the encryption event"),
    _redact(BOT, "ev_server_acl", "the server ACL"),
    _redact(BOT, "ev_history_visibility", "the history visibility"),
    _redact(BOT, "ev_guest_access", "the guest access"),
    _redact(BOT, "ev_create", "the create event"),
    _redact(MEM, "ev_power_levels", "the power levels"),
]

NAMES = [
    _room_name("VN-01", UNV, "plain", NAME, "in the verified form"),
    _room_name("VN-01", UNV, "plain", LOOK_ALIKE, "a look-alike of the verified form"),
    _room_name("VN-01", UNV, "plain", "Robert Chen, DO · Surgery", "an invented clinician"),
    _room_name("VN-01", UNV, "mopen", "Robert Chen, DO", "name and credential"),
    _room_name("VN-01", ADM, "rootroom", NAME, "a clinician's name"),
    _room_name("VN-01", OWN, "dopen", NINA_NAME, "another clinician's name"),
    refused("VN-01", UNV, "invite carrying a verified-form name for its target", "PUT",
            member("plain", "nina"), {"membership": "invite", "displayname": NAME},
            member("plain", "nina"), module="VN-01", reader="mallory"),
    refused("VN-01", UNV, "createRoom whose own join claims a verified name", "POST",
            "/createRoom", {"preset": "public_chat", "initial_state": [
                {"type": "m.room.member", "state_key": "{mallory}",
                 "content": {"membership": "join", "displayname": NAME}}]},
            "/joined_rooms", module="VN-01", reader="mallory"),
]

SPACES = [
    by_module("VR-02", UNV, "join strict through her space's child link", "POST",
              "/join/{q_strict}", {"via": ["curbside.test"]}, member("strict", "mallory")),
    refused(PL, MEM, "add strict to a space as an m.space.child of strict", "PUT",
            state("strict", "m.space.child", "{q_space}"), {"via": ["curbside.test"]},
            full("strict")),
]

OUTSIDER = [
    refused("VR-06", NON, "PUT join rule public on a room she is not in", "PUT",
            state("strict", "m.room.join_rules"), {"join_rule": "public"}, full("strict")),
    refused("VR-15", NON, "redact a member's join in a room she is not in", "PUT",
            "/rooms/{q_strict}/redact/{ev_eli_member}/{txn}", {}, full("strict")),
    refused("E2E-03", NON, "a clear message into a room she is not in", "PUT",
            send("strict", "m.room.message"), TEXT, timeline("strict")),
    refused("VR-13", NON, "admin API join herself (not an admin)", "POST",
            "/_synapse/admin/v1/join/{q_strict}", {"user_id": "{nina}"},
            member("strict", "nina")),
    refused("VR-11", NON, "admin API make herself room admin (not an admin)", "POST",
            "/_synapse/admin/v1/rooms/{q_strict}/make_room_admin", {"user_id": "{nina}"},
            full("strict")),
    by_module("VR-05", NON, "POST /knock by the alias", "POST", "/knock/{q_alias}", {},
              member("strict", "nina")),
    by_module("VR-09", NON, "PUT /directory/list/room/strict public", "PUT",
              "/directory/list/room/{q_strict}", {"visibility": "public"},
              "/directory/list/room/{q_strict}"),
]

ROWS = [*CONSENT, *OUTSIDER, *SIDE_DOORS, *DIRECTORY, *SETTINGS, *PLAINTEXT, *PRIVATE_UNENCRYPTED,
        *UPGRADES, *REDACTIONS, *NAMES, *SPACES]


async def read(arena: Arena, row: Try) -> Any:
    """What the attempt aimed at, as the reader sees it (a timeline: its event ids)."""
    reader = arena.client(row.reader)
    if row.probe.startswith("timeline:"):
        room = arena.names[row.probe.removeprefix("timeline:")]
        reply = await reader.call("GET", fill("/rooms/{q_r}/messages?dir=b&limit=20",
                                              {"r": room}))
        return [e["event_id"] for e in reply.body.get("chunk", [])]
    reply = await reader.call("GET", fill(row.probe, arena.names))
    return reply.status, reply.body


@pytest.mark.parametrize("row", [pytest.param(r, id=f"{r.attempt.rule} {r.attempt.actor}: "
                                              f"{r.attempt.request}") for r in ROWS])
async def test_attempt_refused_and_nothing_changed(arena: Arena, row: Try) -> None:
    names = {**arena.names, "txn": uuid.uuid4().hex}
    before = await read(arena, row)
    client = (arena.world.client("mallory") if row.attempt.actor == "anonymous"
              else arena.client(row.attempt.actor))

    if row.attempt.actor == "anonymous":
        reply = await _anonymous(arena, row)
    else:
        reply = await client.call(row.method, fill(row.path, names), fill(row.body, names))

    judge(row.attempt, reply.status, reply.errcode)
    assert reply.rule == row.rule, reply
    assert await read(arena, row) == before


async def _anonymous(arena: Arena, row: Try) -> Reply:
    """A request without an access token."""
    http, url = arena.world.server.http, arena.world.server.synapse.url
    async with http.request(row.method, f"{url}/_matrix/client/v3{row.path}",
                            json=row.body) as response:
        body = await response.json(content_type=None)
        return Reply(response.status, body if isinstance(body, dict) else {})


# --- controls: what must still work, so the rows above cannot pass by refusing everything

async def test_element_clear_reaction_and_redaction_pass(arena: Arena) -> None:
    """Requirement: exactly what current Element sends unencrypted still passes (E2E-03)."""
    eli = arena.client(MEM)
    sent = await eli.call("PUT", fill(send("strict", "m.room.encrypted"), {
        **arena.names, "txn": uuid.uuid4().hex}), {
        "algorithm": MEGOLM, "ciphertext": "AwgA", "sender_key": "k", "session_id": "s",
        "device_id": "D"})
    assert sent.status == 200, sent
    target = sent.body["event_id"]
    reaction = await eli.call("PUT", fill(send("strict", "m.reaction"), {
        **arena.names, "txn": uuid.uuid4().hex}), {"m.relates_to": {
            "rel_type": "m.annotation", "event_id": target, "key": "\U0001f44d"}})
    judge(Attempt("E2E-03", MEM, "a clear reaction (as Element sends it)", 200),
          reaction.status, reaction.errcode)
    redaction = await eli.call("PUT", fill(f"/rooms/{{q_strict}}/redact/{target}/{{txn}}", {
        **arena.names, "txn": uuid.uuid4().hex}), {"reason": "sent in error"})
    judge(Attempt("E2E-03", MEM, "redact his own encrypted message", 200),
          redaction.status, redaction.errcode)


async def test_an_ordinary_room_may_still_be_upgraded_and_made_private(arena: Arena) -> None:
    mallory = arena.client(UNV)
    room = await mallory.create_room(preset="public_chat")
    encrypted = await mallory.put_state(room, "m.room.encryption", {"algorithm": MEGOLM})
    assert encrypted.status == 200, encrypted
    private = await mallory.put_state(room, "m.room.join_rules", {"join_rule": "invite"})
    judge(Attempt("E2E-04", UNV, "encrypted room made invite-only", 200),
          private.status, private.errcode)
    upgraded = await mallory.call("POST", fill("/rooms/{q_r}/upgrade", {"r": room}),
                                  {"new_version": "10"})
    judge(Attempt("VR-14", UNV, "upgrade her own ordinary room", 200),
          upgraded.status, upgraded.errcode)


async def test_a_global_profile_name_in_the_verified_form_is_undone(arena: Arena) -> None:
    """VN-01 for the global profile: Synapse cannot refuse it, so the module resets it before
    the request returns and before the name is copied into any room."""
    for actor, target, path_user in ((UNV, "mallory", "mallory"), (ADM, "mallory", "mallory"),
                                     (NON, "nina", "nina")):
        client = arena.client(actor)
        user_id = arena.user_id(target)
        if actor == ADM:
            path, body = (fill("/_synapse/admin/v2/users/{q_u}", {"u": user_id}),
                          {"displayname": NAME})
        else:
            path, body = (fill("/profile/{q_u}/displayname", {"u": user_id}),
                          {"displayname": LOOK_ALIKE})
        reply = await client.call("PUT", path, body)
        judge(Attempt("VN-01", actor, f"set {path_user}'s profile name to a verified name",
                      200), reply.status, reply.errcode)
        shown = await client.call("GET", fill("/profile/{q_u}/displayname", {"u": user_id}))
        assert shown.body.get("displayname") == target, shown
        in_room = await arena.world.gatekeeper.get_state(
            arena.names["strict"], "m.room.member", arena.user_id("eli"))
        assert in_room.body["displayname"] == NAME  # eli's own verified name, untouched
