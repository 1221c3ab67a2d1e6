"""Backfill: fiscal-year figures as they stood at each month end, from the monthly figures."""
from __future__ import annotations

import json
from datetime import date

import pytest

from jisseki.backfill import backfill, figures_as_of, month_ends
from jisseki.catalog import Catalog, load_catalog, parse_catalog
from jisseki.cli import main
from jisseki.core.model import Figure
from jisseki.core.periods import fy_months, month_end, month_label
from jisseki.evaluate import evaluate
from tests.support import write_config
from warehouse.schema import kpi_actual
from warehouse.store import connect, latest_evaluations, save_evaluations

CATALOG = load_catalog()


def months(kpi: str, values: list[float], nums: list[float] | None = None, dens: list[float] | None = None):
    labels = ["2025-04", "2025-05", "2025-06"]
    ends = [date(2025, 4, 30), date(2025, 5, 31), date(2025, 6, 30)]
    return [Figure(kpi, p, "city", d, v, nums[i] if nums else None, dens[i] if dens else None)
            for i, (p, d, v) in enumerate(zip(labels, ends, values))]


def at(figures, kpi: str, day: date) -> Figure | None:
    return next((f for f in figures_as_of(figures, CATALOG, day) if f.kpi_id == kpi and f.period == "FY2025"), None)


@pytest.mark.parametrize("kpi, values, nums, dens, may, june", [
    ("online_procedures", [1700, 1750, 1800], None, None, 1750, 1800),            # cumulative: the month's count
    ("nocode_operations", [3, 4, 5], None, None, 7, 12),                          # per year: the running sum
    ("speech_hours_monthly", [300, 500, 400], None, None, 400, 400),              # the mean of complete months
    ("myna_moveout_share", [0.2, 0.4, 0.3], [20, 40, 30], [100, 100, 100], 0.3, 0.3),  # pooled ratio
    ("dataviz_department_share", [0.2, 0.3, 0.4], [20, 30, 40], [100, 100, 100], 0.3, 0.4),  # year-to-date share
])
def test_fiscal_year_figures_as_they_stood_at_each_month_end(kpi, values, nums, dens, may, june) -> None:
    figures = months(kpi, values, nums, dens)
    assert at(figures, kpi, date(2025, 5, 31)).value == pytest.approx(may)
    assert at(figures, kpi, date(2025, 6, 30)).value == pytest.approx(june)
    assert at(figures, kpi, date(2025, 5, 31)).as_of == date(2025, 5, 31)


def test_a_yearly_manual_entry_counts_from_its_as_of_date() -> None:
    figures = [Figure("security_strategy_revised", "FY2025", "city", date(2025, 9, 15), 1.0)]
    assert at(figures, "security_strategy_revised", date(2025, 8, 31)) is None
    assert at(figures, "security_strategy_revised", date(2025, 9, 30)).value == 1.0


def test_history_of_statuses_and_status_still_shows_the_latest_evaluation(tmp_path, capsys) -> None:
    figures = months("speech_hours_monthly", [2000, 1000, 1500])
    verdicts = backfill(figures, CATALOG, date(2025, 4, 1), date(2025, 6, 30))
    speech = [(v.as_of, v.status) for v in verdicts if v.kpi_id == "speech_hours_monthly"]
    assert speech == [(date(2025, 4, 30), "on_track"), (date(2025, 5, 31), "at_risk"), (date(2025, 6, 30), "at_risk")]
    assert month_ends(date(2025, 4, 15), date(2025, 6, 29)) == [date(2025, 4, 30), date(2025, 5, 31)]

    url = f"sqlite:///{tmp_path / 'w.db'}"
    engine = connect(url)
    tonight = [Figure("speech_hours_monthly", "FY2025", "city", date(2025, 7, 31), 1900.0)]
    save_evaluations(engine, evaluate(tonight, CATALOG, date(2025, 8, 1)), "nightly")
    with engine.begin() as conn:
        conn.execute(kpi_actual.insert(), [dict(kpi_id=f.kpi_id, period=f.period, scope=f.scope, as_of=f.as_of,
                                                value=f.value, revision=1, is_current=True, source="speech_usage",
                                                lineage="{}", flow_run_id="r", collected_at=date(2025, 8, 1))
                                           for f in figures])
    config = write_config(tmp_path, url, None, moveout="", speech="")
    assert main(["backfill", "--config", str(config), "--from", "2025-04-01", "--to", "2025-06-30"]) == 0
    out = capsys.readouterr().out
    assert "speech_hours_monthly 2025" in out and "△" in out
    latest = {e["kpi_id"]: e for e in latest_evaluations(engine, 2025)}
    assert latest["speech_hours_monthly"]["as_of"] == date(2025, 8, 1)  # tonight's, not a backfilled month
    assert main(["status", "--config", str(config), "--fy", "2025", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["as_of"] == "2025-08-01"


def one_indicator(**fields) -> Catalog:
    return parse_catalog({"policy": {"id": "p", "title": "方針", "department": "課", "fiscal_year": 2023},
                          "challenges": {1: "課題"},
                          "indicators": [{"id": "k", "challenge": 1, "name": "指標", "unit": "件",
                                          "source": "nocode_apps", **fields}]})


def monthly(fy: int, values: list[float], nums: list[float] | None = None,
            dens: list[float] | None = None) -> list[Figure]:
    return [Figure("k", month_label(m), "city", month_end(m), v, nums[i] if nums else None, dens[i] if dens else None)
            for i, (m, v) in enumerate(zip(fy_months(fy), values))]


def city_verdict(figures: list[Figure], catalog, day: date, fy: int = 2025):
    return next(v for v in backfill(figures, catalog, day, day) if v.fiscal_year == fy and v.scope == "city")


def test_a_seasonal_count_is_projected_by_last_years_months_as_they_stood() -> None:
    # Last year reached half its total by June 30; this year has 40 by then: 80 by March, short of 100,
    # where the linear pace (40 over a quarter of the year) would say on track.
    last_year = monthly(2024, [30, 10, 10, 5, 5, 5, 5, 5, 5, 5, 5, 10])
    this_year = monthly(2025, [25, 10, 5])
    seasonal = one_indicator(kind="count_per_fy", targets={2025: 100}, pace="seasonal")
    v = city_verdict(last_year + this_year, seasonal, date(2025, 6, 30))
    assert (v.status, v.projected, v.actual) == ("at_risk", pytest.approx(80), 40)
    assert v.projection_method.startswith("前年度の同じ時期")
    # Last year's verdict, graded by now, names its pace by the months of the year before it.
    two_years = one_indicator(kind="count_per_fy", targets={2024: 100, 2025: 100}, pace="seasonal")
    before = city_verdict(monthly(2023, [8] * 12) + last_year + this_year, two_years, date(2025, 6, 30), fy=2024)
    assert (before.grade, before.projection_method[:6]) == ("A", "前年度の同じ")
    linear = city_verdict(last_year + this_year, one_indicator(kind="count_per_fy", targets={2025: 100}),
                          date(2025, 6, 30))
    assert linear.status == "on_track"
    # Without last year's months the evaluator says so and falls back to the linear pace.
    alone = city_verdict(this_year, seasonal, date(2025, 6, 30))
    assert alone.status == "on_track" and alone.projection_method.startswith("前年度の月別実績がそろっていない")


def test_a_seasonal_ratio_projects_its_numerator_and_denominator_by_last_years_months() -> None:
    # Last year's March was three times a usual month at a lower share: the year ended at 610 / 1400.
    dens = [100.0] * 11 + [300.0]
    nums = [50.0] * 11 + [60.0]
    last_year = monthly(2024, [n / d for n, d in zip(nums, dens)], nums, dens)
    this_year = monthly(2025, [0.5] * 3, [50.0] * 3, [100.0] * 3)
    catalog = one_indicator(kind="ratio", unit="%", targets={2025: 0.45}, pace="seasonal")
    v = city_verdict(last_year + this_year, catalog, date(2025, 6, 30))
    assert (v.status, v.projected, v.actual) == ("at_risk", pytest.approx(610 / 1400), 0.5)


def test_a_mean_is_the_mean_of_the_years_months_so_far() -> None:
    catalog = one_indicator(kind="mean", unit="分", targets={2025: 25})
    figures = monthly(2025, [10, 20, 60])
    fy = next(f for f in figures_as_of(figures, catalog, date(2025, 6, 30)) if f.period == "FY2025")
    assert (fy.value, fy.as_of) == (pytest.approx(30), date(2025, 6, 30))


def test_a_plans_progress_counts_its_earlier_years_as_they_stood() -> None:
    # 96 + 108 + 48 by 2025-09-30: the plan asks for 83.4% of 300 (250.2) by then.
    catalog = one_indicator(kind="count_per_fy", plan={"first": 2023, "last": 2025, "total": 300},
                            pace="progress_ratio")
    figures = monthly(2023, [8] * 12) + monthly(2024, [9] * 12) + monthly(2025, [8] * 6)
    v = city_verdict(figures, catalog, date(2025, 9, 30))
    assert (v.status, v.actual) == ("on_track", 252)
    behind = city_verdict(figures[:-6] + monthly(2025, [6] * 6), catalog, date(2025, 9, 30))   # 240
    assert (behind.status, behind.actual) == ("at_risk", 240)
