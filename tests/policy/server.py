"""A real Synapse with the verified-room module loaded, sharing a SQLite file with the test.

The test writes verification records (standing in for the gatekeeper bot)
into the same migrated database the module reads from inside Synapse.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import Engine

from curbside.database import KERNEL_VERSIONS, make_engine, migrate
from curbside.homeserver import EmbeddedSynapse
from tests.conftest import make_synapse
from tests.policy.raw_client import RawClient
from tests.policy.records import GATEKEEPER_LOCALPART

MODULE = "bots.gatekeeper.synapse_module.VerifiedRoomPolicy"
CACHE_TTL = 1.0


@dataclass
class PolicyServer:
    """One homeserver with the module, its database, and logged-in raw clients."""

    synapse: EmbeddedSynapse
    engine: Engine
    http: aiohttp.ClientSession
    clients: dict[str, RawClient] = field(default_factory=dict)

    @property
    def gatekeeper_id(self) -> str:
        return f"@{GATEKEEPER_LOCALPART}:{self.synapse.server_name}"

    def user_id(self, localpart: str) -> str:
        return f"@{localpart}:{self.synapse.server_name}"

    async def user(self, localpart: str, *, admin: bool = False) -> RawClient:
        """Register (once) and log in ``localpart``; later calls return the same client."""
        if localpart not in self.clients:
            password = secrets.token_urlsafe(12)
            user_id = await self.synapse.register_user(localpart, password, admin=admin)
            self.clients[localpart] = await RawClient.login(
                self.http, self.synapse.url, user_id, password)
        return self.clients[localpart]


@asynccontextmanager
async def policy_server(tmp_dir: Path, **synapse_config: Any) -> AsyncIterator[PolicyServer]:
    """Start Synapse with the module (cache TTL :data:`CACHE_TTL`) and extra homeserver config."""
    db_url = f"sqlite:///{tmp_dir / 'curbside.db'}"
    engine = make_engine(db_url)
    migrate(engine, [KERNEL_VERSIONS])
    module = {"module": MODULE, "config": {
        "database_url": db_url,
        "gatekeeper_user_id": f"@{GATEKEEPER_LOCALPART}:curbside.test",
        "cache_ttl_seconds": CACHE_TTL,
    }}
    # Cheap password hashing: the suite registers and logs in a dozen accounts.
    extra = {"bcrypt_rounds": 4, **synapse_config}
    synapse = make_synapse(tmp_dir / "synapse", modules=(module,), extra=extra)
    synapse.start()
    try:
        async with aiohttp.ClientSession() as http:
            yield PolicyServer(synapse, engine, http)
    finally:
        synapse.stop()
        engine.dispose()
