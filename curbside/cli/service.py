"""`curbside up` and `curbside status`.

    up:  settings ─> logging (PHI filter) ─> preflight (lock, ports, no leftover
         homeserver) ─> database (migrate) ─> PHI keys
         ─> embedded Synapse (unless external) ─> bot accounts ─> bots start
         ─> print how to connect ─> wait for Ctrl-C ─> stop bots, Synapse

A second `up` finds the same accounts and the runtime restores each bot's
saved device, so device ids (and the trust Element placed in them) survive.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from datetime import UTC, datetime

import aiohttp
import click
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from bots.gatekeeper import credentialing
from bridge.bridge import Bridge
from bridge.config import BridgeConfig
from bridge.errors import BridgeStartupError
from bridge.registration import PUPPET_PREFIX
from curbside.cli import demo
from curbside.cli.context import AppContext, pass_app
from curbside.cli.operator_rooms import (
    OPERATOR_LOCALPART,
    ensure_operator_rooms,
    operator_password_path,
)
from curbside.cli.wiring import BOTS, metric_queries, migration_locations
from curbside.database import KERNEL_BRANCH, Behind, pending_branches, session_scope
from curbside.homeserver import HomeserverError, UserExists, register_user, wait_until_healthy
from curbside.lifecycle import (
    InstanceLock,
    Listener,
    PreflightError,
    check_no_homeserver,
    check_ports_free,
    port_in_use,
)
from curbside.logs import configure_logging
from curbside.matrix.bot import Bot
from curbside.matrix.config import BotAccount, RuntimeConfig
from curbside.matrix.models import MatrixAccount
from curbside.metrics import QueryCollector, serve
from fax_gateway.cli import gateway_for, parse_fax_settings
from fax_gateway.gateway import Gateway
from fax_gateway.health import STALL_AFTER, queue_health
from fax_gateway.service import run_fax_service
from referral import icd10


async def _ensure_account(app: AppContext, localpart: str, password: str, name: str) -> None:
    hs = app.settings.homeserver
    with contextlib.suppress(UserExists):
        await register_user(
            hs.url, hs.registration_shared_secret, localpart, password, displayname=name
        )


def _runtime_config(app: AppContext, bot_name: str) -> RuntimeConfig:
    return RuntimeConfig(
        homeserver_url=app.settings.homeserver.url,
        store_dir=app.settings.data_dir / "bots" / bot_name,
        pickle_key=app.settings.secrets.pickle_key,
        engine=app.engine,
        cipher=app.cipher,
        audit=app.audit,
        operator_room=app.settings.operator.room,
    )


def build_bots(app: AppContext, fax_gateway: Gateway) -> list[Bot]:
    """One instance of every bot, each with its own account, store and options."""
    instances: list[Bot] = []
    for name, bot in BOTS.items():
        bot_settings = app.settings.bots[name]
        account = BotAccount(
            user_id=app.settings.bot_user_id(name),
            password=bot_settings.password,
            display_name=bot_settings.display_name,
        )
        instances.append(bot.build(app, account, _runtime_config(app, name), fax_gateway))
    return instances


def _bridge(app: AppContext, fax_gateway: Gateway) -> Bridge:
    settings = app.settings
    return Bridge(
        BridgeConfig(
            server_name=settings.homeserver.server_name,
            sender_localpart=settings.bridge.sender_localpart,
            as_token=settings.bridge.as_token,
            hs_token=settings.bridge.hs_token,
            port=settings.bridge.port,
            runtime=_runtime_config(app, "fax-bridge"),
        ),
        fax_gateway,
    )


async def _serve(app: AppContext) -> None:
    """Run everything until SIGINT/SIGTERM/SIGHUP; whatever started is stopped on the way out."""
    settings = app.settings
    await wait_until_healthy(settings.homeserver.url)
    for name in BOTS:
        bot_settings = settings.bots[name]
        await _ensure_account(
            app, bot_settings.localpart, bot_settings.password, bot_settings.display_name
        )
    await demo.accounts(app)
    for key, room_id in (await ensure_operator_rooms(app)).items():
        click.echo(f"  created operator.{key} {room_id} (written into {app.config_path}; "
                   f"log in as {OPERATOR_LOCALPART}, password in "
                   f"{operator_password_path(app)})")
    settings = app.settings
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    fax_settings = parse_fax_settings(settings.fax)
    fax_gateway = gateway_for(app, fax_settings)
    async with contextlib.AsyncExitStack() as running:
        fax_service = asyncio.create_task(
            run_fax_service(fax_gateway, fax_settings, stop, "curbside-up", 8)
        )
        fax_service.add_done_callback(lambda _: stop.set())  # a failed gateway stops all
        running.push_async_callback(lambda: fax_service)
        running.callback(stop.set)
        if settings.metrics.enabled:
            metrics = settings.metrics
            running.callback(serve(metrics.host, metrics.port,
                                   [QueryCollector(app.engine, metric_queries())]))
            click.echo(f"  metrics: http://{metrics.host}:{metrics.port}/metrics")
        click.echo(
            f"  fax gateway: {fax_settings.transport} line, webhooks on "
            f"http://{fax_settings.webhook_host}:{fax_settings.webhook_port}"
        )
        for bot in build_bots(app, fax_gateway):
            await bot.start()
            running.push_async_callback(bot.stop)
            click.echo(f"  bot {bot.account.user_id} on device {bot.client.device_id}")
        bridge = _bridge(app, fax_gateway)
        await bridge.start()
        running.push_async_callback(bridge.stop)
        click.echo(
            f"  fax bridge: @{PUPPET_PREFIX}<number>:{settings.homeserver.server_name} "
            f"(appservice on port {settings.bridge.port})"
        )
        await demo.rooms(app)
        click.echo("\n".join(_how_to_connect(app)))
        await stop.wait()
        _say("\nstopping the bridge, the bots and the fax gateway …")


def _listeners(app: AppContext) -> list[Listener]:
    """Every port `curbside up` will listen on, with the key that sets it."""
    settings = app.settings
    fax_settings = parse_fax_settings(settings.fax)
    listeners = [
        Listener(settings.bridge.port, "the fax bridge's appservice", "bridge.port"),
        Listener(fax_settings.webhook_port, "fax webhooks", "fax.webhook_port"),
    ]
    if settings.homeserver.mode == "embedded":
        listeners.insert(0, Listener(settings.homeserver.port, "the homeserver", "homeserver.url"))
    if settings.metrics.enabled:
        listeners.append(Listener(settings.metrics.port, "metrics", "metrics.port"))
    return listeners


def _preflight(app: AppContext, lock: InstanceLock) -> None:
    """Nothing of an earlier run still running here, and every port free."""
    lock.acquire()
    if app.settings.homeserver.mode == "embedded":
        check_no_homeserver(app.homeserver_layout().config_path)
    check_ports_free(_listeners(app))


def _interrupt(signum: int, _frame: object) -> None:
    """SIGTERM or SIGHUP while Synapse starts: unwind as Ctrl-C does, stopping it."""
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _say(text: str) -> None:
    """Print while stopping: a closed terminal (SIGHUP) must not stop the clean-up."""
    with contextlib.suppress(OSError):
        click.echo(text)


def _how_to_connect(app: AppContext) -> list[str]:
    """The screen a person reads when everything is up: where to connect, the demo."""
    settings = app.settings
    server = settings.homeserver.server_name
    lines = ["", "Curbside is up. Connect any Matrix client (Element, FluffyChat, …):",
             f"  homeserver:  {settings.homeserver.url}"]
    gatekeeper = settings.bot_user_id("gatekeeper")
    lines += demo.screen(app) or [
        f"  accounts:    curbside user add NAME, then verify with {gatekeeper} (!verify)",
        f"  fax someone: start a chat with @{PUPPET_PREFIX}<number>:{server} and send a PDF"]
    return [*lines, "Press Ctrl-C to stop."]


@click.command()
@click.option(
    "--verbose", is_flag=True, help="Also show the libraries' INFO lines (nio, aiohttp)."
)
@pass_app
def up(app: AppContext, verbose: bool) -> None:
    """Start the whole service in this process; Ctrl-C stops it cleanly.

    With `homeserver.mode: embedded` (the default) Synapse runs on loopback
    with SQLite under data_dir, and stops with this process however it ends
    (Ctrl-C, SIGTERM, a closed terminal, even SIGKILL). Bot accounts are
    created on first start and their devices are restored on every later one.

    Exit codes: 20 a port it needs is in use; 21 Curbside or a homeserver is
    already running on this data directory; 10-14 the fax bridge cannot start
    (docs/fax-bridge.md); 1 anything else.
    """
    settings = app.settings
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    logs = settings.data_dir / "logs"
    log_file = configure_logging(settings.logging.level, logs, verbose=verbose)
    lock = InstanceLock(settings.data_dir)
    try:
        _preflight(app, lock)
    except PreflightError as exc:
        click.echo(f"Error: {exc}", err=True)
        raise SystemExit(int(exc.code)) from None
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    click.echo(f"logs: {log_file}")
    app.cipher  # noqa: B018 - loads (or creates) the PHI keys and installs them
    threading.Thread(target=icd10.preload, name="icd10-preload", daemon=True).start()
    embedded = settings.homeserver.mode == "embedded"
    synapse = app.embedded_homeserver(verbose=verbose) if embedded else None
    try:
        if synapse is not None:
            click.echo(f"starting embedded Synapse on {synapse.url} …")
            synapse.start()
        asyncio.run(_serve(app))
    except KeyboardInterrupt:
        _say("\ninterrupted while starting")
    except HomeserverError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"could not start: {exc}") from None
    except BridgeStartupError as exc:
        click.echo(f"Error: the fax bridge cannot start: {exc}", err=True)
        raise SystemExit(int(exc.code)) from None
    finally:
        if synapse is not None:
            _say("stopping Synapse …")
            synapse.stop()
        lock.release()
        _say("stopped.")


async def _homeserver_versions(url: str) -> str:
    timeout = aiohttp.ClientTimeout(total=5)
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        http.get(f"{url}/_matrix/client/versions") as response,
    ):
        versions = (await response.json())["versions"]
        return str(versions[-1])


MIGRATE_HINT = "run `curbside init` to migrate it (your config is kept)"


def _database_status(engine: Engine) -> list[Behind]:
    """Print where the schema stands, without applying any migration."""
    behind = pending_branches(engine, migration_locations())
    if not behind:
        click.echo("database    at head")
        return behind
    for branch in behind:
        click.echo(
            f"database    {branch.branch}: behind, at {branch.current or 'no revision'}, "
            f"head is {branch.head}"
        )
    click.echo(f"            {MIGRATE_HINT}")
    return behind


def _bots_status(app: AppContext, engine: Engine) -> bool:
    """Print each bot's device and sync state; True when every bot has synced."""
    with session_scope(engine) as session:
        accounts = {a.user_id: a for a in session.scalars(select(MatrixAccount))}
    synced = True
    for name in BOTS:
        account = accounts.get(app.settings.bot_user_id(name))
        if account is None:
            click.echo(f"bot {name:<14} never started")
            synced = False
        elif account.sync_token is None:
            click.echo(f"bot {name:<14} device {account.device_id}, not synced yet")
            synced = False
        else:
            click.echo(f"bot {name:<14} device {account.device_id}, synced")
    return synced


def _bridge_status(app: AppContext) -> bool:
    port = app.settings.bridge.port
    if not app.appservice_registration_path.exists():
        click.echo("bridge      registration missing: run `curbside init`")
        return False
    if port_in_use(port):
        click.echo(f"bridge      appservice listening on port {port}")
        return True
    click.echo(f"bridge      appservice NOT listening on port {port} (is `curbside up` running?)")
    return False


def _fax_status(app: AppContext, engine: Engine) -> bool:
    fax_settings = parse_fax_settings(app.settings.fax)
    healthy = True
    port = fax_settings.webhook_port
    if port_in_use(port):
        click.echo(f"fax         {fax_settings.transport} line; webhooks listening on port {port}")
    else:
        click.echo(f"fax         {fax_settings.transport} line; webhooks NOT listening on port "
                   f"{port} (is `curbside up` running?)")
        healthy = False
    with session_scope(engine) as session:
        queue = queue_health(session, datetime.now(UTC))
    states = ", ".join(f"{count} {state}" for state, count in sorted(queue.by_state.items()))
    click.echo(f"fax queue   {queue.depth} job(s) not finished{f' ({states})' if states else ''}")
    if queue.stalled:
        click.echo(f"fax worker  {queue.stalled} due job(s) no worker has taken for over "
                   f"{int(STALL_AFTER.total_seconds() // 60)} min: is `curbside up` "
                   "(or `curbside fax worker`) running?")
        healthy = False
    return healthy


def _credentialing_status(app: AppContext, engine: Engine) -> bool:
    """The configured verifiers' room, else the one the gatekeeper made (``engine``: as
    found, never migrated)."""
    configured = app.settings.bots["gatekeeper"].options.get("verifiers_room")
    try:
        with session_scope(engine) as session:
            room = credentialing.room_of(session, configured)
    except SQLAlchemyError:  # the gatekeeper's tables are not there yet: status never migrates
        room = configured
    if room:
        click.echo(f"credentials verifiers' room {room}")
        return True
    click.echo("credentials no verifiers' room: !verify requests wait for one "
               "(`curbside verifiers add @user` and the gatekeeper makes it, or set "
               "bots.gatekeeper.options.verifiers_room; docs/verification.md)")
    return False


@click.command()
@pass_app
def status(app: AppContext) -> None:
    """Is the homeserver reachable, has each bot synced, is the DB at head?
    Is the fax bridge listening, are the fax webhooks up and the queue moving,
    is there a verifiers' (credentialing) room?

    Only reads: a database that is behind is reported (with the command that
    migrates it), never migrated here. Exits 1 if anything is not right.
    """
    settings = app.settings
    healthy = True
    try:
        version = asyncio.run(_homeserver_versions(settings.homeserver.url))
        click.echo(f"homeserver  {settings.homeserver.url}: reachable (spec {version})")
    except (OSError, aiohttp.ClientError, KeyError, ValueError) as exc:
        healthy = False
        click.echo(
            f"homeserver  {settings.homeserver.url}: NOT reachable ({exc or type(exc).__name__})"
        )
    engine = app.unmigrated_engine()
    try:
        behind = _database_status(engine)
        if any(branch.branch == KERNEL_BRANCH for branch in behind):
            # The bots' tables may not have the shape this code reads yet.
            click.echo("bots        not checked until the database is migrated")
            healthy = False
        else:
            healthy &= _bots_status(app, engine)
            healthy &= _fax_status(app, engine)
        healthy &= _bridge_status(app)
        healthy &= _credentialing_status(app, engine)
    finally:
        engine.dispose()
    if behind or not healthy:
        raise SystemExit(1)
