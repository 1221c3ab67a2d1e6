"""The achievement workbook: the seed's 7年度実績 table with numbers stored as numbers, printable on landscape
A4 one page wide (checked in real LibreOffice), the monthly figures, and no formula anywhere."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from datetime import date
from importlib import resources
from pathlib import Path

import pytest
from openpyxl import load_workbook

from jisseki.catalog import Catalog, load_catalog, parse_catalog
from jisseki.core.model import Figure
from jisseki.evaluate import evaluate
from jisseki.report_workbook import neutralise, write_workbook
from tests.support import SEED_FY2025, libreoffice, pdf_page_sizes, pdf_text, soffice
from warehouse.store import connect, latest_evaluations, save_evaluations

CATALOG = load_catalog()
CHALLENGES = CATALOG.policy_for("デジタル統括室", 2025).challenges
AS_OF = date(2026, 3, 31)
MONTHS = [(2025, m) for m in range(4, 13)] + [(2026, m) for m in (1, 2, 3)]

# The seed's FY2025 table (7年度実績, 達成状況, 前年度実績), as the operating policy prints it.
# Monthly figures as the sources report them: speech hours per month (mean 403), new no-code apps per
# month (50 in the year), the procedures catalog's month-end total (2,180 at March's end), each month's
# share of moving-out notifications filed through the MyNa Portal.
SPEECH = [380.0, 390, 395, 400, 405, 410, 398, 402, 420, 415, 410, 411]
NOCODE = [3.0, 4, 5, 2, 6, 4, 5, 3, 4, 6, 5, 3]
ONLINE = [1700.0 + 40 * i for i in range(11)] + [2180.0]
MYNA = [0.25, 0.296, 0.304, 0.312, 0.312, 0.328, 0.333, 0.344, 0.347, 0.36, 0.366, 0.38]
HEADER = ["指標", "目標", "7年度実績", "達成状況", "状況", "年度末見込み", "前年度実績", "KPI ID"]
TITLE = "令和7年度 デジタル統括室 アウトカム指標の達成状況"


def seed_figures() -> list[Figure]:
    out = [Figure(k, "FY2025", "city", AS_OF, float(v)) for k, (v, _, _) in SEED_FY2025.items()]
    for kpi_id, values in (("speech_hours_monthly", SPEECH), ("nocode_operations", NOCODE),
                           ("online_procedures", ONLINE), ("myna_moveout_share", MYNA)):
        out += [Figure(kpi_id, f"{y}-{m:02d}", "city", date(y, m, 28), v) for (y, m), v in zip(MONTHS, values)]
    return out


def bundled_policy() -> dict:
    return tomllib.loads(resources.files("jisseki.catalogs").joinpath("fy2025.toml").read_text("utf-8"))


def write(tmp: Path, figures: list[Figure], catalog: Catalog = CATALOG) -> Path:
    engine = connect(f"sqlite:///{tmp / 'w.db'}")
    save_evaluations(engine, evaluate(figures, catalog, AS_OF), "run-1")
    path = tmp / "achievement_FY2025.xlsx"
    write_workbook(latest_evaluations(engine, 2025), figures, catalog, 2025, path)
    engine.dispose()
    return path


@pytest.fixture(scope="module")
def workbook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write(tmp_path_factory.mktemp("workbook"), seed_figures())


def indicator_rows(sheet) -> dict[str, tuple]:
    return {row[7].value: row for row in sheet.iter_rows(min_row=4) if row[7].value in SEED_FY2025}


def test_the_table_has_a_title_the_seeds_columns_and_challenge_group_rows(workbook: Path) -> None:
    sheet = load_workbook(workbook)["達成状況"]
    assert sheet["A1"].value == TITLE
    assert "2026-03-31 時点" in sheet["A2"].value and "※A：達成 B：未達成" in sheet["A2"].value
    assert [c.value for c in sheet[3]] == HEADER
    merged = {str(r) for r in sheet.merged_cells.ranges}
    groups = [(row[0].row, row[0].value) for row in sheet.iter_rows(min_row=4) if str(row[0].value).startswith("経営課題")]
    assert [v for _, v in groups] == [f"経営課題{n} {t}" for n, t in CHALLENGES.items()]
    assert all(f"A{r}:H{r}" in merged and sheet[f"A{r}"].font.b for r, _ in groups)
    # Each indicator sits under its own challenge, in the catalog's order, the challenge not repeated.
    order = [row[7].value for row in sheet.iter_rows(min_row=4) if row[7].value in SEED_FY2025 or
             str(row[0].value).startswith("経営課題")]
    expected = []
    for n in CHALLENGES:
        expected += [None] + [i.id for i in CATALOG.indicators if i.challenge == n]
    assert order == expected


def test_values_are_numbers_with_the_indicators_unit_in_the_format(workbook: Path) -> None:
    sheet = load_workbook(workbook)["達成状況"]
    rows = indicator_rows(sheet)
    assert len(rows) == 15
    for ind in CATALOG.indicators:
        row = rows[ind.id]
        actual, grade, prior = SEED_FY2025[ind.id]
        assert row[0].value == ind.name and row[3].value == grade, ind.id
        if ind.kind == "milestone":
            assert (row[1].value, row[2].value, row[6].value) == ("完了", "完了", None), ind.id
            continue
        for cell, value in ((row[1], ind.target(2025)), (row[2], actual), (row[6], prior)):
            assert cell.data_type == "n" and cell.value == pytest.approx(value), (ind.id, cell.coordinate)
    speech = rows["speech_hours_monthly"]
    assert (speech[1].value, speech[2].value, speech[6].value) == (1870, 403, 276)
    assert speech[1].number_format == speech[2].number_format == '"月"#,##0"時間"'
    assert rows["online_procedures"][2].number_format == '#,##0"件"'
    assert rows["external_specialists"][2].number_format == '#,##0"名"'
    assert rows["nocode_operations"][2].number_format == '#,##0"業務"'
    assert rows["myna_moveout_share"][2].number_format == "0.0%"
    assert [rows[k][4].value for k in ("speech_hours_monthly", "online_procedures")] == ["未達成", "達成"]
    # The year is over: the projection is the year's actual, a number too.
    assert rows["online_procedures"][5].value == 2180 and rows["online_procedures"][5].data_type == "n"


def test_a_and_b_are_coloured_and_counted_under_the_table(workbook: Path) -> None:
    sheet = load_workbook(workbook)["達成状況"]
    rows = indicator_rows(sheet)
    a, b = rows["online_procedures"][3], rows["speech_hours_monthly"][3]
    assert a.fill.fgColor.rgb.endswith("C6EFCE") and b.fill.fgColor.rgb.endswith("FFC7CE")
    assert rows["external_specialists"][1].fill.fgColor.rgb != a.fill.fgColor.rgb  # only the grade is filled
    totals = {row[0].value: row[1] for row in sheet.iter_rows(min_row=4) if row[0].value in ("A（達成）", "B（未達成）")}
    assert totals["A（達成）"].value == 14 and totals["B（未達成）"].value == 1
    assert totals["A（達成）"].data_type == "n" and totals["A（達成）"].number_format == '#,##0"件"'


def test_print_setup_is_landscape_a4_one_page_wide_with_the_header_repeated(workbook: Path) -> None:
    book = load_workbook(workbook)
    for sheet in book.worksheets:
        setup = sheet.page_setup
        assert (setup.orientation, int(setup.paperSize), setup.fitToWidth, setup.fitToHeight) == ("landscape", 9, 1, 0)
        assert sheet.sheet_properties.pageSetUpPr.fitToPage
        assert sheet.print_title_rows == "$3:$3" and "&P" in sheet.oddFooter.center.text
        assert sheet.freeze_panes in ("A4", "C4")
    sheet = book["達成状況"]
    assert sheet.freeze_panes == "A4" and sheet["A5"].alignment.wrap_text


def test_the_monthly_sheet_has_numbers_per_month_and_running_totals_for_yearly_counts(workbook: Path) -> None:
    sheet = load_workbook(workbook)["月次実績"]
    assert [c.value for c in sheet[3]] == ["指標", "区分", "目標", *(f"{m}月" for _, m in MONTHS), "KPI ID"]
    rows = {row[-1].value: row for row in sheet.iter_rows(min_row=4)}
    assert set(rows) == {"speech_hours_monthly", "nocode_operations", "online_procedures", "myna_moveout_share"}
    running = [sum(NOCODE[:i + 1]) for i in range(12)]
    for kpi_id, kind, values, fmt in (("speech_hours_monthly", "月間", SPEECH, '"月"#,##0"時間"'),
                                      ("nocode_operations", "累計", running, '#,##0"業務"'),
                                      ("online_procedures", "月末時点", ONLINE, '#,##0"件"'),
                                      ("myna_moveout_share", "月間", MYNA, "0.0%")):
        row = rows[kpi_id]
        assert row[1].value == kind and row[2].value == CATALOG.get(kpi_id).target(2025)
        assert [c.value for c in row[3:15]] == values, kpi_id
        assert {c.data_type for c in row[2:15]} == {"n"} and {c.number_format for c in row[2:15]} == {fmt}
    assert rows["nocode_operations"][14].value == 50  # March's running total is the year's actual


def test_no_data_is_an_empty_cell_with_the_status_not_a_zero(tmp_path: Path) -> None:
    figures = [f for f in seed_figures() if f.kpi_id != "external_specialists"]
    rows = indicator_rows(load_workbook(write(tmp_path, figures))["達成状況"])
    row = rows["external_specialists"]
    assert row[2].value is None and row[5].value is None and row[4].value == "データなし" and row[3].value == "—"
    assert row[1].value == 7 and row[6].value == 5  # the target and the published prior year still show


def test_within_the_year_the_grade_is_open_and_the_projection_is_a_number(tmp_path: Path) -> None:
    day = date(2025, 9, 30)  # 183 of the year's 365 days
    figures = [Figure("nocode_operations", "FY2025", "city", day, 8.0),
               Figure("speech_hours_monthly", "FY2025", "city", day, 395.0),
               Figure("backoffice_platform_started", "FY2025", "city", day, 0.0)]
    engine = connect(f"sqlite:///{tmp_path / 'w.db'}")
    save_evaluations(engine, evaluate(figures, CATALOG, day), "run-1")
    path = tmp_path / "mid.xlsx"
    write_workbook(latest_evaluations(engine, 2025), figures, CATALOG, 2025, path)
    sheet = load_workbook(path)["達成状況"]
    assert "2025-09-30 時点" in sheet["A2"].value
    rows = indicator_rows(sheet)
    nocode, speech = rows["nocode_operations"], rows["speech_hours_monthly"]
    backoffice = rows["backoffice_platform_started"]
    assert (nocode[2].value, nocode[3].value, nocode[4].value) == (8, "—", "要注意")
    assert nocode[5].data_type == "n" and nocode[5].value == pytest.approx(8 * 365 / 183)  # 16 of 20: at risk
    assert (speech[3].value, speech[4].value, speech[5].value) == ("—", "要注意", 395)
    assert (backoffice[2].value, backoffice[4].value, backoffice[5].value) == ("未完了", "順調", None)
    assert not sheet["D" + str(nocode[3].row)].fill.fgColor.rgb.endswith(("C6EFCE", "FFC7CE"))
    totals = {row[0].value: row[1].value for row in sheet.iter_rows(min_row=4) if row[0].value == "未確定"}
    assert totals == {"未確定": 15}


@pytest.mark.parametrize("text, safe", [("=1+1", "'=1+1"), ("+81", "'+81"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"),
                                        ("\tx", "'\tx"), ("\rx", "'\rx"), ("69名", "69名"), ("—", "—"), (3, 3),
                                        (-2.0, -2.0)])
def test_formula_like_text_is_neutralised(text, safe) -> None:
    assert neutralise(text) == safe


def test_no_cell_is_a_formula_even_when_the_catalog_has_formula_like_names(tmp_path: Path) -> None:
    raw = bundled_policy()
    raw["challenges"][1] = "=HYPERLINK(\"http://x\",\"課題\")"
    raw["indicators"][0]["name"] = "@SUM(1+1)"
    raw["indicators"][0]["id"] = "-cmd"
    catalog = parse_catalog(raw)
    figures = [Figure("-cmd" if f.kpi_id == "online_procedures" else f.kpi_id, f.period, f.scope, f.as_of, f.value)
               for f in seed_figures()]
    book = load_workbook(write(tmp_path, figures, catalog))
    cells = [c for sheet in book.worksheets for row in sheet.iter_rows() for c in row]
    assert not [c for c in cells if c.data_type == "f"]
    texts = {c.value for c in cells if isinstance(c.value, str)}
    assert {"'@SUM(1+1)", "'-cmd", "経営課題1 =HYPERLINK(\"http://x\",\"課題\")"} <= texts
    assert not [t for t in texts if t.startswith(("=", "+", "-", "@"))]


needs_libreoffice = pytest.mark.skipif(
    (soffice() is None or shutil.which("pdftotext") is None) and os.environ.get("CI") != "true",
    reason="LibreOffice (libreoffice-calc-nogui) or poppler-utils is not installed")


@pytest.mark.e2e
@needs_libreoffice
def test_libreoffice_prints_the_table_on_one_landscape_page_wide(workbook: Path, tmp_path: Path) -> None:
    pdf = libreoffice(workbook, "pdf", tmp_path)
    sizes = pdf_page_sizes(pdf)
    # One page per sheet: every column of a sheet on its page (fit to width), and nothing left over.
    assert len(sizes) == 2 and all(abs(w - 841.9) < 2 and abs(h - 595.3) < 2 for w, h in sizes), sizes
    page = pdf_text(pdf, 1)
    lines = [" ".join(line.split()) for line in page.splitlines()]
    assert TITLE in lines[0] + lines[1]
    header = next(line for line in lines if "指標" in line and "KPI ID" in line)
    assert all(h in header for h in HEADER), header
    for n, title in CHALLENGES.items():  # each 経営課題 heading whole, on one line
        assert f"経営課題{n} {title}" in lines, title
    speech = next(line for line in lines if "speech_hours_monthly" in line)
    assert re.search(r"月1,870時間 月403時間 B 未達成 月\d{3}時間 月276時間 speech_hours_monthly", speech), speech
    assert any("A（達成） 14件" in line for line in lines) and "1 / 2 ページ" in lines[-1] + lines[-2] + page[-80:]
    monthly = subprocess.run(["pdftotext", "-layout", "-f", "2", "-l", "2", str(pdf), "-"], check=True,
                             capture_output=True, text=True).stdout
    header = next(" ".join(line.split()) for line in monthly.splitlines() if "KPI ID" in line)
    assert header.endswith(" ".join(f"{m}月" for _, m in MONTHS) + " KPI ID"), header


@pytest.mark.e2e
@needs_libreoffice
def test_libreoffice_reads_the_values_as_numbers(workbook: Path, tmp_path: Path) -> None:
    resaved = libreoffice(workbook, "xlsx:Calc MS Excel 2007 XML", tmp_path / "lo")
    sheet = load_workbook(resaved)["達成状況"]
    rows = indicator_rows(sheet)
    speech = rows["speech_hours_monthly"]
    assert (speech[1].data_type, speech[1].value, speech[2].data_type, speech[2].value) == ("n", 1870, "n", 403)
    ratio = rows["myna_moveout_share"][2]
    assert ratio.data_type == "n" and ratio.value == pytest.approx(0.34) and ratio.number_format == "0.0%"
    assert rows["online_procedures"][2].value == 2180 and "件" in rows["online_procedures"][2].number_format


LONG_NAME = ("AI音声認識技術を活用した業務効率化の推進 市全体での月あたりの利用実績"
             "（会議録・面談記録・交渉録・市民電話対応の記録作成業務を含む）")


@pytest.mark.e2e
@needs_libreoffice
def test_a_long_table_prints_one_page_wide_on_as_many_pages_down_with_the_header_on_each(tmp_path: Path) -> None:
    raw = bundled_policy()
    copies = [{**ind, "id": f"{ind['id']}_{n}"} for n in range(1, 5) for ind in raw["indicators"]]
    copies[0]["name"] = LONG_NAME
    raw["indicators"] = copies
    catalog = parse_catalog(raw)
    figures = [Figure(f"{f.kpi_id}_{n}", f.period, f.scope, f.as_of, f.value) for n in range(1, 5)
               for f in seed_figures()]
    pdf = libreoffice(write(tmp_path, figures, catalog), "pdf", tmp_path)
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout
    total = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    pages = [subprocess.run(["pdftotext", "-layout", "-f", str(n), "-l", str(n), str(pdf), "-"], check=True,
                            capture_output=True, text=True).stdout for n in range(1, total + 1)]
    table = [p for p in pages if "アウトカム指標の達成状況" in p or "7年度実績" in p]
    assert len(table) >= 2  # 60 indicators do not fit one page down ...
    for page in table:  # ... but every page has every column: the header is repeated, nothing split sideways
        header = next(" ".join(line.split()) for line in page.splitlines() if "KPI ID" in line)
        assert all(h in header for h in HEADER), header
    assert sum(p.count("_1") for p in table) == 15 and sum(p.count("_4") for p in table) == 15
    lines = [" ".join(line.split()) for line in table[0].splitlines()]
    # The long name wraps in its cell, all of it printed over more than one line, and its row is tall enough
    # for it: the heading above and the row below print whole, not over it.
    assert not [line for line in lines if LONG_NAME in line]
    assert any(line.startswith(LONG_NAME[:20]) for line in lines) and "含む）" in table[0]
    assert f"経営課題1 {CHALLENGES[1]}" in lines
    assert any(line.startswith("転出におけるマイナポータルの利用率 25.0% 34.0% A 達成") for line in lines)
    assert load_workbook(tmp_path / "achievement_FY2025.xlsx")["達成状況"].row_dimensions[5].height >= 45
