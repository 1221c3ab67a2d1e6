"""Contract 5: data-visualization environment access log and department master (所属マスタ).

user_id is personal: it is never read into a record, so it cannot land anywhere.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from connectors.errors import SourceConfigError
from connectors.files import delivered_files, read_delivery
from connectors.records import Bad, FileInfo, Lineage, Record
from jisseki.normalize import nfkc, parse_iso_date, parse_timestamp

MASTER_COLUMNS = ("department_code", "department_name", "valid_from", "valid_to")
ACCESS_COLUMNS = ("accessed_at", "department_code")


@dataclass
class DepartmentMaster:
    spans: dict[str, list[tuple[date, date | None]]] = field(default_factory=dict)

    def valid_at(self, day: date) -> set[str]:
        return {code for code, spans in self.spans.items()
                if any(start <= day and (end is None or day <= end) for start, end in spans)}


def read_master(path: Path) -> tuple[DepartmentMaster, FileInfo, list[Bad]]:
    """valid_to is the last valid day (inclusive); a code may have several validity spans."""
    if not path.is_file():
        raise SourceConfigError(f"所属マスタがありません: {path}", "設定の departments を確認してください")
    data, info = read_delivery(path)
    rows, bad = _csv_rows(data, info, MASTER_COLUMNS[:1] + MASTER_COLUMNS[2:3])
    master = DepartmentMaster()
    for number, row in rows:
        info.rows += 1
        code, start, end_raw = nfkc(row.get("department_code")), parse_iso_date(nfkc(row.get("valid_from"))), nfkc(row.get("valid_to"))
        end = parse_iso_date(end_raw) if end_raw else None
        if not code or start is None or (end_raw and (end is None or end < start)):
            bad.append(Bad(info.name, str(number), "bad_department", "所属マスタの行を解釈できません（コードまたは有効期間）",
                           value=f"{code} {row.get('valid_from', '')} {end_raw}".strip()[:80], content_hash=info.sha256))
            continue
        master.spans.setdefault(code, []).append((start, end))
    return master, info, bad


def read_dataviz_access(folder: Path, departments: Path, lineage: Lineage) -> Iterator[Record | Bad]:
    master, info, bad = read_master(departments)
    lineage.files.append(info)
    yield from bad
    paths = delivered_files(folder, ".csv")
    lineage.units_total = len(paths) + 1  # the master too
    for path in paths:
        data, access_info = read_delivery(path)
        lineage.files.append(access_info)
        rows, file_bad = _csv_rows(data, access_info, ACCESS_COLUMNS)
        yield from file_bad
        for number, row in rows:
            access_info.rows += 1
            code = nfkc(row.get("department_code")) or None
            fields = {"accessed_at": parse_timestamp(row.get("accessed_at")), "department_code": code,
                      "department_known": code in master.spans, "raw_accessed_at": (row.get("accessed_at") or "")[:40]}
            yield Record(fields, code, access_info.name, str(number), access_info.sha256)


def _csv_rows(data: bytes, info: FileInfo, required: tuple[str, ...]) -> tuple[list[tuple[int, dict[str, str]]], list[Bad]]:
    """UTF-8 (BOM optional) CSV rows by header name, with the line each starts on."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [Bad(info.name, "file", "undecodable", "UTF-8として読めないファイルです", content_hash=info.sha256)]
    info.encoding = "utf-8"
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    columns = {nfkc(name): i for i, name in enumerate(header or [])}
    missing = [c for c in required if c not in columns]
    if header is None:
        return [], []
    if missing:
        lost = sum(1 for cells in reader if any(cell.strip() for cell in cells))
        return [], [Bad(info.name, "header", "missing_columns", f"必須列がありません: {'、'.join(missing)}",
                        content_hash=info.sha256, rows=max(1, lost))]
    rows, start = [], reader.line_num + 1
    for cells in reader:
        if any(cell.strip() for cell in cells):
            rows.append((start, {name: cells[i] if i < len(cells) else "" for name, i in columns.items()}))
        start = reader.line_num + 1
    return rows, []
