"""The gatekeeper's service without a homeserver: what it answers, refuses and undoes.

Runs :class:`Gatekeeper` on both databases with the real stores and the test
registry; each call gets its own transaction, committed as the runtime commits
a handler's, or rolled back on a refusal as the bot does.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from bots.gatekeeper import credentialing, verification
from bots.gatekeeper.config import GatekeeperConfig
from bots.gatekeeper.models import VerificationRequest
from bots.gatekeeper.roster import import_roster
from bots.gatekeeper.service import (
    NO_VERIFIERS_ROOM,
    NOT_A_VERIFIER_ROOM,
    NOT_IN_A_DM,
    Asker,
    Gatekeeper,
    Refused,
    Reply,
)
from curbside.audit import AuditEntry, AuditLog
from curbside.credentials import RoomConsent, VerifiedRoom, active_credential
from tests.adversary.ledger import Attempt, judge
from tests.gatekeeper.registry_data import BOB, DANA

P = ParamSpec("P")
T = TypeVar("T")

VERIFIERS = "!verifiers:curbside.test"
DM = "!dm-eve:curbside.test"
ROOM = "!huddle:curbside.test"          # a verified room
VERIFIER = Asker("@vera:curbside.test", VERIFIERS)
EVE = Asker("@eve:curbside.test", DM)  # not verified; holds DANA's NPI for the conversation
DANA_ID = "@dana:curbside.test"
BOB_ID = "@bob:curbside.test"


@dataclass
class World:
    engine: Engine
    gatekeeper: Gatekeeper

    def ask(self, work: Callable[Concatenate[Session, P], T], *args: P.args,
            **kwargs: P.kwargs) -> T:
        """One handler's transaction, committed."""
        with Session(self.engine, autoflush=False, expire_on_commit=False) as session:
            answer = work(session, *args, **kwargs)
            session.commit()
            return answer

    def refusal(self, work: Callable[Concatenate[Session, P], object], *args: P.args,
                **kwargs: P.kwargs) -> str:
        """The refusal's message; what the call wrote is rolled back, as the bot does."""
        with Session(self.engine, autoflush=False, expire_on_commit=False) as session:
            with pytest.raises(Refused) as refused:
                work(session, *args, **kwargs)
            session.rollback()
        return str(refused.value)

    def count(self, model: type) -> int:
        with Session(self.engine) as session:
            return session.scalar(select(func.count()).select_from(model)) or 0


def _world(engine: Engine, audit: AuditLog, tmp_path: Path, verifiers_room: str | None) -> World:
    roster = tmp_path / "roster.csv"
    roster.write_text("matrix_id,npi,licence_state,licence_number,checked\n"
                      f"{DANA_ID},{DANA},MA,MD123456,HR\n{BOB_ID},{BOB},MA,MD222222,HR\n")
    import_roster(engine, roster, "@admin:curbside.test", audit=audit)
    with Session(engine) as session:
        session.add(VerifiedRoom(room_id=ROOM, created_by=DANA_ID,
                                 created_at=datetime.now(UTC)))
        session.commit()
    settings = GatekeeperConfig(verifiers_room=verifiers_room, max_attempts=2)
    return World(engine, Gatekeeper(audit, settings, clock=lambda: datetime.now(UTC)))


@pytest.fixture
def world(engine: Engine, audit: AuditLog, tmp_path: Path) -> World:
    return _world(engine, audit, tmp_path, VERIFIERS)


def _submitted(world: World) -> Reply:
    """Eve answers every question right; the last answer's reply."""
    gk = world.gatekeeper
    world.ask(gk.verify, EVE, direct=True)
    world.ask(gk.answer, EVE, DANA)
    world.ask(gk.answer, EVE, "Dana J Whitfield")
    reply = world.ask(gk.answer, EVE, "NH NH-7788")
    assert reply is not None
    return reply


def test_verify_is_refused_outside_a_private_dm(world: World) -> None:
    gk = world.gatekeeper
    assert world.refusal(gk.verify, EVE, direct=False) == NOT_IN_A_DM
    assert world.refusal(gk.verify, Asker(EVE.user_id, VERIFIERS), direct=True) == NOT_IN_A_DM
    assert world.refusal(gk.verify, Asker(EVE.user_id, ROOM), direct=True) == NOT_IN_A_DM
    assert world.count(VerificationRequest) == 0
    assert "no verification request in progress" in world.refusal(gk.cancel, EVE)


def test_a_conversation_reaches_the_verifiers_and_only_they_decide(world: World) -> None:
    gk = world.gatekeeper
    assert world.ask(gk.answer, EVE, "hello") is None  # nothing asked yet
    reply = _submitted(world)
    assert "a member of the credentialing team" in reply.text and not reply.preface
    [post] = reply.posts
    assert post.room_id == VERIFIERS and f"from {EVE.user_id}" in post.text
    assert "is with the credentialing team" in world.ask(gk.verify, EVE, direct=True).text
    request_id = int(post.text.split("#")[1].split()[0])

    assert world.refusal(gk.approve, Asker(VERIFIER.user_id, DM), request_id, "ID") \
        == NOT_A_VERIFIER_ROOM
    assert world.refusal(gk.approve, Asker(EVE.user_id, VERIFIERS), request_id, "ID") \
        == "You cannot attest your own verification request."
    assert world.refusal(gk.deny, VERIFIER, 999, "no") == "There is no verification request #999."
    with Session(world.engine) as session:  # the refused approval left the request pending
        assert verification.open_request(session, EVE.user_id).state \
            == verification.AWAITING_ATTESTATION
        assert active_credential(session, EVE.user_id) is None

    approved = world.ask(gk.approve, VERIFIER, request_id, "ID by video")
    assert approved.text.startswith(
        f"Approved #{request_id}: Dana Whitfield, MD ({EVE.user_id}) is verified until")
    [told] = approved.posts
    assert told.room_id == DM and told.text.startswith("You are verified: Dana Whitfield")
    assert "not awaiting attestation" in world.refusal(gk.deny, VERIFIER, request_id, "late")


def test_without_a_verifiers_room_the_clinician_is_told_no_one_can_attest(
    engine: Engine, audit: AuditLog, tmp_path: Path
) -> None:
    reply = _submitted(_world(engine, audit, tmp_path, None))
    assert reply.posts == () and reply.preface == (NO_VERIFIERS_ROOM,)


def test_a_request_made_before_the_room_existed_is_posted_when_it_appears(
    engine: Engine, audit: AuditLog, tmp_path: Path
) -> None:
    world = _world(engine, audit, tmp_path, None)
    gk, now = world.gatekeeper, datetime.now(UTC)
    _submitted(world)
    [request_id] = [r.id for r in world.ask(lambda s: credentialing.unposted(s))]
    made = Asker(VERIFIER.user_id, "!made-by-the-bot:curbside.test")
    assert world.refusal(gk.pending, made) == NOT_A_VERIFIER_ROOM  # no room yet

    assert world.ask(credentialing.add_verifier, audit, VERIFIER.user_id, by="operator:cli",
                     now=now)
    assert not world.ask(credentialing.add_verifier, audit, VERIFIER.user_id,
                         by="operator:cli", now=now)
    assert world.ask(credentialing.needs_room)
    world.ask(credentialing.record_room, audit, made.room_id, "@gk:curbside.test", now)
    assert [v.user_id for v in world.ask(credentialing.to_invite, made.room_id)] == [
        VERIFIER.user_id]
    [post] = world.ask(gk.post_waiting, made.room_id)
    assert post.room_id == made.room_id and f"#{request_id} from {EVE.user_id}" in post.text
    assert "Dana Whitfield" in post.text or "DANA" in post.text.upper()
    assert world.ask(gk.post_waiting, made.room_id) == []  # posted once

    listed = world.ask(gk.pending, made)
    assert listed.text.startswith("1 request(s) waiting:") and f"#{request_id}" in listed.text
    approved = world.ask(gk.approve, made, request_id, "ID by video")
    assert approved.text.startswith(f"Approved #{request_id}: ")
    assert world.ask(gk.pending, made).text == "No verification requests are waiting."


def test_a_request_is_decided_only_in_the_room_it_was_shown_in(
    engine: Engine, audit: AuditLog, tmp_path: Path
) -> None:
    world = _world(engine, audit, tmp_path, None)
    _submitted(world)  # no room: posted nowhere
    [request_id] = [r.id for r in world.ask(lambda s: credentialing.unposted(s))]
    configured = Gatekeeper(audit, GatekeeperConfig(verifiers_room=VERIFIERS),
                            clock=lambda: datetime.now(UTC))
    refused = world.refusal(configured.approve, VERIFIER, request_id, "ID")
    assert refused.startswith(f"Request #{request_id} has not been shown in this room")
    assert "!pending" in refused
    assert world.refusal(configured.deny, VERIFIER, request_id, "no").startswith(
        f"Request #{request_id} has not been shown")
    assert world.ask(configured.pending, VERIFIER).text == "No verification requests are waiting."


def test_a_message_nothing_awaits_in_a_dm_hears_what_to_do_next(world: World) -> None:
    gk = world.gatekeeper
    unverified = world.ask(gk.answer, EVE, "hello", direct=True)
    assert unverified is not None and "Send !verify to start" in unverified.text
    verified = world.ask(gk.answer, Asker(DANA_ID, "!dm-dana:curbside.test"), "hi",
                         direct=True)
    assert verified is not None and verified.text.startswith("You are verified as Dana")
    assert world.ask(gk.answer, Asker(DANA_ID, VERIFIERS), "hi", direct=True) is None
    assert world.ask(gk.answer, Asker(DANA_ID, ROOM), "hi", direct=True) is None


def test_wrong_answers_close_the_request_with_an_audit_record(world: World) -> None:
    gk = world.gatekeeper
    world.ask(gk.verify, EVE, direct=True)
    assert world.ask(gk.answer, EVE, "12345").text.endswith("or !cancel to stop.")
    assert "I closed this request" in world.ask(gk.answer, EVE, "12345").text
    with Session(world.engine) as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action == "verification.close")) == 1
    assert "no verification request in progress" in world.refusal(gk.cancel, EVE)


def test_revoke_needs_the_verifiers_room_and_an_active_credential(world: World) -> None:
    gk = world.gatekeeper
    assert world.refusal(gk.revoke, Asker(VERIFIER.user_id, ROOM), DANA_ID, "x") \
        == NOT_A_VERIFIER_ROOM
    assert world.refusal(gk.revoke, VERIFIER, EVE.user_id, "x") \
        == f"{EVE.user_id} holds no active verification; nothing to revoke."
    reply = world.ask(gk.revoke, VERIFIER, DANA_ID, "licence lapsed")
    assert reply.wake_sweep and reply.text.startswith(f"Revoked {DANA_ID}.")
    with Session(world.engine) as session:
        assert active_credential(session, DANA_ID) is None


def test_verified_rooms_admit_only_verified_colleagues(world: World) -> None:
    gk = world.gatekeeper
    dana, bob = Asker(DANA_ID, DM), Asker(BOB_ID, DM)
    assert world.refusal(gk.room_creator, EVE).startswith("Only verified clinicians can create")
    assert world.ask(gk.room_creator, dana).user_id == DANA_ID
    assert world.refusal(gk.invitee, dana, "!other:curbside.test", BOB_ID, inviter_joined=True) \
        == "!other:curbside.test is not a verified room I manage."
    assert world.refusal(gk.invitee, EVE, ROOM, BOB_ID, inviter_joined=True).startswith(
        "Only verified clinicians")
    assert world.refusal(gk.invitee, dana, ROOM, EVE.user_id, inviter_joined=True).startswith(
        f"{EVE.user_id} is not a verified clinician")
    assert world.refusal(gk.invitee, bob, ROOM, DANA_ID, inviter_joined=False).startswith(
        f"Only members of {ROOM} can invite to it.")
    assert world.count(RoomConsent) == 0, "a refused invite records no consent"

    assert world.refusal(gk.unblock, bob, DANA_ID) == f"{DANA_ID} was not blocked."
    world.ask(gk.block, bob, "@*:curbside.test")
    world.ask(gk.block, bob, "@*:curbside.test")  # again: still one block
    assert world.refusal(gk.invitee, dana, ROOM, BOB_ID, inviter_joined=True) \
        == f"{BOB_ID} does not accept invites from you."
    assert world.ask(gk.unblock, bob, "@*:curbside.test").text == "@*:curbside.test can invite " \
        "you again."
    credential = world.ask(gk.invitee, dana, ROOM, BOB_ID, inviter_joined=True)
    assert world.count(RoomConsent) == 1, "the module lets the invite through on this record"
    assert world.ask(gk.invited, dana, ROOM, credential).text \
        == f"Invited {credential.display_name} ({BOB_ID})."


def test_a_join_is_a_request_the_owners_decide(world: World) -> None:
    """Changed rule: !join no longer admits a verified clinician by itself (issue 10)."""
    gk = world.gatekeeper
    dana, bob = Asker(DANA_ID, DM), Asker(BOB_ID, "!bobdm:curbside.test")
    assert world.refusal(gk.join_request, EVE, ROOM, member=False).startswith(
        "Verified rooms are for verified")
    assert world.refusal(gk.join_request, dana, ROOM, member=True) == f"You are already in {ROOM}."

    asked = world.ask(gk.join_request, bob, ROOM, member=False)
    assert asked.text.startswith(f"I asked the owners of {ROOM} (request #1).")
    (notice,) = asked.posts
    assert notice.room_id == ROOM and notice.mentions == (DANA_ID,)
    assert "!accept 1" in notice.text and notice.on_sent == "join-notice:1"
    assert world.count(RoomConsent) == 0, "asking consents to nothing"
    assert world.refusal(gk.join_request, bob, ROOM, member=False).startswith(
        f"You have already asked to join {ROOM}")
    assert world.refusal(gk.accept_join, bob, 1) == \
        f"Only the owners of {ROOM} decide who joins it."

    request, credential = world.ask(gk.accept_join, dana, 1)
    assert (request.state, credential.user_id) == ("accepted", BOB_ID)
    assert world.count(RoomConsent) == 1
    told = world.ask(gk.join_accepted, dana, request, credential)
    assert told.posts[0].room_id == "!bobdm:curbside.test"
    assert world.refusal(gk.decline_join, dana, 1, "too late").startswith(
        "Request #1 is already accepted")


def test_a_declined_or_lapsed_request_is_told_to_the_requester(world: World) -> None:
    gk = world.gatekeeper
    dana, bob = Asker(DANA_ID, DM), Asker(BOB_ID, "!bobdm:curbside.test")
    world.ask(gk.join_request, bob, ROOM, member=False)
    declined = world.ask(gk.decline_join, dana, 1, "board members only")
    assert declined.posts[0].room_id == "!bobdm:curbside.test"
    assert "declined by its owners: board members only" in declined.posts[0].text

    world.ask(gk.join_request, bob, ROOM, member=False)
    later = Gatekeeper(gk.audit, gk.settings,
                       clock=lambda: datetime.now(UTC) + timedelta(hours=73))
    (lapsed,) = world.ask(later.expire_join_requests)
    assert lapsed.room_id == "!bobdm:curbside.test" and "lapsed" in lapsed.text
    assert world.count(RoomConsent) == 0


def test_the_name_note_only_for_a_verified_member_showing_another_name(world: World) -> None:
    gk = world.gatekeeper
    with Session(world.engine) as session:
        shown = active_credential(session, DANA_ID).display_name
    assert world.ask(gk.name_note, ROOM, DANA_ID, shown) is None
    assert world.ask(gk.name_note, DM, DANA_ID, "Dr Who") is None  # not a verified room
    note = world.ask(gk.name_note, ROOM, DANA_ID, "Dr <Who>")
    assert note is not None and note.mentions == (DANA_ID,) and "Dr &lt;Who&gt;" in note.html


def test_the_directory_is_for_verified_clinicians(world: World) -> None:
    gk = world.gatekeeper
    dana = Asker(DANA_ID, DM)
    assert world.refusal(gk.find, EVE, "cardiology", "MA") \
        == "The directory is for verified clinicians; send !verify first."
    assert world.refusal(gk.set_listed, EVE, listed=False) \
        == "Only verified clinicians are listed; send !verify first."
    assert world.refusal(gk.find, dana, "cardiology", "nh").startswith(
        "No verified colleagues found for 'cardiology' licensed in NH.")
    assert world.ask(gk.find, dana, "cardiology", "MA").text.startswith(
        "Verified colleagues (2):")
    world.ask(gk.set_listed, Asker(BOB_ID, DM), listed=False)
    assert world.ask(gk.find, dana, "cardiology", "MA").text.startswith(
        "Verified colleagues (1):")


def test_the_service_imports_no_matrix_client() -> None:
    """Services never touch Matrix I/O: importing one loads no nio."""
    probe = "import sys, bots.gatekeeper.service; sys.exit('nio' in sys.modules)"
    root = Path(__file__).resolve().parents[2]
    assert subprocess.run([sys.executable, "-c", probe], cwd=root).returncode == 0


@pytest.mark.parametrize(
    ("case", "answer", "named"),
    [
        ("an NPI with a NUL", f"{DANA}\x00", "U+0000"),
        ("a name with a right-to-left override", "Dana \u202eWhitfield", "U+202E"),
        ("an answer of 5,000 characters", "1" * 5000, "too long"),
    ],
)
def test_a_hostile_answer_is_refused_without_costing_an_attempt(
    world: World, case: str, answer: str, named: str
) -> None:
    gk = world.gatekeeper
    world.ask(gk.verify, EVE, direct=True)
    reply = world.ask(gk.answer, EVE, answer)
    judge(Attempt("input bounds everywhere", "unverified user",
                  f"gatekeeper verification: {case}", 0, "refused"),
          0, "refused" if reply is not None and named in reply.text else "accepted")
    assert reply is not None and verification.QUESTIONS[verification.AWAITING_NPI] in reply.text
    with Session(world.engine) as session:
        request = session.scalars(select(VerificationRequest)).one()
        assert (request.state, request.attempts) == (verification.AWAITING_NPI, 0)
