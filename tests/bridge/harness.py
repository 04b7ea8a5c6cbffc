"""A fax bridge on a real Synapse with its appservice registered, a real fax
gateway on the spandsp loopback line, and verified clinicians at nio clients.

:func:`bridge_world` builds it all in a temporary directory; tests use the
returned :class:`World` and close it. Helpers here wait for what a clinician
would see (a notice from a puppet, a file) — never sleep and hope.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nio
from sqlalchemy import Engine

from bridge.bridge import Bridge
from bridge.config import BridgeConfig
from bridge.registration import write_registration
from curbside.audit import AuditLog
from curbside.credentials import VerifiedCredential
from curbside.database import make_engine, migrate, session_scope
from curbside.homeserver import EmbeddedSynapse, free_port
from curbside.matrix.config import RuntimeConfig
from curbside.matrix.files import upload_encrypted
from curbside.phi import FieldCipher, decode_master_key, install_cipher, load_cipher, new_master_key
from fax_gateway import FaxSettings, Gateway, OwnerKind, derive_pepper, open_gateway
from tests.conftest import make_synapse
from tests.support.fax_ledger import no_fax_vanished
from tests.support.matrix_testkit import MatrixUser, Received, wait_for

SERVER = "curbside.test"
AUDIT_KEY = b"bridge-audit-key-for-tests-0123456789"




def credential(user_id: str, name: str) -> VerifiedCredential:
    now = datetime.now(UTC)
    return VerifiedCredential(
        user_id=user_id, npi="1234567893", legal_name=name, credential_text="MD",
        specialty="Cardiology", taxonomy_code="207RC0000X", licence_state="MA",
        licence_number="123", verified_by="@gatekeeper:curbside.test", evidence="",
        verified_at=now - timedelta(days=1), expires_at=now + timedelta(days=300),
    )


@dataclass
class World:
    tmp: Path
    synapse: EmbeddedSynapse
    engine: Engine
    config: BridgeConfig
    gateway: Gateway
    bridge: Bridge
    registration: Path
    _stop_worker: asyncio.Event = field(default_factory=asyncio.Event)
    _worker: asyncio.Task[None] | None = None
    users: list[MatrixUser] = field(default_factory=list)

    async def clinician(self, localpart: str, *, verified: bool = True) -> MatrixUser:
        user = await MatrixUser.create(self.synapse, localpart)
        self.users.append(user)
        if verified:
            with session_scope(self.engine) as session:
                session.add(credential(user.user_id, localpart.title()))
        return user

    def puppet_id(self, number: str) -> str:
        return f"@fax_{number.lstrip('+')}:{SERVER}"

    async def open_portal(self, user: MatrixUser, number: str) -> str:
        """The clinician starts a chat with the number; returns the room once greeted."""
        puppet_id = self.puppet_id(number)
        room_id = await user.create_encrypted_room([puppet_id])
        await wait_for(lambda: puppet_id in self.bridge.puppets, what="the puppet to start")
        puppet = self.bridge.puppets[puppet_id]
        await user.wait_joined(room_id, puppet_id, puppet.client.device_id)
        await wait_for(lambda: notices(user, room_id, puppet_id), what="the welcome notice")
        return room_id

    async def close(self) -> None:
        self._stop_worker.set()
        if self._worker is not None:
            await self._worker
        await self.bridge.stop()
        for user in self.users:
            await user.close()
        await self.gateway.close()
        self.engine.dispose()
        self.synapse.stop()


def notices(user: MatrixUser, room_id: str, sender: str, containing: str = "") -> list[Received]:
    return [
        r for r in user.received
        if r.room_id == room_id and r.event.sender == sender
        and r.content.get("msgtype") == "m.notice" and containing in r.body
    ]


def files(user: MatrixUser, room_id: str, sender: str) -> list[Received]:
    return [r for r in user.received if r.room_id == room_id and r.event.sender == sender
            and r.content.get("msgtype") == "m.file"]


async def send_pdf(user: MatrixUser, room_id: str, pdf: bytes, name: str = "referral.pdf") -> str:
    content = await upload_encrypted(user.client, pdf, name, "application/pdf")
    response = await user.client.room_send(room_id, "m.room.message", content,
                                           ignore_unverified_devices=True)
    assert isinstance(response, nio.RoomSendResponse), response
    return str(response.event_id)


def bridge_config(tmp: Path, url: str, engine: Engine, cipher: FieldCipher, port: int,
                  as_token: str, hs_token: str) -> BridgeConfig:
    runtime = RuntimeConfig(homeserver_url=url, store_dir=tmp / "stores",
                            pickle_key=secrets.token_urlsafe(24), engine=engine, cipher=cipher)
    return BridgeConfig(server_name=SERVER, sender_localpart="faxbridge", as_token=as_token,
                        hs_token=hs_token, port=port, runtime=runtime, feed_interval=0.2)


@contextlib.asynccontextmanager
async def bridge_world(tmp: Path, *, start: bool = True,
                       db_url: str | None = None) -> AsyncIterator[World]:
    """Synapse + appservice registration + migrated DB + gateway + bridge (+ worker)."""
    as_token, hs_token, port = secrets.token_urlsafe(24), secrets.token_urlsafe(24), free_port()
    registration = write_registration(
        tmp / "appservice-fax.yaml", server_name=SERVER, sender_localpart="faxbridge",
        as_token=as_token, hs_token=hs_token, port=port,
    )
    synapse = make_synapse(tmp / "synapse", app_service_config_files=(registration,))
    synapse.start()
    engine = make_engine(db_url or f"sqlite:///{tmp / 'curbside.db'}")
    migrate(engine, Bridge.version_locations())
    cipher = load_cipher(engine, decode_master_key(new_master_key()))
    install_cipher(cipher)
    config = bridge_config(tmp, synapse.url, engine, cipher, port, as_token, hs_token)
    gateway = open_gateway(FaxSettings(), engine=engine, cipher=cipher,
                           audit=AuditLog(AUDIT_KEY), pepper=derive_pepper(AUDIT_KEY),
                           documents_dir=tmp / "documents")
    world = World(tmp, synapse, engine, config, gateway, Bridge(config, gateway), registration)
    try:
        if start:
            await world.bridge.start()
            world._worker = asyncio.create_task(
                gateway.worker("bridge-tests").run(world._stop_worker, idle=0.1))
        yield world
        if start:  # the relay accounts for every fax owned by a user or a room
            await no_fax_vanished(gateway, (OwnerKind.MATRIX_USER, OwnerKind.ROOM))
    finally:
        await world.close()
