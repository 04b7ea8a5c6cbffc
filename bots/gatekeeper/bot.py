"""The gatekeeper: verifies clinicians and keeps verified rooms verified.

Verification (``!verify``), verified rooms and the directory are built on the
provider registry in :mod:`bots.gatekeeper.registry`; this class is where the
commands a clinician can send the gatekeeper are declared.
"""

from __future__ import annotations

from pathlib import Path

from curbside.matrix.bot import Bot


class GatekeeperBot(Bot):
    """Answers clinicians in a DM; owns the registry tables' migrations."""

    migrations_location = Path(__file__).resolve().parent / "migrations" / "versions"
