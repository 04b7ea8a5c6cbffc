"""The runtime's parts without a homeserver: dispatch order, storage at rest, config."""

from __future__ import annotations

import asyncio
import secrets

import nio
import pytest
from sqlalchemy import select

from curbside.audit import AuditEntry, AuditLog
from curbside.database import KERNEL_VERSIONS, make_engine, migrate, session_scope
from curbside.matrix.bot import Bot
from curbside.matrix.commands import CommandError, command
from curbside.matrix.config import BotAccount, RuntimeConfig
from curbside.matrix.context import Context
from curbside.matrix.dispatch import RoomDispatcher
from curbside.matrix.events import IncomingEvent
from curbside.matrix.models import MatrixInboxEvent, MatrixOutboxMessage
from curbside.matrix.posting import Poster
from curbside.matrix.rooms import UnencryptedRoomError, require_encrypted
from curbside.matrix.runtime import MatrixRuntime
from curbside.matrix.storage import RuntimeStore
from curbside.phi import decode_master_key, load_cipher, new_master_key
from tests.support.matrix_testkit import wait_for


def event(room: str, n: int, body: str = "!ping") -> IncomingEvent:
    return IncomingEvent(
        f"${room}{n}", room, "@a:x", "m.room.message", 0, {"msgtype": "m.text", "body": body}
    )


async def test_rooms_keep_order_and_a_slow_room_does_not_block_others():
    finished: list[str] = []
    release = asyncio.Event()

    async def process(ev: IncomingEvent) -> None:
        if ev.event_id == "$slow0":
            await release.wait()
        finished.append(ev.event_id)

    dispatcher = RoomDispatcher(process, max_concurrent=4)
    for n in range(3):
        dispatcher.submit(event("slow", n))
        dispatcher.submit(event("fast", n))
    dispatcher.submit(event("fast", 0))  # a replayed duplicate is not queued twice

    async def fast_done() -> None:
        while len(finished) < 3:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(fast_done(), timeout=5)
    assert finished == ["$fast0", "$fast1", "$fast2"]
    release.set()
    await asyncio.wait_for(dispatcher.idle(), timeout=5)
    assert finished[3:] == ["$slow0", "$slow1", "$slow2"]


async def test_concurrency_is_bounded():
    running = 0
    peak = 0

    async def process(_: IncomingEvent) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1

    dispatcher = RoomDispatcher(process, max_concurrent=2)
    for room in range(6):
        dispatcher.submit(event(f"r{room}", 0))
    await asyncio.wait_for(dispatcher.idle(), timeout=5)
    assert peak == 2


async def test_a_failing_handler_is_logged_and_the_room_goes_on(caplog):
    seen: list[str] = []

    async def process(ev: IncomingEvent) -> None:
        seen.append(ev.event_id)
        if ev.event_id == "$r0":
            raise RuntimeError("boom")

    dispatcher = RoomDispatcher(process, max_concurrent=1)
    dispatcher.submit(event("r", 0))
    dispatcher.submit(event("r", 1))
    await asyncio.wait_for(dispatcher.idle(), timeout=5)
    assert seen == ["$r0", "$r1"]
    assert "handling event $r0" in caplog.text


@pytest.fixture
def store_and_engine(db_url):
    engine = make_engine(db_url)
    migrate(engine, [KERNEL_VERSIONS])
    cipher = load_cipher(engine, decode_master_key(new_master_key()))
    yield RuntimeStore("@bot:x", cipher), engine
    engine.dispose()


def test_event_contents_and_tokens_are_encrypted_at_rest(store_and_engine):
    store, engine = store_and_engine
    secret = "Patient Jane Roe, DOB 1970-01-02"
    with session_scope(engine) as session:
        store.save_login(session, "DEVICE", "syt_secret_token")
        assert store.add_event(session, event("r", 0, secret))
        store.enqueue(session, "!r", {"body": secret}, "m.room.message")
    with session_scope(engine) as session:
        assert not store.add_event(session, event("r", 0, secret)), "replayed sync deduplicated"
        inbox = session.scalars(select(MatrixInboxEvent)).one()
        outbox = session.scalars(select(MatrixOutboxMessage)).one()
        assert "Jane" not in inbox.payload and "Jane" not in outbox.content
        login = store.load_login(session)
        assert login is not None and login.access_token == "syt_secret_token"
        assert [e.body for e in store.pending_events(session)] == [secret]
        assert [i.content["body"] for i in store.undelivered(session)] == [secret]


def poster_for(store: RuntimeStore, client: nio.AsyncClient) -> Poster:
    """The runtime's poster, without a runtime: the guard reads the client's rooms."""
    return Poster(store, require_encrypted=lambda room: require_encrypted(client, room),
                  wake=lambda: None)


def test_an_event_is_claimed_once(store_and_engine):
    store, engine = store_and_engine
    with session_scope(engine) as session:
        store.add_event(session, event("r", 0))
    with session_scope(engine) as session:
        assert store.claim_event(session, "$r0")
    with session_scope(engine) as session:
        assert not store.claim_event(session, "$r0")
        assert store.pending_events(session) == []


def test_nio_default_pickle_key_is_refused(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(ValueError, match="pickle_key"):
        RuntimeConfig("http://127.0.0.1:1", tmp_path, "DEFAULT_KEY", engine, object())  # type: ignore[arg-type]
    RuntimeConfig("http://127.0.0.1:1", tmp_path, secrets.token_hex(8), engine, object())  # type: ignore[arg-type]


async def test_patient_data_is_refused_for_a_room_without_encryption(store_and_engine):
    """Synapse here encrypts every room by default, so the guard is exercised directly."""
    store, engine = store_and_engine
    client = nio.AsyncClient("http://127.0.0.1:1", "@bot:x")
    client.rooms["!plain:x"] = nio.MatrixRoom("!plain:x", "@bot:x")
    client.rooms["!secret:x"] = nio.MatrixRoom("!secret:x", "@bot:x", encrypted=True)
    with session_scope(engine) as session:
        ctx = Context(event("!plain:x", 0), session, client, poster_for(store, client))
        with pytest.raises(UnencryptedRoomError):
            ctx.send_phi("!plain:x", {"body": "Jane Roe"})
        with pytest.raises(UnencryptedRoomError):
            ctx.send_phi("!unknown:x", {"body": "Jane Roe"})
        ctx.send_phi("!secret:x", {"body": "Jane Roe"})
        ctx.reply("pong")  # not PHI: allowed anywhere
    with session_scope(engine) as session:
        assert [i.room_id for i in store.undelivered(session)] == ["!secret:x", "!plain:x"]
    await client.close()


async def test_a_command_that_hits_the_guard_answers_with_what_to_do(store_and_engine, tmp_path):
    store, engine = store_and_engine

    class Leaky(Bot):
        @command("leak", help="tries to post patient data")
        async def leak(self, ctx: Context) -> None:
            ctx.send_phi(ctx.event.room_id, {"msgtype": "m.text", "body": "Jane Roe"})

    config = RuntimeConfig("http://127.0.0.1:1", tmp_path, "k" * 16, engine, store._cipher)
    bot = Leaky(BotAccount("@bot:x", "pw", "Leaky"), config)
    client = nio.AsyncClient("http://127.0.0.1:1", "@bot:x")
    client.rooms["!plain:x"] = nio.MatrixRoom("!plain:x", "@bot:x")
    with session_scope(engine) as session:
        await bot._route(Context(event("!plain:x", 0, "!leak"), session, client,
                                 poster_for(store, client)))
    with session_scope(engine) as session:
        (refusal,) = store.undelivered(session)
    assert "without end-to-end encryption" in refusal.content["body"]
    await client.close()


async def test_a_handler_that_refuses_answers_the_sender(store_and_engine, tmp_path):
    store, engine = store_and_engine

    class Picky(Bot):
        @command("pick", help="refuses")
        async def pick(self, ctx: Context) -> None:
            with session_scope(engine):  # a refusal passes through context managers
                raise CommandError("not that one")

    config = RuntimeConfig("http://127.0.0.1:1", tmp_path, "k" * 16, engine, store._cipher)
    bot = Picky(BotAccount("@bot:x", "pw", "Picky"), config)
    client = nio.AsyncClient("http://127.0.0.1:1", "@bot:x")
    with session_scope(engine) as session:
        await bot._route(Context(event("!r:x", 0, "!pick"), session, client,
                                 poster_for(store, client)))
    with session_scope(engine) as session:
        (refusal,) = store.undelivered(session)
    assert refusal.content["body"] == "not that one"
    assert refusal.content["m.mentions"] == {"user_ids": ["@a:x"]}
    await client.close()


async def test_handler_effects_commit_with_the_event_or_not_at_all(store_and_engine, tmp_path):
    store, engine = store_and_engine
    audit = AuditLog(b"k" * 32)

    async def handle(ctx: Context) -> None:
        audit.record(ctx.session, actor=ctx.event.sender, action="case.read",
                     record_type="case", record_id=ctx.event.event_id, reason="test")
        ctx.reply("ok")
        if ctx.event.body == "!fail":
            raise RuntimeError("boom")

    async def never(room_id: str, inviter: str | None) -> bool:
        return False

    config = RuntimeConfig("http://127.0.0.1:1", tmp_path, "k" * 16, engine, store._cipher)
    runtime = MatrixRuntime(BotAccount("@bot:x", "pw", "Bot"), config, handle=handle,
                            wants=lambda _: True, should_join=never)
    runtime._client = nio.AsyncClient("http://127.0.0.1:1", "@bot:x")
    good, bad = event("!r", 0, "!ok"), event("!r", 1, "!fail")
    with session_scope(engine) as session:
        store.add_event(session, good)
        store.add_event(session, bad)

    await runtime._process(good)
    await runtime._process(bad)
    await runtime._process(good)  # a replay of an event already handled does nothing

    with session_scope(engine) as session:
        audited = session.scalars(select(AuditEntry.record_id)).all()
        bodies = [item.content["body"] for item in store.undelivered(session)]
        assert store.pending_events(session) == []
    assert audited == [good.event_id], "the failed handler's audit entry rolled back"
    assert bodies[0] == "ok" and bodies[1].startswith("Sorry, something went wrong")
    assert len(bodies) == 2
    await runtime._client.close()


async def test_the_outbox_sends_rooms_concurrently_each_in_order_and_once(
    store_and_engine, tmp_path
):
    """A room whose send hangs holds up only its own later messages, not other rooms'."""
    store, engine = store_and_engine
    sent: list[tuple[str, str, str | None]] = []
    release = asyncio.Event()

    class Homeserver(nio.AsyncClient):
        async def room_send(self, room_id, message_type, content, tx_id=None,  # type: ignore[override]
                            ignore_unverified_devices=False):
            if content["body"] == "slow 0":
                await release.wait()
            sent.append((room_id, content["body"], tx_id))
            return nio.RoomSendResponse(f"$sent{len(sent)}", room_id)

    async def never(room_id: str, inviter: str | None) -> bool:
        return False

    config = RuntimeConfig("http://127.0.0.1:1", tmp_path, "k" * 16, engine, store._cipher)
    runtime = MatrixRuntime(BotAccount("@bot:x", "pw", "Bot"), config, handle=lambda _: None,  # type: ignore[arg-type,return-value]
                            wants=lambda _: True, should_join=never)
    runtime._client = Homeserver("http://127.0.0.1:1", "@bot:x")
    for room_id in ("!slow:x", "!fast:x"):
        room = nio.MatrixRoom(room_id, "@bot:x")
        room.members_synced = True
        runtime._client.rooms[room_id] = room
    with session_scope(engine) as session:
        for n in range(3):
            store.enqueue(session, "!slow:x", {"body": f"slow {n}"}, "m.room.message")
            store.enqueue(session, "!fast:x", {"body": f"fast {n}"}, "m.room.message")
    runtime._tasks.spawn(runtime._send_outbox(), "outbox")
    runtime.wake_outbox()

    await wait_for(lambda: len(sent) == 3, timeout=5, what="the other room's messages")
    assert [body for _, body, _ in sent] == ["fast 0", "fast 1", "fast 2"]
    for _ in range(3):  # reloads while a send hangs do not queue it again
        runtime.wake_outbox()
        await asyncio.sleep(0.01)
    release.set()
    await wait_for(lambda: len(sent) == 6, timeout=5, what="the slow room's messages")
    await asyncio.sleep(0.05)
    assert [body for room, body, _ in sent if room == "!slow:x"] == ["slow 0", "slow 1", "slow 2"]
    assert len({txn for _, _, txn in sent}) == 6, "each row sent once, with its own txn id"
    with session_scope(engine) as session:
        assert store.undelivered(session) == []
    await runtime.stop()


async def test_a_handlers_reply_goes_to_the_sender_at_once_yet_after_older_rows(
    store_and_engine, tmp_path
):
    """The committed reply is handed over without a reload of the outbox, rows a
    rollback discarded are not, and rows a due load would find go out first."""
    store, engine = store_and_engine
    sent: list[str] = []

    class Homeserver(nio.AsyncClient):
        async def room_send(self, room_id, message_type, content, tx_id=None,  # type: ignore[override]
                            ignore_unverified_devices=False):
            sent.append(content["body"])
            return nio.RoomSendResponse(f"$sent{len(sent)}", room_id)

    async def handle(ctx: Context) -> None:
        if ctx.event.body == "!retry":
            ctx.reply("rolled back")
            ctx.session.rollback()
        ctx.reply(f"re {ctx.event.body}")

    async def never(room_id: str, inviter: str | None) -> bool:
        return False

    config = RuntimeConfig("http://127.0.0.1:1", tmp_path, "k" * 16, engine, store._cipher)
    runtime = MatrixRuntime(BotAccount("@bot:x", "pw", "Bot"), config, handle=handle,
                            wants=lambda _: True, should_join=never)
    runtime._client = Homeserver("http://127.0.0.1:1", "@bot:x")
    room = nio.MatrixRoom("!r", "@bot:x")
    room.members_synced = True
    runtime._client.rooms["!r"] = room
    first, retry, last = (event("!r", n, body) for n, body in enumerate(["!a", "!retry", "!b"]))
    with session_scope(engine) as session:
        for incoming in (first, retry, last):
            store.add_event(session, incoming)
    runtime._tasks.spawn(runtime._send_outbox(), "outbox")
    await wait_for(lambda: not runtime._outbox_wake.is_set(), timeout=5, what="the first load")

    await runtime._process(first)
    assert not runtime._outbox_wake.is_set(), "no reload needed"
    assert len(runtime._sender.queued()) == 1, "the reply is with the sender already"
    await runtime._process(retry)
    with session_scope(engine) as session:
        store.enqueue(session, "!r", {"body": "older"}, "m.room.message")
    runtime.wake_outbox()
    await runtime._process(last)

    await wait_for(lambda: len(sent) >= 4, timeout=5, what="the replies")
    await asyncio.sleep(0.05)
    assert sent == ["re !a", "re !retry", "older", "re !b"]
    with session_scope(engine) as session:
        assert store.undelivered(session) == []
    await runtime.stop()
