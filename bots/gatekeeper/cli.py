"""``curbside verify …`` and ``curbside registry …``: the gatekeeper's operator commands.

The ``curbside`` command adds :data:`verify` and :data:`registry` as
sub-command groups; each command takes the migrated database and the audit
log from the command's :class:`~curbside.host.Host` (never from ``curbside.cli``,
which imports this module).

    curbside verify import roster.csv --by @admin:example.org
    curbside verifiers add @verifier:example.org     (the gatekeeper makes the room)
    curbside verifiers list
    curbside registry import npidata_pfile_*.csv
    curbside registry import-taxonomy nucc_taxonomy_*.csv
    curbside registry generate OUT.csv --rows N [--seed S]
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import click

from bots.gatekeeper import credentialing
from bots.gatekeeper.config import GatekeeperConfig
from bots.gatekeeper.registry import NppesFormatError, NuccFormatError
from bots.gatekeeper.registry.cli import generate_command, import_command, taxonomy_command
from bots.gatekeeper.roster import RosterFormatError, import_roster
from curbside.database import session_scope
from curbside.homeserver import HomeserverError, existing_accounts
from curbside.host import Host, pass_host

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group()
def verify() -> None:
    """Clinician verification: bulk attestation from an organisation's roster."""


@verify.command("import")
@click.argument("roster", type=_FILE)
@click.option("--by", "attested_by", required=True,
              help="Matrix ID of the organisation admin attesting the roster.")
@click.option("--days", type=int, default=GatekeeperConfig().credential_days, show_default=True,
              help="How long the credentials last.")
@pass_host
def verify_import(host: Host, roster: Path, attested_by: str, days: int) -> None:
    """Verify every clinician in ROSTER (CSV: matrix_id, npi, licence_state,
    licence_number, checked). Each row is checked against the provider registry
    and each Matrix ID of this homeserver must have an account there (the
    homeserver must be running); rows that fail are listed with the reason and
    change nothing."""
    url = host.settings.homeserver.url
    server = host.settings.homeserver.server_name

    def accounts(user_ids: list[str]) -> set[str]:
        local = [u for u in user_ids if u.endswith(f":{server}")]
        remote = {u for u in user_ids if not u.endswith(f":{server}")}  # no federation here
        try:
            return asyncio.run(existing_accounts(url, local)) | remote
        except (OSError, aiohttp.ClientError, HomeserverError) as error:
            raise click.ClickException(
                f"cannot check the roster's accounts on the homeserver at {url} ({error}); "
                "is `curbside up` running?") from None

    try:
        result = import_roster(host.engine, roster, attested_by, audit=host.audit,
                               config=GatekeeperConfig(credential_days=days), accounts=accounts)
    except (RosterFormatError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"verified {result.imported} clinician(s); {len(result.rejections)} row(s) refused")
    for rejection in result.rejections:
        click.echo(f"  line {rejection.line} ({rejection.matrix_id or '-'}): {rejection.reason}")


@click.group()
def verifiers() -> None:
    """The credentialing team: who attests clinicians' identities, in which room."""


@verifiers.command("add")
@click.argument("user_id")
@pass_host
def verifiers_add(host: Host, user_id: str) -> None:
    """Put USER_ID (@name:server) on the credentialing team.

    The running gatekeeper creates the encrypted "Credentialing" room if there
    is none (or uses bots.gatekeeper.options.verifiers_room), invites USER_ID
    and posts every verification request that is waiting. Nothing to restart.
    """
    if not (user_id.startswith("@") and ":" in user_id):
        raise click.ClickException(f"{user_id!r} is not a Matrix ID like @dana:example.org")
    with session_scope(host.engine) as session:
        added = credentialing.add_verifier(session, host.audit, user_id, by="operator:cli",
                                           now=datetime.now(UTC))
        room = credentialing.room_of(
            session, host.settings.bots["gatekeeper"].options.get("verifiers_room"))
    if not added:
        click.echo(f"{user_id} is already on the credentialing team")
        return
    where = f"to the credentialing room {room}" if room else (
        "to a new encrypted room named 'Credentialing'")
    click.echo(f"added {user_id}; the gatekeeper invites them {where} within a few "
               "seconds while `curbside up` runs (or as soon as it next starts)")


@verifiers.command("list")
@pass_host
def verifiers_list(host: Host) -> None:
    """The credentialing team, and whether each has been invited to the room."""
    with session_scope(host.engine) as session:
        room = credentialing.room_of(
            session, host.settings.bots["gatekeeper"].options.get("verifiers_room"))
        team = [(v.user_id, v.invited_room_id == room and room is not None)
                for v in credentialing.verifiers(session)]
    click.echo(f"credentialing room: {room or 'not created yet'}")
    for user, invited in team:
        click.echo(f"  {user}  {'invited' if invited else 'invite pending'}")
    if not team:
        click.echo("  nobody yet: curbside verifiers add @verifier:server")


@click.group()
def registry() -> None:
    """The provider registry (a copy of CMS NPPES and the NUCC taxonomy)."""


@registry.command("import")
@click.argument("path", type=_FILE)
@pass_host
def registry_import(host: Host, path: Path) -> None:
    """Import a monthly or weekly NPPES data file (npidata_pfile_*.csv)."""
    try:
        import_command(host.engine, path)
    except NppesFormatError as error:
        raise click.ClickException(str(error)) from None


@registry.command("import-taxonomy")
@click.argument("path", type=_FILE)
@pass_host
def registry_import_taxonomy(host: Host, path: Path) -> None:
    """Load the NUCC Health Care Provider Taxonomy code set (CSV)."""
    try:
        taxonomy_command(host.engine, path)
    except NuccFormatError as error:
        raise click.ClickException(str(error)) from None


@registry.command("generate")
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--rows", type=int, required=True, help="Data rows to write.")
@click.option("--seed", type=int, default=0, show_default=True)
def registry_generate(output: Path, rows: int, seed: int) -> None:
    """Write a synthetic NPPES data file (for demos and benchmarks)."""
    generate_command(output, rows, seed=seed)
