"""How the bridge keeps its state: every query and write of the bridge's tables.

Handlers decide; this module stores. Each method takes the caller's session,
so the caller decides what commits together (e.g. a held fax and, in the
relay's feed transaction, the cursor that produced it). Fax numbers are looked
up by the gateway's keyed hash (the store is given the gateway's ``number_key``), never
stored or compared in the clear.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.models import (
    AppserviceEvent,
    AppserviceTransaction,
    BridgedFax,
    HeldDelivery,
    KnownNumber,
    Portal,
)

USER_OWNER = "user"
ROOM_OWNER = "room"


@dataclass(frozen=True, slots=True)
class RoutedEvent:
    """What the bridge keeps of an appservice event: where, who, what kind — no content."""

    seq: int
    event_id: str
    room_id: str
    type: str
    sender: str
    state_key: str | None
    membership: str | None


@dataclass(frozen=True, slots=True)
class PortalView:
    room_id: str
    puppet_id: str
    owner_kind: str
    owner_id: str


@dataclass(frozen=True, slots=True)
class FaxLink:
    job_id: str
    event_id: str
    thread_root: str
    room_id: str
    puppet_id: str
    sender: str


@dataclass(frozen=True, slots=True)
class Held:
    """A received fax waiting for ``owner_id`` to join ``room_id``."""

    inbound_id: str
    room_id: str
    puppet_id: str
    owner_id: str


def _portal(row: Portal) -> PortalView:
    return PortalView(row.room_id, row.puppet_id, row.owner_kind, row.owner_id)


class BridgeStore:
    def __init__(self, number_key: Callable[[str], str]) -> None:
        """``number_key``: the gateway's keyed hash of a number (``Router.number_key``)."""
        self._number_key = number_key

    # -- appservice transactions -------------------------------------------

    def record_transaction(
        self, session: Session, txn_id: str, events: list[dict[str, Any]]
    ) -> bool:
        """Keep a transaction and its events' routing facts; False if already seen."""
        if session.get(AppserviceTransaction, txn_id) is not None:
            return False
        session.add(AppserviceTransaction(
            txn_id=txn_id, received_at=datetime.now(UTC), events=len(events)
        ))
        seen: set[str] = set()
        for event in events:
            event_id = event.get("event_id")
            if not isinstance(event_id, str) or event_id in seen:
                continue
            seen.add(event_id)
            if session.scalar(
                select(AppserviceEvent.seq).where(AppserviceEvent.event_id == event_id)
            ) is not None:
                continue
            raw_content = event.get("content")
            content: dict[str, Any] = raw_content if isinstance(raw_content, dict) else {}
            membership = content.get("membership") if event.get("type") == "m.room.member" else None
            state_key = event.get("state_key")
            session.add(AppserviceEvent(
                event_id=event_id,
                txn_id=txn_id,
                room_id=str(event.get("room_id", "")),
                type=str(event.get("type", "")),
                sender=str(event.get("sender", "")),
                state_key=state_key if isinstance(state_key, str) else None,
                membership=membership if isinstance(membership, str) else None,
                handled=False,
            ))
        return True

    def transaction_count(self, session: Session) -> int:
        return len(session.scalars(select(AppserviceTransaction.txn_id)).all())

    def pending_events(self, session: Session, limit: int = 100) -> list[RoutedEvent]:
        rows = session.scalars(
            select(AppserviceEvent)
            .where(AppserviceEvent.handled.is_(False))
            .order_by(AppserviceEvent.seq)
            .limit(limit)
        ).all()
        return [
            RoutedEvent(r.seq, r.event_id, r.room_id, r.type, r.sender, r.state_key, r.membership)
            for r in rows
        ]

    def mark_handled(self, session: Session, seq: int) -> None:
        row = session.get(AppserviceEvent, seq)
        if row is not None:
            row.handled = True

    # -- portals -------------------------------------------------------------

    def portal(self, session: Session, room_id: str, puppet_id: str) -> PortalView | None:
        row = session.get(Portal, (room_id, puppet_id))
        return _portal(row) if row is not None else None

    def add_portal(
        self, session: Session, room_id: str, puppet_id: str, owner_kind: str, owner_id: str,
        *, welcomed: bool = False,
    ) -> bool:
        """Create the portal unless it exists; True when created."""
        if session.get(Portal, (room_id, puppet_id)) is not None:
            return False
        session.add(Portal(
            room_id=room_id, puppet_id=puppet_id, owner_kind=owner_kind, owner_id=owner_id,
            welcomed=welcomed, created_at=datetime.now(UTC),
        ))
        return True

    def unwelcomed(self, session: Session, puppet_id: str) -> list[PortalView]:
        rows = session.scalars(
            select(Portal).where(Portal.puppet_id == puppet_id, Portal.welcomed.is_(False))
        ).all()
        return [_portal(r) for r in rows]

    def mark_welcomed(self, session: Session, room_id: str, puppet_id: str) -> bool:
        row = session.get(Portal, (room_id, puppet_id))
        if row is None or row.welcomed:
            return False
        row.welcomed = True
        return True

    def puppets_with_portals(self, session: Session) -> list[str]:
        return list(session.scalars(select(Portal.puppet_id).distinct()).all())

    def portal_for_owner(
        self, session: Session, puppet_id: str, owner_kind: str, owner_id: str
    ) -> PortalView | None:
        """The newest portal of this number for this owner."""
        row = session.scalars(
            select(Portal)
            .where(Portal.puppet_id == puppet_id, Portal.owner_kind == owner_kind,
                   Portal.owner_id == owner_id)
            .order_by(Portal.created_at.desc())
        ).first()
        return _portal(row) if row is not None else None

    def portals_in_room(self, session: Session, room_id: str) -> list[PortalView]:
        rows = session.scalars(select(Portal).where(Portal.room_id == room_id)).all()
        return [_portal(r) for r in rows]

    # -- the misdirected-fax guard ---------------------------------------------

    def known_name(self, session: Session, room_id: str, number: str) -> str | None:
        row = session.get(KnownNumber, (room_id, self._number_key(number)))
        return row.recipient_name if row is not None else None

    def confirm_number(
        self, session: Session, room_id: str, number: str, name: str, by: str
    ) -> None:
        key = self._number_key(number)
        row = session.get(KnownNumber, (room_id, key))
        if row is None:
            session.add(KnownNumber(
                room_id=room_id, number_hash=key, number=number, recipient_name=name,
                confirmed_by=by, confirmed_at=datetime.now(UTC),
            ))
        else:
            row.recipient_name, row.confirmed_by = name, by
            row.confirmed_at = datetime.now(UTC)

    def known_numbers(self, session: Session, room_id: str) -> list[tuple[str, str]]:
        """(number, recipient name) of every number the room confirmed, by number."""
        rows = session.scalars(select(KnownNumber).where(KnownNumber.room_id == room_id)).all()
        return sorted((r.number, r.recipient_name) for r in rows)

    # -- outbound faxes --------------------------------------------------------

    def link_fax(self, session: Session, link: FaxLink) -> None:
        if session.get(BridgedFax, link.job_id) is None:
            session.add(BridgedFax(
                job_id=link.job_id, event_id=link.event_id, thread_root=link.thread_root,
                room_id=link.room_id, puppet_id=link.puppet_id, sender=link.sender,
            ))

    def fax(self, session: Session, job_id: str) -> FaxLink | None:
        row = session.get(BridgedFax, job_id)
        if row is None:
            return None
        return FaxLink(row.job_id, row.event_id, row.thread_root, row.room_id, row.puppet_id,
                       row.sender)

    # -- received faxes held for a DM's owner ------------------------------------

    def hold(self, session: Session, held: Held) -> None:
        if session.get(HeldDelivery, held.inbound_id) is None:
            session.add(HeldDelivery(
                inbound_id=held.inbound_id, room_id=held.room_id, puppet_id=held.puppet_id,
                owner_id=held.owner_id, held_at=datetime.now(UTC),
            ))

    def held(self, session: Session, room_id: str | None = None) -> list[Held]:
        """Held faxes, oldest first; of one room, or of every room when ``room_id`` is None."""
        query = select(HeldDelivery).order_by(HeldDelivery.held_at)
        if room_id is not None:
            query = query.where(HeldDelivery.room_id == room_id)
        return [Held(r.inbound_id, r.room_id, r.puppet_id, r.owner_id)
                for r in session.scalars(query).all()]

    def release(self, session: Session, inbound_id: str) -> bool:
        """Remove a held fax; False if it was already released (delivered once)."""
        row = session.get(HeldDelivery, inbound_id)
        if row is None:
            return False
        session.delete(row)
        return True
