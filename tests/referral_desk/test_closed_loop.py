"""A coordinator refers a patient to a verified cardiologist and watches the loop close.

Real Synapse, real E2EE clients: the guided form in a thread (with a
malformed answer re-asked and a !back), an attachment, the preview PDF,
!send, the packet arriving encrypted in the cardiologist's DM, accept,
schedule, a consult-note file, and the note arriving back in the thread.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from curbside.database import session_scope
from referral.cases import business_statuses, get_referral, history
from tests.referral.samples import lab_pdf
from tests.referral_desk.conftest import World
from tests.referral_desk.desk_world import (
    ask,
    file_bytes,
    in_thread,
    join_invite,
    send_file,
    thread_says,
)
from tests.support.matrix_testkit import wait_for

pytestmark = pytest.mark.homeserver


def form_answers(recipient: str) -> list[str]:
    return [
        "Maria Q. Testpatient", "1957-03-14", "female", "A-123456", "617 555 0134",
        "BCBS MA", "XJH123456789", recipient, "New atrial fibrillation", "I48.91, R00.2",
        "urgent", "Is anticoagulation indicated?", "yes",
    ]


async def test_guided_form_to_closed_loop(world: World) -> None:
    desk, coord, cardio, room = world.desk, world.coordinator, world.cardiologist, world.room
    root = await coord.send(room, "!referral new")
    intro = await wait_for(lambda: coord.replies_to(root, desk.user_id), what="first question")
    assert "Patient's full name?" in intro[0].body

    answers = form_answers(cardio.user_id)
    reply = await ask(coord, desk, room, answers[0], root)
    assert reply == "Date of birth (YYYY-MM-DD)?"
    reply = await ask(coord, desk, room, "14/03/1957", root)
    assert "date of birth must be a real date in the past, like 1957-03-14" in reply
    assert reply.endswith("Date of birth (YYYY-MM-DD)?")
    await ask(coord, desk, room, answers[1], root)
    assert await ask(coord, desk, room, "!back", root) == "Date of birth (YYYY-MM-DD)?"
    for text in answers[1:-1]:
        await ask(coord, desk, room, text, root)
    done = await ask(coord, desk, room, answers[-1], root)
    assert "Draft RF-" in done and "Ravi Okafor, MD · Cardiology" in done
    referral_id = done.split("Draft ", 1)[1].split(" ", 1)[0]

    preview = await thread_says(coord, desk, room, root, f"Preview {referral_id}.pdf")
    assert (await file_bytes(coord, preview)).startswith(b"%PDF-")
    attach = await send_file(coord, room, lab_pdf(pages=2), "bmp.pdf", root)
    attached = await wait_for(lambda: coord.replies_to(attach, desk.user_id), what="attached")
    assert attached[0].body.startswith("Attached bmp.pdf")
    await wait_for(lambda: len([r for r in in_thread(coord, desk.user_id, room, root)
                                if r.body == f"Preview {referral_id}.pdf"]) == 2,
                   what="the updated preview")

    sent = await ask(coord, desk, room, "!send", root)
    assert sent.startswith(f"{referral_id} sent to Ravi Okafor")

    dm = await join_invite(cardio)
    packet = await wait_for(lambda: [r for r in cardio.received if r.room_id == dm
                                     and r.body == f"Referral {referral_id}.pdf"],
                            what="the packet in the cardiologist's DM")
    data = await file_bytes(cardio, packet[0])
    assert data.startswith(b"%PDF-")
    packet_root = packet[0].event.event_id
    await thread_says(coord, desk, room, root, "was delivered to Ravi Okafor")

    accepted = await ask(cardio, desk, dm, f"!accept {referral_id}", packet_root)
    assert accepted.startswith(f"{referral_id} was accepted")
    await thread_says(coord, desk, room, root, f"{referral_id} was accepted")

    day = (date.today() + timedelta(days=10)).isoformat()
    scheduled = await ask(cardio, desk, dm, f"!schedule {referral_id} {day}", packet_root)
    assert f"appointment scheduled for {day}" in scheduled
    await thread_says(coord, desk, room, root, f"appointment scheduled for {day}")

    note = lab_pdf(pages=1, title="Consult note")
    await send_file(cardio, dm, note, "consult-note.pdf", packet_root)
    forwarded = await thread_says(coord, desk, room, root, "consult-note.pdf")
    assert await file_bytes(coord, forwarded) == note
    await thread_says(coord, desk, room, root, "is completed — the loop is closed")

    with session_scope(desk.setup.config.engine) as session:
        case = get_referral(session, referral_id)
        assert case.status == "completed"
        assert [row.to_status for row in history(session, referral_id)] == [
            "draft", "requested", "accepted", "in-progress", "completed"]
        assert [b.code for b in business_statuses(session, referral_id)] == [
            "delivered", "scheduled", "consult-note-sent"]
        assert [a.filename for a in case.attachments] == ["bmp.pdf"]
