"""The achievement table as an Excel workbook laid out like the seed's 7年度実績 table: numbers stored as
numbers with the indicator's unit in the number format (so they sort and sum), 経営課題 as group rows,
A/B in colour, one landscape A4 page wide when printed; a second sheet with the monthly figures. Any
text that starts like a formula is stored as text, so no spreadsheet runs it."""
from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from jisseki.catalog import Catalog, Indicator
from jisseki.core.model import CITY, Figure
from jisseki.core.periods import fy_months, month_label
from jisseki.report import GRADE_LEGEND, STATUS_TEXT, page_policy, reiwa, target_words

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NO_GRADE = "—"

# A Japanese font every office PC has; LibreOffice maps it to IPA P Gothic. Without one, Calibri's
# substitutes print the Latin letters of bold Japanese text in a serif face.
FONT_NAME = "ＭＳ Ｐゴシック"
HEADER_FILL = PatternFill("solid", fgColor="D9E1F2")
GROUP_FILL = PatternFill("solid", fgColor="EDEDED")
GRADE_FILL = {"A": PatternFill("solid", fgColor="C6EFCE"), "B": PatternFill("solid", fgColor="FFC7CE")}
GRADE_FONT = {"A": Font(name=FONT_NAME, bold=True, color="006100"),
              "B": Font(name=FONT_NAME, bold=True, color="9C0006")}
THIN = Side(style="thin", color="A6A6A6")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
WRAP = Alignment(wrap_text=True, vertical="center")
RIGHT = Alignment(horizontal="right", vertical="center")
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
ID_ALIGN = Alignment(horizontal="left", vertical="center", shrink_to_fit=True)
ID_FONT = Font(name=FONT_NAME, size=8, color="595959")
BODY_FONT = Font(name=FONT_NAME)
BOLD_FONT = Font(name=FONT_NAME, bold=True)
COUNT_FORMAT = '#,##0"件"'
LINE_HEIGHT = 15.0  # points per line of 11-point text


def neutralise(value: Any) -> Any:
    """A text cell that starts like a formula is stored as text, with a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _number_format(ind: Indicator, bound: bool = False) -> str:
    """The spreadsheet's twin of report.format_value: the same words around a stored number; a target that is
    an upper bound (`bound`, direction at_most) followed by 以下, as report.target_words writes it."""
    after = '"以下"' if bound and ind.direction == "at_most" else ""
    if ind.kind == "ratio":
        return "0.0%" + after
    if ind.kind == "hours_per_month":
        return '"月"#,##0"時間"' + after
    unit = ind.unit.replace('"', "")
    if ind.kind == "mean":
        return f'#,##0.0"{unit}"{after}'
    return (f'#,##0"{unit}"' if unit else "#,##0") + after


def _cell_value(ind: Indicator, value: float | None) -> float | str | None:
    """No data is an empty cell (the 状況 column says データなし), never a 0; a milestone is a word."""
    if value is None:
        return None
    if ind.kind == "milestone":
        return "完了" if value >= 1 else "未完了"
    return value


def write_workbook(evaluations: Sequence[Mapping[str, Any]], figures: Sequence[Figure], catalog: Catalog, fy: int,
                   path: Path, *, published: Mapping[tuple[str, int, str], Mapping[str, Any]] | None = None,
                   commentary: Mapping[tuple[str, int], str] | None = None, published_line: str = "") -> None:
    """published: the year's published_grade rows by (kpi, year, scope); commentary: 所見 by (kpi, year)."""
    book = Workbook()
    year = [e for e in evaluations if e["fiscal_year"] == fy and e.get("scope", CITY) == CITY]
    _achievement_sheet(book.active, year, catalog, fy, Beside(published or {}, commentary or {}, published_line))
    _monthly_sheet(book.create_sheet("月次実績"), figures, catalog, fy)
    book.save(path)


TABLE = ("指標", "目標", "{r}年度実績", "達成状況", "状況", "年度末見込み", "前年度実績", "KPI ID")
TABLE_WIDTHS = (56, 13, 13, 9, 10, 13, 13, 24)  # 指標 as wide as the policy's longest name
NUMBER_COLUMNS = (2, 3, 6, 7)
# After KPI ID, so the seed's columns keep their places: a published year's published value and grade, and
# the departments' 所見.
PUBLISHED_COLUMNS, PUBLISHED_WIDTHS = ("公表値", "公表評価"), (13, 9)
COMMENTARY_COLUMN, COMMENTARY_WIDTH = "所見", 48
TARGET_COLUMN = 2


@dataclass(frozen=True)
class Beside:
    """What the achievement table shows beside each indicator's latest evaluation."""
    published: Mapping[tuple[str, int, str], Mapping[str, Any]]
    commentary: Mapping[tuple[str, int], str]
    line: str = ""   # which year is published, for the title's note

    def columns(self, fy: int, ids: set[str]) -> tuple[str, ...]:
        shown = PUBLISHED_COLUMNS if any((k, fy, CITY) in self.published for k in ids) else ()
        return shown + ((COMMENTARY_COLUMN,) if any(self.commentary.get((k, fy)) for k in ids) else ())


def _achievement_sheet(sheet: Worksheet, evaluations: list[Mapping[str, Any]], catalog: Catalog, fy: int,
                       beside: Beside) -> None:
    sheet.title = "達成状況"
    extra = beside.columns(fy, {e["kpi_id"] for e in evaluations})
    last = len(TABLE) + len(extra)
    widths = TABLE_WIDTHS + tuple(PUBLISHED_WIDTHS[PUBLISHED_COLUMNS.index(c)] if c in PUBLISHED_COLUMNS
                                  else COMMENTARY_WIDTH for c in extra)
    as_of = min((e["as_of"] for e in evaluations), default=None)  # the table is as new as its oldest verdict
    published = f"  {beside.line}" if beside.line else ""
    policy = page_policy(catalog, fy)
    _title(sheet, f"令和{reiwa(fy)}年度 {policy.department} アウトカム指標の達成状況",
           f"{policy.title}（{as_of.isoformat() + ' 時点' if as_of else '評価なし'}）  {GRADE_LEGEND}"
           f"{published}", last)
    latest = "最新値" if PUBLISHED_COLUMNS[0] in extra else "{r}年度実績"
    _header(sheet, 3, [(latest if h == TABLE[2] else h).format(r=reiwa(fy)) for h in TABLE] + list(extra))
    by_id = {e["kpi_id"]: e for e in evaluations}
    row = 4
    for challenge, title in policy.challenges.items():
        group = [i for i in catalog.indicators if i.challenge == challenge and i.id in by_id]
        if not group:
            continue
        sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=last)
        head = sheet.cell(row, 1, neutralise(f"経営課題{challenge} {title}"))
        head.font, head.fill, head.alignment = BOLD_FONT, GROUP_FILL, Alignment(vertical="center", wrap_text=True)
        _fit_height(sheet, row, head.value, sum(widths))
        for column in range(1, last + 1):
            sheet.cell(row, column).border = BOX
        row += 1
        for ind in group:
            _indicator_row(sheet, row, ind, by_id[ind.id])
            _beside_cells(sheet, row, ind, fy, beside, extra)
            row += 1
    grades = [e["grade"] for e in evaluations]
    row += 1
    for label, count in (("A（達成）", grades.count("A")), ("B（未達成）", grades.count("B")),
                         ("未確定", len(grades) - grades.count("A") - grades.count("B"))):
        name = sheet.cell(row, 1, label)
        name.alignment, name.font = Alignment(horizontal="right"), BODY_FONT
        total = sheet.cell(row, 2, count)
        total.number_format, total.font = COUNT_FORMAT, BOLD_FONT
        row += 1
    for column, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(column)].width = width
    sheet.freeze_panes = "A4"
    _print_setup(sheet, "3:3", f"A1:{get_column_letter(last)}{row - 1}")


def _indicator_row(sheet: Worksheet, row: int, ind: Indicator, e: Mapping[str, Any]) -> None:
    grade = e["grade"] or NO_GRADE
    # A band is words (30.0%〜40.0%); an upper bound a number whose format says 以下.
    target = target_words(ind, None, e.get("target_low"), e.get("target_high")) if ind.direction == "within" \
        else _cell_value(ind, e["target"])
    values = (ind.name, target, _cell_value(ind, e["actual"]), grade, STATUS_TEXT[e["status"]],
              _cell_value(ind, e["projected"]), _cell_value(ind, e["prior_year_actual"]), ind.id)
    for column, value in enumerate(values, start=1):
        cell = sheet.cell(row, column, neutralise(value))
        cell.border, cell.font = BOX, BODY_FONT
        cell.alignment = WRAP if column == 1 else RIGHT if column in NUMBER_COLUMNS else CENTER
        if column in NUMBER_COLUMNS:
            cell.number_format = _number_format(ind, bound=column == TARGET_COLUMN)
    sheet.cell(row, len(values)).alignment, sheet.cell(row, len(values)).font = ID_ALIGN, ID_FONT
    _fit_height(sheet, row, ind.name, TABLE_WIDTHS[0])
    mark = sheet.cell(row, 4)
    if grade in GRADE_FILL:
        mark.fill, mark.font = GRADE_FILL[grade], GRADE_FONT[grade]


def _beside_cells(sheet: Worksheet, row: int, ind: Indicator, fy: int, beside: Beside, extra: Sequence[str]) -> None:
    kept = beside.published.get((ind.id, fy, CITY))
    values = {"公表値": _cell_value(ind, kept["actual"]) if kept else None,
              "公表評価": (kept["grade"] or NO_GRADE) if kept else NO_GRADE,
              COMMENTARY_COLUMN: beside.commentary.get((ind.id, fy)) or None}
    for offset, name in enumerate(extra):
        cell = sheet.cell(row, len(TABLE) + 1 + offset, neutralise(values[name]))
        cell.border, cell.font = BOX, BODY_FONT
        if name == "公表値":
            cell.alignment, cell.number_format = RIGHT, _number_format(ind)
        elif name == "公表評価":
            cell.alignment = CENTER
            grade = str(values[name])
            if grade in GRADE_FILL:
                cell.fill, cell.font = GRADE_FILL[grade], GRADE_FONT[grade]
        else:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            if cell.value:
                _fit_height(sheet, row, str(cell.value), COMMENTARY_WIDTH)


def _monthly_sheet(sheet: Worksheet, figures: Sequence[Figure], catalog: Catalog, fy: int) -> None:
    months = fy_months(fy)
    series = {(f.kpi_id, f.period): f.value for f in figures if f.scope == CITY}
    columns = ["指標", "区分", "目標", *(f"{m.month}月" for m in months), "KPI ID"]
    _title(sheet, f"令和{reiwa(fy)}年度 {page_policy(catalog, fy).department} アウトカム指標の月次実績",
           "累計：4月からの積み上げ（年度の目標と比べる値）　月間：その月の値　月末時点：その月末の値　空欄：データなし",
           len(columns))
    _header(sheet, 3, columns)
    monthly_widths = [40, 8, 10, *([10] * len(months)), 18]
    row = 4
    for ind in catalog.indicators:
        values = [series.get((ind.id, month_label(m))) for m in months]
        if all(v is None for v in values):
            continue
        kind, values = _monthly_values(ind, values)
        cells = [ind.name, kind, _cell_value(ind, ind.target(fy)), *(_cell_value(ind, v) for v in values), ind.id]
        for column, value in enumerate(cells, start=1):
            cell = sheet.cell(row, column, neutralise(value))
            cell.border, cell.font = BOX, BODY_FONT
            cell.alignment = WRAP if column == 1 else CENTER if column in (2, len(cells)) else RIGHT
            if 3 <= column < len(cells):
                cell.number_format = _number_format(ind)
        sheet.cell(row, len(cells)).alignment, sheet.cell(row, len(cells)).font = ID_ALIGN, ID_FONT
        _fit_height(sheet, row, ind.name, monthly_widths[0])
        row += 1
    for column, width in enumerate(monthly_widths, start=1):
        sheet.column_dimensions[get_column_letter(column)].width = width
    sheet.freeze_panes = "C4"
    _print_setup(sheet, "3:3", f"A1:{get_column_letter(len(columns))}{max(row - 1, 3)}")


def _monthly_values(ind: Indicator, values: list[float | None]) -> tuple[str, list[float | None]]:
    """A count per fiscal year is shown as its running total, the number its target is set against."""
    if ind.kind == "count_per_fy":
        total, out = 0.0, []
        for v in values:
            total = total + v if v is not None else total
            out.append(total if v is not None else None)
        return "累計", out
    if ind.kind == "hours_per_month" or (ind.kind == "ratio" and not ind.accumulates):
        return "月間", values  # that month's own figure
    return "月末時点", values  # a total (or a year-to-date share) as it stood at the month's end


def _fit_height(sheet: Worksheet, row: int, text: str, width: float) -> None:
    """Rows tall enough for their wrapped text: LibreOffice does not grow a row of an .xlsx to fit, so a
    long name would print over the next row. Width in character units: a full-width character takes two."""
    used = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    lines = math.ceil(used / max(width - 1, 1))
    if lines > 1:
        current = sheet.row_dimensions[row].height or LINE_HEIGHT
        sheet.row_dimensions[row].height = max(current, lines * LINE_HEIGHT)


def _title(sheet: Worksheet, title: str, note: str, width: int) -> None:
    for row, text, font in ((1, title, Font(name=FONT_NAME, bold=True, size=14)),
                            (2, note, Font(name=FONT_NAME, size=10, color="404040"))):
        sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=width)
        cell = sheet.cell(row, 1, neutralise(text))
        cell.font, cell.alignment = font, Alignment(vertical="center")
    sheet.row_dimensions[1].height = 24


def _header(sheet: Worksheet, row: int, labels: Sequence[str]) -> None:
    for column, label in enumerate(labels, start=1):
        cell = sheet.cell(row, column, label)
        cell.font, cell.fill, cell.alignment, cell.border = BOLD_FONT, HEADER_FILL, CENTER, BOX


def _print_setup(sheet: Worksheet, title_rows: str, area: str) -> None:
    """Landscape A4, every column on one page (as many pages down as it takes), the header on each page."""
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight = 1, 0
    sheet.page_margins.left = sheet.page_margins.right = 0.5
    sheet.page_margins.top, sheet.page_margins.bottom = 0.6, 0.7
    sheet.page_margins.header, sheet.page_margins.footer = 0.3, 0.3
    sheet.print_options.horizontalCentered = True
    sheet.print_title_rows = title_rows
    sheet.print_area = area
    sheet.oddFooter.center.text = "&P / &N ページ"
    sheet.oddFooter.center.size = 9
