"""One outbox worker in its own process, for the fault test to SIGKILL.

Usage: worker_process.py DB_URL MASTER_KEY AUDIT_KEY_HEX DOCS_DIR PHAXIO_BASE_URL WORKER_ID

It builds the gateway exactly as the service does (production classes only)
against the Phaxio stand-in and works until it is killed.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from pathlib import Path

from curbside import phi
from curbside.audit import AuditLog
from curbside.database import make_engine
from fax_gateway.gateway import FaxSettings, derive_pepper, open_gateway

REQUEST_TIMEOUT = 0.3


def settings(base_url: str) -> FaxSettings:
    return FaxSettings.model_validate(
        {
            "transport": "phaxio",
            "retry": {"base_seconds": 0.05, "cap_seconds": 0.4, "poll_seconds": 0.05},
            "rate_limit": {"count": 1000, "per_seconds": 1},
            "phaxio": {
                "api_key": "key-123",
                "api_secret": "secret-456",
                "callback_token": "callback-token-789",
                "callback_url": "http://127.0.0.1:9/fax/phaxio/callback",
                "base_url": base_url,
                "request_timeout": REQUEST_TIMEOUT,
            },
        }
    )


async def main(
    db_url: str, master: str, audit_key: bytes, docs: Path, base_url: str, worker_id: str
) -> None:
    engine = make_engine(db_url)
    cipher = phi.load_cipher(engine, phi.decode_master_key(master))
    phi.install_cipher(cipher)
    gateway = open_gateway(
        settings(base_url),
        engine=engine,
        cipher=cipher,
        audit=AuditLog(audit_key),
        pepper=derive_pepper(audit_key),
        documents_dir=docs,
    )
    worker = gateway.worker(worker_id, lease_for=timedelta(seconds=3), batch=48)
    await worker.run(asyncio.Event(), idle=0.05)


if __name__ == "__main__":
    url, master_key, key_hex, docs_dir, base, wid = sys.argv[1:7]
    asyncio.run(main(url, master_key, bytes.fromhex(key_hex), Path(docs_dir), base, wid))
