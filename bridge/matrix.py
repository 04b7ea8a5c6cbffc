"""Routing the homeserver's pushed events, after they were recorded and acknowledged.

    bridge_events (unhandled, in order) ─► invite of the bridge bot ─► join (as_token)
                                       ─► invite of a fax puppet ─► wake that puppet
                                       ─► event in a portal       ─► wake its puppets
                                       ─► a join in a portal      ─► release held faxes
                                       ─► mark handled

Puppets do the reading themselves: each one syncs on its own device, which is
how it receives the room keys it needs to decrypt (see docs/fax-bridge.md for
why not MSC2409/MSC3202). The transaction stream is what tells the bridge a
puppet is needed — a new invite, or a message for a puppet that is not
running — so an idle number costs nothing until someone writes to it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bridge.numbers import number_of
from bridge.services import Services
from bridge.store import RoutedEvent
from curbside.database import session_scope

log = logging.getLogger(__name__)


class MatrixHandler:
    def __init__(
        self,
        services: Services,
        wake_puppet: Callable[[str], Awaitable[object]],
        bot_invited: Callable[[str, str], Awaitable[None]],
        member_joined: Callable[[str], None],
    ) -> None:
        self.services = services
        self._wake_puppet = wake_puppet
        self._bot_invited = bot_invited
        self._member_joined = member_joined
        self._pending = asyncio.Event()
        self._pending.set()  # rows left from before a restart

    def notify(self) -> None:
        """A transaction was recorded (called by the appservice server)."""
        self._pending.set()

    async def run(self) -> None:
        engine, store = self.services.config.runtime.engine, self.services.store
        while True:
            await self._pending.wait()
            self._pending.clear()
            while True:
                with session_scope(engine) as session:
                    events = store.pending_events(session)
                for event in events:
                    try:
                        await self._route(event)
                    except Exception:
                        log.exception("routing appservice event %s failed", event.event_id)
                        self._pending.set()  # retry with the next transaction
                        await asyncio.sleep(1.0)
                        break
                    with session_scope(engine) as session:
                        store.mark_handled(session, event.seq)
                else:
                    if events:
                        continue
                break

    async def _route(self, event: RoutedEvent) -> None:
        config = self.services.config
        server = config.server_name
        invite = event.type == "m.room.member" and event.membership == "invite"
        if invite and event.state_key == config.bot_user_id:
            await self._bot_invited(event.room_id, event.sender)
            return
        if event.type == "m.room.member" and event.membership == "invite" and event.state_key \
                and number_of(event.state_key, server) is not None:
            await self._wake_puppet(event.state_key)
            return
        with session_scope(self.services.config.runtime.engine) as session:
            puppets = [p.puppet_id for p in self.services.store.portals_in_room(
                session, event.room_id)]
        for puppet_id in puppets:
            await self._wake_puppet(puppet_id)
        if puppets and event.type == "m.room.member" and event.membership == "join" \
                and number_of(event.state_key or "", server) is None:
            self._member_joined(event.room_id)  # in the background: it may wait for a sync
