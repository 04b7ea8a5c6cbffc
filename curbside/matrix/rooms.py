"""Rooms a bot creates are encrypted; PHI never goes into one that is not.

Also the answer to an invite the bot declines (:class:`InviteRefusal`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import nio

MEGOLM = "m.megolm.v1.aes-sha2"


class UnencryptedRoomError(RuntimeError):
    """Refused to post patient data into a room without end-to-end encryption."""


class RoomCreationError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class InviteRefusal:
    """An invite a bot declines, with what the inviter is told (no bot is silent).

    ``say_in_room``: the bot joins, says ``text`` in the room and leaves once
    it was sent (a clinician's DM: what to do next is a message there).
    Otherwise it rejects the invite with ``text`` as the rejection's reason,
    never setting foot in a room whose membership it must not join.
    """

    text: str
    say_in_room: bool = False


def encryption_state() -> dict[str, object]:
    """The ``m.room.encryption`` initial state every bot-created room carries."""
    return {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": MEGOLM}}


async def create_encrypted_room(
    client: nio.AsyncClient,
    *,
    name: str | None = None,
    topic: str | None = None,
    invite: Sequence[str] = (),
    is_direct: bool = False,
) -> str:
    """Create a private room that is encrypted from its first event on."""
    response = await client.room_create(
        name=name,
        topic=topic,
        invite=list(invite),
        is_direct=is_direct,
        preset=nio.RoomPreset.private_chat,
        initial_state=[encryption_state()],
    )
    if not isinstance(response, nio.RoomCreateResponse):
        raise RoomCreationError(f"could not create room: {response.message}")
    return str(response.room_id)


def require_encrypted(client: nio.AsyncClient, room_id: str) -> None:
    """Raise unless the bot knows ``room_id`` as an encrypted room."""
    room = client.rooms.get(room_id)
    if room is None or not room.encrypted:
        raise UnencryptedRoomError(
            f"room {room_id} is not end-to-end encrypted; patient data is not sent there"
        )
