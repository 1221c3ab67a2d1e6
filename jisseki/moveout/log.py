"""Contract 2: moving-out notification log (転出届 受付ログ), CSV files in a folder.

A data row is a record after the header line (the first non-blank line) that is not blank, as
connectors.files.csv_rows splits them; each is counted or quarantined, exactly once.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from connectors.files import (
    BOM,
    CsvRow,
    csv_rows,
    data_rows,
    delivered_files,
    header_and_body,
    header_problem,
    read_delivery,
    split_cells,
)
from jisseki.core.normalize import nfkc, parse_date, ward_code
from jisseki.core.records import Bad, FileInfo, Lineage, Record, accounted, text_problem

REQUIRED = ("受付日", "区コード", "受付番号", "届出経路")
WITHDRAWN = "取消"
COLUMNS = ("受付日", "区コード", "区名", "受付番号", "届出経路", WITHDRAWN)   # the contract's, to name in reasons


@dataclass(frozen=True)
class Header:
    """The header line as read: its encoding and NFKC column names, or why the file cannot be trusted."""
    encoding: str | None
    names: list[str] = field(default_factory=list)
    code: str = ""
    reason: str = ""


def read_moveout_log(folder: Path, lineage: Lineage) -> Iterator[Record | Bad]:
    paths = delivered_files(folder, ".csv")
    lineage.units_total = len(paths)
    for path in paths:
        data, info = read_delivery(path)
        lineage.files.append(info)
        yield from read_file(data, info)


def read_file(data: bytes, info: FileInfo) -> Iterator[Record | Bad]:
    first, body = header_and_body(data)
    if first is None:
        info.rows = 0
        return
    header = read_header(first, data.startswith(BOM))
    info.encoding = header.encoding or ""
    if header.code:
        rows = data_rows(body)
        yield from accounted(info, [Bad(info.name, "header", header.code, header.reason, content_hash=info.sha256,
                                        rows=rows)], rows)
        return
    columns = {name: i for i, name in enumerate(header.names)}
    parsed = list(csv_rows(body, header.encoding))
    yield from accounted(info, (_row(row, columns, info) for row in parsed), len(parsed))


def read_header(raw: bytes, has_bom: bool) -> Header:
    """The encoding is the one under which the header names the contract's columns (NFKC names)."""
    parsed: dict[str, list[str] | None] = {}
    for encoding in ("utf-8",) if has_bom else ("cp932", "utf-8"):
        try:
            cells = split_cells(raw.decode(encoding))
        except UnicodeDecodeError:
            continue
        names = parsed[encoding] = None if cells is None else [nfkc(cell) for cell in cells]
        if names is not None and all(c in names for c in REQUIRED):
            return Header(encoding, names, *(header_problem(names, REQUIRED, COLUMNS) or ("", "")))
    if parsed and all(names is None for names in parsed.values()):
        return Header(None, [], "malformed_header", "見出し行をCSVとして読めません（引用符の位置や対応が不正です）")
    names = next((names for names in parsed.values() if names is not None), [])
    return Header(None, names, *(header_problem(names, REQUIRED, COLUMNS) or ("", "")))


def _row(row: CsvRow, columns: dict[str, int], info: FileInfo) -> Record | Bad:
    if row.cells is None:
        return Bad(info.name, str(row.line), row.code, row.reason, content_hash=info.sha256)
    cells = row.cells

    def cell(name: str) -> str:
        i = columns.get(name)
        return cells[i] if i is not None and i < len(cells) else ""

    if problem := text_problem({name: cell(name) for name in (*REQUIRED, WITHDRAWN)}):
        return Bad(info.name, str(row.line), "bad_text", problem, content_hash=info.sha256)
    raw_date, raw_ward, receipt = cell("受付日"), cell("区コード"), nfkc(cell("受付番号"))
    ward = ward_code(raw_ward)
    fields = {
        "reception_date": parse_date(raw_date),
        "ward_code": ward,
        "route": nfkc(cell("届出経路")),
        "withdrawn": nfkc(cell(WITHDRAWN)),
        "has_receipt": bool(receipt),
        "raw_date": raw_date.strip()[:40],
        "raw_ward": raw_ward.strip()[:20],
    }
    return Record(fields, (ward, receipt), info.name, str(row.line), info.sha256)
