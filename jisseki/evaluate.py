"""The evaluator: a pure function of figures, catalog and as-of date to verdicts, city-wide and per scope.

Grading, one sentence per kind of target (RULES; stored with each verdict as `rule`):
- at_least / at_most: the year's figure at or above / at or below the target at March 31 is A.
- within: the year's figure inside the band, both bounds included, at March 31 is A.
- change: the target is the baseline year's actual (published, else the warehouse's full-year figure) moved
  by the change, then graded by the direction; no baseline actual, no target, so no grade.
- plan: the count accumulated over the plan's years so far against that year's interim target.
- milestone: done is A at once; with a due date, not done by it (or done after it) is B at once.
Years before the department's first policy are history (a plan's earlier interim targets), not graded.
A count within the year only grows: one already past an at-least target is achieved, past an at-most one
missed, before the year ends.

Projection, one sentence per method (METHODS; stored as `projection_method`):
- cumulative_count: the year's growth so far, extended linearly to March 31.
- count_per_fy: the count so far, scaled by the share of the year that has passed.
- ratio, mean: the year-to-date value, taken to hold for the rest of the year; a ratio that accumulates
  (the share of departments that used something this year) is scaled by the elapsed share, up to 1.
- hours_per_month: the mean of the complete months so far.
- seasonal: the count (or a ratio's numerator and denominator) so far, divided by the share of last
  year's total that last year had reached by the same day.
- progress_ratio: at risk when the plan's progress (accumulated ÷ total) is below the share its length asks
  for by now; projected as count_per_fy.
- milestone: done stays done; not yet done projects nothing.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from jisseki.catalog import ALL_SCOPES, Band, Catalog, Change, Indicator, Target
from jisseki.core.model import CITY, Figure
from jisseki.core.periods import fiscal_year, fy_end, fy_label, fy_months, fy_start, month_end, month_label

EPS = 1e-9
MILESTONE_WARNING = timedelta(days=30)   # a milestone not done this close to its due date is at risk
METHODS = {
    "cumulative_count": "年度当初からの増加が年度末まで同じ速さで続くと仮定した直線外挿",
    "count_per_fy": "年度内の経過日数の割合で年度末まで比例延長",
    "ratio": "年度累計の比率が年度末まで続くと仮定",
    "ratio_accumulating": "年度内の経過日数の割合で年度末まで比例延長（上限100%）",
    "hours_per_month": "完了した月の月間利用時間の平均",
    "mean": "年度累計の平均が年度末まで続くと仮定",
    "milestone": "完了済みなら1、未完了なら予測なし",
    "seasonal": "前年度の同じ時期までに前年度実績の何割に達していたかで年度末まで延長（季節変動を考慮）",
    "seasonal_missing": "前年度の月別実績がそろっていないため、",
    "progress_ratio": "計画期間の累計 ÷ 計画の総量が、経過年数に応じた進捗率（0.1%単位で切上げ）に届いているかで判定",
}
RULES = {
    "at_least": "年度末の実績が目標以上なら達成（A）",
    "at_most": "年度末の実績が目標以下なら達成（A）",
    "within": "年度末の実績が目標の範囲内（下限・上限を含む）なら達成（A）",
    "milestone": "年度末までに完了すれば達成（A）",
    "milestone_due": "期限までに完了すれば達成（A）、期限を過ぎて未完了か期限後の完了は未達成（B）",
    "plan": "計画期間の各年度末に、計画初年度からの累計が中間目標以上なら達成（A）",
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
    scope: str = CITY
    rule: str = ""
    target_low: float | None = None    # a band's bounds (target is then None)
    target_high: float | None = None


def met(direction: str, value: float, target: float | None, low: float | None = None,
        high: float | None = None) -> bool:
    if direction == "within":
        return low is not None and high is not None and low - EPS <= value <= high + EPS
    if target is None:
        return False
    return value <= target + EPS if direction == "at_most" else value >= target - EPS


def evaluate(figures: Iterable[Figure], catalog: Catalog, as_of: date) -> list[Verdict]:
    book = _Book(figures)
    verdicts = []
    first = {d: min(p.fiscal_year for p in catalog.policies if p.department == d) for d in catalog.departments()}
    for indicator in catalog.indicators:
        for fy in indicator.target_years():
            # Years before the department's first policy are history (a plan's earlier interim targets).
            if fy_start(fy) > as_of or fy < first.get(indicator.department, fy):
                continue
            verdicts.append(_verdict(indicator, fy, CITY, as_of, book))
            for scope in _scopes(indicator, fy, book):
                verdicts.append(_verdict(indicator, fy, scope, as_of, book))
    return verdicts


class _Book:
    """The figures by (kpi, period, scope)."""

    def __init__(self, figures: Iterable[Figure]) -> None:
        self.by_key = {f.key: f for f in figures}
        self.scopes: dict[tuple[str, str], set[str]] = {}
        for kpi, period, scope in self.by_key:
            if scope != CITY and period.startswith("FY"):
                self.scopes.setdefault((kpi, period), set()).add(scope)

    def get(self, kpi: str, period: str, scope: str) -> Figure | None:
        return self.by_key.get((kpi, period, scope))

    def full_year(self, ind: Indicator, fy: int, scope: str) -> float | None:
        """A year's actual: the published one (city-wide), else the warehouse's figure counted to March 31."""
        if scope == CITY and ind.published_actual(fy) is not None:
            return ind.published_actual(fy)
        figure = self.get(ind.id, fy_label(fy), scope)
        return figure.value if figure is not None and figure.as_of >= fy_end(fy) else None


def _scopes(ind: Indicator, fy: int, book: _Book) -> list[str]:
    named = [s for s in ind.scope_targets if s != ALL_SCOPES and fy in ind.scope_targets[s]]
    if fy in ind.scope_targets.get(ALL_SCOPES, {}):
        named += sorted(book.scopes.get((ind.id, fy_label(fy)), set()) - set(named))
    return named


def _verdict(ind: Indicator, fy: int, scope: str, as_of: date, book: _Book) -> Verdict:
    figure = book.get(ind.id, fy_label(fy), scope)
    previous = book.get(ind.id, fy_label(fy - 1), scope)
    prior = ind.published_actual(fy - 1) if scope == CITY else None
    if prior is None and previous is not None:
        prior = previous.value
    spec = ind.target_spec(fy, scope)
    target, low, high, rule = _target(ind, fy, scope, spec, book)
    # Last year's months, read once: they choose the method and make the projection.
    profile = _profile(ind, fy - 1, scope, book) if ind.pace == "seasonal" else None
    method = _method(ind, profile)
    base = dict(kpi_id=ind.id, fiscal_year=fy, as_of=as_of, prior_year_actual=prior, scope=scope, rule=rule,
                target=target, target_low=low, target_high=high, projection_method=_method_text(ind, method))
    if _due_in(ind, fy):
        return _milestone_due(ind, figure, as_of, base)
    actual = _actual(ind, fy, scope, figure, book)
    if figure is None or actual is None or (target is None and low is None):
        return Verdict(**base, actual=actual, grade=None, status="no_data", projected=None,  # type: ignore[arg-type]
                       data_as_of=figure.as_of if figure else None)
    ok = met(ind.direction, actual, target, low, high)
    complete = as_of >= fy_end(fy) and figure.as_of >= fy_end(fy)
    projected = actual if complete else _project(ind, fy, figure, previous, method, actual, profile)
    grade: str | None = None
    if complete or (ind.kind == "milestone" and ok):
        grade, status = ("A", "achieved") if ok else ("B", "missed")
    elif ind.kind == "count_per_fy" and ind.direction != "within" and ok == (ind.direction == "at_least"):
        status = "achieved" if ok else "missed"   # a count within the year cannot come back across the target
    elif method == "progress_ratio" and ind.plan is not None:
        years_done = fy - ind.plan.first + _elapsed_share(fy, figure.as_of)
        status = "at_risk" if actual < ind.plan.total * ind.plan.share_by(years_done) - EPS else "on_track"
    else:
        status = "at_risk" if projected is not None and not met(ind.direction, projected, target, low, high) \
            else "on_track"
    return Verdict(**base, actual=actual, grade=grade, status=status, projected=projected,  # type: ignore[arg-type]
                   data_as_of=figure.as_of)


def _target(ind: Indicator, fy: int, scope: str, spec: Target | None,
            book: _Book) -> tuple[float | None, float | None, float | None, str]:
    """The target (or a band's bounds) and the grading rule in one sentence."""
    kind = ("plan" if ind.plan is not None else "milestone_due" if _due_in(ind, fy)
            else "milestone" if ind.kind == "milestone" else ind.direction)
    rule = RULES[kind]
    if ind.due is not None and _due_in(ind, fy):
        rule += f"（期限 {ind.due.isoformat()}）"
    if ind.plan is not None:
        rule += f"（計画 {ind.plan.first}〜{ind.plan.last}年度、総量 {ind.plan.total:g}）"
    if ind.about:
        rule += "。目標は「程度」ですが、目標値どおりに判定します"
    if isinstance(spec, Band):
        return None, spec.low, spec.high, rule
    if isinstance(spec, Change):
        year = spec.baseline_year(fy)
        base = book.full_year(ind, year, scope)
        how = (f"{spec.change:+g}" if spec.change is not None else f"{(spec.change_share or 0) * 100:+g}%")
        if base is None:
            return None, None, None, rule + f"。目標は {year}年度の実績から {how}ですが、その実績がないため目標を決められません"
        return spec.applied(base), None, None, rule + f"。目標は {year}年度の実績 {base:g} から {how}"
    return (float(spec) if spec is not None else None), None, None, rule


def _actual(ind: Indicator, fy: int, scope: str, figure: Figure | None, book: _Book) -> float | None:
    """The figure graded: for a plan, the count accumulated since its first year (each earlier year's full
    actual, which must all be known)."""
    if figure is None:
        return None
    if ind.plan is None:
        return figure.value
    earlier = [book.full_year(ind, y, scope) for y in range(ind.plan.first, fy)]
    if any(v is None for v in earlier):
        return None
    return figure.value + sum(v for v in earlier if v is not None)


def _due_in(ind: Indicator, fy: int) -> bool:
    """A milestone's due date is its own fiscal year's: another year's target of it is graded at that year end."""
    return ind.due is not None and fiscal_year(ind.due) == fy


def _milestone_due(ind: Indicator, figure: Figure | None, as_of: date, base: dict[str, object]) -> Verdict:
    """Done on the figure's day (a workbook's 入力日); late or not done after the due date is B at once."""
    assert ind.due is not None
    due = ind.due
    done = figure is not None and figure.value >= 1
    data_as_of = figure.as_of if figure else None
    value = figure.value if figure else None
    if done and figure is not None:
        grade = "A" if figure.as_of <= due else "B"
        return Verdict(**base, actual=value, grade=grade, status="achieved" if grade == "A" else "missed",  # type: ignore[arg-type]
                       projected=1.0, data_as_of=data_as_of)
    if as_of > due:
        return Verdict(**base, actual=value if value is not None else 0.0, grade="B", status="missed",  # type: ignore[arg-type]
                       projected=None, data_as_of=data_as_of)
    status = "at_risk" if as_of >= due - MILESTONE_WARNING else ("on_track" if figure else "no_data")
    return Verdict(**base, actual=value, grade=None, status=status, projected=None,  # type: ignore[arg-type]
                   data_as_of=data_as_of)


def _method(ind: Indicator, profile: list[Figure] | None) -> str:
    if ind.pace == "progress_ratio":
        return "progress_ratio"
    if ind.pace == "seasonal":
        return "seasonal" if profile is not None else "seasonal_missing"
    return _own_method(ind)


def _own_method(ind: Indicator) -> str:
    """The kind's own projection, the linear pace."""
    return "ratio_accumulating" if ind.kind == "ratio" and ind.accumulates else ind.kind


def _method_text(ind: Indicator, method: str) -> str:
    if method == "seasonal_missing":   # then the kind's own rule, said so
        return METHODS[method] + METHODS[_own_method(ind)]
    return METHODS[method]


def _elapsed_share(fy: int, day: date) -> float:
    elapsed = (day - fy_start(fy)).days + 1
    length = (fy_end(fy) - fy_start(fy)).days + 1
    return min(1.0, max(elapsed, 1) / length)


def _profile(ind: Indicator, fy: int, scope: str, book: _Book) -> list[Figure] | None:
    """Last year's twelve monthly figures, each counted to its month's end, or None when any is missing."""
    months = [book.get(ind.id, month_label(m), scope) for m in fy_months(fy)]
    if any(m is None or m.as_of < month_end(m_start) for m, m_start in zip(months, fy_months(fy))):
        return None
    return [m for m in months if m is not None]


def _reached(profile: list[float], fy: int, day: date) -> float | None:
    """The share of last year's total reached by the same day of last year: whole months, then the current
    month pro rata by days."""
    total = sum(profile)
    if total <= 0:
        return None
    done, this_day = 0.0, _year_before(day)
    for value, start in zip(profile, fy_months(fy)):
        end = month_end(start)
        if this_day >= end:
            done += value
        elif this_day >= start:
            done += value * ((this_day - start).days + 1) / ((end - start).days + 1)
    return done / total if done > 0 else None


def _year_before(day: date) -> date:
    """The same day a year before (Feb 29 → Feb 28)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def _project(ind: Indicator, fy: int, figure: Figure, previous: Figure | None, method: str, actual: float,
             profile: list[Figure] | None) -> float | None:
    share = _elapsed_share(fy, figure.as_of)
    year = _seasonal(ind, fy, figure, profile) if method == "seasonal" and profile is not None else None
    if year is not None:   # a plan adds the years before this one
        return actual - figure.value + year
    if ind.kind == "count_per_fy":
        return actual - figure.value + figure.value / share
    if ind.kind == "cumulative_count":
        if previous is None or previous.as_of != fy_end(fy - 1):
            return figure.value
        return previous.value + (figure.value - previous.value) / share
    if ind.kind == "milestone":
        return figure.value if figure.value >= 1 else None
    if ind.kind == "ratio" and ind.accumulates:
        return min(1.0, figure.value / share)
    return figure.value


def _seasonal(ind: Indicator, fy: int, figure: Figure, profile: list[Figure]) -> float | None:
    """The year-end value by last year's profile (its twelve months); None where it cannot say."""
    if ind.kind == "ratio":
        if figure.numerator is None or figure.denominator is None \
                or any(m.numerator is None or m.denominator is None for m in profile):
            return None
        num = _reached([m.numerator or 0.0 for m in profile], fy - 1, figure.as_of)
        den = _reached([m.denominator or 0.0 for m in profile], fy - 1, figure.as_of)
        if not num or not den or figure.denominator <= 0:
            return None
        return (figure.numerator / num) / (figure.denominator / den)
    reached = _reached([m.value for m in profile], fy - 1, figure.as_of)
    return figure.value / reached if reached else None
