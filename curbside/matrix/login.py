"""Log a bot in once; restore the same device on every later start.

    first start:  password login (appservice users: m.login.application_service)
                  ─► device id + access token (sealed) in DB
                  ─► upload device keys ─► cross-sign with fresh seeds (sealed)
    later starts: restore device from DB + nio store (pickle key) ─► whoami
                  ─► upload keys if nio says so ─► ensure cross-signed again

A stored token the homeserver no longer accepts is an error, not a reason to
log in again: a new device would lose the Olm identity other users trust and
every room key the bot holds.
"""

from __future__ import annotations

import logging

import nio
from sqlalchemy import Engine

from curbside.database import session_scope
from curbside.matrix.config import BotAccount, RuntimeConfig
from curbside.matrix.cross_signing import CrossSigningSeeds, ensure_cross_signed
from curbside.matrix.storage import RuntimeStore

log = logging.getLogger(__name__)


class LoginError(RuntimeError):
    """The bot cannot get onto its device; the message says what to do."""


def client_config(config: RuntimeConfig) -> nio.AsyncClientConfig:
    """nio settings: E2EE on, SQLite store under our pickle key, our own sync tokens.

    ``max_timeouts=0`` makes a connection error surface at once: the runtime's
    sync and outbox loops retry with their own backoff and stay cancellable.
    """
    return nio.AsyncClientConfig(
        encryption_enabled=True,
        store=nio.store.SqliteStore,
        store_name="nio.db",
        pickle_key=config.pickle_key,
        store_sync_tokens=False,
        max_timeouts=0,
    )


async def open_client(
    account: BotAccount, config: RuntimeConfig, store: RuntimeStore
) -> tuple[nio.AsyncClient, str | None]:
    """A logged-in, key-uploaded, cross-signed client and the stored sync token."""
    config.store_dir.mkdir(parents=True, exist_ok=True)
    engine = config.engine
    with session_scope(engine) as session:
        stored = store.load_login(session)
    if stored is None:
        client = await _first_login(account, config, store)
        sync_token = None
    else:
        client = nio.AsyncClient(
            config.homeserver_url,
            stored.user_id,
            device_id=stored.device_id,
            store_path=str(config.store_dir),
            config=client_config(config),
        )
        client.restore_login(stored.user_id, stored.device_id, stored.access_token)
        await _check_token(client)
        sync_token = stored.sync_token
    try:
        if client.should_upload_keys:
            uploaded = await client.keys_upload()
            if isinstance(uploaded, nio.KeysUploadError):
                raise LoginError(f"device key upload failed: {uploaded.message}")
        await ensure_cross_signed(
            client, _seeds(engine, store, stored.cross_signing_seeds if stored else None),
            password=account.password or None,
        )
    except BaseException:
        await client.close()
        raise
    return client, sync_token


async def _first_login(
    account: BotAccount, config: RuntimeConfig, store: RuntimeStore
) -> nio.AsyncClient:
    client = nio.AsyncClient(
        config.homeserver_url,
        account.user_id,
        store_path=str(config.store_dir),
        config=client_config(config),
    )
    response = await _login(client, account)
    if not isinstance(response, nio.LoginResponse):
        await client.close()
        raise LoginError(
            f"login as {account.user_id} failed ({response.message}); check the bot's "
            "password in the configuration and that the account exists"
        )
    with session_scope(config.engine) as session:
        store.save_login(session, response.device_id, response.access_token)
    await client.set_displayname(account.display_name)
    log.info("logged in as %s on new device %s", account.user_id, response.device_id)
    return client


async def _login(
    client: nio.AsyncClient, account: BotAccount
) -> nio.LoginResponse | nio.LoginError:
    """Password login, or ``m.login.application_service`` for an appservice user."""
    if account.appservice_token is None:
        return await client.login(account.password, device_name=account.display_name)
    client.access_token = account.appservice_token  # the appservice authenticates the login
    localpart = account.user_id[1:].split(":", 1)[0]
    return await client.login_raw(
        {
            "type": "m.login.application_service",
            "identifier": {"type": "m.id.user", "user": localpart},
            "initial_device_display_name": account.display_name,
        }
    )


async def _check_token(client: nio.AsyncClient) -> None:
    response = await client.whoami()
    if isinstance(response, nio.WhoamiError):
        await client.close()
        raise LoginError(
            f"the stored access token of {client.user_id} (device {client.device_id}) was "
            f"refused ({response.message}). The device was logged out on the homeserver; "
            "delete the bot's row in matrix_accounts and its store directory to log in as a "
            "new device (other users will have to trust it again)"
        )


def _seeds(engine: Engine, store: RuntimeStore, stored: bytes | None) -> CrossSigningSeeds:
    """The account's cross-signing seeds: generated once, then always the stored ones."""
    if stored is not None:
        return CrossSigningSeeds.from_bytes(stored)
    seeds = CrossSigningSeeds.generate()
    with session_scope(engine) as session:
        store.save_cross_signing_seeds(session, seeds.to_bytes())
    return seeds
