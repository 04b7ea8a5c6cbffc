"""The cast and rooms the homeserver-side adversary attempts are made against.

Built on the policy suite's world (tests/policy/world.py: a real Synapse with
the module, the gatekeeper driven by a raw client) and extended so that every
actor of :data:`tests.adversary.ledger.ACTORS` has someone to play it:

=====================  ==========================================================
unverified user        mallory — registered, never verified
verified non-member    nina — verified ("Nina Patel, MD · Oncology"), in no verified room
member                 eli — verified, joined ``strict`` by consent
owner                  dana — verified, joined ``strict``, recorded as its owner
homeserver admin       root — a Synapse server admin, not a clinician
admin as bot           the gatekeeper's own token, used by hand (no announcement,
                       no consent record: what an admin who took the token can do)
=====================  ==========================================================

Rooms: ``strict`` (verified, as the gatekeeper makes one), ``lax`` (verified, but
with loose power levels, so only the module can refuse), ``plain`` (mallory's
encrypted room), ``dopen`` / ``mopen`` (dana's / mallory's public unencrypted
rooms), ``rootroom`` (root's encrypted room), ``space`` (mallory's public space
listing ``strict`` as a child), and the alias ``alias`` naming ``strict``.
Template names ``ev_*`` are the event ids of ``strict``'s current state.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from curbside.credentials import RoomOwner
from curbside.database import session_scope
from tests.policy.raw_client import RawClient, q
from tests.policy.records import grant_credential
from tests.policy.server import PolicyServer
from tests.policy.world import ENCRYPTION, World, build_world

ACTING = {
    "unverified user": "mallory",
    "verified non-member": "nina",
    "member": "eli",
    "owner": "dana",
    "homeserver admin": "root",
    "admin as bot": "gatekeeper",
}
NINA_NAME = "Nina Patel, MD · Oncology"


@dataclass
class Arena:
    world: World
    names: dict[str, str] = field(default_factory=dict)

    def client(self, actor_or_name: str) -> RawClient:
        return self.world.client(ACTING.get(actor_or_name, actor_or_name))

    def user_id(self, name: str) -> str:
        return self.world.client(name).user_id

    async def state_ids(self, room: str) -> dict[str, str]:
        """``ev_<type>`` / ``ev_<user>_member`` → event id, for the room's current state."""
        server, gatekeeper = self.world.server, self.world.gatekeeper
        async with server.http.get(
            f"{server.synapse.url}/_matrix/client/v3/rooms/{q(self.names[room])}/state",
            headers={"Authorization": f"Bearer {gatekeeper.token}"},
        ) as response:
            assert response.status == 200
            events = await response.json()
        ids: dict[str, str] = {}
        for event in events:
            key = event.get("state_key") or ""
            if event["type"] == "m.room.member":
                ids[f"ev_{key[1:].split(':', 1)[0]}_member"] = event["event_id"]
            elif key == "":
                ids[f"ev_{event['type'].removeprefix('m.room.')}"] = event["event_id"]
        return ids


async def build_arena(server: PolicyServer) -> Arena:
    world = await build_world(server)
    await server.user("nina")
    await server.user("root", admin=True)
    grant_credential(server.engine, server.user_id("nina"), legal_name="Nina Patel",
                     specialty="Oncology")
    strict = world.rooms["strict"]
    with session_scope(server.engine) as session:
        session.add(RoomOwner(room_id=strict, user_id=world.client("dana").user_id,
                              named_by=world.client("dana").user_id,
                              named_at=datetime.now(UTC)))
    await world.admit(strict, "eli")

    dana, mallory, root = world.client("dana"), world.client("mallory"), world.client("root")
    world.rooms["dopen"] = await dana.create_room(preset="public_chat")
    world.rooms["mopen"] = await mallory.create_room(preset="public_chat")
    world.rooms["rootroom"] = await root.create_room(preset="private_chat",
                                                    initial_state=[ENCRYPTION])
    world.rooms["space"] = await mallory.create_room(
        preset="public_chat", creation_content={"type": "m.space"}, name="Mallory's space")
    child = await mallory.put_state(world.rooms["space"], "m.space.child",
                                    {"via": [server.synapse.server_name]}, state_key=strict)
    assert child.status == 200, child
    alias = f"#strict-{uuid.uuid4().hex[:6]}:{server.synapse.server_name}"
    made = await world.gatekeeper.call("PUT", f"/directory/room/{q(alias)}", {"room_id": strict})
    assert made.status == 200, made

    arena = Arena(world)
    arena.names = {**world.names, "alias": alias}
    arena.names.update(await arena.state_ids("strict"))
    return arena
