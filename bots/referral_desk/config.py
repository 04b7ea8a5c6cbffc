"""What an operator can tune about the referral desk, with safe defaults.

The CLI maps the ``bots.referral_desk`` YAML section onto
:class:`ReferralDeskConfig` (keys are the field names); tests build it
directly. Nothing here reads files or the environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta

from curbside.calendar import BusinessCalendar


@dataclass(frozen=True, slots=True)
class ReferralDeskConfig:
    """Settings of the referral desk bot.

    ``coordinator_room``: room id where escalations of unanswered referrals
    are posted (None: the referrer alone is told).
    ``routine_business_days`` / ``urgent_after`` / ``stat_after``: how long a
    sent referral may stay unanswered (neither accepted nor declined) before
    it escalates; routine referrals count business days in ``timezone`` and
    ``business_hours``, urgent and stat ones count wall-clock time.
    ``holiday_country`` (ISO code, None for none; US federal holidays by
    default) and ``extra_holidays`` are the days the desk is closed besides
    weekends: see :class:`curbside.calendar.BusinessCalendar`.
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
    holiday_country: str | None = "US"
    extra_holidays: tuple[date, ...] = ()
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
        self.calendar  # noqa: B018 - raises for unusable hours, weekdays, zone or country

    @property
    def calendar(self) -> BusinessCalendar:
        """The desk's business calendar, on which routine referrals escalate."""
        opens, closes = self.business_hours
        return BusinessCalendar(
            timezone=self.timezone, opens=opens, closes=closes, weekdays=self.business_weekdays,
            country=self.holiday_country, extra_holidays=self.extra_holidays,
        )
