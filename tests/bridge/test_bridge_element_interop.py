"""Element's own crypto reads a fax puppet, and the puppet reads Element.

The counterpart is the interop client of ``tests/interop`` (matrix-js-sdk +
rust crypto in ``OnlySignedDevicesIsolationMode``, current Element's strict
"exclude insecure devices"): it decrypts only messages from devices their
owner cross-signed and shares room keys only with those. A fax received on a
number Element's user owns arrives from the number's puppet — notice and PDF
with no shield and no decryption failure — and the puppet answers a command
Element sent, which it could only read if Element shared the room key with it.

The first fax opens the DM while Element's user is only invited; the bridge
holds it until Element has joined (bridge.portal), so the strict checks hold
for the first fax as well as for a later one.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from curbside.database import session_scope
from fax_gateway import Owner, OwnerKind
from tests.bridge.harness import bridge_world
from tests.interop.element_driver import ElementClient, ElementMessage, node_tools_missing
from tests.support.documents import make_pdf
from tests.support.matrix_testkit import wait_for

pytestmark = pytest.mark.skipif(
    node_tools_missing() is not None,
    reason=f"Element interop needs Node.js and npm: {node_tools_missing()}",
)

NUMBER = "+13125550102"


def clean(message: ElementMessage) -> bool:
    return (not message.decryption_failed and message.encrypted
            and message.shield_colour == "NONE" and message.shield_reason is None)


async def test_element_reads_the_puppets_fax_and_the_puppet_reads_element(
    tmp_path: Path,
) -> None:
    async with bridge_world(tmp_path) as world:
        element = await ElementClient.start(tmp_path / "element-client.stderr")
        try:
            user_id = await world.synapse.register_user("patel", "element-password")
            await element.login(world.synapse.url, user_id, "element-password")
            world.gateway.inbox.router.set_route(NUMBER, Owner(OwnerKind.MATRIX_USER, user_id))
            puppet_id = world.puppet_id(NUMBER)

            world.gateway.submit(make_pdf(1), NUMBER, idempotency_key="interop-1",
                                 actor="@coordinator:curbside.test")
            store = world.bridge.store

            def portal_room() -> str | None:
                with session_scope(world.engine) as session:
                    portal = store.portal_for_owner(session, puppet_id, "user", user_id)
                    return portal.room_id if portal else None

            room_id = await wait_for(portal_room, timeout=120, what="the puppet's DM")
            await element.join(room_id)
            puppet = world.bridge.puppets[puppet_id]

            # The first fax was held until the join: it arrives clean, like any other.
            first = world.gateway.received_after(0)[0]
            first_notice = await element.wait_for_message(
                lambda m: m.sender == puppet_id and "— 1 page." in (m.body or ""),
                timeout=120, what="the first fax's notice")
            first_pdf = await element.wait_for_message(
                lambda m: m.sender == puppet_id and m.msgtype == "m.file"
                and first.id[:8] in (m.body or ""), what="the first fax's PDF")
            assert clean(first_notice), first_notice
            assert clean(first_pdf) and first_pdf.has_file, first_pdf
            await element.wait_device(puppet_id, puppet.client.device_id, cross_signed=True)

            world.gateway.submit(make_pdf(2), NUMBER, idempotency_key="interop-2",
                                 actor="@coordinator:curbside.test")
            notice = await element.wait_for_message(
                lambda m: m.sender == puppet_id and "— 2 pages" in (m.body or ""),
                timeout=120, what="the second fax's notice")
            second = world.gateway.received_after(0)[-1]
            pdf_event = await element.wait_for_message(
                lambda m: m.sender == puppet_id and m.msgtype == "m.file"
                and second.id[:8] in (m.body or ""), what="the second fax's PDF")
            assert clean(notice), notice
            assert clean(pdf_event) and pdf_event.has_file, pdf_event
            stored = world.gateway.inbox.document(second.id, actor=user_id, reason="test")
            downloaded = await element.download_file(room_id, pdf_event.event_id)
            assert downloaded["mimetype"] == "application/pdf"
            assert downloaded["sha256"] == hashlib.sha256(stored).hexdigest()

            await element.send_text(room_id, "!fax help")
            answer = await element.wait_for_message(
                lambda m: m.sender == puppet_id and "!fax assign" in (m.body or ""),
                what="the puppet's answer to Element")
            assert clean(answer), answer
        finally:
            await element.close()
