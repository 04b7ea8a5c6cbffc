"""Signed checkpoints of the audit chain, kept where the database cannot rewrite them.

    periodic job ──take()──> newest entry (seq, hash) ──sign──> one JSON line
        appended (fsync) to the checkpoint file on separate storage, and a
        notice in the operator room naming seq and hash
    curbside audit verify ──> chain recomputed and every checkpoint matched:
        a checkpoint whose entry is gone or changed names the gap

The chain alone cannot show a cut at its end: whoever can write the database
can delete the newest entries and set ``audit_head`` to the last remaining
hash. A checkpoint says "entry 812 existed with this hash at 10:15"; a chain
that now ends at 790 is then caught. Each line is signed (HMAC-SHA256) with a
key derived from the audit key in the secret config, never stored in the
database, so the file cannot be forged by the database's writer either; put
the file on storage that writer cannot reach (``audit.checkpoint_file``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from curbside.audit import AuditEntry


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Entry ``seq`` had ``hash`` at ``at``; ``mac`` signs the three."""

    seq: int
    hash: str
    at: str
    mac: str


def _signing_key(audit_key: bytes) -> bytes:
    return hmac.new(audit_key, b"curbside:audit-checkpoint", hashlib.sha256).digest()


class CheckpointFile:
    """An append-only file of signed checkpoints, one JSON object per line."""

    def __init__(self, path: Path, audit_key: bytes) -> None:
        self.path = path
        self._key = _signing_key(audit_key)

    def _mac(self, seq: int, hash_: str, at: str) -> str:
        return hmac.new(self._key, f"{seq}|{hash_}|{at}".encode(), hashlib.sha256).hexdigest()

    def read(self) -> tuple[list[Checkpoint], list[str]]:
        """The checkpoints whose signature holds, and a problem line for each that does not."""
        if not self.path.exists():
            return [], []
        good: list[Checkpoint] = []
        problems: list[str] = []
        for number, line in enumerate(self.path.read_text().splitlines(), start=1):
            try:
                checkpoint = Checkpoint(**json.loads(line))
            except (ValueError, TypeError):
                problems.append(f"checkpoint line {number} is not a checkpoint")
                continue
            expected = self._mac(checkpoint.seq, checkpoint.hash, checkpoint.at)
            if not hmac.compare_digest(expected, str(checkpoint.mac)):
                problems.append(f"checkpoint line {number} (entry {checkpoint.seq}) is not "
                                "signed with this deployment's audit key")
                continue
            good.append(checkpoint)
        return good, problems

    def last(self) -> Checkpoint | None:
        good, _ = self.read()
        return max(good, key=lambda c: c.seq, default=None)

    def append(self, seq: int, hash_: str, at: datetime) -> Checkpoint:
        """Sign and append one checkpoint, synced to disk before returning."""
        stamp = at.astimezone(UTC).isoformat(timespec="seconds")
        checkpoint = Checkpoint(seq, hash_, stamp, self._mac(seq, hash_, stamp))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as handle:
            handle.write(json.dumps(asdict(checkpoint), sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        return checkpoint

    def take(self, session: Session, now: datetime) -> Checkpoint | None:
        """Checkpoint the newest committed entry; None when nothing was added since the last."""
        newest = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
        if newest is None:
            return None
        last = self.last()
        if last is not None and last.seq >= newest.seq:
            return None
        return self.append(newest.seq, newest.hash, now)


def notice(checkpoint: Checkpoint) -> str:
    """The operator-room line for a checkpoint: enough to compare with the file by eye."""
    return (f"Audit checkpoint: entry {checkpoint.seq}, hash {checkpoint.hash[:16]}…, "
            f"at {checkpoint.at} (signature {checkpoint.mac[:12]}…). `curbside audit verify` "
            "compares the chain with every checkpoint.")
