"""Delivering a referral packet to a Matrix recipient: an encrypted PDF in a DM.

    deliver(packet, recipient, key)
      ├─ the DM the desk shares with the recipient (created, encrypted, on first use)
      ├─ upload the PDF encrypted (the homeserver stores ciphertext only)
      └─ PUT m.file with a transaction id derived from ``key``
           the homeserver de-duplicates a repeated transaction id from this
           device, so delivering again with the same key sends nothing new
    receipt: delivered, provider_ref "<room id> <event id>" (the event is the root
             of the recipient's thread for this referral)

A practice-room recipient gets the file in that room, which the desk must
have joined. The channel never writes to the database itself except to
remember a newly created DM, in its own short transaction (no await inside).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable

import nio
from sqlalchemy import Engine

from bots.referral_desk import conversations
from curbside.database import session_scope
from curbside.matrix.files import upload_encrypted
from curbside.matrix.rooms import create_encrypted_room, require_encrypted
from curbside.matrix.trust import IGNORE_UNVERIFIED_DEVICES
from referral.delivery import DeliveryReceipt, DeliveryStatus, Recipient
from referral.documents.packet import Packet
from referral.validation import RecipientKind

ROOM_WAIT = 30.0  # seconds to wait for a newly created DM to show up in the sync


class ChannelError(RuntimeError):
    """Delivery could not happen; the message is recorded on the attempt."""


def packet_message_body(referral_id: str) -> str:
    return f"Referral {referral_id}.pdf"


def transaction_id(idempotency_key: str) -> str:
    """A stable Matrix transaction id for one delivery attempt."""
    return "rf" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]


def parse_provider_ref(ref: str) -> tuple[str, str]:
    room_id, _, event_id = ref.partition(" ")
    return room_id, event_id


class MatrixChannel:
    """A :class:`referral.delivery.DeliveryChannel` over the desk's own Matrix device."""

    name = "matrix"

    def __init__(
        self,
        client: Callable[[], nio.AsyncClient],
        engine: Engine,
        prepare: Callable[[str], Awaitable[None]],
    ) -> None:
        self._client = client
        self._engine = engine
        self._prepare = prepare

    async def deliver(
        self, packet: Packet, recipient: Recipient, idempotency_key: str
    ) -> DeliveryReceipt:
        client = self._client()
        room_id = await self.room_for(recipient)
        require_encrypted(client, room_id)
        content = await upload_encrypted(
            client, packet.data, packet_message_body(packet.referral_id), "application/pdf"
        )
        await self._prepare(room_id)
        response = await client.room_send(
            room_id, "m.room.message", content, tx_id=transaction_id(idempotency_key),
            ignore_unverified_devices=IGNORE_UNVERIFIED_DEVICES,
        )
        if not isinstance(response, nio.RoomSendResponse):
            raise ChannelError(f"the homeserver refused the packet: {response.message}")
        return DeliveryReceipt(
            DeliveryStatus.DELIVERED, provider_ref=f"{room_id} {response.event_id}"
        )

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
