"""Operator commands for the medinfo desk, for the lead to attach to ``curbside``.

    curbside sponsor import sponsors.yaml
    curbside medinfo export --sponsor northwind --format json > log.json

Both work on the ``curbside`` command's database (its
:class:`~curbside.host.Host`'s ``engine``, migrated to head before use).
"""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import select

from bots.medinfo.models import SponsorRow
from bots.medinfo.records import FORMATS, export
from bots.medinfo.sponsors import SponsorConfigError, import_sponsors
from curbside.database import session_scope
from curbside.host import Host, pass_host


@click.group("sponsor")
def sponsor() -> None:
    """Sponsors the medinfo desk routes questions to."""


@sponsor.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_host
def import_command(host: Host, file: Path) -> None:
    """Validate FILE (YAML) and store its sponsors, replacing earlier versions."""
    try:
        sponsors = import_sponsors(host.engine, file)
    except SponsorConfigError as error:
        raise click.ClickException(str(error)) from error
    for item in sponsors:
        click.echo(f"imported {item.key}: {len(item.products)} products, "
                   f"{len(item.teams)} team(s), {len(item.members)} members")


@click.group("medinfo")
def medinfo() -> None:
    """The medical-information desk's records."""


@medinfo.command("export")
@click.option("--sponsor", "sponsor_key", required=True, help="sponsor key from the YAML")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
@pass_host
def export_command(host: Host, sponsor_key: str, fmt: str) -> None:
    """Write the sponsor's request log (no PHI) to standard output.

    An unknown sponsor key is an error (exit 1) naming the keys there are,
    never an empty log that looks like a sponsor without requests.
    """
    with session_scope(host.engine) as session:
        known = sorted(session.scalars(select(SponsorRow.key)))
    if sponsor_key not in known:
        hint = f"known sponsors: {', '.join(known)}" if known else (
            "no sponsors are imported yet: `curbside sponsor import sponsors.yaml`")
        raise click.ClickException(f"no sponsor {sponsor_key!r}; {hint}")
    click.echo(export(host.engine, sponsor_key, fmt), nl=False)
