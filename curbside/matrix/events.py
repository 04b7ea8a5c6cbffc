"""The event a handler sees: plain data, already decrypted, independent of nio."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class IncomingEvent:
    """A room event as delivered to handlers.

    ``encrypted`` tells whether it arrived end-to-end encrypted, so a handler
    can refuse to act on PHI sent in the clear.
    """

    event_id: str
    room_id: str
    sender: str
    type: str
    origin_server_ts: int
    content: dict[str, Any] = field(default_factory=dict)
    encrypted: bool = False

    @property
    def work_key(self) -> str:
        """Names the event once in the dispatcher (a replayed sync is not queued twice)."""
        return self.event_id

    @property
    def body(self) -> str:
        body = self.content.get("body")
        return body if isinstance(body, str) else ""

    @property
    def msgtype(self) -> str | None:
        msgtype = self.content.get("msgtype")
        return msgtype if isinstance(msgtype, str) else None

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "event_id": self.event_id,
                "room_id": self.room_id,
                "sender": self.sender,
                "type": self.type,
                "origin_server_ts": self.origin_server_ts,
                "content": self.content,
                "encrypted": self.encrypted,
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> IncomingEvent:
        data = json.loads(raw)
        return cls(
            event_id=data["event_id"],
            room_id=data["room_id"],
            sender=data["sender"],
            type=data["type"],
            origin_server_ts=int(data["origin_server_ts"]),
            content=data["content"],
            encrypted=bool(data["encrypted"]),
        )
