"""Delivering a referral packet to a Matrix recipient: an encrypted PDF in a DM.

    deliver(packet, recipient, key)
      ├─ the DM the desk shares with the recipient (created, encrypted, on first use)
      ├─ upload the PDF encrypted (the homeserver stores ciphertext only)
      └─ queue the m.file in the bot's outbox under ``key`` (queued once however
         often delivery runs), naming the sent hook ``referral-packet:<key>``
    receipt now: accepted (the outbox has it and retries it through outages)
    receipt when the outbox sent it (the desk's sent hook): delivered, provider_ref
         "<room id> <event id>" (the event is the root of the recipient's thread)

A practice-room recipient gets the file in that room, which the desk must
have joined. Network failures (the homeserver unreachable) become
ChannelUnavailable, so the delivery job tries again later and the referral is not
failed; a refusal (no room, not encrypted) is a ChannelError.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import nio
from sqlalchemy import Engine

from bots.referral_desk import conversations
from curbside.database import session_scope
from curbside.matrix.files import upload_encrypted
from curbside.matrix.posting import Poster
from curbside.matrix.rooms import create_encrypted_room
from curbside.matrix.runtime import TRANSIENT
from referral.delivery import ChannelUnavailable, DeliveryReceipt, DeliveryStatus, Recipient
from referral.documents.packet import Packet
from referral.validation import RecipientKind

ROOM_WAIT = 30.0  # seconds to wait for a newly created DM to show up in the sync
PACKET_SENT = "referral-packet"  # the desk's sent hook for packets


class ChannelError(RuntimeError):
    """Delivery could not happen; the message is recorded on the attempt."""


def packet_message_body(referral_id: str) -> str:
    return f"Referral {referral_id}.pdf"


def parse_provider_ref(ref: str) -> tuple[str, str]:
    room_id, _, event_id = ref.partition(" ")
    return room_id, event_id


class MatrixChannel:
    """A :class:`referral.delivery.DeliveryChannel` over the desk's own outbox."""

    name = "matrix"

    def __init__(
        self, client: Callable[[], nio.AsyncClient], engine: Engine, poster: Poster
    ) -> None:
        self._client = client
        self._engine = engine
        self._poster = poster

    async def deliver(
        self, packet: Packet, recipient: Recipient, idempotency_key: str
    ) -> DeliveryReceipt:
        try:
            return await self._queue(packet, recipient, idempotency_key)
        except TRANSIENT as exc:
            raise ChannelUnavailable(f"the homeserver is unreachable ({type(exc).__name__})"
                                     ) from exc

    async def _queue(
        self, packet: Packet, recipient: Recipient, idempotency_key: str
    ) -> DeliveryReceipt:
        room_id = await self.room_for(recipient)
        self._poster.require_encrypted(room_id)
        content = await upload_encrypted(
            self._client(), packet.data, packet_message_body(packet.referral_id),
            "application/pdf",
        )
        with session_scope(self._engine) as session:
            self._poster.post(session, room_id, content=content, phi=True, key=idempotency_key,
                              on_sent=f"{PACKET_SENT}:{idempotency_key}")
        return DeliveryReceipt(DeliveryStatus.ACCEPTED, provider_ref=room_id)

    async def room_for(self, recipient: Recipient) -> str:
        """The room the packet goes to: the practice room, or the DM with the clinician."""
        client = self._client()
        if recipient.kind is RecipientKind.MATRIX_ROOM:
            if recipient.address not in client.rooms:
                raise ChannelError(
                    f"the desk is not a member of {recipient.address}; invite it to the room"
                )
            return recipient.address
        with session_scope(self._engine) as session:
            known = conversations.direct_room(session, recipient.address)
        if known is not None and known in client.rooms:
            return known
        room_id = await create_encrypted_room(
            client, name="Referral desk", topic="Referrals sent to you through Curbside",
            invite=[recipient.address], is_direct=True,
        )
        with session_scope(self._engine) as session:
            conversations.remember_direct_room(session, recipient.address, room_id)
        # The invite must be in the desk's view of the room, or the room key is
        # not shared with the recipient's devices and the packet is unreadable.
        await _until(
            lambda: room_id in client.rooms and recipient.address in client.rooms[room_id].users,
            ROOM_WAIT,
        )
        return room_id


async def _until(condition: Callable[[], bool], timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise ChannelError("the new direct room did not reach the desk's sync in time")
        await asyncio.sleep(0.05)
