"""Contract 2: moving-out notification log (転出届 受付ログ), CSV files in a folder."""
from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from connectors.files import BOM, byte_lines, delivered_files, read_delivery
from connectors.records import Bad, FileInfo, Lineage, Record
from jisseki.normalize import nfkc, parse_date, ward_code

REQUIRED = ("受付日", "区コード", "受付番号", "届出経路")
# A long 備考 must not break a row: the default limit (128 KiB per field) is lifted to 16 MiB.
csv.field_size_limit(16 * 1024 * 1024)
WITHDRAWN = "取消"


def read_moveout_log(folder: Path, lineage: Lineage) -> Iterator[Record | Bad]:
    paths = delivered_files(folder, ".csv")
    lineage.units_total = len(paths)
    for path in paths:
        data, info = read_delivery(path)
        lineage.files.append(info)
        yield from _read_file(data, info)


def _read_file(data: bytes, info: FileInfo) -> Iterator[Record | Bad]:
    lines = [(n, raw) for n, raw in byte_lines(data)]
    header_at = next((i for i, (_, raw) in enumerate(lines) if raw.strip()), None)
    if header_at is None:
        return
    encoding, columns = _header(lines[header_at][1], data.startswith(BOM))
    info.encoding = encoding or ""
    body = lines[header_at + 1:]
    missing = [c for c in REQUIRED if c not in (columns or {})]
    if missing:
        rows = sum(1 for _, raw in body if raw.strip())
        info.rows = rows
        yield Bad(info.name, "header", "missing_columns", f"必須列がありません: {'、'.join(missing)}",
                  content_hash=info.sha256, rows=max(1, rows))
        return
    decoded: list[tuple[int, str]] = []
    for number, raw in body:
        try:
            decoded.append((number, raw.decode(encoding)))
        except UnicodeDecodeError:
            info.rows += 1
            yield Bad(info.name, str(number), "undecodable", f"{encoding}として読めない行です", content_hash=info.sha256)
    # One csv reader over the decoded lines, so a quoted field may span lines.
    reader = csv.reader((text + "\n" for _, text in decoded), strict=False)
    consumed = 0
    while True:
        first = decoded[consumed][0] if consumed < len(decoded) else None
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            info.rows += 1
            yield Bad(info.name, str(first), "malformed_csv", f"CSVとして読めない行です: {exc}", content_hash=info.sha256)
            consumed = reader.line_num
            continue
        consumed = reader.line_num
        if any(cell.strip() for cell in cells):
            info.rows += 1
            yield _row(first, cells, columns, info)


def _header(raw: bytes, has_bom: bool) -> tuple[str | None, dict[str, int] | None]:
    encoding, names = header_names(raw, has_bom)
    return encoding, None if names is None else {name: i for i, name in enumerate(names)}


def header_names(raw: bytes, has_bom: bool) -> tuple[str | None, list[str] | None]:
    """The encoding is the one under which the header names the contract's columns (NFKC names)."""
    for encoding in (("utf-8",) if has_bom else ("cp932", "utf-8")):
        try:
            names = [nfkc(name) for name in next(csv.reader([raw.decode(encoding)]))]
        except (UnicodeDecodeError, StopIteration, csv.Error):
            continue
        if all(c in names for c in REQUIRED):
            return encoding, names
    return None, None


def _row(number: int | None, cells: list[str], columns: dict[str, int], info: FileInfo) -> Record:
    def cell(name: str) -> str:
        i = columns.get(name)
        return cells[i] if i is not None and i < len(cells) else ""

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
    return Record(fields, (ward, receipt), info.name, str(number), info.sha256)
