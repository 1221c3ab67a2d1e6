"""KPI myna_moveout_share: share of valid moving-out notifications filed via the MyNa Portal.

One notification per (区コード, 受付番号) across all files: its first row gives date, ward and route;
a withdrawal on any row removes it from everything. The deduplication itself happens in the
notification index (jisseki/moveout/index.py); this module turns its per-day counts into figures.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from jisseki.core.model import CITY, Figure
from jisseki.core.periods import fiscal_year, fy_end, fy_label, month_end, month_label

KPI = "myna_moveout_share"
MYNA = "マイナポータル"


@dataclass(frozen=True, slots=True)
class MonthCount:
    """Valid notifications received in one month (any day of it up to the as-of date) and ward."""
    month: date          # its first day
    ward: str
    myna: int
    notifications: int


def figures(counts: Iterable[MonthCount], as_of: date) -> list[Figure]:
    tallies: dict[tuple[str, str, date], list[int]] = defaultdict(lambda: [0, 0])
    for c in counts:
        fy = fiscal_year(c.month)
        for period, last in ((month_label(c.month), month_end(c.month)), (fy_label(fy), fy_end(fy))):
            for scope in (CITY, c.ward):
                tally = tallies[(period, scope, min(last, as_of))]
                tally[0] += c.myna
                tally[1] += c.notifications
    return [Figure(KPI, period, scope, day, num / den, float(num), float(den))
            for (period, scope, day), (num, den) in sorted(tallies.items())]
