"""A source written only as TOML (a config section and a catalog indicator), collected as the nightly run collects
it: read, typed, validated by the suite its rules make, quarantined with reasons, deduplicated and measured."""
from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest

from connectors.errors import SourceConfigError
from jisseki.catalog import load_catalog
from jisseki.config import load_config
from jisseki.core.errors import ConfigError
from jisseki.pipeline import collect

CONFIG = """
[catalog]
path = "policy.toml"

[sources.window_queue]
type = "csv"
title = "区役所 窓口受付ログ"
path = "inbox/queue"
key = ["受付番号"]
date = "受付日"
scope = "区コード"

[sources.window_queue.columns]
"受付日" = { type = "date", required = true }
"区コード" = { type = "ward", required = true }
"受付番号" = { type = "text", personal = true }
"待ち時間" = { type = "number", min = 0, max = 600 }
"窓口" = { type = "text", allowed = ["住民票", "戸籍", "税"] }
"""

POLICY = """
[policy]
id = "ward-fy2025"
title = "令和7年度 区役所運営方針"
department = "区役所"
fiscal_year = 2025

[challenges]
1 = "待たせない窓口"

[[indicators]]
id = "window_wait_minutes"
challenge = 1
name = "窓口の平均待ち時間（分）"
unit = "分"
kind = "count_per_fy"
direction = "at_least"
source = "window_queue"
targets = { 2025 = 15 }
measure = { type = "mean", column = "待ち時間", by_scope = true }

[[indicators]]
id = "window_residents"
challenge = 1
name = "住民票の受付件数"
unit = "件"
kind = "count_per_fy"
direction = "at_least"
source = "window_queue"
targets = { 2025 = 100 }
measure = { type = "count", where = { "窓口" = "住民票" } }
"""

HEADER = "受付日,区コード,区名,受付番号,待ち時間,窓口,氏名\r\n"
ROWS = [
    "2025/04/01,271021,都島区,A-1,10,住民票,大阪 太郎",
    "２０２５/０４/０２,27102,都島区,A-2,20,戸籍,大阪 花子",      # full-width date, 5-digit ward code
    "R7.5.1,271039,福島区,A-3,30,住民票,北 一郎",                 # 和暦
    "2025/05/02,271039,福島区,A-1,99,住民票,重複",               # A-1 again: a re-delivery, the first counts
    "2025/13/01,271039,福島区,A-4,5,住民票,不正",                 # no such date
    "2025/05/03,999999,不明区,A-5,5,住民票,不正",                 # no such ward
    "2025/05/04,271039,福島区,A-6,-1,税,不正",                    # below the range
    "2025/05/05,271039,福島区,A-7,5,年金,不正",                   # not an allowed 窓口
    ",271039,福島区,A-8,5,税,不正",                              # no date
]


def setup(tmp_path: Path, rows: list[str] = ROWS) -> tuple[object, object]:
    (tmp_path / "jisseki.toml").write_text(CONFIG, "utf-8")
    (tmp_path / "policy.toml").write_text(POLICY, "utf-8")
    inbox = tmp_path / "inbox" / "queue"
    inbox.mkdir(parents=True)
    (inbox / "queue_2025.csv").write_bytes((HEADER + "\r\n".join(rows) + "\r\n").encode("cp932"))
    config = load_config(tmp_path / "jisseki.toml", {})
    return config, load_catalog(config.catalog.path)


def test_a_csv_source_from_toml_alone_quarantines_with_reasons_and_measures_per_scope(tmp_path: Path) -> None:
    config, catalog = setup(tmp_path)
    source = config.source_def("window_queue")
    batch = collect(source, config.source("window_queue"), catalog, date(2025, 5, 31), 1.0)
    assert batch.rejected is None and batch.rows_read == 9
    assert [(b.item, b.code, b.reason, b.value) for b in batch.bad] == [
        ("line 6", "invalid_value", "受付日 を日付として解釈できません", "2025/13/01"),
        ("line 7", "invalid_value", "区コード を大阪市の区コードとして解釈できません", "999999"),
        ("line 8", "out_of_range", "待ち時間 が 0〜600 の範囲外です", "-1"),
        ("line 9", "not_allowed", "窓口 が 住民票・戸籍・税 のいずれでもありません", "文字列（2文字）"),
        ("line 10", "missing_value", "受付日 がありません", ""),
    ]
    figures = {(f.kpi_id, f.period, f.scope): f.value for f in batch.figures}
    # Valid rows: A-1 (4/1, 都島, 10), A-2 (4/2, 都島, 20), A-3 (5/1, 福島, 30); the second A-1 is the same row.
    assert figures[("window_wait_minutes", "2025-04", "city")] == 15.0
    assert figures[("window_wait_minutes", "2025-05", "271039")] == 30.0
    assert figures[("window_wait_minutes", "FY2025", "city")] == 20.0
    assert ("window_wait_minutes", "2025-05", "271021") not in figures   # a mean of no rows is no figure
    assert figures[("window_residents", "2025-04", "city")] == 1.0
    assert figures[("window_residents", "FY2025", "city")] == 2.0
    assert ("window_residents", "FY2025", "271021") not in figures        # not per scope: city only
    assert batch.max_event_date == date(2025, 5, 1)
    # Nothing personal leaves the reader: no receipt number, no name, in any entry or figure.
    text = repr(batch.bad) + repr(batch.figures) + repr(batch.lineage.detail())
    assert not any(word in text for word in ("A-1", "A-4", "太郎", "花子", "重複", "不正"))


def test_rows_without_their_personal_key_are_quarantined_not_taken_for_one_row(tmp_path: Path) -> None:
    rows = ["2025/04/01,271021,都島区,,10,住民票,大阪 太郎", "2025/04/02,271021,都島区,,20,住民票,大阪 花子",
            "2025/04/03,271021,都島区,A-9,20,住民票,北 一郎"]
    config, catalog = setup(tmp_path, rows)
    batch = collect(config.source_def("window_queue"), config.source("window_queue"), catalog, date(2025, 5, 31), 1.0)
    assert [(b.item, b.code, b.reason, b.value) for b in batch.bad] == [
        ("line 2", "missing_value", "受付番号 がありません", ""), ("line 3", "missing_value", "受付番号 がありません", "")]
    figures = {(f.kpi_id, f.period, f.scope): f.value for f in batch.figures}
    assert figures[("window_residents", "FY2025", "city")] == 1.0


def test_rows_whose_personal_key_is_not_of_its_type_are_quarantined_without_their_value(tmp_path: Path) -> None:
    (tmp_path / "jisseki.toml").write_text(CONFIG.replace('type = "csv"', 'type = "jsonl"')
                                           .replace('"区コード" = { type = "ward", required = true }', "")
                                           .replace('scope = "区コード"\n', ""), "utf-8")
    (tmp_path / "policy.toml").write_text(POLICY.replace(", by_scope = true", ""), "utf-8")
    inbox = tmp_path / "inbox" / "queue"
    inbox.mkdir(parents=True)
    lines = [{"受付日": "2025-04-01", "受付番号": 91234, "窓口": "住民票"},      # a number where the key is text
             {"受付日": "2025-04-02", "受付番号": 95678, "窓口": "住民票"},
             {"受付日": "2025-04-03", "受付番号": "A-1", "窓口": "住民票"}]
    (inbox / "q.jsonl").write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), "utf-8")
    config = load_config(tmp_path / "jisseki.toml", {})
    batch = collect(config.source_def("window_queue"), config.source("window_queue"),
                    load_catalog(tmp_path / "policy.toml"), date(2025, 5, 31), 1.0)
    assert [(b.item, b.code, b.reason, b.value) for b in batch.bad] == [
        ("line 1", "invalid_value", "受付番号 を文字列として解釈できません", ""),
        ("line 2", "invalid_value", "受付番号 を文字列として解釈できません", "")]
    assert {f.period: f.value for f in batch.figures if f.kpi_id == "window_residents"}["FY2025"] == 1.0
    assert "91234" not in repr(batch.bad) + repr(batch.lineage.detail())


def test_the_labels_of_a_declared_source_are_its_title(tmp_path: Path) -> None:
    config, _ = setup(tmp_path)
    assert config.labels()["window_queue"] == "区役所 窓口受付ログ（window_queue）"
    assert "window_queue" in config.enabled_sources() and config.freshness()["window_queue"].business_days == 3


def test_a_measure_that_uses_a_column_the_source_does_not_declare_fails_the_source(tmp_path: Path) -> None:
    config, _ = setup(tmp_path)
    (tmp_path / "policy.toml").write_text(POLICY.replace('column = "待ち時間"', 'column = "待ち時間2"'), "utf-8")
    catalog = load_catalog(tmp_path / "policy.toml")
    with pytest.raises(SourceConfigError, match="待ち時間2 がソースの columns にありません"):
        collect(config.source_def("window_queue"), config.source("window_queue"), catalog, date(2025, 5, 31), 1.0)


@pytest.mark.parametrize("where, said", [
    ('{ "待ち時間" = "長い" }', '列 待ち時間 の条件の値 "長い" を数値として読めません'),
    ('{ "窓口" = 1 }', '列 窓口 の条件の値 1 を文字列として読めません'),
    ('{ "区コード" = ["271021", "27103"] }', '列 区コード の条件の値 "27103" は "271039" と書いてください'),
    ('{ "受付日" = "R7.4.1" }', '列 受付日 の条件の値 "R7.4.1" は "2025-04-01" と書いてください'),
    ('{ "窓口" = { min = 1 } }', "範囲（min・max）の条件は integer・number の列にだけ書けます（列 窓口 は文字列）"),
])
def test_a_filter_value_not_of_its_columns_typed_form_fails_the_source_before_it_reads(
        tmp_path: Path, where: str, said: str) -> None:
    # Without the check, the first two stop the measure inside DuckDB with its English conversion error, and
    # the others count no row at all without a word.
    config, _ = setup(tmp_path)
    (tmp_path / "policy.toml").write_text(POLICY.replace('where = { "窓口" = "住民票" }', f"where = {where}"), "utf-8")
    catalog = load_catalog(tmp_path / "policy.toml")
    with pytest.raises(SourceConfigError, match=re.escape(f"指標 window_residents: {said}")):
        collect(config.source_def("window_queue"), config.source("window_queue"), catalog, date(2025, 5, 31), 1.0)


def test_filter_values_in_their_typed_form_are_taken(tmp_path: Path) -> None:
    config, _ = setup(tmp_path)
    where = '{ "区コード" = "271021", "受付日" = "2025-04-01", "待ち時間" = 10, "窓口" = ["住民票", "税"] }'
    (tmp_path / "policy.toml").write_text(POLICY.replace('where = { "窓口" = "住民票" }', f"where = {where}"), "utf-8")
    batch = collect(config.source_def("window_queue"), config.source("window_queue"),
                    load_catalog(tmp_path / "policy.toml"), date(2025, 5, 31), 1.0)
    figures = {(f.kpi_id, f.period, f.scope): f.value for f in batch.figures}
    assert figures[("window_residents", "FY2025", "city")] == 1.0   # A-1 only


@pytest.mark.parametrize("change, said", [
    ('type = "csv"', 'type = "xml"', ),
    ('"受付日" = { type = "date", required = true }', '"受付日" = { type = "day" }'),
    ('scope = "区コード"', 'scope = "区"'),
])
def test_a_wrong_declaration_is_named_where_it_is_written(tmp_path: Path, change: str, said: str) -> None:
    (tmp_path / "jisseki.toml").write_text(CONFIG.replace(change, said), "utf-8")
    with pytest.raises(ConfigError, match=r"\[sources\.window_queue") as caught:
        load_config(tmp_path / "jisseki.toml", {})
    assert "csv" not in str(caught.value).split("[sources.window_queue")[1][:4]   # no union tag in the place
