"""Running the gateway: the outbox worker and the inbound webhooks, together.

`curbside up` runs this beside the bots; `curbside fax worker` runs it alone.
Both stop it by setting ``stop``; the webhook server is closed and the
gateway's transport released on the way out, whatever ended the run.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from fax_gateway.gateway import FaxSettings, Gateway


async def run_fax_service(
    gateway: Gateway, settings: FaxSettings, stop: asyncio.Event, worker_id: str, concurrency: int
) -> None:
    """Serve webhooks on the configured address and send queued faxes until ``stop``."""
    runner = web.AppRunner(gateway.webhook_app())
    await runner.setup()
    await web.TCPSite(runner, settings.webhook_host, settings.webhook_port).start()
    try:
        await gateway.worker(worker_id, batch=concurrency).run(stop)
    finally:
        await runner.cleanup()
        await gateway.close()
