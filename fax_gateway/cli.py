"""``curbside fax``: send, follow and cancel faxes, run the worker, render files.

    curbside fax send --to +16175550134 letter.pdf   queue it (and wait for the outcome)
    curbside fax status [JOB]                        recent jobs, or one job's history
    curbside fax cancel JOB                          stop a job not yet with the provider
    curbside fax worker                              send queued faxes, serve webhooks
    curbside fax render in.pdf out.tif               PDF -> TIFF Class F, with progress

The group is wired into ``curbside`` by the CLI's composition root, whose
context object supplies the database, the PHI cipher, the audit log and the
settings (a :class:`curbside.host.Host`). Fax options come from the ``fax:`` section of the
Curbside config; without one, the loopback line is used.
"""

from __future__ import annotations

import asyncio
import getpass
import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from curbside.host import Host, host_of
from fax_gateway.gateway import FaxSettings, Gateway, derive_pepper, open_gateway
from fax_gateway.numbers import InvalidNumber
from fax_gateway.outbox import IdempotencyConflict, InvalidDocument, JobNotFound, JobView
from fax_gateway.profile_f import Resolution, check_tiff_f
from fax_gateway.render import RenderError, render_pdf_to_tiff_f
from fax_gateway.service import run_fax_service
from fax_gateway.status import IllegalTransition


def _console() -> Console:
    """A console sized for the terminal the command runs in (COLUMNS is honoured)."""
    return Console()


def parse_fax_settings(section: dict[str, Any]) -> FaxSettings:
    """Validate the config's ``fax:`` section; errors name the key under ``fax.``."""
    try:
        return FaxSettings.model_validate(section)
    except ValidationError as exc:
        problems = [f"fax.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise click.ClickException("invalid configuration:\n  " + "\n  ".join(problems)) from None


def _settings(ctx: click.Context) -> FaxSettings:
    return parse_fax_settings(host_of(ctx).settings.fax)


def gateway_for(host: Host, settings: FaxSettings) -> Gateway:
    """The gateway on the host's (already migrated) database and secrets."""
    return open_gateway(
        settings,
        engine=host.engine,
        cipher=host.cipher,
        audit=host.audit,
        pepper=derive_pepper(host.settings.secrets.audit_key.encode()),
        documents_dir=host.settings.data_dir / "fax",
    )


def _gateway(ctx: click.Context, settings: FaxSettings | None = None) -> Gateway:
    return gateway_for(host_of(ctx), settings or _settings(ctx))


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


@click.group("fax")
def fax() -> None:
    """Send and receive faxes (outbox, transports, inbound webhooks)."""


@fax.command("send")
@click.option(
    "--to", "to_number", required=True, help="Fax number with its country code, e.g. +16175550134."
)
@click.argument("document", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option(
    "--key",
    help="Idempotency key. Default: derived from the file and the number, so running "
    "the same command twice never sends twice.",
)
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Send it now and wait for the outcome, or only queue it for the worker.",
)
@click.pass_context
def send(ctx: click.Context, to_number: str, document: Path, key: str | None, wait: bool) -> None:
    """Fax DOCUMENT (a PDF) to --to."""
    pdf = document.read_bytes()
    key = key or "cli-" + hashlib.sha256(pdf + b"\0" + to_number.encode()).hexdigest()[:32]
    gateway = _gateway(ctx)
    try:
        job = gateway.submit(pdf, to_number, idempotency_key=key, actor=_actor())
    except (InvalidDocument, InvalidNumber, IdempotencyConflict) as exc:
        raise click.ClickException(str(exc)) from None
    _console().print(f"job [bold]{job.id}[/bold]: {job.state.value} ({job.pages} page(s))")
    if wait and not job.state.terminal:
        with _console().status("sending…"):
            job = asyncio.run(_send_now(gateway, job.id))
    _print_outcome(job)
    if job.state.value == "failed":
        raise SystemExit(1)


async def _send_now(gateway: Gateway, job_id: str) -> JobView:
    """Work this process's queue until ``job_id`` is finished."""
    worker = gateway.worker(f"cli-{job_id[:8]}")
    try:
        while not (job := gateway.job(job_id)).state.terminal:
            if await worker.run_once() == 0:
                await asyncio.sleep(0.5)
        return job
    finally:
        await gateway.close()


def _print_outcome(job: JobView) -> None:
    colour = {"delivered": "green", "failed": "red", "cancelled": "yellow"}.get(job.state.value)
    line = f"[{colour}]{job.state.value}[/{colour}]" if colour else job.state.value
    if job.failure_reason:
        line += f": {job.failure_reason}"
    _console().print(line)


@fax.command("status")
@click.argument("job_id", required=False)
@click.option("--limit", default=20, show_default=True, help="How many recent jobs to list.")
@click.pass_context
def status(ctx: click.Context, job_id: str | None, limit: int) -> None:
    """List recent fax jobs, or show one JOB_ID (or a unique start of it) with its history."""
    gateway = _gateway(ctx)
    if job_id is None:
        table = Table("job", "state", "pages", "attempts", "updated (UTC)", "reason")
        table.columns[0].no_wrap = True  # whole ids, never "3f2a…": they are typed back in
        table.columns[0].min_width = 32
        for job in gateway.outbox.recent(limit):
            table.add_row(
                job.id,
                job.state.value,
                str(job.pages or ""),
                str(job.attempts),
                f"{job.updated_at:%Y-%m-%d %H:%M:%S}",
                job.failure_reason or job.last_error or "",
            )
        _console().print(table)
        return
    try:
        job = gateway.job(gateway.outbox.resolve(job_id))
    except JobNotFound as exc:
        raise click.ClickException(str(exc)) from None
    _console().print(f"job {job.id} ({job.transport}), key {job.idempotency_key}")
    _print_outcome(job)
    history = Table("at (UTC)", "state", "reason")
    for change in _history(gateway, job.id):
        history.add_row(f"{change.at:%Y-%m-%d %H:%M:%S}", change.state.value, change.reason)
    _console().print(history)


def _history(gateway: Gateway, job_id: str) -> list[Any]:
    changes, after = [], 0
    while batch := gateway.changes_after(after, 500):
        changes += [change for change in batch if change.job_id == job_id]
        after = batch[-1].seq
    return changes


@fax.command("received")
@click.pass_context
def received(ctx: click.Context) -> None:
    """What became of received faxes: how many went each way, and any not accounted for.

    A fax is accounted for when the bridge or the referral desk delivered, held,
    consumed or handed it to the operator fax inbox (numbers are not shown).
    """
    gateway = _gateway(ctx)
    table = Table("disposition", "faxes")
    for disposition, count in sorted(gateway.disposition_counts().items()):
        table.add_row(disposition.value, str(count))
    waiting = gateway.undisposed(limit=1000)
    table.add_row("not accounted for yet", str(len(waiting)))
    _console().print(table)
    for inbound_id in waiting:
        click.echo(f"  {inbound_id}")


@fax.command("cancel")
@click.argument("job_id")
@click.option("--reason", default="cancelled by operator", show_default=True)
@click.pass_context
def cancel(ctx: click.Context, job_id: str, reason: str) -> None:
    """Cancel JOB_ID (or a unique start of it) if it has not reached the provider yet."""
    gateway = _gateway(ctx)
    try:
        job = gateway.cancel(gateway.outbox.resolve(job_id), actor=_actor(), reason=reason)
    except JobNotFound as exc:
        raise click.ClickException(str(exc)) from None
    except IllegalTransition as exc:
        raise click.ClickException(f"cannot cancel: {exc}") from None
    _print_outcome(job)


@fax.command("worker")
@click.option("--concurrency", default=8, show_default=True, help="Jobs in flight at once.")
@click.pass_context
def worker(ctx: click.Context, concurrency: int) -> None:
    """Send queued faxes and serve the provider webhooks until Ctrl-C."""
    settings = _settings(ctx)
    gateway = _gateway(ctx, settings)
    try:
        asyncio.run(_serve(gateway, settings, concurrency))
    except KeyboardInterrupt:
        _console().print("stopped")


async def _serve(gateway: Gateway, settings: FaxSettings, concurrency: int) -> None:
    _console().print(
        f"fax worker up ({gateway.transport.name}); webhooks on "
        f"http://{settings.webhook_host}:{settings.webhook_port}"
    )
    await run_fax_service(
        gateway, settings, asyncio.Event(), f"worker-{getpass.getuser()}", concurrency
    )


@fax.command("render")
@click.argument("source", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.argument("target", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--standard", is_flag=True, help="Standard resolution (98 lpi) instead of fine.")
@click.option("--sender", default="Curbside", show_default=True, help="Header line sender.")
def render(source: Path, target: Path, standard: bool, sender: str) -> None:
    """Render SOURCE (PDF) into TARGET as TIFF Class F and check the result."""
    resolution = Resolution.STANDARD if standard else Resolution.FINE
    with Progress(
        TextColumn("rendering"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("pages"),
        console=_console(),
    ) as progress:
        task = progress.add_task("render", total=None)

        def step(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            result = render_pdf_to_tiff_f(
                source,
                target,
                sender=sender,
                date=datetime.now(UTC),
                resolution=resolution,
                progress=step,
            )
        except RenderError as exc:
            raise click.ClickException(str(exc)) from None
    problems = check_tiff_f(target)
    for problem in problems:
        _console().print(f"[red]{problem}[/red]")
    _console().print(
        f"wrote {result.pages} page(s) to {target}" + (" (NOT conforming)" if problems else "")
    )
    if problems:
        raise SystemExit(1)
