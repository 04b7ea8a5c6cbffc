"""Hundreds of faxes through a failing provider and a worker killed twice.

The Phaxio stand-in fails 30% of requests (5xx before or after accepting,
and answers that come too late for the client); some transmissions fail or
only partly succeed. The worker runs in a subprocess and is SIGKILLed twice
mid-run. In the end every job is delivered or failed with a reason, and the
stand-in's own records prove that no fax was transmitted successfully twice
and that every delivered job is the one transmission the provider made.

``FAX_FAULT_JOBS`` sets the number of jobs (default 500).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import Engine, func, select

from curbside.audit import AuditLog
from curbside.database import session_scope
from fax_gateway.gateway import open_gateway
from fax_gateway.models import FaxJob
from fax_gateway.status import JobState
from tests.support.documents import make_pdf
from tests.support.phaxio_standin import Faults, PhaxioStandIn

from .conftest import AUDIT_KEY, PEPPER
from .test_phaxio import serve
from .worker_process import settings

JOBS = int(os.environ.get("FAX_FAULT_JOBS", "500"))
WORKER = Path(__file__).with_name("worker_process.py")
TERMINAL = [s.value for s in (JobState.DELIVERED, JobState.FAILED, JobState.CANCELLED)]


def _finished(engine: Engine) -> int:
    with session_scope(engine) as session:
        return (
            session.scalar(
                select(func.count()).select_from(FaxJob).where(FaxJob.state.in_(TERMINAL))
            )
            or 0
        )


def _held_by(engine: Engine, worker: str) -> int:
    """Jobs whose lease the (now dead) ``worker`` still holds: work it never finished."""
    with session_scope(engine) as session:
        return (
            session.scalar(
                select(func.count()).select_from(FaxJob).where(FaxJob.lease_owner == worker)
            )
            or 0
        )


async def _wait_for(
    engine: Engine, count: int, proc: subprocess.Popen[bytes], limit: float
) -> None:
    deadline = time.monotonic() + limit
    while await asyncio.to_thread(_finished, engine) < count:
        assert proc.poll() is None, "the worker died on its own"
        assert time.monotonic() < deadline, f"fewer than {count} jobs finished in {limit:.0f} s"
        await asyncio.sleep(0.1)


async def test_no_fax_lost_or_sent_twice(
    db_url: str, engine: Engine, cipher, master_key: str, audit: AuditLog, tmp_path: Path
) -> None:
    fake = PhaxioStandIn(
        "key-123",
        "secret-456",
        "callback-token-789",
        complete_after=0.05,
        faults=Faults(
            error_before=0.1,
            error_after=0.1,
            timeout=0.1,
            hang_seconds=1.0,
            fax_failure=0.1,
            fax_partial=0.03,
            seed=20261124,
        ),
    )
    runner, standin_url = await serve(fake.app())
    base_url = f"{standin_url}/v2.1"
    docs = tmp_path / "fax-documents"
    gateway = open_gateway(
        settings(base_url),
        engine=engine,
        cipher=cipher,
        audit=audit,
        pepper=PEPPER,
        documents_dir=docs,
    )
    pdf = make_pdf()
    jobs = [
        gateway.submit(pdf, f"+1312555{n:04d}", idempotency_key=f"fault-{n}",
                       actor="@coord:test").id
        for n in range(JOBS)
    ]

    def start(name: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                sys.executable,
                str(WORKER),
                db_url,
                master_key,
                AUDIT_KEY.hex(),
                str(docs),
                base_url,
                name,
            ],
        )

    interrupted = 0
    proc = start("worker-1")
    try:
        await _wait_for(engine, JOBS // 3, proc, 120)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        interrupted += _held_by(engine, "worker-1")
        proc = start("worker-2")
        await _wait_for(engine, 2 * JOBS // 3, proc, 120)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        interrupted += _held_by(engine, "worker-2")
        proc = start("worker-3")
        await _wait_for(engine, JOBS, proc, 180)
    finally:
        proc.kill()
        proc.wait()
        await runner.cleanup()

    views = [gateway.job(job_id) for job_id in jobs]
    states = Counter(view.state for view in views)
    assert set(states) <= {JobState.DELIVERED, JobState.FAILED}, states
    assert all(view.failure_reason for view in views if view.state is JobState.FAILED)
    for view in views:
        successes = [
            fax
            for fax in fake.faxes.values()
            if fax.tags.get("curbside_job") == view.id and fax.outcome == "success"
        ]
        if view.state is JobState.DELIVERED:
            assert [str(fax.id) for fax in successes] == [view.provider_id], view
        else:
            assert successes == [], view
    assert interrupted > 0  # the kills really cut through jobs in flight
    assert fake.counts["injected_5xx"] > 0 and fake.counts["injected_timeouts"] > 0
    assert audit.verify(engine) == []
    print(
        f"\n{JOBS} jobs: {dict(states)}; interrupted by kills: {interrupted}; "
        f"stand-in: {dict(fake.counts)}"
    )
