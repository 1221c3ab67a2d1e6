"""KPI dataviz_department_share: departments valid on D that used the environment this fiscal year."""
from __future__ import annotations

from datetime import date

from connectors.dataviz_access import DepartmentMaster
from jisseki.core.model import CITY, Figure
from jisseki.core.periods import JST, fiscal_year, fy_end, fy_label, fy_months, fy_start, month_end, month_label
from jisseki.core.records import Record

KPI = "dataviz_department_share"


class DatavizShare:
    def __init__(self, as_of: date, master: DepartmentMaster) -> None:
        self.as_of, self.master = as_of, master
        self.first_access: dict[tuple[int, str], date] = {}  # (fiscal year, department) -> first day used
        self.last_day: date | None = None

    def add(self, record: Record) -> None:
        day = record.fields["accessed_at"].astimezone(JST).date()
        if day > self.as_of:
            return
        self.last_day = day if self.last_day is None else max(self.last_day, day)
        key = (fiscal_year(day), record.key)
        if key not in self.first_access or day < self.first_access[key]:
            self.first_access[key] = day

    def figures(self) -> list[Figure]:
        out = []
        for fy in sorted({fy for fy, _ in self.first_access}):
            ends = [min(month_end(m), self.as_of) for m in fy_months(fy) if m <= self.as_of]
            periods = [month_label(m) for m in fy_months(fy) if m <= self.as_of]
            for period, day in [*zip(periods, ends), (fy_label(fy), min(fy_end(fy), self.as_of))]:
                if figure := self._share(fy, period, day):
                    out.append(figure)
        return out

    def _share(self, fy: int, period: str, day: date) -> Figure | None:
        valid = self.master.valid_at(day)
        used = {dept for (year, dept), first in self.first_access.items()
                if year == fy and dept in valid and fy_start(fy) <= first <= day}
        if not valid:
            return None
        return Figure(KPI, period, CITY, day, len(used) / len(valid), float(len(used)), float(len(valid)))

    def max_event_date(self) -> date | None:
        return self.last_day
