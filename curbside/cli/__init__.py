"""The ``curbside`` command.

    curbside init          write config, homeserver config, bridge registration
    curbside up            start homeserver (embedded), bots, bridge; Ctrl-C stops
    curbside status        homeserver reachable? bots synced? database at head?
    curbside user add      create a Matrix account (embedded homeserver)
    curbside audit verify  check the audit hash chain
    curbside keys rotate   new PHI data key, re-encrypt, retire the old
    curbside registry …    import the NPPES registry and NUCC taxonomy; generate test files
    curbside verify import roster.csv   an organisation attests its clinicians in bulk
    curbside verifiers add @user        the credentialing team (the gatekeeper makes its room)
    curbside sponsor import sponsors.yaml   sponsors, products and MSL teams for medinfo
    curbside medinfo export --sponsor X      a sponsor's request log (CSV/JSON, no PHI)
    curbside fax …         send, follow and cancel faxes; render PDF to TIFF-F
    curbside referral …    export a referral as a FHIR R4 Bundle
    curbside audit disclosures --patient …   HIPAA accounting of disclosures

Every sub-command has ``--help``. The config file is ``config/curbside.yaml``
unless ``--config`` or ``CURBSIDE_CONFIG`` says otherwise.
"""

from __future__ import annotations

from pathlib import Path

import click

from bots.gatekeeper.cli import registry, verifiers, verify
from bots.medinfo.cli import medinfo, sponsor
from curbside.cli import admin, service, setup
from curbside.cli.context import AppContext
from fax_gateway.cli import fax
from referral.cli import referral
from referral.disclosures import disclosures_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("config/curbside.yaml"),
    envvar="CURBSIDE_CONFIG",
    show_default=True,
    help="The Curbside config file.",
)
@click.pass_context
def cli(ctx: click.Context, config_path: Path) -> None:
    """Curbside: verified clinician messaging, referrals and fax on Matrix."""
    ctx.obj = AppContext(config_path=config_path)


cli.add_command(setup.init)
cli.add_command(service.up)
cli.add_command(service.status)
cli.add_command(admin.user)
cli.add_command(admin.audit)
cli.add_command(admin.keys)
cli.add_command(fax)
cli.add_command(registry)
cli.add_command(verify)
cli.add_command(verifiers)
cli.add_command(sponsor)
cli.add_command(medinfo)
cli.add_command(referral)
admin.audit.add_command(disclosures_command)


def main() -> None:
    cli()
