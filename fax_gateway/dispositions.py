"""What became of each received fax: the ledger that proves none was lost.

    inbound feed ─► a consumer takes the fax ─► dispose(inbound id, how, reason)
        delivered   posted into its owner's portal (the bridge)
        held        kept for an owner who has not joined the portal yet (the bridge)
        consumed    acted on by the referral desk (e.g. a returned reply sheet)
        operator    nobody can take it — no owner, an owner without a portal, an
                    owner who left — so it goes to the operator fax inbox room
    fax_dispositions (a commit-ordered feed, feed.py) ─► the operator inbox consumer
    undisposed() ─► faxes no consumer has accounted for yet (tests, `curbside fax`)

A fax may be disposed of once per kind (held, then delivered on release), and
recording the same kind again is a no-op, so a consumer's retried work
records once. A consumer that passes its own ``session`` writes the entry in
the transaction that moves its feed cursor: the fax is accounted for exactly
when the consumer's effect commits. Every entry is audited, logged by the
fax's random id (never a number) and counted.
"""

from __future__ import annotations

import enum
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from curbside.audit import AuditLog
from curbside.database import session_scope
from fax_gateway import feed
from fax_gateway.models import FaxDisposition, FaxInbound
from fax_gateway.timing import Clock, SystemClock, as_utc

log = logging.getLogger(__name__)


class Disposition(enum.StrEnum):
    DELIVERED = "delivered"
    HELD = "held"
    CONSUMED = "consumed"
    OPERATOR = "operator"


@dataclass(frozen=True, slots=True)
class DispositionRecord:
    """One entry of the ledger as consumers see it; ``reason`` carries no PHI."""

    seq: int
    inbound_id: str
    disposition: Disposition
    reason: str
    actor: str
    at: datetime


def _record(row: FaxDisposition) -> DispositionRecord:
    return DispositionRecord(
        seq=row.seq, inbound_id=row.inbound_id, disposition=Disposition(row.disposition),
        reason=row.reason, actor=row.actor, at=as_utc(row.at),
    )


class Ledger:
    def __init__(self, engine: Engine, audit: AuditLog, *, clock: Clock | None = None) -> None:
        self._engine = engine
        self._audit = audit
        self._clock = clock or SystemClock()

    def dispose(
        self, inbound_id: str, disposition: Disposition, *, actor: str, reason: str,
        session: Session | None = None,
    ) -> bool:
        """Record what became of a fax; False when that kind was recorded before."""
        if session is not None:
            return self._write(session, inbound_id, disposition, actor, reason)
        with session_scope(self._engine) as own:
            return self._write(own, inbound_id, disposition, actor, reason)

    def _write(
        self, session: Session, inbound_id: str, disposition: Disposition, actor: str,
        reason: str,
    ) -> bool:
        self._seq_of(session, inbound_id)  # raises for a fax we never received
        known = session.scalar(select(FaxDisposition.seq).where(
            FaxDisposition.inbound_id == inbound_id,
            FaxDisposition.disposition == disposition.value))
        if known is not None:
            return False
        self._audit.record(
            session, actor=actor, action="fax.inbound.disposed", record_type="fax_inbound",
            record_id=inbound_id, reason=reason, details={"disposition": disposition.value},
        )
        feed.append(session, FaxDisposition(
            inbound_id=inbound_id, disposition=disposition.value, reason=reason, actor=actor,
            at=self._clock.now(),
        ))
        log.info("inbound fax %s: %s (%s)", inbound_id, disposition.value, reason)
        return True

    @staticmethod
    def _seq_of(session: Session, inbound_id: str) -> int:
        seq = session.scalar(select(FaxInbound.seq).where(FaxInbound.id == inbound_id))
        if seq is None:
            raise KeyError(f"no received fax {inbound_id}")
        return int(seq)

    def after(self, seq: int, limit: int = 100) -> list[DispositionRecord]:
        """Ledger entries with a seq above ``seq``, oldest first (a feed)."""
        with session_scope(self._engine) as session:
            return [_record(r) for r in feed.rows_after(session, FaxDisposition, seq, limit)]

    def undisposed(self, limit: int = 100) -> list[str]:
        """Ids of received faxes no consumer has accounted for, oldest first."""
        with session_scope(self._engine) as session:
            accounted = select(FaxDisposition.inbound_id)
            return list(session.scalars(
                select(FaxInbound.id).where(FaxInbound.id.not_in(accounted))
                .order_by(FaxInbound.seq).limit(limit)))

    def counts(self) -> Counter[Disposition]:
        """How many faxes were disposed of each way."""
        with session_scope(self._engine) as session:
            rows = session.execute(
                select(FaxDisposition.disposition, func.count()).group_by(
                    FaxDisposition.disposition)).all()
        return Counter({Disposition(kind): int(n) for kind, n in rows})
