"""A declared CSV source read column-wise (jisseki/declared/columnar.py) counts and quarantines exactly what the
row path (read_declared + DeclaredMeasure) does, on the same messy files."""
from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

import pytest

from jisseki.batch import Batch, Source
from jisseki.catalog import load_catalog
from jisseki.config import load_config
from jisseki.declared import columnar, read_csv
from jisseki.declared.collect import DeclaredMeasure, read_declared
from jisseki.pipeline import collect

CONFIG = """
[catalog]
path = "policy.toml"

[sources.window_queue]
type = "csv"
title = "区役所 窓口受付ログ"
path = "inbox"
key = ["受付番号"]
date = "受付日"
scope = "区コード"
{keep}

[sources.window_queue.columns]
"受付日" = {{ type = "date", required = true }}
"区コード" = {{ type = "ward", required = true }}
"受付番号" = {{ type = "text", personal = true }}
"待ち時間" = {{ type = "number", min = 0, max = 600 }}
"窓口" = {{ type = "text", allowed = ["住民票", "戸籍", "税"] }}
"更新" = "datetime"
"終了日" = {{ type = "date", not_before = "受付日" }}
"""

INDICATOR = """
[[indicators]]
id = "{id}"
challenge = 1
name = "{id}"
unit = "件"
kind = "count_per_fy"
direction = "at_least"
source = "window_queue"
targets = {{ 2025 = 1 }}
measure = {measure}
"""
MEASURES = {
    "resident_share": '{ type = "ratio", numerator = { "窓口" = "住民票" }, by_scope = true }',
    "filings": '{ type = "count", by_scope = true }',
    "first_filers": '{ type = "first", column = "受付番号" }',
    "open_cases": '{ type = "active", valid_from = "受付日", valid_to = "終了日", by_scope = true }',
    "mean_wait": '{ type = "mean", column = "待ち時間", where = { "窓口" = ["戸籍", "税"] } }',
    "latest_wait": '{ type = "latest", column = "待ち時間" }',
    "people": '{ type = "distinct", column = "受付番号" }',
}
POLICY = """
[policy]
id = "ward-fy2025"
title = "令和7年度 区役所運営方針"
department = "区役所"
fiscal_year = 2025

[challenges]
1 = "待たせない窓口"
""" + "".join(INDICATOR.format(id=k, measure=m) for k, m in MEASURES.items())

HEADER = "受付日,区コード,区名,受付番号,待ち時間,窓口,更新,終了日,備考"
FILES = {
    # CP932, CRLF: full-width digits, 和暦, a 5-digit ward code, quoted commas, blank lines (one of white space)
    "a_april.csv": ("cp932", "\r\n", [
        HEADER,
        "2025/04/01,271021,都島区,A-1,10,住民票,2025-04-01T09:00:00+09:00,2025/05/10,\"急ぎ,再来\"",
        "２０２５/０４/０２,27102,都島区,A-2,２０,戸籍,2025-04-02T10:00:00+09:00,,",
        "",
        "R7.4.3,271039,福島区,Ａ-3,30,住民票,2025-04-03T11:00:00+09:00,2025/06/01,\"a,b,c\"",
        "令和7年4月4日,271039,福島区,A-4,5.5,税,,,",
        " , , ,　, , , , , ",
        "2025/04/05,271047,此花区,A-5,1,住民票,2025-04-05T08:00:00+09:00,2025/04/05,",
    ]),
    # UTF-8 with a BOM, LF: keys of a_april again (a re-delivery), later updates
    "b_may.csv": ("utf-8-sig", "\n", [
        HEADER,
        "2025/05/01,271021,都島区,A-1,99,戸籍,2025-05-01T09:00:00+09:00,,",
        "2025/05/02,271039,福島区,A-3,7,住民票,2025-03-01T09:00:00+09:00,,",
        "2025/05/03,271063,西区,B-1,12,税,2025-05-03T09:00:00+09:00,2025/05/20,",
        "2025/05/04,271063,西区,B-2,0,住民票,2025-05-04T09:00:00Z,,\"\"\"引用\"\"\"",
    ]),
    # CP932, CRLF: a malformed line, a row of too many cells, invalid values, a key seen before
    "c_june.csv": ("cp932", "\r\n", [
        HEADER,
        "2025/06/01,271021,都島区,A-2,15,住民票,2025-06-01T09:00:00+09:00,,",
        "2025/06/02,271021,都島区,C-1,15,\"住民票,,,,",
        "2025/06/03,271039,福島区,C-2,15,戸籍,,,,余分",
        "2025/13/01,271039,福島区,C-3,15,戸籍,,,",
        "2025/06/04,999999,不明区,C-4,15,戸籍,,,",
        "2025/06/05,271039,福島区,C-5,-1,戸籍,,,",
        "2025/06/06,271039,福島区,C-6,15,年金,,,",
        "2025/06/07,271039,福島区,C-7,15,税,2025-06-07T09:00:00+09:00,2025/06/01,",
        "2025/06/08,271039,福島区,C-8,15,税,,,",
    ]),
    # UTF-8 without a BOM although the source says CP932: the header does not read, the file is quarantined
    "d_wrong_encoding.csv": ("utf-8", "\r\n", [HEADER, "2025/06/09,271039,福島区,D-1,1,税,,,"]),
    # CP932, LF, clean: keys of every earlier file again
    "e_july.csv": ("cp932", "\n", [
        HEADER,
        "2025/07/01,271021,都島区,A-1,3,住民票,2025-07-01T09:00:00+09:00,,",
        "2025/07/02,271039,福島区,C-8,4,税,2025-07-02T09:00:00+09:00,,",
        "2025/07/03,271047,此花区,B-2,5,戸籍,2025-04-01T09:00:00+09:00,2025/07/31,",
        "2025/07/04,271047,此花区,E-1,6,住民票,,,",
    ]),
}
KEEPS = {"first": "", "last": 'keep = "last"', "latest": 'latest = "更新"'}


def setup(tmp_path: Path, keep: str) -> tuple[object, object, object]:
    (tmp_path / "jisseki.toml").write_text(CONFIG.format(keep=KEEPS[keep]), "utf-8")
    (tmp_path / "policy.toml").write_text(POLICY, "utf-8")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name, (encoding, end, lines) in FILES.items():
        (inbox / name).write_bytes((end.join(lines) + end).encode(encoding))
    config = load_config(tmp_path / "jisseki.toml", {})
    return config, config.source("window_queue"), load_catalog(config.catalog.path)


def summary(batch: Batch) -> dict[str, object]:
    return {"figures": sorted((f.kpi_id, f.period, f.scope, f.as_of, f.value, f.numerator, f.denominator)
                              for f in batch.figures),
            "bad": sorted((b.location, b.item, b.code, b.reason, b.value, b.rows, b.content_hash) for b in batch.bad),
            "rows_read": batch.rows_read, "max_event_date": batch.max_event_date, "rejected": batch.rejected,
            "files": [(f.name, f.rows, f.encoding, f.sha256) for f in batch.lineage.files]}


@pytest.mark.parametrize("keep", list(KEEPS))
def test_the_columnar_path_counts_and_quarantines_as_the_row_path(tmp_path: Path, monkeypatch, keep: str) -> None:
    config, cfg, catalog = setup(tmp_path, keep)
    source = config.source_def("window_queue")
    assert source.bulk is not None
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    by_rows: list[str] = []
    read_file = read_csv.read_file
    monkeypatch.setattr(read_csv, "read_file", lambda data, info, decl: by_rows.append(info.name)
                        or read_file(data, info, decl))
    ours = collect(source, cfg, catalog, date(2025, 7, 31), 1.0)
    row_path = Source(source.name, source.japanese, source.config, read=read_declared, measure=DeclaredMeasure)
    theirs = collect(row_path, cfg, catalog, date(2025, 7, 31), 1.0)
    assert summary(ours) == summary(theirs)
    # The clean files went column-wise (with latest, 更新 is required: an empty one fails); the work folder with
    # their plain copies is gone.
    diverted = ["c_june.csv", "d_wrong_encoding.csv"] if keep != "latest" else [
        "a_april.csv", "c_june.csv", "d_wrong_encoding.csv", "e_july.csv"]
    assert by_rows == diverted + list(FILES)
    assert not list(temp.glob(columnar.WORK_PREFIX + "*"))
    got = summary(ours)
    assert got["rows_read"] == 23 and {b[2] for b in got["bad"]} - {"missing_value"} == {
        "malformed_csv", "invalid_value", "out_of_range", "not_allowed", "before_other", "undecodable"}
    assert len({f[0] for f in got["figures"]}) == len(MEASURES)
    assert any(f[2] == "271063" for f in got["figures"])   # per scope
    assert [f[1] for f in got["files"]] == [5, 4, 9, 1, 4]


def test_a_file_with_a_failing_value_keeps_its_line_numbers(tmp_path: Path) -> None:
    config, cfg, catalog = setup(tmp_path, "first")
    (tmp_path / "inbox" / "e_july.csv").write_bytes(
        (HEADER + "\r\n2025/07/01,271021,都島区,A-9,3,住民票,,,\r\n2025/07/02,271021,都島区,A-10,601,税,,,\r\n")
        .encode("cp932"))
    batch = collect(config.source_def("window_queue"), cfg, catalog, date(2025, 7, 31), 1.0)
    assert ("e_july.csv", "line 3", "out_of_range") in {(b.location, b.item, b.code) for b in batch.bad}


def test_the_plain_copies_a_killed_run_left_are_removed(tmp_path: Path, monkeypatch) -> None:
    config, cfg, catalog = setup(tmp_path, "first")
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    left = temp / f"{columnar.WORK_PREFIX}999999999-gone"   # no such process, no lock held
    left.mkdir()
    (left / "0.csv").write_text("受付番号\nA-1\n", "utf-8")
    batch = collect(config.source_def("window_queue"), cfg, catalog, date(2025, 7, 31), 1.0)
    assert not left.exists() and any("作業フォルダ" in note for note in batch.notes)
    assert not list(temp.glob(columnar.WORK_PREFIX + "*"))
