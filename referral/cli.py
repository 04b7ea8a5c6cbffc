"""``curbside referral …`` sub-commands (the lead wires the group into ``curbside``).

curbside referral export RF-7K3M9Q2X [-o bundle.json]   FHIR R4 Bundle as JSON
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from curbside.database import session_scope
from curbside.host import Host
from referral.app import env_from_app
from referral.errors import ReferralNotFound
from referral.fhir import export_bundle


@click.group("referral")
def referral() -> None:
    """Referral cases: export and inspect."""


@referral.command("export")
@click.argument("referral_id")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the Bundle here instead of to standard output.",
)
@click.option("--actor", default="operator", show_default=True, help="Who exports (audited).")
@click.pass_obj
def export(app: Host, referral_id: str, output: Path | None, actor: str) -> None:
    """Export referral REFERRAL_ID as a FHIR R4 Bundle (JSON; contains PHI)."""
    env = env_from_app(app)
    try:
        with session_scope(app.engine) as session:
            bundle = export_bundle(session, env, referral_id, actor=actor)
    except ReferralNotFound as error:
        raise click.ClickException(str(error)) from None
    text = json.dumps(bundle, indent=2, sort_keys=True)
    if output is None:
        click.echo(text)
    else:
        output.write_text(text + "\n")
        output.chmod(0o600)
        click.echo(f"wrote {output} ({len(bundle['entry'])} resources)")
