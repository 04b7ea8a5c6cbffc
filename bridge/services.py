"""What the bridge's Matrix handlers share: the gateway, the store, the config,
and a way to reach puppets and portals — bundled so the bot, every puppet and
every portal get one object."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from bridge.assignment import Standing
from bridge.config import BridgeConfig
from bridge.numbers import puppet_id
from bridge.store import BridgeStore
from fax_gateway import Gateway, Owner

if TYPE_CHECKING:
    from bridge.portal import Portal


class BridgeHost(Protocol):
    """What handlers ask of the bridge (:class:`bridge.bridge.Bridge`)."""

    async def portal(self, room_id: str, puppet_id: str) -> Portal | None:
        """The portal of ``room_id`` with that number's puppet; None if the room is not one."""
        ...

    async def portal_receiving(self, number: str, owner: Owner) -> Portal | None:
        """The portal where faxes received on ``number`` for ``owner`` are posted."""
        ...

    async def invite_puppet(self, room_id: str, number: str) -> str | None:
        """Bring the number's puppet into ``room_id``; an error text, or None when done."""
        ...

    def member_joined(self, room_id: str) -> None:
        """Someone joined ``room_id`` (seen in a puppet's sync): release faxes held there."""
        ...

    async def standing(self, room_id: str, user_id: str) -> Standing | None:
        """``user_id``'s membership and power in ``room_id``; None if the bridge cannot see it."""
        ...


@dataclass(frozen=True)
class Services:
    config: BridgeConfig
    gateway: Gateway
    store: BridgeStore
    host: BridgeHost

    def puppet_id(self, number: str) -> str:
        return puppet_id(number, self.config.server_name)

    def number_key(self, number: str) -> str:
        """The gateway's keyed hash of a number: how audit entries name it without PHI,
        joinable with the gateway's ``fax_routes`` rows."""
        return self.gateway.number_key(number)

    def owner(self, number: str) -> Owner | None:
        """Who a number is assigned to in the gateway's routing table (None: nobody)."""
        return self.gateway.owner_of(number)
