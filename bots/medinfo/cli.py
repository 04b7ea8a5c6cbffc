"""Operator commands for the medinfo desk, for the lead to attach to ``curbside``.

    curbside sponsor import sponsors.yaml
    curbside medinfo export --sponsor northwind --format json > log.json
    curbside medinfo screen inquiries.jsonl > screened.jsonl

The first two work on the ``curbside`` command's database (its
:class:`~curbside.host.Host`'s ``engine``, migrated to head before use);
``screen`` needs neither a database nor a sponsor: it runs the PV and
identifier screens (``screening.decision.assess``) over a file, for evaluation.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TextIO

import click
from sqlalchemy import select

from bots.medinfo.models import SponsorRow
from bots.medinfo.records import FORMATS, export
from bots.medinfo.sponsors import SponsorConfigError, import_sponsors
from curbside.database import session_scope
from curbside.host import Host, pass_host
from screening import adverse_events, decision


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


@medinfo.command("screen")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--meddra", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="a licensed MedDRA term list (one term a line) to add to the event lexicon")
def screen_command(file: TextIO, meddra: Path | None) -> None:
    """Screen each JSON line of FILE (``text``, optional ``id``; ``-`` for standard input)
    and write one JSON line each: id, adverse_event, complaint, special_situation, pv,
    possible, validity, phi [{kind, start, end}] and the redacted text."""
    if meddra is not None:
        adverse_events.load_terms(meddra)
    for number, line in enumerate(file, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise click.ClickException(f"line {number} is not JSON ({error.msg}); each line "
                                       'must be an object such as {"id": "1", "text": "..."}'
                                       ) from error
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise click.ClickException(f'line {number} has no "text" string; each line must '
                                       'be an object such as {"id": "1", "text": "..."}')
        record = decision.assess(row["text"]).as_record(row.get("id"))
        click.echo(json.dumps(record, ensure_ascii=False))
