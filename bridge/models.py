"""The bridge's tables. Handlers never touch these directly: ``store.py`` does.

* ``bridge_transactions`` / ``bridge_events`` — every appservice transaction
  and the routing facts of its events (no content), recorded before the
  homeserver gets its 200, so a retried transaction is recognised.
* ``bridge_portals`` — one row per room ⇄ fax-number conversation.
* ``bridge_known_numbers`` — numbers a room confirmed (misdirected-fax guard),
  by keyed hash; no fax number is stored in the clear.
* ``bridge_faxes`` — which Matrix event became which gateway job.
* (how far the status and inbound feeds were relayed is the kernel's
  ``matrix_feed_cursors``, under the relay's account: see bridge.relay)
* ``bridge_held_deliveries`` — received faxes held until a new DM's owner joins.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from curbside.database import Base
from curbside.phi import EncryptedText


class AppserviceTransaction(Base):
    __tablename__ = "bridge_transactions"

    txn_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    events: Mapped[int] = mapped_column(Integer)


class AppserviceEvent(Base):
    __tablename__ = "bridge_events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    txn_id: Mapped[str] = mapped_column(String(255))
    room_id: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(255))
    sender: Mapped[str] = mapped_column(String(255))
    state_key: Mapped[str | None] = mapped_column(String(255))
    membership: Mapped[str | None] = mapped_column(String(32))
    handled: Mapped[bool] = mapped_column(Boolean, default=False, index=True)


class Portal(Base):
    __tablename__ = "bridge_portals"

    room_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    puppet_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    owner_kind: Mapped[str] = mapped_column(String(16))  # "user" (a DM) or "room"
    owner_id: Mapped[str] = mapped_column(String(255), index=True)
    welcomed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class KnownNumber(Base):
    """A number a room confirmed, keyed by the gateway's keyed hash of it (as
    ``fax_routes`` is); the digits, kept only to list them, are encrypted."""

    __tablename__ = "bridge_known_numbers"

    room_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    number_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    number: Mapped[str] = mapped_column(EncryptedText("bridge_known_numbers.number"))
    recipient_name: Mapped[str] = mapped_column(
        EncryptedText("bridge_known_numbers.recipient_name")
    )
    confirmed_by: Mapped[str] = mapped_column(String(255))
    confirmed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class BridgedFax(Base):
    __tablename__ = "bridge_faxes"

    job_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    thread_root: Mapped[str] = mapped_column(String(255))
    room_id: Mapped[str] = mapped_column(String(255))
    puppet_id: Mapped[str] = mapped_column(String(255))
    sender: Mapped[str] = mapped_column(String(255))


class HeldDelivery(Base):
    """A received fax waiting for its new DM's owner to join (see bridge.portal)."""

    __tablename__ = "bridge_held_deliveries"

    inbound_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    room_id: Mapped[str] = mapped_column(String(255), index=True)
    puppet_id: Mapped[str] = mapped_column(String(255))
    owner_id: Mapped[str] = mapped_column(String(255))
    held_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
