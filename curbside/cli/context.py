"""What every sub-command needs, built once and only when asked for.

Commands that only print help never touch the config; a command that needs
the database migrates it first, so `curbside` works on a fresh data directory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import click
from sqlalchemy import Engine

from curbside import phi
from curbside.audit import AuditLog
from curbside.audit_anchor import CheckpointFile
from curbside.cli.wiring import migration_locations
from curbside.database import make_engine, migrate
from curbside.homeserver import EmbeddedSynapse, HomeserverLayout
from curbside.settings import Settings, SettingsError, load_settings
from fax_gateway.gateway import derive_pepper


@dataclass
class AppContext:
    config_path: Path
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings(self.config_path)
            except SettingsError as exc:
                raise click.ClickException(str(exc)) from None
        return self._settings

    def reload_settings(self) -> None:
        """Read the config file again (after a command wrote into it)."""
        self._settings = None

    @property
    def project_dir(self) -> Path:
        return self.config_path.resolve().parent.parent

    @cached_property
    def engine(self) -> Engine:
        """The database, migrated to the head of every package's branch first."""
        engine = self.unmigrated_engine()
        migrate(engine, migration_locations(), self._migration_keys(engine))
        return engine

    def _migration_keys(self, engine: Engine) -> dict[str, Any]:
        """What version scripts that convert existing rows may ask for.

        ``bridge_0003`` hashes confirmed fax numbers with the gateway's pepper and
        encrypts their digits. The cipher is loaded only if a script asks (it
        needs the kernel's ``phi_keys``, which a fresh database has not got yet).
        """
        secrets = self.settings.secrets
        return {
            "fax_number_pepper": derive_pepper(secrets.audit_key.encode()),
            "phi_cipher": lambda: phi.load_cipher(engine, secrets.master_key_bytes),
        }

    def unmigrated_engine(self) -> Engine:
        """The database as it is, for `status` to report whether it is behind."""
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        return make_engine(self.settings.database.url)

    @cached_property
    def cipher(self) -> phi.FieldCipher:
        try:
            cipher = phi.load_cipher(self.engine, self.settings.secrets.master_key_bytes)
        except phi.PhiKeyError as exc:
            raise click.ClickException(str(exc)) from None
        phi.install_cipher(cipher)
        return cipher

    @cached_property
    def audit(self) -> AuditLog:
        return AuditLog(self.settings.secrets.audit_key.encode())

    @property
    def checkpoints(self) -> CheckpointFile:
        """The signed audit checkpoints (``audit.checkpoint_file``)."""
        return CheckpointFile(self.settings.audit.checkpoint_file,
                              self.settings.secrets.audit_key.encode())

    @property
    def appservice_registration_path(self) -> Path:
        return self.settings.data_dir / "appservice-fax.yaml"

    def homeserver_layout(self, *, verbose: bool = False) -> HomeserverLayout:
        settings = self.settings
        # The verified-room policy runs inside Synapse and reads the same database
        # (docs/synapse-module.md); it is named by path so the CLI never imports Synapse.
        verified_room_policy = {
            "module": "bots.gatekeeper.synapse_module.VerifiedRoomPolicy",
            "config": {
                "database_url": settings.database.url,
                "gatekeeper_user_id": settings.bot_user_id("gatekeeper"),
                "allowed_server_names": [settings.homeserver.server_name],
                "cache_ttl_seconds": 2.0,
            },
        }
        return HomeserverLayout(
            data_dir=settings.data_dir / "homeserver",
            server_name=settings.homeserver.server_name,
            port=settings.homeserver.port,
            registration_shared_secret=settings.homeserver.registration_shared_secret,
            modules=(verified_room_policy,),
            app_service_config_files=(self.appservice_registration_path,),
            log_level="INFO" if verbose else "WARNING",
        )

    def embedded_homeserver(self, *, verbose: bool = False) -> EmbeddedSynapse:
        return EmbeddedSynapse(self.homeserver_layout(verbose=verbose))


pass_app = click.make_pass_decorator(AppContext)
