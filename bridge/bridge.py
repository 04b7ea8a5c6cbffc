"""The fax bridge's lifecycle: everything starts and stops here.

    start ─► appservice HTTP server listening (so the ping can reach it)
          ─► ping through the homeserver: registration, tokens, both directions
             (any failure: BridgeStartupError with its exit code)
          ─► the bridge bot's account (the appservice sender: no device, no sync)
          ─► every puppet that has a portal, on its own cross-signed device
          ─► tasks: appservice event router · the relay's two feeds (supervised:
             restarted after failures, a poisoned item moved aside) · release of
             faxes held for owners who joined while the bridge was down
    stop  ─► tasks, puppets, bot, HTTP server — in reverse

The bridge keeps the registries, as mautrix does: a running :class:`Puppet`
per number in use, and one :class:`Portal` per (room, number) — loaded from
the store on first use and kept, so each conversation has one lock.

Run it with :func:`run_bridge` (``curbside up`` does) or hold a
:class:`Bridge` (tests, benchmarks).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from bridge.appservice import AppserviceServer
from bridge.assignment import Standing
from bridge.bot import BridgeBot
from bridge.config import BridgeConfig
from bridge.errors import BridgeStartupError, ExitCode
from bridge.homeserver import AppserviceClient
from bridge.matrix import MatrixHandler
from bridge.numbers import number_of
from bridge.portal import OWNER_KINDS, Portal
from bridge.puppet import Puppet
from bridge.relay import Relay
from bridge.services import Services
from bridge.store import USER_OWNER, BridgeStore
from curbside.background import BackgroundTasks
from curbside.database import KERNEL_VERSIONS, session_scope
from curbside.matrix.login import LoginError
from curbside.matrix.offloop import MainLoop
from fax_gateway import VERSIONS_DIR as FAX_VERSIONS
from fax_gateway import Gateway, Owner

log = logging.getLogger(__name__)

VERSIONS_DIR = Path(__file__).resolve().parent / "migrations" / "versions"
# How long a join seen in a transaction or a sync waits for the puppet's own
# sync to show it, before the held fax is left for the next trigger.
JOIN_WAIT = 30.0
RELAY_THREADS = 4  # threads for the relay's feed work (each fax posted off the loop)


class Bridge:
    def __init__(self, config: BridgeConfig, gateway: Gateway) -> None:
        self.config = config
        self.store = BridgeStore(gateway.number_key)
        self.services = Services(config, gateway, self.store, self)
        self.homeserver = AppserviceClient(
            config.runtime.homeserver_url, config.as_token, config.appservice_id
        )
        self.handler = MatrixHandler(self.services, self.puppet, self._bot_invited,
                                     self.member_joined)
        self.server = AppserviceServer(
            hs_token=config.hs_token, engine=config.runtime.engine, store=self.store,
            on_events=self.handler.notify, user_exists=self.user_exists,
        )
        self._tasks = BackgroundTasks(log)
        self.relay = Relay(self.services, self._tasks)
        self.bot = BridgeBot(config.bot_user_id, config.server_name, self.homeserver)
        self.puppets: dict[str, Puppet] = {}
        self.portals: dict[tuple[str, str], Portal] = {}  # (room id, puppet id)
        self._starting: dict[str, asyncio.Task[Puppet]] = {}
        self._main: MainLoop | None = None

    @staticmethod
    def version_locations() -> list[Path]:
        """Alembic version folders to migrate before :meth:`start`."""
        return [KERNEL_VERSIONS, FAX_VERSIONS, VERSIONS_DIR]

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks.bind(loop)  # puppets' handler threads spawn here too
        self._main = MainLoop(loop, workers=RELAY_THREADS)
        self.homeserver.main = self._main
        await self.server.start(self.config.host, self.config.port)
        try:
            txn_id = await self.homeserver.ping()
            if txn_id not in self.server.pings:
                raise BridgeStartupError(
                    ExitCode.BRIDGE_UNREACHABLE,
                    "the homeserver's ping reached another service at the registration's url, "
                    f"not this bridge: check that port {self.config.port} is this bridge's",
                )
            with session_scope(self.config.runtime.engine) as session:
                known = self.store.puppets_with_portals(session)
            for user_id in known:
                await self.puppet(user_id)
        except BaseException:
            await self.stop()
            raise
        self._tasks.spawn(self.handler.run(), "appservice events")
        self.relay.start(self._main)
        self._tasks.spawn(self.release(), "release held faxes")  # joins while we were down
        log.info("fax bridge up: %d puppets", len(self.puppets))

    async def stop(self) -> None:
        if self._main is not None:
            await self._main.stop()
        await self._tasks.cancel_all(*self._starting.values())
        self.portals.clear()
        for puppet in list(self.puppets.values()):
            await puppet.stop()
        self.puppets.clear()
        await self.server.stop()
        await self.homeserver.close()

    # -- puppets ---------------------------------------------------------------

    async def puppet(self, user_id: str) -> Puppet:
        """The running puppet of a fax-number user id, registered and started on first use.

        A puppet starts on the bridge's own loop, whoever asks (a portal's
        feed work runs on a handler thread).
        """
        running = self.puppets.get(user_id)
        if running is not None:
            return running
        if self._main is not None and not self._main.here:
            return await self._main.run(self.puppet(user_id))
        task = self._starting.get(user_id)
        if task is None:
            task = asyncio.create_task(self._start_puppet(user_id), name=f"start {user_id}")
            self._starting[user_id] = task
            task.add_done_callback(lambda _: self._starting.pop(user_id, None))
        return await asyncio.shield(task)

    async def _start_puppet(self, user_id: str) -> Puppet:
        number = number_of(user_id, self.config.server_name)
        if number is None:
            raise ValueError(f"{user_id} is not a fax puppet of this bridge")
        await self.homeserver.ensure_user(user_id[1:].split(":", 1)[0])
        puppet = Puppet(number, self.services)
        try:
            await puppet.start()
        except LoginError as exc:
            raise BridgeStartupError(ExitCode.LOGIN_FAILED, str(exc)) from None
        self.puppets[user_id] = puppet
        return puppet

    # -- portals ---------------------------------------------------------------

    async def portal(self, room_id: str, puppet_id: str) -> Portal | None:
        """The portal of ``room_id`` with that number's puppet (started if need be);
        None if the room is not one. Always the same object for a pair."""
        key = (room_id, puppet_id)
        known = self.portals.get(key)
        if known is not None:
            return known
        with session_scope(self.config.runtime.engine) as session:
            view = self.store.portal(session, room_id, puppet_id)
        if view is None:
            return None
        puppet = await self.puppet(puppet_id)
        # Another caller may have loaded it during the await: keep the first.
        return self.portals.setdefault(key, Portal(view, puppet, self.services))

    async def portal_receiving(self, number: str, owner: Owner) -> Portal | None:
        """Where faxes received on ``number`` for ``owner`` are posted: the number's
        newest portal for that owner; for a user with none, a DM the puppet opens
        now; None for a room the puppet is not in, an owner not on Matrix, or a
        user the homeserver does not know (an invite would wait for nobody)."""
        kind = OWNER_KINDS.get(owner.kind)
        if kind is None:
            return None
        puppet = await self.puppet(self.services.puppet_id(number))
        with session_scope(self.config.runtime.engine) as session:
            view = self.store.portal_for_owner(session, puppet.user_id, kind, owner.id)
        if view is not None:
            return await self.portal(view.room_id, puppet.user_id)
        if kind != USER_OWNER or not await puppet.user_exists(owner.id):
            return None
        return await self.portal(await puppet.open_dm(owner.id), puppet.user_id)

    async def release(self, room_id: str | None = None, *, wait: float = 0.0) -> int:
        """Deliver held faxes whose owner has joined (in ``room_id``, or anywhere); how many.

        Called when a join is seen — in an appservice transaction, in a
        puppet's sync — and at start; each portal delivers its own
        (:meth:`Portal.release_held`).
        """
        with session_scope(self.config.runtime.engine) as session:
            held = self.store.held(session, room_id)
        delivered = 0
        for key in dict.fromkeys((item.room_id, item.puppet_id) for item in held):
            portal = await self.portal(*key)
            if portal is not None:
                delivered += await portal.release_held(wait)
        return delivered

    async def _bot_invited(self, room_id: str, inviter: str) -> None:
        if self.bot.accepts_invite_from(inviter):
            problem = await self.bot.join(room_id)
            if problem is not None:
                log.warning("the bridge bot could not join %s: %s", room_id, problem)

    async def user_exists(self, user_id: str) -> bool:
        """The homeserver asks about an unknown user in our namespace: a valid number exists."""
        if number_of(user_id, self.config.server_name) is None:
            return False
        await self.homeserver.ensure_user(user_id[1:].split(":", 1)[0])
        return True

    async def standing(self, room_id: str, user_id: str) -> Standing | None:
        return await self.bot.standing(room_id, user_id)

    def member_joined(self, room_id: str) -> None:
        self._tasks.spawn(self.release(room_id, wait=JOIN_WAIT), f"release held {room_id}")

    async def invite_puppet(self, room_id: str, number: str) -> str | None:
        puppet = await self.puppet(self.services.puppet_id(number))
        if room_id in puppet.client.rooms:
            return None
        return await self.bot.invite(room_id, puppet.user_id)


async def run_bridge(config: BridgeConfig, gateway: Gateway, stop: asyncio.Event) -> None:
    """Run the bridge until ``stop`` is set. Raises :class:`BridgeStartupError` (with
    ``.code``, an :class:`ExitCode`) when it cannot start."""
    bridge = Bridge(config, gateway)
    await bridge.start()
    try:
        await stop.wait()
    finally:
        await bridge.stop()
