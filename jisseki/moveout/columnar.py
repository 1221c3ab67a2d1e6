"""Contract 2 at volume: regular files go into DuckDB whole and are normalised column by column.

jisseki.moveout.log stays the definition of what a file means. A file takes this path only when
it is regular: its header is on the first line and trusted, it decodes as a whole, it has no NUL and
no CR outside a CRLF, every row with a quote is strict CSV to the row reader, and DuckDB parses it
strictly (every row as many cells as the header). Anything else is read by the row reader. Each
distinct raw value is normalised once, by the same functions the row reader uses, so both paths agree
cell for cell (tests/test_moveout_columnar.py checks that they do).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from connectors.files import BOM, byte_lines, csv_rows, read_delivery
from jisseki.core.imports import heavy
from jisseki.core.normalize import nfkc, parse_date, ward_code
from jisseki.core.records import FileInfo
from jisseki.moveout.log import WITHDRAWN, read_header

# staged column ← contract column; 取消 may be absent (then every row is valid)
FIELDS = {"raw_date": "受付日", "raw_ward": "区コード", "receipt": "受付番号", "raw_route": "届出経路",
          "raw_withdrawn": WITHDRAWN}
CSV_OPTIONS = ("header = true, columns = $columns, auto_detect = false, delim = ',', quote = '\"', "
               "escape = '\"', strict_mode = true, filename = true")
# A row is blank as the row reader sees it: every cell empty after str.strip(), whose white space is
# more than the space that DuckDB's trim() takes by default (U+3000 among it).
WHITE_SPACE = "".join(chr(c) for c in range(0x3001) if chr(c).isspace())
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
    header = read_header((body if end < 0 else body[:end]).rstrip(b"\r"), has_bom)
    if header.code or header.encoding is None or b"\x00" in body:
        return None                       # rejected, or a NUL: the row reader says so, by line
    encoding, names = header.encoding, header.names
    # 0x0D and 0x0A never occur inside a CP932 or UTF-8 character, so line ends are counted on bytes.
    cr = body.count(b"\r")
    crlf = body.count(b"\r\n") if cr else 0
    if cr != crlf:
        return None                       # a CR that ends no line: the row reader keeps it in the cell
    # Mixed ends, or a quoted cell that may hold a CRLF (the row reader makes it LF): normalise to LF.
    quoted = b'"' in body
    mixed = 0 < crlf and (quoted or crlf < body.count(b"\n"))
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError:
        return None
    # DuckDB reads quotes more leniently than the row reader (it trims a space before or after a quoted
    # field, and lets a quoted field run on without bound): a file with quotes takes this path only
    # when every row of it is strict CSV to the row reader.
    if quoted and any(row.cells is None for row in csv_rows(islice(byte_lines(body), 1, None), encoding)):
        return None
    if mixed:
        utf8 = text.replace("\r\n", "\n").encode()
    else:
        utf8 = body if encoding == "utf-8" else text.encode()
    info.encoding = encoding
    position = {name: i for i, name in enumerate(names)}
    path = folder / f"{file_id}.csv"
    path.write_bytes(utf8)
    new_line = "\\r\\n" if crlf and not mixed else "\\n"
    return Regular(info, (new_line, len(names), *(position.get(c, -1) for c in FIELDS.values())), path)


def transcode_file(path: Path, file_id: int, folder: Path) -> tuple[FileInfo, Regular | None, int]:
    """Reads, hashes and transcodes one delivered file (in a worker process, so it needs no state):
    its lineage, its UTF-8 copy or None, and the bytes it adds to a chunk."""
    data, info = read_delivery(path)
    regular = transcode(data, info, file_id, folder)
    return info, regular, len(data) if regular is None else regular.utf8.stat().st_size


def stage(con: Any, files: Sequence[Regular], ids: dict[str, int]) -> list[Regular]:
    """Appends the files' non-blank rows to the temp table `staged` in file and row order;
    returns the files DuckDB would not parse strictly (for the row reader)."""
    con.execute("CREATE TEMP TABLE IF NOT EXISTS staged (file_id INTEGER, raw_date VARCHAR, raw_ward VARCHAR, "
                "receipt VARCHAR, raw_route VARCHAR, raw_withdrawn VARCHAR, plain BOOLEAN)")
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
    _, width, *positions = layout
    cells = [f"coalesce(c{i}, '')" if i >= 0 else "''" for i in positions]
    # Printable ASCII without an outer space is what NFKC and strip() leave as it is.
    receipt = f"c{positions[list(FIELDS).index('receipt')]}"
    plain = f"coalesce(regexp_full_match({receipt}, '[!-~]([ -~]*[!-~])?'), false)"
    return insert_staged(con, f"{', '.join(cells)}, {plain}", [f.utf8 for f in files], width)


def insert_staged(con: Any, cells: str, paths: Sequence[Path], width: int, shortcut: str = "") -> bool:
    """Appends the non-blank rows of UTF-8 CSV files (`width` cells c0…, all text) to the temp table `staged`
    as (file id from the file's name, `cells`); False, and nothing inserted, when DuckDB would not read them
    strictly. `shortcut` is SQL that rules a row out of being blank cheaply, before every cell is trimmed."""
    duckdb = heavy("duckdb")
    blank = " AND ".join(f"coalesce(trim(c{i}, $white), '') = ''" for i in range(width))
    blank = f"{shortcut} AND {blank}" if shortcut else blank
    sql = (f"INSERT INTO staged SELECT CAST(parse_filename(filename, true) AS INTEGER), {cells} "
           f"FROM read_csv($paths, {CSV_OPTIONS}) WHERE NOT ({blank})")
    try:
        con.execute(sql, {"paths": [str(p) for p in paths], "white": WHITE_SPACE,
                          "columns": {f"c{i}": "VARCHAR" for i in range(width)}})
    except duckdb.Error:
        return False
    return True


def normalise(con: Any) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """Normalises each distinct raw value once, by the row reader's functions, into mapping tables;
    returns each distinct row shape with the record fields the row reader would give it, so that a
    row-wise expectation gives every row of a shape the verdict it gives the shape."""
    # Receipt numbers are all different: only those NFKC or strip could change go through Python.
    odd = [r[0] for r in con.execute("SELECT DISTINCT receipt FROM staged WHERE NOT plain").fetchall()]
    con.execute("CREATE OR REPLACE TEMP TABLE m_receipt (raw VARCHAR PRIMARY KEY, norm VARCHAR, has BOOLEAN)")
    insert_rows(con, "m_receipt", [(r, nfkc(r), bool(nfkc(r))) for r in odd])
    raw_shapes = con.execute(f"SELECT DISTINCT raw_date, raw_ward, raw_route, raw_withdrawn, {HAS_RECEIPT} "
                             f"{FROM_STAGED}").fetchall()
    dates, wards, texts = {}, {}, {}
    shapes, mapping = [], {}
    for raw_date, raw_ward, raw_route, raw_withdrawn, has in raw_shapes:
        if raw_date not in dates:
            dates[raw_date] = parse_date(raw_date)
        if raw_ward not in wards:
            wards[raw_ward] = ward_code(raw_ward)
        for raw in (raw_route, raw_withdrawn):
            if raw not in texts:
                texts[raw] = nfkc(raw)
        fields = {"reception_date": dates[raw_date], "ward_code": wards[raw_ward], "route": texts[raw_route],
                  "withdrawn": texts[raw_withdrawn], "has_receipt": has, "raw_date": raw_date.strip()[:40],
                  "raw_ward": raw_ward.strip()[:20]}
        shapes.append(((raw_date, raw_ward, raw_route, raw_withdrawn, has), fields))
        mapping[(raw_date, raw_ward, raw_route, raw_withdrawn)] = fields
    con.execute("CREATE OR REPLACE TEMP TABLE m_shape (raw_date VARCHAR, raw_ward VARCHAR, raw_route VARCHAR, "
                "raw_withdrawn VARCHAR, day DATE, ward VARCHAR, route VARCHAR, withdrawn VARCHAR)")
    insert_rows(con, "m_shape", [(*raw, f["reception_date"], f["ward_code"], f["route"], f["withdrawn"])
                                 for raw, f in mapping.items()])
    return shapes


FROM_STAGED = "FROM staged s LEFT JOIN m_receipt n ON s.receipt = n.raw"
HAS_RECEIPT = "coalesce(n.has, true)"
RECEIPT = "coalesce(n.norm, s.receipt)"
NORMALISED = (f"{FROM_STAGED} JOIN m_shape m ON s.raw_date = m.raw_date AND s.raw_ward = m.raw_ward "
              "AND s.raw_route = m.raw_route AND s.raw_withdrawn = m.raw_withdrawn")


def files_with_shapes(con: Any, bad: Sequence[tuple[Any, ...]]) -> set[int]:
    if not bad:
        return set()
    con.execute("CREATE OR REPLACE TEMP TABLE bad_shape (raw_date VARCHAR, raw_ward VARCHAR, raw_route VARCHAR, "
                "raw_withdrawn VARCHAR, has BOOLEAN)")
    insert_rows(con, "bad_shape", bad)
    rows = con.execute(
        f"SELECT DISTINCT s.file_id {FROM_STAGED} JOIN bad_shape b ON s.raw_date = b.raw_date "
        f"AND s.raw_ward = b.raw_ward AND s.raw_route = b.raw_route AND s.raw_withdrawn = b.raw_withdrawn "
        f"AND {HAS_RECEIPT} = b.has").fetchall()
    return {r[0] for r in rows}


def insert_rows(con: Any, table: str, rows: Sequence[Sequence[Any]]) -> None:
    """Many rows in one statement (DuckDB's executemany costs about a millisecond a row)."""
    if not rows:
        return
    columns = list(zip(*rows, strict=True))
    unnest = ", ".join(f"unnest(${i + 1})" for i in range(len(columns)))
    con.execute(f"INSERT INTO {table} SELECT {unnest}", [list(c) for c in columns])


def staged_counts(con: Any) -> dict[int, int]:
    return dict(con.execute("SELECT file_id, count(*) FROM staged GROUP BY file_id").fetchall())


def notification_rows_sql(myna: str) -> str:
    """The staged rows as notification rows (file_id, seq, ward, receipt, day, myna, withdrawn) for
    the index; only rows of files not listed in $excluded, all of whose shapes passed validation."""
    return (f"SELECT s.file_id, s.rowid AS seq, m.ward, {RECEIPT} AS receipt, m.day, m.route = '{myna}' AS myna, "
            f"m.withdrawn = '1' AS withdrawn {NORMALISED} WHERE NOT list_contains($excluded, s.file_id)")


def clear(con: Any) -> None:
    con.execute("DROP TABLE IF EXISTS staged")
