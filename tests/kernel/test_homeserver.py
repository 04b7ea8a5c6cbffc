"""The embedded homeserver starts, registers users, and survives a restart."""

from __future__ import annotations

import aiohttp
import pytest

from curbside.homeserver import EmbeddedSynapse, HomeserverError


async def _whoami(url: str, user: str, password: str) -> str:
    async with aiohttp.ClientSession() as http:
        login = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": user},
            "password": password,
        }
        async with http.post(f"{url}/_matrix/client/v3/login", json=login) as response:
            token = (await response.json())["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        async with http.get(f"{url}/_matrix/client/v3/account/whoami", headers=headers) as response:
            return str((await response.json())["user_id"])


async def test_registered_user_can_log_in(homeserver: EmbeddedSynapse, unique: str) -> None:
    user_id = await homeserver.register_user(f"dana{unique}", "pw-" + unique)
    assert user_id == f"@dana{unique}:curbside.test"
    assert await _whoami(homeserver.url, f"dana{unique}", "pw-" + unique) == user_id


async def test_registering_twice_names_the_account(
    homeserver: EmbeddedSynapse, unique: str
) -> None:
    await homeserver.register_user(f"lee{unique}", "pw")
    with pytest.raises(HomeserverError, match=f"lee{unique}"):
        await homeserver.register_user(f"lee{unique}", "pw")


async def test_state_survives_restart(private_homeserver: EmbeddedSynapse, unique: str) -> None:
    await private_homeserver.register_user(f"kim{unique}", "pw")
    private_homeserver.restart()
    assert (
        await _whoami(private_homeserver.url, f"kim{unique}", "pw") == f"@kim{unique}:curbside.test"
    )
