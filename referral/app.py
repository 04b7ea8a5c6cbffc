"""A :class:`ReferralEnv` from what the ``curbside`` command provides.

The ``curbside`` CLI owns configuration; its context object (a
:class:`curbside.host.Host`) already offers a migrated database, the installed
PHI cipher, the audit log and the settings. Commands here ask for exactly that
through the Protocol, so this package never imports the CLI (which sits above it).
"""

from __future__ import annotations

from curbside.host import Host
from referral.cases import ReferralEnv
from referral.patient_index import derive_index_key


def env_from_app(app: Host) -> ReferralEnv:
    """A ReferralEnv from the CLI context; installs the PHI cipher on the way."""
    _ = app.cipher  # the context installs the cipher when first asked for it
    return ReferralEnv(
        audit=app.audit, index_key=derive_index_key(app.settings.secrets.master_key_bytes)
    )
