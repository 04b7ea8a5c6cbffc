"""Operator sub-commands: accounts, audit chain, PHI keys."""

from __future__ import annotations

import asyncio
import secrets
import sys

import click
from sqlalchemy import func, select

from curbside.audit import AuditEntry
from curbside.cli.context import AppContext, pass_app
from curbside.database import session_scope
from curbside.homeserver import HomeserverError, register_user
from curbside.key_rotation import rotate_keys


@click.group()
def user() -> None:
    """Matrix accounts on the embedded homeserver."""


@user.command("add")
@click.argument("localpart")
@click.option("--password", help="Defaults to a random one, printed once.")
@click.option("--display-name", help="Shown in clients, e.g. 'Dana Whitfield'.")
@click.option("--admin", is_flag=True, help="Make the account a homeserver admin.")
@pass_app
def user_add(
    app: AppContext, localpart: str, password: str | None, display_name: str | None, admin: bool
) -> None:
    """Create an account LOCALPART (the homeserver must be running: `curbside up`)."""
    password = password or secrets.token_urlsafe(12)
    settings = app.settings
    try:
        user_id = asyncio.run(
            register_user(
                settings.homeserver.url,
                settings.homeserver.registration_shared_secret,
                localpart,
                password,
                admin=admin,
                displayname=display_name,
            )
        )
    except HomeserverError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(
            f"cannot reach the homeserver at {settings.homeserver.url} ({exc}); "
            "is `curbside up` running?"
        ) from None
    click.echo(f"created {user_id}\npassword: {password}")


@click.group()
def audit() -> None:
    """The tamper-evident audit log."""


@audit.command("verify")
@pass_app
def audit_verify(app: AppContext) -> None:
    """Recompute the hash chain; exit 1 and list each break if it was altered."""
    problems = app.audit.verify(app.engine)
    with session_scope(app.engine) as session:
        checked = session.scalar(select(func.count()).select_from(AuditEntry))
    if not problems:
        click.echo(f"audit chain intact: {checked} entries checked")
        return
    for problem in problems:
        click.echo(f"entry {problem.seq}: {problem.problem}", err=True)
    click.echo(f"audit chain BROKEN at {len(problems)} place(s) in {checked} entries", err=True)
    sys.exit(1)


@click.group()
def keys() -> None:
    """PHI encryption keys."""


@keys.command("rotate")
@pass_app
def keys_rotate(app: AppContext) -> None:
    """Make a new data key primary and re-encrypt every PHI field with it.

    Runs online: the service may keep running. Interrupted? Run it again.
    """
    result = rotate_keys(
        app.engine,
        app.settings.secrets.master_key_bytes,
        progress=lambda column, count: click.echo(f"  {column}: {count} re-encrypted"),
    )
    with session_scope(app.engine) as session:
        app.audit.record(
            session,
            actor="operator:cli",
            action="phi.keys_rotated",
            record_type="phi_key",
            record_id=result.new_key_id,
            reason="curbside keys rotate",
            details={"reencrypted": result.reencrypted, "retired": list(result.retired_key_ids)},
        )
    click.echo(
        f"new primary key {result.new_key_id}; {result.reencrypted} field(s) re-encrypted; "
        f"retired {', '.join(result.retired_key_ids) or 'none'}"
    )
