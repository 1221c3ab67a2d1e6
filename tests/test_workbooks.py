"""Contract 6's workbooks as departments (and attackers) send them: values that make sense or a named
quarantine reason, and one hostile workbook never stops the others. Workbooks are made with openpyxl,
then broken by editing their zip's XML directly."""
from __future__ import annotations

import json
import math
import subprocess
import sys
import zipfile
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from connectors.manual_entries import MAX_VALUE, parse_number, parse_value, read_manual_entries
from jisseki.catalog import load_catalog
from jisseki.charts import line_chart
from jisseki.core.records import Bad, Lineage, Record
from jisseki.pipeline import collect
from jisseki.report import status_json
from jisseki.source_config import FolderSourceConfig
from jisseki.sources import SOURCE_DEFS
from tests.support import every_cell, write_config

CATALOG = load_catalog()
KINDS = {i.id: i.kind for i in CATALOG.indicators if i.source == "manual_entries"}
HEADER = ["KPI ID", "年度", "実績値", "根拠", "入力者", "入力日"]
SHEET_XML = "xl/worksheets/sheet1.xml"
GOOD_ROW = ["external_specialists", "2025", "7名", "https://example.jp/a", "DX推進課", datetime(2026, 4, 3)]


def workbook(path: Path, rows: list[list], sheets: dict[str, list[list]] | None = None) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = "実績"
    for row in [HEADER, *rows]:
        book.active.append(row)
    for title, extra in (sheets or {}).items():
        sheet = book.create_sheet(title)
        for row in extra:
            sheet.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def edit(path: Path, part: str, change) -> Path:
    """Rewrites one part of the workbook's zip (change(bytes) -> bytes, or None to leave it out)."""
    with zipfile.ZipFile(path) as archive:
        parts = [(info.filename, archive.read(info)) for info in archive.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts:
            data = change(data) if name == part else data
            if data is not None:
                archive.writestr(name, data)
    return path


def cell_xml(path: Path, ref: str, xml: str) -> Path:
    """Replaces cell `ref` of the 実績 sheet with the given <c> element."""
    def change(data: bytes) -> bytes:
        text = data.decode()
        start = text.index(f'<c r="{ref}"')
        end = text.index("</c>", start) + len("</c>")
        return (text[:start] + xml + text[end:]).encode()
    return edit(path, SHEET_XML, change)


def read(folder: Path) -> tuple[list[Record], list[Bad]]:
    items = list(read_manual_entries(folder, Lineage(), KINDS))
    return [i for i in items if isinstance(i, Record)], [i for i in items if isinstance(i, Bad)]


def manual(folder: Path):
    return collect(SOURCE_DEFS["manual_entries"], FolderSourceConfig(path=folder), CATALOG, date(2026, 3, 31), 1.0)


# --- values ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("cell, value", [
    ("1.2万", 12000.0), ("1.2万人", 12000.0), ("３千件", 3000.0), ("1千万", 10**7), ("2.5億", 2.5e8), ("1兆", 1e12),
    ("0.1万", 1000.0), ("1,234名", 1234.0), ("12.5%", 12.5), ("3時間", 3.0), (1e12, 1e12), (-1e12, -1e12),
    ("1万2千", None), ("3万万", None), ("2兆", None), ("9" * 400, None), ("1" + "0" * 13, None),
    (math.inf, None), (-math.inf, None), (math.nan, None), (1e13, None), (10**400, None), (-(10**13), None),
])
def test_scale_words_are_exact_and_what_is_not_a_plausible_number_does_not_land(cell, value) -> None:
    assert parse_value(cell, "count_per_fy") == value


def test_scale_words_are_applied_in_decimal() -> None:
    assert parse_number("1.2万", "count_per_fy") == Decimal(12000)
    assert parse_number("0.0001万", "count_per_fy") == Decimal(1)
    assert float(parse_number("1.1千", "count_per_fy")) == 1100.0  # 1.1 * 1000 in binary floats is 1100.0000000000002
    assert parse_number("1" + "0" * 400 + "万", "count_per_fy") > MAX_VALUE  # no overflow of Decimal's context


def test_infinity_and_huge_cells_are_quarantined_with_a_reason_and_the_rest_lands(tmp_path: Path) -> None:
    path = workbook(tmp_path / "m" / "a.xlsx", [[*GOOD_ROW[:2], 1, *GOOD_ROW[3:]]] * 3 + [GOOD_ROW[:2] + ["1.2万"]
                                                                                          + GOOD_ROW[3:]])
    cell_xml(path, "C2", '<c r="C2"><v>1E+309</v></c>')           # what Excel stores for a number it cannot hold
    cell_xml(path, "C3", f'<c r="C3"><v>{"9" * 400}</v></c>')
    cell_xml(path, "C4", f'<c r="C4" t="inlineStr"><is><t>{"9" * 30}名</t></is></c>')
    records, bad = read(tmp_path / "m")
    assert [(b.item, b.code) for b in bad] == [("2", "implausible_value"), ("3", "implausible_value"),
                                               ("4", "implausible_value")]
    assert "無限大" in bad[0].reason and "1兆" in bad[1].reason
    assert [r.fields["value"] for r in records] == [12000.0]


def test_a_value_that_does_not_parse_shows_only_that_it_was_text_and_its_length(tmp_path: Path) -> None:
    workbook(tmp_path / "m" / "a.xlsx", [GOOD_ROW, [*GOOD_ROW[:2], "山田太郎", *GOOD_ROW[3:]],
                                        [*GOOD_ROW[:2], "1万2千", *GOOD_ROW[3:]],
                                        [*GOOD_ROW[:2], "山田" * 30, *GOOD_ROW[3:]]])
    batch = manual(tmp_path / "m")
    assert [(b.item, b.code, b.value) for b in batch.bad] == [
        ("3", "bad_value", "文字列（4文字）"), ("4", "bad_value", "文字列（4文字）"),
        ("5", "bad_value", "文字列（60文字）")]
    assert "山田" not in repr(batch.bad) and batch.rejected is None
    assert [(f.kpi_id, f.value) for f in batch.figures] == [("external_specialists", 7.0)]


# --- formulas and sheets ----------------------------------------------------------------------------

def test_a_formula_without_its_saved_result_is_quarantined_not_skipped(tmp_path: Path) -> None:
    rows = [[f"{kpi}", "2025", 1, "", "", "2026/04/03"] for kpi in
            ("external_specialists", "dx_core_training_participants", "infra_training_participants",
             "data_pilot_projects", "dx_support_departments")]
    rows[0][2] = "=1+1"                                          # openpyxl saves a formula without its result
    path = workbook(tmp_path / "m" / "a.xlsx", rows)
    cell_xml(path, "C3", '<c r="C3"><f>1+1</f></c>')             # the same, written by hand: no <v>
    cell_xml(path, "C4", '<c r="C4"><f>1+1</f><v>2</v></c>')     # saved by Excel: its result lands
    cell_xml(path, "C5", '<c r="C5" t="e"><f>1/0</f><v>#DIV/0!</v></c>')
    cell_xml(path, "F6", '<c r="F6"><f>TODAY()</f></c>')
    records, bad = read(tmp_path / "m")
    assert [(b.item, b.code, b.value) for b in bad] == [
        ("2", "formula_without_value", ""), ("3", "formula_without_value", ""), ("5", "formula_error", "#DIV/0!"),
        ("6", "formula_without_value", "")]
    assert bad[0].reason == "実績値: 数式の結果が保存されていません。Excelで開いて保存し直してください"
    assert bad[3].reason.startswith("入力日: ")
    assert [(r.fields["kpi_id"], r.fields["value"]) for r in records] == [("infra_training_participants", 2.0)]


def test_entries_on_another_sheet_are_quarantined_and_guides_examples_or_empty_sheets_are_not(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    from jisseki.manual_template import write_template

    path = tmp_path / "m" / "template.xlsx"
    write_template(CATALOG, 2025, path)       # 実績 and its guide sheet 説明, as departments receive it
    book = load_workbook(path)
    filled = next(row for row in book["実績"].iter_rows(min_row=2) if row[0].value == "external_specialists")
    filled[2].value, filled[5].value = "７名", datetime(2026, 4, 3)
    book.create_sheet("非表示").sheet_state = "hidden"
    copy = book.create_sheet("コピー")
    for row in (HEADER, GOOD_ROW, ["data_pilot_projects", "2025", None], ["data_pilot_projects", "2025", "3事業"]):
        copy.append(row)
    book.create_sheet("メモ").append(["dx_support_departments", "2", "山田"])
    example = book.create_sheet("記入例")      # filled-in examples are part of a form, not entries
    for row in (HEADER, [*GOOD_ROW[:2], "99名", "記入例", "デジタル統括室", GOOD_ROW[5]]):
        example.append(row)
    book.save(path)
    records, bad = read(tmp_path / "m")
    assert [(r.fields["kpi_id"], r.fields["value"]) for r in records] == [("external_specialists", 7.0)]
    assert [(b.item, b.code, b.rows) for b in bad] == [("4枚目のシート", "entries_on_other_sheet", 2),
                                                       ("5枚目のシート", "entries_on_other_sheet", 1)]
    assert all("山田" not in b.reason and "コピー" not in b.reason for b in bad)


def test_rows_below_the_sheets_declared_dimension_are_read(tmp_path: Path) -> None:
    path = workbook(tmp_path / "m" / "a.xlsx", [GOOD_ROW])
    row = ('<row r="9"><c r="A9" t="inlineStr"><is><t>data_pilot_projects</t></is></c><c r="B9"><v>2025</v></c>'
           '<c r="C9"><v>3</v></c><c r="F9" t="inlineStr"><is><t>2026/04/05</t></is></c></row>')
    edit(path, SHEET_XML, lambda data: data.replace(b"</sheetData>", row.encode() + b"</sheetData>"))
    assert b'<dimension ref="A1:F2"' in zipfile.ZipFile(path).read(SHEET_XML)
    records, bad = read(tmp_path / "m")
    assert bad == [] and [(r.item, r.fields["kpi_id"]) for r in records] == [
        ("2", "external_specialists"), ("9", "data_pilot_projects")]


def test_the_person_in_charge_is_never_read_even_as_a_formula(tmp_path: Path) -> None:
    path = workbook(tmp_path / "m" / "a.xlsx", [GOOD_ROW])
    cell_xml(path, "E2", '<c r="E2"><f>CONCAT("山田","太郎")</f></c>')   # 入力者 without its result: not our concern
    records, bad = read(tmp_path / "m")
    assert bad == [] and len(records) == 1 and "山田" not in repr(records)


# --- hostile workbooks ------------------------------------------------------------------------------

def billion_laughs(data: bytes) -> bytes:
    entities = '<!ENTITY l0 "lol">' + "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    head = f'<?xml version="1.0"?><!DOCTYPE worksheet [{entities}]>'.encode()
    return head + data.replace(b"<t>DX</t>", b"<t>&l9;</t>")


def external_entity(data: bytes) -> bytes:
    head = b'<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    return head + data.replace(b"<t>DX</t>", b"<t>&x;</t>")


def big_sheet(path: Path, megabytes: int, rows_per_mb: int = 10_000) -> Path:
    """A sheet of one repeated row, streamed into the zip: megabytes of XML in kilobytes of file."""
    row = b'<row r="2"><c r="A2" t="inlineStr"><is><t>x</t></is></c></row>'
    chunk = row * (2**20 // len(row))
    with zipfile.ZipFile(path) as archive:
        parts = [(info.filename, archive.read(info)) for info in archive.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts:
            if name != SHEET_XML:
                archive.writestr(name, data)
                continue
            head, tail = data.split(b"</sheetData>")
            with archive.open(name, "w") as out:
                out.write(head)
                for _ in range(megabytes):
                    out.write(chunk)
                out.write(b"</sheetData>" + tail)
    return path


def many_rows(path: Path, rows: int) -> Path:
    body = "".join(f'<row r="{n}"><c r="A{n}"><v>{n}</v></c></row>' for n in range(3, rows + 3)).encode()
    return edit(path, SHEET_XML, lambda data: data.replace(b"</sheetData>", body + b"</sheetData>"))


def corrupt(path: Path) -> Path:
    data = bytearray(path.read_bytes())
    at = data.index(SHEET_XML.encode()) + len(SHEET_XML) + 40   # inside the sheet's compressed data
    data[at:at + 16] = bytes(16)
    path.write_bytes(bytes(data))
    return path


HOSTILE = {
    "not_a_zip": (lambda p: p.write_bytes(b"PK\x03\x04 not really a zip"), "unreadable_workbook", "ZIP"),
    "truncated_xml": (lambda p: edit(p, SHEET_XML, lambda d: d[:len(d) // 2]), "unreadable_workbook", "XMLが壊れて"),
    "entity_expansion": (lambda p: edit(p, SHEET_XML, billion_laughs), "unreadable_workbook", "実体宣言"),
    "external_entity": (lambda p: edit(p, SHEET_XML, external_entity), "unreadable_workbook", "実体宣言"),
    "missing_part": (lambda p: edit(p, "xl/workbook.xml", lambda d: None), "unreadable_workbook", "部品"),
    "nan_number": (lambda p: cell_xml(p, "C2", '<c r="C2"><v>NaN</v></c>'), "unreadable_workbook", "解釈できません"),
    "corrupt_zip": (corrupt, "unreadable_workbook", "ZIP"),
    "too_large": (lambda p: big_sheet(p, 60), "workbook_too_large", "50 MB"),
    "too_compressed": (lambda p: big_sheet(p, 5), "workbook_too_compressed", "ZIP爆弾"),
    "too_many_rows": (lambda p: many_rows(p, 100_001), "workbook_too_many_cells", "100,000 行"),
}


@pytest.mark.parametrize("kind", [pytest.param(k, marks=pytest.mark.e2e) if k == "too_many_rows" else k for k in sorted(HOSTILE)])
def test_a_hostile_workbook_is_quarantined_as_a_file_and_the_others_land(tmp_path: Path, kind: str) -> None:
    make, code, words = HOSTILE[kind]
    workbook(tmp_path / "m" / "a_good.xlsx", [GOOD_ROW])
    make(workbook(tmp_path / "m" / "b_hostile.xlsx", [[*GOOD_ROW[:4], "DX", GOOD_ROW[5]]]))
    workbook(tmp_path / "m" / "c_good.xlsx", [["data_pilot_projects", "R7", "3事業", "", "", "2026/04/05"]])
    records, bad = read(tmp_path / "m")
    assert [(r.location, r.fields["value"]) for r in records] == [("a_good.xlsx", 7.0), ("c_good.xlsx", 3.0)]
    assert [(b.location, b.item, b.code, b.rows) for b in bad] == [("b_hostile.xlsx", "file", code, 1)]
    assert words in bad[0].reason, bad[0].reason


def test_openpyxl_parses_through_defusedxml() -> None:
    from openpyxl.xml import DEFUSEDXML
    from openpyxl.xml.functions import iterparse

    assert DEFUSEDXML and iterparse.__module__.startswith("defusedxml")


READ_AND_MEASURE = """
import sys
from pathlib import Path
from connectors.manual_entries import read_manual_entries
from jisseki.core.records import Lineage, Record
kinds = {"external_specialists": "count_per_fy"}
items = list(read_manual_entries(Path(sys.argv[1]), Lineage(), kinds))
landed = sorted(i.location for i in items if isinstance(i, Record))
print(landed, sorted(i.code for i in items if not isinstance(i, Record)))
# VmHWM, not ru_maxrss: the latter counts the parent's pages the child held between fork and exec (a test
# process of 700 MB in the full suite), VmHWM belongs to the address space exec made.
peak = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM:"))
print(int(peak.split()[1]) // 1024)
"""


@pytest.mark.e2e
def test_bombs_are_refused_in_little_memory(tmp_path: Path) -> None:
    """A few hundred kilobytes that expand to hundreds of megabytes (or a billion characters) are refused
    before they are expanded: measured as the peak memory of a fresh process."""
    workbook(tmp_path / "m" / "good.xlsx", [GOOD_ROW])
    bomb = big_sheet(workbook(tmp_path / "m" / "zip_bomb.xlsx", [GOOD_ROW]), 140)
    assert bomb.stat().st_size < 512 * 1024
    edit(workbook(tmp_path / "m" / "laughs.xlsx", [[*GOOD_ROW[:4], "DX", GOOD_ROW[5]]]), SHEET_XML, billion_laughs)
    with (tmp_path / "m" / "huge.xlsx").open("wb") as huge:
        huge.truncate(400 * 2**20)   # sparse: 400 MB that would be in memory if it were read whole
    done = subprocess.run([sys.executable, "-c", READ_AND_MEASURE, str(tmp_path / "m")], capture_output=True,
                          text=True, timeout=300, cwd=Path(__file__).parent.parent)
    assert done.returncode == 0, done.stderr
    outcome, peak_mb = done.stdout.splitlines()
    assert outcome == "['good.xlsx'] ['unreadable_workbook', 'workbook_too_large', 'workbook_too_large']"
    assert int(peak_mb) < 300


# --- no figure, output or chart is ever non-finite ----------------------------------------------------

def test_a_source_that_yields_infinity_is_rejected_by_the_figure_guard(tmp_path: Path) -> None:
    def read_infinity(ctx, lineage):
        yield Record({"kpi_id": "external_specialists", "kpi_known": True, "fiscal_year": 2025, "value": math.inf,
                      "entered_on": date(2026, 4, 3), "evidence": "", "raw_kpi_id": "external_specialists",
                      "raw_year": "2025", "raw_value": "inf", "raw_entered": "2026/04/03"},
                     ("external_specialists", 2025), "x.xlsx", "2", "h")

    source = replace(SOURCE_DEFS["manual_entries"], read=read_infinity)
    batch = collect(source, FolderSourceConfig(path=tmp_path), CATALOG, date(2026, 3, 31), 1.0)
    assert batch.rejected and "有限の数でない集計値が 1 件" in batch.rejected
    assert "external_specialists" in batch.rejected


def test_status_json_is_strict_json_whatever_it_meets() -> None:
    evaluation = {"kpi_id": "external_specialists", "fiscal_year": 2025, "as_of": date(2026, 3, 31),
                  "actual": math.inf, "target": 7.0, "grade": "A", "status": "achieved", "projected": math.nan,
                  "prior_year_actual": None, "data_as_of": date(2026, 3, 31), "projection_method": None,
                  "flow_run_id": "r"}
    [entry] = status_json([evaluation], CATALOG)
    json.dumps(entry, allow_nan=False)   # raises on NaN or Infinity
    assert (entry["actual"], entry["projected"], entry["target"]) == (None, None, 7.0)
    assert sorted(entry["null_reasons"]) == ["actual", "projected"]


def test_charts_draw_a_non_finite_value_as_missing() -> None:
    line = line_chart(["4月", "5月", "6月"], [1.0, math.inf, 3.0], [math.nan, None, 2.0], math.inf, str,
                      ("a", "b", "c"))
    assert "nan" not in line and "inf" not in line
    assert line.count("<circle") == 3 * 2   # the wide and the narrow drawing


# --- the whole way, in fresh processes ----------------------------------------------------------------

@pytest.mark.e2e
@pytest.mark.usefixtures("prefect_harness")
def test_a_run_lands_the_good_workbooks_beside_hostile_ones_and_status_is_strict_json(tmp_path: Path) -> None:
    from prefect.settings import PREFECT_API_URL

    folder = tmp_path / "manual"
    workbook(folder / "a_good.xlsx", [[*GOOD_ROW[:2], "1.2万名", *GOOD_ROW[3:]],
                                      ["data_pilot_projects", "2025", "山田太郎", "", "", "2026/04/03"]])
    edit(workbook(folder / "b_laughs.xlsx", [[*GOOD_ROW[:4], "DX", GOOD_ROW[5]]]), SHEET_XML, billion_laughs)
    edit(workbook(folder / "c_truncated.xlsx", [GOOD_ROW]), SHEET_XML, lambda d: d[:len(d) // 2])
    cell_xml(workbook(folder / "d_infinite.xlsx", [["dx_core_training_participants", *GOOD_ROW[1:]]]), "C2",
             '<c r="C2"><v>1E+309</v></c>')
    url = f"sqlite:///{tmp_path / 'w.db'}"
    config = write_config(tmp_path, url, None, moveout="", speech="", **{"sources.manual_entries": {"path": "manual"}})
    env = {"PREFECT_API_URL": PREFECT_API_URL.value()}

    def jisseki(*args: str) -> subprocess.CompletedProcess:
        import os

        return subprocess.run([sys.executable, "-m", "jisseki.cli", *args, "--config", str(config)],
                              capture_output=True, text=True, timeout=600, env={**os.environ, **env})

    done = jisseki("run", "--as-of", "2026-03-31")
    assert done.returncode == 0, done.stdout + done.stderr
    shown = jisseki("status", "--fy", "2025", "--format", "json")
    assert shown.returncode == 0, shown.stderr

    def refuse(constant: str) -> None:
        raise AssertionError(f"not JSON: {constant}")

    actual = {e["kpi_id"]: e["actual"] for e in json.loads(shown.stdout, parse_constant=refuse)}
    assert actual["external_specialists"] == 12000.0
    assert actual["dx_core_training_participants"] is None and actual["data_pilot_projects"] is None

    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT location, item, reason_code, value FROM quarantine "
                                    "ORDER BY location, item")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [
        ("a_good.xlsx", "3", "bad_value", "文字列（4文字）"),
        ("b_laughs.xlsx", "file", "unreadable_workbook", ""),
        ("c_truncated.xlsx", "file", "unreadable_workbook", ""),
        ("d_infinite.xlsx", "2", "implausible_value", "文字列（3文字）")]
    assert "山田" not in every_cell(url)
