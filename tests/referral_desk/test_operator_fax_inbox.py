"""No fax is lost: a fax to a number nobody owns reaches the operator fax inbox room.

Real Synapse, real E2EE: an operator's encrypted inbox room with the desk in
it; the fax goes out through the gateway's outbox and over the spandsp
loopback line, arrives in the local inbox for a number without a route (so
the referral desk, the default owner, takes it) and is posted with both
numbers and the pages as an encrypted PDF.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pikepdf
import pytest

from fax_gateway import Disposition
from tests.referral_desk.desk_world import Desk, file_bytes, prepare_database
from tests.support.documents import make_pdf
from tests.support.matrix_testkit import MatrixUser, bot_setup, wait_for

pytestmark = pytest.mark.homeserver

NOBODYS_NUMBER = "+13125550177"


async def test_a_fax_to_an_unowned_number_appears_in_the_operator_fax_inbox(
    homeserver, tmp_path: Path, unique: str,  # type: ignore[no-untyped-def]
) -> None:
    setup = await bot_setup(homeserver, tmp_path, f"desk{unique}")
    env, gateway = prepare_database(setup)
    operator = await MatrixUser.create(homeserver, f"operator{unique}")
    inbox = await operator.create_encrypted_room([setup.account.user_id])
    desk = await Desk.start(setup, env, gateway, fax_inbox_room=inbox)
    stop = asyncio.Event()
    worker = asyncio.create_task(gateway.worker("inbox-test").run(stop, idle=0.1))
    try:
        await operator.wait_joined(inbox, desk.user_id, desk.bot.client.device_id)
        job = await asyncio.to_thread(gateway.submit, make_pdf(2), NOBODYS_NUMBER,
                                      idempotency_key="inbox-test-1", actor="@someone:test")

        def posted(msgtype: str) -> list:  # type: ignore[type-arg]
            return [r for r in operator.received if r.room_id == inbox
                    and r.event.sender == desk.user_id and r.content.get("msgtype") == msgtype]

        [notice] = await wait_for(lambda: posted("m.notice"), timeout=120,
                                  what="the fax notice in the operator inbox")
        [file] = await wait_for(lambda: posted("m.file"), what="the fax PDF in the inbox")
        assert notice.event.decrypted and file.event.decrypted
        assert "Fax received on +1 312 555 0177 from Curbside" in notice.body
        assert "2 pages" in notice.body and "no one on Curbside has taken this number" \
            in notice.body
        with pikepdf.open(io.BytesIO(await file_bytes(operator, file))) as document:
            assert len(document.pages) == 2
        assert gateway.job(job.id).state.value == "delivered"
        [received] = gateway.received_after(0)
        assert [d.disposition for d in gateway.dispositions_after(0)] == [Disposition.OPERATOR]
        assert gateway.dispositions_after(0)[0].inbound_id == received.id
        assert gateway.disposition_counts() == {Disposition.OPERATOR: 1}
        assert gateway.undisposed() == []
    finally:
        stop.set()
        await worker
        await desk.bot.stop()
        await operator.close()
        await gateway.close()
