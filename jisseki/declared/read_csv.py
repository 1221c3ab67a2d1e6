"""A declared CSV source: every file of its folder that matches its pattern, read strictly
(connectors.files.csv_rows).

The header is physical line `header_row` (the lines above it, a title block, are neither read nor counted);
its names are NFKC-normalised. A data row is a record after it that is not blank; each is counted, as a Row
or a Bad, exactly once (jisseki.core.records.accounted). A file is CP932 (as cp932, Microsoft's, not
shift_jis) or UTF-8 as declared; a UTF-8 BOM always means UTF-8.
"""
from __future__ import annotations

from collections.abc import Iterator

from connectors.files import BOM, CsvRow, byte_lines, csv_rows, data_rows, read_delivery, split_cells
from jisseki.core.normalize import nfkc
from jisseki.core.records import Bad, FileInfo, Lineage, accounted, digest, text_problem
from jisseki.declared.delivered import header_columns, source_files
from jisseki.declared.spec import CsvSource
from jisseki.declared.values import Row, Window

OTHER = {"cp932": "utf-8", "utf-8": "cp932"}
WORDS = {"cp932": "CP932（Shift_JIS）", "utf-8": "UTF-8"}


def read_csv(cfg: CsvSource, lineage: Lineage, window: Window, secret: str | None) -> Iterator[Row | Bad]:
    paths = source_files(cfg)
    lineage.units_total = len(paths)
    for path in paths:
        data, info = read_delivery(path)
        lineage.files.append(info)
        yield from read_file(data, info, cfg)


def read_file(data: bytes, info: FileInfo, cfg: CsvSource) -> Iterator[Row | Bad]:
    encoding = "utf-8" if data.startswith(BOM) else cfg.encoding
    info.encoding = encoding
    lines = list(byte_lines(data))
    if len(lines) < cfg.header_row:
        return
    header, body = lines[cfg.header_row - 1][1], lines[cfg.header_row:]
    columns = _columns(header, encoding, cfg, alternative=None if data.startswith(BOM) else OTHER[encoding])
    if isinstance(columns, tuple):
        rows = data_rows(body)
        if rows or header.strip():
            code, reason = columns
            bad = Bad(info.name, "header", code, reason, content_hash=info.sha256, rows=rows)
            yield from accounted(info, [bad], rows)
        return
    width = len(split_cells(header.decode(encoding)) or ())
    raw = {number: line for number, line in body}
    parsed = list(csv_rows(body, encoding))
    yield from accounted(info, (_item(row, columns, width, raw, info) for row in parsed), len(parsed))


def _columns(header: bytes, encoding: str, cfg: CsvSource, alternative: str | None) -> dict[str, int] | tuple[str, str]:
    """Each declared column's cell index, or why the file cannot be read (code, reason). When the header
    does not name the declared columns but would under the other encoding, the reason says so."""
    try:
        cells = split_cells(header.decode(encoding))
    except UnicodeDecodeError:
        problem: dict[str, int] | tuple[str, str] = (
            "undecodable", f"見出し行（{cfg.header_row}行目）を{WORDS[encoding]}として読めません")
    else:
        if cells is None:
            return "malformed_header", "見出し行をCSVとして読めません（引用符の位置や対応が不正です）"
        problem = header_columns([nfkc(c) for c in cells], cfg)
    if isinstance(problem, dict) or alternative is None:
        return problem
    try:
        other = split_cells(header.decode(alternative))
    except UnicodeDecodeError:
        return problem
    if other is not None and isinstance(header_columns([nfkc(c) for c in other], cfg), dict):
        return problem[0], (f"{problem[1]}（{WORDS[alternative]}として読むと見出しがそろいます。"
                            f"設定の encoding（{encoding}）を確認してください）")
    return problem


def _item(row: CsvRow, columns: dict[str, int], width: int, raw: dict[int, bytes], info: FileInfo) -> Row | Bad:
    where = (info.name, f"line {row.line}")
    if row.cells is None:   # a line that is not read: its own bytes, not those a stray quote would join to it
        return Bad(*where, row.code, row.reason, content_hash=digest(raw[row.line]))
    content_hash = digest(_record_bytes(raw, row.line))
    if len(row.cells) != width:
        # As DuckDB's strict mode: a row with more or fewer cells than the header is not read by guessing
        # which cells are missing or extra.
        reason = f"列の数が見出しと違います（見出しは{width}列、この行は{len(row.cells)}列）"
        return Bad(*where, "malformed_csv", reason, content_hash=content_hash)
    values = {name: row.cells[i] for name, i in columns.items()}
    if problem := text_problem(values):
        return Bad(*where, "bad_text", problem, content_hash=content_hash)
    return Row(values, info.name, f"line {row.line}", content_hash)


def _record_bytes(raw: dict[int, bytes], first: int) -> bytes:
    """The bytes of the record that starts on line `first`: the lines csv_rows joined, which are those up to
    the one that closes every quote (a quote is the byte 0x22 in CP932 and UTF-8 alike)."""
    joined, number = raw[first], first + 1
    while joined.count(b'"') % 2 and number in raw:
        joined += b"\n" + raw[number]
        number += 1
    return joined
