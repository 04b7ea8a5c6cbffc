"""Scenarios on a real Synapse with real E2EE clients: a clinician asks, sponsors answer.

Two sponsors (Northwind, Helix), each with an MSL room and a PV room owned by
their own people; one verified cardiologist chats with the bot. The desk is
set up once for the module; each scenario opens its own request thread.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import nio
import pypdf
import pytest
from sqlalchemy import select

from bots.medinfo import metrics as medinfo_metrics
from bots.medinfo import records
from bots.medinfo.bot import MedinfoBot
from bots.medinfo.models import PvReportRow, RequestRow
from bots.medinfo.service_levels import ManualClock
from bots.medinfo.sponsors import import_sponsors
from curbside.audit import AuditEntry
from curbside.credentials import VerifiedCredential
from curbside.database import migrate, session_scope
from curbside.matrix.files import download_decrypted, upload_encrypted
from tests.medinfo.phi_cases import CASES as PHI_CASES
from tests.medinfo.sponsor_fixtures import SponsorRooms, write_sponsors
from tests.support.matrix_testkit import MatrixUser, Received, bot_setup, wait_for

pytestmark = pytest.mark.homeserver

# Monday 30 Nov 2026, 10:00 in New York: Northwind is open.
MONDAY_10AM = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)


class Desk:
    def __init__(self, bot: MedinfoBot, clock: ManualClock, dm: str, clinician: MatrixUser,
                 people: dict[str, MatrixUser], rooms: dict[str, str],
                 leads: dict[str, str]) -> None:
        self.bot, self.clock, self.dm, self.clinician = bot, clock, dm, clinician
        self.people, self.rooms, self.leads = people, rooms, leads

    @property
    def bot_id(self) -> str:
        return self.bot.account.user_id

    def in_thread(self, user: MatrixUser, room_id: str, root: str) -> list[Received]:
        return [r for r in user.received if r.room_id == room_id and r.event.sender == self.bot_id
                and (r.content.get("m.relates_to") or {}).get("event_id") == root]

    async def bot_says(self, user: MatrixUser, room_id: str, root: str, text: str) -> Received:
        def found() -> Received | None:
            return next((r for r in self.in_thread(user, room_id, root) if text in r.body), None)
        return await wait_for(found, what=f"bot to say {text!r}")

    async def ask(self, question: str, *replies: str) -> str:
        """Open a request thread and answer the bot's questions; returns the thread root."""
        root = await self.clinician.send(self.dm, f"!medinfo {question}")
        for reply in replies:
            seen = len(self.in_thread(self.clinician, self.dm, root))

            def answered(before: int = seen) -> bool:
                return len(self.in_thread(self.clinician, self.dm, root)) > before

            await wait_for(answered, what="the bot's next question")
            await self.clinician.send(self.dm, reply, thread_root=root)
        return root

    async def letters(self, root: str, count: int) -> list[str]:
        """Wait for ``count`` response letters in the clinician's thread; their PDF text."""
        def found() -> list[Received] | None:
            files = [r for r in self.in_thread(self.clinician, self.dm, root)
                     if r.content.get("msgtype") == "m.file"
                     and r.body.endswith("-response-letter.pdf")]
            return files if len(files) >= count else None
        received = await wait_for(found, what=f"{count} response letter(s)")
        texts = []
        for message in received:
            assert "url" not in message.content, "a letter is never sent unencrypted"
            assert message.content["info"]["mimetype"] == "application/pdf"
            pdf = await download_decrypted(self.clinician.client, message.content)
            pages = pypdf.PdfReader(io.BytesIO(pdf)).pages
            texts.append(" ".join(" ".join(page.extract_text() for page in pages).split()))
        return texts

    async def attach(self, user: MatrixUser, room_id: str, root: str, name: str,
                     data: bytes) -> None:
        """``user`` attaches an encrypted file in a thread, as a client would."""
        content = await upload_encrypted(user.client, data, name, "application/pdf")
        content["m.relates_to"] = {"rel_type": "m.thread", "event_id": root,
                                   "is_falling_back": True, "m.in_reply_to": {"event_id": root}}
        await user.client.room_send(room_id, "m.room.message", content,
                                    ignore_unverified_devices=True)

    async def sponsor_root(self, user: MatrixUser, room: str, text: str) -> Received:
        def found() -> Received | None:
            return next((r for r in user.received if r.room_id == room
                         and r.event.sender == self.bot_id and text in r.body
                         and "m.relates_to" not in r.content), None)
        return await wait_for(found, what=f"request {text!r} in {room}")


def _credential(user_id: str) -> VerifiedCredential:
    return VerifiedCredential(
        user_id=user_id, npi="1234567893", legal_name="Dana Whitfield", credential_text="MD",
        specialty="Cardiovascular Disease", taxonomy_code="207RC0000X", licence_state="MA",
        licence_number="MA-12345", verified_by="@verifier:curbside.test", evidence="",
        verified_at=datetime(2026, 1, 1, tzinfo=UTC), expires_at=datetime(2031, 1, 1, tzinfo=UTC),
        revoked_at=None, revoked_reason=None, directory_opt_out=False,
    )


@pytest.fixture(scope="module")
async def desk(homeserver: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("medinfo")
    suffix = tmp.name[-6:].replace("_", "")
    names = ("clinician", "nmsl", "npv", "hmsl", "hpv")
    people = {n: await MatrixUser.create(homeserver, f"{n}{suffix}") for n in names}
    leads = {s: await homeserver.register_user(f"{s}lead{suffix}", "x" * 12)
             for s in ("north", "helix")}
    rooms = {
        "nmsl": await people["nmsl"].create_encrypted_room([]),
        "npv": await people["npv"].create_encrypted_room([]),
        "hmsl": await people["hmsl"].create_encrypted_room([]),
        "hpv": await people["hpv"].create_encrypted_room([]),
    }
    north = SponsorRooms(rooms["nmsl"], rooms["npv"], people["nmsl"].user_id, leads["north"],
                         people["npv"].user_id)
    helix = SponsorRooms(rooms["hmsl"], rooms["hpv"], people["hmsl"].user_id, leads["helix"],
                         people["hpv"].user_id)
    setup = await bot_setup(homeserver, tmp, f"medinfo{suffix}")
    engine = setup.config.engine
    migrate(engine, MedinfoBot.version_locations())
    import_sponsors(engine, write_sponsors(tmp / "sponsors.yaml", north, helix))
    clinician = people["clinician"]
    with session_scope(engine) as session:
        session.add(_credential(clinician.user_id))
    clock = ManualClock(MONDAY_10AM)
    bot = MedinfoBot(setup.account, setup.config, audit_key=b"k" * 32, clock=clock)
    await bot.start()
    device = bot.client.device_id
    for owner, room in rooms.items():
        await people[owner].client.room_invite(room, bot.account.user_id)
        await people[owner].wait_joined(room, bot.account.user_id, device)
    dm = await clinician.create_encrypted_room([bot.account.user_id])
    await clinician.wait_joined(dm, bot.account.user_id, device)
    yield Desk(bot, clock, dm, clinician, people, rooms, leads)
    await bot.stop()
    for person in people.values():
        await person.close()


async def test_question_routed_answered_followed_up_and_closed(desk: Desk) -> None:
    root = await desk.ask("urgency=routine Can Glucera be crushed for a feeding tube?",
                          "chat", "yes", "no", "send")
    sent = await desk.bot_says(desk.clinician, desk.dm, root, "Sent to Northwind Pharma")
    assert "Expect an answer by Wed 02 Dec 2026, 10:00 (America/New_York)" in sent.body
    msl = desk.people["nmsl"]
    request = await desk.sponsor_root(msl, desk.rooms["nmsl"], "Glucera")
    assert "From: a verified Cardiovascular Disease clinician in MA" in request.body
    assert "Dana Whitfield" not in request.body and "1234567893" not in request.body
    msl_root = request.event.event_id

    await msl.send(desk.rooms["nmsl"], "!claim", thread_root=msl_root)
    await msl.send(desk.rooms["nmsl"], "Yes: crush and disperse in 10 mL water.",
                   thread_root=msl_root)
    answer = await desk.bot_says(desk.clinician, desk.dm, root, "crush and disperse")
    assert answer.event.decrypted and answer.body.startswith("Northwind Pharma medical team")

    await desk.clinician.send(desk.dm, "And through a jejunal tube?", thread_root=root)
    await desk.bot_says(msl, desk.rooms["nmsl"], msl_root, "Follow-up from the requester: And "
                        "through a jejunal tube?")
    await msl.send(desk.rooms["nmsl"], "No jejunal data; flush well.", thread_root=msl_root)
    await desk.bot_says(desk.clinician, desk.dm, root, "No jejunal data")

    await msl.send(desk.rooms["nmsl"], "!safety none", thread_root=msl_root)
    await desk.bot_says(msl, desk.rooms["nmsl"], msl_root, "no adverse event or product")
    await msl.send(desk.rooms["nmsl"], "!close answered", thread_root=msl_root)
    await desk.bot_says(desk.clinician, desk.dm, root, "Did the answer help?")
    await desk.clinician.send(desk.dm, "yes", thread_root=root)
    await desk.bot_says(desk.clinician, desk.dm, root, "Thank you")

    with session_scope(desk.bot.config.engine) as session:
        row = session.scalars(select(RequestRow).where(
            RequestRow.clinician_thread_root == root)).one()
        assert (row.state, row.outcome, row.helped, row.answers, row.follow_ups) == (
            "closed", "answered", True, 2, 1)
        assert row.claimed_by == msl.user_id
    log = records.export(desk.bot.config.engine, "northwind", "csv")
    assert f"MI-{row.id[:6].upper()}" in log and "Glucera" in log
    assert "crushed" not in log and desk.clinician.user_id not in log
    helix_msl = desk.people["hmsl"]
    assert not any("Glucera" in r.body for r in helix_msl.received), "other sponsor saw it"


async def test_a_clinician_who_chose_a_letter_receives_it_as_an_encrypted_pdf(
        desk: Desk) -> None:
    question = "Can Glucera be taken with grapefruit juice?"
    root = await desk.ask(f"urgency=routine response=letter consent=yes share=no {question}",
                          "send")
    await desk.bot_says(desk.clinician, desk.dm, root, "Sent to Northwind Pharma")
    msl, room = desk.people["nmsl"], desk.rooms["nmsl"]
    request = await desk.sponsor_root(msl, room, "grapefruit juice")
    msl_root = request.event.event_id
    answer = "No interaction study with grapefruit juice; no change is expected."
    await msl.send(room, answer, thread_root=msl_root)
    await desk.bot_says(desk.clinician, desk.dm, root, "No interaction study")
    [first] = await desk.letters(root, 1)
    for expected in (answer, question, "Northwind Pharma", "Glucera (metrafide)",
                     "Response to your unsolicited request for medical information",
                     "full prescribing information", "Page 1 of 1",
                     "a verified Cardiovascular Disease clinician in MA",
                     "Medical Science Liaison"):
        assert expected in first, expected
    assert "1234567893" not in first and "Whitfield" not in first
    assert msl.user_id not in first, "no personal contact unless configured"

    # A document attached after the answer is not in any letter yet: !close sends one.
    await desk.attach(msl, room, msl_root, "Glucera-food-SRL.pdf", b"%PDF-1.4 standard letter")
    await desk.bot_says(desk.clinician, desk.dm, root, "Glucera-food-SRL.pdf")
    await msl.send(room, "!safety none", thread_root=msl_root)
    await desk.bot_says(msl, room, msl_root, "no adverse event or product")
    await msl.send(room, "!close answered", thread_root=msl_root)
    await desk.bot_says(desk.clinician, desk.dm, root, "Did the answer help?")
    first, final = await desk.letters(root, 2)
    assert answer in final and "Glucera-food-SRL.pdf" in final
    assert "Glucera-food-SRL.pdf" not in first

    with session_scope(desk.bot.config.engine) as session:
        row = session.scalars(select(RequestRow).where(
            RequestRow.clinician_thread_root == root)).one()
        sent = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "medinfo.letter_sent", AuditEntry.record_id == row.id)).all()
        assert [entry.actor for entry in sent] == [msl.user_id, msl.user_id]
        assert row.response_mode == "letter" and row.state == "closed"


async def test_an_ambiguous_generic_gets_a_question_back(desk: Desk) -> None:
    root = await desk.ask("urgency=routine response=chat consent=yes share=no "
                          "Is velostatin safe with clarithromycin?")
    question = await desk.bot_says(desk.clinician, desk.dm, root, "more than one sponsor")
    assert "Cardiova" in question.body and "Velocor" in question.body
    await desk.clinician.send(desk.dm, "Helix", thread_root=root)
    await desk.bot_says(desk.clinician, desk.dm, root, "exactly what the sponsor will receive")
    await desk.clinician.send(desk.dm, "send", thread_root=root)
    await desk.bot_says(desk.clinician, desk.dm, root, "Sent to Helix Therapeutics")
    await desk.sponsor_root(desk.people["hmsl"], desk.rooms["hmsl"], "clarithromycin")
    assert not any("clarithromycin" in r.body for r in desk.people["nmsl"].received)


async def test_identifiers_never_reach_a_sponsor_room(desk: Desk) -> None:
    question = "Mr. Okafor, DOB 04/02/1948, MRN 00482913, asks if Neurexa affects driving."
    root = await desk.ask(question)
    await desk.bot_says(desk.clinician, desk.dm, root, "patient identifiers")
    for reply in ("redact", "routine", "chat", "yes", "no", "send"):
        await desk.clinician.send(desk.dm, reply, thread_root=root)
    await desk.bot_says(desk.clinician, desk.dm, root, "Sent to Helix Therapeutics")
    hmsl = desk.people["hmsl"]
    request = await desk.sponsor_root(hmsl, desk.rooms["hmsl"], "affects driving")
    assert "[NAME]" in request.body and "[DATE]" in request.body and "[MRN]" in request.body
    # A follow-up with an identifier is held until rephrased.
    await desk.clinician.send(desk.dm, "His phone is 617-555-0143 if needed.", thread_root=root)
    await desk.bot_says(desk.clinician, desk.dm, root, "Not sent")
    await desk.clinician.send(desk.dm, "He drives for a living.", thread_root=root)
    await desk.bot_says(hmsl, desk.rooms["hmsl"], request.event.event_id, "drives for a living")
    identifiers = ["Okafor", "04/02/1948", "00482913", "617-555-0143",
                   *(i for _, ids in PHI_CASES for i in ids if len(i) > 3)]
    for owner in ("nmsl", "npv", "hmsl", "hpv"):
        for message in desk.people[owner].received:
            for identifier in identifiers:
                assert identifier not in message.body, (owner, identifier)


async def test_an_adverse_event_reaches_pv_with_the_four_criteria(desk: Desk) -> None:
    text = ("urgency=urgent response=call consent=yes share=yes My patient, a 67-year-old "
            "woman, developed angioedema after her second dose of Cardiova.")
    root = await desk.ask(text)
    await desk.bot_says(desk.clinician, desk.dm, root, "pharmacovigilance team")
    pv = await desk.sponsor_root(desk.people["npv"], desk.rooms["npv"], "Potential adverse event")
    for field in ("1. Patient: identifiable patient (initials not given), age 67, sex female",
                  "2. Reporter: Dana Whitfield, MD · Cardiovascular Disease (NPI 1234567893), "
                  "licensed in MA, reachable through the medical-information desk; direct contact: "
                  f"{desk.clinician.user_id} (consented to follow-up)",
                  "3. Suspect product: Cardiova (velostatin)", "4. Event: My patient",
                  "Date of first awareness (day 0): "):
        assert field in pv.body, field
    assert not any("angioedema" in r.body for r in desk.people["hpv"].received)
    with session_scope(desk.bot.config.engine) as session:
        report = session.scalars(select(PvReportRow).where(
            PvReportRow.sponsor_key == "northwind", PvReportRow.kind == "ae")).one()
        assert report.seconds_to_forward >= 0
        assert report.acknowledged_at is None
        assert (("northwind",), 1) in medinfo_metrics._pv_unacknowledged(session)

    pv_member = desk.people["npv"]
    reacted = await pv_member.client.room_send(desk.rooms["npv"], "m.reaction", {
        "m.relates_to": {"rel_type": "m.annotation", "event_id": pv.event.event_id, "key": "ok"}
    }, ignore_unverified_devices=True)
    assert isinstance(reacted, nio.RoomSendResponse), reacted

    def acknowledged() -> str | None:
        with session_scope(desk.bot.config.engine) as session:
            return session.scalars(select(PvReportRow.acknowledged_by).where(
                PvReportRow.sponsor_key == "northwind", PvReportRow.kind == "ae")).one()

    assert await wait_for(acknowledged, what="the PV acknowledgement") == pv_member.user_id
    with session_scope(desk.bot.config.engine) as session:
        assert (("northwind",), 1) not in medinfo_metrics._pv_unacknowledged(session)


async def test_an_unanswered_urgent_request_is_reminded_then_escalated(desk: Desk) -> None:
    desk.clock.current = MONDAY_10AM
    root = await desk.ask("urgency=urgent response=chat consent=yes share=no "
                          "Does Cardiova need adjustment with amiodarone?", "send")
    await desk.bot_says(desk.clinician, desk.dm, root,
                        "Expect an answer by Mon 30 Nov 2026, 14:00 (America/New_York)")
    msl = desk.people["nmsl"]
    request = await desk.sponsor_root(msl, desk.rooms["nmsl"], "amiodarone")
    msl_root = request.event.event_id
    desk.clock.advance(timedelta(hours=2))
    assert [n for n in await desk.bot.review_service_levels()
            if _is(desk, n.request_id, root)] == []
    desk.clock.advance(timedelta(hours=1, minutes=1))
    assert "remind" in [n.kind for n in await desk.bot.review_service_levels()
                        if _is(desk, n.request_id, root)]
    await desk.bot_says(msl, desk.rooms["nmsl"], msl_root, "Reminder:")
    desk.clock.advance(timedelta(hours=1))
    assert "escalate" in [n.kind for n in await desk.bot.review_service_levels()
                          if _is(desk, n.request_id, root)]
    escalation = await desk.bot_says(msl, desk.rooms["nmsl"], msl_root, "Escalation to")
    assert escalation.content["m.mentions"]["user_ids"] == [desk.leads["north"]]
    assert not [n for n in await desk.bot.review_service_levels()
                if _is(desk, n.request_id, root)]


def _is(desk: Desk, request_id: str, root: str) -> bool:
    with session_scope(desk.bot.config.engine) as session:
        row = session.get(RequestRow, request_id)
        return row is not None and row.clinician_thread_root == root


async def test_an_unverified_user_is_refused(desk: Desk, homeserver: Any) -> None:
    stranger = await MatrixUser.create(homeserver, f"stranger{desk.dm[1:7].lower()}")
    try:
        room = await stranger.create_encrypted_room([desk.bot_id])
        await wait_for(lambda: any(r.room_id == room and "!verify" in r.body
                                   for r in stranger.received), what="what to do next")
        await wait_for(lambda: desk.bot_id not in stranger.client.rooms[room].users
                       and desk.bot_id not in stranger.client.rooms[room].invited_users,
                       what="the bot to leave after saying it")
    finally:
        await stranger.close()
