"""A declared CSV source at volume (jisseki.batch.BulkPath): regular files go into DuckDB whole and are typed
column by column; the others are read by the row reader (jisseki/declared/read_csv.py).

As the moving-out log's columnar path (jisseki/moveout/columnar.py): a file is regular when its header names
the declared columns, it decodes as a whole, it has no NUL and no CR outside a CRLF, every row with a quote is
strict CSV to the row reader, and DuckDB parses it strictly (every row as many cells as the header). Each
distinct raw value of a declared column is typed once by values.typed, the function the row path types each
cell with, so both paths agree value for value (tests/test_declared_columnar.py checks their figures agree).

Validation: every expectation of a records suite reads one column's fields, or two for not_before
(jisseki/declared/rules.py), so a row passes exactly when each of its columns' values (and not_before pairs)
passes. GX validates each distinct value once, in a record whose other columns hold fields that pass every
expectation. A file with a failing value goes to the row reader, so quarantine names its lines.

Plain copies of the files (personal values in clear) are written to a locked work folder (jisseki/work_folder.py),
where DuckDB may also spill; it is removed however the run ends.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from connectors.errors import SourceError
from connectors.files import BOM, byte_lines, csv_rows, read_delivery, split_cells
from expectations.runner import validate
from jisseki.batch import CHUNK_ROWS, Batch, Progress, RunContext, valid_records
from jisseki.core.imports import heavy
from jisseki.core.normalize import nfkc
from jisseki.core.records import Bad, FileInfo, Record
from jisseki.declared import engine, read_csv, rules
from jisseki.declared.collect import prepare, record, stored
from jisseki.declared.delivered import header_columns, source_files
from jisseki.declared.spec import CsvSource
from jisseki.declared.values import MISSING, day_of, typed
from jisseki.moveout.columnar import insert_rows, insert_staged
from jisseki.work_folder import work_folder

WORK_PREFIX = "jisseki-declared-"
CHUNK_BYTES = 64 * 1024 * 1024   # file bytes staged in DuckDB at once
# DuckDB's share of the run's memory: it spills to the work folder beyond it.
DUCKDB_CONFIG = {"memory_limit": "256MB", "threads": 2, "preserve_insertion_order": True}
# Text a personal column holds as it is: printable ASCII without an outer space is what NFKC and strip()
# leave unchanged, so only other values (few) go through Python. Personal values are never validated.
PLAIN = "[!-~]([ -~]*[!-~])?"


@dataclass
class _File:
    info: FileInfo
    path: Path
    number: int           # in name order
    base: int             # its rows' reading order starts here (the lines of the files before it)
    utf8: Path | None     # the UTF-8 copy of a regular file; None: the row reader reads it
    layout: tuple[Any, ...] = ()   # line end, number of cells, the position of each declared column


def collect_csv(ctx: RunContext) -> Batch:
    """A declared CSV source's batch: every file's rows counted or quarantined, the figures measured."""
    prepare(ctx)
    decl: CsvSource = ctx.cfg
    batch = ctx.batch()
    paths = source_files(decl)
    batch.lineage.units_total = len(paths)
    duckdb = heavy("duckdb")
    with work_folder(batch, WORK_PREFIX) as (work, _):
        con = duckdb.connect(":memory:", config={**DUCKDB_CONFIG, "temp_directory": str(work / "spill")})
        try:
            # `rows` and `kept` in a compressed database (a checkpoint compresses what is loaded): a year of rows
            # takes a fraction of DuckDB's memory limit, not several times it. The work tables stay temporary.
            con.execute("ATTACH ':memory:' AS declared (COMPRESS)")
            con.execute("USE declared")
            engine.create_rows(con, decl)
            for chunk in _chunks(paths, work, decl, batch):
                _load(con, chunk, ctx, batch)
                con.execute("CHECKPOINT declared")
                _report(ctx, batch, False)
            engine.kept_rows(con, decl)
            con.execute("DROP TABLE rows")   # all that is counted is in `kept` now
            con.execute("CHECKPOINT declared")
            batch.max_event_date = engine.last_day(con, ctx.as_of)
            batch.figures = engine.figures(con, decl, dict(ctx.measures), ctx.as_of)
        finally:
            con.close()
    batch.rejected = ctx.rejection(batch)
    _report(ctx, batch, True)
    return batch


def _report(ctx: RunContext, batch: Batch, finished: bool) -> None:
    if ctx.progress is not None:
        lineage = batch.lineage
        ctx.progress(Progress(batch.source, "ファイル", len(lineage.files), lineage.units_total, batch.rows_read,
                              batch.bad_rows, finished))


def _chunks(paths: list[Path], work: Path, decl: CsvSource, batch: Batch) -> Iterator[list[_File]]:
    """The files in name order, read, hashed and (the regular ones) copied as UTF-8, CHUNK_BYTES at a time."""
    chunk: list[_File] = []
    size, base = 0, 0
    for number, path in enumerate(paths):
        data, info = read_delivery(path)
        batch.lineage.files.append(info)
        chunk.append(_transcode(data, _File(info, path, number, base, None), work, decl))
        base += data.count(b"\n") + 1   # more than its rows: reading order stays file by file
        size += len(data)
        if size >= CHUNK_BYTES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def _transcode(data: bytes, file: _File, work: Path, decl: CsvSource) -> _File:
    """The file with its UTF-8 copy (from its header line on) when it is regular."""
    has_bom = data.startswith(BOM)
    encoding = "utf-8" if has_bom else decl.encoding
    body = data[len(BOM):] if has_bom else data
    at = 0
    for _ in range(decl.header_row - 1):   # a title block above the header: neither read nor counted
        at = body.find(b"\n", at) + 1
        if at == 0:
            return file
    body = body[at:]
    end = body.find(b"\n")
    if b"\x00" in body or end < 0:
        return file                        # a NUL, or no row: the row reader says what it makes of it
    # 0x0D and 0x0A never occur inside a CP932 or UTF-8 character, so line ends are counted on bytes.
    cr = body.count(b"\r")
    crlf = body.count(b"\r\n") if cr else 0
    if cr != crlf:
        return file                        # a CR that ends no line: the row reader keeps it in the cell
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError:
        return file
    cells = split_cells(text[:text.find("\n")].rstrip("\r")) or []
    columns = header_columns([nfkc(c) for c in cells], decl) if cells else None
    if not isinstance(columns, dict):
        return file                        # the row reader quarantines the file with the header's reason
    # DuckDB reads quotes more leniently than the row reader: a file with quotes takes this path only when
    # every row of it is strict CSV to the row reader. A quoted cell may hold a CRLF, which it makes LF.
    quoted = b'"' in body
    if quoted and any(row.cells is None for row in csv_rows(islice(byte_lines(body), 1, None), encoding)):
        return file
    mixed = 0 < crlf and (quoted or crlf < body.count(b"\n"))
    utf8 = text.replace("\r\n", "\n").encode() if mixed else body if encoding == "utf-8" else text.encode()
    file.info.encoding = encoding
    file.utf8 = work / f"{file.number}.csv"
    file.utf8.write_bytes(utf8)
    file.layout = ("\\r\\n" if crlf and not mixed else "\\n", len(cells), *columns.values())
    return file


def _load(con: Any, chunk: list[_File], ctx: RunContext, batch: Batch) -> None:
    """One chunk into `rows`: regular files typed column by column, the rest (and files with a failing value)
    row by row."""
    decl: CsvSource = ctx.cfg
    regular = [f for f in chunk if f.utf8 is not None]
    refused = _stage(con, regular, len(decl.columns))
    staged = [f for f in regular if f.number not in refused]
    mapped = _typed_values(con, decl)
    failing = _failing_files(con, decl, mapped, ctx)
    kept = [f for f in staged if f.number not in failing]
    per_file = con.execute("SELECT file_no, count(*), min(rowid) FROM staged GROUP BY file_no").fetchall()
    counts = {number: n for number, n, _ in per_file}
    first = {number: rowid for number, _, rowid in per_file}
    con.execute("CREATE OR REPLACE TEMP TABLE offsets (file_no INTEGER, off BIGINT)")
    insert_rows(con, "offsets", [(f.number, f.base - first[f.number]) for f in kept if f.number in first])
    inserted = con.execute(_insert_sql(decl)).fetchone()[0] if kept else 0
    if inserted != sum(counts.get(f.number, 0) for f in kept):
        raise RuntimeError(f"内部エラー: 読んだ {sum(counts.get(f.number, 0) for f in kept)} 行に対して "
                           f"{inserted} 行を集計の表に入れました")
    for f in kept:
        f.info.rows = counts.get(f.number, 0)
        batch.rows_read += f.info.rows
    con.execute("DROP TABLE staged")
    for f in regular:
        assert f.utf8 is not None
        f.utf8.unlink()   # staged: the plain copy is not needed again
    _row_by_row(con, [f for f in chunk if f not in kept], ctx, batch)


def _stage(con: Any, files: Sequence[_File], width: int) -> set[int]:
    """The files' non-blank rows, only their declared columns, into the temp table `staged` in file and row
    order (its rowid); returns the files DuckDB would not parse strictly."""
    values = ", ".join(f"v{i} VARCHAR" for i in range(width))
    con.execute(f"CREATE OR REPLACE TEMP TABLE staged (file_no INTEGER, {values})")
    groups: dict[tuple[Any, ...], list[_File]] = {}
    for f in files:
        groups.setdefault(f.layout, []).append(f)
    refused: set[int] = set()
    for layout, group in groups.items():
        if _insert(con, layout, group):
            continue
        for one in group:   # find the file that broke the group
            if not _insert(con, layout, [one]):
                refused.add(one.number)
    return refused


def _insert(con: Any, layout: tuple[Any, ...], files: Sequence[_File]) -> bool:
    _, width, *positions = layout
    cells = ", ".join(f"coalesce(c{i}, '')" for i in positions)
    # A first cell that starts with printable ASCII other than a space is not white space: the row is not
    # blank, and its other cells need not be trimmed (most rows, at a third of the reading time). The line
    # end is detected per read (grouped by it, as the layout).
    paths = [f.utf8 for f in files if f.utf8 is not None]
    return insert_staged(con, cells, paths, width, shortcut="NOT (c0 >= '!' AND c0 < chr(127))")


def _shortcut(decl: CsvSource, name: str) -> bool:
    """A personal text column: its plain values are their own typed value (and are never validated)."""
    column = decl.columns[name]
    return column.personal and column.type == "text"


def _typed_values(con: Any, decl: CsvSource) -> dict[str, dict[str, Any]]:
    """Each distinct raw value of each declared column typed once, into the mapping table m<i> (raw, the value
    as `rows` holds it, its scope text, its day); returns the typed values to validate: every value of a column,
    and of a personal text column those that are not plain (plain ones are present and of their type)."""
    out: dict[str, dict[str, Any]] = {}
    for i, (name, column) in enumerate(decl.columns.items()):
        plain = f" WHERE NOT regexp_full_match(v{i}, '{PLAIN}')" if _shortcut(decl, name) else ""
        raws = [r[0] for r in con.execute(f"SELECT DISTINCT v{i} FROM staged{plain}").fetchall()]
        values = {raw: typed(raw, column) for raw in raws}
        out[name] = values
        con.execute(f"CREATE OR REPLACE TEMP TABLE m{i} (raw VARCHAR, val {engine.SQL_TYPES[column.type]}, "
                    "txt VARCHAR, day DATE)")
        insert_rows(con, f"m{i}", [(raw, stored(v), None if v is MISSING or v is None else str(v), day_of(v))
                                   for raw, v in values.items()])
    return out


def _failing_files(con: Any, decl: CsvSource, values: dict[str, dict[str, Any]], ctx: RunContext) -> set[int]:
    """The staged files with a value (or a not_before pair of values) the records suite fails."""
    neutral: dict[str, Any] = {}
    for name, column in decl.columns.items():
        # Fields that pass every expectation (GX leaves None out of its checks); a personal column has only
        # whether it is there and of its type (rules.fields).
        neutral.update({f"{name}__ok": True, f"{name}__has": True})
        if not column.personal:
            neutral.update({name: None, f"{name}__raw": ""})
            if column.type in ("date", "datetime"):
                neutral[f"{name}__ord"] = None
    ids = {name: i for i, name in enumerate(decl.columns)}
    checked: list[tuple[tuple[str, ...], tuple[str, ...]]] = []   # (columns, their raw values) per record
    records: list[dict[str, Any]] = []
    for name, typed_values in values.items():
        for raw, value in typed_values.items():
            checked.append(((name,), (raw,)))
            records.append({**neutral, **_own(decl, {name: (raw, value)})})
    for name, column in decl.columns.items():
        if column.not_before is None:
            continue
        other = column.not_before
        for a, b in con.execute(f"SELECT DISTINCT v{ids[name]}, v{ids[other]} FROM staged").fetchall():
            checked.append(((name, other), (a, b)))
            records.append({**neutral, **_own(decl, {name: (a, values[name][a]), other: (b, values[other][b])})})
    if not records:
        return set()
    failing: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
    for index in sorted({f.index for f in validate(ctx.source.records_suite, records, ctx.gx_root, ctx.run_name)}):
        columns, raws = checked[index]
        failing.setdefault(columns, []).append(raws)
    out: set[int] = set()
    for columns, failed in failing.items():
        con.execute("CREATE OR REPLACE TEMP TABLE failing (a VARCHAR, b VARCHAR)")
        insert_rows(con, "failing", [(r[0], r[-1]) for r in failed])
        on = " AND ".join(f"s.v{ids[c]} = f.{side}" for c, side in zip(columns, "ab"))
        out |= {r[0] for r in con.execute(f"SELECT DISTINCT s.file_no FROM staged s JOIN failing f ON {on}").fetchall()}
    return out


def _own(decl: CsvSource, given: dict[str, tuple[str, Any]]) -> dict[str, Any]:
    """The record fields (rules.fields) of the given columns, from their raw and typed values."""
    fields = rules.fields(decl, {n: given[n][1] if n in given else MISSING for n in decl.columns},
                          {n: raw for n, (raw, _) in given.items()})
    return {k: v for k, v in fields.items() if k in given or k.rsplit("__", 1)[0] in given}


def _insert_sql(decl: CsvSource) -> str:
    """The staged rows of the files in `offsets` as `rows` holds them; the statement returns how many."""
    ids = {name: i for i, name in enumerate(decl.columns)}
    values = [f"CASE WHEN m{i}.raw IS NULL THEN s.v{i} ELSE m{i}.val END" if _shortcut(decl, name) else f"m{i}.val"
              for name, i in ids.items()]
    day = f"m{ids[decl.date]}.day" if decl.date else "NULL"
    scope = f"m{ids[decl.scope]}.txt" if decl.scope else "NULL"
    joins = " ".join(f"LEFT JOIN m{i} ON s.v{i} = m{i}.raw" for i in ids.values())
    return (f"INSERT INTO rows SELECT s.rowid + o.off, {day}, {scope}, {', '.join(values)} "
            f"FROM staged s JOIN offsets o ON s.file_no = o.file_no {joins}")


def _row_by_row(con: Any, files: list[_File], ctx: RunContext, batch: Batch) -> None:
    """Files through the row reader and collect.record, as the row path reads them; valid rows into `rows`."""
    decl: CsvSource = ctx.cfg
    records: list[Record] = []

    def flush() -> None:
        valid = valid_records(ctx.source.records_suite, records, batch.bad, ctx.gx_root, ctx.run_name)
        insert_rows(con, "rows", [r.key for r in valid])
        records.clear()

    for f in files:
        data, fresh = read_delivery(f.path)
        if fresh.sha256 != f.info.sha256:
            raise SourceError(f"{f.info.name} が読込中に書き換えられました。次回の実行で読み直します")
        for index, item in enumerate(read_csv.read_file(data, f.info, decl)):
            made = item if isinstance(item, Bad) else record(decl, item, f.base + index)
            batch.rows_read += made.rows if isinstance(made, Bad) else 1
            if isinstance(made, Bad):
                batch.bad.append(made)
                continue
            records.append(made)
            if len(records) >= CHUNK_ROWS:
                flush()
    if records:
        flush()
