"""Fax outbox throughput: a clean provider against one failing 30% of requests.

    python benchmarks/fax_outbox_throughput.py [JOBS]

Claim measured: through the Phaxio stand-in, one worker (32 jobs in flight)
keeps at least a third of its clean throughput when 30% of requests fail
(5xx before or after accepting, answers later than the 0.3 s client
timeout), on SQLite and on PostgreSQL, and sends no fax twice. Time runs
from the first claim to the last job finishing; submitting is timed apart.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import psycopg  # noqa: E402
from aiohttp import web  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from sqlalchemy import Engine, func, select  # noqa: E402
from support.phaxio_standin import Faults, PhaxioStandIn  # noqa: E402

from curbside import phi  # noqa: E402
from curbside.audit import AuditLog  # noqa: E402
from curbside.database import make_engine, migrate, session_scope  # noqa: E402
from fax_gateway.gateway import VERSIONS_DIR, FaxSettings, derive_pepper, open_gateway  # noqa: E402
from fax_gateway.models import FaxJob  # noqa: E402
from fax_gateway.status import JobState  # noqa: E402

POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
AUDIT_KEY = b"benchmark-audit-key-0123456789ab"
FAULTY = Faults(error_before=0.1, error_after=0.1, timeout=0.1, hang_seconds=1.0, seed=7)


def _settings(base_url: str) -> FaxSettings:
    return FaxSettings.model_validate(
        {
            "transport": "phaxio",
            "retry": {"base_seconds": 0.05, "cap_seconds": 0.4, "poll_seconds": 0.05},
            "rate_limit": {"count": 100000, "per_seconds": 1},
            "phaxio": {
                "api_key": "k",
                "api_secret": "s",
                "callback_token": "t",
                "callback_url": "http://127.0.0.1:9/cb",
                "base_url": base_url,
                "request_timeout": 0.3,
            },
        }
    )


def _unfinished(engine: Engine) -> int:
    active = [JobState.QUEUED.value, JobState.RENDERING.value, JobState.SENDING.value]
    with session_scope(engine) as session:
        query = select(func.count()).select_from(FaxJob).where(FaxJob.state.in_(active))
        return session.scalar(query) or 0


def _pdf() -> bytes:
    from io import BytesIO

    from reportlab.pdfgen import canvas

    buffer = BytesIO()
    page = canvas.Canvas(buffer)
    page.drawString(72, 700, "Benchmark letter")
    page.save()
    return buffer.getvalue()


async def _run(url: str, jobs: int, faults: Faults) -> tuple[float, float, Counter[JobState], int]:
    fake = PhaxioStandIn("k", "s", "t", faults=faults, complete_after=0.05)
    runner = web.AppRunner(fake.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}/v2.1"
    engine = make_engine(url)
    migrate(engine, [VERSIONS_DIR])
    cipher = phi.load_cipher(engine, phi.decode_master_key(phi.new_master_key()))
    phi.install_cipher(cipher)
    with tempfile.TemporaryDirectory() as docs:
        gateway = open_gateway(
            _settings(base),
            engine=engine,
            cipher=cipher,
            audit=AuditLog(AUDIT_KEY),
            pepper=derive_pepper(AUDIT_KEY),
            documents_dir=Path(docs),
        )
        pdf = _pdf()
        start = time.perf_counter()
        ids = [
            gateway.submit(pdf, f"+1312555{n:04d}", idempotency_key=f"b{n}", actor="bench").id
            for n in range(jobs)
        ]
        submitted = time.perf_counter() - start
        stop = asyncio.Event()
        worker = asyncio.create_task(gateway.worker("bench", batch=32).run(stop, idle=0.05))
        start = time.perf_counter()
        while _unfinished(engine):
            await asyncio.sleep(0.1)
        elapsed = time.perf_counter() - start
        stop.set()
        await worker
        states = Counter(gateway.job(i).state for i in ids)
        twice = sum(
            1
            for i in ids
            if sum(
                f.tags.get("curbside_job") == i and f.outcome == "success"
                for f in fake.faxes.values()
            )
            > 1
        )
        await gateway.close()
    engine.dispose()
    await runner.cleanup()
    return submitted, elapsed, states, twice


def _postgres_url() -> tuple[str, str]:
    name = f"curbside_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return POSTGRES.rsplit("/", 1)[0] + "/" + name, name


def _drop(name: str) -> None:
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    jobs = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    table = Table(
        "backend",
        "provider",
        "jobs",
        "submit s",
        "send s",
        "jobs/s",
        "vs clean",
        "delivered",
        "failed",
        "sent twice",
        title=f"fax outbox throughput ({jobs} jobs, 32 in flight)",
    )
    for backend in ("sqlite", "postgresql"):
        clean_rate = 0.0
        for label, faults in (("clean", Faults()), ("30% failing", FAULTY)):
            with tempfile.TemporaryDirectory() as tmp:
                if backend == "sqlite":
                    url, name = f"sqlite:///{tmp}/bench.db", ""
                else:
                    url, name = _postgres_url()
                try:
                    submitted, elapsed, states, twice = asyncio.run(_run(url, jobs, faults))
                finally:
                    if name:
                        _drop(name)
            rate = jobs / elapsed
            clean_rate = clean_rate or rate
            table.add_row(
                backend,
                label,
                str(jobs),
                f"{submitted:.1f}",
                f"{elapsed:.1f}",
                f"{rate:.0f}",
                f"{rate / clean_rate:.2f}x",
                str(states[JobState.DELIVERED]),
                str(states[JobState.FAILED]),
                str(twice),
            )
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
