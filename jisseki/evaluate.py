"""The evaluator: a pure function of figures, catalog and as-of date to verdicts.

Projection, one sentence per kind (also stored with each verdict):
- cumulative_count: the year's growth so far, extended linearly to March 31.
- count_per_fy: the count so far, scaled by the share of the year that has passed.
- ratio: the year-to-date ratio, taken to hold for the rest of the year; a ratio that accumulates
  (the share of departments that used something this year) is scaled by the elapsed share, up to 1.
- hours_per_month: the mean of the complete months so far.
- milestone: done stays done; not yet done projects nothing.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import partial

from jisseki.catalog import Catalog, Indicator
from jisseki.core.model import CITY, Figure
from jisseki.core.periods import fy_end, fy_label, fy_start

EPS = 1e-9
METHODS = {
    "cumulative_count": "年度当初からの増加が年度末まで同じ速さで続くと仮定した直線外挿",
    "count_per_fy": "年度内の経過日数の割合で年度末まで比例延長",
    "ratio": "年度累計の比率が年度末まで続くと仮定",
    "ratio_accumulating": "年度内の経過日数の割合で年度末まで比例延長（上限100%）",
    "hours_per_month": "完了した月の月間利用時間の平均",
    "milestone": "完了済みなら1、未完了なら予測なし",
}


@dataclass(frozen=True)
class Verdict:
    kpi_id: str
    fiscal_year: int
    as_of: date
    actual: float | None
    target: float | None
    grade: str | None
    status: str
    projected: float | None
    prior_year_actual: float | None
    data_as_of: date | None
    projection_method: str


def evaluate(figures: Iterable[Figure], catalog: Catalog, as_of: date) -> list[Verdict]:
    fy_figures = {(f.kpi_id, f.period): f for f in figures if f.scope == CITY and f.period.startswith("FY")}
    verdicts = []
    for indicator in catalog.indicators:
        for fy in sorted(indicator.targets):
            if fy_start(fy) <= as_of:
                verdicts.append(_verdict(indicator, fy, as_of, fy_figures))
    return verdicts


def _verdict(ind: Indicator, fy: int, as_of: date, fy_figures: dict[tuple[str, str], Figure]) -> Verdict:
    figure = fy_figures.get((ind.id, fy_label(fy)))
    previous = fy_figures.get((ind.id, fy_label(fy - 1)))
    prior = ind.published_actual(fy - 1)
    if prior is None and previous is not None:
        prior = previous.value
    target = ind.target(fy)
    verdict = partial(Verdict, kpi_id=ind.id, fiscal_year=fy, as_of=as_of, target=target, prior_year_actual=prior,
                      projection_method=METHODS[_method(ind)])
    if figure is None or target is None:
        return verdict(actual=None, grade=None, status="no_data", projected=None, data_as_of=None)
    actual = figure.value
    met = actual >= target - EPS
    complete = as_of >= fy_end(fy) and figure.as_of >= fy_end(fy)
    projected = actual if complete else _project(ind, fy, figure, previous)
    if complete or (ind.kind == "milestone" and met):
        grade, status = ("A", "achieved") if met else ("B", "missed")
    elif ind.kind == "count_per_fy" and met:
        grade, status = None, "achieved"  # a count within the year cannot fall back below the target
    else:
        grade = None
        status = "at_risk" if projected is not None and projected < target - EPS else "on_track"
    return verdict(actual=actual, grade=grade, status=status, projected=projected, data_as_of=figure.as_of)


def _method(ind: Indicator) -> str:
    return "ratio_accumulating" if ind.kind == "ratio" and ind.accumulates else ind.kind


def _project(ind: Indicator, fy: int, figure: Figure, previous: Figure | None) -> float | None:
    elapsed = (figure.as_of - fy_start(fy)).days + 1
    length = (fy_end(fy) - fy_start(fy)).days + 1
    share = min(1.0, max(elapsed, 1) / length)
    if ind.kind == "count_per_fy":
        return figure.value / share
    if ind.kind == "cumulative_count":
        if previous is None or previous.as_of != fy_end(fy - 1):
            return figure.value
        return previous.value + (figure.value - previous.value) / share
    if ind.kind == "milestone":
        return figure.value if figure.value >= 1 else None
    if ind.kind == "ratio" and ind.accumulates:
        return min(1.0, figure.value / share)
    return figure.value
