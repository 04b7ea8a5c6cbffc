"""Append-only, hash-chained audit log.

    audit_head (one row: seq, hash) ──> audit_log rows 1..seq, each
    hash = HMAC(audit key, prev_hash ‖ canonical(row))

Appending locks the head row first (``UPDATE … RETURNING``), so concurrent
writers — bots, the bridge, the CLI, on SQLite or PostgreSQL — are serialised
and the chain never forks. An entry is written in the caller's transaction:
the effect and its audit record commit or vanish together.

``verify`` recomputes the chain: an edited row breaks its own hash, a deleted
row breaks the next row's link, and removing rows from the end no longer
matches the head — unless the head was rewritten too, which only the signed
checkpoints outside the database reveal (:mod:`curbside.audit_anchor`;
``verify_chain`` takes them). The HMAC key lives in the secret config, so someone who can
write the database but not read the secrets cannot forge a consistent chain.

Entries say who, what, which record, when and why; they never carry PHI
values — a record id points at the (encrypted) record instead.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import DateTime, Engine, Integer, String, Text, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from curbside.database import Base, session_scope

GENESIS = "0" * 64


class AuditEntry(Base):
    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    actor: Mapped[str] = mapped_column(String(255), nullable=False)
    action: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    record_type: Mapped[str] = mapped_column(String(64), nullable=False)
    record_id: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    reason: Mapped[str] = mapped_column(Text, nullable=False, default="")
    details: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)


class AuditHead(Base):
    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """One place where the stored chain does not match what was written."""

    seq: int
    problem: str


class Anchor(Protocol):
    """A checkpoint kept outside the database: entry ``seq`` had ``hash`` at ``at``."""

    @property
    def seq(self) -> int: ...
    @property
    def hash(self) -> str: ...
    @property
    def at(self) -> str: ...


@dataclass(frozen=True, slots=True)
class ChainReport:
    """What ``verify_chain`` checked: entries read, checkpoints matched, problems found."""

    entries: int
    checkpoints: int
    problems: list[ChainProblem]


def _timestamp(at: datetime) -> str:
    if at.tzinfo is None:  # SQLite returns naive datetimes; we only ever store UTC
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _digest(key: bytes, prev_hash: str, fields: dict[str, Any]) -> str:
    payload = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key, (prev_hash + payload).encode(), hashlib.sha256).hexdigest()


def _fields(entry: AuditEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "at": _timestamp(entry.at),
        "actor": entry.actor,
        "action": entry.action,
        "record_type": entry.record_type,
        "record_id": entry.record_id,
        "reason": entry.reason,
        "details": entry.details,
    }


class AuditLog:
    """Writes and verifies the audit chain with one HMAC key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the audit key must be at least 16 bytes")
        self._key = key

    def record(
        self,
        session: Session,
        *,
        actor: str,
        action: str,
        record_type: str,
        record_id: str,
        reason: str = "",
        details: dict[str, Any] | None = None,
    ) -> AuditEntry:
        """Append an entry inside ``session``'s transaction (the caller commits)."""
        head = session.execute(
            text("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
        ).one_or_none()
        if head is None:
            raise RuntimeError("audit_head is missing: run the database migrations")
        seq, prev_hash = int(head[0]), str(head[1])
        entry = AuditEntry(
            seq=seq,
            at=datetime.now(UTC),
            actor=actor,
            action=action,
            record_type=record_type,
            record_id=record_id,
            reason=reason,
            details=json.dumps(details or {}, sort_keys=True),
            prev_hash=prev_hash,
            hash="",
        )
        entry.hash = _digest(self._key, prev_hash, _fields(entry))
        session.add(entry)
        session.execute(
            text("UPDATE audit_head SET hash = :hash WHERE id = 1"), {"hash": entry.hash}
        )
        session.flush()
        return entry

    def verify(self, engine: Engine) -> list[ChainProblem]:
        """Recompute the whole chain; an empty list means it is intact."""
        return self.verify_chain(engine).problems

    def verify_chain(self, engine: Engine, anchors: Sequence[Anchor] = ()) -> ChainReport:
        """Recompute the chain and hold it against ``anchors`` (checkpoints kept elsewhere)."""
        problems: list[ChainProblem] = []
        expected = {anchor.seq: anchor for anchor in anchors}
        matched = 0
        with session_scope(engine) as session:
            head = session.get(AuditHead, 1)
            expected_seq, prev_hash, count = 0, GENESIS, 0
            for entry in self._entries(session):
                count += 1
                expected_seq += 1
                if entry.seq != expected_seq:
                    problems.append(
                        ChainProblem(
                            expected_seq, f"entries {expected_seq}..{entry.seq - 1} missing"
                        )
                    )
                    expected_seq = entry.seq
                if entry.prev_hash != prev_hash:
                    problems.append(ChainProblem(entry.seq, "link to the previous entry is broken"))
                if _digest(self._key, entry.prev_hash, _fields(entry)) != entry.hash:
                    problems.append(
                        ChainProblem(entry.seq, "entry was altered after it was written")
                    )
                anchor = expected.pop(entry.seq, None)
                if anchor is not None:
                    if anchor.hash == entry.hash:
                        matched += 1
                    else:
                        problems.append(ChainProblem(
                            entry.seq, f"entry differs from the checkpoint of {anchor.at}"
                        ))
                prev_hash = entry.hash
            if head is None:
                problems.append(ChainProblem(0, "audit head row is missing"))
            elif (head.seq, head.hash) != (expected_seq, prev_hash):
                problems.append(
                    ChainProblem(
                        head.seq, f"chain ends at entry {expected_seq}, head says {head.seq}"
                    )
                )
            for seq, anchor in sorted(expected.items()):
                if seq > expected_seq:
                    problems.append(ChainProblem(seq, (
                        f"entries {expected_seq + 1}..{seq} missing: the checkpoint of "
                        f"{anchor.at} saw entry {seq}, the chain now ends at {expected_seq} "
                        "(cut short after that checkpoint)"
                    )))
                else:
                    problems.append(ChainProblem(
                        seq, f"entry {seq}, checkpointed at {anchor.at}, is missing"
                    ))
        return ChainReport(count, matched, problems)

    @staticmethod
    def _entries(session: Session) -> Iterator[AuditEntry]:
        yield from session.scalars(
            select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=1000)
        )
