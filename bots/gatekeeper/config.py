"""What an operator can tune about the gatekeeper, with safe defaults.

The CLI maps the ``bots.gatekeeper`` YAML section onto :class:`GatekeeperConfig`;
tests build it directly. Nothing here reads files or the environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bots.gatekeeper.fax_code import FaxCodeLimits


@dataclass(frozen=True, slots=True)
class GatekeeperConfig:
    """Settings of the gatekeeper bot.

    ``verifiers_room``: room id of the credentialing staff's room; attestation
    requests are posted there and ``!approve``/``!deny``/``!revoke`` are only
    accepted there. ``allowed_servers``: homeservers admitted by the server ACL
    of verified rooms (the bot's own server is always added).
    ``credential_days``: how long an approval lasts. ``reminder_days``: days
    before expiry on which the clinician is reminded. ``sweep_interval``:
    seconds between sweeps that remove members whose credential ended (keep it
    well under 60). ``max_attempts``: wrong answers to one question before a
    verification request is closed (slows guessing names and licences).
    ``join_request_hours``: how long a ``!join`` request waits for a room owner's
    answer before it lapses (the requester is told).
    ``fax_code_minutes`` / ``fax_codes_per_day`` / ``fax_code_tries``: verification
    by fax (``!faxcode``): how long a code faxed to the NPPES practice fax lives,
    how many codes a day one NPI and one account may be sent (each), and how
    many wrong codes one code takes.
    """

    verifiers_room: str | None = None
    allowed_servers: tuple[str, ...] = ()
    credential_days: int = 365
    reminder_days: tuple[int, ...] = (30, 7)
    sweep_interval: float = 20.0
    max_attempts: int = 5
    directory_limit: int = 20
    join_request_hours: float = 72.0
    fax_code_minutes: int = 15
    fax_codes_per_day: int = 3
    fax_code_tries: int = 5

    def __post_init__(self) -> None:
        if self.credential_days < 1:
            raise ValueError("credential_days must be at least 1")
        if self.sweep_interval <= 0 or self.sweep_interval > 60:
            raise ValueError("sweep_interval must be between 0 and 60 seconds")
        if any(days < 1 for days in self.reminder_days):
            raise ValueError("reminder_days must be positive")
        if self.join_request_hours <= 0:
            raise ValueError("join_request_hours must be positive")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if min(self.fax_code_minutes, self.fax_codes_per_day, self.fax_code_tries) < 1:
            raise ValueError("fax_code_minutes, fax_codes_per_day and fax_code_tries must "
                             "be at least 1")

    @property
    def fax_code_limits(self) -> FaxCodeLimits:
        return FaxCodeLimits(lifetime=timedelta(minutes=self.fax_code_minutes),
                             per_npi_per_day=self.fax_codes_per_day,
                             per_account_per_day=self.fax_codes_per_day,
                             tries=self.fax_code_tries)
