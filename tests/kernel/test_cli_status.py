"""`curbside status` reads the schema's state and migrates nothing: a database
one migration behind is reported, with the command that fixes it, and left as it was.
It also says whether the fax bridge and the fax webhooks listen, how deep the fax
queue is (and whether a worker takes it), and whether a verifiers' room is set."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from alembic import command
from click.testing import CliRunner
from sqlalchemy import insert, text

from bots.gatekeeper.models import CredentialingRoom
from curbside.cli import cli
from curbside.cli.wiring import BOTS, migration_locations
from curbside.database import _alembic_config, make_engine
from curbside.homeserver import EmbeddedSynapse, free_port
from curbside.matrix.models import MatrixAccount
from curbside.settings import load_settings
from fax_gateway.models import FaxJob


def _run(config_path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", str(config_path), *args])
    return result.exit_code, result.output


def _versions(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return set(connection.scalars(text("SELECT version_num FROM alembic_version")))
    finally:
        engine.dispose()


@contextmanager
def _listening(*ports: int) -> Iterator[None]:
    """Stand-ins for the bridge's and the webhooks' listeners of a running `curbside up`."""
    sockets = []
    try:
        for port in ports:
            sock = socket.socket()
            sock.bind(("127.0.0.1", port))
            sock.listen()
            sockets.append(sock)
        yield
    finally:
        for sock in sockets:
            sock.close()


def _configure(config_path: Path, homeserver: EmbeddedSynapse, **gatekeeper: object) -> dict:
    config = yaml.safe_load(config_path.read_text())
    config["homeserver"]["url"] = homeserver.url
    config["bridge"]["port"] = free_port()
    config["fax"]["webhook_port"] = free_port()
    config["bots"]["gatekeeper"]["options"].update(gatekeeper)
    config_path.write_text(yaml.safe_dump(config))
    return config


def test_status_reports_the_bridge_the_fax_gateway_and_the_credentialing_room(
    tmp_path: Path, homeserver: EmbeddedSynapse
) -> None:
    config_path = tmp_path / "config" / "curbside.yaml"
    assert _run(config_path, "init")[0] == 0
    config = _configure(config_path, homeserver)
    code, output = _run(config_path, "status")
    assert code == 1
    bridge, webhooks = config["bridge"]["port"], config["fax"]["webhook_port"]
    assert f"bridge      appservice NOT listening on port {bridge}" in output
    assert f"webhooks NOT listening on port {webhooks}" in output
    assert "fax queue   0 job(s) not finished" in output
    assert "credentials no verifiers' room" in output

    settings = load_settings(config_path)
    engine = make_engine(settings.database.url)
    long_ago = datetime.now(UTC) - timedelta(minutes=10)
    with engine.begin() as connection:
        connection.execute(insert(FaxJob).values(
            id="f" * 32, idempotency_key="k", state="queued", transport="loopback",
            to_number="x", destination_hash="h", caller_ident="c", document_ref="d",
            document_sha256="s", attempts=0, next_attempt_at=long_ago,
            deadline_at=long_ago + timedelta(days=1), submitted_by="test",
            created_at=long_ago, updated_at=long_ago,
        ))
    engine.dispose()
    _configure(config_path, homeserver, verifiers_room="!staff:curbside.localhost")
    config = yaml.safe_load(config_path.read_text())
    with _listening(config["bridge"]["port"], config["fax"]["webhook_port"]):
        code, output = _run(config_path, "status")
    assert code == 1, output
    assert f"appservice listening on port {config['bridge']['port']}" in output
    assert f"webhooks listening on port {config['fax']['webhook_port']}" in output
    assert "fax queue   1 job(s) not finished (1 queued)" in output
    assert "fax worker  1 due job(s) no worker has taken for over 2 min" in output
    assert "credentials verifiers' room !staff:curbside.localhost" in output

    # With none configured, the room the gatekeeper made (`curbside verifiers add`) counts.
    _configure(config_path, homeserver, verifiers_room="")
    engine = make_engine(settings.database.url)
    with engine.begin() as connection:
        connection.execute(insert(CredentialingRoom).values(
            id=1, room_id="!made:curbside.localhost", created_at=long_ago))
    engine.dispose()
    code, output = _run(config_path, "status")
    assert "credentials verifiers' room !made:curbside.localhost" in output


def test_status_reports_a_database_behind_and_leaves_it(
    tmp_path: Path, homeserver: EmbeddedSynapse
) -> None:
    config_path = tmp_path / "config" / "curbside.yaml"
    assert _run(config_path, "init")[0] == 0  # config, and the database at head
    config = _configure(config_path, homeserver, verifiers_room="!staff:curbside.localhost")
    settings = load_settings(config_path)
    engine = make_engine(settings.database.url)
    with engine.begin() as connection:  # every bot has run and synced
        for name in BOTS:
            connection.execute(insert(MatrixAccount).values(
                user_id=settings.bot_user_id(name), device_id=f"DEV{name}",
                access_token="token", sync_token="s1",
            ))
    with _listening(config["bridge"]["port"], config["fax"]["webhook_port"]):
        code, output = _run(config_path, "status")
    assert (code, "database    at head") == (0, output.splitlines()[1]), output

    command.downgrade(_alembic_config(engine, migration_locations()), "bridge@-1")
    engine.dispose()
    before = _versions(settings.database.url)

    code, output = _run(config_path, "status")
    assert code == 1, output
    assert "database    bridge: behind, at bridge_" in output
    assert "run `curbside init` to migrate it" in output
    assert output.count("synced") == len(BOTS)  # the database was the only problem
    assert _versions(settings.database.url) == before  # nothing was applied

    assert _run(config_path, "init")[0] == 0  # the command status names fixes it
    with _listening(config["bridge"]["port"], config["fax"]["webhook_port"]):
        code, output = _run(config_path, "status")
    assert (code, "database    at head") == (0, output.splitlines()[1]), output
