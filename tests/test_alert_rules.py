"""Alert rules are pure: verdicts, figures and source outcomes in, conditions out."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from jisseki.alerts.rules import API_CHECK, FOLDER_CHECK, Place, SourceState, check
from jisseki.catalog import Catalog, load_catalog, parse_catalog
from jisseki.city_calendar import CityCalendar
from jisseki.core.freshness import EntryDue, NewDataDay, RecentCrawl
from jisseki.core.model import Figure
from jisseki.evaluate import evaluate

CATALOG = load_catalog()
NOW = datetime(2026, 4, 20, 3, 0, tzinfo=timezone.utc)
CITY = CityCalendar()
# The config's defaults (tests/test_config.py holds them to it)
DEFAULTS = {"online_procedures": RecentCrawl(2), "moveout_log": NewDataDay(3), "speech_usage": NewDataDay(3),
            "nocode_apps": RecentCrawl(2), "dataviz_access": NewDataDay(3), "manual_entries": EntryDue(4, 30)}


PLACES = {"moveout_log": Place("フォルダ /srv/inbox/tenshutsu", FOLDER_CHECK),
          "nocode_apps": Place("API https://nocode.example.internal:8443", API_CHECK),
          "manual_entries": Place("フォルダ /srv/inbox/manual", FOLDER_CHECK)}


def run(figures, as_of, outcomes=None, states=None, freshness=None, calendar=CITY, now=NOW):
    return check(evaluate(figures, CATALOG, as_of), figures, CATALOG, as_of, now, outcomes or {},
                 states or {}, freshness or {}, calendar, PLACES)


def keys(checked) -> set[str]:
    return {a.key for a in checked.active}


def test_a_missed_year_alerts_with_figure_target_period_and_run() -> None:
    checked = run([Figure("external_specialists", "FY2025", "city", date(2026, 3, 31), 3)], date(2026, 4, 19))
    alert = next(a for a in checked.active if a.key == "missed:external_specialists:FY2025")
    assert alert.title == "【目標未達成】DXの即戦力となる外部専門人材の確保（名）（external_specialists） 2025年度"
    assert alert.subject == "external_specialists"
    assert alert.body == ("DXの即戦力となる外部専門人材の確保（名）（external_specialists） 2025年度: 実績 3名 / 目標 7名 → "
                          "B（未達成）（2026-04-19 時点）\n対応: 所管の所属に未達成の原因と来年度の対策を確認してください")


def test_met_targets_raise_nothing() -> None:
    checked = run([Figure("external_specialists", "FY2025", "city", date(2026, 3, 31), 7)], date(2026, 4, 19))
    assert not [a for a in checked.active if a.subject == "external_specialists"]
    assert "kpi:external_specialists" in checked.scopes


def test_at_risk_while_the_year_runs() -> None:
    checked = run([Figure("myna_moveout_share", "FY2025", "city", date(2025, 9, 30), 0.2, 20, 100)], date(2025, 9, 30))
    body = next(a.body for a in checked.active if a.key == "at_risk:myna_moveout_share:FY2025")
    assert body.startswith("転出におけるマイナポータルの利用率（myna_moveout_share） 2025年度: 年度累計の実績 20.0% / "
                           "目標 25.0%（2025-09-30 時点）\n年度末の見込み: 20.0%（")
    # The report's pace: the share the rest of the year needs for the year's share to reach 25 %.
    assert "必要なこと: 残り6か月の比率を平均 30.1% 以上に（件数がこれまでと同じペースなら）" in body and "対応: 所管の所属に年度末までの取組の見通し" in body


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
    rejected = next(a for a in checked.active if a.subject == "moveout_log")
    assert rejected.title == "【検証で不採用】転出届 受付ログ（moveout_log）"
    assert rejected.body.split("\n")[:2] == [
        "転出届 受付ログ（moveout_log）: 検証で不採用（2026-04-19 時点） 読込元: フォルダ /srv/inbox/tenshutsu",
        "理由: 不正な行が 10%"]
    failed = next(a for a in checked.active if a.subject == "nocode_apps")
    assert failed.body.split("\n")[0] == ("ノーコードツール アプリ一覧（nocode_apps）: 取込失敗（2026-04-19 時点） "
                                          "読込元: API https://nocode.example.internal:8443")
    # what to check is the place's own: an API's answer and token, not a folder's mount
    assert failed.body.split("\n")[-1] == ("対応: API が応答しているか、認証情報（トークン）が有効かと理由を確認し、"
                                            "直ったら `jisseki run` で取り込み直してください")
    for alert in (rejected, failed):
        assert "failed" not in alert.body and "rejected" not in alert.body and "対応: " in alert.body


def stale(checked) -> dict[str, str]:
    return {a.subject: a.body for a in checked.active if a.key.startswith("stale:")}


def test_data_late_by_each_sources_cadence() -> None:
    as_of = date(2026, 4, 24)  # a Friday after a week without closed days: business days = calendar days
    states = {"moveout_log": SourceState(NOW, as_of - timedelta(days=4)),
              "speech_usage": SourceState(NOW, as_of - timedelta(days=3)),
              "online_procedures": SourceState(NOW - timedelta(days=2, hours=1), None),
              "nocode_apps": SourceState(NOW - timedelta(days=1), None)}
    checked = run([], as_of, states=states, freshness={k: DEFAULTS[k] for k in states})
    assert set(stale(checked)) == {"moveout_log", "online_procedures"}
    assert {"stale:moveout_log", "stale:speech_usage", "stale:online_procedures", "stale:nocode_apps"} <= checked.scopes


def test_a_daily_log_that_landed_but_never_had_a_data_day_is_late_at_once() -> None:
    states = {"moveout_log": SourceState(NOW, None), "speech_usage": SourceState(None, None)}
    checked = run([], date(2026, 4, 24), states=states, freshness={k: DEFAULTS[k] for k in states})
    assert set(stale(checked)) == {"moveout_log"}   # speech_usage never landed: its failure alert says why
    body = stale(checked)["moveout_log"]
    assert "データのある日がまだ 1 日もありません" in body and "フォルダ /srv/inbox/tenshutsu" in body


@pytest.mark.parametrize("as_of, late", [
    (date(2026, 1, 4), None),   # 12/27–1/4: weekend, 12/29–1/3, Sunday
    (date(2026, 1, 7), None),   # 3 business days: not more than 3
    (date(2026, 1, 8), 4),
])
def test_a_daily_log_is_late_by_business_days_over_the_new_year(as_of: date, late: int | None) -> None:
    states = {"moveout_log": SourceState(NOW, date(2025, 12, 26))}
    body = stale(run([], as_of, states=states, freshness={"moveout_log": NewDataDay(3)})).get("moveout_log")
    if late is None:
        assert body is None
        return
    # the digest's line, which the resolution message quotes
    assert body.startswith("転出届 受付ログ（moveout_log）: データ遅延（"
                           f"{as_of} 時点） 読込元: フォルダ /srv/inbox/tenshutsu\n")
    for text in (f"最新のデータ日 2025-12-26（金）から基準日 2026-01-08（木）までに {late} 営業日",
                 "許容: 3 営業日まで", "年末年始（12/29〜1/3）", "[calendar] closed_days",
                 "対応: 新しいファイルが取込フォルダ（フォルダ /srv/inbox/tenshutsu）に届いているか"):
        assert text in body


def test_an_extra_closed_day_and_a_threshold_move_the_day_it_is_late() -> None:
    states = {"speech_usage": SourceState(NOW, date(2025, 12, 26))}
    closed = CityCalendar([date(2026, 1, 5)])
    assert not stale(run([], date(2026, 1, 8), states=states, freshness={"speech_usage": NewDataDay(3)},
                         calendar=closed))
    assert "までに 4 営業日" in stale(run([], date(2026, 1, 9), states=states,
                                         freshness={"speech_usage": NewDataDay(3)}, calendar=closed))["speech_usage"]
    five = {"speech_usage": NewDataDay(5)}
    assert not stale(run([], date(2026, 1, 12), states=states, freshness=five))  # 1/12 is 成人の日
    body = stale(run([], date(2026, 1, 13), states=states, freshness=five))["speech_usage"]
    assert "までに 6 営業日" in body and "許容: 5 営業日まで" in body


def test_an_api_is_late_by_calendar_days_since_its_last_crawl() -> None:
    landed = datetime(2026, 1, 2, 17, 30, tzinfo=timezone.utc)  # the systems run over 年末年始 too
    states = {"nocode_apps": SourceState(landed, None)}
    for days, now, late in [(2, landed + timedelta(days=2), False), (2, landed + timedelta(days=2, minutes=1), True),
                            (4, landed + timedelta(days=3), False), (4, landed + timedelta(days=4, hours=1), True)]:
        bodies = stale(run([], date(2026, 1, 4), states=states, freshness={"nocode_apps": RecentCrawl(days)}, now=now))
        assert ("nocode_apps" in bodies) is late, (days, now)
    body = bodies["nocode_apps"]
    for text in ("最後に取り込めたクロール: 2026-01-02 17:30 UTC", "確認時刻: 2026-01-06 18:30 UTC",
                 "4 日を超えて取り込めていません",
                 "対応: API（API https://nocode.example.internal:8443）が応答しているか"):
        assert text in body


def test_only_configured_sources_are_checked_and_a_never_landed_one_waits_for_its_failure_alert() -> None:
    states = {"moveout_log": SourceState(NOW, date(2025, 12, 1))}
    checked = run([], date(2026, 1, 8), states=states, freshness={"speech_usage": NewDataDay(3)})
    assert not stale(checked) and checked.scopes >= {"stale:speech_usage"} and "stale:moveout_log" not in checked.scopes


def test_manual_entries_missing_after_april_of_the_next_year() -> None:
    manual = {"manual_entries": DEFAULTS["manual_entries"]}
    assert "manual_missing:external_specialists:FY2025" not in keys(run([], date(2026, 4, 30), freshness=manual))
    may = run([], date(2026, 5, 1), freshness=manual)
    assert "manual_missing:external_specialists:FY2025" in keys(may)
    assert not {k for k in keys(may) if k.startswith("manual_missing:online_procedures")}
    body = next(a.body for a in may.active if a.key == "manual_missing:external_specialists:FY2025")
    assert "入力期限 2026-04-30（木）を過ぎても" in body and "対応: 所管の所属に 2025年度の実績" in body
    assert "取込フォルダ（フォルダ /srv/inbox/manual）に置かれたか" in body


def test_the_manual_due_date_comes_from_the_config() -> None:
    june = {"manual_entries": EntryDue(6, 30)}
    assert not {k for k in keys(run([], date(2026, 6, 30), freshness=june)) if k.startswith("manual_missing:")}
    assert "manual_missing:external_specialists:FY2025" in keys(run([], date(2026, 7, 1), freshness=june))
    # a workbook that is not configured is not collected: nobody is asked to fill it in
    assert not {k for k in keys(run([], date(2026, 7, 1))) if k.startswith("manual_missing:")}


def ward_catalog() -> Catalog:
    base = {"challenge": 1, "source": "manual_entries"}
    return parse_catalog({
        "policy": {"id": "kita", "title": "北区役所運営方針", "department": "北区役所", "fiscal_year": 2025},
        "challenges": {1: "課題"},
        "indicators": [
            {**base, "id": "wait", "name": "窓口の平均待ち時間", "unit": "分", "kind": "mean", "direction": "at_most",
             "targets": {2025: {"change_share": -0.1}}, "actuals": {2024: 18.0}},
            {**base, "id": "conv", "name": "コンビニ交付率", "unit": "%", "kind": "ratio", "direction": "within",
             "targets": {2025: {"low": 0.3, "high": 0.4}}},
            {**base, "id": "cashless", "name": "キャッシュレス決済の導入", "unit": "", "kind": "milestone",
             "due": date(2025, 10, 31)}]})


def test_alerts_say_an_upper_bound_a_band_and_a_due_date_as_the_policy_does() -> None:
    ward = ward_catalog()
    figures = [Figure("wait", "FY2025", "city", date(2025, 9, 30), 17.5),
               Figure("conv", "FY2025", "city", date(2025, 9, 30), 0.45, 45, 100)]
    day = date(2025, 10, 10)
    checked = check(evaluate(figures, ward, day), figures, ward, day, NOW, {}, {}, {}, CITY, {})
    bodies = {a.key: a.body for a in checked.active}
    assert bodies["at_risk:wait:FY2025"].startswith("窓口の平均待ち時間（wait） 2025年度: 年度累計の実績 17.5分 / "
                                                     "目標 16.2分以下")
    # The report's pace (needed_pace): the level the rest of the year must keep for the year to meet the target.
    assert "必要なこと: 残り6か月の平均を 14.8分 以下に（件数がこれまでと同じペースなら）" in bodies["at_risk:wait:FY2025"]
    assert "目標 30.0%〜40.0%" in bodies["at_risk:conv:FY2025"]
    assert "必要なこと: 残り6か月の比率を平均 15.0%〜34.9%に（件数がこれまでと同じペースなら）" in bodies["at_risk:conv:FY2025"]
    assert "未完了 / 期限 2025-10-31（金）" in bodies["at_risk:cashless:FY2025"]
    late = check(evaluate([], ward, date(2025, 11, 1)), [], ward, date(2025, 11, 1), NOW, {}, {}, {}, CITY, {})
    missed = next(a for a in late.active if a.key == "missed:cashless:FY2025")
    assert "→ B（未達成）（期限までに完了しませんでした）" in missed.body


def test_a_scope_that_misses_its_own_target_is_its_own_condition_named_by_the_ward() -> None:
    ward = parse_catalog({
        "policy": {"id": "city", "title": "方針", "department": "市民局", "fiscal_year": 2025}, "challenges": {1: "課題"},
        "indicators": [{"id": "conv", "challenge": 1, "name": "コンビニ交付率", "unit": "%", "kind": "ratio",
                        "source": "manual_entries", "targets": {2025: 0.3}, "scope_targets": {"*": {2025: 0.3}}}]})
    figures = [Figure("conv", "FY2025", "city", date(2026, 3, 31), 0.31, 31, 100),
               Figure("conv", "FY2025", "271276", date(2026, 3, 31), 0.2, 20, 100),
               Figure("conv", "FY2025", "271021", date(2026, 3, 31), 0.4, 40, 100)]
    day = date(2026, 4, 10)
    checked = check(evaluate(figures, ward, day), figures, ward, day, NOW, {}, {}, {}, CITY, {})
    assert keys(checked) == {"missed:conv:FY2025:271276"}
    alert = checked.active[0]
    assert alert.title == "【目標未達成】コンビニ交付率（conv） 北区（271276） 2025年度"
    assert alert.body.startswith("コンビニ交付率（conv） 北区（271276） 2025年度: 実績 20.0% / 目標 30.0% → B（未達成）")
