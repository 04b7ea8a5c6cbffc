"""The E2EE runtime one bot account runs on.

    start ─► open_client (restore device, keys, cross-signing)
          ─► first sync, full state, from the stored token
          ─► replay: pending inbox events, undecryptable events, undelivered outbox
          ─► tasks: sync loop · outbox sender · room dispatcher workers

    sync response ─► one transaction: new events into the inbox + next token
                  ─► dispatcher ─► handler, on a handler thread (offloop.py):
                                   transaction T: effects + outbox rows
                                   + "event done" commit together
                  ─► outbox loader ─► per-room sender (rooms concurrently, each
                                    room in order) ─► PUT /send/{type}/{txn id from the row}

At-least-once in (the inbox keeps an event until its handler committed),
exactly-once out (the outbox row's fixed transaction id makes a resend after a
crash idempotent on the homeserver, which deduplicates per device). An event
sent unencrypted into an encrypted room is never handled (the sender is told
once, encrypted); an event
whose room key is missing waits in the inbox as *undecryptable*: the key is
requested from the sender, the sender is told after a delay, and the event is
handled once the key arrives.

The event loop never runs a database statement itself: the runtime's own
bookkeeping goes to a worker thread (``_db``) and handlers run on handler
threads, so a transaction that waits for SQLite's write lock, or holds it
across an ``await``, holds up only itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar, cast

import nio
from aiohttp import ClientError
from sqlalchemy.orm import Session

from curbside.background import BackgroundTasks
from curbside.database import after_commit, session_scope
from curbside.matrix import content as build
from curbside.matrix.config import BotAccount, RuntimeConfig
from curbside.matrix.context import Context
from curbside.matrix.dispatch import RoomDispatcher
from curbside.matrix.events import IncomingEvent
from curbside.matrix.jobs import SentEvent
from curbside.matrix.login import open_client
from curbside.matrix.offloop import LoopBoundClient, LoopStopped, MainLoop
from curbside.matrix.posting import HANDED_TO_SENDER, Poster
from curbside.matrix.rooms import (
    PLAINTEXT_IGNORED,
    InviteRefusal,
    require_encrypted,
    sent_in_the_clear,
)
from curbside.matrix.storage import OutboxItem, RuntimeStore, Undecryptable
from curbside.matrix.trust import IGNORE_UNVERIFIED_DEVICES, DeviceTrust
from curbside.metrics import EVENTS_HANDLED, HANDLER_SECONDS, RETRIES, UNDECRYPTABLE_EVENTS

log = logging.getLogger(__name__)
T = TypeVar("T")

# Runs a sent row's hook together with marking it sent; False means "retry the send".
SentHookRunner = Callable[[str, SentEvent, Callable[[Session], None]], Awaitable[bool]]

TRANSIENT = (ClientError, TimeoutError, nio.SendRetryError, nio.LocalProtocolError)
LEAVE_AFTER_SENT = "leave-after-sent"  # the sent hook of an explained refusal (Bot declares it)
TYPING_AFTER = 1.0  # seconds a handler runs before the sender sees "typing…"
# Seconds the sync loop gives a batch's handlers to answer before it polls again.
SYNC_YIELD = 0.25
# Sends in flight at once over all rooms: each send waits a homeserver round
# trip (event persisted), so one at a time caps a busy bot at 1/round-trip.
MAX_CONCURRENT_SENDS = 16
# Handler threads beyond the handlers' own bound: the supervisor's jobs, sent
# hooks and after-commit work run on them too.
EXTRA_HANDLER_THREADS = 4
OUTBOX_IN_MEMORY = 500  # rows the sender holds at most; the rest wait in the table
_PERMANENT_SEND_ERRORS = {"M_FORBIDDEN", "M_NOT_FOUND", "M_BAD_JSON", "M_NOT_JSON", "M_TOO_LARGE"}

UNDECRYPTABLE_NOTICE = (
    "I could not decrypt your message: its room key did not reach this bot. "
    "I asked your client for it and will answer when it arrives. If nothing "
    "happens, send the message again, and make sure your client shares keys "
    "with this bot's device."
)


class MatrixRuntime:
    """Sync, inbox, outbox and dispatch for one account."""

    def __init__(
        self,
        account: BotAccount,
        config: RuntimeConfig,
        *,
        handle: Callable[[Context], Awaitable[None]],
        wants: Callable[[str], bool],
        should_join: Callable[[str, str | None], Awaitable[bool | InviteRefusal]],
        on_sent: SentHookRunner | None = None,
    ) -> None:
        self.account = account
        self.config = config
        self.store = RuntimeStore(account.user_id, config.cipher)
        self.poster = Poster(
            self.store,
            require_encrypted=lambda room_id: require_encrypted(self.client, room_id),
            wake=self.wake_outbox,
        )
        self._on_sent = on_sent
        self._handle = handle
        self._wants = wants
        self._should_join = should_join
        self._client: nio.AsyncClient | None = None
        self._token: str | None = None
        self._dispatcher: RoomDispatcher[IncomingEvent] = RoomDispatcher(
            self._process, config.max_concurrent_handlers
        )
        self._sender: RoomDispatcher[OutboxItem] = RoomDispatcher(
            self._send_one, MAX_CONCURRENT_SENDS, noun="outbox message"
        )
        self._outbox_wake = asyncio.Event()
        self._outbox_wake.set()  # rows of an earlier run may wait: the loader goes first
        # Changes whenever an outbox load starts or ends: a handler's replies go
        # straight to the sender only if no load overlapped the handler.
        self._load_epoch = 0
        self._outbox_backlog = False
        self._key_query_lock = asyncio.Lock()
        self._tasks = BackgroundTasks(log)
        self._joining: set[str] = set()
        self._explaining: dict[str, str] = {}  # joined to say why we leave: room -> text
        self._trust: DeviceTrust | None = None
        self._main: MainLoop | None = None

    @property
    def client(self) -> nio.AsyncClient:
        """The client; on a handler thread, a view whose calls run on the main loop."""
        if self._client is None:
            raise RuntimeError("the runtime is not started")
        if self._main is not None and not self._main.here:
            return cast(nio.AsyncClient, LoopBoundClient(self._client, self._main))
        return self._client

    @property
    def main(self) -> MainLoop:
        """The loop this runtime's client lives on (the one first asking), for work off it."""
        if self._main is None:
            self._main = MainLoop(
                asyncio.get_running_loop(),
                workers=self.config.max_concurrent_handlers + EXTRA_HANDLER_THREADS,
            )
            self._tasks.bind(self._main.loop)
        return self._main

    # -- lifecycle -----------------------------------------------------------

    async def start(self) -> None:
        """Return once the bot is on its device, synced, and replaying its backlog."""
        _ = self.main  # the loop starting the runtime is the one its client lives on
        client, self._token = await open_client(self.account, self.config, self.store)
        self._client = client
        self._trust = DeviceTrust(client, self.config.engine, self.store)
        client.add_to_device_callback(
            self._on_room_key, (nio.RoomKeyEvent, nio.ForwardedRoomKeyEvent)
        )
        try:
            while not await self._sync_once(first=True):
                await asyncio.sleep(1)
        except BaseException:
            await client.close()
            raise
        await self._replay()
        self._tasks.spawn(self._sync_forever(), "sync")
        self._tasks.spawn(self._send_outbox(), "outbox")

    async def stop(self) -> None:
        """Stop syncing and sending; handlers in flight roll back and replay next start."""
        if self._main is not None:
            await self._main.stop()
        await self._dispatcher.stop()
        await self._sender.stop()
        await self._tasks.cancel_all()
        if self._client is not None:
            await self._client.close()
            self._client = None

    def wake_outbox(self) -> None:
        """Deliver rows queued outside a handler (call after their transaction committed).

        Safe from any thread: the wake is handed to the main loop.
        """
        if self._main is None:
            self._outbox_wake.set()
        else:
            self._main.call(self._outbox_wake.set)

    async def _db(self, work: Callable[..., T], *args: Any) -> T:
        """The runtime's own database work, on a worker thread, never on the loop."""
        return await asyncio.to_thread(work, *args)

    async def _in_transaction(self, work: Callable[[Session], T]) -> T:
        """``work(session)`` in one committed transaction, on a worker thread."""

        def run() -> T:
            with session_scope(self.config.engine) as session:
                return work(session)

        return await self._db(run)

    # -- sync ----------------------------------------------------------------

    async def _sync_forever(self) -> None:
        backoff = 0.5
        while True:
            if await self._sync_once(first=False):
                backoff = 0.5
            else:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 15.0)

    async def _sync_once(self, *, first: bool) -> bool:
        """One sync and its bookkeeping; False on a transient failure."""
        client = self.client
        try:
            response = await client.sync(
                timeout=0 if first else self.config.sync_timeout_ms,
                since=self._token,
                full_state=first or None,
            )
        except TRANSIENT as exc:
            log.warning("sync failed: %s", exc.__class__.__name__)
            return False
        if not isinstance(response, nio.SyncResponse):
            if response.status_code == "M_UNKNOWN_TOKEN":
                raise RuntimeError(f"{self.account.user_id}: access token revoked")
            log.warning("sync error: %s", response.message)
            return False
        fresh, undecryptable = await self._db(self._ingest, response)
        for megolm in undecryptable:
            self._await_key(megolm.event_id, megolm.room_id, megolm, time.time())
        self._token = response.next_batch
        for event in fresh:
            self._dispatcher.submit(event)
        if fresh and not first:
            # A quick handler's reply then goes to the homeserver ahead of the
            # next long poll, as a client answering from its sync callback does,
            # rather than alongside it; a slow one costs other rooms at most
            # SYNC_YIELD, and their events wait on the homeserver meanwhile.
            await self._dispatcher.settled([e.work_key for e in fresh], SYNC_YIELD)
        self._join_invites(response)
        await self._explain_refusals(response)
        try:
            await self._key_housekeeping()
        except TRANSIENT as exc:
            log.warning("key housekeeping failed: %s", exc.__class__.__name__)
        return True

    def _ingest(
        self, response: nio.SyncResponse
    ) -> tuple[list[IncomingEvent], list[nio.MegolmEvent]]:
        """Keep the sync's new events and its token in one transaction."""
        fresh: list[IncomingEvent] = []
        undecryptable: list[nio.MegolmEvent] = []
        # The very first sync of a new device only sets the starting point: the
        # history it returns was not addressed to this device.
        rooms = response.rooms.join.items() if self._token is not None else ()
        with session_scope(self.config.engine) as session:
            for room_id, info in rooms:
                for event in self._after_own_join(info.timeline.events):
                    if event.sender == self.client.user_id:
                        continue
                    if isinstance(event, nio.MegolmEvent):
                        if self.store.add_undecryptable(
                            session, room_id, event.source, event.session_id
                        ):
                            event.room_id = room_id
                            undecryptable.append(event)
                            UNDECRYPTABLE_EVENTS.labels(self.account.user_id).inc()
                        continue
                    if sent_in_the_clear(self.client, room_id, event):
                        self._tell_plaintext_ignored(session, room_id, event.sender)
                        continue
                    incoming = _incoming(room_id, event)
                    if incoming is None or not self._wants(incoming.type):
                        continue
                    if self.store.add_event(session, incoming):
                        fresh.append(incoming)
            self.store.save_sync_token(session, response.next_batch)
        return fresh, undecryptable

    def _tell_plaintext_ignored(self, session: Session, room_id: str, sender: str) -> None:
        """Say once per sender and room, encrypted, that a clear message was not read.

        For homeservers without the Curbside module, which refuses such events
        itself (E2E-03). The post's key makes it once for good, across restarts.
        """
        log.info("ignored an unencrypted event in encrypted room %s", room_id)
        self.poster.post(
            session, room_id, f"{sender}: {PLAINTEXT_IGNORED}",
            f"{build.pill(sender)}: {PLAINTEXT_IGNORED}", mentions=[sender],
            key=f"plaintext-ignored:{room_id}:{sender}",
        )
        after_commit(session, self.wake_outbox)

    def _after_own_join(self, events: list[nio.Event]) -> list[nio.Event]:
        """Drop history from before the bot joined: it was not addressed to the bot."""
        for i in range(len(events) - 1, -1, -1):
            event = events[i]
            if (
                isinstance(event, nio.RoomMemberEvent)
                and event.state_key == self.client.user_id
                and event.membership == "join"
                and event.prev_membership != "join"
            ):
                return events[i + 1:]
        return events

    async def _key_housekeeping(self) -> None:
        """What nio's sync_forever does between syncs: keys and to-device traffic."""
        client = self.client
        await client.send_to_device_messages()
        if client.should_upload_keys:
            await client.keys_upload()
        await self._query_keys()
        if client.should_claim_keys:
            await client.keys_claim(client.get_users_for_key_claiming())

    async def prepare_room_for_send(self, room_id: str) -> None:
        """Make the next encrypted send to ``room_id`` reach exactly the reviewed devices.

        Loads the room's members if the bot has not yet, then fetches stale
        device lists through the trust policy, so a room key is never shared
        with a device the policy has not seen. The outbox calls it before every
        send; code that sends outside the outbox (none should) would too.
        """
        room = self.client.rooms.get(room_id)
        if room is not None and not room.members_synced:
            await self.client.joined_members(room_id)
        await self._query_keys()

    async def _query_keys(self) -> None:
        """Fetch device lists nio marked stale, then apply the trust policy to them.

        Sends run concurrently; the lock makes a send that finds a query in
        flight wait for it and its review instead of sending (or querying)
        alongside it.
        """
        async with self._key_query_lock:
            if self.client.should_query_keys:
                response = await self.client.keys_query()
                if isinstance(response, nio.KeysQueryResponse) and self._trust is not None:
                    self._trust.review(list(response.device_keys))

    def _join_invites(self, response: nio.SyncResponse) -> None:
        for room_id, info in response.rooms.invite.items():
            if room_id in self._joining:
                continue
            inviter = next(
                (
                    e.sender
                    for e in info.invite_state
                    if isinstance(e, nio.InviteMemberEvent) and e.state_key == self.client.user_id
                ),
                None,
            )
            self._joining.add(room_id)
            self._tasks.spawn(self._answer_invite(room_id, inviter), f"invite {room_id}")

    async def _answer_invite(self, room_id: str, inviter: str | None) -> None:
        """Join, or decline: silently only when there is nobody to tell (no inviter known)."""
        try:
            answer = await self._should_join(room_id, inviter)
            if isinstance(answer, InviteRefusal) and answer.say_in_room:
                self._explaining[room_id] = answer.text  # said once the join has synced
                response: Any = await self.client.join(room_id)
            elif isinstance(answer, InviteRefusal):
                response = await self._reject(room_id, answer.text)
            elif answer:
                response = await self.client.join(room_id)
            else:
                response = await self.client.room_leave(room_id)
            if isinstance(response, nio.ErrorResponse):
                log.warning("answering invite to %s failed: %s", room_id, response.message)
            else:
                log.info(
                    "%s %s invite to %s from %s", self.client.user_id,
                    "accepted" if answer is True else "declined", room_id, inviter,
                )
        finally:
            self._joining.discard(room_id)

    async def _reject(self, room_id: str, reason: str) -> Any:
        """Reject an invite with a reason the inviter's client shows.

        nio's ``room_leave`` sends no body; the client-server API's leave takes
        ``reason``, so the same request is made with one.
        """
        method, path = nio.Api.room_leave(self.client.access_token, room_id)
        # nio has no public way to send a leave with a body.
        return await self.client._send(
            nio.RoomLeaveResponse, method, path, json.dumps({"reason": reason})
        )

    async def _explain_refusals(self, response: nio.SyncResponse) -> None:
        """Rooms joined only to explain a refusal, now synced: queue each explanation.

        The outbox sends only into rooms the client knows, which a join's
        response does not add; the sync that follows it does. The sent hook
        leaves once the explanation was delivered.
        """
        for room_id in [r for r in response.rooms.join if r in self._explaining]:
            text = self._explaining.pop(room_id)
            await self._in_transaction(partial(self._say_then_leave, room_id=room_id, text=text))

    def _say_then_leave(self, session: Session, *, room_id: str, text: str) -> None:
        self.poster.post(session, room_id, text, on_sent=f"{LEAVE_AFTER_SENT}:{room_id}")

    # -- handling ------------------------------------------------------------

    async def _replay(self) -> None:
        """After a start: events stored but not handled, keys that may have arrived."""

        def load() -> tuple[list[IncomingEvent], list[Undecryptable]]:
            with session_scope(self.config.engine) as session:
                return self.store.pending_events(session), self.store.undecryptable(session)

        pending, waiting = await self._db(load)
        for event in pending:
            self._dispatcher.submit(event)
        for item in waiting:
            if not await self._try_decrypt(item):
                megolm = _megolm(item)
                self._await_key(item.event_id, item.room_id, megolm, item.received_at,
                                notified=item.sender_notified)
        self._outbox_wake.set()

    async def _process(self, event: IncomingEvent) -> None:
        """Run the handler off the loop; its effects commit with the event's done mark."""
        typing = asyncio.create_task(self._typing_later(event.room_id))
        epoch = self._load_epoch
        bot = self.account.user_id
        started = time.monotonic()
        try:
            try:
                replies = await self.main.off_loop(lambda: self._handle_and_commit(event))
            except LoopStopped:
                return  # stopping: rolled back, handled again at the next start
            except Exception:
                log.exception("handler failed on event %s", event.event_id)
                EVENTS_HANDLED.labels(bot, "failed").inc()
                await self._db(self._record_failure, event)
            else:
                EVENTS_HANDLED.labels(bot, "ok").inc()
                self._hand_to_sender(replies, epoch)
            HANDLER_SECONDS.labels(bot).observe(time.monotonic() - started)
        finally:
            self._stop_typing(typing, event.room_id)

    def _hand_to_sender(self, items: list[OutboxItem], epoch: int) -> None:
        """Give a handler's committed replies to the sender now, not via a reload.

        Only when no load is due or ran meanwhile: a pending wake or a backlog
        means older rows may still wait in the table, and the loader, which
        takes them by id, must then send first so that each room's order
        holds; a load that overlapped the handler (``epoch`` moved) may hold
        these very rows already.
        """
        if not items:
            return
        if (
            self._outbox_wake.is_set()
            or self._load_epoch != epoch
            or self._outbox_backlog
            or len(self._sender.queued()) + len(items) > OUTBOX_IN_MEMORY
        ):
            self._outbox_wake.set()
            return
        for item in items:
            self._sender.submit(item)

    def _stop_typing(self, typing: asyncio.Task[bool], room_id: str) -> None:
        """Cancel a "typing…" notice not sent yet, or switch off one that was.

        Not awaited: the replies are already with the sender and need not wait
        a loop turn for a notice that, in the common case, never started.
        """
        if not typing.done():
            typing.cancel()
        elif not typing.cancelled() and typing.exception() is None and typing.result():
            self._tasks.spawn(self._typing(room_id, False), "typing off")

    async def _handle_and_commit(self, event: IncomingEvent) -> list[OutboxItem]:
        """On a handler thread: the handler, then one commit of its effects and done mark.

        Returns the replies that commit kept, for the sender.
        """
        session = Session(self.config.engine, autoflush=False, expire_on_commit=False,
                          info={HANDED_TO_SENDER: True})
        try:
            await self._handle(Context(event, session, self.client, self.poster))
            if self.store.claim_event(session, event.event_id):
                session.commit()
                return self.store.committed_outbox(session)
            session.rollback()
            return []
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def _record_failure(self, event: IncomingEvent) -> None:
        """A failed handler's one effect: the sender hears that it failed."""
        with session_scope(self.config.engine) as session:
            if self.store.claim_event(session, event.event_id):
                self.poster.post(
                    session, event.room_id,
                    "Sorry, something went wrong handling that. It was logged; "
                    "please try again or contact the operator.",
                    thread=build.thread_root_of(event), reply_to=event.event_id,
                )

    async def _typing_later(self, room_id: str) -> bool:
        await asyncio.sleep(TYPING_AFTER)
        return await self._typing(room_id, True)

    async def _typing(self, room_id: str, on: bool) -> bool:
        try:
            await self.client.room_typing(room_id, on, timeout=30_000)
        except TRANSIENT:
            return False
        return True

    # -- undecryptable events -----------------------------------------------

    def _await_key(
        self,
        event_id: str,
        room_id: str,
        megolm: nio.MegolmEvent,
        received_at: float,
        *,
        notified: bool = False,
    ) -> None:
        self._tasks.spawn(self._request_key(megolm), f"key request {event_id}")
        if not notified:
            delay = received_at + self.config.undecryptable_notice_after - time.time()
            self._tasks.spawn(
                self._notify_later(event_id, room_id, megolm, delay), f"notice {event_id}"
            )

    async def _request_key(self, megolm: nio.MegolmEvent) -> None:
        """Ask the sender's device for the room key (and our own devices, as nio does)."""
        client = self.client
        to_sender = megolm.as_key_request(
            megolm.sender, str(client.device_id), device_id=megolm.device_id or "*"
        )
        with contextlib.suppress(nio.LocalProtocolError, *TRANSIENT):
            await client.to_device(to_sender)
        with contextlib.suppress(nio.LocalProtocolError, *TRANSIENT):
            await client.request_room_key(megolm)

    async def _notify_later(
        self, event_id: str, room_id: str, megolm: nio.MegolmEvent, delay: float
    ) -> None:
        await asyncio.sleep(max(delay, 0.0))
        relation = megolm.source.get("content", {}).get("m.relates_to")
        anchor = IncomingEvent(
            event_id=event_id, room_id=room_id, sender=megolm.sender, type="m.room.encrypted",
            origin_server_ts=megolm.server_timestamp,
            content={"m.relates_to": relation} if isinstance(relation, dict) else {},
        )
        def notify() -> None:
            with session_scope(self.config.engine) as session:
                if self.store.mark_sender_notified(session, event_id):
                    self._post_undecryptable_notice(session, room_id, megolm, anchor)

        await self._db(notify)

    def _post_undecryptable_notice(
        self, session: Session, room_id: str, megolm: nio.MegolmEvent, anchor: IncomingEvent
    ) -> None:
        self.poster.post(
            session, room_id,
            f"{megolm.sender}: {UNDECRYPTABLE_NOTICE}",
            f"{build.pill(megolm.sender)}: {UNDECRYPTABLE_NOTICE}",
            mentions=[megolm.sender],
            thread=build.thread_root_of(anchor), reply_to=anchor.event_id,
        )

    async def _on_room_key(self, event: nio.RoomKeyEvent | nio.ForwardedRoomKeyEvent) -> None:
        waiting = await self._in_transaction(
            lambda session: self.store.undecryptable(session, event.session_id)
        )
        for item in waiting:
            await self._try_decrypt(item)

    async def _try_decrypt(self, item: Undecryptable) -> bool:
        """Decrypt a waiting event if its key is here now; hand it to the dispatcher."""
        try:
            decrypted = self.client.decrypt_event(_megolm(item))
        except nio.EncryptionError:
            return False
        incoming = _incoming(item.room_id, decrypted)
        if incoming is None:
            return False
        wanted = self._wants(incoming.type)

        def move(session: Session) -> bool:
            moved = self.store.mark_decrypted(session, incoming)
            if moved and not wanted:
                self.store.claim_event(session, incoming.event_id)
            return moved

        if await self._in_transaction(move) and wanted:
            self._dispatcher.submit(incoming)
        return True

    # -- outbox --------------------------------------------------------------

    async def _send_outbox(self) -> None:
        """Hand undelivered rows to the per-room sender whenever new ones may exist."""
        while True:
            await self._outbox_wake.wait()
            self._outbox_wake.clear()
            queued = self._sender.queued()
            space = OUTBOX_IN_MEMORY - len(queued)
            if space <= 0:
                self._outbox_backlog = True
                continue
            self._load_epoch += 1
            try:
                items = await self._in_transaction(
                    partial(self._undelivered, limit=space, skip=queued)
                )
            finally:
                self._load_epoch += 1
            self._outbox_backlog = len(items) == space
            for item in items:
                self._sender.submit(item)

    def _undelivered(
        self, session: Session, *, limit: int, skip: frozenset[str]
    ) -> list[OutboxItem]:
        return self.store.undelivered(session, limit=limit, skip=skip)

    async def _send_one(self, item: OutboxItem) -> None:
        """Deliver one row, retrying transient failures; the room's next row waits."""
        backoff = 0.5
        while not await self._deliver(item):
            RETRIES.labels("matrix_send").inc()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 15.0)
        if self._outbox_backlog:
            self._outbox_wake.set()

    async def _deliver(self, item: OutboxItem) -> bool:
        """Send one outbox row; False on a transient failure (retry later)."""
        if item.room_id not in self.client.rooms:
            await self._in_transaction(
                lambda session: self.store.mark_failed(session, item.id, "bot is not in the room")
            )
            return True
        try:
            await self.prepare_room_for_send(item.room_id)
            response = await self.client.room_send(
                item.room_id, item.event_type, item.content, tx_id=item.txn_id,
                ignore_unverified_devices=IGNORE_UNVERIFIED_DEVICES,
            )
        except TRANSIENT as exc:
            log.warning("sending %s failed: %s", item.txn_id, exc.__class__.__name__)
            return False
        if isinstance(response, nio.RoomSendResponse):
            return await self._mark_sent(item, response.event_id)
        if response.status_code not in _PERMANENT_SEND_ERRORS:
            return False
        await self._in_transaction(
            lambda session: self.store.mark_failed(session, item.id, f"{response.status_code}")
        )
        return True


    async def _mark_sent(self, item: OutboxItem, event_id: str) -> bool:
        """Record the send, with the row's hook in the same transaction if it names one."""

        def mark(session: Session) -> None:
            self.store.mark_sent(session, item.id, event_id)

        if item.sent_hook is not None and self._on_sent is not None:
            return await self._on_sent(
                item.sent_hook, SentEvent(item.room_id, event_id), mark
            )
        await self._in_transaction(mark)
        return True


def _incoming(room_id: str, event: nio.Event) -> IncomingEvent | None:
    """Our handler-side view of a nio event (None for events nio could not parse)."""
    source = event.source
    if isinstance(event, nio.BadEvent | nio.UnknownBadEvent) or "event_id" not in source:
        return None
    return IncomingEvent(
        event_id=event.event_id,
        room_id=room_id,
        sender=event.sender,
        type=str(source.get("type", "")),
        origin_server_ts=int(event.server_timestamp),
        content=dict(source.get("content") or {}),
        encrypted=bool(getattr(event, "decrypted", False)),
    )


def _megolm(item: Undecryptable) -> nio.MegolmEvent:
    megolm = nio.MegolmEvent.from_dict(item.source)
    megolm.room_id = item.room_id
    return megolm
