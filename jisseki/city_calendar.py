"""The city's calendar: the days Osaka City offices are open, so that lateness is counted in days someone works.

Closed: Saturdays, Sundays, national holidays (祝日, 振替休日 and 国民の休日, from the maintained `holidays`
package: a hand-kept list goes stale the year nobody updates it), the year-end closure 12/29–1/3, and the
extra closed days the config names."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import holidays

WEEKDAYS_JA = "月火水木金土日"
YEAR_END_CLOSURE = frozenset({(12, 29), (12, 30), (12, 31), (1, 1), (1, 2), (1, 3)})  # (month, day)
CLOSED_BY_CONFIG = "臨時の閉庁日（設定）"
YEAR_END = "年末年始"


class CityCalendar:
    def __init__(self, closed_days: Iterable[date] = ()) -> None:
        self.closed_days = frozenset(closed_days)
        # Japanese names, whatever the process's locale; each year is filled in on its first lookup.
        self._national = holidays.Japan(language="ja")

    def closed_reason(self, day: date) -> str | None:
        """Why the offices are closed that day, in Japanese (the holiday's own name first), or None."""
        name = self._national.get(day)
        if name:
            return name
        if (day.month, day.day) in YEAR_END_CLOSURE:
            return YEAR_END
        if day.weekday() >= 5:
            return f"{WEEKDAYS_JA[day.weekday()]}曜日"
        if day in self.closed_days:
            return CLOSED_BY_CONFIG
        return None

    def is_business_day(self, day: date) -> bool:
        return self.closed_reason(day) is None

    def business_days_after(self, last: date, as_of: date) -> int:
        """The business days after `last` up to and including `as_of`; 0 when as_of is not after last."""
        return sum(1 for n in range(1, (as_of - last).days + 1) if self.is_business_day(last + timedelta(days=n)))


def day_label(day: date) -> str:
    """2025-12-26（金）"""
    return f"{day.isoformat()}（{WEEKDAYS_JA[day.weekday()]}）"
