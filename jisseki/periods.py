"""Fiscal years (年度), months and the Japan-time clock every contract uses."""
from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta, timezone

JST = timezone(timedelta(hours=9), "Asia/Tokyo")


def fiscal_year(day: date) -> int:
    return day.year if day.month >= 4 else day.year - 1


def fy_start(fy: int) -> date:
    return date(fy, 4, 1)


def fy_end(fy: int) -> date:
    return date(fy + 1, 3, 31)


def fy_label(fy: int) -> str:
    return f"FY{fy}"


def month_label(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def next_month(day: date) -> date:
    return (month_end(day) + timedelta(days=1))


def months_between(first: date, last: date) -> list[date]:
    """First days of every month from first's month to last's month, inclusive."""
    out, cur = [], month_start(first)
    while cur <= last:
        out.append(cur)
        cur = next_month(cur)
    return out


def fy_months(fy: int) -> list[date]:
    return months_between(fy_start(fy), fy_end(fy))


def yesterday_jst(now: datetime | None = None) -> date:
    now = now or datetime.now(JST)
    return now.astimezone(JST).date() - timedelta(days=1)


def as_utc(moment: datetime) -> datetime:
    """A timestamp read back from the warehouse: SQLite returns UTC without its offset."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def day_start_jst(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=JST)
