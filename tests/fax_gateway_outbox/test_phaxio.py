"""Phaxio v2.1 against the local stand-in: sending, callbacks and webhook security.

Every refused webhook call leaves no inbound row, no document file and no
audit entry other than the record of the refused attempt itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import Engine, func, select

from curbside.audit import AuditEntry
from curbside.database import session_scope
from curbside.homeserver import free_port
from fax_gateway.gateway import FaxSettings, Gateway
from fax_gateway.models import FaxInbound
from fax_gateway.routing import Owner, OwnerKind
from fax_gateway.status import JobState
from fax_gateway.transports.phaxio import phaxio_signature
from tests.support.documents import make_pdf
from tests.support.phaxio_standin import PhaxioStandIn

from .conftest import GatewayFactory

PRACTICE_NUMBER = "+13125550104"
ROOM = "!cardiology:curbside.test"


async def serve(app: web.Application, port: int = 0) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    bound = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{bound}"


@pytest.fixture
async def standin() -> AsyncIterator[tuple[PhaxioStandIn, str]]:
    fake = PhaxioStandIn("key-123", "secret-456", "callback-token-789", complete_after=0.05)
    runner, url = await serve(fake.app())
    yield fake, url
    await runner.cleanup()


@pytest.fixture
async def phaxio_gateway(
    make_gateway: GatewayFactory, standin: tuple[PhaxioStandIn, str]
) -> AsyncIterator[tuple[Gateway, str]]:
    _, standin_url = standin
    port = free_port()
    callback_url = f"http://127.0.0.1:{port}/fax/phaxio/callback"
    settings = FaxSettings.model_validate(
        {
            "transport": "phaxio",
            "max_inbound_bytes": 64 * 1024,
            "retry": {"base_seconds": 0.05, "cap_seconds": 0.2, "poll_seconds": 0.05},
            "routes": [{"number": PRACTICE_NUMBER, "owner_kind": "room", "owner_id": ROOM}],
            "phaxio": {
                "api_key": "key-123",
                "api_secret": "secret-456",
                "callback_token": "callback-token-789",
                "callback_url": callback_url,
                "base_url": f"{standin_url}/v2.1",
                "request_timeout": 2,
            },
        }
    )
    gateway = make_gateway(settings)
    runner, _ = await serve(gateway.webhook_app(), port)
    yield gateway, callback_url
    await runner.cleanup()
    await gateway.close()


async def _until_terminal(gateway: Gateway, job_id: str) -> None:
    worker = gateway.worker("w-phaxio")
    for _ in range(200):
        if gateway.job(job_id).state.terminal:
            return
        await worker.run_once()
        await asyncio.sleep(0.02)
    raise AssertionError("job did not finish")


def _written(engine: Engine) -> tuple[int, list[str]]:
    with session_scope(engine) as session:
        rows = session.scalar(select(func.count()).select_from(FaxInbound)) or 0
        actions = list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))
    return rows, actions


def test_signature_follows_the_documented_recipe() -> None:
    url = "https://example.test/fax/phaxio/callback/"
    fields = [("success", "true"), ("fax", '{"id":1}'), ("direction", "received")]
    files = [("file", b"%PDF-1.4 body")]
    expected_text = (
        url
        + "direction"
        + "received"
        + "fax"
        + '{"id":1}'
        + "success"
        + "true"
        + "file"
        + hashlib.sha1(b"%PDF-1.4 body").hexdigest()
    )
    expected = hmac.new(b"tok", expected_text.encode(), hashlib.sha1).hexdigest()
    assert phaxio_signature("tok", url, fields, files) == expected


async def test_fax_is_sent_by_upload_and_polled_to_delivery(phaxio_gateway, standin, key) -> None:
    gateway, callback_url = phaxio_gateway
    fake, _ = standin
    pdf = make_pdf(pages=2)
    job = gateway.submit(pdf, "+13125550105", idempotency_key=key, actor="@coord:test")
    await _until_terminal(gateway, job.id)
    view = gateway.job(job.id)
    assert view.state is JobState.DELIVERED
    [fax] = fake.faxes.values()
    assert view.provider_id == str(fax.id)
    assert fax.to == "+13125550105"
    assert fax.file_sha1 == hashlib.sha1(pdf).hexdigest()
    assert fax.callback_url == callback_url
    assert fax.tags == {"curbside_job": job.id, "curbside_attempt": f"{job.id}-1"}
    assert fake.counts["accepted"] == 1


async def test_send_callback_marks_the_job_delivered(phaxio_gateway, standin, key) -> None:
    gateway, callback_url = phaxio_gateway
    fake, _ = standin
    fake.complete_after = 3600  # only the callback can finish it
    job = gateway.submit(make_pdf(), "+13125550105", idempotency_key=key, actor="@coord:test")
    await gateway.worker("w1").run_once()
    assert gateway.job(job.id).state is JobState.SENDING
    [fax] = fake.faxes.values()
    fake.complete_after = 0
    status, _ = await fake.post_callback(callback_url, *fake.sent_callback(fax))
    assert status == 200
    assert gateway.job(job.id).state is JobState.DELIVERED


async def test_received_fax_is_stored_routed_and_announced_once(
    phaxio_gateway, standin, engine, tmp_path: Path
) -> None:
    gateway, callback_url = phaxio_gateway
    fake, _ = standin
    queue = gateway.subscribe_inbound()
    fields, files = fake.received_callback(777, PRACTICE_NUMBER, "+13125550106", make_pdf(pages=2))
    assert (await fake.post_callback(callback_url, fields, files))[0] == 200
    assert (await fake.post_callback(callback_url, fields, files))[0] == 200  # replay
    [record] = gateway.received_after(0)
    assert (record.provider_fax_id, record.pages) == ("777", 2)
    assert record.owner == Owner(OwnerKind.ROOM, ROOM)
    assert queue.get_nowait() == record and queue.empty()
    assert _written(engine)[1].count("fax.inbound.received") == 1
    stored = list((tmp_path / "fax-documents").rglob("*.fax"))
    assert len(stored) == 1 and b"%PDF" not in stored[0].read_bytes()
    pdf = gateway.inbox.document(record.id, actor="@dr:test", reason="treatment")
    assert pdf == files["file"]


async def test_unknown_number_goes_to_the_default_owner(phaxio_gateway, standin) -> None:
    gateway, callback_url = phaxio_gateway
    fake, _ = standin
    fields, files = fake.received_callback(778, "+13125550177", "+13125550106", make_pdf())
    assert (await fake.post_callback(callback_url, fields, files))[0] == 200
    [record] = gateway.received_after(0)
    assert record.owner == Owner(OwnerKind.REFERRAL_DESK, "referral-desk")


def _tampered(fake: PhaxioStandIn, url: str, fields: dict[str, str], files: dict[str, bytes]):
    signature = fake.sign(url, fields, files)
    fax = json.loads(fields["fax"])
    fax["to_number"] = "+13125550199"  # re-route the fax to another owner
    return {**fields, "fax": json.dumps(fax)}, files, signature


@pytest.mark.parametrize(
    ("case", "status", "audited"),
    [
        ("missing signature", 401, True),
        ("wrong signature", 403, True),
        ("tampered body", 403, True),
        ("tampered file", 403, True),
        ("oversized body", 413, True),
        ("not a PDF or TIFF", 415, True),
    ],
)
async def test_bad_webhook_calls_are_refused_and_write_nothing(
    phaxio_gateway, standin, engine, tmp_path: Path, case: str, status: int, audited: bool
) -> None:
    _, url = phaxio_gateway
    fake, _ = standin
    fields, files = fake.received_callback(900, PRACTICE_NUMBER, "+13125550106", make_pdf())
    signature: str | None = "sign"
    if case == "missing signature":
        signature = None
    elif case == "wrong signature":
        signature = hmac.new(b"not-the-token", b"x", hashlib.sha1).hexdigest()
    elif case == "tampered body":
        fields, files, signature = _tampered(fake, url, fields, files)
    elif case == "tampered file":
        signature = fake.sign(url, fields, files)
        files = {"file": make_pdf(text="forged")}
    elif case == "oversized body":
        files = {"file": make_pdf() + b"%" * (128 * 1024)}
    elif case == "not a PDF or TIFF":
        files = {"file": b"\x89PNG\r\n\x1a\n" + b"\0" * 64}
    before = _written(engine)
    answer, _ = await fake.post_callback(url, fields, files, signature=signature)
    assert answer == status
    rows, actions = _written(engine)
    assert rows == 0
    assert not list((tmp_path / "fax-documents").rglob("*.fax"))
    new = actions[len(before[1]) :]
    assert new == (["fax.webhook.rejected"] if audited else [])
