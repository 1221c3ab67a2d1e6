"""Alert rules are pure: verdicts, figures and source outcomes in, conditions out."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from jisseki.alerts.rules import SourceState, check
from jisseki.catalog import load_catalog
from jisseki.evaluate import evaluate
from jisseki.model import Figure

CATALOG = load_catalog()
NOW = datetime(2026, 4, 20, 3, 0, tzinfo=timezone.utc)


def run(figures, as_of, outcomes=None, states=None, configured=()):
    return check(evaluate(figures, CATALOG, as_of), figures, CATALOG, as_of, NOW, "run-9", outcomes or {},
                 states or {}, configured)


def keys(checked) -> set[str]:
    return {a.key for a in checked.active}


def test_a_missed_year_alerts_with_figure_target_period_and_run() -> None:
    checked = run([Figure("external_specialists", "FY2025", "city", date(2026, 3, 31), 3)], date(2026, 4, 19))
    alert = next(a for a in checked.active if a.key == "missed:external_specialists:FY2025")
    assert "external_specialists" in alert.title and alert.subject == "external_specialists"
    for text in ("実績: 3名", "目標: 7名", "FY2025", "B（未達成）", "フロー実行: run-9"):
        assert text in alert.body


def test_met_targets_raise_nothing() -> None:
    checked = run([Figure("external_specialists", "FY2025", "city", date(2026, 3, 31), 7)], date(2026, 4, 19))
    assert not [a for a in checked.active if a.subject == "external_specialists"]
    assert "kpi:external_specialists" in checked.scopes


def test_at_risk_while_the_year_runs() -> None:
    checked = run([Figure("myna_moveout_share", "FY2025", "city", date(2025, 9, 30), 0.2, 20, 100)], date(2025, 9, 30))
    assert "at_risk:myna_moveout_share:FY2025" in keys(checked)


def test_monthly_target_missed_only_for_completed_months() -> None:
    figures = [Figure("speech_hours_monthly", "2025-04", "city", date(2025, 4, 30), 2000.0),
               Figure("speech_hours_monthly", "2025-05", "city", date(2025, 5, 31), 1000.0),
               Figure("speech_hours_monthly", "2025-06", "city", date(2025, 6, 10), 10.0)]
    checked = run(figures, date(2025, 6, 10))
    assert {k for k in keys(checked) if k.startswith("month_missed")} == {"month_missed:speech_hours_monthly:2025-05"}


def test_failed_and_rejected_sources_alert_by_name() -> None:
    checked = run([], date(2026, 4, 19), outcomes={"moveout_log": ("rejected", "不正な行が 10%"),
                                                   "speech_usage": ("landed", ""), "nocode_apps": ("failed", "HTTP 503")})
    assert {"source_failed:moveout_log", "source_failed:nocode_apps"} <= keys(checked)
    assert "source_failed:speech_usage" not in keys(checked) and "run:speech_usage" in checked.scopes
    assert "不正な行が 10%" in next(a for a in checked.active if a.subject == "moveout_log").body


def test_data_late_by_each_sources_cadence() -> None:
    as_of = date(2026, 4, 19)
    states = {"moveout_log": SourceState(NOW, as_of - timedelta(days=4)),
              "speech_usage": SourceState(NOW, as_of - timedelta(days=3)),
              "online_procedures": SourceState(NOW - timedelta(days=2, hours=1), None),
              "nocode_apps": SourceState(NOW - timedelta(days=1), None)}
    checked = run([], as_of, states=states, configured=list(states))
    assert {k for k in keys(checked) if k.startswith("stale")} == {"stale:moveout_log", "stale:online_procedures"}


def test_manual_entries_missing_after_april_of_the_next_year() -> None:
    assert "manual_missing:external_specialists:FY2025" not in keys(run([], date(2026, 4, 30)))
    assert "manual_missing:external_specialists:FY2025" in keys(run([], date(2026, 5, 1)))
    assert not {k for k in keys(run([], date(2026, 5, 1))) if k.startswith("manual_missing:online_procedures")}
