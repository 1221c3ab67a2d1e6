"""KPI myna_moveout_share: share of valid moving-out notifications filed via the MyNa Portal."""
from __future__ import annotations

from collections import defaultdict
from datetime import date

from connectors.records import Record
from jisseki.model import CITY, Figure
from jisseki.periods import fiscal_year, fy_end, fy_label, month_end, month_label

KPI = "myna_moveout_share"
MYNA = "マイナポータル"


class MoveoutShare:
    """One notification per (区コード, 受付番号) across all files: its first row gives date and route;
    a withdrawal on any row removes it from everything."""

    def __init__(self, as_of: date) -> None:
        self.as_of = as_of
        self.first: dict[tuple[str, str], tuple[date, str, bool, bool]] = {}

    def add(self, record: Record) -> None:
        f = record.fields
        withdrawn = f["withdrawn"] == "1"
        kept = self.first.get(record.key)
        if kept is None:
            self.first[record.key] = (f["reception_date"], f["ward_code"], f["route"] == MYNA, withdrawn)
        elif withdrawn and not kept[3]:
            self.first[record.key] = (*kept[:3], True)

    def figures(self) -> list[Figure]:
        counts: dict[tuple[str, str, date], list[int]] = defaultdict(lambda: [0, 0])
        for day, ward, myna, withdrawn in self.first.values():
            if withdrawn or day > self.as_of:
                continue
            for period, last in ((month_label(day), month_end(day)), (fy_label(fiscal_year(day)), fy_end(fiscal_year(day)))):
                for scope in (CITY, ward):
                    tally = counts[(period, scope, min(last, self.as_of))]
                    tally[0] += myna
                    tally[1] += 1
        return [Figure(KPI, period, scope, as_of, num / den, float(num), float(den))
                for (period, scope, as_of), (num, den) in sorted(counts.items())]

    def max_event_date(self) -> date | None:
        return max((day for day, *_ in self.first.values() if day <= self.as_of), default=None)
