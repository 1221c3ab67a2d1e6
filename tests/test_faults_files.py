"""Files that arrive broken: each ends in exact figures for the rest, or a named quarantine reason."""
from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from jisseki.catalog import load_catalog
from jisseki.pipeline import collect
from jisseki.source_config import DatavizSourceConfig, FolderSourceConfig, MoveoutSourceConfig
from jisseki.sources import SOURCE_DEFS

CATALOG = load_catalog()
AS_OF = date(2025, 4, 30)
HEADER = "受付日,区コード,区名,受付番号,届出経路,取消\r\n"
GOOD = "".join(f"2025/04/0{1 + n % 9},271021,都島区,G-{n},{'マイナポータル' if n % 2 else '窓口'},\r\n"
               for n in range(40))


def moveout(folder: Path, max_bad: float = 0.5):
    batch = collect(SOURCE_DEFS["moveout_log"], MoveoutSourceConfig(path=folder), CATALOG, AS_OF, max_bad)
    city = {f.period: (f.numerator, f.denominator) for f in batch.figures if f.scope == "city"}
    return batch, city


def write(folder: Path, name: str, data: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


@pytest.mark.parametrize("name, data, code, rows", [
    ("truncated.csv", (HEADER + "2025/04/02,271021,都島区,T-1,窓").encode("cp932") + b"\x8c", "undecodable", 1),
    ("truncated2.csv", (HEADER + "2025/04/02,271021,都島").encode("cp932"), "unknown_route", 1),
    ("utf16.csv", (HEADER + "2025/04/02,271021,都島区,U-1,窓口,\r\n").encode("utf-16"), "missing_columns", None),
    ("binary.csv", os.urandom(4096).replace(b"\n", b"\x00") + b"\n" + os.urandom(512), "missing_columns", None),
])
def test_a_broken_file_is_quarantined_by_name_and_the_rest_lands_exactly(tmp_path, name, data, code, rows) -> None:
    write(tmp_path, "good.csv", (HEADER + GOOD).encode("cp932"))
    write(tmp_path, name, data)
    batch, city = moveout(tmp_path)
    assert city["2025-04"] == (20.0, 40.0)
    assert [(b.location, b.code) for b in batch.bad] == [(name, code)]
    # A file without the contract's header counts every line it has as bad, at least one.
    assert sum(b.rows for b in batch.bad) == rows if rows else sum(b.rows for b in batch.bad) >= 1


def test_an_empty_file_adds_nothing_and_is_not_an_error(tmp_path) -> None:
    write(tmp_path, "good.csv", (HEADER + GOOD).encode("cp932"))
    write(tmp_path, "empty.csv", b"")
    write(tmp_path, "header-only.csv", HEADER.encode("cp932"))
    batch, city = moveout(tmp_path)
    assert batch.bad == [] and city["2025-04"] == (20.0, 40.0)


def test_a_one_megabyte_line_is_read_without_harm(tmp_path) -> None:
    long_note = "あ" * (1024 * 1024 // 2)
    write(tmp_path, "long.csv", (HEADER.rstrip("\r\n") + ",備考\r\n" + "2025/04/02,271021,都島区,L-1,窓口,,"
                                 + long_note + "\r\n").encode("cp932"))
    write(tmp_path, "junk.csv", (HEADER + "x" * (1024 * 1024) + "\r\n").encode("cp932"))
    batch, city = moveout(tmp_path)
    assert city["2025-04"] == (0.0, 1.0)
    assert [(b.location, b.code) for b in batch.bad] == [("junk.csv", "bad_date")]
    assert len(batch.bad[0].value) <= 80  # reasons never carry the whole line


def test_speech_truncated_binary_and_huge_lines(tmp_path) -> None:
    good = ('{"session_id": "S-1", "device_id": "SR-1", "department_code": "D1", "started_at": '
            '"2025-04-03T10:00:00+09:00", "ended_at": "2025-04-03T11:30:00+09:00", "loan_type": "annual"}\n')
    write(tmp_path, "a.jsonl", (good + good[:60]).encode())
    write(tmp_path, "b.jsonl", os.urandom(2048).replace(b"\n", b" ") + b"\n")
    write(tmp_path, "c.jsonl", b'{"x": "' + b"y" * (1024 * 1024) + b'"}\n')
    batch = collect(SOURCE_DEFS["speech_usage"], FolderSourceConfig(path=tmp_path), CATALOG, AS_OF, 0.9)
    assert {f.period: f.value for f in batch.figures}["2025-04"] == 1.5
    assert sorted((b.location, b.code) for b in batch.bad) == [
        ("a.jsonl", "not_json"), ("b.jsonl", "undecodable"), ("c.jsonl", "missing_field")] or sorted(
        (b.location, b.code) for b in batch.bad) == [("a.jsonl", "not_json"), ("b.jsonl", "not_json"),
                                                     ("c.jsonl", "missing_field")]


def test_dataviz_log_in_an_unexpected_encoding_is_quarantined_whole(tmp_path) -> None:
    write(tmp_path, "departments.csv", b"department_code,department_name,valid_from,valid_to\nD1,a,2020-04-01,\n")
    write(tmp_path / "logs", "a.csv",
          b"accessed_at,user_id,department_code,content_id\n2025-04-01T10:00:00+09:00,u1,D1,c\n")
    write(tmp_path / "logs", "b.csv",
          "accessed_at,user_id,department_code\n2025-04-02T10:00:00+09:00,利用者,D1\n".encode("cp932"))
    cfg = DatavizSourceConfig(path=tmp_path / "logs", departments=tmp_path / "departments.csv")
    batch = collect(SOURCE_DEFS["dataviz_access"], cfg, CATALOG, AS_OF, 0.9)
    assert [(b.location, b.code) for b in batch.bad] == [("b.csv", "undecodable")]
    assert {f.period: f.value for f in batch.figures}["FY2025"] == 1.0


# ---------------------------------------------------------------- every data row accounted for

ROWS = [f"2025/04/{1 + n % 28:02d},271039,福島区,M-{n},{'マイナポータル' if n % 4 == 0 else '窓口'},\r\n"
        for n in range(72)]


@pytest.mark.parametrize("broken, code", [
    ('2025/04/05,271039,"福島区,M-90,窓口,\r\n', "malformed_csv"),     # a stray quote: not the rest of the file
    ('2025/04/05,271039,福島区, "M-90",窓口,\r\n', "malformed_csv"),    # read alike by both moving-out readers
    ("2025/04/05,271039,福島区,M-90\x00,窓口,\r\n", "bad_text"),        # a NUL, which PostgreSQL refuses
])
def test_a_broken_row_costs_only_itself_and_the_figures_are_exact(tmp_path, broken, code) -> None:
    write(tmp_path, "good.csv", (HEADER + GOOD).encode("cp932"))           # the columnar path
    write(tmp_path, "broken.csv", (HEADER + "".join(ROWS[:36]) + broken + "".join(ROWS[36:])).encode("cp932"))
    batch, city = moveout(tmp_path)
    assert [(b.location, b.item, b.code, b.rows) for b in batch.bad] == [("broken.csv", "38", code, 1)]
    assert batch.rows_read == 40 + 73 and {f.name: f.rows for f in batch.lineage.files} == {"good.csv": 40,
                                                                                           "broken.csv": 73}
    assert city["2025-04"] == (20.0 + 18.0, 40.0 + 72.0)


def test_a_repeated_column_rejects_the_file_and_not_the_notifications_of_others(tmp_path) -> None:
    write(tmp_path, "good.csv", (HEADER + GOOD).encode("cp932"))
    twice = HEADER.replace("取消", "受付番号")                           # 受付番号 twice: which one is meant?
    write(tmp_path, "twice.csv", (twice + "".join(f"2025/04/02,271039,福島区,R-{n},窓口,X\r\n" for n in range(40)))
          .encode("cp932"))
    batch, city = moveout(tmp_path, max_bad=0.9)
    assert [(b.location, b.item, b.code, b.rows) for b in batch.bad] == [
        ("twice.csv", "header", "duplicate_columns", 40)]
    assert batch.rows_read == 80 and city["2025-04"] == (20.0, 40.0) and batch.rejected is None


@pytest.mark.e2e
@pytest.mark.usefixtures("prefect_harness")
def test_file_names_that_are_not_utf8_land_escaped_in_every_file_source(tmp_path, warehouse_url) -> None:
    from flows.run import run_nightly
    from tests.support import every_cell, write_config

    write(tmp_path / "moveout", os.fsdecode(b"tenshutsu_\xff.csv"),
          (HEADER + "".join(ROWS) + "2025/04/05,271039,福島区,M-\x00,窓口,\r\n").encode("cp932"))
    session = ('{{"session_id": "S-{n}", "device_id": "SR-1", "department_code": "D0001", "started_at": '
               '"2025-04-03T10:00:00+09:00", "ended_at": "2025-04-03T11:00:00+09:00", "loan_type": "annual"}}\n')
    write(tmp_path / "speech", os.fsdecode(b"\xffb.jsonl"),
          ("".join(session.format(n=n) for n in range(30)) + '{"session_id": "S-\\u0000"}\n').encode())
    write(tmp_path, "departments.csv", b"department_code,department_name,valid_from,valid_to\nD0001,a,2020-04-01,\n")
    write(tmp_path / "dataviz", os.fsdecode(b"access_\xfe.csv"),
          b"accessed_at,user_id,department_code,content_id\n" + b"2025-04-01T10:00:00+09:00,u1,D0001,c\n" * 30
          + b'2025-04-01T10:00:00+09:00,"u2,D0001,c\n')
    config = write_config(tmp_path, warehouse_url, None, **{
        "sources.dataviz_access": {"path": "dataviz", "departments": "departments.csv"}})
    assert run_nightly(config, AS_OF, None) == 0
    engine = sa.create_engine(warehouse_url)
    with engine.connect() as conn:
        quarantine = sorted(conn.execute(sa.text("SELECT source, location, item, reason_code FROM quarantine")).all())
        lineage = {s: json.loads(d) for s, d in conn.execute(sa.text("SELECT source, detail FROM lineage"))}
    engine.dispose()
    assert quarantine == [("dataviz_access", "access_\\xfe.csv", "32", "malformed_csv"),
                          ("moveout_log", "tenshutsu_\\xff.csv", "74", "bad_text"),
                          ("speech_usage", "\\xffb.jsonl", "31", "bad_text")]
    # Each file by its escaped name, with its data rows: counted ones and quarantined ones together.
    assert {s: sorted((f[0], f[3]) for f in d["files"]) for s, d in lineage.items()} == {
        "moveout_log": [("tenshutsu_\\xff.csv", 73)], "speech_usage": [("\\xffb.jsonl", 31)],
        "dataviz_access": [("access_\\xfe.csv", 31), ("departments.csv", 1)]}
    assert "\x00" not in every_cell(warehouse_url)
