"""A local stand-in for Phaxio API v2.1, written from Phaxio's documentation.

    POST /v2.1/faxes          multipart: to, file[], callback_url, tag[NAME]
                              -> {"success": true, "message": "Fax queued for sending",
                                  "data": {"id": N}}
    GET  /v2.1/faxes/{id}     -> {"success": true, "message": ..., "data": <fax object>}
    GET  /v2.1/faxes          filters: direction, tag[NAME] -> data: [<fax object>, ...]

Requests authenticate with HTTP basic auth (API key, API secret). A fax goes
queued -> inprogress -> its outcome (success, failure or partialsuccess) as
time passes. Callbacks are multipart POSTs signed as Phaxio documents
("Verifying callback requests"): the URL, then POST parameters sorted by
name as name+value, then file parts sorted by name as name + SHA-1 hex of
the contents, HMAC-SHA1 keyed with the callback token. This signing code is
written separately from the gateway's verifier on purpose, so a mistake in
one is caught by the other.

Fault injection (seeded, so a failing run can be replayed): a share of
requests answers 5xx without doing anything, answers 5xx *after* accepting
the fax, or accepts it and then never answers in time (the client times
out). Everything received is counted, so tests can prove that no fax was
transmitted twice.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


@dataclass
class Faults:
    """Shares of requests (0..1) that misbehave, and of faxes that fail."""

    error_before: float = 0.0  # 5xx, nothing done
    error_after: float = 0.0  # send accepted, then 5xx
    timeout: float = 0.0  # send accepted (or poll answered) too late for the client
    hang_seconds: float = 2.0
    fax_failure: float = 0.0  # the transmission fails (status failure)
    fax_partial: float = 0.0  # some pages delivered (status partialsuccess)
    seed: int = 1


@dataclass
class StandInFax:
    id: int
    to: str
    tags: dict[str, str]
    file_sha1: str
    created: float
    outcome: str
    callback_url: str | None


@dataclass
class PhaxioStandIn:
    api_key: str
    api_secret: str
    callback_token: str
    faults: Faults = field(default_factory=Faults)
    complete_after: float = 0.05
    faxes: dict[int, StandInFax] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.faults.seed)
        self._next_id = 1000

    # -- the HTTP API -------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.add_routes(
            [
                web.post("/v2.1/faxes", self._create),
                web.get("/v2.1/faxes", self._list),
                web.get("/v2.1/faxes/{id}", self._get),
            ]
        )
        return app

    def _authorised(self, request: web.Request) -> bool:
        expected = (
            "Basic " + base64.b64encode(f"{self.api_key}:{self.api_secret}".encode()).decode()
        )
        return hmac.compare_digest(request.headers.get("Authorization", ""), expected)

    @staticmethod
    def _answer(status: int, success: bool, message: str, data: object = None) -> web.Response:
        body: dict[str, object] = {"success": success, "message": message}
        if data is not None:
            body["data"] = data
        return web.json_response(body, status=status)

    def _roll(self) -> str:
        r = self._rng.random()
        f = self.faults
        if r < f.error_before:
            return "error_before"
        if r < f.error_before + f.error_after:
            return "error_after"
        if r < f.error_before + f.error_after + f.timeout:
            return "timeout"
        return "ok"

    async def _create(self, request: web.Request) -> web.Response:
        self.counts["create_requests"] += 1
        if not self._authorised(request):
            return self._answer(401, False, "You must provide API credentials for this operation")
        fault = self._roll()
        if fault == "error_before":
            self.counts["injected_5xx"] += 1
            return self._answer(500, False, "Internal server error")
        form = await request.post()
        to = str(form.get("to", ""))
        upload = form.get("file[]")
        if not _E164.match(to):
            return self._answer(422, False, "Invalid phone number")
        if not isinstance(upload, web.FileField):
            return self._answer(422, False, "You must include a file or content_url")
        tags = {
            key[4:-1]: str(value)
            for key, value in form.items()
            if key.startswith("tag[") and key.endswith("]")
        }
        roll = self._rng.random()
        outcome = (
            "failure"
            if roll < self.faults.fax_failure
            else "partialsuccess"
            if roll < self.faults.fax_failure + self.faults.fax_partial
            else "success"
        )
        self._next_id += 1
        fax = StandInFax(
            id=self._next_id,
            to=to,
            tags=tags,
            file_sha1=hashlib.sha1(upload.file.read()).hexdigest(),
            created=time.monotonic(),
            outcome=outcome,
            callback_url=str(form["callback_url"]) if "callback_url" in form else None,
        )
        self.faxes[fax.id] = fax
        self.counts["accepted"] += 1
        if fault == "error_after":
            self.counts["injected_5xx"] += 1
            return self._answer(503, False, "Service unavailable")
        if fault == "timeout":
            self.counts["injected_timeouts"] += 1
            await asyncio.sleep(self.faults.hang_seconds)
        return self._answer(200, True, "Fax queued for sending", {"id": fax.id})

    async def _get(self, request: web.Request) -> web.Response:
        self.counts["get_requests"] += 1
        if not self._authorised(request):
            return self._answer(401, False, "You must provide API credentials for this operation")
        fault = self._roll()
        if fault in ("error_before", "error_after"):
            self.counts["injected_5xx"] += 1
            return self._answer(502, False, "Bad gateway")
        if fault == "timeout":
            self.counts["injected_timeouts"] += 1
            await asyncio.sleep(self.faults.hang_seconds)
        fax = self.faxes.get(int(request.match_info["id"]))
        if fax is None:
            return self._answer(404, False, "Fax not found")
        return self._answer(200, True, "Retrieved fax successfully", self.fax_object(fax))

    async def _list(self, request: web.Request) -> web.Response:
        self.counts["list_requests"] += 1
        if not self._authorised(request):
            return self._answer(401, False, "You must provide API credentials for this operation")
        fault = self._roll()
        if fault in ("error_before", "error_after"):
            self.counts["injected_5xx"] += 1
            return self._answer(500, False, "Internal server error")
        if fault == "timeout":
            self.counts["injected_timeouts"] += 1
            await asyncio.sleep(self.faults.hang_seconds)
        wanted = {
            key[4:-1]: value
            for key, value in request.query.items()
            if key.startswith("tag[") and key.endswith("]")
        }
        direction = request.query.get("direction", "sent")
        found = [
            self.fax_object(fax)
            for fax in self.faxes.values()
            if direction == "sent" and all(fax.tags.get(k) == v for k, v in wanted.items())
        ]
        return self._answer(200, True, "Retrieved faxes successfully", found)

    # -- fax objects and their life -------------------------------------------------

    def status_of(self, fax: StandInFax) -> str:
        age = time.monotonic() - fax.created
        if age < self.complete_after / 2:
            return "queued"
        if age < self.complete_after:
            return "inprogress"
        return fax.outcome

    def fax_object(self, fax: StandInFax) -> dict[str, object]:
        status = self.status_of(fax)
        failed = status in ("failure", "partialsuccess")
        return {
            "id": fax.id,
            "direction": "sent",
            "num_pages": 1,
            "status": status,
            "is_test": True,
            "tags": fax.tags,
            "recipients": [{"phone_number": fax.to, "status": status}],
            "error_type": "lineError" if failed else None,
            "error_message": "Line error" if failed else None,
        }

    def successful_transmissions(self, tag: str, value: str) -> int:
        """Faxes carrying ``tag=value`` that reached (or will reach) success."""
        return sum(
            1
            for fax in self.faxes.values()
            if fax.tags.get(tag) == value and fax.outcome == "success"
        )

    # -- callbacks --------------------------------------------------------------------

    def sign(self, url: str, fields: dict[str, str], files: dict[str, bytes]) -> str:
        text = url
        for name in sorted(fields):
            text += name + fields[name]
        for name in sorted(files):
            text += name + hashlib.sha1(files[name]).hexdigest()
        return hmac.new(self.callback_token.encode(), text.encode(), hashlib.sha1).hexdigest()

    def sent_callback(self, fax: StandInFax) -> tuple[dict[str, str], dict[str, bytes]]:
        """The fields of a send callback for ``fax`` in its current status."""
        obj = self.fax_object(fax)
        fields = {
            "success": "true" if obj["status"] == "success" else "false",
            "is_test": "true",
            "direction": "sent",
            "fax": json.dumps(obj),
        }
        return fields, {}

    def received_callback(
        self, fax_id: int, to_number: str, from_number: str, content: bytes
    ) -> tuple[dict[str, str], dict[str, bytes]]:
        """The fields and file of a receive callback (PDF in the part "file")."""
        obj = {
            "id": fax_id,
            "direction": "received",
            "num_pages": 1,
            "status": "success",
            "is_test": True,
            "from_number": from_number,
            "to_number": to_number,
        }
        fields = {"direction": "received", "is_test": "true", "fax": json.dumps(obj)}
        return fields, {"file": content}

    async def post_callback(
        self,
        url: str,
        fields: dict[str, str],
        files: dict[str, bytes],
        *,
        signature: str | None = "sign",
    ) -> tuple[int, str]:
        """POST a callback to ``url`` as Phaxio would; ``signature`` None omits the header."""
        form = aiohttp.FormData()
        for name, value in fields.items():
            form.add_field(name, value)
        for name, content in files.items():
            form.add_field(name, content, filename=f"{name}.pdf", content_type="application/pdf")
        headers = {}
        if signature == "sign":
            headers["X-Phaxio-Signature"] = self.sign(url, fields, files)
        elif signature is not None:
            headers["X-Phaxio-Signature"] = signature
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, data=form, headers=headers) as response,
        ):
            return response.status, await response.text()
