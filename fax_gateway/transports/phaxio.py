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
from aiohttp.http_exceptions import HttpProcessingError

from fax_gateway.content import UnsupportedContent, sniff_kind
from fax_gateway.probe import DocumentRefused
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
    digits = str(pages) if isinstance(pages, int | str) and not isinstance(pages, bool) else ""
    pages = int(digits) if digits.isdigit() and len(digits) <= 6 else None
    if status in _PENDING:
        return ProviderStatus(ProviderState.PENDING, pages)
    if status == "success":
        return ProviderStatus(ProviderState.DELIVERED, pages)
    error = str(fax.get("error_type") or "unknown error")[:200]
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


#: The ``fax`` parameter is a few hundred bytes; nesting deeper than this is not Phaxio.
MAX_FAX_FIELD_BYTES = 64 * 1024
MAX_JSON_DEPTH = 8
_FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
Fields = list[tuple[str, str]]
Files = list[tuple[str, bytes]]


class _Refusal(Exception):
    """A callback refused with ``status``; ``reason`` goes to the caller and the audit row."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of parsed JSON, stopping once past ``limit`` (iterative: no recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if deepest > limit:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


def parse_fax_field(raw: str) -> dict[str, Any]:
    """The callback's ``fax`` JSON object, or :class:`_Refusal` (400/413) saying what is wrong."""
    if len(raw) > MAX_FAX_FIELD_BYTES:
        raise _Refusal(413, "the fax parameter is larger than any fax object")
    try:
        fax = json.loads(raw)
    except (ValueError, RecursionError):
        raise _Refusal(400, "the fax parameter is not JSON") from None
    if not isinstance(fax, dict) or _depth(fax, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise _Refusal(400, "the fax parameter is not a fax object")
    fax_id = fax.get("id")
    if isinstance(fax_id, bool) or not isinstance(fax_id, int | str) or not str(fax_id).isdigit() \
            or len(str(fax_id)) > 20:
        raise _Refusal(400, "the fax object has no numeric id")
    return fax


def _number_field(fax: dict[str, Any], name: str, *, required: bool) -> str | None:
    value = fax.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= 32 or not value.isprintable():
        raise _Refusal(422, f"{name} must be a phone number string")
    return value


class _CallbackHandler:
    """One Phaxio callback: verify, then either a status change or a new fax.

    Every refusal is a 4xx and is audited (the gateway rate-limits the audit
    rows); nothing is stored before the whole callback has been validated,
    and the inbox removes its files if its commit fails.
    """

    def __init__(self, transport: PhaxioTransport, receiver: Receiver) -> None:
        self._transport = transport
        self._receiver = receiver

    async def handle(self, request: web.Request) -> web.Response:
        try:
            return await self._handle(request)
        except _Refusal as refusal:
            await self._receiver.webhook_rejected(self._transport.name, refusal.reason)
            return web.json_response(
                {"success": False, "message": refusal.reason}, status=refusal.status
            )

    async def _form(self, request: web.Request) -> tuple[Fields, Files]:
        if request.content_type not in _FORM_TYPES:
            raise _Refusal(415, "a Phaxio callback is a multipart form")
        try:
            form = await request.post()
        except web.HTTPException as exc:  # 413 from the body limit
            raise _Refusal(exc.status, exc.reason) from None
        except (ValueError, LookupError, RuntimeError, HttpProcessingError):
            # What aiohttp's multipart reader raises on a broken body: a missing
            # boundary or name, EOF mid-part (ValueError), an unknown charset
            # (LookupError) or transfer encoding (RuntimeError), a bad part header.
            raise _Refusal(400, "the multipart body is malformed") from None
        fields: list[tuple[str, str]] = []
        files: list[tuple[str, bytes]] = []
        for name, value in form.items():
            if isinstance(value, web.FileField):
                files.append((name, value.file.read()))
            else:
                fields.append((name, str(value)))
        return fields, files

    async def _handle(self, request: web.Request) -> web.Response:
        fields, files = await self._form(request)
        given = request.headers.get(SIGNATURE_HEADER)
        if not given:
            raise _Refusal(401, "missing X-Phaxio-Signature")
        config = self._transport.config
        expected = phaxio_signature(config.callback_token, config.callback_url, fields, files)
        # Compared as bytes: a non-ASCII header must fail the comparison, not raise.
        offered = given.strip().lower().encode("utf-8", "replace")
        if not hmac.compare_digest(expected.encode(), offered):
            raise _Refusal(403, "wrong signature")
        values = dict(fields)
        fax = parse_fax_field(values.get("fax", ""))
        fax_id = str(fax["id"])
        direction = values.get("direction") or fax.get("direction")
        if direction == "sent":
            await self._receiver.status_changed(self._transport.name, fax_id, status_from_fax(fax))
            return web.json_response({"success": True})
        if direction != "received":
            raise _Refusal(400, "direction must be 'sent' or 'received'")
        content = dict(files).get("file")
        if content is None:
            raise _Refusal(400, "a received-fax callback must carry the file part")
        try:
            received = ReceivedFax(
                transport=self._transport.name,
                provider_fax_id=fax_id,
                from_number=_number_field(fax, "from_number", required=False),
                to_number=_number_field(fax, "to_number", required=True) or "",
                content=content,
                kind=sniff_kind(content),
            )
            await self._receiver.fax_received(received)
        except UnsupportedContent as exc:
            raise _Refusal(415, str(exc)) from None
        except DocumentRefused as refused:
            raise _Refusal(refused.status, refused.reason) from None
        return web.json_response({"success": True})
