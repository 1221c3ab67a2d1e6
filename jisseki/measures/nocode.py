"""KPI nocode_operations: 業務 whose first no-code app went into operation, per fiscal year."""
from __future__ import annotations

from collections import Counter
from datetime import date

from jisseki.core.model import CITY, Figure
from jisseki.core.periods import fiscal_year, fy_end, fy_label, fy_months, fy_start, month_end, month_label
from jisseki.core.records import Record

KPI = "nocode_operations"
OPERATING = {"in_operation", "retired"}


class NocodeOperations:
    """An app id counts once (its later copy in the crawl wins); a 業務 counts once, in the fiscal
    year of its earliest app to go into operation; draft and testing apps never count."""

    def __init__(self, as_of: date) -> None:
        self.as_of = as_of
        self.apps: dict[str, tuple[str, str, date | None]] = {}

    def add(self, record: Record) -> None:
        f = record.fields
        self.apps[record.key] = (f["business_id"], f["status"], f["operation_started_on"])

    def starts(self) -> dict[str, date]:
        first: dict[str, date] = {}
        for business, status, started in self.apps.values():
            if status in OPERATING and started is not None and (business not in first or started < first[business]):
                first[business] = started
        return first

    def figures(self) -> list[Figure]:
        starts = [d for d in self.starts().values() if d <= self.as_of]
        if not starts:
            return []
        by_month = Counter(month_label(d) for d in starts)
        by_fy = Counter(fiscal_year(d) for d in starts)
        out = []
        for fy in range(fiscal_year(min(starts)), fiscal_year(self.as_of) + 1):
            if fy_start(fy) > self.as_of:
                break
            for month in fy_months(fy):
                if month > self.as_of:
                    break
                out.append(Figure(KPI, month_label(month), CITY, min(month_end(month), self.as_of),
                                  float(by_month[month_label(month)])))
            out.append(Figure(KPI, fy_label(fy), CITY, min(fy_end(fy), self.as_of), float(by_fy[fy])))
        return out

    def max_event_date(self) -> date | None:
        return None
