"""The application-service API the homeserver calls (Matrix AS API v1).

    PUT  /_matrix/app/v1/transactions/{txnId} ─► hs_token? ─► one DB transaction:
             txn id + each event's routing facts ─► 200 {} ─► wake the handler
    GET  /_matrix/app/v1/users/{userId}       ─► a valid fax number? register the
             puppet ─► 200 {} (else 404)
    POST /_matrix/app/v1/ping                 ─► 200 {} (the start-up self-check)

The homeserver resends a transaction until it gets a 200, with the same id.
Recording the id and the event ids *before* answering makes a resend a no-op,
and handling happens afterwards, off the request path, from the recorded rows
(:class:`bridge.matrix.MatrixHandler`), so a slow puppet never holds up the
homeserver's queue.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from sqlalchemy import Engine

from bridge.store import BridgeStore
from curbside.database import session_scope

log = logging.getLogger(__name__)

PREFIX = "/_matrix/app/v1"


def _error(status: int, errcode: str, message: str) -> web.Response:
    return web.json_response({"errcode": errcode, "error": message}, status=status)


class AppserviceServer:
    """The HTTP side of the bridge; it only records and acknowledges."""

    def __init__(
        self,
        *,
        hs_token: str,
        engine: Engine,
        store: BridgeStore,
        on_events: Callable[[], None],
        user_exists: Callable[[str], Awaitable[bool]],
    ) -> None:
        self._hs_token = hs_token
        self._engine = engine
        self._store = store
        self._on_events = on_events
        self._user_exists = user_exists
        self._runner: web.AppRunner | None = None
        self.pings: list[str] = []  # transaction ids of pings received (start-up check)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._authenticate], client_max_size=64 * 1024 * 1024)
        app.router.add_put(PREFIX + "/transactions/{txn_id}", self._transaction)
        app.router.add_get(PREFIX + "/users/{user_id}", self._user)
        app.router.add_get(PREFIX + "/rooms/{alias}", self._room_alias)
        app.router.add_post(PREFIX + "/ping", self._ping)
        return app

    async def start(self, host: str, port: int) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @web.middleware
    async def _authenticate(
        self, request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        """The spec's answers: no token 401 M_UNAUTHORIZED, a wrong one 403 M_FORBIDDEN."""
        header = request.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else request.query.get("access_token")
        if not token:
            return _error(401, "M_UNAUTHORIZED", "missing hs_token")
        if not hmac.compare_digest(token.encode(), self._hs_token.encode()):
            return _error(403, "M_FORBIDDEN", "wrong hs_token")
        return await handler(request)

    async def _transaction(self, request: web.Request) -> web.Response:
        try:
            body: Any = await request.json()
        except ValueError:
            return _error(400, "M_NOT_JSON", "the transaction is not JSON")
        events = body.get("events") if isinstance(body, dict) else None
        if not isinstance(events, list):
            return _error(400, "M_BAD_JSON", "the transaction has no events list")
        txn_id = request.match_info["txn_id"]
        events = [e for e in events if isinstance(e, dict)]
        new = await asyncio.to_thread(self._record, txn_id, events)
        if new:
            self._on_events()
        else:
            log.info("transaction %s was already recorded; acknowledged again", txn_id)
        return web.json_response({})

    def _record(self, txn_id: str, events: list[dict[str, Any]]) -> bool:
        with session_scope(self._engine) as session:
            return self._store.record_transaction(session, txn_id, events)

    async def _user(self, request: web.Request) -> web.Response:
        if await self._user_exists(request.match_info["user_id"]):
            return web.json_response({})
        return _error(404, "M_NOT_FOUND", "not a fax number this bridge serves")

    async def _room_alias(self, request: web.Request) -> web.Response:
        return _error(404, "M_NOT_FOUND", "this bridge has no room aliases")

    async def _ping(self, request: web.Request) -> web.Response:
        try:
            body: Any = await request.json()
        except ValueError:
            body = {}
        txn_id = body.get("transaction_id") if isinstance(body, dict) else None
        if isinstance(txn_id, str):
            self.pings.append(txn_id)
        return web.json_response({})
