"""Contract 6: the manual entry workbook (実績入力シート), every .xlsx in a folder.

入力者 is never read: it names a department by contract, but a person's name typed there must not land.
"""
from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from pathlib import Path

from connectors.files import delivered_files, read_delivery
from connectors.records import Bad, FileInfo, Lineage, Record
from jisseki.imports import heavy
from jisseki.normalize import nfkc, parse_date

SHEET = "実績"
COLUMNS = ("KPI ID", "年度", "実績値", "根拠", "入力日")
DONE, NOT_DONE = {"済", "完了", "達成", "1"}, {"未", "未了", "0"}
YEAR_FORMS = (
    (re.compile(r"(\d{4})"), 0),
    (re.compile(r"FY(\d{4})", re.IGNORECASE), 0),
    (re.compile(r"令和(\d{1,2}|元)年度"), 2018),
    (re.compile(r"R(\d{1,2}|元)", re.IGNORECASE), 2018),
)
NUMBER_WITH_UNIT = re.compile(r"(\d+(?:\.\d+)?)\s*(\D*)")


def read_manual_entries(folder: Path, lineage: Lineage, kinds: Mapping[str, str]) -> Iterator[Record | Bad]:
    """kinds: the catalog's manual KPI ids and their kind (a milestone reads 済/未, the rest numbers)."""
    # Excel's lock file (~$name.xlsx) exists while someone has the workbook open: not a delivery.
    paths = [p for p in delivered_files(folder, ".xlsx") if not p.name.startswith("~$")]
    lineage.units_total = len(paths)
    for path in paths:
        data, info = read_delivery(path)
        lineage.files.append(info)
        yield from _read_workbook(path, info, kinds)


def _read_workbook(path: Path, info: FileInfo, kinds: Mapping[str, str]) -> Iterator[Record | Bad]:
    try:
        book = heavy("openpyxl").load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
        yield Bad(info.name, "file", "unreadable_workbook", f"Excelブックとして読めません ({type(exc).__name__})",
                  content_hash=info.sha256)
        return
    try:
        if SHEET not in book.sheetnames:
            yield Bad(info.name, "file", "missing_sheet", f"シート「{SHEET}」がありません", content_hash=info.sha256)
            return
        rows = book[SHEET].iter_rows(values_only=True)
        header = {nfkc(str(v)): i for i, v in enumerate(next(rows, ()) or ()) if v is not None}
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            yield Bad(info.name, "header", "missing_columns", f"必須列がありません: {'、'.join(missing)}",
                      content_hash=info.sha256)
            return
        for number, cells in enumerate(rows, start=2):
            row = {name: cells[i] if i < len(cells) else None for name, i in header.items()}
            if _blank(row.get("実績値")):
                continue  # a template row nobody has filled in yet
            info.rows += 1
            yield _record(row, number, info, kinds)
    finally:
        book.close()


def _record(row: Mapping[str, object], number: int, info: FileInfo, kinds: Mapping[str, str]) -> Record:
    get = row.get
    kpi_id = nfkc(str(get("KPI ID") or ""))
    kind = kinds.get(kpi_id)
    fy, value, entered = parse_year(get("年度")), parse_value(get("実績値"), kind), _entry_date(get("入力日"))
    fields = {
        "kpi_id": kpi_id or None,
        "kpi_known": kind is not None,
        "fiscal_year": fy,
        "value": value,
        "entered_on": entered,
        "evidence": nfkc(str(get("根拠") or ""))[:500],
        "raw_kpi_id": kpi_id[:64],
        "raw_year": str(get("年度"))[:20],
        "raw_value": str(get("実績値"))[:40],
        "raw_entered": str(get("入力日"))[:40],
    }
    return Record(fields, (kpi_id, fy), info.name, str(number), info.sha256)


def parse_year(cell: object) -> int | None:
    if isinstance(cell, (int, float)) and not isinstance(cell, bool):
        return int(cell) if float(cell).is_integer() and 1900 < cell < 2200 else None
    text = nfkc(str(cell or ""))
    for pattern, era_base in YEAR_FORMS:
        if m := pattern.fullmatch(text):
            return era_base + (1 if m[1] == "元" else int(m[1]))
    return None


def parse_value(cell: object, kind: str | None) -> float | None:
    if isinstance(cell, bool):
        return None
    if kind == "milestone":
        text = nfkc(str(int(cell)) if isinstance(cell, float) and cell.is_integer() else str(cell))
        return 1.0 if text in DONE else 0.0 if text in NOT_DONE else None
    if isinstance(cell, (int, float)):
        return float(cell)
    if m := NUMBER_WITH_UNIT.fullmatch(nfkc(str(cell or "")).replace(",", "")):
        return float(m[1])
    return None


def _entry_date(cell: object) -> date | None:
    if isinstance(cell, datetime):
        return cell.date()
    if isinstance(cell, date):
        return cell
    return parse_date(str(cell)) if cell is not None else None


def _blank(cell: object) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())
