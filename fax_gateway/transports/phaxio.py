"""Phaxio API v2.1: send by file upload, poll, and take callbacks.

    submit:  POST {base}/faxes   multipart: to, file[] (the PDF), callback_url,
             tag[curbside_job], tag[curbside_attempt]      -> data.id
    find:    GET  {base}/faxes?direction=sent&tag[curbside_attempt]=KEY
    poll:    GET  {base}/faxes/{id}  -> data.status: queued | pendingbatch |
             inprogress (pending), success, failure, partialsuccess
    webhook: POST {callback_url}  multipart form, signed (X-Phaxio-Signature)
             direction=sent      -> status change of one of our faxes
             direction=received  -> an inbound fax, PDF in the file part "file"

Phaxio has no idempotency key for sends, so the attempt key travels as a
tag and ``find`` looks it up: an attempt that timed out but was accepted is
adopted instead of being sent twice. Answers are ``{"success", "message",
"data"}``; 5xx, 429, 401/403 (credentials can be fixed), timeouts and
connection errors are temporary, other 4xx refuse the fax itself.

The callback signature follows Phaxio's "Verifying callback requests": the
callback URL exactly as submitted, then every POST parameter sorted by name
as name+value, then every file part sorted by name as name + SHA-1 hex of its
contents; HMAC-SHA1 of that string keyed with the callback token, hex.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from fax_gateway.content import UnsupportedContent, sniff_kind
from fax_gateway.transports.base import (
    OutboundFax,
    PermanentTransportError,
    ProviderState,
    ProviderStatus,
    ReceivedFax,
    Receiver,
    TemporaryTransportError,
    Transport,
)

SIGNATURE_HEADER = "X-Phaxio-Signature"
_PENDING = {"queued", "pendingbatch", "inprogress"}


def phaxio_signature(
    token: str, url: str, fields: Iterable[tuple[str, str]], files: Iterable[tuple[str, bytes]]
) -> str:
    """The X-Phaxio-Signature value for a callback (see the module docstring)."""
    parts = [url]
    parts += [name + value for name, value in sorted(fields, key=lambda item: item[0])]
    parts += [
        name + hashlib.sha1(content).hexdigest()
        for name, content in sorted(files, key=lambda item: item[0])
    ]
    return hmac.new(token.encode(), "".join(parts).encode(), hashlib.sha1).hexdigest()


@dataclass(frozen=True)
class PhaxioConfig:
    api_key: str
    api_secret: str
    callback_token: str
    #: The public URL Phaxio calls back, exactly as it is sent to Phaxio.
    callback_url: str
    base_url: str = "https://api.phaxio.com/v2.1"
    request_timeout: float = 30.0


def status_from_fax(fax: dict[str, Any]) -> ProviderStatus:
    """Map a Phaxio fax object to our provider status (no PHI in reasons)."""
    status = str(fax.get("status", ""))
    pages = fax.get("num_pages")
    pages = int(pages) if isinstance(pages, int | str) and str(pages).isdigit() else None
    if status in _PENDING:
        return ProviderStatus(ProviderState.PENDING, pages)
    if status == "success":
        return ProviderStatus(ProviderState.DELIVERED, pages)
    error = str(fax.get("error_type") or "unknown error")
    if status == "partialsuccess":
        return ProviderStatus(
            ProviderState.FAILED, pages, reason=f"partial delivery ({error})", retryable=False
        )
    return ProviderStatus(ProviderState.FAILED, pages, reason=f"provider: {error}")


class PhaxioTransport(Transport):
    name = "phaxio"
    needs_tiff = False

    def __init__(self, config: PhaxioConfig) -> None:
        self.config = config
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers={
                    "Authorization": aiohttp.encode_basic_auth(
                        self.config.api_key, self.config.api_secret
                    )
                },
                timeout=aiohttp.ClientTimeout(total=self.config.request_timeout),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        url = self.config.base_url.rstrip("/") + path
        try:
            async with self._http().request(method, url, **kwargs) as response:
                text = await response.text()
                status = response.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise TemporaryTransportError(f"Phaxio unreachable ({type(exc).__name__})") from None
        try:
            body = json.loads(text)
        except ValueError:
            body = {}
        message = str(body.get("message", "")) if isinstance(body, dict) else ""
        if status >= 500 or status in (401, 403, 429):
            raise TemporaryTransportError(f"Phaxio answered {status}: {message}")
        if status >= 400 or not isinstance(body, dict) or not body.get("success"):
            raise PermanentTransportError(f"Phaxio answered {status}: {message}")
        return body.get("data")

    async def submit(self, fax: OutboundFax) -> str:
        form = aiohttp.FormData()
        form.add_field("to", fax.to_number)
        form.add_field(
            "file[]", fax.pdf_path.read_bytes(), filename="fax.pdf", content_type="application/pdf"
        )
        form.add_field("callback_url", self.config.callback_url)
        form.add_field("tag[curbside_job]", fax.job_id)
        form.add_field("tag[curbside_attempt]", fax.attempt_key)
        data = await self._call("POST", "/faxes", data=form)
        if not isinstance(data, dict) or "id" not in data:
            raise TemporaryTransportError("Phaxio accepted the fax but returned no id")
        return str(data["id"])

    async def find(self, attempt_key: str) -> str | None:
        params = {"direction": "sent", "tag[curbside_attempt]": attempt_key}
        data = await self._call("GET", "/faxes", params=params)
        faxes = data if isinstance(data, list) else []
        return str(faxes[0]["id"]) if faxes else None

    async def poll(self, provider_id: str) -> ProviderStatus:
        data = await self._call("GET", f"/faxes/{provider_id}")
        if not isinstance(data, dict):
            raise TemporaryTransportError("Phaxio returned no fax object")
        return status_from_fax(data)

    def webhook_routes(self, receiver: Receiver) -> list[web.RouteDef]:
        path = urlsplit(self.config.callback_url).path or "/"
        return [web.post(path, _CallbackHandler(self, receiver).handle)]


class _CallbackHandler:
    """One Phaxio callback: verify, then either a status change or a new fax."""

    def __init__(self, transport: PhaxioTransport, receiver: Receiver) -> None:
        self._transport = transport
        self._receiver = receiver

    async def handle(self, request: web.Request) -> web.Response:
        form = await request.post()
        fields: list[tuple[str, str]] = []
        files: list[tuple[str, bytes]] = []
        for name, value in form.items():
            if isinstance(value, web.FileField):
                files.append((name, value.file.read()))
            else:
                fields.append((name, str(value)))
        given = request.headers.get(SIGNATURE_HEADER)
        if not given:
            await self._receiver.webhook_rejected(self._transport.name, "missing signature")
            raise web.HTTPUnauthorized(text="missing X-Phaxio-Signature")
        config = self._transport.config
        expected = phaxio_signature(config.callback_token, config.callback_url, fields, files)
        if not hmac.compare_digest(expected, given.strip().lower()):
            await self._receiver.webhook_rejected(self._transport.name, "wrong signature")
            raise web.HTTPForbidden(text="signature does not match")
        values = dict(fields)
        try:
            fax = json.loads(values.get("fax", ""))
            fax_id = str(fax["id"])
        except (ValueError, KeyError, TypeError):
            raise web.HTTPBadRequest(
                text="the fax parameter is missing or not a fax object"
            ) from None
        direction = values.get("direction") or fax.get("direction")
        if direction == "sent":
            await self._receiver.status_changed(self._transport.name, fax_id, status_from_fax(fax))
            return web.json_response({"success": True})
        if direction != "received":
            raise web.HTTPBadRequest(text="direction must be 'sent' or 'received'")
        content = dict(files).get("file")
        if content is None:
            raise web.HTTPBadRequest(text="a received-fax callback must carry the file part")
        try:
            received = ReceivedFax(
                transport=self._transport.name,
                provider_fax_id=fax_id,
                from_number=fax.get("from_number"),
                to_number=str(fax.get("to_number") or ""),
                content=content,
                kind=sniff_kind(content),
            )
            await self._receiver.fax_received(received)
        except UnsupportedContent as exc:
            raise web.HTTPUnsupportedMediaType(text=str(exc)) from None
        return web.json_response({"success": True})
