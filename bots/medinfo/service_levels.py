"""Response targets on each sponsor's business calendar, with an injectable clock.

    received ──clamp into business hours──> + N business hours ("4h")
                                            + N business days  ("2d": same time of
                                              day, N working days later)
             ──> due; reminder at REMIND_AT of the way; escalation when due passes

A business day is a configured weekday that is not a holiday, between the
opening and closing time, in the sponsor's time zone (DST handled by zoneinfo).
Everything takes "now" from a :class:`Clock`, so tests move time by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from bots.medinfo.sponsors import Hours

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
    hours: Hours

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.hours.timezone)

    def is_business_day(self, day: date) -> bool:
        return day.weekday() in self.hours.weekdays and day not in self.hours.holidays

    def _open(self, day: date) -> datetime:
        return datetime.combine(day, self.hours.start, self.zone)

    def _close(self, day: date) -> datetime:
        return datetime.combine(day, self.hours.end, self.zone)

    def next_open_moment(self, moment: datetime) -> datetime:
        """``moment`` if the desk is open then, else the next opening."""
        local = moment.astimezone(self.zone)
        day = local.date()
        if self.is_business_day(day) and self._open(day) <= local < self._close(day):
            return local
        if self.is_business_day(day) and local < self._open(day):
            return self._open(day)
        day += timedelta(days=1)
        while not self.is_business_day(day):
            day += timedelta(days=1)
        return self._open(day)

    def add_business_hours(self, start: datetime, hours: float) -> datetime:
        remaining = timedelta(hours=hours)
        moment = self.next_open_moment(start)
        while True:
            left_today = self._close(moment.date()) - moment
            if remaining <= left_today:
                return (moment + remaining).astimezone(UTC)
            remaining -= left_today
            moment = self.next_open_moment(self._close(moment.date()))

    def add_business_days(self, start: datetime, days: int) -> datetime:
        moment = self.next_open_moment(start)
        day = moment.date()
        for _ in range(days):
            day += timedelta(days=1)
            while not self.is_business_day(day):
                day += timedelta(days=1)
        return datetime.combine(day, moment.timetz()).astimezone(UTC)

    def due(self, received: datetime, target: str) -> datetime:
        """When an answer is due for a target like "4h" or "2d"."""
        amount, unit = int(target[:-1]), target[-1]
        if unit == "h":
            return self.add_business_hours(received, amount)
        return self.add_business_days(received, amount)


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
