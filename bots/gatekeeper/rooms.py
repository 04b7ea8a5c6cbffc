"""Verified rooms: how they are made, and who the gatekeeper lets in.

A verified room is made so that nobody but the gatekeeper can change who is
in it or how it is set up:

* join rule ``invite``, guests forbidden, not in the room directory: there is
  no way in but an invite;
* power levels: inviting, kicking, banning and every state event need 100,
  which only the gatekeeper holds (it created the room; the requester is a
  normal member at 0);
* a server ACL admitting only the configured homeservers;
* history visible to members from their join on, encryption from the start.

The gatekeeper invites only holders of an active credential whom the room
consented to (a member's ``!invite``, an owner's yes to a ``!join``), with their
verified name ("Dana Whitfield, MD · Cardiology") in the invite's membership
content; the homeserver module refuses any other invite or join, and any
upgrade but the gatekeeper's own (:func:`upgrade_room`, after it announced it). This module
is the homeserver side (each function is given the client); whom the
gatekeeper admits, and the records of it, are :mod:`bots.gatekeeper.admission`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import nio

from curbside.matrix.rooms import RoomCreationError, encryption_state

#: Power needed for everything that changes membership or room state.
GATEKEEPER_POWER = 100


class RoomActionError(RuntimeError):
    """The homeserver refused a room action; the message says which and why."""


def server_of(user_id: str) -> str:
    return user_id.split(":", 1)[-1]


def verified_room_state(allowed_servers: Sequence[str]) -> list[dict[str, Any]]:
    """The initial state events of a verified room."""
    return [
        encryption_state(),
        {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "invite"}},
        {
            "type": "m.room.history_visibility",
            "state_key": "",
            "content": {"history_visibility": "joined"},
        },
        {"type": "m.room.guest_access", "state_key": "", "content": {"guest_access": "forbidden"}},
        {
            "type": "m.room.server_acl",
            "state_key": "",
            "content": {"allow": sorted(set(allowed_servers)), "deny": [],
                        "allow_ip_literals": False},
        },
    ]


def verified_power_levels() -> dict[str, Any]:
    """Power levels under which only the gatekeeper (the room's creator) may act.

    ``users`` is left to the homeserver: it lists the creator at 100 in older
    room versions and omits it in v12, where creators outrank everyone.
    """
    return {
        "users_default": 0,
        "events_default": 0,
        "state_default": GATEKEEPER_POWER,
        "invite": GATEKEEPER_POWER,
        "kick": GATEKEEPER_POWER,
        "ban": GATEKEEPER_POWER,
        "redact": 50,
        "events": {
            event_type: GATEKEEPER_POWER
            for event_type in (
                "m.room.name", "m.room.topic", "m.room.avatar", "m.room.power_levels",
                "m.room.history_visibility", "m.room.canonical_alias", "m.room.join_rules",
                "m.room.guest_access", "m.room.server_acl", "m.room.encryption",
                "m.room.tombstone", "m.room.pinned_events",
            )
        },
    }


async def create_verified_room(
    client: nio.AsyncClient, *, name: str, allowed_servers: Sequence[str]
) -> str:
    """Create the room (not yet recorded, nobody invited); returns its id."""
    servers = {server_of(str(client.user_id)), *allowed_servers}
    response = await client.room_create(
        visibility=nio.RoomVisibility.private,
        name=name,
        topic="Verified room: only verified clinicians can be members. Managed by the gatekeeper.",
        preset=nio.RoomPreset.private_chat,
        initial_state=verified_room_state(sorted(servers)),
        power_level_override=verified_power_levels(),
    )
    if not isinstance(response, nio.RoomCreateResponse):
        raise RoomCreationError(f"could not create the verified room: {response.message}")
    return str(response.room_id)


async def invite_with_verified_name(
    client: nio.AsyncClient, room_id: str, user_id: str, display_name: str
) -> None:
    """Invite ``user_id`` with their verified name in the membership content.

    A plain ``/invite`` cannot carry content, so the invite is sent as the
    ``m.room.member`` state event itself (Synapse routes it through the same
    membership checks).
    """
    response = await client.room_put_state(
        room_id,
        "m.room.member",
        {"membership": "invite", "displayname": display_name},
        state_key=user_id,
    )
    if isinstance(response, nio.RoomPutStateError):
        raise RoomActionError(f"the homeserver refused the invite: {response.message}")


async def resolve_room(client: nio.AsyncClient, text: str) -> str | None:
    """A room id from '!id:server' or '#alias:server'; None when it does not resolve."""
    text = text.strip()
    if text.startswith("!"):
        return text
    if text.startswith("#"):
        response = await client.room_resolve_alias(text)
        if isinstance(response, nio.RoomResolveAliasResponse):
            return str(response.room_id)
    return None


async def membership(client: nio.AsyncClient, room_id: str, user_id: str) -> str | None:
    """``user_id``'s membership of ``room_id`` as the homeserver holds it (None: none)."""
    response = await client.room_get_state_event(room_id, "m.room.member", user_id)
    if isinstance(response, nio.RoomGetStateEventResponse):
        value = response.content.get("membership")
        return value if isinstance(value, str) else None
    return None


async def joined_members(client: nio.AsyncClient, room_id: str) -> list[str]:
    response = await client.joined_members(room_id)
    if not isinstance(response, nio.JoinedMembersResponse):
        raise RoomActionError(f"could not list the members: {response.message}")
    return [member.user_id for member in response.members]


@dataclass
class _Upgraded(nio.Response):
    """The homeserver's answer to ``POST /rooms/{id}/upgrade``."""

    replacement_room: str = ""

    @classmethod
    def from_dict(cls, parsed: dict[str, Any]) -> nio.Response:
        room = parsed.get("replacement_room")
        return cls(room) if isinstance(room, str) else nio.ErrorResponse.from_dict(parsed)


async def upgrade_room(client: nio.AsyncClient, room_id: str, version: str | None) -> str:
    """Have the homeserver upgrade ``room_id`` (the server-side upgrade, which copies its
    state and writes the tombstone); returns the successor's id.

    nio's own ``room_upgrade`` rebuilds the room client-side through ``/createRoom``,
    which the module refuses for a verified predecessor; only the server's upgrade
    is the gatekeeper's announced one.
    """
    new_version = version or await _default_room_version(client)
    path = nio.Api._build_path(["rooms", room_id, "upgrade"],
                               {"access_token": client.access_token})
    response = await client._send(_Upgraded, "POST", path,
                                  json.dumps({"new_version": new_version}))
    if not isinstance(response, _Upgraded):
        raise RoomActionError(f"the homeserver refused the upgrade: {response.message}")
    return response.replacement_room


async def _default_room_version(client: nio.AsyncClient) -> str:
    path = nio.Api._build_path(["capabilities"], {"access_token": client.access_token})
    response = await client._send(_Capabilities, "GET", path)
    if not isinstance(response, _Capabilities):
        raise RoomActionError(f"could not read the room versions: {response.message}")
    return response.default_version


@dataclass
class _Capabilities(nio.Response):
    default_version: str = ""

    @classmethod
    def from_dict(cls, parsed: dict[str, Any]) -> nio.Response:
        versions = (parsed.get("capabilities") or {}).get("m.room_versions") or {}
        default = versions.get("default")
        return cls(default) if isinstance(default, str) else nio.ErrorResponse.from_dict(parsed)
