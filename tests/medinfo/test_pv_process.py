"""The PV process on a real Synapse with real E2EE: it does not trust the screen.

A cardiologist who declined to share their identity tells the desk, in lay
words, that their patient fainted on Cardiova. The screen forwards it to
Northwind's PV room at once with the four ICSR minimum criteria; the MSL
cannot close the request before recording a determination, and reports what
they learned on top; PV acknowledges one item by a reaction, and the other
appears in the next day's reconciliation notice (the bot's clock is moved, the
periodic job's pass is run: nobody sleeps for a day). PV's follow-up question
reaches the clinician through the bot and the answer comes back — PV never
learns who the clinician is.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select

from bots.medinfo import records
from bots.medinfo.models import PvReportRow, RequestRow, SponsorRow
from bots.medinfo.sponsors import import_sponsors
from curbside.audit import AuditEntry
from curbside.database import session_scope
from tests.medinfo.sponsor_fixtures import SponsorRooms, write_sponsors
from tests.medinfo.test_desk import Desk, desk
from tests.support.matrix_testkit import MatrixUser, Received, eventually, wait_for

pytestmark = pytest.mark.homeserver
__all__ = ["desk"]  # the module's desk: a Synapse, two sponsors, one clinician

LAY_WORDS = ("urgency=routine response=chat consent=yes share=no My patient fainted at home "
             "two days after starting Cardiova. Is that known?")


def _pv_items(desk: Desk) -> list[Received]:
    return [r for r in desk.people["npv"].received if r.room_id == desk.rooms["npv"]
            and r.event.sender == desk.bot_id and "pharmacovigilance item PV-" in r.body]


async def _pv_item(desk: Desk, text: str) -> Received:
    return await wait_for(lambda: next((r for r in _pv_items(desk) if text in r.body), None),
                          what=f"a PV item with {text!r}")


def _ref(item: Received) -> str:
    return item.body.split("pharmacovigilance item ", 1)[1].split()[0]


async def _react(user: MatrixUser, room_id: str, event_id: str) -> None:
    content = {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": "👍"}}
    await user.client.room_send(room_id, "m.reaction", content, ignore_unverified_devices=True)


async def test_an_ae_in_lay_words_is_forwarded_determined_reconciled_and_followed_up(
        desk: Desk) -> None:
    clinician, pv, msl = desk.clinician, desk.people["npv"], desk.people["nmsl"]
    pv_room, msl_room = desk.rooms["npv"], desk.rooms["nmsl"]
    root = await desk.ask(LAY_WORDS)
    told = await desk.bot_says(clinician, desk.dm, root, "pharmacovigilance team (PV-")

    # The screen's item: the four minimum criteria, and no name, NPI or Matrix id.
    screened = await _pv_item(desk, "fainted at home")
    for field in ("1. Patient: identifiable patient",
                  "2. Reporter: a verified Cardiovascular Disease clinician in MA, "
                  "reachable through the medical-information desk",
                  "3. Suspect product: Cardiova (velostatin)",
                  "4. Event: My patient fainted at home two days after starting Cardiova",
                  "Date of first awareness (day 0): ", "forwarding target (one business day)"):
        assert field in screened.body, field
    first = _ref(screened)
    assert first in told.body
    with session_scope(desk.bot.config.engine) as session:
        item = session.scalars(select(PvReportRow).where(PvReportRow.ref == first)).one()
        assert item.seconds_to_forward < 60, "a flagged message reaches PV the same minute"
        assert item.origin == "screen" and item.state == "forwarded"

    await clinician.send(desk.dm, "send", thread_root=root)
    request = await desk.sponsor_root(msl, msl_room, "fainted at home")
    msl_root = request.event.event_id

    # No closing before a determination; "reported" forwards the MSL's own words.
    await msl.send(msl_room, "!close answered", thread_root=msl_root)
    await desk.bot_says(msl, msl_room, msl_root, "record whether it holds an adverse event")
    await msl.send(msl_room, "Syncope is listed; please report it.", thread_root=msl_root)
    await desk.bot_says(clinician, desk.dm, root, "Syncope is listed")
    await msl.send(msl_room, "!safety reported On the phone the doctor added the patient "
                   "fell and was admitted overnight", thread_root=msl_root)
    await desk.bot_says(msl, msl_room, msl_root, "forwarded your words")
    reported = await _pv_item(desk, "was admitted overnight")
    second = _ref(reported)
    assert "determination 'reported' by the sponsor's MSL" in reported.body
    assert "Seriousness criteria mentioned: hospitalisation" in reported.body
    await msl.send(msl_room, "!close answered", thread_root=msl_root)
    await desk.bot_says(clinician, desk.dm, root, "Did the answer help?")

    # PV acknowledges the screened item with a reaction; the MSL's item waits.
    await _react(pv, pv_room, screened.event.event_id)
    await desk.bot_says(pv, pv_room, screened.event.event_id, f"acknowledged {first}")

    # The next reconciliation notice, on a clock moved past the one-business-day target.
    later = (datetime.now(UTC) + timedelta(days=5)).date()
    desk.clock.current = datetime.combine(later, time(15, 0), tzinfo=UTC)  # 10:00 New York
    notices = await desk.bot.review_pharmacovigilance()
    [north] = [n for n in notices if n.sponsor_key == "northwind"]
    assert second in north.unacknowledged and first not in north.unacknowledged
    notice = await wait_for(lambda: next(
        (r for r in pv.received if r.room_id == pv_room and "Daily PV reconciliation" in r.body
         and later.isoformat() in r.body), None), what="the reconciliation notice")
    assert second in notice.body and first not in notice.body
    escalation = await desk.bot_says(pv, pv_room, reported.event.event_id, "Escalation to")
    assert escalation.content["m.mentions"]["user_ids"] == [desk.leads["north"]]
    assert await desk.bot.review_pharmacovigilance() == [], "one notice a day"

    # PV asks the reporter through the desk; the answer comes back to the item's thread.
    await pv.send(pv_room, f"!followup {second} Did the fainting recur after stopping?")
    question = await wait_for(lambda: next(
        (r for r in clinician.received if r.room_id == desk.dm and r.event.sender == desk.bot_id
         and "Did the fainting recur" in r.body and "m.relates_to" not in r.content), None),
        what="PV's question in the clinician's room")
    assert second in question.body
    await clinician.send(desk.dm, "No, it has not recurred since we stopped it.",
                         thread_root=question.event.event_id)
    await desk.bot_says(pv, pv_room, reported.event.event_id, "has not recurred since")
    await desk.bot_says(clinician, desk.dm, question.event.event_id, "Sent to Northwind")
    await pv.send(pv_room, f"!ack {second}")
    await wait_for(lambda: any(f"Acknowledged {second}." in r.body for r in pv.received),
                   what="the acknowledgement")

    # PV never learned who the clinician is.
    for message in pv.received:
        for identifier in (clinician.user_id, "Whitfield", "Dana", "1234567893", "MA-12345"):
            assert identifier not in message.body, identifier
    with session_scope(desk.bot.config.engine) as session:
        items = session.scalars(select(PvReportRow).where(
            PvReportRow.ref.in_([first, second]))).all()
        assert {(i.ref, i.state, i.acknowledged_by) for i in items} == {
            (first, "acknowledged", pv.user_id), (second, "acknowledged", pv.user_id)}
        actions = [e.action for e in session.scalars(select(AuditEntry).where(
            AuditEntry.record_id.in_([first, second]))).all()]
        for action in ("medinfo.pv_forward", "medinfo.pv_ack", "medinfo.pv_escalate",
                       "medinfo.pv_followup", "medinfo.pv_followup_answer"):
            assert action in actions, action
        row = session.scalars(select(RequestRow).where(
            RequestRow.clinician_thread_root == root)).one()
        assert (row.state, row.safety_determination) == ("closed", "reported")
    log = records.export(desk.bot.config.engine, "northwind", "json")
    assert '"safety_determination": "reported"' in log


async def test_a_clinician_s_post_in_a_sponsored_room_reaches_pv(desk: Desk,
                                                                 tmp_path: Path) -> None:
    msl, clinician = desk.people["nmsl"], desk.clinician
    page = await msl.create_encrypted_room([])
    north = SponsorRooms(desk.rooms["nmsl"], desk.rooms["npv"], msl.user_id, desk.leads["north"],
                         desk.people["npv"].user_id, sponsored=page)
    helix = SponsorRooms(desk.rooms["hmsl"], desk.rooms["hpv"], desk.people["hmsl"].user_id,
                         desk.leads["helix"], desk.people["hpv"].user_id)
    import_sponsors(desk.bot.config.engine, write_sponsors(tmp_path / "sponsors.yaml",
                                                           north, helix))
    device = desk.bot.client.device_id
    await msl.client.room_invite(page, desk.bot_id)
    await msl.wait_joined(page, desk.bot_id, device)
    await msl.client.room_invite(page, clinician.user_id)
    await clinician.client.join(page)
    await clinician.wait_joined(page, desk.bot_id, device)

    post = await clinician.send(page, "Heads up: my patient fainted after her first dose, "
                                      "she is fine now.")
    item = await _pv_item(desk, "fainted after her first dose")
    assert "Source: the desk's screen of a post in Northwind Pharma's sponsored room" in item.body
    assert ("2. Reporter: a verified Cardiovascular Disease clinician in MA, "
            "reachable through the medical-information desk") in item.body
    assert clinician.user_id not in item.body and "Whitfield" not in item.body
    await desk.bot_says(clinician, page, post, "pharmacovigilance team (PV-")
    with session_scope(desk.bot.config.engine) as session:
        row = session.scalars(select(PvReportRow).where(PvReportRow.ref == _ref(item))).one()
        assert row.origin == "sponsored_room" and row.seconds_to_forward < 60


async def test_refused_invites_are_explained_to_the_inviter(desk: Desk, homeserver: Any,
                                                            tmp_path: Path) -> None:
    stranger = await MatrixUser.create(homeserver, f"unverified{desk.dm[1:7].lower()}")
    msl = desk.people["nmsl"]
    other_pv = await msl.create_encrypted_room([])
    engine = desk.bot.config.engine
    (tmp_path / "acme.yaml").write_text(ACME.format(pv=other_pv, msl=msl.user_id,
                                                    lead=desk.leads["north"]))
    import_sponsors(engine, tmp_path / "acme.yaml")
    try:
        # An unverified person's chat: told what to do next, then the bot leaves.
        dm = await stranger.create_encrypted_room([desk.bot_id])
        told = await wait_for(lambda: next(
            (r for r in stranger.received if r.room_id == dm and r.event.sender == desk.bot_id),
            None), what="the bot's explanation")
        assert "Only verified clinicians" in told.body and "!verify" in told.body
        await wait_for(lambda: desk.bot_id not in stranger.client.rooms[dm].users
                       and desk.bot_id not in stranger.client.rooms[dm].invited_users,
                       what="the bot to leave")

        # A PV room invite from a member without the PV role: refused with the reason.
        await msl.client.room_invite(other_pv, desk.bot_id)

        async def rejection() -> str | None:
            state = await msl.client.room_get_state_event(other_pv, "m.room.member",
                                                          desk.bot_id)
            content = getattr(state, "content", {})
            return content.get("reason") if content.get("membership") == "leave" else None

        reason = await eventually(rejection, what="the rejected invite")
        assert reason == (f"I join Acme Bio's pharmacovigilance room only when one of its "
                          "pharmacovigilance or medical-information members invites me; "
                          f"{msl.user_id} is listed as msl. Ask one of them to invite me.")
    finally:
        with session_scope(engine) as session:
            session.execute(delete(SponsorRow).where(SponsorRow.key == "acme"))
        await stranger.close()


ACME = """
sponsors:
  - key: acme
    name: Acme Bio
    products: [{{brand: Acmezol, generic: acmezolam, therapeutic_area: neurology}}]
    teams: [{{name: Acme medical, room_id: "!acme-msl:acme.example"}}]
    medical_information_lead: "{lead}"
    pv_room_id: "{pv}"
    members: [{{user_id: "{msl}", role: msl}}]
    business_hours: {{timezone: UTC, hours: "09:00-17:00"}}
    targets: {{urgent: 4h, routine: 2d}}
"""

