"""Contract 5: data-visualization environment access log and department master (所属マスタ).

user_id is personal: it is never read into a record, so it cannot land anywhere. Both files are UTF-8
CSV (BOM optional) read strictly (connectors.files.csv_rows): a data row is a non-blank record after
the header line (the first non-blank line), and each is counted or quarantined exactly once.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from connectors.errors import SourceConfigError, SourceFormatError
from connectors.files import (
    CsvRow,
    csv_rows,
    data_rows,
    delivered_files,
    header_and_body,
    header_problem,
    read_delivery,
    shown_path,
    split_cells,
)
from jisseki.core.normalize import nfkc, parse_iso_date, parse_timestamp, shown
from jisseki.core.records import Bad, FileInfo, Lineage, Record, accounted, text_problem

MASTER_COLUMNS = ("department_code", "department_name", "valid_from", "valid_to")
ACCESS_COLUMNS = ("accessed_at", "department_code")
ACCESS_LOG_COLUMNS = ("accessed_at", "user_id", "department_code", "content_id")


@dataclass
class DepartmentMaster:
    spans: dict[str, list[tuple[date, date | None]]] = field(default_factory=dict)

    def valid_at(self, day: date) -> set[str]:
        return {code for code, spans in self.spans.items()
                if any(start <= day and (end is None or day <= end) for start, end in spans)}


@dataclass
class _Table:
    """A CSV file's data rows by column name, or the Bad that rejects the file as a whole."""
    columns: dict[str, int]
    rows: list[CsvRow]
    rejected: Bad | None = None

    def values(self, row: CsvRow, names: tuple[str, ...]) -> dict[str, str]:
        cells = row.cells or []
        return {name: cells[i] if (i := self.columns[name]) < len(cells) else "" for name in names}


def read_master(path: Path) -> tuple[DepartmentMaster, FileInfo, list[Bad]]:
    """valid_to is the last valid day (inclusive); a code may have several validity spans. A master
    that cannot be trusted as a file fails the source: without it no department can be counted."""
    if not path.is_file():
        raise SourceConfigError(f"所属マスタがありません: {shown_path(path)}", "設定の departments を確認してください")
    data, info = read_delivery(path)
    table = _table(data, info, (MASTER_COLUMNS[0], *MASTER_COLUMNS[2:]), MASTER_COLUMNS)
    if table.rejected is not None:
        raise SourceFormatError(f"所属マスタ {info.name} を読めません: {table.rejected.reason}")
    master, bad = DepartmentMaster(), []
    for item in accounted(info, (_master_row(table, row, info) for row in table.rows), len(table.rows)):
        if isinstance(item, Bad):
            bad.append(item)
        else:
            master.spans.setdefault(item.key, []).append((item.fields["valid_from"], item.fields["valid_to"]))
    return master, info, bad


def _master_row(table: _Table, row: CsvRow, info: FileInfo) -> Record | Bad:
    if row.cells is None:
        return Bad(info.name, str(row.line), row.code, row.reason, content_hash=info.sha256)
    raw = table.values(row, (MASTER_COLUMNS[0], *MASTER_COLUMNS[2:]))
    if problem := text_problem(raw):
        return Bad(info.name, str(row.line), "bad_text", problem, content_hash=info.sha256)
    code, start_raw, end_raw = (nfkc(raw[name]) for name in (MASTER_COLUMNS[0], *MASTER_COLUMNS[2:]))
    start = parse_iso_date(start_raw)
    end = parse_iso_date(end_raw) if end_raw else None
    if not code or start is None or (end_raw and (end is None or end < start)):
        value = " ".join(v for v in (shown(code, "department"), shown(start_raw, "date"), shown(end_raw, "date")) if v)
        return Bad(info.name, str(row.line), "bad_department", "所属マスタの行を解釈できません（コードまたは有効期間）",
                   value=value, content_hash=info.sha256)
    return Record({"valid_from": start, "valid_to": end}, code, info.name, str(row.line), info.sha256)


def read_dataviz_access(folder: Path, departments: Path, lineage: Lineage) -> Iterator[Record | Bad]:
    master, info, bad = read_master(departments)
    lineage.files.append(info)
    yield from bad
    paths = delivered_files(folder, ".csv")
    lineage.units_total = len(paths) + 1  # the master too
    for path in paths:
        data, access_info = read_delivery(path)
        lineage.files.append(access_info)
        yield from _access_file(data, access_info, master)


def _access_file(data: bytes, info: FileInfo, master: DepartmentMaster) -> Iterator[Record | Bad]:
    table = _table(data, info, ACCESS_COLUMNS, ACCESS_LOG_COLUMNS)
    if table.rejected is not None:
        yield from accounted(info, [table.rejected], table.rejected.rows)
        return
    yield from accounted(info, (_access_row(table, row, info, master) for row in table.rows), len(table.rows))


def _access_row(table: _Table, row: CsvRow, info: FileInfo, master: DepartmentMaster) -> Record | Bad:
    if row.cells is None:
        return Bad(info.name, str(row.line), row.code, row.reason, content_hash=info.sha256)
    raw = table.values(row, ACCESS_COLUMNS)
    if problem := text_problem(raw):
        return Bad(info.name, str(row.line), "bad_text", problem, content_hash=info.sha256)
    code = nfkc(raw["department_code"]) or None
    fields = {"accessed_at": parse_timestamp(raw["accessed_at"]), "department_code": code,
              "department_known": code in master.spans, "raw_accessed_at": raw["accessed_at"].strip()[:40]}
    return Record(fields, code, info.name, str(row.line), info.sha256)


def _table(data: bytes, info: FileInfo, required: tuple[str, ...], known: tuple[str, ...]) -> _Table:
    """The file's header and data rows; rejected whole when it is not UTF-8 or its header cannot be
    trusted (malformed, a required column missing, a name repeated)."""
    first, body = header_and_body(data)
    if first is None:
        return _Table({}, [])

    def rejected(item: str, code: str, reason: str) -> _Table:
        return _Table({}, [], Bad(info.name, item, code, reason, content_hash=info.sha256,
                                  rows=data_rows(body)))

    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return rejected("file", "undecodable", "UTF-8として読めないファイルです")
    info.encoding = "utf-8"
    cells = split_cells(first.decode("utf-8"))
    if cells is None:
        return rejected("header", "malformed_header", "見出し行をCSVとして読めません（引用符の位置や対応が不正です）")
    names = [nfkc(cell) for cell in cells]
    if problem := header_problem(names, required, known):
        return rejected("header", *problem)
    return _Table({name: i for i, name in enumerate(names)}, list(csv_rows(body, "utf-8")))
