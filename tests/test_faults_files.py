"""Files that arrive broken: each ends in exact figures for the rest, or a named quarantine reason."""
from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from jisseki.catalog import load_catalog
from jisseki.config import DatavizSourceConfig, FolderSourceConfig, MoveoutSourceConfig
from jisseki.pipeline import collect
from jisseki.sources import SOURCE_DEFS

CATALOG = load_catalog()
AS_OF = date(2025, 4, 30)
HEADER = "受付日,区コード,区名,受付番号,届出経路,取消\r\n"
GOOD = "".join(f"2025/04/0{1 + n % 9},271021,都島区,G-{n},{'マイナポータル' if n % 2 else '窓口'},\r\n" for n in range(40))


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
    write(tmp_path / "logs", "a.csv", b"accessed_at,user_id,department_code,content_id\n2025-04-01T10:00:00+09:00,u1,D1,c\n")
    write(tmp_path / "logs", "b.csv", "accessed_at,user_id,department_code\n2025-04-02T10:00:00+09:00,利用者,D1\n".encode("cp932"))
    cfg = DatavizSourceConfig(path=tmp_path / "logs", departments=tmp_path / "departments.csv")
    batch = collect(SOURCE_DEFS["dataviz_access"], cfg, CATALOG, AS_OF, 0.9)
    assert [(b.location, b.code) for b in batch.bad] == [("b.csv", "undecodable")]
    assert {f.period: f.value for f in batch.figures}["FY2025"] == 1.0
