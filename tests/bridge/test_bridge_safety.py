"""Who may fax, and to which numbers: the bridge says no clearly, and says how."""

from __future__ import annotations

from pathlib import Path

from tests.bridge.harness import bridge_world, notices, send_pdf
from tests.support.documents import make_pdf
from tests.support.matrix_testkit import wait_for

LEE_OFFICE = "+13125550165"


async def test_unverified_refused_malformed_numbers_answered_first_fax_confirmed(
    tmp_path: Path,
) -> None:
    async with bridge_world(tmp_path) as world:
        mallory = await world.clinician("mallory", verified=False)
        dana = await world.clinician("dana")
        puppet_id = world.puppet_id(LEE_OFFICE)

        # An unverified user gets an explanation and no fax is queued.
        mallory_room = await world.open_portal(mallory, LEE_OFFICE)
        refused = await send_pdf(mallory, mallory_room, make_pdf(1))
        reply = await wait_for(lambda: mallory.replies_to(refused, puppet_id),
                               what="the refusal")
        assert "Only verified clinicians can send faxes" in reply[0].body
        assert world.gateway.changes_after(0) == []

        # A verified clinician's first fax to an unknown number asks for confirmation.
        room_id = await world.open_portal(dana, LEE_OFFICE)
        first = await send_pdf(dana, room_id, make_pdf(1))
        ask = await wait_for(lambda: dana.replies_to(first, puppet_id), what="the confirm ask")
        assert "!fax confirm +1 312 555 0165 Dr. Lee's office" in ask[0].body
        assert world.gateway.changes_after(0) == []

        # A malformed number gets a reply that says what a good one looks like.
        bad = await dana.send(room_id, "!fax confirm 12345 Dr. Lee's office")
        answer = await wait_for(lambda: dana.replies_to(bad, puppet_id), what="the bad number")
        assert "'12345' is not a fax number" in answer[0].body
        assert "+1 617 555 0134" in answer[0].body

        # Confirmed with the recipient's name, the document goes out.
        ok = await dana.send(room_id, "!fax confirm +1 312 555 0165 Dr. Lee's office")
        confirmed = await wait_for(lambda: dana.replies_to(ok, puppet_id), what="confirmation")
        assert "Confirmed: +1 312 555 0165 is Dr. Lee's office" in confirmed[0].body
        again = await send_pdf(dana, room_id, make_pdf(2))
        queued = await wait_for(lambda: dana.replies_to(again, puppet_id), what="queued")
        assert queued[0].body.startswith("Queued: fax to +1 312 555 0165 (Dr. Lee's office)")
        delivered = await wait_for(lambda: notices(dana, room_id, puppet_id, "Delivered"),
                                   timeout=120, what="delivery")
        assert "2 pages" in delivered[0].body

        # !fax numbers lists what the room confirmed.
        listing = await dana.send(room_id, "!fax numbers")
        numbers = await wait_for(lambda: dana.replies_to(listing, puppet_id), what="numbers")
        assert "+1 312 555 0165 — Dr. Lee's office (confirmed)" in numbers[0].body
