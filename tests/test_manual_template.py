"""The template a department fills in comes back and lands."""
from __future__ import annotations

import os
from datetime import date, datetime
from pathlib import Path

import pytest

from jisseki.catalog import load_catalog
from jisseki.cli import main
from jisseki.manual_template import TEMPLATE_ROWS, number_or_word
from jisseki.pipeline import collect
from jisseki.source_config import FolderSourceConfig
from jisseki.sources import SOURCE_DEFS
from tests.support import libreoffice, soffice
from warehouse.store import commentaries, connect, current_figures, land

CATALOG = load_catalog()


def test_template_has_one_row_per_manual_indicator_with_validation(tmp_path: Path, capsys) -> None:
    from openpyxl import load_workbook

    out = tmp_path / "template.xlsx"
    assert main(["manual-template", "--fy", "2025", "--out", str(out)]) == 0
    sheet = load_workbook(out)["実績"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:7] == ("KPI ID", "年度", "実績値", "根拠", "入力者", "入力日", "所見")
    assert sheet.column_dimensions["G"].fill.fgColor.rgb.endswith("FFF2CC")   # 所見 is an input column too
    manual = [i.id for i in CATALOG.indicators if i.source == "manual_entries"]
    assert [r[0] for r in rows[1:]] == manual and all(r[1] == "2025" for r in rows[1:])
    assert sheet["C2"].fill.fgColor.rgb.endswith("FFF2CC")  # input cells are marked
    rules = {str(v.sqref): v for v in sheet.data_validations.dataValidation}
    assert rules["B2:B500"].formula1 == '"2025,FY2025,令和7年度,R7"'
    words = [v for v in rules.values() if v.formula1 == '"済,完了,達成,未,未了"'][0]
    milestones = {f"C{n}" for n, i in enumerate(manual, start=2) if CATALOG.get(i).kind == "milestone"}
    assert set(str(words.sqref).split()) == milestones
    assert main(["manual-template", "--fy", "2030", "--out", str(tmp_path / "none.xlsx")]) == 1


def test_a_filled_in_template_lands(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    folder = tmp_path / "manual"
    folder.mkdir()
    path = folder / "returned.xlsx"
    assert main(["manual-template", "--fy", "2025", "--out", str(path)]) == 0
    book = load_workbook(path)
    sheet = book["実績"]
    answers = {"external_specialists": "７名", "dx_core_training_participants": "69名", "security_strategy_revised": "済",
               "talent_plan_and_training": "未"}
    for row in range(2, sheet.max_row + 1):
        kpi = sheet[f"A{row}"].value
        if kpi in answers:
            sheet[f"C{row}"] = answers[kpi]
            sheet[f"D{row}"] = "令和7年度 実績報告書"
            sheet[f"E{row}"] = "デジタル統括室"
            sheet[f"F{row}"] = datetime(2026, 4, 8)
        if kpi == "dx_core_training_participants":   # 所見 beginning like a formula: text, never run
            sheet[f"G{row}"] = "=研修は予定どおり"
            sheet[f"G{row}"].data_type = "s"
    book.save(path)

    batch = collect(SOURCE_DEFS["manual_entries"], FolderSourceConfig(path=folder), CATALOG, date(2026, 4, 30), 1.0)
    assert batch.bad == [] and batch.rejected is None
    engine = connect(f"sqlite:///{tmp_path / 'w.db'}")
    land(engine, batch, "run-1")
    figures = {f.kpi_id: (f.period, f.value, f.as_of) for f in current_figures(engine)}
    assert figures == {"external_specialists": ("FY2025", 7.0, date(2026, 3, 31)),
                       "dx_core_training_participants": ("FY2025", 69.0, date(2026, 3, 31)),
                       "security_strategy_revised": ("FY2025", 1.0, date(2026, 3, 31)),
                       "talent_plan_and_training": ("FY2025", 0.0, date(2026, 3, 31))}
    assert commentaries(engine) == {("dx_core_training_participants", 2025): "=研修は予定どおり"}


def test_validations_warn_and_reach_the_rows_added_below(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    out = tmp_path / "template.xlsx"
    assert main(["manual-template", "--fy", "2025", "--out", str(out)]) == 0
    sheet = load_workbook(out)["実績"]
    assert sheet.max_row == 11     # validations and column styles: no empty cells that a reader would see
    rules = {v.type: v for v in sheet.data_validations.dataValidation if v.type != "list"}
    lists = [v for v in sheet.data_validations.dataValidation if v.type == "list"]
    assert {v.errorStyle for v in sheet.data_validations.dataValidation} == {"warning"}
    manual = [i.id for i in CATALOG.indicators if i.source == "manual_entries"]
    counts = [f"C{n}" for n, i in enumerate(manual, start=2) if CATALOG.get(i).kind != "milestone"]
    numbers = rules["custom"]
    assert set(str(numbers.sqref).split()) == {*counts, f"C12:C{TEMPLATE_ROWS}"}
    assert numbers.formula1 == number_or_word(counts[0])    # relative to the first cell it covers
    assert str(rules["date"].sqref) == "F2:F500" and {str(v.sqref) for v in lists} >= {"B2:B500"}
    assert all(v.showInputMessage and v.prompt and v.error for v in sheet.data_validations.dataValidation)
    assert sheet.column_dimensions["F"].number_format == "yyyy/mm/dd"
    assert sheet.column_dimensions["C"].fill.fgColor.rgb.endswith("FFF2CC")


def test_an_out_that_is_not_xlsx_is_a_usage_error(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["manual-template", "--fy", "2025", "--out", str(tmp_path / "t.csv")])
    assert stopped.value.code == 2
    assert "は .xlsx のファイル名ではありません" in capsys.readouterr().err and not (tmp_path / "t.csv").exists()


needs_libreoffice = pytest.mark.skipif(soffice() is None and os.environ.get("CI") != "true",
                                       reason="LibreOffice is not installed")


@pytest.mark.e2e
@needs_libreoffice
def test_libreoffice_takes_the_contracts_forms_and_warns_on_the_rest(tmp_path: Path) -> None:
    """Calc evaluates the 実績値 rule itself: the rule in spare cells next to typed values, saved as CSV."""
    from openpyxl import load_workbook

    path = tmp_path / "probe.xlsx"
    assert main(["manual-template", "--fy", "2025", "--out", str(path)]) == 0
    book = load_workbook(path)
    sheet = book["実績"]
    values = {"69名": True, "７名": True, "１，２３４件": True, "1.2万": True, "６９": True, "済": True, "未了": True,
              "名": False, "abc": False, "-5": False, "六十九": False}
    for row, value in enumerate(values, start=20):
        sheet[f"C{row}"] = value
        sheet[f"J{row}"] = "=" + number_or_word(f"C{row}")
    book.save(path)
    import csv

    lines = list(csv.reader(libreoffice(path, "csv:Text - txt - csv (StarCalc):44,34,76,1", tmp_path / "converted").read_text("utf-8").splitlines()))
    judged = {line[2]: line[9] for line in lines[19:19 + len(values)]}
    assert judged == {value: "TRUE" if ok else "FALSE" for value, ok in values.items()}


@pytest.mark.e2e
@needs_libreoffice
def test_a_template_filled_in_and_saved_by_libreoffice_lands_with_units_and_full_width_digits(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    folder = tmp_path / "manual"
    folder.mkdir()
    path = tmp_path / "returned.xlsx"
    assert main(["manual-template", "--fy", "2025", "--out", str(path)]) == 0
    book = load_workbook(path)
    sheet = book["実績"]
    answers = {"external_specialists": "７名", "dx_core_training_participants": "69名"}
    for row in range(2, sheet.max_row + 1):
        if sheet[f"A{row}"].value in answers:
            sheet[f"C{row}"] = answers[sheet[f"A{row}"].value]
            sheet[f"F{row}"] = datetime(2026, 4, 8)
    # A row a department added below the template, for a year written the Reiwa way.
    sheet.append(["data_pilot_projects", "令和7年度", "１２件", "報告書", "デジタル統括室", datetime(2026, 4, 9)])
    book.save(path)
    saved = libreoffice(path, "xlsx:Calc MS Excel 2007 XML", tmp_path / "converted")
    # LibreOffice keeps the rules as written: warnings, down to row 500.
    rules = load_workbook(saved)["実績"].data_validations.dataValidation
    assert {v.errorStyle for v in rules} == {"warning"}
    assert {str(v.sqref).split()[-1] for v in rules} >= {"B2:B500", "F2:F500", "C12:C500"}
    saved.rename(folder / "returned.xlsx")

    batch = collect(SOURCE_DEFS["manual_entries"], FolderSourceConfig(path=folder), CATALOG, date(2026, 4, 30), 1.0)
    assert batch.bad == [] and batch.rejected is None
    figures = {f.kpi_id: f.value for f in batch.figures if f.period == "FY2025"}
    assert figures == {"external_specialists": 7.0, "dx_core_training_participants": 69.0, "data_pilot_projects": 12.0}
