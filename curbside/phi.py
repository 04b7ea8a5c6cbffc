"""PHI field encryption: AES-256-GCM data keys wrapped by a master key.

    master key (secret config) ──wraps──> data keys (table ``phi_keys``, one
    primary) ──encrypt──> field tokens ``v1.<key id>.<nonce ‖ ciphertext>``

Each token names the data key that sealed it, so a rotation only adds a new
primary key: old tokens keep decrypting while ``curbside keys rotate``
re-encrypts them in the background, and nothing has to stop. The associated
data binds a token to the column it was written for, so a ciphertext copied
into another column does not decrypt.

Model columns use :class:`EncryptedText`; the service installs the cipher once
at start with :func:`install_cipher`. Every plaintext that passes through here
is also handed to the log redactor, so a value that slipped into a log call is
masked.
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import DateTime, Engine, LargeBinary, String, Text, select
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from curbside import redaction
from curbside.database import Base, session_scope

TOKEN_VERSION = "v1"
NONCE_BYTES = 12
KEY_BYTES = 32
_MASTER_AAD = b"curbside:phi-data-key"


class PhiKeyError(Exception):
    """A token cannot be decrypted: unknown key id, wrong column, or tampered."""


class PhiKey(Base):
    """A data key, stored wrapped (encrypted) by the master key."""

    __tablename__ = "phi_keys"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


def decode_master_key(text: str) -> bytes:
    """Parse the configured master key (urlsafe base64 of 32 random bytes)."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError("must be urlsafe base64 of 32 bytes") from exc
    if len(raw) != KEY_BYTES:
        raise ValueError(f"must decode to {KEY_BYTES} bytes, got {len(raw)}")
    return raw


def new_master_key() -> str:
    """A fresh master key in the form the config file keeps it."""
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode().rstrip("=")


@dataclass
class FieldCipher:
    """Encrypts and decrypts PHI fields with a keyring of data keys."""

    keys: dict[str, bytes]
    primary_key_id: str
    _aead: dict[str, AESGCM] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.primary_key_id not in self.keys:
            raise PhiKeyError(f"primary key {self.primary_key_id!r} is not in the keyring")
        self._aead = {kid: AESGCM(key) for kid, key in self.keys.items()}

    def encrypt_bytes(self, data: bytes, aad: bytes) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead[self.primary_key_id].encrypt(nonce, data, aad)
        body = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{TOKEN_VERSION}.{self.primary_key_id}.{body}"

    def decrypt_bytes(self, token: str, aad: bytes) -> bytes:
        try:
            version, key_id, body = token.split(".", 2)
        except ValueError as exc:
            raise PhiKeyError("not a PHI token") from exc
        if version != TOKEN_VERSION:
            raise PhiKeyError(f"unsupported token version {version!r}")
        aead = self._aead.get(key_id)
        if aead is None:
            raise PhiKeyError(f"data key {key_id!r} is not in the keyring")
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        try:
            return aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad)
        except InvalidTag as exc:
            raise PhiKeyError("token does not authenticate (tampered or wrong column)") from exc

    def encrypt_text(self, text: str, aad: bytes) -> str:
        redaction.remember(text)
        return self.encrypt_bytes(text.encode(), aad)

    def decrypt_text(self, token: str, aad: bytes) -> str:
        text = self.decrypt_bytes(token, aad).decode()
        redaction.remember(text)
        return text

    @staticmethod
    def key_id_of(token: str) -> str:
        return token.split(".", 2)[1]


def _wrap(master: bytes, key_id: str, key: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(master).encrypt(nonce, key, _MASTER_AAD + key_id.encode())


def _unwrap(master: bytes, key_id: str, wrapped: bytes) -> bytes:
    try:
        return AESGCM(master).decrypt(
            wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _MASTER_AAD + key_id.encode()
        )
    except InvalidTag as exc:
        raise PhiKeyError(
            f"data key {key_id!r} does not open with the configured master key "
            "(secrets.master_key changed?)"
        ) from exc


def add_data_key(engine: Engine, master: bytes) -> str:
    """Create a new primary data key and return its id."""
    key_id = datetime.now(UTC).strftime("k%Y%m%d%H%M%S") + secrets.token_hex(3)
    with session_scope(engine) as session:
        session.add(
            PhiKey(
                key_id=key_id,
                wrapped=_wrap(master, key_id, secrets.token_bytes(KEY_BYTES)),
                created_at=datetime.now(UTC),
            )
        )
    return key_id


def load_cipher(engine: Engine, master: bytes) -> FieldCipher:
    """Load the keyring; the newest unretired key is primary. Creates one if none."""
    with session_scope(engine) as session:
        rows = session.scalars(select(PhiKey).order_by(PhiKey.created_at, PhiKey.key_id)).all()
        keyring = {row.key_id: _unwrap(master, row.key_id, row.wrapped) for row in rows}
        active = [row.key_id for row in rows if row.retired_at is None]
    if not active:
        add_data_key(engine, master)
        return load_cipher(engine, master)
    return FieldCipher(keys=keyring, primary_key_id=active[-1])


_installed: FieldCipher | None = None


def install_cipher(cipher: FieldCipher) -> None:
    """Make ``cipher`` the one :class:`EncryptedText` columns use in this process."""
    global _installed
    _installed = cipher


def installed_cipher() -> FieldCipher:
    if _installed is None:
        raise PhiKeyError("no PHI cipher installed: call curbside.phi.install_cipher() at start")
    return _installed


class EncryptedText(TypeDecorator[str]):
    """A text column stored as an AES-GCM token bound to its column name."""

    impl = Text
    cache_ok = True

    def __init__(self, column_label: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.column_label = column_label

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return installed_cipher().encrypt_text(value, self.column_label.encode())

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return installed_cipher().decrypt_text(value, self.column_label.encode())
