"""The evaluator is pure: figures, catalog and a date in, verdicts out."""
from __future__ import annotations

from datetime import date

import pytest

from jisseki.catalog import load_catalog
from jisseki.core.model import Figure
from jisseki.evaluate import evaluate

CATALOG = load_catalog()


def verdict(figures: list[Figure], as_of: date, kpi: str, fy: int = 2025):
    found = [v for v in evaluate(figures, CATALOG, as_of) if v.kpi_id == kpi and v.fiscal_year == fy]
    assert len(found) == 1
    return found[0]


def fy(kpi: str, year: int, value: float, as_of: date, scope: str = "city") -> Figure:
    return Figure(kpi, f"FY{year}", scope, as_of, value)


def test_every_indicator_with_a_target_gets_a_verdict_and_missing_sources_are_no_data() -> None:
    verdicts = evaluate([], CATALOG, date(2026, 3, 31))
    assert {v.kpi_id for v in verdicts} == CATALOG.ids() and len(verdicts) == 15
    assert all(v.status == "no_data" and v.grade is None and v.actual is None for v in verdicts)
    assert verdict([], date(2026, 3, 31), "online_procedures").prior_year_actual == 1674


def test_fiscal_year_2026_is_evaluated_only_once_it_has_started() -> None:
    assert not [v for v in evaluate([], CATALOG, date(2026, 3, 31)) if v.fiscal_year == 2026]
    later = [v for v in evaluate([], CATALOG, date(2026, 4, 1)) if v.fiscal_year == 2026]
    assert [(v.kpi_id, v.target) for v in later] == [("dataviz_department_share", 0.70)]


@pytest.mark.parametrize("value, grade, status", [(2180, "A", "achieved"), (2000, "A", "achieved"),
                                                  (1999, "B", "missed")])
def test_graded_once_the_year_is_over(value: float, grade: str, status: str) -> None:
    v = verdict([fy("online_procedures", 2025, value, date(2026, 3, 31))], date(2026, 4, 10), "online_procedures")
    assert (v.grade, v.status, v.actual, v.target, v.projected) == (grade, status, value, 2000, value)


def test_hours_below_target_at_year_end_is_b() -> None:
    v = verdict([fy("speech_hours_monthly", 2025, 403.0, date(2026, 3, 31))], date(2026, 3, 31), "speech_hours_monthly")
    assert (v.grade, v.status, v.prior_year_actual) == ("B", "missed", 276)


def test_no_grade_while_the_year_runs_or_the_data_stops_short() -> None:
    running = verdict([fy("myna_moveout_share", 2025, 0.34, date(2025, 9, 30))], date(2025, 9, 30), "myna_moveout_share")
    assert (running.grade, running.status, running.projected) == (None, "on_track", 0.34)
    stale = verdict([fy("myna_moveout_share", 2025, 0.34, date(2026, 2, 28))], date(2026, 4, 5), "myna_moveout_share")
    assert stale.grade is None and stale.data_as_of == date(2026, 2, 28)


def test_ratio_below_target_during_the_year_is_at_risk() -> None:
    v = verdict([fy("myna_moveout_share", 2025, 0.20, date(2025, 9, 30))], date(2025, 9, 30), "myna_moveout_share")
    assert (v.grade, v.status) == (None, "at_risk")


def test_cumulative_projection_extends_this_years_growth() -> None:
    figures = [fy("online_procedures", 2024, 1674, date(2025, 3, 31)),
               fy("online_procedures", 2025, 1774, date(2025, 9, 30))]
    v = verdict(figures, date(2025, 9, 30), "online_procedures")
    share = (date(2025, 9, 30) - date(2025, 4, 1)).days + 1
    assert v.projected == pytest.approx(1674 + 100 * 365 / share)
    assert v.status == "at_risk"  # about 1,873 by March < 2,000


def test_count_per_fiscal_year_projects_by_elapsed_share_and_achieves_early() -> None:
    halfway = [Figure("nocode_operations", "FY2025", "city", date(2025, 9, 30), 12)]
    v = verdict(halfway, date(2025, 9, 30), "nocode_operations")
    assert v.projected == pytest.approx(12 * 365 / 183) and v.status == "on_track"
    early = [Figure("nocode_operations", "FY2025", "city", date(2025, 9, 30), 21)]
    assert verdict(early, date(2025, 9, 30), "nocode_operations").status == "achieved"
    assert verdict(early, date(2025, 9, 30), "nocode_operations").grade is None


def test_a_done_milestone_is_graded_a_at_once() -> None:
    done = [Figure("security_strategy_revised", "FY2025", "city", date(2025, 7, 1), 1)]
    v = verdict(done, date(2025, 7, 1), "security_strategy_revised")
    assert (v.grade, v.status, v.projected) == ("A", "achieved", 1)
    pending = [Figure("security_strategy_revised", "FY2025", "city", date(2025, 7, 1), 0)]
    assert verdict(pending, date(2025, 7, 1), "security_strategy_revised").grade is None


def test_prior_year_comes_from_the_warehouse_when_the_catalog_has_none() -> None:
    figures = [fy("dataviz_department_share", 2025, 0.64, date(2026, 3, 31)),
               fy("dataviz_department_share", 2026, 0.50, date(2026, 6, 30))]
    v = verdict(figures, date(2026, 6, 30), "dataviz_department_share", fy=2026)
    assert v.prior_year_actual == 0.64 and v.target == 0.70


def test_ward_figures_do_not_count_as_the_city() -> None:
    ward_only = [fy("myna_moveout_share", 2025, 0.9, date(2026, 3, 31), scope="271021")]
    assert verdict(ward_only, date(2026, 3, 31), "myna_moveout_share").status == "no_data"


def test_an_accumulating_share_is_projected_by_the_elapsed_year_not_held_flat() -> None:
    early = [fy("dataviz_department_share", 2026, 0.30, date(2026, 4, 30))]
    v = verdict(early, date(2026, 4, 30), "dataviz_department_share", fy=2026)
    assert v.projected == 1.0 and v.status == "on_track"
    late = [fy("dataviz_department_share", 2026, 0.50, date(2026, 12, 31))]
    v = verdict(late, date(2026, 12, 31), "dataviz_department_share", fy=2026)
    assert v.projected == pytest.approx(0.50 * 365 / 275) and v.status == "at_risk"
