"""Storage of the Matrix runtime: accounts, inbox, outbox, device records.

Handlers and the runtime call these functions; they are the only place that
writes SQL for the runtime's tables. Everything secret or patient-related is
sealed with the cipher, with the row's identity as associated data.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Update, func, inspect, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from curbside.matrix.config import Cipher
from curbside.matrix.events import IncomingEvent
from curbside.matrix.models import (
    DONE,
    PENDING,
    UNDECRYPTABLE,
    MatrixAccount,
    MatrixDeadLetter,
    MatrixDeviceRecord,
    MatrixFeedCursor,
    MatrixInboxEvent,
    MatrixOutboxMessage,
)

# Session.info key under which enqueue() keeps the rows a session queued.
_ENQUEUED = "curbside.matrix.enqueued"


def _aad(*parts: str) -> bytes:
    return "\x1f".join(parts).encode()


def _execute_update(session: Session, statement: Update) -> int:
    """Run an UPDATE as plain SQL in the session's transaction; the rows it changed.

    The runtime's updates touch rows no session holds as objects, so the
    ORM's bookkeeping for them (finding and refreshing affected objects) is
    pure cost on the path between a received event and its reply.
    """
    return session.connection().execute(statement).rowcount


def _insert_if_new(session: Session, table: Any, values: dict[str, Any]) -> bool:
    """INSERT unless the primary key exists: one statement instead of a read then a write."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    key = inspect(table).primary_key[0]
    statement = dialect.insert(table).values(**values).on_conflict_do_nothing().returning(key)
    # RETURNING, not rowcount: drivers need not count rows an INSERT wrote.
    return session.connection().execute(statement).first() is not None


@dataclass(frozen=True, slots=True)
class StoredLogin:
    user_id: str
    device_id: str
    access_token: str
    sync_token: str | None
    cross_signing_seeds: bytes | None


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    txn_id: str
    room_id: str
    event_type: str
    content: dict[str, Any]
    sent_hook: str | None = None

    @property
    def work_key(self) -> str:
        """Names the row once in the sender, whichever load found it."""
        return self.txn_id


@dataclass(frozen=True, slots=True)
class Undecryptable:
    event_id: str
    room_id: str
    sender: str
    session_id: str | None
    source: dict[str, Any]
    received_at: float
    sender_notified: bool


class RuntimeStore:
    """Storage for one bot account."""

    def __init__(self, account: str, cipher: Cipher) -> None:
        self.account = account
        self._cipher = cipher

    # -- login ---------------------------------------------------------------

    def load_login(self, session: Session) -> StoredLogin | None:
        row = session.get(MatrixAccount, self.account)
        if row is None:
            return None
        seeds = None
        if row.cross_signing_seeds is not None:
            seeds = self._cipher.decrypt_bytes(
                row.cross_signing_seeds, _aad("matrix_accounts.cross_signing_seeds", self.account)
            )
        token = self._cipher.decrypt_bytes(
            row.access_token, _aad("matrix_accounts.access_token", self.account)
        ).decode()
        return StoredLogin(row.user_id, row.device_id, token, row.sync_token, seeds)

    def save_login(self, session: Session, device_id: str, access_token: str) -> None:
        sealed = self._cipher.encrypt_bytes(
            access_token.encode(), _aad("matrix_accounts.access_token", self.account)
        )
        row = session.get(MatrixAccount, self.account)
        if row is None:
            session.add(
                MatrixAccount(user_id=self.account, device_id=device_id, access_token=sealed)
            )
        else:
            row.device_id, row.access_token, row.sync_token = device_id, sealed, None

    def save_cross_signing_seeds(self, session: Session, seeds: bytes) -> None:
        row = session.get_one(MatrixAccount, self.account)
        row.cross_signing_seeds = self._cipher.encrypt_bytes(
            seeds, _aad("matrix_accounts.cross_signing_seeds", self.account)
        )

    def save_sync_token(self, session: Session, token: str) -> None:
        _execute_update(
            session,
            update(MatrixAccount)
            .where(MatrixAccount.user_id == self.account)
            .values(sync_token=token),
        )

    # -- inbox ---------------------------------------------------------------

    def add_event(self, session: Session, event: IncomingEvent) -> bool:
        """Keep a received event; False when it was already known (a replayed sync)."""
        return self._keep_inbox_row(
            session, event.event_id, event.room_id, event.sender, PENDING, event.to_json(), None
        )

    def add_undecryptable(
        self, session: Session, room_id: str, source: dict[str, Any], session_id: str | None
    ) -> bool:
        event_id = str(source["event_id"])
        return self._keep_inbox_row(
            session, event_id, room_id, str(source["sender"]), UNDECRYPTABLE,
            json.dumps(source).encode(), session_id,
        )

    def _keep_inbox_row(
        self, session: Session, event_id: str, room_id: str, sender: str, state: str,
        payload: bytes, session_id: str | None,
    ) -> bool:
        return _insert_if_new(session, MatrixInboxEvent, {
            "account": self.account,
            "event_id": event_id,
            "room_id": room_id,
            "sender": sender,
            "state": state,
            "payload": self._seal_event(event_id, payload),
            "session_id": session_id,
            "received_at": time.time(),
            "sender_notified": False,
        })

    def pending_events(self, session: Session) -> list[IncomingEvent]:
        rows = session.scalars(
            select(MatrixInboxEvent)
            .where(MatrixInboxEvent.account == self.account, MatrixInboxEvent.state == PENDING)
            .order_by(MatrixInboxEvent.received_at)
        ).all()
        return [IncomingEvent.from_json(self._open_event(r.event_id, r.payload)) for r in rows]

    def claim_event(self, session: Session, event_id: str) -> bool:
        """Mark an event done inside the caller's transaction; False if it already was.

        Called in the transaction that holds the handler's effects, so the
        effects and the mark commit together or not at all.
        """
        return _execute_update(
            session,
            update(MatrixInboxEvent)
            .where(
                MatrixInboxEvent.account == self.account,
                MatrixInboxEvent.event_id == event_id,
                MatrixInboxEvent.state == PENDING,
            )
            .values(state=DONE, payload=""),
        ) == 1

    def undecryptable(self, session: Session, session_id: str | None = None) -> list[Undecryptable]:
        query = select(MatrixInboxEvent).where(
            MatrixInboxEvent.account == self.account, MatrixInboxEvent.state == UNDECRYPTABLE
        )
        if session_id is not None:
            query = query.where(MatrixInboxEvent.session_id == session_id)
        return [
            Undecryptable(
                event_id=r.event_id,
                room_id=r.room_id,
                sender=r.sender,
                session_id=r.session_id,
                source=json.loads(self._open_event(r.event_id, r.payload)),
                received_at=r.received_at,
                sender_notified=r.sender_notified,
            )
            for r in session.scalars(query.order_by(MatrixInboxEvent.received_at)).all()
        ]

    def mark_decrypted(self, session: Session, event: IncomingEvent) -> bool:
        result = session.execute(
            update(MatrixInboxEvent)
            .where(
                MatrixInboxEvent.account == self.account,
                MatrixInboxEvent.event_id == event.event_id,
                MatrixInboxEvent.state == UNDECRYPTABLE,
            )
            .values(state=PENDING, payload=self._seal_event(event.event_id, event.to_json()))
        )
        return result.rowcount == 1  # type: ignore[attr-defined]

    def mark_sender_notified(self, session: Session, event_id: str) -> bool:
        result = session.execute(
            update(MatrixInboxEvent)
            .where(
                MatrixInboxEvent.account == self.account,
                MatrixInboxEvent.event_id == event_id,
                MatrixInboxEvent.state == UNDECRYPTABLE,
                MatrixInboxEvent.sender_notified.is_(False),
            )
            .values(sender_notified=True)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]

    def _seal_event(self, event_id: str, data: bytes) -> str:
        return self._cipher.encrypt_bytes(data, _aad("matrix_inbox", self.account, event_id))

    def _open_event(self, event_id: str, token: str) -> bytes:
        return self._cipher.decrypt_bytes(token, _aad("matrix_inbox", self.account, event_id))

    # -- outbox --------------------------------------------------------------

    def enqueue(
        self,
        session: Session,
        room_id: str,
        content: dict[str, Any],
        event_type: str,
        *,
        on_sent: str | None = None,
        key: str | None = None,
    ) -> str:
        """Queue a message; its transaction id is fixed now so a resend is deduplicated.

        With ``key`` the transaction id is derived from it and a message queued
        under the same key before is not queued again: work that may run twice
        (a retried delivery) posts once.
        """
        if not room_id:
            raise ValueError("a message needs a room to go to")
        if key is None:
            txn_id = f"cs{uuid.uuid4().hex}"
        else:
            txn_id = "ck" + hashlib.sha256(key.encode()).hexdigest()[:32]
            known = session.scalar(select(MatrixOutboxMessage.id).where(
                MatrixOutboxMessage.account == self.account, MatrixOutboxMessage.txn_id == txn_id))
            if known is not None:
                return txn_id
        row = MatrixOutboxMessage(
            account=self.account,
            txn_id=txn_id,
            room_id=room_id,
            event_type=event_type,
            content=self._cipher.encrypt_bytes(
                json.dumps(content).encode(), _aad("matrix_outbox", self.account, txn_id)
            ),
            created_at=time.time(),
            sent_hook=on_sent,
        )
        session.add(row)
        session.info.setdefault(_ENQUEUED, []).append((row, content))
        return txn_id

    def undelivered(
        self, session: Session, limit: int = 50, skip: Collection[str] = ()
    ) -> list[OutboxItem]:
        """Rows still to send, oldest first; ``skip`` names txn ids the sender already has."""
        query = select(MatrixOutboxMessage).where(
            MatrixOutboxMessage.account == self.account,
            MatrixOutboxMessage.sent_event_id.is_(None),
            MatrixOutboxMessage.failed_reason.is_(None),
        )
        if skip:
            query = query.where(MatrixOutboxMessage.txn_id.not_in(list(skip)))
        rows = session.scalars(query.order_by(MatrixOutboxMessage.id).limit(limit)).all()
        return [self._outbox_item(r) for r in rows]

    def committed_outbox(self, session: Session) -> list[OutboxItem]:
        """The rows ``session`` queued that its commit kept (call right after the commit).

        Lets the runtime hand a handler's replies to the sender without reading
        them back from the table; rows a rollback discarded are left out.
        """
        queued: list[tuple[MatrixOutboxMessage, dict[str, Any]]] = session.info.pop(_ENQUEUED, [])
        return [_outbox_item(r, content) for r, content in queued if inspect(r).persistent]

    def _outbox_item(self, row: MatrixOutboxMessage) -> OutboxItem:
        content = self._cipher.decrypt_bytes(
            row.content, _aad("matrix_outbox", self.account, row.txn_id)
        )
        return _outbox_item(row, json.loads(content))

    def mark_sent(self, session: Session, item_id: int, event_id: str) -> None:
        _execute_update(
            session,
            update(MatrixOutboxMessage)
            .where(MatrixOutboxMessage.id == item_id)
            .values(sent_event_id=event_id, content=""),
        )

    def mark_failed(self, session: Session, item_id: int, reason: str) -> None:
        session.execute(
            update(MatrixOutboxMessage)
            .where(MatrixOutboxMessage.id == item_id)
            .values(failed_reason=reason)
        )

    def outbox_depth(self, session: Session) -> int:
        """Rows still waiting to be sent (for status and metrics)."""
        return int(
            session.scalar(
                select(func.count())
                .select_from(MatrixOutboxMessage)
                .where(
                    MatrixOutboxMessage.account == self.account,
                    MatrixOutboxMessage.sent_event_id.is_(None),
                    MatrixOutboxMessage.failed_reason.is_(None),
                )
            )
            or 0
        )

    # -- feed cursors and dead letters ----------------------------------------

    def feed_cursor(self, session: Session, consumer: str) -> MatrixFeedCursor:
        """The consumer's cursor row, created at position 0 on first use."""
        row = session.get(MatrixFeedCursor, (self.account, consumer))
        if row is None:
            row = MatrixFeedCursor(
                account=self.account, consumer=consumer, position=0,
                failing_position=None, failures=0,
            )
            session.add(row)
        return row

    def advance_feed(self, session: Session, consumer: str, position: int) -> None:
        """Move past ``position`` in the caller's transaction (with the item's effects)."""
        row = self.feed_cursor(session, consumer)
        row.position = max(row.position, position)
        row.failing_position, row.failures = None, 0

    def count_feed_failure(self, session: Session, consumer: str, position: int) -> int:
        """One more failed attempt at the item at ``position``; returns the attempts so far."""
        row = self.feed_cursor(session, consumer)
        if row.failing_position != position:
            row.failing_position, row.failures = position, 0
        row.failures += 1
        return row.failures

    def dead_letter(self, session: Session, source: str, item: str, error: str) -> None:
        session.add(
            MatrixDeadLetter(
                account=self.account, source=source, item=item, error=error[:2000],
                at=time.time(),
            )
        )

    def dead_letters(self, session: Session) -> list[MatrixDeadLetter]:
        return list(
            session.scalars(
                select(MatrixDeadLetter)
                .where(MatrixDeadLetter.account == self.account)
                .order_by(MatrixDeadLetter.id)
            ).all()
        )

    # -- devices -------------------------------------------------------------

    def device_records(
        self, session: Session, user_ids: Sequence[str]
    ) -> dict[tuple[str, str], MatrixDeviceRecord]:
        rows = session.scalars(
            select(MatrixDeviceRecord).where(
                MatrixDeviceRecord.account == self.account,
                MatrixDeviceRecord.user_id.in_(list(user_ids)),
            )
        ).all()
        return {(r.user_id, r.device_id): r for r in rows}

    def record_device(
        self, session: Session, user_id: str, device_id: str, ed25519: str, curve25519: str
    ) -> None:
        session.add(
            MatrixDeviceRecord(
                account=self.account,
                user_id=user_id,
                device_id=device_id,
                ed25519=ed25519,
                curve25519=curve25519,
                first_seen=time.time(),
                blacklisted=False,
            )
        )


def _outbox_item(row: MatrixOutboxMessage, content: dict[str, Any]) -> OutboxItem:
    return OutboxItem(
        id=row.id,
        txn_id=row.txn_id,
        room_id=row.room_id,
        event_type=row.event_type,
        content=content,
        sent_hook=row.sent_hook,
    )
