"""`jisseki manual-template`: the workbook of contract 6 that departments fill in and send back."""
from __future__ import annotations

from pathlib import Path

from jisseki.catalog import Catalog, Indicator
from jisseki.report import format_value

SHEET = "実績"
HEADER = ["KPI ID", "年度", "実績値", "根拠", "入力者", "入力日", "指標名", "単位", "目標（参考）"]
INPUT_COLUMNS = ("C", "D", "E", "F")  # 実績値, 根拠, 入力者, 入力日
MILESTONE_WORDS = "済,完了,達成,未,未了"
INPUT_FILL = "FFF2CC"
HEADER_FILL = "D9E1F2"
GUIDE = [
    "実績入力シートの使い方",
    "・黄色のセル（実績値・根拠・入力者・入力日）に入力してください。KPI ID と年度は変更しないでください。",
    "・実績値: 人数・件数などは数値（例: 69）。「完了」などの指標は 済・完了・達成（完了）または 未・未了（未完了）を選んでください。",
    "・根拠: 実績の根拠となる資料名やURL。",
    "・入力者: 所属名（個人名は入力しないでください）。",
    "・入力日: 入力した日付（例: 2026/04/10）。同じ指標・年度が複数あるときは、入力日が最も新しい行が採用されます。",
    "・年度は 2025・FY2025・令和7年度・R7 のどの書き方でも構いません。",
]


def manual_indicators(catalog: Catalog, fy: int) -> list[Indicator]:
    return [i for i in catalog.indicators if i.source == "manual_entries" and fy in i.targets]


def year_forms(fy: int) -> list[str]:
    reiwa = fy - 2018
    return [str(fy), f"FY{fy}", f"令和{reiwa}年度", f"R{reiwa}"]


def write_template(catalog: Catalog, fy: int, out: Path) -> int:
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    indicators = manual_indicators(catalog, fy)
    if not indicators:
        return 0
    book = Workbook()
    sheet = book.active
    sheet.title = SHEET
    sheet.append(HEADER)
    for cell in sheet[1]:
        cell.font, cell.fill = Font(bold=True), PatternFill("solid", fgColor=HEADER_FILL)
    for ind in indicators:
        sheet.append([ind.id, str(fy), None, None, None, None, ind.name, ind.unit or "完了/未完了",
                      format_value(ind, ind.target(fy))])
    last = len(indicators) + 1
    fill = PatternFill("solid", fgColor=INPUT_FILL)
    for column in INPUT_COLUMNS:
        for row in range(2, last + 1):
            sheet[f"{column}{row}"].fill = fill
            if column == "F":
                sheet[f"{column}{row}"].number_format = "yyyy/mm/dd"

    years = DataValidation(type="list", formula1='"' + ",".join(year_forms(fy)) + '"', allow_blank=False,
                           showErrorMessage=True, errorTitle="年度", error="年度は一覧から選んでください")
    words = DataValidation(type="list", formula1=f'"{MILESTONE_WORDS}"', allow_blank=True, showErrorMessage=True,
                           errorTitle="実績値", error="済・完了・達成・未・未了 のいずれかを選んでください")
    numbers = DataValidation(type="decimal", operator="greaterThanOrEqual", formula1="0", allow_blank=True,
                             showErrorMessage=True, errorTitle="実績値", error="0以上の数値を入力してください")
    dates = DataValidation(type="date", operator="greaterThan", formula1="36526", allow_blank=True,
                           showErrorMessage=True, errorTitle="入力日", error="日付を入力してください（例: 2026/04/10）")
    for validation in (years, words, numbers, dates):
        sheet.add_data_validation(validation)
    years.add(f"B2:B{last}")
    dates.add(f"F2:F{last}")
    for row, ind in enumerate(indicators, start=2):
        (words if ind.kind == "milestone" else numbers).add(f"C{row}")

    for column, width in zip("ABCDEFGHI", (32, 10, 12, 36, 24, 12, 52, 10, 12)):
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = "A2"
    guide = book.create_sheet("説明")
    for line in GUIDE:
        guide.append([line])
    guide.column_dimensions["A"].width = 110
    out.parent.mkdir(parents=True, exist_ok=True)
    book.save(out)
    return len(indicators)
