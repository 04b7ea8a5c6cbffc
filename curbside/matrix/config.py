"""Value types the Matrix runtime is configured with.

The CLI maps the operator's YAML settings onto these; tests build them
directly. They carry no behaviour, so a bot can be started from any source of
settings without the runtime knowing about files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy import Engine

from curbside.audit import AuditLog


class Cipher(Protocol):
    """What the runtime needs of :class:`curbside.phi.FieldCipher`."""

    def encrypt_bytes(self, data: bytes, aad: bytes) -> str: ...

    def decrypt_bytes(self, token: str, aad: bytes) -> bytes: ...


@dataclass(frozen=True, slots=True)
class BotAccount:
    """A bot's Matrix account. The password is used for the first login only
    (and for cross-signing user-interactive auth); later starts restore the
    stored device.

    An application-service user (a bridge puppet) has no password: it sets
    ``appservice_token`` (the registration's as_token) and logs in with
    ``m.login.application_service`` instead; ``password`` stays empty.
    """

    user_id: str
    password: str
    display_name: str
    appservice_token: str | None = None


@dataclass(frozen=True, slots=True)
class RuntimeConfig:
    """Where a bot keeps its state and how it talks to the homeserver.

    ``pickle_key`` encrypts nio's Olm/Megolm store in ``store_dir``; it must be
    a secret of the deployment, never nio's built-in default.
    ``undecryptable_notice_after`` is how long (seconds) an event whose room
    key is missing waits before the sender is told.
    ``max_concurrent_handlers`` bounds handlers running at once over all rooms.
    ``audit`` records what the runtime's supervisor gives up on; ``operator_room``
    is where it tells the operator (logged at ERROR when there is none).
    """

    homeserver_url: str
    store_dir: Path
    pickle_key: str
    engine: Engine
    cipher: Cipher
    undecryptable_notice_after: float = 10.0
    max_concurrent_handlers: int = 8
    sync_timeout_ms: int = 30_000
    audit: AuditLog | None = None
    operator_room: str | None = None

    def __post_init__(self) -> None:
        if not self.pickle_key or self.pickle_key == "DEFAULT_KEY":
            raise ValueError("pickle_key must be a deployment secret, not nio's default")
