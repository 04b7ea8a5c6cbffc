"""The webhook server: one aiohttp app carrying every transport's routes.

Each transport declares its own routes (``Transport.webhook_routes``) and
checks its provider's signature before anything is stored; this module adds
what is common to all of them: a body larger than ``max_body`` is refused
with 413 before it is read (by Content-Length) or while it is read (aiohttp's
``client_max_size``, for chunked bodies), and either way the refusal is
audited (``Receiver.webhook_rejected``, rate-limited by the gateway).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from aiohttp.typedefs import Middleware

from fax_gateway.transports.base import Receiver, Transport

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _size_guard(max_body: int, receiver: Receiver) -> Middleware:
    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.content_length is not None and request.content_length > max_body:
            await receiver.webhook_rejected("webhook", f"body over {max_body} bytes")
            raise web.HTTPRequestEntityTooLarge(
                max_size=max_body, actual_size=request.content_length
            )
        return await handler(request)

    return guard


def build_webhook_app(
    transports: Sequence[Transport], receiver: Receiver, *, max_body: int
) -> web.Application:
    """The app to serve on the public webhook address."""
    app = web.Application(client_max_size=max_body, middlewares=[_size_guard(max_body, receiver)])
    for transport in transports:
        app.add_routes(transport.webhook_routes(receiver))
    return app
