"""Fiscal years (年度), months and the Japan-time clock every contract uses."""
from __future__ import annotations

import calendar
import re
import unicodedata
from datetime import date, datetime, timedelta, timezone

from jisseki.core.errors import UsageError

JST = timezone(timedelta(hours=9), "Asia/Tokyo")


def fiscal_year(day: date) -> int:
    return day.year if day.month >= 4 else day.year - 1


def fy_start(fy: int) -> date:
    return date(fy, 4, 1)


def fy_end(fy: int) -> date:
    return date(fy + 1, 3, 31)


def fy_label(fy: int) -> str:
    return f"FY{fy}"


REIWA_BASE = 2018   # 令和1年度 (元年度) is FY2019
# How people write a fiscal year, after NFKC (full-width digits and letters made plain): the workbook's 年度 column
# (contract 6) and the CLI's --fy read the same forms.
FISCAL_YEAR_FORMS = (
    (re.compile(r"(\d{4})"), 0),
    (re.compile(r"FY(\d{4})", re.IGNORECASE), 0),
    (re.compile(r"令和(\d{1,2}|元)年度"), REIWA_BASE),
    (re.compile(r"R(\d{1,2}|元)", re.IGNORECASE), REIWA_BASE),
)
# 令和7 without 年度: the CLI takes it (nobody types 年度 after --fy); the workbook's drop-down never offers it.
BARE_ERA = (re.compile(r"令和(\d{1,2}|元)"), REIWA_BASE)


def fiscal_year_text(text: str, bare_era: bool = False) -> int | None:
    """2025, FY2025, fy2025, 令和7年度, R7, r7, 令和元年度, full-width alike (and 令和7 with bare_era), else None.
    The workbook reader's rule: an era number is not range-checked here (R0 reads as 2018)."""
    plain = unicodedata.normalize("NFKC", text).strip()
    for pattern, base in FISCAL_YEAR_FORMS + ((BARE_ERA,) if bare_era else ()):
        if m := pattern.fullmatch(plain):
            return base + (1 if m[1] == "元" else int(m[1]))
    return None


def parse_fiscal_year(text: str) -> int:
    """A fiscal year as --fy takes it: any form of fiscal_year_text, 令和 from 元 (1) to 99, years 1900–2199.
    A year with no data (1999) is a year: what it has is for the command to say."""
    fy = fiscal_year_text(text, bare_era=True)
    era_zero = re.fullmatch(r"(令和|R)0+(年度)?", unicodedata.normalize("NFKC", text).strip(), re.IGNORECASE)
    if fy is None or era_zero or not 1900 <= fy <= 2199:
        raise UsageError(f"年度 {text!r} は読めません",
                         "2025・FY2025・令和7年度・令和7・R7 のいずれかの形で指定してください"
                         "（令和は元年度〜99年度、西暦は1900〜2199年度）")
    return fy


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


def now_utc() -> datetime:
    """The one clock: every stamp the warehouse, the alerts and the crawls write, and today in Japan."""
    return datetime.now(timezone.utc)


def today_jst(now: datetime | None = None) -> date:
    return (now or now_utc()).astimezone(JST).date()


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
