"""A Phaxio-configured gateway serving its webhook on loopback, and a raw HTTP client.

The client writes the request bytes itself (no HTTP library between the test
and the server), so a test can send what a library would refuse to: a
non-ASCII header, a multipart body cut short, a boundary that is missing.
``written`` reads back everything a refused call must not have left behind.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import Engine, func, select

from curbside import phi
from curbside.audit import AuditEntry, AuditLog
from curbside.database import make_engine, migrate, session_scope
from curbside.homeserver import free_port
from fax_gateway import VERSIONS_DIR, FaxSettings, Gateway, open_gateway
from fax_gateway.models import FaxInbound
from tests.fax_gateway_outbox.conftest import AUDIT_KEY, PEPPER, ManualClock
from tests.fax_gateway_outbox.test_phaxio import serve
from tests.support.phaxio_standin import PhaxioStandIn

PRACTICE_NUMBER = "+13125550104"
SENDER_NUMBER = "+13125550106"
TOKEN = "callback-token-789"
MAX_BODY = 4 * 1024 * 1024


@dataclass
class Webhook:
    """The served gateway: its callback URL, a signer, and what it has stored."""

    gateway: Gateway
    url: str
    engine: Engine
    documents: Path
    clock: ManualClock
    signer: PhaxioStandIn

    def written(self) -> tuple[int, int, int]:
        """(inbound rows, document files, ``fax.webhook.rejected`` audit rows)."""
        with session_scope(self.engine) as session:
            rows = session.scalar(select(func.count()).select_from(FaxInbound)) or 0
            rejected = session.scalar(
                select(func.count()).select_from(AuditEntry)
                .where(AuditEntry.action == "fax.webhook.rejected")
            ) or 0
        files = len([p for p in self.documents.rglob("*") if p.is_file()])
        return rows, files, rejected

    def received(self, content: bytes, **fax: object) -> tuple[dict[str, str], dict[str, bytes]]:
        """A receive callback carrying ``content``; ``fax`` overrides fields of the fax object."""
        fields, files = self.signer.received_callback(
            900, PRACTICE_NUMBER, SENDER_NUMBER, content
        )
        obj = {**json.loads(fields["fax"]), **fax}
        return {**fields, "fax": json.dumps(obj)}, {**files}

    def signature(self, fields: dict[str, str], files: dict[str, bytes]) -> str:
        return self.signer.sign(self.url, fields, files)


def multipart(fields: dict[str, str], files: dict[str, bytes], boundary: str = "b0undary") -> bytes:
    """A well-formed multipart/form-data body, built by hand."""
    out = bytearray()
    for name, value in fields.items():
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                f"{value}\r\n").encode()
    for name, content in files.items():
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                f'filename="{name}.bin"\r\nContent-Type: application/octet-stream\r\n\r\n').encode()
        out += content + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out)


async def raw_post(url: str, headers: list[tuple[bytes, bytes]], body: bytes) -> int:
    """POST exactly these header bytes and body; the status code of the answer."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    head = [b"POST " + parts.path.encode() + b" HTTP/1.1", b"Host: " + parts.netloc.encode(),
            b"Connection: close", b"Content-Length: " + str(len(body)).encode()]
    head += [name + b": " + value for name, value in headers]
    writer.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    await writer.wait_closed()
    return int(status_line.split()[1])


async def post_form(
    hook: Webhook, fields: dict[str, str], files: dict[str, bytes], *,
    signature: bytes | None = b"sign", extra: list[tuple[bytes, bytes]] = (),  # type: ignore[assignment]
) -> int:
    """POST a multipart callback; ``b"sign"`` signs it correctly, None sends no signature."""
    headers = [(b"Content-Type", b"multipart/form-data; boundary=b0undary"), *extra]
    if signature == b"sign":
        headers.append((b"X-Phaxio-Signature", hook.signature(fields, files).encode()))
    elif signature is not None:
        headers.append((b"X-Phaxio-Signature", signature))
    return await raw_post(hook.url, headers, multipart(fields, files))


@pytest.fixture
def webhook_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'webhook.db'}")
    migrate(engine, [VERSIONS_DIR])
    yield engine
    engine.dispose()


def phaxio_settings(callback_url: str, *, audit_rows_per_minute: int) -> FaxSettings:
    return FaxSettings.model_validate({
        "transport": "phaxio",
        "max_inbound_bytes": MAX_BODY,
        "routes": [{"number": PRACTICE_NUMBER, "owner_kind": "room",
                    "owner_id": "!cardiology:curbside.test"}],
        "rejected_audit": {"count": audit_rows_per_minute, "per_seconds": 60},
        "phaxio": {"api_key": "key-123", "api_secret": "secret-456", "callback_token": TOKEN,
                   "callback_url": callback_url, "base_url": "http://127.0.0.1:9/v2.1"},
    })


@pytest.fixture
def audit_rows_per_minute() -> int:
    """Override in a test module to exercise the audit rate limit."""
    return 10_000


@pytest.fixture
async def webhook(
    webhook_engine: Engine, tmp_path: Path, audit_rows_per_minute: int
) -> AsyncIterator[Webhook]:
    cipher = phi.load_cipher(webhook_engine, phi.decode_master_key(phi.new_master_key()))
    phi.install_cipher(cipher)
    port = free_port()
    url = f"http://127.0.0.1:{port}/fax/phaxio/callback"
    clock = ManualClock()
    documents = tmp_path / "fax-documents"
    gateway = open_gateway(
        phaxio_settings(url, audit_rows_per_minute=audit_rows_per_minute),
        engine=webhook_engine, cipher=cipher, audit=AuditLog(AUDIT_KEY), pepper=PEPPER,
        documents_dir=documents, clock=clock,
    )
    runner, _ = await serve(gateway.webhook_app(), port)
    documents.mkdir(parents=True, exist_ok=True)
    yield Webhook(gateway, url, webhook_engine, documents, clock,
                  PhaxioStandIn("key-123", "secret-456", TOKEN))
    await runner.cleanup()
    await gateway.close()
