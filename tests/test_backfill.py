"""Backfill: fiscal-year figures as they stood at each month end, from the monthly figures."""
from __future__ import annotations

import json
from datetime import date

import pytest

from jisseki.backfill import backfill, figures_as_of, month_ends
from jisseki.catalog import load_catalog
from jisseki.cli import main
from jisseki.core.model import Figure
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
