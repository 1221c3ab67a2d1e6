"""Contract 2 at volume: regular files go into DuckDB whole and are normalised column by column.

connectors.moveout_log stays the definition of what a file means. A file takes this path only when
it is regular: its header is on the first line, it decodes as a whole, it has no NUL and no CR
outside a CRLF, and DuckDB parses it strictly (every row as many cells as the header). Anything else
is read by the row reader. Each distinct raw value is normalised once, by the same functions the row
reader uses, so both paths agree cell for cell (tests/test_moveout_columnar.py checks that they do).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.files import BOM
from connectors.moveout_log import WITHDRAWN, header_names
from connectors.records import FileInfo
from jisseki.normalize import nfkc, parse_date, ward_code

# staged column ← contract column; 取消 may be absent (then every row is valid)
FIELDS = {"raw_date": "受付日", "raw_ward": "区コード", "receipt": "受付番号", "raw_route": "届出経路",
          "raw_withdrawn": WITHDRAWN}
CSV_OPTIONS = ("header = true, columns = $columns, auto_detect = false, delim = ',', quote = '\"', "
               "escape = '\"', strict_mode = true, filename = true")
# The line end is detected per read (DuckDB reads '\\r\\n' given as an option as no rows at all), so a
# read groups files with the same line end.


@dataclass(frozen=True)
class Regular:
    info: FileInfo
    layout: tuple[Any, ...]   # line end, number of columns, the position of each FIELDS column (-1: absent)
    utf8: Path                # the file as UTF-8, for DuckDB


def transcode(data: bytes, info: FileInfo, file_id: int, folder: Path) -> Regular | None:
    """A UTF-8 copy of a regular file, or None when the row reader must read it."""
    has_bom = data.startswith(BOM)
    body = data[len(BOM):] if has_bom else data
    end = body.find(b"\n")
    encoding, names = header_names((body if end < 0 else body[:end]).rstrip(b"\r"), has_bom)
    if encoding is None or names is None or b"\x00" in body:
        return None
    # 0x0D and 0x0A never occur inside a CP932 or UTF-8 character, so line ends are counted on bytes.
    cr, crlf = body.count(b"\r"), body.count(b"\r\n")
    if cr != crlf:
        return None                       # a CR that ends no line: the row reader keeps it in the cell
    # Mixed ends, or a quoted cell that may hold a CRLF (the row reader makes it LF): normalise to LF.
    mixed = 0 < crlf and (crlf < body.count(b"\n") or b'"' in body)
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError:
        return None
    if mixed:
        utf8 = text.replace("\r\n", "\n").encode()
    else:
        utf8 = body if encoding == "utf-8" else text.encode()
    info.encoding = encoding
    # The row reader takes the last column of a repeated name; so does this layout.
    position = {name: i for i, name in enumerate(names)}
    path = folder / f"{file_id}.csv"
    path.write_bytes(utf8)
    new_line = "\\r\\n" if crlf and not mixed else "\\n"
    return Regular(info, (new_line, len(names), *(position.get(c, -1) for c in FIELDS.values())), path)


def stage(con: Any, files: Sequence[Regular], ids: dict[str, int]) -> list[Regular]:
    """Appends the files' non-blank rows to the temp table `staged` in file and row order;
    returns the files DuckDB would not parse strictly (for the row reader)."""
    con.execute("CREATE TEMP TABLE IF NOT EXISTS staged (file_id INTEGER, raw_date VARCHAR, raw_ward VARCHAR, "
                "receipt VARCHAR, raw_route VARCHAR, raw_withdrawn VARCHAR)")
    refused: list[Regular] = []
    for layout, group in _by_layout(files).items():
        if _insert(con, layout, group, ids):
            continue
        for one in group:    # find the file that broke the group
            if not _insert(con, layout, [one], ids):
                refused.append(one)
    return refused


def _by_layout(files: Iterable[Regular]) -> dict[tuple[Any, ...], list[Regular]]:
    groups: dict[tuple[Any, ...], list[Regular]] = {}
    for f in files:
        groups.setdefault(f.layout, []).append(f)
    return groups


def _insert(con: Any, layout: tuple[Any, ...], files: Sequence[Regular], ids: dict[str, int]) -> bool:
    import duckdb

    _, width, *positions = layout
    cells = [f"coalesce(c{i}, '')" if i >= 0 else "''" for i in positions]
    blank = " AND ".join(f"coalesce(trim(c{i}), '') = ''" for i in range(width))
    sql = (f"INSERT INTO staged SELECT CAST(parse_filename(filename, true) AS INTEGER), {', '.join(cells)} "
           f"FROM read_csv($paths, {CSV_OPTIONS}) WHERE NOT ({blank})")
    try:
        con.execute(sql, {"paths": [str(f.utf8) for f in files],
                          "columns": {f"c{i}": "VARCHAR" for i in range(width)}})
    except duckdb.Error:
        return False
    return True


def normalise(con: Any) -> None:
    """Mapping tables from each distinct raw value to what the row reader makes of it."""
    _mapping(con, "m_date", "raw_date", "day DATE, shown VARCHAR",
             lambda raw: (parse_date(raw), raw.strip()[:40]))
    _mapping(con, "m_ward", "raw_ward", "ward VARCHAR, shown VARCHAR",
             lambda raw: (ward_code(raw), raw.strip()[:20]))
    _mapping(con, "m_route", "raw_route", "route VARCHAR", lambda raw: (nfkc(raw),))
    _mapping(con, "m_withdrawn", "raw_withdrawn", "withdrawn VARCHAR", lambda raw: (nfkc(raw),))
    # Receipt numbers are all different, so only the ones NFKC could change go through Python.
    _mapping(con, "m_receipt", "receipt", "norm VARCHAR", lambda raw: (nfkc(raw),),
             where="NOT regexp_full_match(receipt, '[!-~]+')")


def _mapping(con: Any, table: str, column: str, columns: str, convert: Any, where: str = "true") -> None:
    raws = [r[0] for r in con.execute(f"SELECT DISTINCT {column} FROM staged WHERE {where}").fetchall()]
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} (raw VARCHAR PRIMARY KEY, id INTEGER, {columns})")
    if raws:
        con.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * (len(columns.split(',')) + 2))})",
                        [[raw, i, *convert(raw)] for i, raw in enumerate(raws)])


NORMALISED = """
FROM staged s JOIN m_date d ON s.raw_date = d.raw JOIN m_ward w ON s.raw_ward = w.raw
JOIN m_route r ON s.raw_route = r.raw JOIN m_withdrawn x ON s.raw_withdrawn = x.raw
LEFT JOIN m_receipt n ON s.receipt = n.raw
"""
RECEIPT = "coalesce(n.norm, s.receipt)"


def shapes(con: Any) -> list[tuple[tuple[int, ...], dict[str, Any]]]:
    """Each distinct normalised row shape once, as the row reader's record fields: a row-wise
    expectation gives every row of a shape the verdict it gives the shape."""
    rows = con.execute(
        f"SELECT DISTINCT d.id, w.id, r.id, x.id, {RECEIPT} <> '', d.day, d.shown, w.ward, w.shown, r.route, "
        f"x.withdrawn {NORMALISED}").fetchall()
    return [((d_id, w_id, r_id, x_id, int(has)), {
        "reception_date": day, "ward_code": ward, "route": route, "withdrawn": withdrawn,
        "has_receipt": has, "raw_date": shown_date, "raw_ward": shown_ward})
        for d_id, w_id, r_id, x_id, has, day, shown_date, ward, shown_ward, route, withdrawn in rows]


def files_with_shapes(con: Any, bad: Sequence[tuple[int, ...]]) -> set[int]:
    if not bad:
        return set()
    con.execute("CREATE OR REPLACE TEMP TABLE bad_shape (d INTEGER, w INTEGER, r INTEGER, x INTEGER, h INTEGER)")
    con.executemany("INSERT INTO bad_shape VALUES (?, ?, ?, ?, ?)", [list(b) for b in bad])
    rows = con.execute(
        f"SELECT DISTINCT s.file_id {NORMALISED} JOIN bad_shape b ON b.d = d.id AND b.w = w.id AND b.r = r.id "
        f"AND b.x = x.id AND b.h = CAST({RECEIPT} <> '' AS INTEGER)").fetchall()
    return {r[0] for r in rows}


def staged_counts(con: Any) -> dict[int, int]:
    return dict(con.execute("SELECT file_id, count(*) FROM staged GROUP BY file_id").fetchall())


def notification_rows_sql(myna: str) -> str:
    """The staged rows as notification rows (file_id, seq, ward, receipt, day, myna, withdrawn) for
    the index; only rows of files not listed in $excluded, all of whose shapes passed validation."""
    return (f"SELECT s.file_id, s.rowid AS seq, w.ward, {RECEIPT} AS receipt, d.day, r.route = '{myna}' AS myna, "
            f"x.withdrawn = '1' AS withdrawn {NORMALISED} WHERE NOT list_contains($excluded, s.file_id)")


def clear(con: Any) -> None:
    con.execute("DROP TABLE IF EXISTS staged")
