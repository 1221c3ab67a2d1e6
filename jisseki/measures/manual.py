"""KPIs entered by departments (contract 6): per KPI and fiscal year, the entry with the latest 入力日, with
its 根拠 and 所見 (the 所見 of that entry alone: an older row's note does not outlive its figure)."""
from __future__ import annotations

from datetime import date

from jisseki.core.model import CITY, Figure
from jisseki.core.periods import fy_end, fy_label
from jisseki.core.records import Record


class ManualEntries:
    def __init__(self, as_of: date) -> None:
        self.as_of = as_of
        self.latest: dict[tuple[str, int], tuple[date, float, str, str]] = {}

    def add(self, record: Record) -> None:
        f = record.fields
        kept = self.latest.get(record.key)
        if kept is None or f["entered_on"] >= kept[0]:  # ties: the later file, then the later row
            # 所見 is optional (contract 6): a record without it has none
            self.latest[record.key] = (f["entered_on"], f["value"], f["evidence"], f.get("commentary", ""))

    def figures(self) -> list[Figure]:
        return [Figure(kpi, fy_label(fy), CITY, min(entered, fy_end(fy)), value, evidence=evidence,
                       commentary=commentary)
                for (kpi, fy), (entered, value, evidence, commentary) in sorted(self.latest.items())]

    def max_event_date(self) -> date | None:
        return max((entered for entered, *_ in self.latest.values()), default=None)
