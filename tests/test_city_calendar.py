"""The city's calendar: which days the offices are closed, and how many business days have passed."""
from __future__ import annotations

from datetime import date

import pytest

from jisseki.city_calendar import CLOSED_BY_CONFIG, YEAR_END, CityCalendar, day_label

CITY = CityCalendar()
WITH_EXTRA = CityCalendar([date(2026, 1, 5), date(2026, 8, 14)])


@pytest.mark.parametrize("day, reason", [
    # weekends
    (date(2026, 1, 10), "土曜日"),
    (date(2026, 1, 11), "日曜日"),
    (date(2025, 12, 28), "日曜日"),
    # the year-end closure, weekday or not, and New Year's Day under its own name
    (date(2025, 12, 29), YEAR_END),
    (date(2025, 12, 31), YEAR_END),
    (date(2026, 1, 1), "元日"),
    (date(2026, 1, 2), YEAR_END),
    (date(2026, 1, 3), YEAR_END),
    (date(2026, 12, 29), YEAR_END),
    # national holidays from the library, the computed ones included
    (date(2026, 1, 12), "成人の日"),        # second Monday of January
    (date(2026, 2, 23), "天皇誕生日"),
    (date(2026, 3, 20), "春分の日"),
    (date(2026, 4, 29), "昭和の日"),
    (date(2026, 5, 4), "みどりの日"),
    (date(2026, 5, 5), "こどもの日"),
    (date(2025, 11, 24), "振替休日"),       # 勤労感謝の日 2025-11-23 was a Sunday
    (date(2026, 5, 6), "振替休日"),         # 憲法記念日 2026-05-03 was a Sunday
    (date(2027, 3, 22), "振替休日"),        # 春分の日 2027-03-21 is a Sunday
    (date(2026, 9, 21), "敬老の日"),
    (date(2026, 9, 22), "国民の休日"),       # a weekday between two holidays
    (date(2026, 9, 23), "秋分の日"),
    # business days, also right next to closed ones
    (date(2025, 12, 26), None),
    (date(2026, 1, 5), None),
    (date(2026, 1, 13), None),
    (date(2026, 4, 30), None),
    (date(2026, 5, 7), None),
    (date(2026, 9, 24), None),
    (date(2026, 12, 28), None),
])
def test_closed_days(day: date, reason: str | None) -> None:
    assert CITY.closed_reason(day) == reason
    assert CITY.is_business_day(day) is (reason is None)


@pytest.mark.parametrize("day, reason", [
    (date(2026, 1, 5), CLOSED_BY_CONFIG),
    (date(2026, 8, 14), CLOSED_BY_CONFIG),
    (date(2026, 1, 6), None),
    (date(2026, 1, 4), "日曜日"),
])
def test_an_extra_closed_day_from_the_config(day: date, reason: str | None) -> None:
    assert WITH_EXTRA.closed_reason(day) == reason


@pytest.mark.parametrize("calendar, last, as_of, business_days", [
    (CITY, date(2026, 4, 20), date(2026, 4, 24), 4),      # an ordinary week
    (CITY, date(2026, 4, 24), date(2026, 4, 24), 0),      # data of the as-of day itself
    (CITY, date(2026, 4, 24), date(2026, 4, 20), 0),      # data newer than the as-of date
    (CITY, date(2026, 4, 24), date(2026, 4, 27), 1),      # over a weekend
    # 年末年始: the last day Friday 12/26; 12/27 to 1/4 is closed, 1/12 is 成人の日
    (CITY, date(2025, 12, 26), date(2025, 12, 29), 0),
    (CITY, date(2025, 12, 26), date(2026, 1, 4), 0),
    (CITY, date(2025, 12, 26), date(2026, 1, 5), 1),
    (CITY, date(2025, 12, 26), date(2026, 1, 7), 3),
    (CITY, date(2025, 12, 26), date(2026, 1, 8), 4),
    (CITY, date(2025, 12, 26), date(2026, 1, 12), 5),
    (CITY, date(2025, 12, 26), date(2026, 1, 13), 6),
    (WITH_EXTRA, date(2025, 12, 26), date(2026, 1, 8), 3),
    (WITH_EXTRA, date(2025, 12, 26), date(2026, 1, 9), 4),
    # Golden Week 2026: 4/29 昭和の日, 5/2–5/3 weekend, 5/4–5/5 holidays, 5/6 振替休日
    (CITY, date(2026, 4, 28), date(2026, 4, 29), 0),
    (CITY, date(2026, 4, 28), date(2026, 5, 1), 2),
    (CITY, date(2026, 5, 1), date(2026, 5, 6), 0),
    (CITY, date(2026, 4, 28), date(2026, 5, 7), 3),
    (CITY, date(2026, 4, 28), date(2026, 5, 8), 4),
    # Silver Week 2026: 9/19–9/20 weekend, 9/21 敬老の日, 9/22 国民の休日, 9/23 秋分の日
    (CITY, date(2026, 9, 18), date(2026, 9, 23), 0),
    (CITY, date(2026, 9, 18), date(2026, 9, 24), 1),
])
def test_business_days_after_the_last_data_day(calendar: CityCalendar, last: date, as_of: date,
                                                business_days: int) -> None:
    assert calendar.business_days_after(last, as_of) == business_days


def test_day_label_names_the_weekday() -> None:
    assert day_label(date(2025, 12, 26)) == "2025-12-26（金）"
    assert day_label(date(2026, 1, 4)) == "2026-01-04（日）"
