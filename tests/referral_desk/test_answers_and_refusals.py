"""Declines, cancels, refused moves, a restart mid-form, and who may refer where."""

from __future__ import annotations

import pytest

from curbside.database import session_scope
from referral.cases import get_referral
from tests.referral_desk.conftest import World
from tests.referral_desk.desk_world import ask, join_invite, thread_says
from tests.support.matrix_testkit import MatrixUser, wait_for

pytestmark = pytest.mark.homeserver


def pasted(recipient: str, name: str = "") -> str:
    return "\n".join([
        "patient_name: Maria Q. Testpatient", "date_of_birth: 1957-03-14", "sex: F",
        "mrn: A-123456", "patient_phone: +16175550134", "payer: BCBS MA",
        "member_id: XJH123456789", f"recipient: {recipient}", f"recipient_name: {name}",
        "reason: New atrial fibrillation", "icd10_codes: I48.91", "urgency: routine",
        "clinical_question: Is anticoagulation indicated?", "consent: yes",
    ])


async def sent_referral(world: World, recipient: str, name: str = "") -> tuple[str, str]:
    """A referral pasted in one message and sent; (referral id, thread root)."""
    desk, coord, room = world.desk, world.coordinator, world.room
    root = await coord.send(room, "!referral new")
    await wait_for(lambda: coord.replies_to(root, desk.user_id), what="first question")
    done = await ask(coord, desk, room, pasted(recipient, name), root)
    assert "Draft RF-" in done, done
    referral_id = done.split("Draft ", 1)[1].split(" ", 1)[0]
    assert (await ask(coord, desk, room, "!send", root)).startswith(f"{referral_id} sent")
    return referral_id, root


async def packet_thread(world: World, referral_id: str) -> tuple[str, str]:
    cardio = world.cardiologist
    dm = await join_invite(cardio)
    packet = await wait_for(lambda: [r for r in cardio.received if r.room_id == dm
                                     and r.body == f"Referral {referral_id}.pdf"],
                            what="the packet")
    return dm, packet[0].event.event_id


async def test_decline_asks_for_the_reason_and_tells_the_referrer(world: World) -> None:
    desk, cardio = world.desk, world.cardiologist
    referral_id, root = await sent_referral(world, cardio.user_id)
    dm, packet_root = await packet_thread(world, referral_id)

    asked = await ask(cardio, desk, dm, f"!decline {referral_id}", packet_root)
    assert asked.startswith(f"Why are you declining {referral_id}?")
    answer = await ask(cardio, desk, dm, "Fully booked until March", packet_root)

    assert answer.startswith(f"{referral_id} was declined")
    told = await thread_says(world.coordinator, desk, world.room, root, "was declined")
    assert told.body.endswith("Reason: Fully booked until March")
    with session_scope(desk.setup.config.engine) as session:
        assert get_referral(session, referral_id).status == "rejected"


async def test_cancel_and_moves_the_table_refuses(world: World) -> None:
    desk, coord, cardio, room = world.desk, world.coordinator, world.cardiologist, world.room
    referral_id, root = await sent_referral(world, cardio.user_id)
    dm, packet_root = await packet_thread(world, referral_id)

    refused = await ask(coord, desk, room, f"!accept {referral_id}", root)
    assert refused == f"Only the recipient of {referral_id} can do that; you are its referrer."
    no_reason = await ask(coord, desk, room, f"!cancel {referral_id}", root)
    assert "needs a reason" in no_reason
    cancelled = await ask(coord, desk, room, f"!cancel {referral_id} patient moved away", root)
    assert cancelled.startswith(f"{referral_id} was cancelled by the referrer")
    await thread_says(cardio, desk, dm, packet_root, "was cancelled by the referrer")

    late = await ask(cardio, desk, dm, f"!accept {referral_id}", packet_root)
    assert late.startswith("This referral is cancelled, so it cannot be accepted now")
    status = await ask(coord, desk, room, f"!status {referral_id}", root)
    assert "cancelled" in status.splitlines()[0] and "patient moved away" in status


async def test_a_restart_mid_form_resumes_at_the_same_question(world: World) -> None:
    desk, coord, room = world.desk, world.coordinator, world.room
    root = await coord.send(room, "!referral new")
    await wait_for(lambda: coord.replies_to(root, desk.user_id), what="first question")
    await ask(coord, desk, room, "Maria Q. Testpatient", root)
    await ask(coord, desk, room, "1957-03-14", root)

    await desk.restart()

    assert await ask(coord, desk, room, "F", root) == "Medical record number (MRN)?"


async def test_unverified_and_unencrypted_are_refused_with_reasons(
    world: World, homeserver, unique
) -> None:
    desk = world.desk
    stranger = await MatrixUser.create(homeserver, f"stranger{unique}")
    try:
        private = await stranger.create_encrypted_room([desk.user_id])
        await stranger.wait_joined(private, desk.user_id, desk.bot.client.device_id)
        answer = await ask(stranger, desk, private, "!referral new")
        assert answer.startswith("Only verified clinicians can create or receive referrals")

        # Our homeserver encrypts every room by default, so an unencrypted room
        # (as on another homeserver) is simulated in the desk's view of the room.
        desk.bot.client.rooms[world.room].encrypted = False
        try:
            answer = await ask(world.coordinator, desk, world.room, "!referral new")
        finally:
            desk.bot.client.rooms[world.room].encrypted = True
        assert "without end-to-end encryption" in answer
    finally:
        await stranger.close()


async def test_an_unverified_recipient_is_asked_for_again(world: World, unique) -> None:
    desk, coord, room = world.desk, world.coordinator, world.room
    root = await coord.send(room, "!referral new")
    await wait_for(lambda: coord.replies_to(root, desk.user_id), what="first question")
    nobody = f"@nobody{unique}:curbside.test"

    reply = await ask(coord, desk, room, pasted(nobody), root)

    assert f"{nobody} is not a verified clinician" in reply
    assert reply.endswith("or a fax number.")  # the recipient question again


async def test_referral_template_and_a_bare_referral_say_what_to_send(world: World) -> None:
    desk, coord, room = world.desk, world.coordinator, world.room
    template = await ask(coord, desk, room, "!referral template")
    assert template.startswith("Paste these lines") and "\npatient_name: " in template
    bare = await ask(coord, desk, room, "!referral")
    assert bare.splitlines()[1:] == ["!referral new — start a referral in a thread",
                                     "!referral template — show the paste format"]
