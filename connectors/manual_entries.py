"""Contract 6: the manual entry workbook (実績入力シート), every .xlsx in a folder.

入力者 is never read: it names a department by contract, but a person's name typed there must not land.

A workbook is whatever a department sends, so each one is read on its own and can only cost itself:
one that is broken or hostile (a zip bomb, entity expansion in its XML, a truncated sheet) is quarantined
as a file and the others land (connectors/workbooks.py: the caps checked before openpyxl opens it, and
defusedxml, through which openpyxl parses its XML and which refuses entity declarations).

A value lands only as a finite number within MAX_VALUE: no KPI counts a trillion of anything, so a larger
one is a typo (or 1E+309, which Excel stores as infinity) and is quarantined, as is a formula whose result
was never saved and an entry typed on another sheet than 実績.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from typing import Any

from connectors.files import delivered_files, read_delivery
from connectors.workbooks import (
    ERROR_VALUES,
    UNREADABLE,
    Budget,
    Unfit,
    check_zip,
    problem,
    too_large,
    too_large_reason,
)
from jisseki.core.imports import heavy
from jisseki.core.normalize import nfkc, parse_date, shown
from jisseki.core.periods import fiscal_year_text
from jisseki.core.records import Bad, FileInfo, Lineage, Record

SHEET = "実績"
COLUMNS = ("KPI ID", "年度", "実績値", "根拠", "入力日")   # the columns read, with OPTIONAL where there
OPTIONAL = ("所見",)   # the department's commentary, added to contract 6 later: older workbooks lack it
COMMENTARY_CHARS = 2000   # a paragraph or two, as the seed's note on its one B; more is cut
DONE, NOT_DONE = {"済", "完了", "達成", "1"}, {"未", "未了", "0"}
# A number, then an optional scale word (千, 万, 千万, 億...), then its unit (名, 件, 時間, %...).
NUMBER_WITH_UNIT = re.compile(r"(\d+(?:\.\d+)?)\s*([十百千]?)([万億兆]?)(\D*)")
SMALL_SCALES = {"": 1, "十": 10, "百": 100, "千": 1000}
LARGE_SCALES = {"": 1, "万": 10**4, "億": 10**8, "兆": 10**12}
SCALE_WORDS = set("十百千万億兆")
MAX_VALUE = Decimal(10) ** 12
# A sheet of filled-in examples (記入例) is part of a form, not a delivery: its rows are neither read nor quarantined.
EXAMPLE_SHEET = re.compile(r"^例$|記入例|入力例|サンプル|見本")


def read_manual_entries(folder: Path, lineage: Lineage, kinds: Mapping[str, str]) -> Iterator[Record | Bad]:
    """kinds: the catalog's manual KPI ids and their kind (a milestone reads 済/未, the rest numbers)."""
    # Excel's lock file (~$name.xlsx) exists while someone has the workbook open: not a delivery.
    paths = [p for p in delivered_files(folder, ".xlsx") if not p.name.startswith("~$")]
    lineage.units_total = len(paths)
    for path in paths:
        if (info := too_large(path)) is not None:
            lineage.files.append(info)
            yield Bad(info.name, "file", "workbook_too_large", too_large_reason(info), content_hash=info.sha256)
            continue
        data, info = read_delivery(path)
        lineage.files.append(info)
        yield from _read_workbook(data, info, kinds)


@dataclass
class _Entry:
    number: int
    row: dict[str, Any]
    uncached: list[str]     # columns holding a formula whose result was never saved
    errors: list[str]       # columns whose formula resulted in an error (#DIV/0!...)


def _read_workbook(data: bytes, info: FileInfo, kinds: Mapping[str, str]) -> Iterator[Record | Bad]:
    # The whole workbook is read before anything of it is yielded, so one that breaks halfway is
    # quarantined whole rather than half landed; the caps bound what that holds in memory.
    try:
        check_zip(data)
        entries, elsewhere = _load(data, kinds)
    except Unfit as unfit:
        yield Bad(info.name, unfit.item, unfit.code, unfit.reason, content_hash=info.sha256, rows=unfit.rows)
        return
    except UNREADABLE as exc:
        yield Bad(info.name, "file", "unreadable_workbook", problem(exc), content_hash=info.sha256)
        return
    for entry in entries:
        info.rows += 1
        yield _entry_item(entry, info, kinds)
    for position, rows in elsewhere:
        info.rows += rows
        yield Bad(info.name, f"{position}枚目のシート", "entries_on_other_sheet",
                  f"シート「{SHEET}」以外のシート（{position}枚目）に入力があります。シート「{SHEET}」に入力してください",
                  content_hash=info.sha256, rows=rows)


def _load(data: bytes, kinds: Mapping[str, str]) -> tuple[list[_Entry], list[tuple[int, int]]]:
    """The entries of sheet 実績, and (position, rows) of every other sheet with entries on it."""
    openpyxl = heavy("openpyxl")
    budget = Budget()
    # Read from the bytes that were hashed, not the path again: what is read is what the lineage names.
    values = openpyxl.load_workbook(BytesIO(data), read_only=True, data_only=True)
    try:
        for sheet in values.worksheets:
            # Read-only openpyxl trusts the sheet's own <dimension>: rows below it would be skipped unseen,
            # and a hostile one (A1:XFD1048576) would pad every row to 16,384 cells.
            sheet.reset_dimensions()
        elsewhere = [(position, rows) for position, sheet in enumerate(values.worksheets, start=1)
                     if sheet.title != SHEET and not EXAMPLE_SHEET.search(nfkc(sheet.title))
                     and (rows := _rows_elsewhere(sheet, kinds, budget))]
        if SHEET not in values.sheetnames:
            raise Unfit("missing_sheet", f"シート「{SHEET}」がありません", rows=max(1, sum(r for _, r in elsewhere)))
        # With data_only a formula whose result was never saved reads as an empty cell; only the
        # formulas' own reading tells the two apart.
        formulas = openpyxl.load_workbook(BytesIO(data), read_only=True, data_only=False)
        try:
            formulas[SHEET].reset_dimensions()
            entries = _entries(values[SHEET], formulas[SHEET], budget)
        finally:
            formulas.close()
    finally:
        values.close()
    return entries, elsewhere


def _entries(sheet: Any, formulas: Any, budget: Budget) -> list[_Entry]:
    top = next(sheet.iter_rows(max_row=1, values_only=True), ()) or ()
    budget.take(len(top))
    header = {nfkc(str(v)): i for i, v in enumerate(top) if v is not None}
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        rows = sum(1 for cells in budget.over(sheet.iter_rows(min_row=2, values_only=True))
                   if any(not _blank(v) for v in cells))
        raise Unfit("missing_columns", f"必須列がありません: {'、'.join(missing)}", rows=max(1, rows), item="header")
    columns = {name: header[name] for name in (*COLUMNS, *OPTIONAL) if name in header}
    width = max(columns.values()) + 1
    entries = []
    pairs = zip(budget.over(sheet.iter_rows(min_row=2, max_col=width)),
                formulas.iter_rows(min_row=2, max_col=width))
    for number, (cells, formula_cells) in enumerate(pairs, start=2):
        row = {name: _at(cells, i).value for name, i in columns.items()}
        uncached = [name for name, i in columns.items()
                    if row[name] is None and _at(formula_cells, i).data_type == "f"]
        if _blank(row["実績値"]) and "実績値" not in uncached:
            continue  # a template row nobody has filled in yet
        errors = [name for name, i in columns.items() if _at(cells, i).data_type == "e"]
        entries.append(_Entry(number, row, uncached, errors))
    return entries


def _rows_elsewhere(sheet: Any, kinds: Mapping[str, str], budget: Budget) -> int:
    """Rows on a sheet other than 実績 that look like entries: below a header with 実績値, the rows with a
    value; on a sheet without one, the rows naming a manual KPI and something more. A guide or an empty
    sheet (the template's 説明) has none."""
    value_at, rows = None, 0
    for cells in budget.over(sheet.iter_rows(values_only=True)):
        texts = [nfkc(str(v)) if v is not None else "" for v in cells]
        if value_at is None and "実績値" in texts and "KPI ID" in texts:
            value_at = texts.index("実績値")
        elif value_at is not None:
            rows += int(value_at < len(cells) and not _blank(cells[value_at]))
        else:
            rows += int(any(t in kinds for t in texts) and sum(1 for t in texts if t) > 1)
    return rows


@dataclass(frozen=True)
class _Blank:
    value: None = None
    data_type: str = "n"


BLANK = _Blank()


def _at(cells: tuple[Any, ...], index: int) -> Any:
    return cells[index] if index < len(cells) else BLANK


def _entry_item(entry: _Entry, info: FileInfo, kinds: Mapping[str, str]) -> Record | Bad:
    where = (info.name, str(entry.number))
    if entry.uncached:
        return Bad(*where, "formula_without_value",
                   f"{'・'.join(entry.uncached)}: 数式の結果が保存されていません。Excelで開いて保存し直してください",
                   content_hash=info.sha256)
    if entry.errors:
        shown_errors = sorted({str(entry.row[name]) for name in entry.errors} & ERROR_VALUES)
        return Bad(*where, "formula_error",
                   f"{'・'.join(entry.errors)}: 数式がエラーになっています。Excelで確認してください",
                   value=" / ".join(shown_errors), content_hash=info.sha256)
    return _record(entry.row, entry.number, info, kinds)


def _record(row: Mapping[str, object], number: int, info: FileInfo, kinds: Mapping[str, str]) -> Record | Bad:
    get = row.get
    kpi_id = nfkc(str(get("KPI ID") or ""))
    kind = kinds.get(kpi_id)
    exact = parse_number(get("実績値"), kind)
    if exact is not None and not plausible(exact):
        reason = (f"実績値の絶対値が上限の1兆（{MAX_VALUE:.0E}）を超えています" if exact.is_finite()
                  else "実績値が無限大または非数です（桁が大きすぎる数など）")
        return Bad(info.name, str(number), "implausible_value", reason, value=shown(get("実績値"), "number"),
                   content_hash=info.sha256)
    fy, entered = parse_year(get("年度")), _entry_date(get("入力日"))
    fields = {
        "kpi_id": kpi_id or None,
        "kpi_known": kind is not None,
        "fiscal_year": fy,
        "value": None if exact is None else float(exact),
        "entered_on": entered,
        "evidence": nfkc(str(get("根拠") or ""))[:500],
        "commentary": commentary_text(get("所見")),
        # In memory only, for validation to show in the shape its suite declares (jisseki.core.normalize.shown):
        # whole, so that free text typed there is shown as text of its real length.
        "raw_kpi_id": kpi_id[:64],
        "raw_year": str(get("年度"))[:20],
        "raw_value": str(get("実績値")),
        "raw_entered": str(get("入力日"))[:40],
    }
    return Record(fields, (kpi_id, fy), info.name, str(number), info.sha256)


def commentary_text(cell: object) -> str:
    """所見 as text: NFKC, line breaks kept (a note may have paragraphs), other control characters and the
    spaces around it dropped, cut at COMMENTARY_CHARS. A number typed there is its text."""
    if cell is None:
        return ""
    text = nfkc(str(cell)).replace("\r\n", "\n").replace("\r", "\n")
    kept = "".join(ch for ch in text if ch == "\n" or ch == "\t" or ch.isprintable())
    return kept.strip()[:COMMENTARY_CHARS]


def parse_year(cell: object) -> int | None:
    if isinstance(cell, (int, float)) and not isinstance(cell, bool):
        return int(cell) if float(cell).is_integer() and 1900 < cell < 2200 else None
    return fiscal_year_text(str(cell or ""))


def parse_number(cell: object, kind: str | None) -> Decimal | None:
    """The value exactly (1.2万 is 12000), or None when it does not parse; not yet checked by plausible()."""
    if isinstance(cell, bool):
        return None
    if kind == "milestone":
        text = nfkc(str(int(cell)) if isinstance(cell, float) and cell.is_integer() else str(cell))
        return Decimal(1) if text in DONE else Decimal(0) if text in NOT_DONE else None
    if isinstance(cell, (int, float)):
        return Decimal(cell)
    m = NUMBER_WITH_UNIT.fullmatch(nfkc(str(cell or "")).replace(",", ""))
    if m is None or SCALE_WORDS & set(m[4]):
        return None  # 1万2千 or 3万万: not one scale word, quarantined rather than guessed at
    number = Decimal(m[1])
    if number > MAX_VALUE:
        return number  # a scale only makes it larger (and could overflow Decimal's context)
    return number * SMALL_SCALES[m[2]] * LARGE_SCALES[m[3]]


def plausible(number: Decimal) -> bool:
    return number.is_finite() and abs(number) <= MAX_VALUE


def parse_value(cell: object, kind: str | None) -> float | None:
    """The value as it lands: None when it does not parse or is not plausible."""
    exact = parse_number(cell, kind)
    return float(exact) if exact is not None and plausible(exact) else None


def _entry_date(cell: object) -> date | None:
    if isinstance(cell, datetime):
        return cell.date()
    if isinstance(cell, date):
        return cell
    return parse_date(str(cell)) if cell is not None else None


def _blank(cell: object) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())
