"""Commit-ordered feeds: a row's seq is drawn as its transaction's last write.

    writer:   effect ── audit entry ── UPDATE fax_feed_heads SET seq = seq + 1
              WHERE feed = <table> RETURNING seq ── INSERT row (that seq) ── COMMIT
    consumer: SELECT … WHERE seq > cursor ORDER BY seq; cursor = last seq read

Consumers of the job-status feed (``fax_job_events``) and of the inbound feed
(``fax_inbound``) keep one number, the highest seq they have read. That is
sound only if a row can never become visible after a row with a higher seq,
i.e. if the rows of a feed commit in seq order. A database sequence (SERIAL,
SQLite's rowid) does not promise that on PostgreSQL: the number is handed out
at INSERT, so a transaction that took 5 and commits after the one that took 6
hides row 5 from a consumer that has already moved on to 6 — for good.

So each feed has a head row, and :func:`append` takes the next number from it
with ``UPDATE … RETURNING``. The row lock is held until the transaction ends,
so the next writer of that feed gets its number only after this one committed
(PostgreSQL re-reads the committed head before it increments it) or rolled
back (the number is handed out again: seqs have no gaps). Numbers are thus
given out in commit order, and a consumer that has read seq N has seen every
row with a lower seq. On SQLite writers are serialised anyway; there the head
costs one small UPDATE.

Taking the number last keeps the lock short and the lock order fixed: every
feed writer takes the audit head (``curbside/audit.py``) first and the feed
head second, so two writers cannot deadlock, and the only thing serialised
that was not before is the INSERT of the row. Why not the alternatives:
claiming rows per consumer with ``FOR UPDATE SKIP LOCKED`` needs a claims
table per consumer and changes what consumers hold (today an int cursor, in
the bridge and the referral desk); reading only below the oldest running
transaction (``pg_snapshot_xmin``) works on PostgreSQL alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fax_gateway.models import FeedHead, FeedRow

Row = TypeVar("Row", bound=FeedRow)


def append(session: Session, row: FeedRow) -> None:
    """Give ``row`` the next seq of its feed and insert it.

    Call it as the transaction's last write, after the audit entry: from here
    to the commit every other writer of this feed waits.
    """
    row.seq = session.execute(
        update(FeedHead)
        .where(FeedHead.feed == type(row).__tablename__)
        .values(seq=FeedHead.seq + 1)
        .returning(FeedHead.seq)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    session.add(row)
    session.flush()


def rows_after(session: Session, model: type[Row], seq: int, limit: int) -> Sequence[Row]:
    """Up to ``limit`` rows of the feed ``model`` with a seq above ``seq``, oldest first."""
    return session.scalars(
        select(model).where(model.seq > seq).order_by(model.seq).limit(limit)
    ).all()
