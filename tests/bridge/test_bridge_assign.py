"""Who may point a fax number's received faxes somewhere: ``!fax assign`` is an
access decision, because received faxes are patient information.

A clinician cannot take over a number someone else owns (and is told whom to
ask), nor send a number's faxes to a room they are not in; the owner can hand
the number over. Every change is audited, naming the number by its keyed hash.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from curbside.audit import AuditEntry
from curbside.database import session_scope
from fax_gateway import Owner, OwnerKind
from tests.bridge.harness import bridge_world
from tests.support.matrix_testkit import MatrixUser, wait_for

OFFICE = "+13125550108"
SPARE = "+13125550118"


async def _ask(user: MatrixUser, room_id: str, body: str, puppet_id: str) -> str:
    command = await user.send(room_id, body)
    replies = await wait_for(lambda: user.replies_to(command, puppet_id), what=body)
    return str(replies[0].body)


async def test_only_the_owner_hands_a_number_over_and_only_into_rooms_one_is_in(
    tmp_path: Path,
) -> None:
    async with bridge_world(tmp_path) as world:
        okafor = await world.clinician("okafor")
        dana = await world.clinician("dana")
        office, spare = world.puppet_id(OFFICE), world.puppet_id(SPARE)
        router = world.gateway.inbox.router

        def owner(number: str) -> Owner:
            with session_scope(world.engine) as session:
                return router.owner_of(session, number)

        okafor_portal = await world.open_portal(okafor, OFFICE)
        taken = await _ask(okafor, okafor_portal, f"!fax assign {OFFICE} {okafor.user_id}",
                           office)
        assert "now arrive in" in taken

        # Dana cannot take Dr. Okafor's number, and is told whom to ask.
        dana_portal = await world.open_portal(dana, OFFICE)
        refused = await _ask(dana, dana_portal, f"!fax assign {OFFICE} {dana.user_id}", office)
        assert "already assigned to @okafor:curbside.test" in refused
        assert f"Ask @okafor:curbside.test to run !fax assign +1 312 555 0108 {dana.user_id}" \
            in refused
        assert owner(OFFICE) == Owner(OwnerKind.MATRIX_USER, okafor.user_id)

        # Nor can she send an unassigned number's faxes to a room she is not in.
        bot_id = world.config.bot_user_id
        practice = await okafor.create_encrypted_room([bot_id])
        await wait_for(lambda: bot_id in okafor.client.rooms[practice].users
                       and bot_id not in okafor.client.rooms[practice].invited_users,
                       what="the bridge bot to join the practice room")
        spare_portal = await world.open_portal(dana, SPARE)
        outside = await _ask(dana, spare_portal, f"!fax assign {SPARE} {practice}", spare)
        assert "You are not a member of that room" in outside
        assert owner(SPARE) == router.default

        # The owner hands the number over.
        handed = await _ask(okafor, okafor_portal, f"!fax assign {OFFICE} {dana.user_id}",
                            office)
        assert f"now arrive in {dana.user_id}" in handed
        assert owner(OFFICE) == Owner(OwnerKind.MATRIX_USER, dana.user_id)

        with session_scope(world.engine) as session:
            entries = session.scalars(select(AuditEntry).where(
                AuditEntry.action == "fax.route.assign").order_by(AuditEntry.seq)).all()
            audited = [(e.actor, e.record_id, json.loads(e.details)) for e in entries]
        key = world.bridge.services.number_key(OFFICE)
        assert [(actor, record_id) for actor, record_id, _ in audited] == [
            (okafor.user_id, key), (okafor.user_id, key)]
        assert audited[1][2]["old_owner"] == f"matrix_user:{okafor.user_id}"
        assert audited[1][2]["new_owner"] == f"matrix_user:{dana.user_id}"
        assert audited[0][2]["old_owner"] is None
        assert all(OFFICE[1:] not in json.dumps(details) + record_id
                   for _, record_id, details in audited)
