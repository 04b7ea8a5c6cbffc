"""`curbside init`: everything a first start needs, with fresh secrets."""

from __future__ import annotations

import click

from bots.gatekeeper.specialties import ensure_taxonomy
from bridge.registration import write_registration
from curbside.cli import demo
from curbside.cli.context import AppContext, pass_app
from curbside.homeserver import write_config
from curbside.settings import render_new_config


@click.command()
@click.option("--force", is_flag=True, help="Overwrite an existing config (new secrets!).")
@pass_app
def init(app: AppContext, force: bool) -> None:
    """Write the config with fresh secrets, the homeserver config and the
    fax bridge's appservice registration.

    Safe to run again: an existing config is kept (use --force to replace it,
    which makes every encrypted field unreadable), and the derived files are
    rewritten from it.
    """
    path = app.config_path
    if path.exists() and not force:
        click.echo(f"keeping existing {path}")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_new_config())
        path.chmod(0o600)
        click.echo(f"wrote {path} with fresh secrets (keep it private; back up secrets.master_key)")
    settings = app.settings
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    registration = write_registration(
        app.appservice_registration_path,
        server_name=settings.homeserver.server_name,
        sender_localpart=settings.bridge.sender_localpart,
        as_token=settings.bridge.as_token,
        hs_token=settings.bridge.hs_token,
        port=settings.bridge.port,
    )
    click.echo(f"wrote {registration}")
    if settings.homeserver.mode == "embedded":
        click.echo(f"wrote {write_config(app.homeserver_layout())}")
    database = app.engine.url.render_as_string(hide_password=True)
    click.echo(f"database migrated: {database}")
    click.echo(f"PHI data key {app.cipher.primary_key_id} ready")
    _specialty_names(app)
    demo.seed(app)


def _specialty_names(app: AppContext) -> None:
    """The shipped NUCC excerpt, unless a taxonomy was imported already."""
    stored = ensure_taxonomy(app.engine)
    if stored:
        click.echo(f"specialty names: {stored} NUCC codes shipped with Curbside (the full "
                   "file: curbside registry import-taxonomy)")
