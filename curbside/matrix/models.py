"""Tables of the Matrix runtime (kept in step with migration ``curbside_0002``).

Secrets and message contents never sit in these tables in the clear: access
tokens, cross-signing seeds, inbox payloads and outbox contents are
:class:`~curbside.phi.FieldCipher` tokens whose associated data names the row,
so a token copied into another row does not decrypt.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from curbside.database import Base

# Inbox states: an event waits (pending), waits for its room key
# (undecryptable), or its effects have been committed (done).
PENDING = "pending"
UNDECRYPTABLE = "undecryptable"
DONE = "done"


class MatrixAccount(Base):
    """One bot's login: the device it restores on every start."""

    __tablename__ = "matrix_accounts"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(255))
    access_token: Mapped[str] = mapped_column(Text)
    cross_signing_seeds: Mapped[str | None] = mapped_column(Text, nullable=True)
    sync_token: Mapped[str | None] = mapped_column(String(255), nullable=True)


class MatrixInboxEvent(Base):
    """A room event a bot received, kept until its handler's effects commit."""

    __tablename__ = "matrix_inbox"

    account: Mapped[str] = mapped_column(String(255), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    room_id: Mapped[str] = mapped_column(String(255), index=True)
    sender: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16), index=True)
    payload: Mapped[str] = mapped_column(Text)
    session_id: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    received_at: Mapped[float] = mapped_column(Float)
    sender_notified: Mapped[bool] = mapped_column(Boolean, default=False)


class MatrixOutboxMessage(Base):
    """A message a handler decided to send; delivered with a stable txn id."""

    __tablename__ = "matrix_outbox"
    __table_args__ = (UniqueConstraint("account", "txn_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(String(255), index=True)
    txn_id: Mapped[str] = mapped_column(String(64))
    room_id: Mapped[str] = mapped_column(String(255))
    event_type: Mapped[str] = mapped_column(String(255))
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float)
    sent_event_id: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    failed_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # "<hook>:<argument>" run by the runtime once the event is accepted (posting.on_sent).
    sent_hook: Mapped[str | None] = mapped_column(String(255), nullable=True)


class MatrixDeviceRecord(Base):
    """Device keys as first seen (trust on first use), and whether we refuse them."""

    __tablename__ = "matrix_devices"

    account: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    ed25519: Mapped[str] = mapped_column(String(64))
    curve25519: Mapped[str] = mapped_column(String(64))
    first_seen: Mapped[float] = mapped_column(Float)
    blacklisted: Mapped[bool] = mapped_column(Boolean, default=False)


class MatrixFeedCursor(Base):
    """How far one declared feed consumer of a bot has got, and the item failing now.

    ``failures`` counts failed attempts at the item after ``position`` (its
    own position is ``failing_position``), so a poisoned item is moved aside
    after a bounded number of tries even across restarts.
    """

    __tablename__ = "matrix_feed_cursors"

    account: Mapped[str] = mapped_column(String(255), primary_key=True)
    consumer: Mapped[str] = mapped_column(String(128), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    failing_position: Mapped[int | None] = mapped_column(Integer, nullable=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)


class MatrixDeadLetter(Base):
    """Work a bot gave up on after repeated failures: kept for the operator, never lost."""

    __tablename__ = "matrix_dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(String(255), index=True)
    source: Mapped[str] = mapped_column(String(128))
    item: Mapped[str] = mapped_column(String(255))
    error: Mapped[str] = mapped_column(Text)
    at: Mapped[float] = mapped_column(Float)
