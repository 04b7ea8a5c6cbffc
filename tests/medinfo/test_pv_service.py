"""The PV process without a homeserver: what goes where, what is refused, what is listed.

Runs on both databases with the desk's real store and a real Poster on the
outbox (the ``world`` of :mod:`tests.medinfo.test_desk_service`).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bots.medinfo import records
from bots.medinfo.lifecycle import reference
from bots.medinfo.models import PvReportRow, RequestRow
from bots.medinfo.pv_states import Determination
from bots.medinfo.service_levels import ManualClock
from bots.medinfo.sponsored import sponsored_room_screen
from curbside.audit import AuditEntry
from curbside.database import session_scope
from curbside.matrix.rooms import InviteRefusal
from curbside.matrix.screen_step import Posted
from tests.medinfo.sponsor_fixtures import PLACEHOLDER_HELIX as HELIX
from tests.medinfo.sponsor_fixtures import PLACEHOLDER_NORTH as NORTH
from tests.medinfo.test_desk import MONDAY_10AM
from tests.medinfo.test_desk_service import DANA, DESK, DM, SALES, SAM, World, dana, msl, world

__all__ = ["world"]

RASH = ("urgency=routine response=chat consent=yes share=no My patient developed a rash "
        "after starting Cardiova. Can we continue it?")


def _items(world: World) -> list[PvReportRow]:
    with session_scope(world.engine) as session:
        return list(session.scalars(select(PvReportRow).order_by(PvReportRow.forwarded_at)))


def _log(world: World) -> list[dict[str, object]]:
    return list(json.loads(records.export(world.engine, "northwind", "json"))["requests"])


def test_a_cancellation_after_a_pv_forward_says_what_went_where(world: World) -> None:
    world.ask(world.desk.ask, dana("$q"), RASH)
    [item] = _items(world)
    [forwarded] = world.posted(NORTH.pv_room)
    assert f"pharmacovigilance item {item.ref}" in forwarded
    world.ask(world.desk.said, dana("$c", "cancel"))
    told = world.posted(DM)[-1]
    assert told == (
        "Request cancelled: your question was not sent to any sponsor's medical team. Safety "
        "information from your messages had already gone to Northwind Pharma's "
        f"pharmacovigilance team ({item.ref}), as the law requires; that report stands, and "
        "they may still ask you about it here through me.")
    assert "nothing was sent" not in told
    row = world.request()
    [logged] = _log(world)
    assert (logged["reference"], logged["state"], logged["pv_forwards"]) == (
        reference(row), "cancelled", 1)
    assert logged["pv_unacknowledged"] == 1 and logged["routed_at"] is None


def test_a_cancellation_with_nothing_sent_says_so_and_stays_in_the_log(world: World) -> None:
    world.ask(world.desk.ask, dana("$q"), "urgency=routine Can Glucera be crushed?")
    world.ask(world.desk.said, dana("$c", "cancel"))
    assert world.posted(DM)[-1] == "Request cancelled; nothing was sent to a sponsor."
    [logged] = _log(world)
    assert (logged["state"], logged["product"], logged["pv_forwards"]) == (
        "cancelled", "Glucera", 0)


def test_refused_invites_are_explained(world: World) -> None:
    msl_to_pv = world.ask(world.desk.may_join, NORTH.pv_room, NORTH.msl)
    assert msl_to_pv == InviteRefusal(
        "I join Northwind Pharma's pharmacovigilance room only when one of its "
        "pharmacovigilance or medical-information members invites me; "
        f"{NORTH.msl} is listed as msl. Ask one of them to invite me.")
    stranger = world.ask(world.desk.may_join, NORTH.msl_room, SALES)
    assert isinstance(stranger, InviteRefusal) and not stranger.say_in_room
    assert f"{SALES} is not among the members Northwind Pharma listed" in stranger.text
    unverified = world.ask(world.desk.may_join, "!sam-dm:curbside.test", SAM)
    assert isinstance(unverified, InviteRefusal) and unverified.say_in_room
    assert "send !verify to the gatekeeper bot" in unverified.text
    world.desk.gatekeeper = "@gatekeeper:curbside.test"
    unverified = world.ask(world.desk.may_join, "!sam-dm:curbside.test", SAM)
    assert isinstance(unverified, InviteRefusal)
    assert "start a direct chat with @gatekeeper:curbside.test and send !verify" in \
        unverified.text
    assert world.ask(world.desk.may_join, DM, DANA) is True
    assert world.ask(world.desk.may_join, NORTH.pv_room, NORTH.pv) is True
    assert world.ask(world.desk.may_join, DM, None) is False


def test_acknowledgements_are_pv_s_and_happen_once(world: World) -> None:
    world.ask(world.desk.ask, dana("$q"), RASH)
    [item] = _items(world)
    pv = world.desk.pv
    refused = world.refusal(pv.acknowledge, NORTH.msl, NORTH.pv_room, item.ref)
    assert str(refused).startswith("Only the sponsor's pharmacovigilance")
    elsewhere = world.refusal(pv.acknowledge, HELIX.pv, HELIX.pv_room, item.ref)
    assert str(elsewhere).startswith(f"No PV item {item.ref} for Helix Therapeutics")
    outside = world.refusal(pv.acknowledge, NORTH.pv, NORTH.msl_room, item.ref)
    assert str(outside) == "Use this in your pharmacovigilance room."
    assert world.ask(pv.acknowledge, NORTH.pv, NORTH.pv_room, item.ref.lower()) == (
        f"Acknowledged {item.ref}.")
    again = world.refusal(pv.acknowledge, NORTH.pv, NORTH.pv_room, item.ref)
    assert str(again).startswith(f"{item.ref} was already acknowledged by {NORTH.pv}")
    with session_scope(world.engine) as session:
        [ack] = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "medinfo.pv_ack")).all()
        assert (ack.actor, ack.record_id) == (NORTH.pv, item.ref)


def test_reported_without_an_item_is_reconciled_daily_from_opening_time(world: World) -> None:
    ref = world.routed()
    world.rooms[NORTH.pv_room].add(SALES)  # the PV room is not safe: nothing is forwarded
    said = world.ask(world.desk.determine, msl("$d"), Determination.REPORTED,
                     "the patient had a seizure on day three")
    assert "nothing was forwarded" in said.text and _items(world) == []
    undetermined = world.refusal(world.desk.determine, msl("$e"), Determination.NONE)
    assert "reported cannot become none" in str(undetermined)
    early = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)  # 08:00 in New York: before opening
    assert world.ask(world.desk.pv.review, "northwind", early) is None
    notice = world.ask(world.desk.pv.review, "northwind", early + timedelta(hours=1))
    assert notice is not None and notice.reported_without_item == (ref,)
    [text] = [b for b in world.posted(NORTH.pv_room) if "Daily PV reconciliation" in b]
    assert text.startswith("Daily PV reconciliation for Northwind Pharma, 2026-12-01: "
                           "0 forwarded item(s) not acknowledged, 1 request(s) determined "
                           "'reported' with no PV item.")
    assert f"- {ref} (Glucera): determined by {NORTH.msl}" in text
    assert "seizure" not in text, "the notice lists references, not what was reported"
    assert world.ask(world.desk.pv.review, "northwind", early + timedelta(hours=5)) is None

    world.rooms[NORTH.pv_room].discard(SALES)
    clock = world.desk.clock
    assert isinstance(clock, ManualClock)
    clock.current = MONDAY_10AM + timedelta(days=1, hours=1)  # Tue 11:00 New York
    world.ask(world.desk.determine, msl("$f"), Determination.REPORTED,
              "the patient had a seizure on day three")
    [item] = _items(world)
    assert (item.origin, item.kind, item.request_id) == ("msl", "ae", world.request().id)
    assert item.received_at.replace(tzinfo=UTC) == MONDAY_10AM  # day 0: the request's receipt
    assert item.escalated_at is not None, "forwarded after its one-business-day target"
    escalation = world.posted(NORTH.pv_room)[-1]
    assert escalation.startswith(f"Escalation to {NORTH.lead}: {item.ref} was forwarded "
                                 "after its one-business-day target")
    nextday = world.ask(world.desk.pv.review, "northwind", early + timedelta(days=1, hours=1))
    assert nextday is not None and nextday.reported_without_item == ()
    assert nextday.unacknowledged == (item.ref,)
    listed = [b for b in world.posted(NORTH.pv_room) if "Daily PV reconciliation" in b][-1]
    assert f"- {item.ref} (adverse event, from an MSL's determination): day 0 2026-11-30 " \
           "10:00 (America/New_York), target 2026-12-01 10:00 (America/New_York) — past " \
           "target, escalated" in listed


def test_pv_follow_ups_reach_only_the_reporter_and_answers_pass_the_firewall(
        world: World) -> None:
    world.ask(world.desk.ask, dana("$q"), RASH)
    [item] = _items(world)
    pv = world.desk.pv
    sent = world.ask(pv.ask_reporter, NORTH.pv, NORTH.pv_room, item.ref, "When did it start?")
    assert sent.startswith(f"Sent to the reporter of {item.ref} through the desk")
    question = world.posted(DM)[-1]
    assert "Northwind Pharma's pharmacovigilance team asks" in question
    assert "When did it start?" in question
    with session_scope(world.engine) as session:
        [row] = [i for i in world.outbox.undelivered(session, limit=1000)
                 if i.room_id == DM and "When did it start?" in i.content["body"]]
        world.outbox.mark_sent(session, row.id, "$pvq")
    stranger = replace(dana("$s", "Day two.", root="$pvq"), sender=SAM)
    assert world.ask(pv.answer, stranger.sender, DM, "$pvq", "Day two.") is None
    held = world.ask(pv.answer, DANA, DM, "$pvq", "Ms. Jane Okafor called on 03/04/2026.")
    assert held is not None and held.startswith("Not sent: this seems to contain patient")
    assert not any("Okafor" in b for b in world.posted(NORTH.pv_room))
    answered = world.ask(world.desk.said, dana("$a", "On day two.", root="$pvq"))
    assert answered is None
    assert world.posted(NORTH.pv_room)[-1] == (
        f"Reporter's answer to the follow-up on {item.ref}: On day two.")
    assert world.posted(DM)[-1] == (
        f"Sent to Northwind Pharma's pharmacovigilance team ({item.ref}).")
    for body in world.posted(NORTH.pv_room):
        assert DANA not in body and "Whitfield" not in body and "1234567893" not in body


def test_every_clinician_post_in_a_sponsored_room_is_screened(world: World) -> None:
    desk = world.desk
    step = sponsored_room_screen(desk.pv, desk.poster, desk.audit, directory=desk.directory,
                                 account=DESK)
    at = MONDAY_10AM

    def post(sender: str, event_id: str, text: str) -> object:
        return world.ask(step.apply, Posted(sender, NORTH.sponsored, event_id, text, at))

    assert post(DANA, "$1", "Does anyone dose it at night?") is None
    assert post(NORTH.msl, "$2", "My patient fainted after the first dose.") is None  # staff
    assert post(DESK, "$3", "My patient fainted after the first dose.") is None
    assert world.ask(step.apply, Posted(DANA, DM, "$4", "My patient fainted.", at)) is None
    forwarded = post(DANA, "$5", "My patient fainted after her first dose, she is fine now.")
    [item] = _items(world)
    assert forwarded is not None and (item.origin, item.request_id, item.reporter_id) == (
        "sponsored_room", None, DANA)
    [text] = world.posted(NORTH.pv_room)
    assert "3. Suspect product: not named in the post; Northwind Pharma's products: " \
           "Cardiova (velostatin), Glucera (metrafide) — please ask" in text
    assert ("2. Reporter: a verified Cardiovascular Disease clinician in MA, "
            "reachable through the medical-information desk") in text
    assert DANA not in text
    assert world.posted(NORTH.sponsored)[-1].startswith(
        f"Safety information in this message was sent to Northwind Pharma's "
        f"pharmacovigilance team ({item.ref})")
    # PV's follow-up reaches the poster in their chat with the desk, once they have one.
    refused = world.refusal(desk.pv.ask_reporter, NORTH.pv, NORTH.pv_room, item.ref, "When?")
    assert str(refused).startswith(f"The reporter of {item.ref} has no private chat")
    with session_scope(world.engine) as session:
        assert session.scalars(select(RequestRow)).all() == []
    world.ask(world.desk.ask, dana("$q"), "urgency=routine Can Glucera be crushed?")
    world.ask(desk.pv.ask_reporter, NORTH.pv, NORTH.pv_room, item.ref, "When did she faint?")
    assert "When did she faint?" in world.posted(DM)[-1]
    assert "your post in a sponsored room" in world.posted(DM)[-1]
    with session_scope(world.engine) as session:
        audited = session.scalars(select(AuditEntry.action).where(
            AuditEntry.record_id.in_(["$5", item.ref]))).all()
        assert sorted(audited) == ["medinfo.pv_followup", "medinfo.pv_forward", "screen.forward"]
