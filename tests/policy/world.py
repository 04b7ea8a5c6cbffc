"""The cast and rooms of the policy suite, built once per homeserver.

* gatekeeper — the configured gatekeeper account, driven by a plain client
  (standing in for the bot): it creates verified rooms and records them.
* dana, eli, bea, bo, rob — verified clinicians; bea has blocked mallory,
  bo has blocked everyone on this server, rob's credential gets revoked.
* mallory — registered on the homeserver, never verified.
* carol@elsewhere.example — holds a credential but lives on a server that
  verified rooms do not admit.

Rooms:
* ``strict`` — a verified room exactly as the gatekeeper makes one; dana is in.
* ``lax`` — a room that was made with loose power levels (dana at 100, anyone
  may invite or change state) and mallory invited, *then* recorded as
  verified: Matrix's own auth rules would allow almost anything here, so a
  refusal can only come from the module.
* ``plain`` — mallory's ordinary encrypted room (not verified).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from curbside.matrix.rooms import MEGOLM
from tests.policy.raw_client import RawClient
from tests.policy.records import (
    block_invites,
    consent_to_invite,
    grant_credential,
    mark_room_verified,
)
from tests.policy.server import PolicyServer

ENCRYPTION = {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": MEGOLM}}
REMOTE_CLINICIAN = "@carol:elsewhere.example"
CLINICIANS = ("dana", "eli", "bea", "bo", "rob")

GATEKEEPER_ONLY = 100
PROTECTED = ("m.room.power_levels", "m.room.join_rules", "m.room.history_visibility",
             "m.room.guest_access", "m.room.server_acl", "m.room.encryption")


def fill(template: Any, names: dict[str, str]) -> Any:
    """Put user and room ids into a case (``{dana}``, ``{strict}``; ``{q_strict}`` URL-quoted)."""
    if isinstance(template, str):
        quoted = {f"q_{k}": quote(v, safe="") for k, v in names.items()}
        return template.format(**names, **quoted)
    if isinstance(template, dict):
        return {fill(k, names): fill(v, names) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, names) for v in template]
    return template


def verified_power_levels(**changes: Any) -> dict[str, Any]:
    """Invite/kick/ban and all state at 100, which only the creator (gatekeeper) holds."""
    return {
        "users_default": 0, "events_default": 0, "state_default": GATEKEEPER_ONLY,
        "invite": GATEKEEPER_ONLY, "kick": GATEKEEPER_ONLY, "ban": GATEKEEPER_ONLY,
        "redact": 50, "events": dict.fromkeys(PROTECTED, GATEKEEPER_ONLY),
        **changes,
    }


def verified_room_body(server_name: str) -> dict[str, Any]:
    """The /createRoom body of a verified room (what the gatekeeper bot sends)."""
    return {
        "preset": "private_chat",
        "visibility": "private",
        "name": "Cardiology tumour board",
        "initial_state": [
            ENCRYPTION,
            {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "invite"}},
            {"type": "m.room.history_visibility", "state_key": "",
             "content": {"history_visibility": "joined"}},
            {"type": "m.room.guest_access", "state_key": "",
             "content": {"guest_access": "forbidden"}},
            {"type": "m.room.server_acl", "state_key": "",
             "content": {"allow": [server_name], "deny": [], "allow_ip_literals": False}},
        ],
        "power_level_content_override": verified_power_levels(),
    }


@dataclass
class World:
    server: PolicyServer
    rooms: dict[str, str]

    @property
    def gatekeeper(self) -> RawClient:
        return self.server.clients["gatekeeper"]

    def client(self, name: str) -> RawClient:
        return self.server.clients[name]

    @property
    def names(self) -> dict[str, str]:
        """Template values: room ids by room name, user ids by user name."""
        users = {name: c.user_id for name, c in self.server.clients.items()}
        return {**self.rooms, **users, "carol": REMOTE_CLINICIAN}

    async def new_verified_room(self) -> str:
        """A verified room made and recorded the way the gatekeeper does it."""
        room_id = await self.gatekeeper.create_room(
            **verified_room_body(self.server.synapse.server_name))
        mark_room_verified(self.server.engine, room_id, self.gatekeeper.user_id)
        return room_id

    def consent(self, room_id: str, name: str) -> None:
        """Record that the room agreed to ``name`` being invited (as the gatekeeper does)."""
        consent_to_invite(self.server.engine, room_id, self.client(name).user_id)

    async def admit(self, room_id: str, name: str) -> None:
        """With the room's consent, the gatekeeper invites a user and they join."""
        self.consent(room_id, name)
        invited = await self.gatekeeper.invite(room_id, self.client(name).user_id)
        assert invited.status == 200, invited
        joined = await self.client(name).join(room_id)
        assert joined.status == 200, joined


async def build_world(server: PolicyServer) -> World:
    for name in ("gatekeeper", "mallory", *CLINICIANS):
        await server.user(name)
    engine = server.engine
    for name in CLINICIANS:
        grant_credential(engine, server.user_id(name))
    grant_credential(engine, REMOTE_CLINICIAN)
    block_invites(engine, server.user_id("bea"), server.user_id("mallory"))
    block_invites(engine, server.user_id("bo"), f"@*:{server.synapse.server_name}")

    world = World(server, rooms={})
    world.rooms["strict"] = await world.new_verified_room()
    await world.admit(world.rooms["strict"], "dana")
    world.rooms["lax"] = await _lax_room(world)
    mallory = server.clients["mallory"]
    world.rooms["plain"] = await mallory.create_room(preset="private_chat",
                                                     initial_state=[ENCRYPTION])
    return world


async def _lax_room(world: World) -> str:
    gatekeeper, dana = world.gatekeeper, world.client("dana")
    body = verified_room_body(world.server.synapse.server_name)
    body["power_level_content_override"] = verified_power_levels(
        users={dana.user_id: 100}, invite=0, state_default=0, events={})
    room_id = await gatekeeper.create_room(**body)
    await world.admit(room_id, "dana")
    invited = await gatekeeper.invite(room_id, world.client("mallory").user_id)
    assert invited.status == 200, invited
    mark_room_verified(world.server.engine, room_id, gatekeeper.user_id)
    return room_id
