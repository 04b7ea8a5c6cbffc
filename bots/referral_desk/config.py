"""What an operator can tune about the referral desk, with safe defaults.

The CLI maps the ``bots.referral_desk`` YAML section onto
:class:`ReferralDeskConfig` (keys are the field names); tests build it
directly. Nothing here reads files or the environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class ReferralDeskConfig:
    """Settings of the referral desk bot.

    ``coordinator_room``: room id where escalations of unanswered referrals
    are posted (None: the referrer alone is told).
    ``routine_business_days`` / ``urgent_after`` / ``stat_after``: how long a
    sent referral may stay unanswered (neither accepted nor declined) before
    it escalates; routine referrals count business days in ``timezone`` and
    ``business_hours``, urgent and stat ones count wall-clock time.
    ``escalation_levels``: level *n* fires after *n* times the delay, once each.
    ``escalation_interval``: seconds between escalation checks.
    ``organisation_*``: the referring organisation printed on the cover sheet;
    the guided form asks for them only when they are empty here.
    """

    coordinator_room: str | None = None
    routine_business_days: int = 2
    urgent_after: timedelta = timedelta(hours=2)
    stat_after: timedelta = timedelta(minutes=30)
    escalation_levels: int = 2
    escalation_interval: float = 60.0
    timezone: str = "America/New_York"
    business_hours: tuple[time, time] = (time(8, 0), time(17, 0))
    business_weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)  # Monday = 0
    organisation_name: str = ""
    organisation_phone: str = ""
    organisation_fax: str = ""

    def __post_init__(self) -> None:
        if self.routine_business_days < 1:
            raise ValueError("routine_business_days must be at least 1")
        if self.urgent_after <= timedelta(0) or self.stat_after <= timedelta(0):
            raise ValueError("urgent_after and stat_after must be positive")
        if self.escalation_levels < 1:
            raise ValueError("escalation_levels must be at least 1")
        if self.escalation_interval <= 0:
            raise ValueError("escalation_interval must be positive")
        opens, closes = self.business_hours
        if opens >= closes:
            raise ValueError("business_hours must open before they close")
        if not self.business_weekdays or any(not 0 <= d <= 6 for d in self.business_weekdays):
            raise ValueError("business_weekdays must list weekday numbers 0 (Mon) to 6 (Sun)")
        ZoneInfo(self.timezone)  # raises for an unknown zone name

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
