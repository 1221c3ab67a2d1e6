"""KPI myna_moveout_share: share of valid moving-out notifications filed via the MyNa Portal.

One notification per (区コード, 受付番号) across all files: its first row gives date, ward and route;
a withdrawal on any row removes it from everything. The deduplication itself happens in the
notification index (warehouse/notification_index.py); this module turns its per-day counts into figures.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from jisseki.model import CITY, Figure
from jisseki.periods import fiscal_year, fy_end, fy_label, month_end, month_label

KPI = "myna_moveout_share"
MYNA = "マイナポータル"


@dataclass(frozen=True, slots=True)
class DayCount:
    """Notifications whose first row has this reception day, ward and route."""
    day: date
    ward: str
    myna: bool
    withdrawn: bool
    notifications: int


def figures(counts: Iterable[DayCount], as_of: date) -> list[Figure]:
    tallies: dict[tuple[str, str, date], list[int]] = defaultdict(lambda: [0, 0])
    for c in counts:
        if c.withdrawn or c.day > as_of:
            continue
        fy = fiscal_year(c.day)
        for period, last in ((month_label(c.day), month_end(c.day)), (fy_label(fy), fy_end(fy))):
            for scope in (CITY, c.ward):
                tally = tallies[(period, scope, min(last, as_of))]
                tally[0] += c.notifications if c.myna else 0
                tally[1] += c.notifications
    return [Figure(KPI, period, scope, day, num / den, float(num), float(den))
            for (period, scope, day), (num, den) in sorted(tallies.items())]


def max_event_date(counts: Iterable[DayCount], as_of: date) -> date | None:
    """The latest reception day seen up to the as-of date, withdrawn notifications included."""
    return max((c.day for c in counts if c.day <= as_of), default=None)
