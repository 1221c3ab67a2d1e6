"""`jisseki backfill`: evaluate month by month as of each month end, for a year landed after the fact.

The warehouse keeps monthly figures, so a fiscal year's figure as it stood at any month end can be
derived from them, by kind, the same way each measure builds its fiscal-year figure; the months themselves go
to the evaluator too, as a seasonal pace reads last year's."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from jisseki.catalog import Catalog, Indicator
from jisseki.core.model import CITY, Figure
from jisseki.core.periods import fiscal_year, fy_end, fy_label, fy_months, month_end, month_label, months_between
from jisseki.evaluate import Verdict, evaluate


def month_ends(first: date, last: date) -> list[date]:
    return [month_end(m) for m in months_between(first, last) if month_end(m) <= last]


def figures_as_of(figures: Iterable[Figure], catalog: Catalog, day: date) -> list[Figure]:
    """City figures as they stood at `day` (a month end): each indicator's fiscal-year figures of this year
    and the last (and of its plan's earlier years, which the plan accumulates), and its complete months of
    both years and the year before (a seasonal pace projects by the previous year's months; last year's
    verdict too)."""
    city = {f.key[:2]: f for f in figures if f.scope == CITY}
    this = fiscal_year(day)
    out = []
    for ind in catalog.indicators:
        first = min(this - 1, ind.plan.first) if ind.plan is not None else this - 1
        for fy in range(first, this + 1):
            figure = _fiscal_year(ind, fy, min(day, fy_end(fy)), city)
            if figure is not None:
                out.append(figure)
        months = (city.get((ind.id, month_label(m))) for fy in (this - 2, this - 1, this) for m in fy_months(fy)
                  if month_end(m) <= day)
        out.extend(m for m in months if m is not None)
    return out


def _fiscal_year(ind: Indicator, fy: int, day: date, city: dict[tuple[str, str], Figure]) -> Figure | None:
    found = [city.get((ind.id, month_label(m))) for m in fy_months(fy) if month_end(m) <= day]
    months = [m for m in found if m is not None]
    label = fy_label(fy)
    if not months:
        kept = city.get((ind.id, label))  # a figure entered for the year as a whole (manual workbook)
        return kept if kept is not None and kept.as_of <= day else None
    last = months[-1]
    if ind.kind == "ratio" and not ind.accumulates:
        num, den = sum(m.numerator or 0 for m in months), sum(m.denominator or 0 for m in months)
        return Figure(ind.id, label, CITY, last.as_of, num / den, num, den) if den else None
    if ind.kind == "count_per_fy":
        return Figure(ind.id, label, CITY, last.as_of, sum(m.value for m in months))
    if ind.kind in ("hours_per_month", "mean"):
        # A mean of the year so far: of its months, each weighing the same (a month's figure is its mean,
        # the warehouse keeps no count of its rows; exact for a measure declared as a mean of months).
        return Figure(ind.id, label, CITY, last.as_of, sum(m.value for m in months) / len(months))
    return Figure(ind.id, label, CITY, last.as_of, last.value, last.numerator, last.denominator)


def backfill(figures: list[Figure], catalog: Catalog, first: date, last: date) -> list[Verdict]:
    verdicts = []
    for day in month_ends(first, last):
        verdicts.extend(evaluate(figures_as_of(figures, catalog, day), catalog, day))
    return verdicts


STATUS_MARK = {"achieved": "◎", "on_track": "○", "at_risk": "△", "missed": "×", "no_data": "－"}


def history_table(verdicts: list[Verdict]) -> str:
    days = sorted({v.as_of for v in verdicts})
    lines = ["凡例: ◎達成 ○順調 △要注意 ×未達成 －データなし",
             "KPI ID / 年度".ljust(38) + " ".join(f"{d:%y-%m}" for d in days)]
    for key in dict.fromkeys((v.kpi_id, v.fiscal_year) for v in verdicts):
        marks = {v.as_of: STATUS_MARK[v.status] for v in verdicts if (v.kpi_id, v.fiscal_year) == key}
        lines.append(f"{key[0]} {key[1]}".ljust(38) + " ".join(marks.get(d, " ").center(5) for d in days))
    return "\n".join(lines) + "\n"
