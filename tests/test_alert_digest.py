"""The digest: one channel's queued rows in, one message out, most severe first, months folded. Hand-written rows
and expectations, so the builder is held to what a reader is meant to see."""
from __future__ import annotations

from datetime import date
from html.parser import HTMLParser
from itertools import count

from jisseki.alerts.digest import build

AS_OF = date(2026, 3, 31)
RUN = "0f8c7d52-3a57-4f5e-9a39-6b1de3c2a001"
EARLIER = "5b0e8a41-1c2d-4e3f-8a9b-0c1d2e3f4a5b"
SPEECH = "AI音声認識技術 市全体の利用実績（月時間）（speech_hours_monthly）"
UI = "http://prefect.example.internal:4200"
IDS = count(1)


def row(key: str, title: str, body: str, severity: str = "warning", change: str = "firing", run: str = RUN) -> dict:
    return dict(id=next(IDS), alert_key=key, change=change, channel="c", severity=severity, title=title, body=body,
                flow_run_id=run)


def month(label: str, hours: int) -> dict:
    year, m = label.split("-")
    when = f"{int(year)}年{int(m)}月"
    return row(f"month_missed:speech_hours_monthly:{label}", f"【月間目標未達】{SPEECH} {when}",
               f"{SPEECH} {when}: 実績 月{hours}時間 / 目標 月1,870時間以上（2025年度）\n対応: 理由を確認")


MISSED = row("missed:speech_hours_monthly:FY2025", f"【目標未達成】{SPEECH} 2025年度",
             f"{SPEECH} 2025年度: 実績 月403時間 / 目標 月1,870時間 → B（未達成）（2026-03-31 時点）\n"
             "対応: 所管の所属に未達成の原因と来年度の対策を確認してください", "failure")
FAILED = row("source_failed:moveout_log", "【取込失敗】転出届 受付ログ（moveout_log）",
             "転出届 受付ログ（moveout_log）: 取込失敗（2026-03-31 時点） 読込元: フォルダ /srv/in\n"
             "理由: フォルダがありません\n対応: 確認", "failure")
STALE = row("stale:nocode_apps", "【データ遅延】ノーコード", "ノーコード: データ遅延\n対応: API を確認")
RESOLVED = row("missed:external_specialists:FY2025", "【解消】【目標未達成】外部専門人材 2025年度",
               "【目標未達成】外部専門人材 2025年度: 解消しました\n当時の内容: 外部専門人材: 実績 3名", "success",
               "resolved", EARLIER)
MONTHS = [month(f"{y}-{m:02d}", 300 + m) for y, m in [(2025, m) for m in range(4, 13)] + [(2026, 1), (2026, 2)]]


def test_most_severe_first_months_folded_and_the_counts_in_the_subject() -> None:
    rows = [RESOLVED, STALE, *MONTHS[5:], FAILED, *MONTHS[:5], MISSED]   # queued in no helpful order
    d = build(rows, AS_OF, UI)
    assert d.subject == ("【jisseki】2026-03-31 時点: 目標未達成 1 件・月間目標未達 1 件・要注意 0 件・取込失敗 1 件・"
                         "データ遅延 1 件・解消 1 件")
    assert d.severity == "failure"
    assert [(s.label, [e.headline for e in s.entries]) for s in d.sections] == [
        ("目標未達成", [f"{SPEECH} 2025年度: 実績 月403時間 / 目標 月1,870時間 → B（未達成）（2026-03-31 時点）"]),
        ("月間目標未達", [f"{SPEECH}: 2025年4月〜2026年2月の11か月が月間目標未達（最新 2026年2月: 実績 月302時間 / "
                     "目標 月1,870時間以上（2025年度））"]),
        ("取込失敗・不採用", ["転出届 受付ログ（moveout_log）: 取込失敗（2026-03-31 時点） 読込元: フォルダ /srv/in"]),
        ("データ遅延", ["ノーコード: データ遅延"]),
        ("解消", ["【目標未達成】外部専門人材 2025年度: 解消しました"]),
    ]
    assert d.sections[0].entries[0].lines == ("対応: 所管の所属に未達成の原因と来年度の対策を確認してください",)
    assert d.sections[1].entries[0].lines == ("対応: 理由を確認",)
    assert d.sections[2].entries[0].lines == ("理由: フォルダがありません", "対応: 確認")
    # rows of two runs (the channel was down on the earlier one): both linked, in the order they were queued
    assert d.runs == (("フロー実行", f"{UI}/runs/flow-run/{EARLIER}"), ("フロー実行", f"{UI}/runs/flow-run/{RUN}"))


def test_without_the_ui_address_the_run_is_named_by_its_id_and_the_watchdog_by_nothing() -> None:
    watchdog = row("night_missed:2026-12-02", "【夜間処理が未実行】", "予定: 02:00 の定時実行が…\n対応: …", "failure",
                   run="watchdog")
    d = build([MISSED, watchdog], AS_OF, None)
    assert d.runs == ((f"フロー実行 ID: {RUN}", None),)
    assert [s.label for s in d.sections] == ["目標未達成", "夜間処理の未実行"]
    assert d.subject == "【jisseki】2026-03-31 時点: 目標未達成 1 件・要注意 0 件・未実行 1 件・取込失敗 0 件"
    assert "<a " not in d.html() and f"フロー実行 ID: {RUN}" in d.html()


def test_months_with_gaps_say_so_and_one_month_is_not_folded() -> None:
    d = build([MONTHS[0], MONTHS[2]], AS_OF, UI)
    assert d.sections[0].entries[0].headline.startswith(f"{SPEECH}: 2025年4月〜2025年6月のうち2か月が月間目標未達")
    single = build([MONTHS[3]], AS_OF, UI)
    assert single.sections[0].entries[0].headline == \
        f"{SPEECH} 2025年7月: 実績 月307時間 / 目標 月1,870時間以上（2025年度）"
    assert single.subject.endswith("目標未達成 0 件・月間目標未達 1 件・要注意 0 件・取込失敗 0 件")
    assert single.severity == "warning"


def test_resolved_months_fold_too_and_a_digest_of_recoveries_only_is_a_success() -> None:
    resolved = [row(m["alert_key"], "【解消】" + m["title"], m["title"] + ": 解消しました\n当時の内容: …",
                    "success", "resolved") for m in MONTHS[:3]]
    d = build(resolved, AS_OF, UI)
    assert [(s.label, [e.headline for e in s.entries]) for s in d.sections] == [
        ("解消", [f"【月間目標未達】{SPEECH}: 2025年4月〜2025年6月の3か月分が解消しました"])]
    assert d.severity == "success"
    assert d.subject == "【jisseki】2026-03-31 時点: 目標未達成 0 件・要注意 0 件・取込失敗 0 件・解消 1 件"


def test_a_key_queued_twice_is_told_once_in_its_latest_change() -> None:
    again = row(MISSED["alert_key"], "【解消】" + MISSED["title"], "解消しました", "success", "resolved")
    d = build([MISSED, again], AS_OF, UI)
    assert [(s.label, len(s.entries)) for s in d.sections] == [("解消", 1)]
    assert d.subject.startswith("【jisseki】2026-03-31 時点: 目標未達成 0 件")


class Tree(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append(tag)
        self.links += [v for k, v in attrs if k == "href"]

    def handle_data(self, data) -> None:
        self.text.append(data)


def test_the_html_is_escaped_with_a_list_item_per_entry_and_a_line_per_detail() -> None:
    odd = row("source_failed:speech_usage", "【取込失敗】x", "x <script>alert(1)</script> & y: 取込失敗\n理由: a < b")
    tree = Tree()
    tree.feed(build([MISSED, odd], AS_OF, UI).html())
    assert "script" not in tree.tags
    assert tree.tags.count("li") == 2 and tree.tags.count("br") == 2 and tree.tags.count("h3") == 2
    assert "x <script>alert(1)</script> & y: 取込失敗" in tree.text and "\u3000理由: a < b" in tree.text
    assert tree.links == [f"{UI}/runs/flow-run/{RUN}"]
