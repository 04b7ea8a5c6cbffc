"""The business calendar: holidays, weekends, time zones and the edges of the day."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from curbside.calendar import BusinessCalendar

NEW_YORK = BusinessCalendar(timezone="America/New_York", opens=time(9), closes=time(17))


def local(text: str, calendar: BusinessCalendar = NEW_YORK) -> datetime:
    """A wall-clock time in the calendar's zone, as UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=calendar.zone).astimezone(UTC)


# -- holidays ---------------------------------------------------------------------


def test_us_federal_holidays_are_closed_by_default() -> None:
    # Thanksgiving is Thursday 26 November 2026: one business day after Wednesday is Friday.
    assert NEW_YORK.is_holiday(date(2026, 11, 26))
    assert NEW_YORK.add_business_days(local("2026-11-25T10:00"), 1) == local("2026-11-27T10:00")
    # Independence Day falls on a Saturday; the observed Friday is closed too.
    assert NEW_YORK.add_business_days(local("2026-07-02T10:00"), 1) == local("2026-07-06T10:00")


def test_no_country_observes_only_the_listed_holidays() -> None:
    own = BusinessCalendar(country=None, extra_holidays=(date(2026, 11, 27),))
    assert not own.is_holiday(date(2026, 11, 26))
    assert own.add_business_days(local("2026-11-25T10:00", own), 2) == local(
        "2026-11-30T10:00", own
    )


def test_extra_holidays_add_to_the_public_ones() -> None:
    extra = BusinessCalendar(extra_holidays=(date(2026, 11, 27),))
    assert extra.add_business_days(local("2026-11-25T10:00", extra), 1) == local(
        "2026-11-30T10:00", extra
    )
    assert extra.add_business_hours(local("2026-11-25T16:00", extra), 2) == local(
        "2026-11-30T10:00", extra
    )


def test_subdivision_holidays_follow_the_state() -> None:
    # Patriots' Day (third Monday of April) is a Massachusetts holiday, not a federal one.
    boston = BusinessCalendar(subdivision="MA")
    assert boston.is_holiday(date(2026, 4, 20)) and not NEW_YORK.is_holiday(date(2026, 4, 20))


# -- weekends and the business day --------------------------------------------------


def test_weekends_are_skipped() -> None:
    friday_3pm = local("2026-11-20T15:00")
    assert NEW_YORK.add_business_days(friday_3pm, 1) == local("2026-11-23T15:00")
    assert NEW_YORK.add_business_hours(friday_3pm, 3) == local("2026-11-23T10:00")
    assert NEW_YORK.next_open(local("2026-11-21T12:00")) == local("2026-11-23T09:00")


def test_the_day_opens_at_opening_and_is_closed_at_closing() -> None:
    assert NEW_YORK.next_open(local("2026-11-23T09:00")) == local("2026-11-23T09:00")
    assert NEW_YORK.next_open(local("2026-11-23T08:59")) == local("2026-11-23T09:00")
    assert NEW_YORK.next_open(local("2026-11-23T16:59")) == local("2026-11-23T16:59")
    assert NEW_YORK.next_open(local("2026-11-23T17:00")) == local("2026-11-24T09:00")


def test_hours_that_fill_the_day_end_at_closing() -> None:
    monday_9am = local("2026-11-23T09:00")
    assert NEW_YORK.add_business_hours(monday_9am, 8) == local("2026-11-23T17:00")
    assert NEW_YORK.add_business_hours(monday_9am, timedelta(hours=8, minutes=1)) == local(
        "2026-11-24T09:01"
    )


def test_after_hours_counts_from_the_next_opening() -> None:
    friday_7pm = local("2026-11-20T19:00")
    assert NEW_YORK.add_business_days(friday_7pm, 2) == local("2026-11-25T09:00")
    assert NEW_YORK.add_business_days(friday_7pm, 0) == local("2026-11-23T09:00")


# -- elapsed business time ------------------------------------------------------------


def test_elapsed_time_counts_only_open_hours() -> None:
    friday_4pm, monday_10am = local("2026-11-20T16:00"), local("2026-11-23T10:00")
    assert NEW_YORK.business_time_between(friday_4pm, monday_10am) == timedelta(hours=2)
    assert NEW_YORK.business_time_between(monday_10am, friday_4pm) == timedelta(0)
    monday_8am = local("2026-11-23T08:00")  # before Monday's opening: Monday adds nothing
    assert NEW_YORK.business_time_between(friday_4pm, monday_8am) == timedelta(hours=1)
    # Thanksgiving counts nothing: Wednesday 16:00 to Friday 10:00 is two hours.
    assert NEW_YORK.business_time_between(
        local("2026-11-25T16:00"), local("2026-11-27T10:00")
    ) == timedelta(hours=2)


def test_elapsed_time_undoes_added_hours() -> None:
    start = local("2026-12-23T15:30")
    for hours in (0.5, 4, 13, 40):
        end = NEW_YORK.add_business_hours(start, hours)
        assert NEW_YORK.business_time_between(start, end) == timedelta(hours=hours)


# -- time zones -------------------------------------------------------------------------


def test_the_same_instant_is_open_in_one_zone_and_closed_in_another() -> None:
    los_angeles = BusinessCalendar(timezone="America/Los_Angeles", opens=time(9),
                                   closes=time(17))
    instant = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)  # 17:30 New York, 14:30 Los Angeles
    assert NEW_YORK.next_open(instant) == local("2026-11-23T09:00")
    assert los_angeles.next_open(instant) == instant
    assert los_angeles.add_business_hours(instant, 1) == datetime(2026, 11, 20, 23, 30,
                                                                  tzinfo=UTC)


def test_business_days_keep_the_local_time_across_a_dst_change() -> None:
    # US clocks go back on Sunday 1 November 2026: 10:00 is 14:00 UTC before, 15:00 after.
    friday = datetime(2026, 10, 30, 14, 0, tzinfo=UTC)
    assert NEW_YORK.add_business_days(friday, 1) == datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
    assert NEW_YORK.business_time_between(friday, NEW_YORK.add_business_days(friday, 1)) == (
        timedelta(hours=8)
    )


# -- configuration ------------------------------------------------------------------------


@pytest.mark.parametrize("settings, problem", [
    ({"opens": time(17), "closes": time(9)}, "open before they close"),
    ({"weekdays": (0, 7)}, "weekdays"),
    ({"weekdays": ()}, "weekdays"),
    ({"timezone": "Mars/Olympus_Mons"}, "time zone"),
    ({"country": "ZZ"}, "no public holidays"),
    ({"subdivision": "XX"}, "no public holidays"),
])
def test_unusable_settings_are_refused(settings: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        BusinessCalendar(**settings)  # type: ignore[arg-type]


def test_negative_amounts_are_refused() -> None:
    with pytest.raises(ValueError):
        NEW_YORK.add_business_days(local("2026-11-23T10:00"), -1)
    with pytest.raises(ValueError):
        NEW_YORK.add_business_hours(local("2026-11-23T10:00"), -1)
