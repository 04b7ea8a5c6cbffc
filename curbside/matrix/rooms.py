"""Rooms a bot creates are encrypted; PHI never goes into one that is not, and nothing
sent in the clear into an encrypted room is acted on.

Also the answer to an invite the bot declines (:class:`InviteRefusal`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import nio

MEGOLM = "m.megolm.v1.aes-sha2"

#: Room events current Element sends unencrypted even in an encrypted room, so they are
#: not plaintext slipped in: redactions (the spec has no encrypted redaction) and
#: reactions (matrix-js-sdk keeps them clear for server-side aggregation); plus the
#: empty dummy events Synapse itself adds. The homeserver module allows exactly these
#: (bots/gatekeeper/policy.py); docs/synapse-module.md says why.
CLEAR_IN_ENCRYPTED_ROOMS = frozenset(
    {"m.room.encrypted", "m.room.redaction", "m.reaction", "org.matrix.dummy_event"})

PLAINTEXT_IGNORED = (
    "I ignored a message you sent without end-to-end encryption into this encrypted "
    "room: nothing sent in the clear here is read or acted on. Your client should "
    "encrypt it; please check its encryption settings and send it again."
)


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


def sent_in_the_clear(client: nio.AsyncClient, room_id: str, event: nio.Event) -> bool:
    """Is ``event`` a room message that arrived unencrypted in an encrypted room?

    State events are in the clear by design (Matrix has no encrypted state), and so
    are the types in :data:`CLEAR_IN_ENCRYPTED_ROOMS`; a decrypted event is not.
    """
    room = client.rooms.get(room_id)
    source = event.source
    return (
        room is not None
        and room.encrypted
        and not getattr(event, "decrypted", False)
        and "state_key" not in source
        and source.get("type") not in CLEAR_IN_ENCRYPTED_ROOMS
    )
