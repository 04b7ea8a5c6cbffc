"""A bare client-server API client: every reply keeps its HTTP status and errcode.

The policy suite asserts on the exact refusal (status, errcode, the module's
``org.curbside.rule``), which an SDK would turn into exceptions or objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp

from bots.gatekeeper.policy import RULE_FIELD

API = "/_matrix/client/v3"


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def errcode(self) -> str | None:
        return self.body.get("errcode")

    @property
    def rule(self) -> str | None:
        return self.body.get(RULE_FIELD)


def q(part: str) -> str:
    return quote(part, safe="")


@dataclass
class RawClient:
    http: aiohttp.ClientSession
    base_url: str
    user_id: str
    token: str

    @classmethod
    async def login(cls, http: aiohttp.ClientSession, base_url: str, user_id: str,
                    password: str) -> RawClient:
        body = {"type": "m.login.password", "password": password,
                "identifier": {"type": "m.id.user", "user": user_id}}
        async with http.post(f"{base_url}{API}/login", json=body) as response:
            payload = await response.json()
            assert response.status == 200, payload
        return cls(http, base_url, user_id, str(payload["access_token"]))

    async def call(self, method: str, path: str, body: Any = None) -> Reply:
        """``path`` under the client-server API, or from the root when it starts with
        ``/_`` (``/_synapse/admin/...``)."""
        prefix = "" if path.startswith("/_") else API
        async with self.http.request(
            method, f"{self.base_url}{prefix}{path}", json=body,
            headers={"Authorization": f"Bearer {self.token}"},
        ) as response:
            payload = await response.json(content_type=None)
            return Reply(response.status, payload if isinstance(payload, dict) else {})

    async def create_room(self, **body: Any) -> str:
        reply = await self.call("POST", "/createRoom", body)
        assert reply.status == 200, reply
        return str(reply.body["room_id"])

    async def invite(self, room_id: str, user_id: str) -> Reply:
        return await self.call("POST", f"/rooms/{q(room_id)}/invite", {"user_id": user_id})

    async def join(self, room_id: str) -> Reply:
        return await self.call("POST", f"/join/{q(room_id)}", {})

    async def put_state(self, room_id: str, event_type: str, content: dict[str, Any],
                        state_key: str = "") -> Reply:
        return await self.call(
            "PUT", f"/rooms/{q(room_id)}/state/{q(event_type)}/{q(state_key)}", content)

    async def get_state(self, room_id: str, event_type: str, state_key: str = "") -> Reply:
        return await self.call(
            "GET", f"/rooms/{q(room_id)}/state/{q(event_type)}/{q(state_key)}")

    async def membership(self, room_id: str, user_id: str) -> str | None:
        reply = await self.get_state(room_id, "m.room.member", user_id)
        return reply.body.get("membership") if reply.status == 200 else None
