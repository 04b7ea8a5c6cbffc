"""The desk's service without a homeserver: routing, relays, closing, and what it refuses.

Runs :class:`MedinfoDesk` on both databases with the real request store and a
real Poster on a RuntimeStore (the outbox). Each call gets its own
transaction, committed as the runtime commits a handler's, or rolled back on
a refusal as the bot does; what the desk posted is read back from the
outbox. Room membership, which the bot reads from its Matrix client, is a
dict here.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bots.medinfo.bot import MedinfoBot
from bots.medinfo.desk import NOT_VERIFIED, MedinfoDesk, Relay, Said
from bots.medinfo.lifecycle import Refused, reference
from bots.medinfo.models import RequestRow
from bots.medinfo.pv_states import Determination
from bots.medinfo.service_levels import ManualClock
from bots.medinfo.sponsors import import_sponsors
from bots.medinfo.store import RequestStore
from curbside.audit import AuditLog
from curbside.database import make_engine, migrate, session_scope
from curbside.matrix.posting import Poster
from curbside.matrix.storage import RuntimeStore
from curbside.phi import FieldCipher
from tests.adversary.ledger import Attempt, judge
from tests.medinfo.sponsor_fixtures import PLACEHOLDER_HELIX as HELIX
from tests.medinfo.sponsor_fixtures import PLACEHOLDER_NORTH as NORTH
from tests.medinfo.sponsor_fixtures import write_sponsors
from tests.medinfo.test_desk import MONDAY_10AM, _credential

P = ParamSpec("P")
T = TypeVar("T")

DESK = "@medinfo:curbside.test"
DANA = "@dana:curbside.test"        # a verified cardiologist
SAM = "@sam:curbside.test"          # not verified
DM = "!dm-dana:curbside.test"
SALES = "@sales:north.example"      # not admitted to any Northwind room
QUESTION = "urgency=routine response=chat consent=yes share=no Can Glucera be crushed?"


@dataclass
class World:
    engine: Engine
    outbox: RuntimeStore
    desk: MedinfoDesk
    rooms: dict[str, set[str]] = field(default_factory=dict)  # who is in each room

    def ask(self, work: Callable[Concatenate[Session, P], T], *args: P.args,
            **kwargs: P.kwargs) -> T:
        """One handler's transaction: committed, or rolled back when the desk refuses."""
        with Session(self.engine, autoflush=False, expire_on_commit=False) as session:
            try:
                result = work(session, *args, **kwargs)
            except Refused:
                session.rollback()
                raise
            session.commit()
            return result

    def refusal(self, work: Callable[Concatenate[Session, P], object], *args: P.args,
                **kwargs: P.kwargs) -> Refused:
        with pytest.raises(Refused) as refused:
            self.ask(work, *args, **kwargs)
        return refused.value

    def posted(self, room_id: str) -> list[str]:
        with session_scope(self.engine) as session:
            return [i.content["body"] for i in self.outbox.undelivered(session, limit=1000)
                    if i.room_id == room_id]

    def request(self) -> RequestRow:
        with session_scope(self.engine) as session:
            return session.scalars(select(RequestRow)).one()

    def routed(self) -> str:
        """Dana's request routed to Northwind, its MSL-thread root sent as ``$root``."""
        self.ask(self.desk.ask, dana("$q"), QUESTION)
        self.ask(self.desk.said, dana("$send", "send"))
        with session_scope(self.engine) as session:
            (root,) = [i for i in self.outbox.undelivered(session, limit=1000)
                       if i.room_id == NORTH.msl_room]
            self.outbox.mark_sent(session, root.id, "$root")
        return reference(self.request())


def dana(event_id: str, body: str = "", root: str = "$q") -> Said:
    return Said(DANA, DM, event_id, root, body, received=MONDAY_10AM.timestamp())


def msl(event_id: str, body: str = "", *, sender: str = NORTH.msl, root: str = "$root") -> Said:
    return Said(sender, NORTH.msl_room, event_id, root, body)


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    engine = make_engine(db_url)
    migrate(engine, MedinfoBot.version_locations())
    import_sponsors(engine, write_sponsors(tmp_path / "sponsors.yaml"))
    with session_scope(engine) as session:
        session.add(_credential(DANA))
    cipher = FieldCipher({"k1": bytes(range(32))}, "k1")
    audit = AuditLog(b"k" * 32)
    outbox = RuntimeStore(DESK, cipher)
    poster = Poster(outbox, require_encrypted=lambda room: None, wake=lambda: None)
    rooms = {NORTH.msl_room: {NORTH.msl}, NORTH.pv_room: {NORTH.pv},
             HELIX.msl_room: {HELIX.msl}, HELIX.pv_room: {HELIX.pv}}

    def people(room_id: str) -> Collection[str] | None:
        return rooms.get(room_id)

    desk = MedinfoDesk(RequestStore(DESK, cipher, audit), audit, poster,
                       ManualClock(MONDAY_10AM), people=people)
    yield World(engine, outbox, desk, rooms)
    engine.dispose()


# -- the clinician's side ---------------------------------------------------------


def test_a_confirmed_request_is_routed_to_its_team_with_its_due_time(world: World) -> None:
    world.ask(world.desk.ask, dana("$q"), QUESTION)
    [prompt] = world.posted(DM)
    assert "exactly what the sponsor will receive" in prompt
    assert world.posted(NORTH.msl_room) == []

    world.ask(world.desk.said, dana("$send", "send"))
    row = world.request()
    assert (row.state, row.sponsor_key, row.team_room_id) == ("routed", "northwind",
                                                              NORTH.msl_room)
    [request] = world.posted(NORTH.msl_room)
    assert request.startswith("Medical information request") and reference(row) in request
    assert "From: a verified Cardiovascular Disease clinician in MA" in request
    assert "Dana" not in request
    sent = world.posted(DM)[-1]
    assert sent.startswith(f"Sent to Northwind Pharma's medical team as request "
                           f"{reference(row)}. Expect an answer by Wed 02 Dec 2026, 10:00 "
                           "(America/New_York).")
    assert world.posted(HELIX.msl_room) == []


def test_an_unverified_clinician_is_refused_and_nothing_is_kept(world: World) -> None:
    stranger = replace(dana("$q"), sender=SAM)
    refused = world.refusal(world.desk.ask, stranger, QUESTION)
    assert (str(refused), refused.mentions) == (NOT_VERIFIED, (SAM,))
    with session_scope(world.engine) as session:
        assert session.scalars(select(RequestRow)).all() == []
    assert world.posted(DM) == []


def test_a_request_is_not_made_in_a_sponsor_room(world: World) -> None:
    reply = world.ask(world.desk.ask, msl("$q", root="$q"), QUESTION)
    assert reply is not None
    assert reply.text == "Requests are made from a clinician's chat with me, not in sponsor rooms."
    with session_scope(world.engine) as session:
        assert session.scalars(select(RequestRow)).all() == []


def test_a_request_is_held_while_someone_not_admitted_is_in_the_team_room(
        world: World) -> None:
    world.rooms[NORTH.msl_room].add(SALES)
    world.ask(world.desk.ask, dana("$q"), QUESTION)
    world.ask(world.desk.said, dana("$send", "send"))
    assert world.request().state == "intake"
    assert world.posted(NORTH.msl_room) == []
    assert world.posted(DM)[-1].startswith("I could not deliver this safely")
    assert world.ask(world.desk.intruders, NORTH.msl_room, "join") == [SALES]
    assert world.ask(world.desk.intruders, DM, "join") == []


# -- the sponsor's side -----------------------------------------------------------


def test_claims_outside_a_request_thread_or_by_others_are_refused(world: World) -> None:
    ref = world.routed()
    outside = world.refusal(world.desk.claim, msl("$c", root="$elsewhere"), "$elsewhere")
    assert str(outside) == "Use this in the thread of a request, in your team's room."
    pv = world.refusal(world.desk.claim, msl("$c", sender=NORTH.pv), "$root")
    assert str(pv) == "Only the sponsor's MSLs and medical information may act on requests."
    world.ask(world.desk.claim, msl("$r", sender=NORTH.pv), "$root", quiet=True)  # a reaction
    assert world.request().state == "routed"

    world.ask(world.desk.claim, msl("$c"), "$root")
    assert world.posted(NORTH.msl_room)[-1] == f"{NORTH.msl} claimed {ref}."
    world.ask(world.desk.claim, msl("$r"), "$root", quiet=True)  # the same MSL again: silent
    assert len([b for b in world.posted(NORTH.msl_room) if "claimed" in b]) == 1
    row = world.request()
    assert (row.state, row.claimed_by) == ("claimed", NORTH.msl)


def test_an_answer_is_relayed_privately_and_the_close_asks_for_feedback(world: World) -> None:
    ref = world.routed()
    answer = msl("$a", "Yes: crush it in water.")

    def relayed(session: Session) -> Relay | None:
        """The message handler's one transaction: read, (no letter to upload), relay."""
        relay = world.desk.said(session, answer)
        if relay is not None:
            world.desk.relay(session, answer, relay, None)
        return relay

    relay = world.ask(relayed)
    assert relay is not None and relay.letter is None  # a chat answer: no letter
    assert world.posted(DM)[-1] == f"Northwind Pharma medical team ({ref}): Yes: crush it in water."
    row = world.request()
    assert (row.state, row.claimed_by, row.answers) == ("claimed", NORTH.msl, 1)

    early = world.refusal(world.desk.closing, msl("$x"), "answered")
    assert str(early).startswith(f"Before closing {ref}, record whether it holds an adverse "
                                 "event or a product complaint: !safety none")
    assert world.ask(world.desk.determine, msl("$d"), Determination.NONE).text == (
        f"Recorded for {ref}: no adverse event or product complaint. You may !close it.")

    def closed(session: Session) -> str:
        closing = world.desk.closing(session, msl("$x"), "answered")
        assert closing.letter is None
        return world.desk.close(session, msl("$x"), closing, None).text

    assert world.ask(closed) == f"Closed {ref}: answered."
    assert world.posted(DM)[-1] == (f"Northwind Pharma's medical team closed request {ref} "
                                    "(answered). Did the answer help? Reply `yes` or `no`.")
    assert world.request().state == "closed"
    again = world.refusal(world.desk.closing, msl("$y"), "answered")
    assert str(again) == f"Request {ref} is already closed."
    late = world.refusal(world.desk.said, msl("$z", "One more thing."))
    assert str(late) == f"{ref} is closed; the requester was not sent this."


@pytest.mark.parametrize(
    ("case", "body", "named"),
    [
        ("an intake answer with a NUL", "routine\x00", "U+0000"),
        ("an intake answer with an escape sequence", "\x1b[2Jroutine", "U+001B"),
        ("an intake answer of 9,000 characters", "why " * 2250, "too long"),
    ],
)
def test_a_hostile_intake_answer_is_refused_and_the_draft_kept(
    world: World, case: str, body: str, named: str
) -> None:
    world.ask(world.desk.ask, dana("$q"), "Can Glucera be crushed?")
    before = world.request().state
    refused = world.refusal(world.desk.said, dana("$a", body))
    judge(Attempt("input bounds everywhere", "verified non-member",
                  f"medinfo: {case}", 0, "refused"),
          0, "refused" if named in str(refused) else "accepted")
    assert refused.mentions == (DANA,)
    assert world.request().state == before
