"""A bot's device, and a bridge puppet's, become cross-signed as other users see them.

Scenarios run against a real Synapse with real nio/vodozemac devices. What
the server returns is checked the way another user's client would check it:
through that user's own /keys/query, with every signature verified here
directly with canonicaljson and cryptography -- not with the code under test.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import nio
import pytest
import yaml
from canonicaljson import encode_canonical_json
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from curbside.homeserver import EmbeddedSynapse, HomeserverLayout, free_port
from curbside.matrix.cross_signing import (
    CrossSigningError,
    CrossSigningKeyMismatch,
    CrossSigningSeeds,
    ensure_cross_signed,
)

Login = Callable[[str, str], Awaitable[nio.AsyncClient]]


# --- independent verification helpers -------------------------------------------


def b64decode(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def assert_signed(obj: dict[str, Any], user_id: str, key_id: str, public_key: str) -> None:
    """Fail unless ``obj`` has a valid Ed25519 signature by ``public_key`` at ``key_id``."""
    signature = obj["signatures"][user_id][key_id]
    signed_part = {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
    Ed25519PublicKey.from_public_bytes(b64decode(public_key)).verify(
        b64decode(signature), encode_canonical_json(signed_part)
    )


def only_key(key_object: dict[str, Any]) -> tuple[str, str]:
    ((key_id, public_key),) = key_object["keys"].items()
    assert key_id == f"ed25519:{public_key}"
    return key_id, public_key


async def query_keys(url: str, token: str, user_id: str) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{url}/_matrix/client/v3/keys/query",
            json={"device_keys": {user_id: []}},
            headers={"Authorization": f"Bearer {token}"},
        ) as response,
    ):
        assert response.status == 200
        result: dict[str, Any] = await response.json()
        return result


def assert_device_cross_signed(
    keys: dict[str, Any], client: nio.AsyncClient, seeds: CrossSigningSeeds
) -> None:
    """The chain another user's client walks: master -> self-signing -> this device."""
    user_id, device_id = client.user_id, client.device_id
    master = keys["master_keys"][user_id]
    assert master["usage"] == ["master"]
    master_id, master_public = only_key(master)
    assert master_public == seeds.master_public_key

    self_signing = keys["self_signing_keys"][user_id]
    assert self_signing["usage"] == ["self_signing"]
    ssk_id, ssk_public = only_key(self_signing)
    assert ssk_public == seeds.self_signing_public_key
    assert_signed(self_signing, user_id, master_id, master_public)

    device = keys["device_keys"][user_id][device_id]
    device_ed25519 = client.olm.account.identity_keys["ed25519"]
    assert device["keys"][f"ed25519:{device_id}"] == device_ed25519
    assert_signed(device, user_id, f"ed25519:{device_id}", device_ed25519)  # its own, kept
    assert_signed(device, user_id, ssk_id, ssk_public)


# --- fixtures ------------------------------------------------------------------


@pytest.fixture
async def login(tmp_path: Path, homeserver: EmbeddedSynapse) -> AsyncIterator[Login]:
    """Log in fresh nio devices (each with its own store) and close them afterwards."""
    clients: list[nio.AsyncClient] = []

    async def _login(user_id: str, password: str) -> nio.AsyncClient:
        store = tmp_path / f"store{len(clients)}"
        store.mkdir()
        client = nio.AsyncClient(homeserver.url, user_id, store_path=str(store))
        clients.append(client)
        response = await client.login(password)
        assert isinstance(response, nio.LoginResponse), response
        return client

    yield _login
    for client in clients:
        await client.close()


@pytest.fixture
async def observer(homeserver: EmbeddedSynapse, login: Login, unique: str) -> nio.AsyncClient:
    """A second user, whose view of the bot's keys is what Element would see."""
    user_id = await homeserver.register_user(f"observer{unique}", "observer-pw")
    return await login(user_id, "observer-pw")


@pytest.fixture
async def bot(homeserver: EmbeddedSynapse, unique: str) -> str:
    return await homeserver.register_user(f"bot{unique}", "bot-pw")


# --- seeds ---------------------------------------------------------------------


def test_seeds_round_trip_and_stay_out_of_repr() -> None:
    seeds = CrossSigningSeeds.generate()
    assert CrossSigningSeeds.from_bytes(seeds.to_bytes()) == seeds
    assert len({seeds.master, seeds.self_signing, seeds.user_signing}) == 3
    assert repr(seeds) == "CrossSigningSeeds()"  # secrets never reach a log line
    with pytest.raises(ValueError):
        CrossSigningSeeds.from_bytes(seeds.to_bytes()[:-1])
    with pytest.raises(ValueError):
        CrossSigningSeeds(b"short", seeds.self_signing, seeds.user_signing)


def test_public_keys_are_ed25519_keys_in_unpadded_base64() -> None:
    # RFC 8032 section 7.1, TEST 1: a known seed and the public key it must give.
    seed = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    public = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    seeds = CrossSigningSeeds(seed, seed, seed)
    for key in (
        seeds.master_public_key,
        seeds.self_signing_public_key,
        seeds.user_signing_public_key,
    ):
        assert key == base64.b64encode(public).decode().rstrip("=")


async def test_a_client_that_is_not_logged_in_gets_a_clear_error(tmp_path: Path) -> None:
    client = nio.AsyncClient("http://127.0.0.1:9", "@bot:curbside.test", store_path=str(tmp_path))
    try:
        with pytest.raises(CrossSigningError, match="logged in"):
            await ensure_cross_signed(client, CrossSigningSeeds.generate(), password=None)
    finally:
        await client.close()


# --- against a real homeserver -------------------------------------------------


@pytest.mark.homeserver
async def test_bot_device_is_cross_signed_for_other_users(
    homeserver: EmbeddedSynapse, login: Login, observer: nio.AsyncClient, bot: str
) -> None:
    seeds = CrossSigningSeeds.generate()
    client = await login(bot, "bot-pw")

    status = await ensure_cross_signed(client, seeds, password=None)

    assert status.keys_uploaded and status.device_signed and not status.replaced_identity
    assert status.master_key == seeds.master_public_key
    keys = await query_keys(homeserver.url, observer.access_token, bot)
    assert_device_cross_signed(keys, client, seeds)
    # Only the owner sees its user-signing key and its devices' signatures of the
    # master key (Synapse filters both out of other users' answers).
    own = await query_keys(homeserver.url, client.access_token, bot)
    user_signing = own["user_signing_keys"][bot]
    assert only_key(user_signing)[1] == seeds.user_signing_public_key
    assert_signed(user_signing, bot, f"ed25519:{seeds.master_public_key}", seeds.master_public_key)
    device_key = client.olm.account.identity_keys["ed25519"]
    assert_signed(own["master_keys"][bot], bot, f"ed25519:{client.device_id}", device_key)


@pytest.mark.homeserver
async def test_calling_again_changes_nothing(
    homeserver: EmbeddedSynapse, login: Login, observer: nio.AsyncClient, bot: str
) -> None:
    seeds = CrossSigningSeeds.generate()
    client = await login(bot, "bot-pw")
    await ensure_cross_signed(client, seeds, password=None)
    before = await query_keys(homeserver.url, client.access_token, bot)

    status = await ensure_cross_signed(client, seeds, password=None)

    assert not status.keys_uploaded and not status.device_signed
    assert await query_keys(homeserver.url, client.access_token, bot) == before


@pytest.mark.homeserver
async def test_a_second_device_with_the_same_seeds_is_signed_too(
    homeserver: EmbeddedSynapse, login: Login, observer: nio.AsyncClient, bot: str
) -> None:
    seeds = CrossSigningSeeds.generate()
    first = await login(bot, "bot-pw")
    await ensure_cross_signed(first, seeds, password=None)
    # A restart restores the seeds from storage: exercise the serialised form.
    restored = CrossSigningSeeds.from_bytes(seeds.to_bytes())
    second = await login(bot, "bot-pw")

    status = await ensure_cross_signed(second, restored, password=None)

    assert status.device_signed and not status.keys_uploaded
    keys = await query_keys(homeserver.url, observer.access_token, bot)
    assert_device_cross_signed(keys, first, seeds)
    assert_device_cross_signed(keys, second, seeds)


@pytest.mark.homeserver
async def test_a_different_identity_is_replaced_only_with_the_password(
    homeserver: EmbeddedSynapse, login: Login, observer: nio.AsyncClient, bot: str
) -> None:
    original, replacement = CrossSigningSeeds.generate(), CrossSigningSeeds.generate()
    client = await login(bot, "bot-pw")
    await ensure_cross_signed(client, original, password=None)

    with pytest.raises(CrossSigningKeyMismatch, match="different cross-signing identity"):
        await ensure_cross_signed(client, replacement, password=None)
    with pytest.raises(CrossSigningError, match="401"):
        await ensure_cross_signed(client, replacement, password="wrong-pw")
    keys = await query_keys(homeserver.url, observer.access_token, bot)
    assert_device_cross_signed(keys, client, original)

    status = await ensure_cross_signed(client, replacement, password="bot-pw")

    assert status.replaced_identity and status.keys_uploaded and status.device_signed
    keys = await query_keys(homeserver.url, observer.access_token, bot)
    assert_device_cross_signed(keys, client, replacement)


# --- a bridge puppet (application-service user, no password) -------------------

AS_TOKEN = "as-" + secrets.token_urlsafe(16)


@pytest.fixture
def appservice_homeserver(tmp_path: Path) -> Iterator[EmbeddedSynapse]:
    """A Synapse of its own with a fax-bridge-like appservice owning @fax_*."""
    registration = tmp_path / "appservice.yaml"
    registration.write_text(
        yaml.safe_dump(
            {
                "id": "cross-signing-test",
                "url": None,
                "as_token": AS_TOKEN,
                "hs_token": "hs-" + secrets.token_urlsafe(16),
                "sender_localpart": "faxbridge",
                "rate_limited": False,
                "namespaces": {
                    "users": [{"exclusive": True, "regex": "@fax_.*:curbside.test"}],
                    "rooms": [],
                    "aliases": [],
                },
            }
        )
    )
    synapse = EmbeddedSynapse(
        HomeserverLayout(
            data_dir=tmp_path / "synapse",
            server_name="curbside.test",
            port=free_port(),
            registration_shared_secret=secrets.token_urlsafe(24),
            app_service_config_files=(registration,),
        )
    )
    synapse.start()
    yield synapse
    synapse.stop()


@pytest.mark.homeserver
async def test_appservice_puppet_is_cross_signed_without_a_password(
    appservice_homeserver: EmbeddedSynapse, tmp_path: Path
) -> None:
    url = appservice_homeserver.url
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{url}/_matrix/client/v3/register",
            json={"type": "m.login.application_service", "username": "fax_15551234567"},
            headers={"Authorization": f"Bearer {AS_TOKEN}"},
        ) as response,
    ):
        assert response.status == 200, await response.text()
        puppet_id = (await response.json())["user_id"]
    observer_id = await appservice_homeserver.register_user("observer", "observer-pw")
    (tmp_path / "puppet").mkdir()
    puppet = nio.AsyncClient(url, puppet_id, store_path=str(tmp_path / "puppet"))
    observer = nio.AsyncClient(url, observer_id)
    try:
        puppet.access_token = AS_TOKEN  # m.login.application_service authenticates with it
        login = await puppet.login_raw(
            {
                "type": "m.login.application_service",
                "identifier": {"type": "m.id.user", "user": puppet_id},
            }
        )
        assert isinstance(login, nio.LoginResponse), login
        assert isinstance(await observer.login("observer-pw"), nio.LoginResponse)
        seeds = CrossSigningSeeds.generate()

        status = await ensure_cross_signed(puppet, seeds, password=None)
        again = await ensure_cross_signed(puppet, seeds, password=None)

        assert status.keys_uploaded and status.device_signed
        assert not again.keys_uploaded and not again.device_signed
        keys = await query_keys(url, observer.access_token, puppet_id)
        assert_device_cross_signed(keys, puppet, seeds)
        with pytest.raises(CrossSigningKeyMismatch):
            await ensure_cross_signed(puppet, CrossSigningSeeds.generate(), password=None)
    finally:
        await puppet.close()
        await observer.close()
