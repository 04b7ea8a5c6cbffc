"""Received faxes: stored once, converted to PDF, routed, then announced.

    ReceivedFax ──replay? (transport, provider fax id) ── yes ──> existing record
        │ no
        ├─ the sandbox checks it (PDF or TIFF within the document limits, else
        │  DocumentRefused: 413/415/422) and makes a TIFF a lossless PDF (inbound_pdf)
        ├─ original stored encrypted, with the PDF
        ├─ owner = routing table (called number) or the default
        └─ audit entry + row (its seq drawn last, feed.py) commit together
              ──> subscribers' queues get the record

The caller (a webhook) acknowledges only after :meth:`Inbox.receive`
returned, i.e. after the commit, so a provider that sees no answer retries
and the retry is a harmless replay. Subscribers in this process get an
:class:`asyncio.Queue`; other processes poll :meth:`Inbox.received_after`
with a cursor, which never skips a fax that committed late because rows get
their seq as their transaction's last write (:func:`fax_gateway.feed.append`).
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from curbside.audit import AuditLog
from curbside.database import session_scope
from fax_gateway import feed
from fax_gateway.models import FaxInbound
from fax_gateway.routing import Owner, OwnerKind, Router
from fax_gateway.sandbox import Sandbox
from fax_gateway.storage import DocumentStore
from fax_gateway.timing import Clock, SystemClock, as_utc
from fax_gateway.transports.base import ContentKind, ReceivedFax

RECORD_TYPE = "fax_inbound"


@dataclass(frozen=True, slots=True)
class InboundRecord:
    """A stored inbound fax as consumers see it (numbers stay encrypted)."""

    seq: int
    id: str
    transport: str
    provider_fax_id: str
    owner: Owner
    pages: int
    received_at: datetime


def _record(row: FaxInbound) -> InboundRecord:
    return InboundRecord(
        seq=row.seq,
        id=row.id,
        transport=row.transport,
        provider_fax_id=row.provider_fax_id,
        owner=Owner(OwnerKind(row.owner_kind), row.owner_id),
        pages=row.pages,
        received_at=as_utc(row.received_at),
    )


@dataclass(frozen=True, slots=True)
class InboundEnvelope:
    """Who sent a stored fax to which number, for the consumer delivering it.

    The feed (:class:`InboundRecord`) carries no numbers; a consumer that must
    name them to the fax's owner asks for this, one fax at a time. The numbers
    are PHI-adjacent: shown to the owner, never logged.
    """

    id: str
    from_number: str | None
    to_number: str
    pages: int
    received_at: datetime


class Inbox:
    def __init__(
        self,
        engine: Engine,
        store: DocumentStore,
        audit: AuditLog,
        router: Router,
        *,
        sandbox: Sandbox,
        clock: Clock | None = None,
    ) -> None:
        self._engine = engine
        self._store = store
        self._audit = audit
        self.router = router
        self._sandbox = sandbox
        self._clock = clock or SystemClock()
        self._subscribers: list[asyncio.Queue[InboundRecord]] = []

    def find(self, transport: str, provider_fax_id: str) -> InboundRecord | None:
        with session_scope(self._engine) as session:
            row = session.scalars(
                select(FaxInbound).where(
                    FaxInbound.transport == transport,
                    FaxInbound.provider_fax_id == provider_fax_id,
                )
            ).first()
            return _record(row) if row else None

    def accept(self, fax: ReceivedFax) -> tuple[InboundRecord, bool]:
        """Store ``fax`` durably; (record, True) if new, (existing, False) on replay."""
        existing = self.find(fax.transport, fax.provider_fax_id)
        if existing is not None:
            return existing, False
        pdf, facts = self._sandbox.as_pdf(fax.content, kinds=(ContentKind.PDF, ContentKind.TIFF))
        pages = facts.pages
        document_ref = self._store.put(pdf)
        original_ref = self._store.put(fax.content) if facts.kind == ContentKind.TIFF else None
        try:
            with session_scope(self._engine) as session:
                owner = self.router.owner_of(session, fax.to_number)
                row = FaxInbound(
                    id=secrets.token_hex(16),
                    transport=fax.transport,
                    provider_fax_id=fax.provider_fax_id,
                    from_number=fax.from_number,
                    to_number=fax.to_number,
                    owner_kind=owner.kind.value,
                    owner_id=owner.id,
                    pages=pages,
                    document_ref=document_ref,
                    original_ref=original_ref,
                    received_at=self._clock.now(),
                )
                self._audit.record(
                    session,
                    actor=f"fax:{fax.transport}",
                    action="fax.inbound.received",
                    record_type=RECORD_TYPE,
                    record_id=row.id,
                    reason="fax received",
                    details={
                        "provider_fax_id": fax.provider_fax_id,
                        "owner_kind": owner.kind.value,
                        "owner_id": owner.id,
                        "pages": pages,
                    },
                )
                feed.append(session, row)
                record = _record(row)
        except IntegrityError:  # the same fax, stored by a concurrent delivery
            self._discard(document_ref, original_ref)
            existing = self.find(fax.transport, fax.provider_fax_id)
            if existing is None:
                raise
            return existing, False
        except BaseException:  # nothing half-written: no file outlives a failed commit
            self._discard(document_ref, original_ref)
            raise
        return record, True

    def _discard(self, *refs: str | None) -> None:
        for ref in refs:
            if ref:
                self._store.delete(ref)

    async def receive(self, fax: ReceivedFax) -> bool:
        """Async :meth:`accept`; announces new faxes to subscribers after the commit."""
        record, created = await asyncio.to_thread(self.accept, fax)
        if created:
            for queue in self._subscribers:
                queue.put_nowait(record)
        return created

    def subscribe(self) -> asyncio.Queue[InboundRecord]:
        """A queue that gets every fax received by this process from now on."""
        queue: asyncio.Queue[InboundRecord] = asyncio.Queue()
        self._subscribers.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[InboundRecord]) -> None:
        self._subscribers.remove(queue)

    def received_after(self, seq: int, limit: int = 100) -> list[InboundRecord]:
        """Inbound faxes with a sequence number above ``seq``, oldest first."""
        with session_scope(self._engine) as session:
            return [_record(row) for row in feed.rows_after(session, FaxInbound, seq, limit)]

    def document(self, inbound_id: str, *, actor: str, reason: str) -> bytes:
        """The received fax as PDF; every read is audited (it is PHI)."""
        with session_scope(self._engine) as session:
            row = session.scalars(select(FaxInbound).where(FaxInbound.id == inbound_id)).one()
            self._audit.record(
                session,
                actor=actor,
                action="fax.inbound.read",
                record_type=RECORD_TYPE,
                record_id=inbound_id,
                reason=reason,
            )
            ref = row.document_ref
        return self._store.get(ref)

    def envelope(self, inbound_id: str) -> InboundEnvelope:
        """The numbers and facts of one received fax (not its document)."""
        with session_scope(self._engine) as session:
            row = session.scalars(select(FaxInbound).where(FaxInbound.id == inbound_id)).one()
            return InboundEnvelope(
                id=row.id,
                from_number=row.from_number,
                to_number=row.to_number,
                pages=row.pages,
                received_at=as_utc(row.received_at),
            )
