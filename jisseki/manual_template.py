"""`jisseki manual-template`: the workbook of contract 6 that departments fill in and send back."""
from __future__ import annotations

from pathlib import Path

from jisseki.catalog import Band, Catalog, Change, Indicator
from jisseki.report import target_words

SHEET = "実績"
HEADER = ["KPI ID", "年度", "実績値", "根拠", "入力者", "入力日", "所見", "指標名", "単位", "目標（参考）"]
INPUT_COLUMNS = ("C", "D", "E", "F", "G")  # 実績値, 根拠, 入力者, 入力日, 所見
MILESTONE_WORDS = "済,完了,達成,未,未了"
INPUT_FILL = "FFF2CC"
TEMPLATE_ROWS = 500   # validations and input styles reach this row, for rows a department adds below
HEADER_FILL = "D9E1F2"
GUIDE = [
    "実績入力シートの使い方",
    "・黄色のセル（実績値・根拠・入力者・入力日・所見）に入力してください。KPI ID と年度は変更しないでください。",
    "・実績値: 人数・件数などは数値（例: 69。69名・７名・1.2万 のような単位や全角の数字も読めます）。"
    "「完了」などの指標は 済・完了・達成（完了）または 未・未了（未完了）を選んでください。",
    "・入力規則に合わない値には確認が出ますが、「はい」で入力できます（取り込むときに読めない行は除外され、"
    "jisseki quarantine で一覧できます）。",
    "・指標を追加するときは、表の下の行に KPI ID から入力してください（500行目まで入力規則と書式が付いています）。",
    "・根拠: 実績の根拠となる資料名やURL。",
    "・入力者: 所属名（個人名は入力しないでください）。",
    "・所見（任意）: 実績についての所属の所見（未達成の理由や今後の取組など）。報告書に指標と並べて載り、"
    "公表した年度の値とともに残ります。個人名は書かないでください。",
    "・入力日: 入力した日付（例: 2026/04/10）。同じ指標・年度が複数あるときは、入力日が最も新しい行が採用されます。",
    "・年度は 2025・FY2025・令和7年度・R7 のどの書き方でも構いません。",
]


def manual_indicators(catalog: Catalog, fy: int) -> list[Indicator]:
    """The manual indicators graded in fy, every department's (a plan's year and a milestone's due year too)."""
    return [i for i in catalog.indicators if i.source == "manual_entries" and fy in i.target_years()]


def year_forms(fy: int) -> list[str]:
    reiwa = fy - 2018
    return [str(fy), f"FY{fy}", f"令和{reiwa}年度", f"R{reiwa}"]


def number_or_word(cell: str) -> str:
    """A custom validation accepting blank, a number, text that starts with a digit once full-width characters
    are made half-width (ASC: 69名, ７名, 1.2万, 1,234), or a milestone word; relative to `cell`."""
    words = ",".join(f'{cell}="{w}"' for w in MILESTONE_WORDS.split(","))
    return f'OR({cell}="",ISNUMBER({cell}),ISNUMBER(--LEFT(ASC({cell}),1)),{words})'


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
        sheet.append([ind.id, str(fy), None, None, None, None, None, ind.name, ind.unit or "完了/未完了",
                      _target(ind, fy)])
    last = len(indicators) + 1
    fill = PatternFill("solid", fgColor=INPUT_FILL)
    for column in INPUT_COLUMNS:
        for row in range(2, last + 1):
            sheet[f"{column}{row}"].fill = fill
            if column == "F":
                sheet[f"{column}{row}"].number_format = "yyyy/mm/dd"

    # Warnings, not stops: contract 6 takes values Excel's own checks cannot tell from mistakes (69名, ７名,
    # 1.2万, FY2025, 令和7年度), and a stop would refuse them as they are typed. The pipeline checks every row.
    warn = dict(allow_blank=True, showErrorMessage=True, showInputMessage=True, errorStyle="warning")
    years = DataValidation(type="list", formula1='"' + ",".join(year_forms(fy)) + '"', errorTitle="年度",
                           error="一覧にない書き方です。2025・FY2025・令和7年度・R7 のいずれかで書いてください",
                           promptTitle="年度", prompt="一覧から選ぶか 2025・FY2025・令和7年度・R7 と入力", **warn)
    words = DataValidation(type="list", formula1=f'"{MILESTONE_WORDS}"', errorTitle="実績値",
                           error="済・完了・達成（完了）または 未・未了（未完了）、1・0 のいずれかで書いてください",
                           promptTitle="実績値", prompt="済・完了・達成 または 未・未了", **warn)
    # A row's kind (count or milestone) is known only for the rows written here: rows added below take either.
    # The formula is relative to the first cell it applies to (Excel and LibreOffice shift it from there).
    first = next((f"C{row}" for row, ind in enumerate(indicators, start=2) if ind.kind != "milestone"), f"C{last + 1}")
    numbers = DataValidation(type="custom", formula1=number_or_word(first), errorTitle="実績値",
                             error="数値（69・69名・７名・1,234・1.2万）か、済・完了・達成・未・未了 で書いてください",
                             promptTitle="実績値", prompt="数値（単位・全角可。例: 69名）または 済・未", **warn)
    dates = DataValidation(type="date", operator="greaterThan", formula1="36526", errorTitle="入力日",
                           error="日付として読めません（例: 2026/04/10）", promptTitle="入力日",
                           prompt="入力した日付（例: 2026/04/10）", **warn)
    for validation in (years, words, numbers, dates):
        sheet.add_data_validation(validation)
    years.add(f"B2:B{TEMPLATE_ROWS}")
    dates.add(f"F2:F{TEMPLATE_ROWS}")
    for row, ind in enumerate(indicators, start=2):
        (words if ind.kind == "milestone" else numbers).add(f"C{row}")
    numbers.add(f"C{last + 1}:C{TEMPLATE_ROWS}")
    # Column styles, not cells: a row typed below the template looks and formats as the template's rows, and
    # the sheet holds no empty cells (openpyxl and the reader see only the rows written).
    for column in INPUT_COLUMNS:
        sheet.column_dimensions[column].fill = fill
    sheet.column_dimensions["F"].number_format = "yyyy/mm/dd"

    for column, width in zip("ABCDEFGHIJ", (32, 10, 12, 36, 24, 12, 40, 52, 10, 12)):
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = "A2"
    guide = book.create_sheet("説明")
    for line in GUIDE:
        guide.append([line])
    guide.column_dimensions["A"].width = 110
    out.parent.mkdir(parents=True, exist_ok=True)
    book.save(out)
    return len(indicators)


def _target(ind: Indicator, fy: int) -> str:
    """The target for reference, as the policy says it; a band's bounds, or 前年度比 words for a change."""
    spec = ind.target_spec(fy)
    if isinstance(spec, Band):
        return target_words(ind, None, spec.low, spec.high)
    if isinstance(spec, Change):
        return "前年度などの実績からの増減（運営方針を参照）"
    return target_words(ind, ind.target(fy))
