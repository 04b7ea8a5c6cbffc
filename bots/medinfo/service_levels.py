"""Response targets on each sponsor's business calendar, with an injectable clock.

    received ──clamp into business hours──> + N business hours ("4h")
                                            + N business days  ("2d": same time of
                                              day, N working days later)
             ──> due; reminder at REMIND_AT of the way; escalation when due passes

The counting is :class:`curbside.calendar.BusinessCalendar`'s: a business day
is a configured weekday that is not one of the sponsor's holidays, between the
opening and closing time, in the sponsor's time zone.
Everything takes "now" from a :class:`Clock`, so tests move time by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from bots.medinfo.sponsors import Hours
from curbside import calendar as business

REMIND_AT = 0.75  # fraction of the time to the deadline after which the team is reminded


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class ManualClock:
    """A clock the tests set and advance."""

    current: datetime

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """A sponsor's :class:`Hours` on the kernel's business calendar, with its targets.

    A sponsor lists every day its team is closed (``holidays:``), and may sit
    in any country, so no country's public holidays are added to its list.
    """

    hours: Hours

    @property
    def calendar(self) -> business.BusinessCalendar:
        hours = self.hours
        return business.BusinessCalendar(
            timezone=hours.timezone, opens=hours.start, closes=hours.end,
            weekdays=hours.weekdays, country=None, extra_holidays=hours.holidays,
        )

    @property
    def zone(self) -> ZoneInfo:
        return self.calendar.zone

    def due(self, received: datetime, target: str) -> datetime:
        """When an answer is due for a target like "4h" or "2d"."""
        amount, unit = int(target[:-1]), target[-1]
        if unit == "h":
            return self.calendar.add_business_hours(received, amount)
        return self.calendar.add_business_days(received, amount)


@dataclass(frozen=True, slots=True)
class Nudge:
    """What the service-level review decided for one request."""

    request_id: str
    kind: str  # "remind" | "escalate"


def review(request_id: str, routed_at: datetime, due_at: datetime, now: datetime, *,
           reminded: bool, escalated: bool) -> Nudge | None:
    """The next nudge a request needs at ``now``, if any (each happens once)."""
    if now >= due_at and not escalated:
        return Nudge(request_id, "escalate")
    if not reminded and not escalated and now >= routed_at + (due_at - routed_at) * REMIND_AT:
        return Nudge(request_id, "remind")
    return None


def expectation(due_at: datetime, hours: Hours) -> str:
    """How the clinician is told when to expect an answer, in the sponsor's zone."""
    local = due_at.astimezone(ZoneInfo(hours.timezone))
    return local.strftime(f"%a %d %b %Y, %H:%M ({hours.timezone})")
