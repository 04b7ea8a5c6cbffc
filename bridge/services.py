"""What the bridge's Matrix handlers share: the gateway, the store, the config,
and a way to reach puppets — bundled so the bot and every puppet get one object."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session

from bridge.config import BridgeConfig
from bridge.numbers import puppet_id
from bridge.store import BridgeStore
from fax_gateway.gateway import Gateway
from fax_gateway.routing import Owner


class PuppetHost(Protocol):
    async def invite_puppet(self, room_id: str, number: str) -> str | None:
        """Bring the number's puppet into ``room_id``; an error text, or None when done."""
        ...


@dataclass(frozen=True)
class Services:
    config: BridgeConfig
    gateway: Gateway
    store: BridgeStore
    host: PuppetHost

    def puppet_id(self, number: str) -> str:
        return puppet_id(number, self.config.server_name)

    def owner(self, session: Session, number: str) -> Owner | None:
        """Who a number is assigned to in the gateway's routing table (None: nobody)."""
        router = self.gateway.inbox.router
        owner = router.owner_of(session, number)
        return None if owner == router.default else owner
