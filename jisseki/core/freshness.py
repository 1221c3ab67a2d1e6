"""When a source's data is late: one declaration per kind of source, made by its config section's keys and
read by the alert rules, so that no rule keeps its own table of source names."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class NewDataDay:
    """A daily log: late once more than `business_days` of the city's business days pass after its last
    data day (nobody files or uses anything on a day the offices are closed)."""
    business_days: int


@dataclass(frozen=True)
class RecentCrawl:
    """An API whose system runs every day: late once its last successful crawl is more than `days` days old."""
    days: int


@dataclass(frozen=True)
class EntryDue:
    """A workbook filled in once a year: a fiscal year's entry is due by this month and day of the calendar
    year the fiscal year ends in (FY2025 by 2026-04-30 for 4, 30)."""
    month: int
    day: int

    def due(self, fiscal_year: int) -> date:
        return date(fiscal_year + 1, self.month, self.day)


Freshness = NewDataDay | RecentCrawl | EntryDue
