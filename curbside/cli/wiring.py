"""The one place that knows every package: bots, migrations, sub-commands.

Packages below ``curbside`` may not import each other upwards; the CLI is the
composition root that puts them together.
"""

from __future__ import annotations

from pathlib import Path

from bots.gatekeeper.bot import GatekeeperBot
from bots.medinfo.bot import MedinfoBot
from bots.referral_desk.bot import ReferralDeskBot
from bridge.bridge import Bridge
from curbside.matrix.bot import Bot
from fax_gateway.gateway import VERSIONS_DIR as FAX_VERSIONS
from referral import MIGRATIONS as REFERRAL_VERSIONS

# Settings key (config `bots:` section) → bot class. `curbside up` starts them all.
BOTS: dict[str, type[Bot]] = {
    "gatekeeper": GatekeeperBot,
    "referral_desk": ReferralDeskBot,
    "medinfo": MedinfoBot,
}


def migration_locations() -> list[Path]:
    """Alembic version folders of every package that owns tables."""
    candidates = [FAX_VERSIONS, REFERRAL_VERSIONS, *Bridge.version_locations()]
    for bot_class in BOTS.values():
        candidates.extend(bot_class.version_locations())
    return list(dict.fromkeys(candidates))
