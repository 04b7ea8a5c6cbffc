"""Scenarios, with the real gatekeeper on a Synapse that loads the module (both share the
bot's database): membership by consent, governed upgrades, no plaintext.

Requirement → scenario → expected answer. The clinicians are verified by roster
import: Alice creates "Tumour board" and owns it, Bob is invited by her, Carol
(never invited) and Lee ask to join, Zed is not verified. Raw requests go
through tests/policy's raw client with each person's own token — and, for "admin
as bot", with the gatekeeper's token, as an admin who took it would.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import nio
import pytest
from sqlalchemy.orm import Session

from bots.gatekeeper import joins
from bots.gatekeeper.roster import import_roster
from curbside.credentials import is_verified_room
from curbside.database import KERNEL_VERSIONS, make_engine, migrate
from curbside.matrix.rooms import MEGOLM
from tests.adversary.ledger import Attempt, judge
from tests.conftest import make_synapse
from tests.gatekeeper.registry_data import BOB, CAROL, DANA, LATER_DEACTIVATED
from tests.gatekeeper.scenario import World, start_world
from tests.policy.raw_client import RawClient, q
from tests.policy.server import MODULE
from tests.support.matrix_testkit import MatrixUser, eventually, wait_for

pytestmark = pytest.mark.homeserver

TAG = uuid.uuid4().hex[:6]


@dataclass
class Board:
    world: World
    http: aiohttp.ClientSession
    alice: MatrixUser
    bob: MatrixUser
    carol: MatrixUser
    lee: MatrixUser
    zed: MatrixUser
    dms: dict[str, str]
    room_id: str

    def raw(self, user: MatrixUser) -> RawClient:
        return RawClient(self.http, self.world.homeserver.url, user.user_id,
                         str(user.client.access_token))

    @property
    def as_bot(self) -> RawClient:
        client = self.world.bot.client
        return RawClient(self.http, self.world.homeserver.url, self.world.bot_id,
                         str(client.access_token))

    async def membership(self, room_id: str, user: MatrixUser) -> str | None:
        return await self.as_bot.membership(room_id, user.user_id)

    async def ask(self, user: MatrixUser, text: str) -> str:
        return await self.world.ask(user, self.dms[user.user_id], text)

    def notices(self, user: MatrixUser, room_id: str, containing: str) -> list[str]:
        return [b for b in self.world.notices(user, room_id) if containing in b]


@pytest.fixture(scope="module")
async def board(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Board]:
    tmp = tmp_path_factory.mktemp("consent")
    localpart = f"gatekeeper{TAG}"
    db_url = f"sqlite:///{tmp / f'{localpart}.db'}"
    engine = make_engine(db_url)
    migrate(engine, [KERNEL_VERSIONS])  # the gatekeeper's own tables: start_world
    engine.dispose()
    module = {"module": MODULE, "config": {
        "database_url": db_url, "gatekeeper_user_id": f"@{localpart}:curbside.test",
        "cache_ttl_seconds": 1}}
    synapse = make_synapse(tmp / "synapse", modules=(module,), extra={"bcrypt_rounds": 4})
    synapse.start()
    world = await start_world(synapse, tmp, TAG)
    try:
        async with aiohttp.ClientSession() as http:
            people = {name: await world.user(f"{name}{TAG}")
                      for name in ("alice", "bob", "carol", "lee", "zed")}
            roster = tmp / "roster.csv"
            roster.write_text(
                "matrix_id,npi,licence_state,licence_number,checked\n"
                f"{people['alice'].user_id},{DANA},MA,MD123456,HR identity check\n"
                f"{people['bob'].user_id},{BOB},MA,MD222222,HR identity check\n"
                f"{people['carol'].user_id},{CAROL},MA,RN333333,HR identity check\n"
                f"{people['lee'].user_id},{LATER_DEACTIVATED},MA,DO555555,HR identity check\n")
            result = import_roster(world.engine, roster, "@admin:curbside.test",
                                   audit=world.audit)
            assert (result.imported, result.rejections) == (4, ())
            dms = {p.user_id: await world.dm(p) for p in people.values()}
            alice = people["alice"]
            created = await world.ask(alice, dms[alice.user_id], "!room create Tumour board")
            found = re.search(r"\((![^)]+)\)", created)
            assert found is not None, created
            room_id = found.group(1)
            await wait_for(lambda: room_id in alice.client.invited_rooms, what="Alice's invite")
            assert isinstance(await alice.client.join(room_id), nio.JoinResponse)
            board = Board(world, http, **people, dms=dms, room_id=room_id)
            invited = await board.ask(alice, f"!invite {board.bob.user_id} {room_id}")
            # Notices name the verified person, then the Matrix id (issue 13).
            assert invited.startswith("Invited ") and f"({board.bob.user_id})." in invited, invited
            await wait_for(lambda: room_id in board.bob.client.invited_rooms, what="Bob's invite")
            assert isinstance(await board.bob.client.join(room_id), nio.JoinResponse)
            yield board
    finally:
        await world.close()
        synapse.stop()


async def test_an_uninvited_clinicians_join_waits_for_the_owner(board: Board) -> None:
    """Requirement 1: !join puts a request to the room's owner; Carol is in only after Alice
    approves."""
    alice, carol, room = board.alice, board.carol, board.room_id
    asked = await board.ask(carol, f"!join {room}")
    assert asked.startswith(f"I asked the owners of {room} (request #"), asked
    request_id = int(re.search(r"#(\d+)", asked).group(1))  # type: ignore[union-attr]
    put_to_owner = await wait_for(lambda: board.notices(alice, room, "asks to join"),
                                  what="the request in the room")
    assert f"{carol.user_id} (Carol Nguyen, NP" in put_to_owner[0]
    assert f"!accept {request_id}" in put_to_owner[0]
    assert await board.membership(room, carol) is None, "asking lets nobody in"

    joined = await board.raw(carol).join(room)
    judge(Attempt("VR-13", "verified non-member", "POST /join before the owner agreed", 403,
                  "M_FORBIDDEN"), joined.status, joined.errcode)
    by_bot = await board.as_bot.invite(room, carol.user_id)
    judge(Attempt("VR-13", "admin as bot", "invite the asker before the owner agreed", 403,
                  "M_FORBIDDEN"), by_bot.status, by_bot.errcode)
    assert by_bot.rule == "VR-13", by_bot
    not_owner = await board.ask(board.bob, f"!accept {request_id}")
    judge(Attempt("owners decide", "member", "!accept by a member who is not an owner", 0,
                  "refused"), 0, "refused" if not_owner.startswith("Only the owners") else "done")
    assert await board.membership(room, carol) is None

    accepted = await board.ask(alice, f"!accept {request_id}")
    assert accepted.startswith(f"Accepted request #{request_id}: invited {carol.user_id}")
    await wait_for(lambda: room in carol.client.invited_rooms, what="Carol's invite")
    told = await wait_for(lambda: board.notices(carol, board.dms[carol.user_id], "agreed"),
                          what="Carol hears she was let in")
    assert alice.user_id in told[0]
    assert isinstance(await carol.client.join(room), nio.JoinResponse)
    assert await board.membership(room, carol) == "join"


async def test_a_declined_request_is_told_and_lets_nobody_in(board: Board) -> None:
    alice, lee, room = board.alice, board.lee, board.room_id
    asked = await board.ask(lee, f"!join {room}")
    request_id = int(re.search(r"#(\d+)", asked).group(1))  # type: ignore[union-attr]
    await wait_for(lambda: board.notices(alice, room, f"request #{request_id})"),
                   what="Lee's request in the room")

    declined = await board.ask(alice, f"!decline {request_id} board members only")
    assert declined == f"Declined request #{request_id}; {lee.user_id} has been told."
    told = await wait_for(lambda: board.notices(lee, board.dms[lee.user_id], "declined"),
                          what="Lee hears the refusal")
    assert "board members only" in told[0] and "You have not been invited" in told[0]
    assert await board.membership(room, lee) is None
    again = await board.ask(alice, f"!accept {request_id}")
    judge(Attempt("join lifecycle", "owner", "!accept a request already declined", 0,
                  "refused"), 0, "refused" if "already declined" in again else "done")
    assert await board.membership(room, lee) is None


async def test_an_owners_thumbs_up_on_the_request_lets_the_asker_in(board: Board) -> None:
    """Element sends reactions in the clear, even in encrypted rooms: the one answer the
    module and the bots let through unencrypted, and an owner's 👍 accepts the request."""
    alice, lee, room = board.alice, board.lee, board.room_id
    asked = await board.ask(lee, f"!join {room}")
    request_id = int(re.search(r"#(\d+)", asked).group(1))  # type: ignore[union-attr]
    notice = (await wait_for(lambda: [
        r for r in alice.received if r.room_id == room and r.event.sender == board.world.bot_id
        and f"(request #{request_id})" in r.body], what="the request's notice"))[0]

    async def noted() -> bool:  # the bot learns the notice's event id once it is sent
        with Session(board.world.engine) as session:
            return joins.by_notice(session, notice.event.event_id) is not None

    await eventually(noted, what="the notice recorded")
    reaction = {"m.relates_to": {"rel_type": "m.annotation", "event_id": notice.event.event_id,
                                 "key": "\U0001f44d"}}
    sent = await board.raw(alice).call(
        "PUT", f"/rooms/{q(room)}/send/m.reaction/{uuid.uuid4().hex}", reaction)
    assert sent.status == 200, sent

    await wait_for(lambda: room in lee.client.invited_rooms, what="Lee's invite")
    told = await wait_for(lambda: board.notices(lee, board.dms[lee.user_id], "agreed"),
                          what="Lee hears he was let in")
    assert alice.user_id in told[0]
    assert await board.membership(room, lee) == "invite"


async def test_only_joined_members_have_the_gatekeeper_invite(board: Board) -> None:
    lee, zed, room = board.lee, board.zed, board.room_id
    outsider = await board.ask(lee, f"!invite {board.carol.user_id} {room}")
    judge(Attempt("VR-13", "verified non-member", "!invite into a room he is not in", 0,
                  "refused"), 0,
          "refused" if outsider.startswith(f"Only members of {room}") else "done")
    unverified = await board.ask(board.bob, f"!invite {zed.user_id} {room}")
    judge(Attempt("VR-01", "member", "!invite an unverified user", 0, "refused"), 0,
          "refused" if "is not a verified clinician" in unverified else "done")
    assert await board.membership(room, zed) is None


async def test_plaintext_into_an_encrypted_room_is_refused_with_the_rule(board: Board) -> None:
    """Requirement 3: a clear m.room.message into the encrypted verified room or a DM with a
    bot is refused before it exists (E2E-03), so no bot could act on it."""
    for actor, user, room in (("member", board.bob, board.room_id),
                              ("owner", board.alice, board.dms[board.alice.user_id])):
        path = f"/rooms/{q(room)}/send/m.room.message/{uuid.uuid4().hex}"
        reply = await board.raw(user).call("PUT", path, {
            "msgtype": "m.text", "body": "!find cardiology MA"})
        judge(Attempt("E2E-03", actor, f"PUT m.room.message in the clear into {room}", 403,
                      "M_FORBIDDEN"), reply.status, reply.errcode)
        assert reply.rule == "E2E-03", reply
        history = await board.raw(user).call("GET", f"/rooms/{q(room)}/messages?dir=b&limit=20")
        assert not [e for e in history.body["chunk"] if e["type"] == "m.room.message"]


async def test_upgrade_by_anyone_but_the_gatekeeper_writes_no_tombstone(board: Board) -> None:
    """Requirement 2: a member, the owner by hand and an admin holding the bot's token are
    refused (403 VR-14) and the room has no tombstone."""
    room = board.room_id
    for actor, client in (("member", board.raw(board.bob)), ("owner", board.raw(board.alice)),
                          ("admin as bot", board.as_bot)):
        reply = await client.call("POST", f"/rooms/{q(room)}/upgrade", {"new_version": "10"})
        judge(Attempt("VR-14", actor, "POST /rooms/{verified}/upgrade", 403, "M_FORBIDDEN"),
              reply.status, reply.errcode)
        assert reply.rule == "VR-14", reply
        tombstone = await board.as_bot.get_state(room, "m.room.tombstone")
        assert tombstone.status == 404, tombstone
    refused = await board.ask(board.bob, f"!room upgrade {room}")
    judge(Attempt("VR-14", "member", "!room upgrade by a member who is not an owner", 0,
                  "refused"), 0, "refused" if refused.startswith("Only the room's owners") else
          "done")


async def test_room_upgrade_makes_a_verified_successor(board: Board) -> None:
    """Requirement 2: !room upgrade by the owner: the successor is verified, the members are
    re-invited, and it refuses an unverified invite."""
    alice, bob, room = board.alice, board.bob, board.room_id
    answer = await board.ask(alice, f"!room upgrade {room}")
    found = re.match(rf"Upgraded {re.escape(room)} to (!\S+), a verified room", answer)
    assert found is not None, answer
    successor = found.group(1).rstrip(",")
    assert "could not invite" not in answer, answer
    with Session(board.world.engine) as session:
        assert is_verified_room(session, successor)
    tombstone = await board.as_bot.get_state(room, "m.room.tombstone")
    assert tombstone.body.get("replacement_room") == successor
    await wait_for(lambda: successor in bob.client.invited_rooms, what="Bob re-invited")
    assert await board.membership(successor, bob) == "invite"
    encryption = await board.as_bot.get_state(successor, "m.room.encryption")
    assert encryption.body.get("algorithm") == MEGOLM

    for actor, client in (("admin as bot", board.as_bot), ("owner", board.raw(alice))):
        reply = await client.invite(successor, board.zed.user_id)
        judge(Attempt("VR-01" if actor == "admin as bot" else "VR-03", actor,
                      "invite an unverified user into the successor", 403, "M_FORBIDDEN"),
              reply.status, reply.errcode)
    joined = await board.raw(board.zed).join(successor)
    judge(Attempt("VR-02", "unverified user", "POST /join the successor", 403, "M_FORBIDDEN"),
          joined.status, joined.errcode)

    async def zed_out() -> bool:
        return await board.membership(successor, board.zed) is None

    await eventually(zed_out, what="zed stays out")
