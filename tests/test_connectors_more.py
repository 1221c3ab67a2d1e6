"""Contracts 4-6 on a real loopback API and hand-made files."""
from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from connectors.dataviz_access import read_dataviz_access, read_master
from connectors.errors import SourceFormatError
from connectors.http import HttpClient
from connectors.manual_entries import parse_value, parse_year, read_manual_entries
from connectors.nocode_apps import read_nocode_apps
from jisseki.catalog import load_catalog
from jisseki.core.records import Bad, Lineage, Record
from tests.sample_api import Reply, SampleApi

KINDS = {i.id: i.kind for i in load_catalog().indicators if i.source == "manual_entries"}


def split(items) -> tuple[list[Record], list[Bad]]:
    items = list(items)
    return [i for i in items if isinstance(i, Record)], [i for i in items if isinstance(i, Bad)]


def apps(n: int) -> list[dict]:
    return [{"app_id": str(i), "name": "n", "business_id": f"OPS-{i:04d}", "status": "in_operation",
             "operation_started_on": "2025-06-02", "retired_on": None} for i in range(n)]


def crawl(api: SampleApi, limit: int = 100):
    lineage = Lineage()
    client = HttpClient(api.base_url, headers={"X-Api-Token": "k"}, sleep=lambda s: None)
    return split(read_nocode_apps(client, lineage, limit=limit)) + (lineage,)


@pytest.mark.parametrize("total, offsets", [(250, ["0", "100", "200"]), (200, ["0", "100", "200"]),
                                            (99, ["0"]), (100, ["0", "100"])])
def test_nocode_pages_end_on_the_first_short_page(total: int, offsets: list[str]) -> None:
    with SampleApi.nocode(apps(total), "k") as api:
        records, bad, lineage = crawl(api)
    assert len(records) == total and bad == [] and lineage.crawl["records"] == total
    assert [r["query"]["offset"] for r in api.requests] == offsets
    assert all(r["query"]["limit"] == "100" and r["authorization"] == "k" for r in api.requests)


def test_nocode_rejects_a_body_out_of_contract_and_an_empty_list() -> None:
    with SampleApi.nocode(apps(3), "k") as api, pytest.raises(SourceFormatError, match="apps"):
        api.script.append(Reply(200, b'{"data": []}'))
        crawl(api)
    with SampleApi.nocode([], "k") as api, pytest.raises(SourceFormatError, match="空"):
        crawl(api)


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def test_department_master_validity_is_inclusive_and_bad_rows_are_quarantined(tmp_path: Path) -> None:
    path = write(tmp_path / "departments.csv", "department_code,department_name,valid_from,valid_to\n"
                 "D1,一,2020-04-01,\nD2,二,2020-04-01,2025-09-30\nD3,三,2025-10-01,\nD4,四,昨日,\n")
    master, info, bad = read_master(path)
    assert master.valid_at(date(2025, 9, 30)) == {"D1", "D2"}
    assert master.valid_at(date(2025, 10, 1)) == {"D1", "D3"}
    assert [(b.item, b.code) for b in bad] == [("5", "bad_department")] and info.rows == 4


def test_access_rows_never_carry_the_user_id(tmp_path: Path) -> None:
    master = write(tmp_path / "departments.csv",
                   "department_code,department_name,valid_from,valid_to\nD1,一,2020-04-01,\n")
    write(tmp_path / "logs" / "a.csv", "\ufeffaccessed_at,user_id,department_code,content_id\r\n"
          "2025-04-01T10:00:00+09:00,u00042,D1,c1\r\n2025-04-01T01:00:00Z,u00043,D9,c1\r\nnot-a-time,u1,D1,c\r\n\r\n")
    records, bad = split(read_dataviz_access(tmp_path / "logs", master, Lineage()))
    assert [(r.fields["department_code"], r.fields["department_known"]) for r in records] == [
        ("D1", True), ("D9", False), ("D1", True)]
    assert records[2].fields["accessed_at"] is None
    assert all("u000" not in repr(r) for r in records)


@pytest.mark.parametrize("cell, fy", [(2025, 2025), (2025.0, 2025), ("2025", 2025), ("FY2025", 2025), ("fy2025", 2025),
                                      ("令和7年度", 2025), ("R7", 2025), ("Ｒ７", 2025), ("２０２５", 2025),
                                      ("令和元年度", 2019), ("7", None), ("2025年", None), (None, None)])
def test_fiscal_year_forms(cell, fy) -> None:
    assert parse_year(cell) == fy


@pytest.mark.parametrize("cell, kind, value", [
    ("69名", "count_per_fy", 69.0), ("６９", "count_per_fy", 69.0), (7, "count_per_fy", 7.0),
    ("1,200人", "count_per_fy", 1200.0), ("2.5", "count_per_fy", 2.5), ("多数", "count_per_fy", None),
    ("-", "count_per_fy", None), ("-3名", "count_per_fy", None),
    ("済", "milestone", 1.0), ("完了", "milestone", 1.0), ("達成", "milestone", 1.0), (1, "milestone", 1.0),
    ("未", "milestone", 0.0), ("未了", "milestone", 0.0), (0, "milestone", 0.0), ("2", "milestone", None),
    ("はい", "milestone", None)])
def test_values_with_units_digits_and_milestone_words(cell, kind, value) -> None:
    assert parse_value(cell, kind) == value


def workbook(path: Path, rows: list[list], sheet: str = "実績") -> Path:
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = sheet
    book.active.append(["KPI ID", "年度", "実績値", "根拠", "入力者", "入力日"])
    for row in rows:
        book.active.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def test_manual_rows_parse_and_the_person_in_charge_is_never_read(tmp_path: Path) -> None:
    workbook(tmp_path / "m" / "a.xlsx", [
        ["external_specialists", "R7", "７名", "https://example.jp/a", "山田 太郎", datetime(2026, 4, 3)],
        ["no_such_kpi", "2025", "3", "", "DX担当", "2026/04/03"],
        ["online_procedures", "2025", "3", "", "DX担当", "2026/04/03"],
        ["security_strategy_revised", "FY2025", "済", "議事録", "DX担当", None],
        ["data_pilot_projects", "2025", None, None, None, None],
        [None, None, None, None, None, None],
    ])
    (tmp_path / "m" / "~$a.xlsx").write_bytes(b"lock")
    records, bad = split(read_manual_entries(tmp_path / "m", Lineage(), KINDS))
    assert bad == [] and len(records) == 4  # the blank and the unfilled template row are skipped
    first = records[0].fields
    assert (first["kpi_id"], first["fiscal_year"], first["value"], first["entered_on"]) == (
        "external_specialists", 2025, 7.0, date(2026, 4, 3))
    assert [r.fields["kpi_known"] for r in records] == [True, False, False, True]
    assert records[3].fields["entered_on"] is None
    assert all("山田" not in repr(r) for r in records)


def test_a_workbook_without_the_sheet_or_not_a_workbook_is_quarantined(tmp_path: Path) -> None:
    workbook(tmp_path / "m" / "a.xlsx", [["external_specialists", "2025", "7", "", "", datetime(2026, 4, 1)]],
             sheet="Sheet1")
    (tmp_path / "m" / "b.xlsx").write_bytes(b"not a zip at all")
    records, bad = split(read_manual_entries(tmp_path / "m", Lineage(), KINDS))
    assert records == [] and [(b.location, b.code) for b in bad] == [("a.xlsx", "missing_sheet"),
                                                                      ("b.xlsx", "unreadable_workbook")]


# ---------------------------------------------------------------- strict reading of every row

MASTER = "department_code,department_name,valid_from,valid_to\nD1,一,2020-04-01,\nD2,二,2020-04-01,\n"
ACCESS_HEADER = "accessed_at,user_id,department_code,content_id\r\n"
ACCESS = [f"2025-04-{1 + n % 28:02d}T10:00:00+09:00,u{n:05d},D{1 + n % 2},c{n}\r\n" for n in range(1150)]


def access(tmp_path: Path, log: str, master: str = MASTER) -> tuple[list[Record], list[Bad], Lineage]:
    write(tmp_path / "departments.csv", master)
    write(tmp_path / "logs" / "a.csv", log)
    lineage = Lineage()
    records, bad = split(read_dataviz_access(tmp_path / "logs", tmp_path / "departments.csv", lineage))
    # Every data row of every file (the master's too) counted or quarantined, once.
    assert len(records) + sum(b.rows for b in bad) == sum(f.rows for f in lineage.files[1:]) + sum(
        1 for b in bad if b.location == "departments.csv")
    return records, bad, lineage


@pytest.mark.parametrize("broken, code", [
    ('2025-04-05T10:00:00+09:00,"u99999,D1,c\r\n', "malformed_csv"),      # a stray quote, never closed
    ('2025-04-05T10:00:00+09:00,u99999, "D1",c\r\n', "malformed_csv"),    # a space before a quoted field
    ('2025-04-05T10:00:00+09:00,u99999,"D1"x,c\r\n', "malformed_csv"),    # text after the closing quote
    ("2025-04-05T10:00:00+09:00,u99999,D1\x00,c\r\n", "bad_text"),        # a NUL
])
def test_access_a_broken_row_is_quarantined_at_its_line_and_every_other_row_counts(tmp_path: Path, broken: str,
                                                                                   code: str) -> None:
    records, bad, lineage = access(tmp_path, ACCESS_HEADER + "".join(ACCESS[:600]) + broken + "".join(ACCESS[600:]))
    assert [(b.location, b.item, b.code, b.rows) for b in bad] == [("a.csv", "602", code, 1)]
    assert "u99999" not in repr(bad) and len(records) == 1150 and lineage.files[1].rows == 1151
    assert [r.item for r in records][600] == "603"


@pytest.mark.parametrize("header, code", [
    ("accessed_at,user_id,department_code,department_code\r\n", "duplicate_columns"),
    ("accessed_at,user_id,ｄｅｐａｒｔｍｅｎｔ_ｃｏｄｅ,department_code\r\n", "duplicate_columns"),   # same in NFKC
    ('accessed_at,user_id,"department_code,content_id\r\n', "malformed_header"),
    ("accessed_at,user_id,content_id\r\n", "missing_columns"),
])
def test_access_a_log_whose_header_cannot_be_trusted_is_rejected_with_all_its_rows(tmp_path: Path, header: str,
                                                                                   code: str) -> None:
    records, bad, _ = access(tmp_path, header + "".join(ACCESS[:40]) + "\r\n\r\n")
    assert records == [] and [(b.location, b.item, b.code, b.rows) for b in bad] == [("a.csv", "header", code, 40)]


def test_access_an_undecodable_log_is_rejected_with_all_its_rows(tmp_path: Path) -> None:
    write(tmp_path / "departments.csv", MASTER)
    write(tmp_path / "logs" / "a.csv", ACCESS_HEADER + "".join(ACCESS[:3]) + "利用者,D1\r\n", "cp932")
    records, bad = split(read_dataviz_access(tmp_path / "logs", tmp_path / "departments.csv", Lineage()))
    assert records == [] and [(b.item, b.code, b.rows) for b in bad] == [("file", "undecodable", 4)]


def test_master_a_broken_row_is_quarantined_and_its_value_shown_only_in_shape(tmp_path: Path) -> None:
    path = write(tmp_path / "departments.csv", MASTER + 'D3,"三,2020-04-01,\n大阪 太郎,四,山田 花子,\n'
                 "D0005,五,2020-04-01,昨日\nD6,六,2020-04-01,\n")
    master, info, bad = read_master(path)
    assert sorted(master.spans) == ["D1", "D2", "D6"] and info.rows == 6
    assert [(b.item, b.code, b.value) for b in bad] == [
        ("4", "malformed_csv", ""), ("5", "bad_department", "文字列（5文字） 文字列（5文字）"),
        ("6", "bad_department", "D0005 2020-04-01 文字列（2文字）")]


@pytest.mark.parametrize("master, code", [
    ("department_code,department_name,valid_from,valid_to,valid_from\nD1,一,2020-04-01,,2021-04-01\n", "同じ列名"),
    ("department_code,department_name,valid_to\nD1,一,\n", "必須列"),
    ('department_code,"department_name,valid_from,valid_to\nD1,一,2020-04-01,\n', "見出し行"),
    ("department_code,department_name,valid_from,valid_to\nD1,一,2020-04-01,\n".encode("utf-16").decode("latin-1"),
     "UTF-8"),
])
def test_a_master_that_cannot_be_trusted_fails_the_source_naming_it(tmp_path: Path, master: str, code: str) -> None:
    write(tmp_path / "departments.csv", master, "latin-1" if code == "UTF-8" else "utf-8")
    with pytest.raises(SourceFormatError, match=f"departments.csv.*{code}"):
        read_master(tmp_path / "departments.csv")
