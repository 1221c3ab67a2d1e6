"""Fiscal years (年度), months and the Japan-time clock every contract uses."""
from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta, timezone

from jisseki.errors import UsageError

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


def today_jst(now: datetime | None = None) -> date:
    return (now or datetime.now(JST)).astimezone(JST).date()


def yesterday_jst(now: datetime | None = None) -> date:
    return today_jst(now) - timedelta(days=1)


def iso_day(text: str) -> date | None:
    """YYYY-MM-DD exactly (date.fromisoformat alone also takes 20260105 and week dates), else None."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def parse_day(text: str) -> date:
    """A date as the CLI and flow parameters take it: YYYY-MM-DD and nothing else."""
    day = iso_day(text)
    if day is None:
        raise UsageError(f"日付 {text!r} は読めません", "YYYY-MM-DD の形で指定してください（例: 2026-03-31）")
    return day


def as_of_day(day: date | None, now: datetime | None = None, option: str = "--as-of") -> date:
    """The as-of date of a run: yesterday (Japan time) by default; a day that has not ended yet in Japan can
    hold no actuals, so a later one is refused before anything is saved."""
    if day is None:
        return yesterday_jst(now)
    today = today_jst(now)
    if day > today:
        raise UsageError(f"{option} {day} は今日（日本時間 {today}）より後の日付です",
                         f"{today} 以前の日付を YYYY-MM-DD で指定してください"
                         f"（省略すると昨日 {today - timedelta(days=1)}）")
    return day


def as_utc(moment: datetime) -> datetime:
    """A timestamp read back from the warehouse: SQLite returns UTC without its offset."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def day_start_jst(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=JST)
