"""KPI online_procedures: procedures that could be filed online on a day (cumulative count)."""
from __future__ import annotations

from bisect import bisect_right
from datetime import date, datetime

from jisseki.core.model import CITY, Figure
from jisseki.core.periods import fiscal_year, fy_end, fy_label, fy_start, month_end, month_label, months_between
from jisseki.core.records import Record

KPI = "online_procedures"


class OnlineProcedures:
    def __init__(self, as_of: date) -> None:
        self.as_of = as_of
        self.latest: dict[str, tuple[datetime, date, date | None]] = {}

    def add(self, record: Record) -> None:
        f = record.fields
        # The catalog can change while paged: keep the latest updated_at per id (ties: the later page).
        kept = self.latest.get(record.key)
        if kept is None or f["updated_at"] >= kept[0]:
            self.latest[record.key] = (f["updated_at"], f["online_since"], f["retired_on"])

    def count_on(self, day: date) -> int:
        return (bisect_right(self._opened, day.toordinal())
                - bisect_right(self._closed, day.toordinal()))

    def figures(self) -> list[Figure]:
        if not self.latest:
            return []
        spans = [(s, r) for _, s, r in self.latest.values()]
        first = min(s for s, _ in spans)
        # Counted on D when online_since <= D < retired_on: opened minus closed by D.
        self._opened = sorted(s.toordinal() for s, _ in spans)
        self._closed = sorted(r.toordinal() for _, r in spans if r is not None)
        out = []
        for month in months_between(first, self.as_of):
            day = min(month_end(month), self.as_of)
            out.append(Figure(KPI, month_label(month), CITY, day, float(self.count_on(day))))
        for fy in range(fiscal_year(first), fiscal_year(self.as_of) + 1):
            day = min(fy_end(fy), self.as_of)
            if day >= fy_start(fy):
                out.append(Figure(KPI, fy_label(fy), CITY, day, float(self.count_on(day))))
        return out

    def max_event_date(self) -> date | None:
        return None
