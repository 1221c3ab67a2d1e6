"""KPIs entered by departments (contract 6): per KPI and fiscal year, the entry with the latest 入力日."""
from __future__ import annotations

from datetime import date

from jisseki.core.model import CITY, Figure
from jisseki.core.periods import fy_end, fy_label
from jisseki.core.records import Record


class ManualEntries:
    def __init__(self, as_of: date) -> None:
        self.as_of = as_of
        self.latest: dict[tuple[str, int], tuple[date, float, str]] = {}

    def add(self, record: Record) -> None:
        f = record.fields
        kept = self.latest.get(record.key)
        if kept is None or f["entered_on"] >= kept[0]:  # ties: the later file, then the later row
            self.latest[record.key] = (f["entered_on"], f["value"], f["evidence"])

    def figures(self) -> list[Figure]:
        return [Figure(kpi, fy_label(fy), CITY, min(entered, fy_end(fy)), value, evidence=evidence)
                for (kpi, fy), (entered, value, evidence) in sorted(self.latest.items())]

    def max_event_date(self) -> date | None:
        return max((entered for entered, _, _ in self.latest.values()), default=None)
