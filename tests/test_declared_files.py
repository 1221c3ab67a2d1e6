"""The row readers of declared file sources (CSV, Excel, JSON Lines) on real files in a folder: each data row
is a Row (only declared columns, raw values) or a Bad, and the two add up to the rows counted by hand."""
from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.errors import SourceConfigError
from jisseki.core.records import Bad, Lineage, digest
from jisseki.declared.read_csv import read_csv
from jisseki.declared.read_excel import read_excel
from jisseki.declared.read_jsonl import read_jsonl
from jisseki.declared.spec import CsvSource, ExcelSource, JsonlSource
from jisseki.declared.values import Row, Window
from jisseki.rejections import REASONS

WINDOW = Window(date(2025, 4, 1), date(2025, 9, 30))
COLUMNS = {"受付日": "date", "区コード": "ward", "件数": "integer"}
READERS = {"csv": (CsvSource, read_csv), "excel": (ExcelSource, read_excel), "jsonl": (JsonlSource, read_jsonl)}


def read(kind: str, folder: Path, **settings: Any) -> tuple[list[Row], list[Bad], Lineage]:
    model, reader = READERS[kind]
    cfg = model.model_validate({"type": kind, "title": "窓口受付", "path": folder, "columns": COLUMNS, **settings})
    lineage = Lineage()
    items = list(reader(cfg, lineage, WINDOW, None))
    rows = [i for i in items if isinstance(i, Row)]
    bad = [i for i in items if isinstance(i, Bad)]
    # Every data row once: the files' row counts are what was yielded, and every code has its words.
    assert sum(f.rows for f in lineage.files) == len(rows) + sum(b.rows for b in bad)
    assert all(b.code in REASONS for b in bad)
    assert lineage.units_total == len(lineage.files)
    return rows, bad, lineage


def codes(bad: list[Bad]) -> list[tuple[str, str, str, int]]:
    return [(b.location, b.item, b.code, b.rows) for b in bad]


def assert_nothing_shown(bad: list[Bad], *secrets: str) -> None:
    for b in bad:
        assert not any(s in b.reason or s in b.value for s in secrets), b


# --- CSV ----------------------------------------------------------------------------------------------------------

def test_cp932_with_a_title_block_crlf_and_undeclared_columns(tmp_path: Path) -> None:
    lines = [
        "令和7年度 窓口受付実績,,,,",         # 1: title block, above the header
        ",,,,",                                 # 2
        "受付日,区コード,氏名,件数,備考",         # 3: the header
        "2025/04/01,27102,山田太郎,３,①",        # 4: full-width digit kept raw; ① is CP932, not Shift_JIS
        "R7.4.2,27103,髙橋花子,1,",              # 5: 髙 exists in CP932 only
        "",                                     # blank lines are not rows
        "2025-04-03,27104,佐藤,2,\"備考、\"\"引用\"\"\"",   # 7
        "",
        "",
    ]
    (tmp_path / "a.csv").write_bytes("\r\n".join(lines).encode("cp932"))
    rows, bad, lineage = read("csv", tmp_path, header_row=3)
    assert bad == []
    assert [(r.location, r.item, dict(r.values)) for r in rows] == [
        ("a.csv", "line 4", {"受付日": "2025/04/01", "区コード": "27102", "件数": "３"}),
        ("a.csv", "line 5", {"受付日": "R7.4.2", "区コード": "27103", "件数": "1"}),
        ("a.csv", "line 7", {"受付日": "2025-04-03", "区コード": "27104", "件数": "2"}),
    ]
    assert all(set(r.values) == set(COLUMNS) for r in rows)   # 氏名 and 備考 are never read
    assert rows[0].content_hash == digest(lines[3].encode("cp932"))
    (info,) = lineage.files
    assert (info.name, info.rows, info.encoding) == ("a.csv", 3, "cp932")


def test_utf8_with_and_without_bom(tmp_path: Path) -> None:
    text = "受付日,区コード,件数\n2025/04/01,27102,1\n2025/04/02,27103,2\n"
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    (tmp_path / "plain.csv").write_bytes(text.encode("utf-8"))
    (tmp_path / "sjis.csv").write_bytes(text.encode("cp932"))
    # Declared cp932 (the default): the BOM says UTF-8 and is honoured; the file without one is not CP932, so
    # its header cannot be read, and the reason says what would read it.
    rows, bad, lineage = read("csv", tmp_path)
    assert [(r.location, r.item) for r in rows] == [("bom.csv", "line 2"), ("bom.csv", "line 3"),
                                                    ("sjis.csv", "line 2"), ("sjis.csv", "line 3")]
    assert codes(bad) == [("plain.csv", "header", "undecodable", 2)]
    assert bad[0].reason == ("見出し行（1行目）をCP932（Shift_JIS）として読めません"
                             "（UTF-8として読むと見出しがそろいます。設定の encoding（cp932）を確認してください）")
    assert [(f.name, f.encoding, f.rows) for f in lineage.files] == [
        ("bom.csv", "utf-8", 2), ("plain.csv", "cp932", 2), ("sjis.csv", "cp932", 2)]
    rows, bad, _ = read("csv", tmp_path, encoding="utf-8")
    assert len(rows) == 4 and codes(bad) == [("sjis.csv", "header", "undecodable", 2)]
    assert "CP932（Shift_JIS）として読むと見出しがそろいます" in bad[0].reason


def test_a_missing_declared_column_rejects_the_file_whole(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes("受付日,件数,氏名\n2025/04/01,1,山田\n\n2025/04/02,2,佐藤\n2025/04/03,3,鈴木\n"
                                     .encode("cp932"))
    (tmp_path / "b.csv").write_bytes("受付日,区コード,件数\n2025/04/01,27102,1\n".encode("cp932"))
    rows, bad, lineage = read("csv", tmp_path)
    assert codes(bad) == [("a.csv", "header", "missing_columns", 3)]
    assert bad[0].reason == "必須列がありません: 区コード"
    assert [r.location for r in rows] == ["b.csv"]
    assert [f.rows for f in lineage.files] == [3, 1]


def test_a_repeated_declared_header_rejects_the_file_an_undeclared_one_does_not(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes("受付日,区コード,件数,件数\n2025/04/01,27102,1,2\n".encode("cp932"))
    (tmp_path / "b.csv").write_bytes("受付日,区コード,件数,備考,備考\n2025/04/01,27102,1,x,y\n".encode("cp932"))
    rows, bad, _ = read("csv", tmp_path)
    assert codes(bad) == [("a.csv", "header", "duplicate_columns", 1)]
    assert "件数" in bad[0].reason
    assert [(r.location, dict(r.values)) for r in rows] == [("b.csv", {"受付日": "2025/04/01", "区コード": "27102",
                                                                         "件数": "1"})]


def test_header_names_are_nfkc_and_a_source_names_the_header(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes(" 受付日 ,ｸﾌﾞﾝ,件数\n2025/04/01,27102,1\n".encode("cp932"))
    cfg = {"受付日": "date", "区コード": {"type": "ward", "source": "クブン"}, "件数": "integer"}
    rows, bad, _ = read("csv", tmp_path, columns=cfg)
    assert bad == [] and dict(rows[0].values) == {"受付日": "2025/04/01", "区コード": "27102", "件数": "1"}


def test_a_malformed_line_is_quarantined_alone(tmp_path: Path) -> None:
    lines = [
        "受付日,区コード,件数,備考",
        '2025/04/01,27102,1,"閉じない引用符',      # 2: unclosed within the bound: this line alone
        "2025/04/02,27103,2,",                      # 3
        '2025/04/03,27104,3,"二行に',               # 4: a quoted line break joins line 5 into one record
        '続く備考"',                                # 5
        "2025/04/05,27105,5",                       # 6: a cell short
        "2025/04/06,27106,6,,余分",                 # 7: a cell too many
        'x"y,27107,7,',                             # 8: a quote inside an unquoted cell
        "",
    ]
    (tmp_path / "a.csv").write_bytes("\n".join(lines).encode("cp932"))
    rows, bad, lineage = read("csv", tmp_path)
    assert [r.item for r in rows] == ["line 3", "line 4"]
    assert rows[1].content_hash == digest("\n".join(lines[3:5]).encode("cp932"))
    assert codes(bad) == [("a.csv", f"line {n}", "malformed_csv", 1) for n in (2, 6, 7, 8)]
    assert "列の数が見出しと違います（見出しは4列、この行は3列）" == bad[1].reason
    assert bad[0].content_hash == digest(lines[1].encode("cp932"))
    assert lineage.files[0].rows == 6
    assert_nothing_shown(bad, "閉じない", "27105", "余分", "x\"y")


def test_an_undecodable_line_and_an_undecodable_header(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes("受付日,区コード,件数\n".encode() + b"2025/04/01,27102,\xff\xfe\n"
                                     + b"2025/04/02,27103,2\n")
    (tmp_path / "b.csv").write_bytes(b"\xff\xfe\xfd,x\n1,2\n")
    rows, bad, _ = read("csv", tmp_path, encoding="utf-8")
    assert [r.item for r in rows] == ["line 3"]
    assert codes(bad) == [("a.csv", "line 2", "undecodable", 1), ("b.csv", "header", "undecodable", 1)]


def test_files_by_pattern_in_name_order(tmp_path: Path) -> None:
    for name in ("b.csv", "A.CSV", "c.txt", "受付_2.csv"):
        (tmp_path / name).write_bytes("受付日,区コード,件数\n2025/04/01,27102,1\n".encode("cp932"))
    (tmp_path / "sub.csv").mkdir()
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "header_only.csv").write_bytes("受付日,区コード,件数\r\n\r\n".encode("cp932"))
    _, _, lineage = read("csv", tmp_path)
    assert [(f.name, f.rows) for f in lineage.files] == [("A.CSV", 1), ("b.csv", 1), ("empty.csv", 0),
                                                        ("header_only.csv", 0), ("受付_2.csv", 1)]
    _, _, lineage = read("csv", tmp_path, pattern="受付_*.csv")
    assert [f.name for f in lineage.files] == ["受付_2.csv"]
    with pytest.raises(SourceConfigError):
        read("csv", tmp_path / "nowhere")


# --- Excel --------------------------------------------------------------------------------------------------------

def workbook(path: Path, rows: list[list[Any]], title: str = "受付", more: dict[str, list[list[Any]]] | None = None
             ) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = title
    for row in rows:
        book.active.append(row)
    for name, sheet_rows in (more or {}).items():
        sheet = book.create_sheet(name)
        for row in sheet_rows:
            sheet.append(row)
    book.save(path)
    return path


def test_excel_values_as_the_cells_hold_them(tmp_path: Path) -> None:
    workbook(tmp_path / "a.xlsx", [
        ["窓口受付実績"],                                              # 1: title
        [],                                                            # 2
        ["受付日", "区コード", "氏名", "件数"],                          # 3: the header
        [datetime(2025, 4, 1), 27102, "山田", 3],                       # 4
        ["2025/04/02", "27103", "佐藤", "２"],                          # 5: text cells kept as text
        [None, None, "メモだけ", None],                                 # 6: a row, all its declared cells empty
        [],                                                            # 7: blank, not a row
        [datetime(2025, 4, 3), 27104, "鈴木", "=1+2"],                  # 8: a formula never calculated
        [datetime(2025, 4, 4), 27105, "田中", 4],                       # 9
        ["  ", None, None, None],                                      # 10: only white space: blank
    ])
    (tmp_path / "~$a.xlsx").write_bytes(b"lock")
    rows, bad, lineage = read("excel", tmp_path, header_row=3)
    assert [(r.item, dict(r.values)) for r in rows] == [
        ("row 4", {"受付日": datetime(2025, 4, 1), "区コード": 27102, "件数": 3}),
        ("row 5", {"受付日": "2025/04/02", "区コード": "27103", "件数": "２"}),
        ("row 6", {"受付日": None, "区コード": None, "件数": None}),
        ("row 9", {"受付日": datetime(2025, 4, 4), "区コード": 27105, "件数": 4}),
    ]
    assert codes(bad) == [("a.xlsx", "row 8", "formula_without_value", 1)]
    assert bad[0].reason.startswith("件数: ")
    assert [(f.name, f.rows) for f in lineage.files] == [("a.xlsx", 5)]
    assert_nothing_shown(bad, "鈴木", "27104", "=1+2")


def test_excel_sheet_header_and_broken_workbooks(tmp_path: Path) -> None:
    header = ["受付日", "区コード", "件数"]
    workbook(tmp_path / "a.xlsx", [["説明"]], more={"実績": [header, ["2025/04/01", "27102", "1"]]})
    workbook(tmp_path / "b.xlsx", [header, ["2025/04/01", "27102", "1"]])
    workbook(tmp_path / "c.xlsx", [["受付日", "件数"], ["2025/04/01", 1], ["2025/04/02", 2]], title="実績")
    workbook(tmp_path / "d.xlsx", [[*header, "件数"], ["2025/04/01", "27102", 1, 2]], title="実績")
    workbook(tmp_path / "e.xlsx", [header, ["2025/04/01", "27102", "=1/0"]], title="実績")
    (tmp_path / "f.xlsx").write_bytes(b"not a zip at all")
    rows, bad, lineage = read("excel", tmp_path, sheet="実績")
    assert [(r.location, r.item) for r in rows] == [("a.xlsx", "row 2")]
    assert codes(bad) == [("b.xlsx", "file", "sheet_not_found", 1), ("c.xlsx", "header", "missing_columns", 2),
                          ("d.xlsx", "header", "duplicate_columns", 1), ("e.xlsx", "row 2", "formula_without_value", 1),
                          ("f.xlsx", "file", "unreadable_workbook", 1)]
    assert bad[0].reason == "シート「実績」がありません"
    assert [f.rows for f in lineage.files] == [1, 1, 2, 1, 1, 1]
    # Without a sheet named, the first one is read: a.xlsx's is a note without the header.
    rows, bad, _ = read("excel", tmp_path)
    assert [r.location for r in rows] == ["b.xlsx"]
    assert codes(bad)[0] == ("a.xlsx", "header", "missing_columns", 0)


# --- JSON Lines ---------------------------------------------------------------------------------------------------

def test_jsonl_lines_objects_and_paths(tmp_path: Path) -> None:
    records = [
        {"受付日": "2025-04-01", "meta": {"ward": "27102"}, "件数": 3, "user": "u-001"},
        {"受付日": "2025-04-02", "meta": {"ward": 27103}, "件数": {"内訳": [1, 2]}},
    ]
    lines = [
        json.dumps(records[0], ensure_ascii=False),                 # 1 (after a BOM)
        "",                                                          # blank: not a row
        "{\"受付日\": \"2025-04-0",                                   # 3: cut off: not JSON
        "[1, 2, 3]",                                                 # 4: not an object
        json.dumps(records[1], ensure_ascii=False) + "\r",           # 5: CRLF
        '{"受付日": "2025-04-03", "件数": 1, "件数": 2}',             # 6: a key twice
        '{"u-secret": 1, "u-secret": 2}',                            # 7: a key twice that is not declared
        "   ",                                                       # blank
    ]
    (tmp_path / "a.jsonl").write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode("utf-8") + b"\n\xff{}\n")
    columns = {"受付日": "date", "区コード": {"type": "ward", "source": "meta.ward"}, "件数": "integer",
               "無い列": "text"}
    rows, bad, lineage = read("jsonl", tmp_path, columns=columns)
    assert [(r.item, dict(r.values)) for r in rows] == [
        ("line 1", {"受付日": "2025-04-01", "区コード": "27102", "件数": 3, "無い列": None}),
        ("line 5", {"受付日": "2025-04-02", "区コード": 27103, "件数": {"内訳": [1, 2]}, "無い列": None}),
    ]
    assert rows[0].content_hash == digest(lines[0].encode("utf-8"))
    assert codes(bad) == [("a.jsonl", "line 3", "not_json", 1), ("a.jsonl", "line 4", "not_object", 1),
                          ("a.jsonl", "line 6", "duplicate_key", 1), ("a.jsonl", "line 7", "duplicate_key", 1),
                          ("a.jsonl", "line 9", "undecodable", 1)]
    assert "件数" in bad[2].reason
    assert_nothing_shown(bad, "u-secret", "2025-04-0")
    assert [(f.name, f.rows, f.encoding) for f in lineage.files] == [("a.jsonl", 7, "utf-8")]


def test_a_nul_in_a_declared_value_is_bad_text(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text('{"受付日": "2025-04-01\\u0000", "件数": 1}\n{"受付日": "x", "件数": 1}\n',
                                      "utf-8")
    rows, bad, _ = read("jsonl", tmp_path)
    assert [r.item for r in rows] == ["line 2"] and codes(bad) == [("a.jsonl", "line 1", "bad_text", 1)]


def test_a_workbook_over_the_caps_costs_only_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import connectors.workbooks

    header = ["受付日", "区コード", "件数"]
    workbook(tmp_path / "a.xlsx", [header, *[["2025/04/01", "27102", n] for n in range(5)]])
    workbook(tmp_path / "b.xlsx", [header, ["2025/04/01", "27102", 1]])
    monkeypatch.setattr(connectors.workbooks, "MAX_ROWS", 4)
    rows, bad, lineage = read("excel", tmp_path)
    assert [r.location for r in rows] == ["b.xlsx"]
    assert codes(bad) == [("a.xlsx", "file", "workbook_too_many_cells", 1)]
    assert [f.rows for f in lineage.files] == [1, 1]
