"""What the referral CLI commands need from the ``curbside`` command's context.

The ``curbside`` CLI owns configuration; its context object already offers a
migrated database, the installed PHI cipher, the audit log and the settings.
Commands here ask for exactly that through a Protocol, so this package never
imports the CLI (which sits above it).
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import Engine

from curbside.audit import AuditLog
from curbside.phi import FieldCipher
from curbside.settings import Settings
from referral.cases import ReferralEnv
from referral.patient_index import derive_index_key


class ReferralApp(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def engine(self) -> Engine: ...

    @property
    def cipher(self) -> FieldCipher: ...

    @property
    def audit(self) -> AuditLog: ...


def env_from_app(app: ReferralApp) -> ReferralEnv:
    """A ReferralEnv from the CLI context; installs the PHI cipher on the way."""
    _ = app.cipher  # the context installs the cipher when first asked for it
    return ReferralEnv(
        audit=app.audit, index_key=derive_index_key(app.settings.secrets.master_key_bytes)
    )
