"""Contract 2: moving-out notification log (転出届 受付ログ), CSV files in a folder."""
from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from connectors.files import BOM, byte_lines, delivered_files, read_delivery
from connectors.records import Bad, FileInfo, Lineage, Record
from jisseki.normalize import nfkc, parse_date, ward_code

REQUIRED = ("受付日", "区コード", "受付番号", "届出経路")
WITHDRAWN = "取消"


def read_moveout_log(folder: Path, lineage: Lineage) -> Iterator[Record | Bad]:
    for path in delivered_files(folder, ".csv"):
        data, info = read_delivery(path)
        lineage.files.append(info)
        yield from _read_file(data, info)


def _read_file(data: bytes, info: FileInfo) -> Iterator[Record | Bad]:
    lines = [(n, raw) for n, raw in byte_lines(data) if raw.strip()]
    if not lines:
        return
    encoding, columns = _header(lines[0][1], data.startswith(BOM))
    info.encoding = encoding or ""
    missing = [c for c in REQUIRED if c not in (columns or {})]
    if missing:
        info.rows = len(lines) - 1
        yield Bad(info.name, "header", "missing_columns", f"必須列がありません: {'、'.join(missing)}",
                  content_hash=info.sha256, rows=max(1, len(lines) - 1))
        return
    for number, raw in lines[1:]:
        info.rows += 1
        yield _row(number, raw, encoding, columns, info)


def _header(raw: bytes, has_bom: bool) -> tuple[str | None, dict[str, int] | None]:
    """The encoding is the one under which the header names the contract's columns."""
    for encoding in (("utf-8",) if has_bom else ("cp932", "utf-8")):
        try:
            names = next(csv.reader([raw.decode(encoding)]))
        except (UnicodeDecodeError, StopIteration, csv.Error):
            continue
        columns = {nfkc(name): i for i, name in enumerate(names)}
        if all(c in columns for c in REQUIRED):
            return encoding, columns
    return None, None


def _row(number: int, raw: bytes, encoding: str, columns: dict[str, int], info: FileInfo) -> Record | Bad:
    try:
        cells = next(csv.reader([raw.decode(encoding)]))
    except UnicodeDecodeError:
        return Bad(info.name, str(number), "undecodable", f"{encoding}として読めない行です", content_hash=info.sha256)
    except csv.Error as exc:
        return Bad(info.name, str(number), "malformed_csv", f"CSVとして読めない行です: {exc}", content_hash=info.sha256)

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
