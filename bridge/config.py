"""What the bridge is configured with: plain values the CLI maps from settings.

The bridge bot and every puppet run the foundation's E2EE runtime; they
share ``runtime`` (database, PHI cipher, pickle key) and each keeps its nio
store in its own folder under ``runtime.store_dir``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from bridge.registration import REGISTRATION_ID
from curbside.matrix.config import RuntimeConfig


@dataclass(frozen=True, slots=True)
class BridgeConfig:
    server_name: str
    sender_localpart: str
    as_token: str
    hs_token: str
    port: int
    runtime: RuntimeConfig
    host: str = "127.0.0.1"
    appservice_id: str = REGISTRATION_ID
    feed_interval: float = 0.5  # seconds between polls of the fax status/inbound feeds

    @property
    def bot_user_id(self) -> str:
        return f"@{self.sender_localpart}:{self.server_name}"

    def runtime_for(self, localpart: str) -> RuntimeConfig:
        """The shared runtime settings with this account's own nio store folder."""
        return dataclasses.replace(self.runtime, store_dir=self.runtime.store_dir / localpart)
