"""The desk's service without a homeserver: what it answers, what it refuses, what it undoes.

Runs :class:`ReferralDesk` on both databases with the real stores and a real
Poster on a RuntimeStore (the outbox); each call gets its own transaction,
committed as the runtime commits a handler's, or rolled back on a refusal as
the bot does. What the desk posted to the other party's thread is read back
from the outbox.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Concatenate, ParamSpec, TypeVar

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bots.referral_desk import conversations, form
from bots.referral_desk.bot import ReferralDeskBot
from bots.referral_desk.desk import NOT_VERIFIED, Asker, FileDrop, ReferralDesk, Refused, Reply
from bots.referral_desk.models import ASKING, CLOSED, DRAFT, RECIPIENT, DeskConversation
from bots.referral_desk.posts import PartyThreads
from curbside.credentials import VerifiedCredential
from curbside.database import make_engine, migrate, session_scope
from curbside.matrix.posting import Poster
from curbside.matrix.storage import RuntimeStore
from curbside.phi import decode_master_key, install_cipher, load_cipher, new_master_key
from referral.cases import ReferralEnv, get_referral
from referral.states import Status
from tests.referral.db_support import NOW, credential

P = ParamSpec("P")
T = TypeVar("T")

DESK = "@desk:curbside.test"
DANA = "@dana:curbside.test"      # the referrer
RAVI = "@cardio:curbside.test"    # the recipient
LEE = "@lee:curbside.test"        # verified, but no party to the referral
SAM = "@sam:curbside.test"        # not verified
ROOM = "!practice:curbside.test"  # Dana's room with the desk
DM = "!dm-ravi:curbside.test"     # the desk's DM with Ravi; the packet roots its thread
ORG = form.Organisation("Harbor Family Medicine", "+16175550100", "+16175550101")


def pasted(recipient: str = RAVI) -> str:
    """Every field of the form in one message; a fax number gets a recipient name too."""
    return "\n".join([
        "patient_name: Maria Q. Testpatient", "date_of_birth: 1957-03-14", "sex: F",
        "mrn: A-123456", "patient_phone: +16175550134", "payer: BCBS MA",
        "member_id: XJH123456789", f"recipient: {recipient}",
        *(["recipient_name: Beacon Cardiology"] if recipient.startswith("+") else []),
        "reason: New atrial fibrillation", "icd10_codes: I48.91", "urgency: routine",
        "clinical_question: Is anticoagulation indicated?", "consent: yes",
    ])


@dataclass
class World:
    engine: Engine
    store: RuntimeStore
    desk: ReferralDesk

    def ask(self, work: Callable[Concatenate[Session, P], T], *args: P.args,
            **kwargs: P.kwargs) -> T:
        """One handler's transaction: committed, or rolled back when the desk refuses."""
        with Session(self.engine, autoflush=False, expire_on_commit=False) as session:
            reply = work(session, *args, **kwargs)
            session.commit()
            return reply

    def answer(self, work: Callable[Concatenate[Session, P], Reply | None],
               *args: P.args, **kwargs: P.kwargs) -> Reply:
        reply = self.ask(work, *args, **kwargs)
        assert reply is not None
        return reply

    def refusal(self, work: Callable[Concatenate[Session, P], object],
                *args: P.args, **kwargs: P.kwargs) -> Reply:
        with pytest.raises(Refused) as refused:
            self.ask(work, *args, **kwargs)
        return refused.value.reply

    def posted(self, room_id: str) -> list[str]:
        with session_scope(self.engine) as session:
            return [i.content["body"] for i in self.store.undelivered(session, limit=1000)
                    if i.room_id == room_id]

    def status(self, referral_id: str) -> str:
        with session_scope(self.engine) as session:
            return get_referral(session, referral_id).status

    def conversation_states(self) -> list[str]:
        with session_scope(self.engine) as session:
            return list(session.scalars(select(DeskConversation.state)
                                        .order_by(DeskConversation.id)))

    def draft(self, recipient: str = RAVI) -> str:
        """Dana's form, pasted in one message; the draft's referral id."""
        self.answer(self.desk.start, dana())
        done = self.answer(self.desk.said, dana(), pasted(recipient))
        assert done.preview is not None, done.text
        return done.preview

    def sent(self) -> str:
        """A referral sent to Ravi, whose DM thread (rooted at the packet) is known."""
        referral_id = self.draft()
        self.answer(self.desk.send, dana())
        with session_scope(self.engine) as session:
            conversations.remember_thread(session, referral_id, RECIPIENT, DM, "$packet")
        return referral_id


def dana(thread_root: str = "$form") -> Asker:
    return Asker(DANA, ROOM, thread_root)


def ravi() -> Asker:
    return Asker(RAVI, DM, "$packet")


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    engine = make_engine(db_url)
    migrate(engine, ReferralDeskBot.version_locations())
    cipher = load_cipher(engine, decode_master_key(new_master_key()))
    install_cipher(cipher)
    with session_scope(engine) as session:
        session.add(credential(DANA, "Dana Whitfield", "1234567893", "Family Medicine"))
        session.add(credential(RAVI, "Ravi Okafor", "1987654321", "Cardiology"))
        session.add(credential(LEE, "Lee Park", "1122334455", "Cardiology"))
    store = RuntimeStore(DESK, cipher)
    poster = Poster(store, require_encrypted=lambda room: None, wake=lambda: None)
    env = ReferralEnv.from_secrets(audit_key=b"k" * 32, master_key=b"m" * 32)
    env = ReferralEnv(env.audit, env.index_key, clock=lambda: NOW)
    desk = ReferralDesk(env, ORG, PartyThreads(poster), channels={"matrix"}, clock=lambda: NOW)
    yield World(engine, store, desk)
    engine.dispose()


# -- the referrer's thread ---------------------------------------------------


def test_a_pasted_form_becomes_a_draft_and_send_asks_for_delivery(world: World) -> None:
    started = world.answer(world.desk.start, dana())
    assert started.text.startswith("New referral.") and started.mentions == (DANA,)
    done = world.answer(world.desk.said, dana(), pasted())
    referral_id = done.preview
    assert referral_id is not None and done.phi
    assert done.text.startswith(f"Draft {referral_id} for Ravi Okafor, MD · Cardiology is ")
    assert world.conversation_states() == [DRAFT]

    sent = world.answer(world.desk.send, dana())
    assert sent.deliver and not sent.preview
    assert sent.text.startswith(f"{referral_id} sent to Ravi Okafor, MD · Cardiology over "
                                "Matrix.")
    assert world.status(referral_id) == "requested"
    assert world.conversation_states() == [CLOSED]


def test_an_unverified_clinician_cannot_start_a_referral(world: World) -> None:
    refused = world.refusal(world.desk.start, Asker(SAM, ROOM, "$form"))
    assert refused == Reply(NOT_VERIFIED, mentions=(SAM,))
    assert world.conversation_states() == []


def test_a_form_is_changed_only_by_the_one_who_started_it(world: World) -> None:
    world.answer(world.desk.start, dana())
    refused = world.refusal(world.desk.back, Asker(LEE, ROOM, "$form"))
    assert refused.text == (f"This referral is being prepared by {DANA}; only they can "
                            "change it.")
    assert world.ask(world.desk.said, Asker(LEE, ROOM, "$form"), "Maria") is None
    first = world.refusal(world.desk.back, dana())
    assert first.text == "This is the first question; there is nothing to go back to."
    early = world.refusal(world.desk.send, dana())
    assert early.text == "The form is not complete yet; answer the question above first."
    elsewhere = world.refusal(world.desk.discard, dana("$other"))
    assert elsewhere.text.startswith("There is no referral in progress in this thread;")


def test_an_unverified_recipient_is_asked_for_again(world: World) -> None:
    world.answer(world.desk.start, dana())
    asked = world.answer(world.desk.said, dana(), pasted(recipient=SAM))
    assert asked.preview is None and asked.phi
    assert asked.text.startswith(f"• {SAM} is not a verified clinician;")
    assert world.conversation_states() == [ASKING]


def test_a_fax_recipient_is_refused_where_faxing_is_not_configured(world: World) -> None:
    referral_id = world.draft(recipient="+16175550199")
    refused = world.refusal(world.desk.send, dana())
    assert refused.text.startswith("Faxing is not configured on this desk")
    assert world.status(referral_id) == "draft"
    assert world.conversation_states() == [DRAFT]


def test_discarding_a_draft_cancels_it(world: World) -> None:
    referral_id = world.draft()
    done = world.answer(world.desk.discard, dana())
    assert done.text == "Cancelled; nothing was sent. !referral new starts again."
    assert world.status(referral_id) == "cancelled"
    assert world.conversation_states() == [CLOSED]


def test_files_attach_only_to_a_draft(world: World) -> None:
    world.answer(world.desk.start, dana())
    early = world.refusal(world.desk.file_dropped, dana())
    assert early.text.startswith("Please answer the remaining questions first;")
    world.answer(world.desk.said, dana(), pasted())
    with session_scope(world.engine) as session:
        drop = world.desk.file_dropped(session, dana())
    assert drop is not None and not drop.consult_note and drop.fallback_name == "attachment"


# -- moves by either party ---------------------------------------------------


def test_the_referrer_cannot_accept_and_the_recipient_cannot_cancel(world: World) -> None:
    referral_id = world.sent()
    refused = world.refusal(world.desk.move, dana(), referral_id, Status.ACCEPTED)
    assert refused == Reply(f"Only the recipient of {referral_id} can do that; you are its "
                            "referrer.")
    refused = world.refusal(world.desk.move, ravi(), referral_id, Status.CANCELLED, "moved")
    assert refused.text == (f"Only the referrer of {referral_id} can do that; you are its "
                            "recipient.")
    stranger = world.refusal(world.desk.status, Asker(LEE, ROOM, "$x"), referral_id)
    assert stranger.text == f"You are neither the referrer nor the recipient of {referral_id}."
    assert world.status(referral_id) == "requested"


def test_cancel_without_a_reason_is_refused_and_nothing_is_announced(world: World) -> None:
    referral_id = world.sent()
    refused = world.refusal(world.desk.move, dana(), referral_id, Status.CANCELLED, "")
    assert "needs a reason" in refused.text and refused.phi
    assert world.status(referral_id) == "requested"
    assert world.posted(DM) == []

    done = world.answer(world.desk.move, dana(), referral_id, Status.CANCELLED, "moved away")
    line = (f"{referral_id} was cancelled by the referrer (by Dana Whitfield, MD ({DANA})). "
            "Reason: moved away")
    assert done == Reply(line, phi=True)
    assert world.posted(DM) == [line]


def test_a_party_whose_credential_lapsed_is_refused(world: World) -> None:
    referral_id = world.sent()
    with session_scope(world.engine) as session:
        row = session.get(VerifiedCredential, RAVI)
        assert row is not None
        row.expires_at = NOW - timedelta(days=1)
    refused = world.refusal(world.desk.move, ravi(), referral_id, Status.ACCEPTED)
    assert refused == Reply(NOT_VERIFIED, mentions=(RAVI,))
    assert world.status(referral_id) == "requested"


def test_decline_asks_why_and_the_answer_declines(world: World) -> None:
    referral_id = world.sent()
    asked = world.answer(world.desk.decline, ravi(), referral_id)
    assert asked.text.startswith(f"Why are you declining {referral_id}?")
    assert world.ask(world.desk.said, Asker(DANA, DM, "$packet"), "not hers") is None

    done = world.answer(world.desk.said, ravi(), "Fully booked until March")
    assert done.text == (f"{referral_id} was declined (by Ravi Okafor, MD ({RAVI})). "
                         "Reason: Fully booked until March")
    assert world.status(referral_id) == "rejected"
    assert world.posted(ROOM)[-1] == done.text
    assert world.conversation_states()[-1] == CLOSED


def test_a_decline_reason_from_a_lapsed_credential_closes_the_question(world: World) -> None:
    referral_id = world.sent()
    world.answer(world.desk.decline, ravi(), referral_id)
    with session_scope(world.engine) as session:
        row = session.get(VerifiedCredential, RAVI)
        assert row is not None
        row.expires_at = datetime(2026, 1, 1, tzinfo=UTC)
    told = world.answer(world.desk.said, ravi(), "Fully booked")
    assert told == Reply(NOT_VERIFIED, mentions=(RAVI,))
    assert world.status(referral_id) == "requested"
    assert world.conversation_states()[-1] == CLOSED


def test_a_consult_note_needs_an_accepted_referral_and_closes_the_loop(world: World) -> None:
    referral_id = world.sent()
    early = world.refusal(world.desk.file_dropped, ravi())
    assert early.text == (f"{referral_id} is requested; a consult note closes an accepted "
                          f"referral (!accept {referral_id} first).")
    world.answer(world.desk.move, ravi(), referral_id, Status.ACCEPTED)
    with session_scope(world.engine) as session:
        drop = world.desk.file_dropped(session, ravi())
    assert drop == FileDrop(referral_id, consult_note=True)

    done = world.answer(world.desk.note_filed, ravi(), referral_id, "note.pdf",
                        {"msgtype": "m.file", "body": "note.pdf"})
    assert done.text == f"Consult note sent to the referrer; {referral_id} is completed."
    assert world.status(referral_id) == "completed"
    assert world.posted(ROOM)[-4:] == [
        f"{referral_id} was accepted (by Ravi Okafor, MD ({RAVI})).",
        f"{referral_id} is completed — the loop is closed (by Ravi Okafor, MD ({RAVI})).",
        f"Consult note for {referral_id} from Ravi Okafor, MD ({RAVI}) follows.",
        "note.pdf",  # the forwarded file itself
    ]


# -- the store's lifecycle ---------------------------------------------------


def test_a_conversation_closes_once(world: World) -> None:
    with session_scope(world.engine) as session:
        row = conversations.start(session, room_id=ROOM, thread_root="$t", user_id=DANA,
                                  now=NOW)
        conversations.close(row, NOW)
        with pytest.raises(ValueError, match="closed cannot become draft"):
            conversations.make_draft(row, "RF-X", NOW)
        with pytest.raises(ValueError, match="closed cannot become closed"):
            conversations.close(row, NOW)
