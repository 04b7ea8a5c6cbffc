"""The few client-server calls the bridge makes as the application service itself.

* :meth:`AppserviceClient.ping` — ``POST /_matrix/client/v1/appservice/{id}/ping``:
  the homeserver calls our ``/ping`` back, which proves in one round trip that
  the registration is installed, both tokens match and each side reaches the
  other. Every failure is mapped to the cause an operator can fix.
* :meth:`AppserviceClient.ensure_user` — register a namespace user (puppet or
  bridge bot) with ``m.login.application_service``; "already there" is fine.
* :meth:`AppserviceClient.room_state` — a room's state as the bridge bot sees
  it (membership and power levels for ``!fax assign``).
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote

import aiohttp

from bridge.errors import BridgeStartupError, ExitCode
from curbside.matrix.offloop import MainLoop

_TIMEOUT = aiohttp.ClientTimeout(total=30)


class AppserviceClient:
    def __init__(self, homeserver_url: str, as_token: str, appservice_id: str) -> None:
        self._url = homeserver_url.rstrip("/")
        self._as_token = as_token
        self._appservice_id = appservice_id
        self._http: aiohttp.ClientSession | None = None
        # Set by the bridge at start: requests from a handler thread run there,
        # where the HTTP session lives.
        self.main: MainLoop | None = None

    def _main_elsewhere(self) -> MainLoop | None:
        """The bridge's loop, when called from another thread (a puppet's handler)."""
        main = self.main
        return main if main is not None and not main.here else None

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(
                timeout=_TIMEOUT, headers={"Authorization": f"Bearer {self._as_token}"}
            )
        return self._http

    async def _post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if (main := self._main_elsewhere()) is not None:
            return await main.run(self._post(path, body))
        async with self._session().post(self._url + path, json=body) as response:
            try:
                data = await response.json(content_type=None)
            except ValueError:
                data = {}
            return response.status, data if isinstance(data, dict) else {}

    async def ping(self) -> str:
        """Round-trip through the homeserver to our own /ping; returns the txn id used."""
        txn_id = "startup-" + secrets.token_hex(8)
        path = f"/_matrix/client/v1/appservice/{quote(self._appservice_id, safe='')}/ping"
        try:
            status, body = await self._post(path, {"transaction_id": txn_id})
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise BridgeStartupError(
                ExitCode.HOMESERVER_UNREACHABLE,
                f"cannot reach the homeserver at {self._url} ({exc.__class__.__name__}). "
                "Is it running, and is homeserver.url right?",
            ) from None
        if status == 200:
            return txn_id
        raise _ping_error(status, body, self._appservice_id)

    async def ensure_user(self, localpart: str) -> None:
        """Register ``localpart`` as an appservice user unless it already exists."""
        status, body = await self._post(
            "/_matrix/client/v3/register",
            {"type": "m.login.application_service", "username": localpart,
             "inhibit_login": True},
        )
        if status == 200 or body.get("errcode") == "M_USER_IN_USE":
            return
        raise RuntimeError(
            f"registering @{localpart} failed: {status} {body.get('errcode')} {body.get('error')}"
        )

    async def _get(self, path: str) -> tuple[int, dict[str, Any]]:
        if (main := self._main_elsewhere()) is not None:
            return await main.run(self._get(path))
        async with self._session().get(self._url + path) as response:
            try:
                data = await response.json(content_type=None)
            except ValueError:
                data = {}
            return response.status, data if isinstance(data, dict) else {}

    async def room_state(self, room_id: str, event_type: str, state_key: str = "", *,
                         whole_event: bool = False) -> tuple[int, dict[str, Any]]:
        """One state event (its content, or all of it), read as the bridge bot, which
        must be in the room."""
        path = (f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}/state/"
                f"{quote(event_type, safe='')}/{quote(state_key, safe='')}")
        return await self._get(path + ("?format=event" if whole_event else ""))

    async def join(self, room_id: str) -> str | None:
        """Join as the bridge bot; an error text or None."""
        status, body = await self._post(f"/_matrix/client/v3/join/{quote(room_id, safe='')}", {})
        return None if status == 200 else f"{body.get('errcode')}: {body.get('error')}"

    async def invite(self, room_id: str, user_id: str) -> str | None:
        """Invite ``user_id`` as the bridge bot; an error text or None."""
        status, body = await self._post(
            f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}/invite", {"user_id": user_id}
        )
        return None if status == 200 else f"{body.get('errcode')}: {body.get('error')}"


def _ping_error(status: int, body: dict[str, Any], appservice_id: str) -> BridgeStartupError:
    errcode = body.get("errcode")
    detail = str(body.get("error", ""))
    if errcode in ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN") or status == 401:
        return BridgeStartupError(
            ExitCode.REGISTRATION_NOT_INSTALLED,
            "the homeserver does not know this bridge's as_token: the registration file "
            "(data/appservice-fax.yaml) is not listed under app_service_config_files, or "
            "bridge.as_token differs from the file's. Install it and restart the homeserver.",
        )
    if errcode == "M_FORBIDDEN":
        return BridgeStartupError(
            ExitCode.REGISTRATION_NOT_INSTALLED,
            f"the homeserver refused the ping for appservice id {appservice_id!r}: the "
            "installed registration has another id or another as_token. Re-run "
            f"`curbside init` and restart the homeserver. ({detail})",
        )
    if errcode == "M_BAD_STATUS" and body.get("status") in (401, 403):
        return BridgeStartupError(
            ExitCode.HS_TOKEN_MISMATCH,
            "the homeserver reached the bridge but with a different hs_token: the installed "
            "registration is older than bridge.hs_token. Re-install data/appservice-fax.yaml "
            "and restart the homeserver.",
        )
    if errcode in ("M_CONNECTION_FAILED", "M_CONNECTION_TIMEOUT", "M_BAD_STATUS", "M_URL_NOT_SET"):
        return BridgeStartupError(
            ExitCode.BRIDGE_UNREACHABLE,
            "the homeserver cannot reach the bridge at the registration's url "
            f"({errcode}: {detail}). Check bridge.port and that the registration's url points "
            "at this process.",
        )
    return BridgeStartupError(
        ExitCode.HOMESERVER_UNREACHABLE,
        f"the homeserver answered the ping with {status} {errcode}: {detail}",
    )
