"""A declared Excel source: every .xlsx of its folder that matches its pattern (not Excel's lock files), one
sheet of each (the declared one, or the first), its header on row `header_row` (the rows above are neither
read nor counted). A data row is a row below the header, within the header's width, that is not blank; each
is counted, as a Row or a Bad, exactly once (jisseki.core.records.accounted).

A workbook is whatever someone sends, so it can only cost itself: it is checked and read under the caps of
connectors/workbooks.py (size, compression, rows and cells), read whole before anything of it is yielded,
and one that is broken or hostile is quarantined as a file. A value is the cell's own (openpyxl, read-only,
cached values: a date is a datetime, a number an int or float); a formula whose result was never saved, or
whose result is an error, makes its row a Bad.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from typing import Any

from connectors.files import read_delivery
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
from jisseki.core.normalize import nfkc
from jisseki.core.records import Bad, FileInfo, Lineage, accounted, digest, text_problem
from jisseki.declared.delivered import header_columns, source_files
from jisseki.declared.spec import ExcelSource
from jisseki.declared.values import Row, Window


def read_excel(cfg: ExcelSource, lineage: Lineage, window: Window, secret: str | None) -> Iterator[Row | Bad]:
    # Excel's lock file (~$name.xlsx) exists while someone has the workbook open: not a delivery.
    paths = [p for p in source_files(cfg) if not p.name.startswith("~$")]
    lineage.units_total = len(paths)
    for path in paths:
        if (info := too_large(path)) is not None:
            lineage.files.append(info)
            yield from accounted(info, [Bad(info.name, "file", "workbook_too_large", too_large_reason(info),
                                            content_hash=info.sha256)], 1)
            continue
        data, info = read_delivery(path)
        lineage.files.append(info)
        yield from read_workbook(data, info, cfg)


def read_workbook(data: bytes, info: FileInfo, cfg: ExcelSource) -> Iterator[Row | Bad]:
    try:
        check_zip(data)
        items = _load(data, info, cfg)
    except Unfit as unfit:
        bad = Bad(info.name, unfit.item, unfit.code, unfit.reason, content_hash=info.sha256, rows=unfit.rows)
        yield from accounted(info, [bad], bad.rows)
        return
    except UNREADABLE as exc:
        yield from accounted(info, [Bad(info.name, "file", "unreadable_workbook", problem(exc),
                                        content_hash=info.sha256)], 1)
        return
    yield from accounted(info, items, len(items))


@dataclass(frozen=True)
class _Blank:
    value: None = None
    data_type: str = "n"


BLANK = _Blank()


def _load(data: bytes, info: FileInfo, cfg: ExcelSource) -> list[Row | Bad]:
    openpyxl = heavy("openpyxl")
    budget = Budget()
    # Read from the bytes that were hashed, not the path again: what is read is what the lineage names.
    values = openpyxl.load_workbook(BytesIO(data), read_only=True, data_only=True)
    try:
        titles = [sheet.title for sheet in values.worksheets]
        if cfg.sheet is not None and cfg.sheet not in titles:
            raise Unfit("sheet_not_found", f"シート「{cfg.sheet}」がありません")
        if not titles:
            raise Unfit("sheet_not_found", "ワークシートが1枚もありません")
        title = cfg.sheet or titles[0]
        sheet = values[title]
        # Read-only openpyxl trusts the sheet's own <dimension>: rows below it would be skipped unseen,
        # and a hostile one (A1:XFD1048576) would pad every row to 16,384 cells.
        sheet.reset_dimensions()
        top = next(budget.over(sheet.iter_rows(min_row=cfg.header_row, max_row=cfg.header_row, values_only=True)), ())
        names = [nfkc(str(v)) if v is not None else "" for v in top]
        while names and not names[-1]:
            names.pop()
        # With data_only a formula whose result was never saved reads as an empty cell; only the formulas'
        # own reading tells the two apart.
        formulas = openpyxl.load_workbook(BytesIO(data), read_only=True, data_only=False)
        try:
            formulas[title].reset_dimensions()
            rows = _rows(sheet, formulas[title], cfg.header_row + 1, len(names), budget)
        finally:
            formulas.close()
    finally:
        values.close()
    if not names and not rows:
        return []
    columns = header_columns(names, cfg)
    if isinstance(columns, tuple):
        raise Unfit(*columns, rows=len(rows), item="header")
    return [_item(number, cells, formula_cells, columns, info) for number, cells, formula_cells in rows]


def _rows(sheet: Any, formulas: Any, first: int, width: int, budget: Budget) -> list[tuple[int, tuple, tuple]]:
    """(row number, cells, the same cells as formulas) of every row from `first` on that is not blank."""
    last = width or None   # no header: a row's cells are read from the first column to its last one
    pairs = zip(budget.over(sheet.iter_rows(min_row=first, max_col=last)),
                formulas.iter_rows(min_row=first, max_col=last))
    return [(number, cells, formula_cells) for number, (cells, formula_cells) in enumerate(pairs, start=first)
            if not all(_blank(c.value) for c in cells) or any(c.data_type == "f" for c in formula_cells)]


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _at(cells: tuple[Any, ...], index: int) -> Any:
    return cells[index] if index < len(cells) else BLANK


def _item(number: int, cells: tuple, formula_cells: tuple, columns: dict[str, int], info: FileInfo) -> Row | Bad:
    # Both readings: the cached results, and the formulas (a formula without a result has only the latter).
    content_hash = digest(repr((tuple(c.value for c in cells), tuple(c.value for c in formula_cells))).encode())
    where = (info.name, f"row {number}")
    values = {name: _at(cells, i).value for name, i in columns.items()}
    uncached = [name for name, i in columns.items() if values[name] is None and _at(formula_cells, i).data_type == "f"]
    if uncached:
        return Bad(*where, "formula_without_value",
                   f"{'・'.join(uncached)}: 数式の結果が保存されていません。Excelで開いて保存し直してください",
                   content_hash=content_hash)
    errors = [name for name, i in columns.items() if _at(cells, i).data_type == "e"]
    if errors:
        return Bad(*where, "formula_error", f"{'・'.join(errors)}: 数式がエラーになっています。Excelで確認してください",
                   value=" / ".join(sorted({str(values[name]) for name in errors} & ERROR_VALUES)),
                   content_hash=content_hash)
    if problem_text := text_problem(values):
        return Bad(*where, "bad_text", problem_text, content_hash=content_hash)
    return Row(values, info.name, f"row {number}", content_hash)
