"""The bridge's portal registry, without a homeserver: one Portal object (so one
lock) per room and number however many callers ask at once, found by number and
owner for a received fax, and none for a room that is not a portal."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from types import SimpleNamespace

from bridge.bridge import Bridge
from bridge.store import ROOM_OWNER, USER_OWNER
from curbside.audit import AuditLog
from curbside.database import make_engine, migrate, session_scope
from curbside.phi import decode_master_key, install_cipher, load_cipher, new_master_key
from fax_gateway import FaxSettings, Owner, OwnerKind, derive_pepper, open_gateway
from tests.bridge.harness import AUDIT_KEY, bridge_config

NUMBER = "+13125550104"
PUPPET = "@fax_13125550104:curbside.test"
DM, PRACTICE = "!dm:curbside.test", "!practice:curbside.test"
LEE = "@lee:curbside.test"


async def test_one_portal_per_room_and_number_found_by_number_and_owner(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'curbside.db'}")
    migrate(engine, Bridge.version_locations())
    cipher = load_cipher(engine, decode_master_key(new_master_key()))
    install_cipher(cipher)
    gateway = open_gateway(FaxSettings(), engine=engine, cipher=cipher,
                           audit=AuditLog(AUDIT_KEY), pepper=derive_pepper(AUDIT_KEY),
                           documents_dir=tmp_path / "documents")
    config = bridge_config(tmp_path, "http://127.0.0.1:9", engine, cipher, 9,
                           secrets.token_urlsafe(8), secrets.token_urlsafe(8))
    bridge = Bridge(config, gateway)
    puppet = SimpleNamespace(user_id=PUPPET, number=NUMBER)

    async def started(user_id: str) -> SimpleNamespace:
        await asyncio.sleep(0.01)  # a puppet starting: callers overlap here
        assert user_id == PUPPET
        return puppet

    bridge.puppet = started  # type: ignore[assignment,method-assign]
    try:
        with session_scope(engine) as session:
            bridge.store.add_portal(session, DM, PUPPET, USER_OWNER, LEE)
            bridge.store.add_portal(session, PRACTICE, PUPPET, ROOM_OWNER, PRACTICE)
        first, second = await asyncio.gather(bridge.portal(DM, PUPPET), bridge.portal(DM, PUPPET))
        assert first is not None and first is second
        assert (first.room_id, first.number, first.owner_id) == (DM, NUMBER, LEE)
        assert await bridge.portal_receiving(NUMBER, Owner(OwnerKind.MATRIX_USER, LEE)) is first
        practice = await bridge.portal_receiving(NUMBER, Owner(OwnerKind.ROOM, PRACTICE))
        assert practice is not None and practice is not first and practice.room_id == PRACTICE
        assert await bridge.portal("!elsewhere:curbside.test", PUPPET) is None
        assert await bridge.portal_receiving(
            NUMBER, Owner(OwnerKind.ROOM, "!elsewhere:curbside.test")) is None
        assert await bridge.portal_receiving(
            NUMBER, Owner(OwnerKind.REFERRAL_DESK, "referral-desk")) is None
    finally:
        await gateway.close()
        engine.dispose()
