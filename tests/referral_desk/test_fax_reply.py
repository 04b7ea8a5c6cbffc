"""The office at the other end of the fax answers on the reply sheet, by fax.

A coordinator refers a patient to a practice by fax; the packet goes over the
loopback line (a real spandsp T.30 call) at standard or fine resolution. The
test plays the office: it prints the received TIFF pages, ticks Accepted and
Appointment scheduled on the reply sheet, writes the date and time into the
cells and fills the bubbles with a pen, puts the consult note behind the
sheet, and feeds both pages through a fax machine that turns and speckles
them — then faxes them back to the referring organisation's number over the
same line. The desk reads the sheet and the referral is accepted, scheduled
and completed; the referrer gets the note in the referral's thread.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pikepdf
import pytest
from sqlalchemy import select

from curbside.audit import AuditEntry
from curbside.database import session_scope
from fax_gateway.models import FaxInbound
from fax_gateway.profile_f import Resolution
from fax_gateway.render import render_pdf_to_tiff_f
from fax_gateway.storage import DocumentStore
from fax_gateway.transports.base import ContentKind, ReceivedFax
from referral.cases import business_statuses, get_referral
from referral.documents.reply_layout import QR_PREFIX, Answer
from referral.models import Disclosure
from referral.packets import render_packet
from referral.reply_marks import align, find_qr_codes
from referral.reply_reader import Appointment, as_grey
from tests.referral_desk.conftest import World
from tests.referral_desk.desk_world import DESK_CONFIG, ask, file_bytes, thread_says
from tests.referral_desk.test_answers_and_refusals import sent_referral
from tests.support.fax_office import (
    OfficeAnswer,
    Pen,
    consult_note_page,
    degrade,
    images_pdf,
    mark_sheet,
    nominal,
    sheet_from_packet,
    tiff_pages,
)
from tests.support.matrix_testkit import MatrixUser, wait_for

pytestmark = pytest.mark.homeserver

PRACTICE_FAX = "+13125550108"


def _renderer(resolution: Resolution):  # type: ignore[no-untyped-def]
    def render(pdf: Path, tiff: Path, sender: str, date: datetime) -> int:
        return render_pdf_to_tiff_f(pdf, tiff, sender=sender or "Curbside", date=date,
                                    resolution=resolution).pages
    return render


def _received_tiff(world: World, to_number: str) -> bytes:
    """The fax as it arrived at ``to_number``: the TIFF the line delivered."""
    config, gateway = world.desk.setup.config, world.desk.gateway
    [fax_id] = [r.id for r in gateway.received_after(0)
                if gateway.inbound_envelope(r.id).to_number == to_number]
    with session_scope(config.engine) as session:
        ref = session.scalars(select(FaxInbound.original_ref).where(FaxInbound.id == fax_id)).one()
    assert ref is not None
    store = DocumentStore(Path(str(config.store_dir)) / "fax-documents", config.cipher)  # type: ignore[arg-type]
    return store.get(ref)


def _office_reply(tiff: bytes, referral_id: str, when: Appointment, y_dpi: float) -> bytes:
    """The office's answer: the reply sheet ticked and bubbled, the note behind it, faxed."""
    rng = random.Random(referral_id)
    pages = tiff_pages(tiff)
    for page in pages:
        grey = as_grey(page)
        ours = [q for q in find_qr_codes(grey, QR_PREFIX) if q.text.startswith(QR_PREFIX)]
        if ours:  # the office finds the sheet and where its boxes are by looking
            assert ours[0].text == QR_PREFIX + referral_id
            where = align(grey, 204, ours[0])
            assert where is not None
            sheet = page.copy()
            mark_sheet(Pen(sheet, where.matrix, rng),
                       OfficeAnswer(frozenset({Answer.ACCEPTED, Answer.SCHEDULED}), when))
            break
    else:
        raise AssertionError("the packet has no reply sheet")
    faxed = [degrade(image, rng, y_dpi=204, max_angle=2.0, speckle=0.003)
             for image in (sheet, consult_note_page(referral_id))]
    return images_pdf(faxed)


@pytest.mark.parametrize("resolution", [Resolution.STANDARD, Resolution.FINE],
                         ids=["standard", "fine"])
async def test_the_office_accepts_schedules_and_returns_the_note_by_fax(
        world: World, resolution: Resolution) -> None:
    desk, coord, room = world.desk, world.coordinator, world.room
    stop = asyncio.Event()
    worker = asyncio.create_task(desk.gateway.worker(
        "desk-test", renderer=_renderer(resolution)).run(stop, idle=0.1))
    try:
        referral_id, root = await sent_referral(world, PRACTICE_FAX, "Beacon Cardiology")
        await thread_says(coord, desk, room, root,
                          f"{referral_id} was delivered to Beacon Cardiology by fax")

        zone = ZoneInfo(DESK_CONFIG.timezone)
        day = (datetime.now(zone) + timedelta(days=9)).date()
        when = Appointment(day.month, day.day, 14, 30)
        reply = _office_reply(_received_tiff(world, PRACTICE_FAX), referral_id, when,
                              resolution.y_dpi)
        desk.gateway.submit(reply, DESK_CONFIG.organisation_fax,
                            idempotency_key=f"office-reply-{referral_id}",
                            actor="@beacon-office:test")

        await thread_says(coord, desk, room, root, f"{referral_id} was accepted (by fax from "
                          "Beacon Cardiology)")
        await thread_says(coord, desk, room, root,
                          f"appointment scheduled for {day.isoformat()} 14:30")
        await thread_says(coord, desk, room, root, f"{referral_id} is completed")
        note = await thread_says(coord, desk, room, root, f"Consult note {referral_id}.pdf")
    finally:
        stop.set()
        await worker

    with pikepdf.open(BytesIO(await file_bytes(coord, note))) as pdf:
        assert len(pdf.pages) == 1
    with session_scope(desk.setup.config.engine) as session:
        case = get_referral(session, referral_id)
        assert case.status == "completed"
        codes = [(b.code, b.note) for b in business_statuses(session, referral_id)]
        assert ("scheduled", f"{day.isoformat()} 14:30") in codes
        assert codes[-1][0] == "consult-note-sent"
        disclosures = session.scalars(
            select(Disclosure).where(Disclosure.referral_id == referral_id)
            .order_by(Disclosure.id)).all()
        assert [d.recipient_address for d in disclosures] == [
            f"fax {PRACTICE_FAX}", f"Matrix user {coord.user_id}"]
        assert "received by fax (1 page" in disclosures[1].description
        moves = session.scalars(select(AuditEntry).where(
            AuditEntry.record_id == referral_id, AuditEntry.action == "referral.transition",
            AuditEntry.actor == f"fax:{PRACTICE_FAX}")).all()
        assert len(moves) == 3  # accepted, in-progress, completed: each the office's, audited
        assert session.scalars(select(AuditEntry).where(
            AuditEntry.record_id == referral_id,
            AuditEntry.action == "referral.fax_reply")).one()


def _sheet_fax(world: World, referral_id: str, answer: OfficeAnswer) -> bytes:
    """The office's reply made from the packet as we rendered it (no line in between)."""
    with session_scope(world.desk.setup.config.engine) as session:
        sheet = sheet_from_packet(render_packet(get_referral(session, referral_id)))
    rng = random.Random(referral_id)
    mark_sheet(Pen(sheet, nominal(204), rng), answer)
    return images_pdf([degrade(sheet, rng, y_dpi=204, max_angle=1.5)])


async def _fax_in(world: World, pdf: bytes) -> None:
    await world.desk.gateway.fax_received(ReceivedFax(
        transport="loopback", provider_fax_id=uuid.uuid4().hex, from_number=PRACTICE_FAX,
        to_number=DESK_CONFIG.organisation_fax, content=pdf, kind=ContentKind.PDF))


async def _said(user: MatrixUser, desk_id: str, room_id: str, text: str) -> str:
    found = await wait_for(lambda: [r for r in user.received if r.room_id == room_id
                                    and r.event.sender == desk_id and text in r.body],
                           what=f"{text!r} in the coordinator room")
    return found[0].body


async def test_unclear_and_impossible_sheets_go_to_the_coordinator_who_classifies(
        world: World) -> None:
    desk, coord, room = world.desk, world.coordinator, world.room
    coordinators = await coord.create_encrypted_room([desk.user_id])
    await coord.wait_joined(coordinators, desk.user_id, desk.bot.client.device_id)
    await desk.restart(replace(DESK_CONFIG, coordinator_room=coordinators))
    unclear_id, root = await sent_referral(world, PRACTICE_FAX, "Beacon Cardiology")
    cancelled_id, _ = await sent_referral(world, PRACTICE_FAX, "Beacon Cardiology")
    assert (await ask(coord, desk, room, f"!cancel {cancelled_id} patient moved away")
            ).startswith(f"{cancelled_id} was cancelled")

    # Both Accepted and Declined ticked: not guessed, sent to a person with the pages.
    await _fax_in(world, _sheet_fax(world, unclear_id, OfficeAnswer(
        frozenset({Answer.ACCEPTED, Answer.DECLINED}))))
    line = await _said(coord, desk.user_id, coordinators, f"Fax reply sheet for {unclear_id}")
    assert "Declined is ticked together with Accepted" in line
    fax_id = line.split("(fax ", 1)[1].split(")", 1)[0]
    assert f"!faxreply {fax_id} {unclear_id} accepted" in line
    await _said(coord, desk.user_id, coordinators, f"Fax {fax_id}.pdf")
    with session_scope(desk.setup.config.engine) as session:
        assert get_referral(session, unclear_id).status == "requested"

    answer = await ask(coord, desk, coordinators,
                       f"!faxreply {fax_id} {unclear_id} declined fully booked until March")
    assert answer.startswith(f"{unclear_id} was declined (by fax from Beacon Cardiology)")
    told = await thread_says(coord, desk, room, root, f"{unclear_id} was declined")
    assert told.body.endswith("Reason: fully booked until March")
    refused = await ask(coord, desk, coordinators, f"!faxreply {fax_id} {unclear_id} accepted")
    assert refused.startswith("Nothing was changed: the sheet says accepted, but "
                              f"{unclear_id} is rejected")

    # A clear sheet for a referral whose state does not allow the move: explained there too.
    await _fax_in(world, _sheet_fax(world, cancelled_id, OfficeAnswer(
        frozenset({Answer.ACCEPTED}))))
    line = await _said(coord, desk.user_id, coordinators, f"Fax reply sheet for {cancelled_id}")
    assert f"the sheet says accepted, but {cancelled_id} is cancelled" in line
    with session_scope(desk.setup.config.engine) as session:
        assert get_referral(session, cancelled_id).status == "cancelled"
        [declined] = session.scalars(select(AuditEntry).where(
            AuditEntry.record_id == unclear_id, AuditEntry.action == "referral.transition",
            AuditEntry.actor == coord.user_id).order_by(AuditEntry.seq)).all()[-1:]
        assert '"to": "rejected"' in declined.details
