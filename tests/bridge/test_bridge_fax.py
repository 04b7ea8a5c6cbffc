"""A clinician faxes a colleague's office by starting a chat with its number.

Real Synapse with the bridge's appservice registered, real E2EE on both sides
(the puppets are cross-signed devices of their own), a real T.30 call over the
spandsp loopback line, and the received fax delivered back into Matrix.
"""

from __future__ import annotations

import io
from pathlib import Path

import pikepdf

from curbside.matrix.files import download_decrypted
from fax_gateway import JobState
from tests.bridge.harness import bridge_world, files, notices, send_pdf
from tests.support.documents import make_pdf
from tests.support.matrix_testkit import wait_for

OKAFOR_OFFICE = "+13125550145"


async def test_a_three_page_pdf_reaches_the_office_and_arrives_in_its_owners_portal(
    tmp_path: Path,
) -> None:
    async with bridge_world(tmp_path) as world:
        lee = await world.clinician("lee")
        okafor = await world.clinician("okafor")
        puppet_id = world.puppet_id(OKAFOR_OFFICE)

        # Dr. Okafor owns the office number: she starts a chat with it and takes it.
        okafor_room = await world.open_portal(okafor, OKAFOR_OFFICE)
        command = await okafor.send(okafor_room, f"!fax assign +1 312 555 0145 {okafor.user_id}")
        await wait_for(lambda: okafor.replies_to(command, puppet_id), what="the assign reply")
        assert "now arrive in" in okafor.replies_to(command, puppet_id)[0].body

        # Dr. Lee starts a chat with the number and sends a 3-page referral.
        room_id = await world.open_portal(lee, OKAFOR_OFFICE)
        welcome = notices(lee, room_id, puppet_id)[0].event
        assert welcome.decrypted and "+1 312 555 0145" in welcome.body
        file_event = await send_pdf(lee, room_id, make_pdf(3))

        delivered = await wait_for(
            lambda: notices(lee, room_id, puppet_id, "Delivered"), timeout=120,
            what="the delivery notice")
        assert "3 pages" in delivered[0].body
        assert notices(lee, room_id, puppet_id, "Queued")
        assert notices(lee, room_id, puppet_id, "Sending")
        assert delivered[0].content["m.relates_to"]["event_id"] == file_event
        [received] = world.gateway.received_after(0)
        assert received.pages == 3
        assert world.gateway.job(
            world.gateway.changes_after(0)[-1].job_id).state is JobState.DELIVERED

        # The office's fax arrives in Dr. Okafor's portal with that number, as a PDF.
        arrived = await wait_for(lambda: files(okafor, okafor_room, puppet_id), timeout=60,
                                 what="the received fax in the owner's portal")
        pdf = await download_decrypted(okafor.client, arrived[0].content)
        with pikepdf.open(io.BytesIO(pdf)) as document:
            assert len(document.pages) == 3
        assert arrived[0].event.decrypted



PRACTICE_LINE = "+13125550107"


async def test_a_practice_rooms_number_delivers_its_faxes_into_the_room(
    tmp_path: Path,
) -> None:
    async with bridge_world(tmp_path) as world:
        okafor = await world.clinician("okafor")
        puppet_id = world.puppet_id(PRACTICE_LINE)
        bot_id = world.config.bot_user_id
        practice = await okafor.create_encrypted_room([bot_id])
        await wait_for(lambda: bot_id in okafor.client.rooms[practice].users
                       and bot_id not in okafor.client.rooms[practice].invited_users,
                       what="the bridge bot to join the practice room")

        portal = await world.open_portal(okafor, PRACTICE_LINE)
        command = await okafor.send(portal, f"!fax assign +1 312 555 0107 {practice}")
        reply = await wait_for(lambda: okafor.replies_to(command, puppet_id), what="assign")
        assert f"now arrive in {practice}" in reply[0].body
        await wait_for(lambda: notices(okafor, practice, puppet_id, "now arrive in this room"),
                       what="the puppet joining the practice room")

        world.gateway.submit(make_pdf(1), PRACTICE_LINE, idempotency_key="practice-1",
                             actor="@coordinator:curbside.test")
        arrived = await wait_for(lambda: files(okafor, practice, puppet_id), timeout=120,
                                 what="the fax in the practice room")
        pdf = await download_decrypted(okafor.client, arrived[0].content)
        with pikepdf.open(io.BytesIO(pdf)) as document:
            assert len(document.pages) == 1
        assert files(okafor, portal, puppet_id) == []  # the room owns it, not the DM
