"""The one place that knows every package: bots, how each is built, migrations.

Packages below ``curbside`` may not import each other upwards; the CLI is the
composition root that puts them together. :data:`BOTS` is the one registry of
bots: ``curbside up`` builds them from it, ``curbside status`` reports on them,
and ``curbside init`` / ``up`` / ``status`` migrate or check the schema of
:func:`migration_locations`, which it feeds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from pydantic import TypeAdapter, ValidationError

from bots.gatekeeper.bot import GatekeeperBot
from bots.gatekeeper.config import GatekeeperConfig
from bots.gatekeeper.fax_code import derive_code_key
from bots.medinfo import metrics as medinfo_metrics
from bots.medinfo.bot import MedinfoBot
from bots.referral_desk.bot import ReferralDeskBot
from bots.referral_desk.config import ReferralDeskConfig
from bridge.bridge import Bridge
from curbside.matrix.bot import Bot
from curbside.matrix.config import BotAccount, RuntimeConfig
from curbside.metrics import OUTBOX_DEPTH, Query
from fax_gateway import metrics as fax_metrics
from fax_gateway.gateway import VERSIONS_DIR as FAX_VERSIONS
from fax_gateway.gateway import Gateway
from referral import MIGRATIONS as REFERRAL_VERSIONS
from referral.app import env_from_app

if TYPE_CHECKING:  # the context migrates with migration_locations(), so it imports us
    from curbside.cli.context import AppContext

T = TypeVar("T")

# What a bot needs beyond its account and runtime (audit log, options, the fax
# gateway) differs per bot, so each is built by its own function.
BotFactory = Callable[["AppContext", BotAccount, RuntimeConfig, Gateway], Bot]


@dataclass(frozen=True)
class BotWiring:
    """One bot as the composition root knows it."""

    bot_class: type[Bot]
    build: BotFactory

    @property
    def migrations(self) -> list[Path]:
        """The Alembic version folders the bot needs before it starts."""
        return self.bot_class.version_locations()


def _bot_options(name: str, options: dict[str, Any], config_type: type[T]) -> T:
    """A bot's `options:` mapping as its config dataclass; errors name the key.

    pydantic validates the dataclass's own field types, so YAML like
    `urgent_after: PT2H` or `business_hours: ["08:00", "17:00"]` just works.
    """
    unknown = sorted(set(options) - {f.name for f in dataclasses.fields(config_type)})  # type: ignore[arg-type]
    if unknown:
        raise click.ClickException(f"bots.{name}.options: unknown key(s) {', '.join(unknown)}")
    try:
        return TypeAdapter(config_type).validate_python(options)
    except ValidationError as exc:
        problems = [
            f"bots.{name}.options.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
            for err in exc.errors()
        ]
        raise click.ClickException("invalid configuration:\n  " + "\n  ".join(problems)) from None


def _gatekeeper(
    app: AppContext, account: BotAccount, runtime: RuntimeConfig, fax_gateway: Gateway
) -> Bot:
    options = _bot_options("gatekeeper", app.settings.bots["gatekeeper"].options, GatekeeperConfig)
    return GatekeeperBot(
        account, runtime, audit=app.audit, settings=options, checkpoints=app.checkpoints,
        checkpoint_every=app.settings.audit.checkpoint_every_seconds, gateway=fax_gateway,
        fax_code_key=derive_code_key(app.settings.secrets.audit_key.encode()),
    )


def _referral_desk(
    app: AppContext, account: BotAccount, runtime: RuntimeConfig, fax_gateway: Gateway
) -> Bot:
    options = app.settings.bots["referral_desk"].options
    desk = _bot_options("referral_desk", options, ReferralDeskConfig)
    return ReferralDeskBot(
        account, runtime, env=env_from_app(app), settings=desk, gateway=fax_gateway,
        fax_inbox_room=app.settings.operator.fax_inbox_room,
    )


def _medinfo(app: AppContext, account: BotAccount, runtime: RuntimeConfig, _: Gateway) -> Bot:
    return MedinfoBot(account, runtime, audit_key=app.settings.secrets.audit_key.encode(),
                      gatekeeper=(app.settings.bot_user_id("gatekeeper")
                                  if "gatekeeper" in app.settings.bots else None))


# Settings key (config `bots:` section) → the bot. `curbside up` starts them all.
BOTS: dict[str, BotWiring] = {
    "gatekeeper": BotWiring(GatekeeperBot, _gatekeeper),
    "referral_desk": BotWiring(ReferralDeskBot, _referral_desk),
    "medinfo": BotWiring(MedinfoBot, _medinfo),
}


def migration_locations() -> list[Path]:
    """Alembic version folders of every package that owns tables."""
    candidates = [FAX_VERSIONS, REFERRAL_VERSIONS, *Bridge.version_locations()]
    for bot in BOTS.values():
        candidates.extend(bot.migrations)
    return list(dict.fromkeys(candidates))


def metric_queries() -> list[Query]:
    """Every series read from the database at scrape time (docs/operations.md)."""
    return [OUTBOX_DEPTH, *fax_metrics.QUERIES, *medinfo_metrics.QUERIES]
