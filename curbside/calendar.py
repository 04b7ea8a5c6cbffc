"""One business calendar: when a desk is open, and business time added or elapsed.

    BusinessCalendar(timezone, opens, closes, weekdays, country, extra_holidays)
        a business day  = a listed weekday that is neither a public holiday of
                          ``country`` (the ``holidays`` library; US federal
                          holidays by default, observed days included) nor an
                          extra holiday
        business hours  = opens ≤ local time < closes on a business day,
                          in ``timezone`` (DST handled by zoneinfo)

    next_open(t)                 t if open, else the next opening
    add_business_days(t, n)      same local time of day, n business days on
    add_business_hours(t, h)     h hours of open time on
    business_time_between(a, b)  open time elapsed from a to b

An instant outside business hours counts from the next opening, so a request
sent on Friday evening starts its clock on Monday morning. Every result is in
UTC; durations are measured on the UTC time line, so a DST change between two
openings neither adds nor loses an hour of business time. The referral desk's
escalations and the medical-information desk's response targets both count
on this calendar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

_DAY = timedelta(days=1)


@lru_cache(maxsize=256)
def _public_holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    """A country's public holidays in one year (cached: calendars are built per call)."""
    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year))


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """Opening hours in one time zone, closed on weekends and holidays.

    ``country`` (ISO 3166 alpha-2, with an optional ``subdivision`` such as a
    US state) names the public holidays observed; ``None`` observes only
    ``extra_holidays``, for a desk that lists every closing day itself.
    ``weekdays`` are numbered from Monday = 0. Raises ValueError when the
    zone, country, hours or weekdays are not usable.
    """

    timezone: str = "America/New_York"
    opens: time = time(9, 0)
    closes: time = time(17, 0)
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)
    country: str | None = "US"
    subdivision: str | None = None
    extra_holidays: tuple[date, ...] = ()

    def __post_init__(self) -> None:
        if self.opens >= self.closes:
            raise ValueError("business hours must open before they close")
        if not self.weekdays or any(not 0 <= d <= 6 for d in self.weekdays):
            raise ValueError("business weekdays must be numbers 0 (Monday) to 6 (Sunday)")
        try:
            ZoneInfo(self.timezone)
        except (ValueError, KeyError) as exc:  # ZoneInfoNotFoundError is a KeyError
            raise ValueError(f"unknown time zone {self.timezone!r}") from exc
        if self.country is not None:
            try:
                _public_holidays(self.country, self.subdivision, 2000)
            except NotImplementedError as exc:
                raise ValueError(
                    f"no public holidays known for country {self.country!r} "
                    f"(subdivision {self.subdivision!r})"
                ) from exc

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_holiday(self, day: date) -> bool:
        if day in self.extra_holidays:
            return True
        return self.country is not None and day in _public_holidays(
            self.country, self.subdivision, day.year
        )

    def is_business_day(self, day: date) -> bool:
        return day.weekday() in self.weekdays and not self.is_holiday(day)

    def _opening(self, day: date) -> datetime:
        return datetime.combine(day, self.opens, self.zone)

    def _closing(self, day: date) -> datetime:
        return datetime.combine(day, self.closes, self.zone)

    def _next_business_day(self, day: date) -> date:
        day += _DAY
        while not self.is_business_day(day):
            day += _DAY
        return day

    def next_open(self, moment: datetime) -> datetime:
        """``moment`` (in local time) if the desk is open then, else its next opening."""
        local = moment.astimezone(self.zone)
        day = local.date()
        if self.is_business_day(day):
            if local < self._opening(day):
                return self._opening(day)
            if local < self._closing(day):
                return local
        return self._opening(self._next_business_day(day))

    def add_business_days(self, start: datetime, days: int) -> datetime:
        """The same local time of day as the opening moment, ``days`` business days later."""
        if days < 0:
            raise ValueError("business days to add must not be negative")
        moment = self.next_open(start)
        day = moment.date()
        for _ in range(days):
            day = self._next_business_day(day)
        return datetime.combine(day, moment.time(), self.zone).astimezone(UTC)

    def add_business_hours(self, start: datetime, hours: float | timedelta) -> datetime:
        """The instant when ``hours`` of open time have passed since ``start``.

        Exactly filling a day ends at its closing time, not the next opening.
        """
        remaining = hours if isinstance(hours, timedelta) else timedelta(hours=hours)
        if remaining < timedelta(0):
            raise ValueError("business hours to add must not be negative")
        moment = self.next_open(start).astimezone(UTC)
        while True:
            closing = self._closing(moment.astimezone(self.zone).date()).astimezone(UTC)
            if remaining <= closing - moment:
                return moment + remaining
            remaining -= closing - moment
            moment = self.next_open(closing).astimezone(UTC)

    def business_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Open time from ``start`` to ``end``; zero when ``end`` is not after ``start``."""
        elapsed = timedelta(0)
        if end <= start:
            return elapsed
        day, last = start.astimezone(self.zone).date(), end.astimezone(self.zone).date()
        while day <= last:
            if self.is_business_day(day):
                lo = max(self._opening(day).astimezone(UTC), start.astimezone(UTC))
                hi = min(self._closing(day).astimezone(UTC), end.astimezone(UTC))
                elapsed += max(hi - lo, timedelta(0))
            day += _DAY
        return elapsed
