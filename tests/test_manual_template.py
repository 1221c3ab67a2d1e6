"""The template a department fills in comes back and lands."""
from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from jisseki.catalog import load_catalog
from jisseki.cli import main
from jisseki.config import FolderSourceConfig
from jisseki.pipeline import collect
from jisseki.sources import SOURCE_DEFS
from warehouse.store import connect, current_figures, land

CATALOG = load_catalog()


def test_template_has_one_row_per_manual_indicator_with_validation(tmp_path: Path, capsys) -> None:
    from openpyxl import load_workbook

    out = tmp_path / "template.xlsx"
    assert main(["manual-template", "--fy", "2025", "--out", str(out)]) == 0
    sheet = load_workbook(out)["実績"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:6] == ("KPI ID", "年度", "実績値", "根拠", "入力者", "入力日")
    manual = [i.id for i in CATALOG.indicators if i.source == "manual_entries"]
    assert [r[0] for r in rows[1:]] == manual and all(r[1] == "2025" for r in rows[1:])
    assert sheet["C2"].fill.fgColor.rgb.endswith("FFF2CC")  # input cells are marked
    rules = {str(v.sqref): v for v in sheet.data_validations.dataValidation}
    assert rules["B2:B11"].formula1 == '"2025,FY2025,令和7年度,R7"'
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
    answers = {"external_specialists": 7, "dx_core_training_participants": "69名", "security_strategy_revised": "済",
               "talent_plan_and_training": "未"}
    for row in range(2, sheet.max_row + 1):
        kpi = sheet[f"A{row}"].value
        if kpi in answers:
            sheet[f"C{row}"] = answers[kpi]
            sheet[f"D{row}"] = "令和7年度 実績報告書"
            sheet[f"E{row}"] = "デジタル統括室"
            sheet[f"F{row}"] = datetime(2026, 4, 8)
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
