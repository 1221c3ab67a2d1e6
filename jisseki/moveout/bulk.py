"""The moving-out source at national scale: only new or changed files are read, columnar where the
file is regular, row by row where it is not; deduplication runs in the notification index.

A file is unchanged when its size, mtime, ctime and inode all match what the warehouse landed and the
index holds a partition with that content hash; when any of them moved, the file is hashed again and the
content hash decides. Size and mtime alone are not enough: `cp -p` or `rsync -t` puts a corrected file
in place with the old mtime, and one of the same size would never be read again. A writer cannot set
the ctime back, and a copy made beside and renamed over (rsync's way) has a new inode, as git's index
relies on. A file landed before the warehouse kept ctime and inode (revision 0004) is hashed once.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.errors import SourceError
from connectors.files import delivered_files, file_name, read_delivery, signed_inode
from jisseki import worker
from jisseki.batch import CHUNK_ROWS, Batch, Progress, RunContext, Source, chunks, valid_records
from jisseki.core.records import Bad, FileInfo, Record
from jisseki.moveout import columnar, measure
from jisseki.moveout.columnar import insert_rows
from jisseki.moveout.index import OTHER_IDENTITY, IndexedFile, NotificationIndex
from jisseki.moveout.log import read_file
from jisseki.secrets import fingerprint_key
from jisseki.work_folder import work_folder
from warehouse import keyfile

CHUNK_BYTES = 64 * 1024 * 1024   # UTF-8 text staged in DuckDB at once
INDEX_FILE = "moveout_log.duckdb"
Transcoded = tuple[FileInfo, columnar.Regular | None, int]
WORKER_FILES = 8   # fewer new files are transcoded here: a worker process costs a Python start
TRANSCODE = "jisseki.moveout.columnar:transcode_file"
# The work folder holds plain UTF-8 copies of the delivered files (receipt numbers in clear): see
# jisseki/work_folder.py.
WORK_PREFIX = "jisseki-moveout-"


@dataclass
class _Work:
    """Files of one chunk: regular ones for DuckDB, the rest for the row reader."""
    regular: list[columnar.Regular]
    irregular: list[FileInfo]
    ids: dict[str, int]
    paths: dict[str, Path]
    size: int = 0


def collect_moveout(ctx: RunContext) -> Batch:
    """The moving-out log's bulk path (jisseki.batch.BulkPath)."""
    source, cfg, as_of, incremental = ctx.source, ctx.cfg, ctx.as_of, ctx.incremental
    batch = ctx.batch()
    key = fingerprint_key(cfg)
    # The index outlives the run only where there is a state folder and its key can be found again.
    kept = incremental if key is not None or cfg.fingerprint_key_dir is not None else None
    with work_folder(batch, WORK_PREFIX) as (work, lock):
        index_path = kept.state_dir / INDEX_FILE if kept is not None else work / INDEX_FILE
        key, ref, created = _index_key(cfg, key, index_path, batch) if kept is not None else (key, None, False)
        index = NotificationIndex(index_path, key or os.urandom(32).hex(), work / "spill", key_ref=ref)
        # A new key empties the index anyway, as its note says; anything else is worth its own.
        if index.rebuilt is not None and not (created and index.rebuilt == OTHER_IDENTITY):
            batch.notes.append(f"通知索引 {index_path} が{index.rebuilt}ため作り直し、受信フォルダのファイルを"
                               "すべて読み直しました（集計値は変わりません）")
        try:
            files = _read_new(index, cfg.path, kept.known if kept is not None else {}, batch, work, lock, source,
                              ctx.gx_root, ctx.run_name, ctx.progress)
            counts, latest = index.counts(as_of)
        finally:
            index.close()
    batch.lineage.files = files
    batch.files_state = files
    batch.figures = measure.figures(counts, as_of)
    batch.max_event_date = latest
    batch.rejected = ctx.rejection(batch)
    _report(ctx.progress, batch, len(files), len(files), True)
    return batch


def _index_key(cfg: Any, key: str | None, index_path: Path, batch: Batch) -> tuple[str, str | None, bool]:
    """The configured key, else the key file the index names (made on the first run, and said so);
    and whether that key was made now."""
    if key is not None:
        return key, None, False
    found = keyfile.load_or_create(cfg.fingerprint_key_dir, NotificationIndex.stored_key_ref(index_path))
    if found.created:
        batch.notes.append(f"指紋の鍵を作成しました: {found.path}（所有者だけが読めます。消すと次の実行で作り直し、"
                           "索引を一度組み直します）")
    elif found.shared:
        batch.notes.append(f"指紋の鍵ファイル {found.path} が所有者以外からも読めます。chmod 600 にしてください")
    return found.key, found.ref, found.created


def _read_new(index: NotificationIndex, folder: Path, known: dict[str, FileInfo], batch: Batch, work: Path,
              lock: int, source: Source, gx_root: Path | None, run_name: str | None,
              progress: Callable[[Progress], None] | None) -> list[FileInfo]:
    """Brings the index up to the folder; returns every current file's lineage, in name order."""
    index.keep_only({name: f.sha256 for name, f in known.items()})
    indexed = index.files()
    paths = delivered_files(folder, ".csv")
    names = {path: file_name(path) for path in paths}   # as lineage and the index know them
    present = set(names.values())
    index.drop(f.file_id for name, f in indexed.items() if name not in present)
    current: dict[str, FileInfo] = {}
    pending = []
    for path in paths:
        seen = _unchanged_by_stat(path, known.get(names[path]), indexed.get(names[path]))
        if seen is not None:
            current[names[path]] = seen
        else:
            pending.append(path)
    index.plan_load(sum(path.stat().st_size for path in pending))
    first_id = index.next_file_id()
    ids = range(first_id, first_id + len(pending))
    done = 0
    with _transcoding(pending, ids, work, lock) as transcoded:
        if len(pending) >= WORKER_FILES:
            from expectations.runner import prepare

            prepare(source.records_suite, gx_root)   # while the worker transcodes the first files
        for chunk in _chunked(zip(ids, pending, transcoded), known, indexed, current):
            _load(index, chunk, batch, source, gx_root, run_name)
            for info in [r.info for r in chunk.regular] + chunk.irregular:
                current[info.name] = info
            done += len(chunk.ids)
            _report(progress, batch, done, len(pending), False)
    return [current[name] for name in sorted(current)]


@contextmanager
def _transcoding(paths: list[Path], ids: range, work: Path, lock: int) -> Iterator[Iterator[Transcoded]]:
    """Each file's lineage, UTF-8 copy and chunk size, in order. Many files are transcoded by a worker
    process, which runs ahead while this one loads what it has made: decoding holds the GIL, DuckDB
    does not, so the two cores work at once and validation's Python does not wait for the decoder.
    The worker ends with this block (jisseki/worker.py): nothing of a run outlives it. It holds the work
    folder's lock too, so a worker that outlives a killed run keeps its folder until it ends."""
    jobs = [(path, file_id, work) for path, file_id in zip(paths, ids)]
    try:
        child = worker.Mapped(TRANSCODE, jobs, pass_fds=(lock,)) if len(paths) >= WORKER_FILES else None
    except OSError:
        child = None   # no child process can be started here: transcode in this process
    if child is None:
        yield (columnar.transcode_file(*job) for job in jobs)
        return
    with child as transcoded:
        yield transcoded


def _unchanged_by_stat(path: Path, landed: FileInfo | None, indexed: IndexedFile | None) -> FileInfo | None:
    if landed is None or indexed is None or indexed.sha256 != landed.sha256:
        return None
    stat = path.stat()
    now = (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, signed_inode(stat.st_ino))
    return landed if now == (landed.size, landed.mtime_ns, landed.ctime_ns, landed.inode) else None


def _chunked(files: Iterator[tuple[int, Path, Transcoded]], known: dict[str, FileInfo],
             indexed: dict[str, IndexedFile], current: dict[str, FileInfo]) -> Iterator[_Work]:
    chunk = _Work([], [], {}, {})
    for file_id, path, (info, regular, size) in files:
        landed, held = known.get(info.name), indexed.get(info.name)
        if landed and held and landed.sha256 == held.sha256 == info.sha256:
            # Touched, not changed: the landed partition stands; only the stat is new.
            current[info.name] = FileInfo(info.name, info.size, info.mtime_ns, info.sha256, landed.rows,
                                          landed.encoding, info.ctime_ns, info.inode)
            continue
        chunk.ids[info.name] = file_id
        chunk.paths[info.name] = path
        if regular is None:
            chunk.irregular.append(info)
        else:
            chunk.regular.append(regular)
        # Irregular files count too: their records are held in memory until the chunk is validated.
        chunk.size += size
        if chunk.size >= CHUNK_BYTES:
            yield chunk
            chunk = _Work([], [], {}, {})
    if chunk.ids:
        yield chunk


def _load(index: NotificationIndex, chunk: _Work, batch: Batch, source: Source, gx_root: Path | None,
          run_name: str | None) -> None:
    """One chunk into the index: regular files validated by row shape, the others row by row."""
    con = index.con
    refused = {chunk.ids[r.info.name] for r in columnar.stage(con, chunk.regular, chunk.ids)}
    shapes = columnar.normalise(con)
    # A row without a day or ward cannot be indexed (nor pass the suite): its file goes to the row reader.
    refused |= columnar.files_with_shapes(con, [raw for raw, fields in shapes
                                                if fields["reception_date"] is None or fields["ward_code"] is None])
    staged = columnar.staged_counts(con)
    parsed = [r.info for r in chunk.regular if chunk.ids[r.info.name] not in refused]
    for info in parsed:
        info.rows = staged.get(chunk.ids[info.name], 0)
    from expectations.runner import validate

    # GX holds the GIL and DuckDB does not: the shapes are validated while the chunk is indexed. The
    # few files with a failing shape go to the row reader, whose add_files replaces their rows (and
    # until the warehouse vouches for a file, its rows in the index do not count anyway).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="validate") as pool:
        verdicts = pool.submit(validate, source.records_suite, [fields for _, fields in shapes], gx_root, run_name)
        index.add_files([_indexed(info, chunk.ids) for info in parsed],
                        columnar.notification_rows_sql(measure.MYNA), {"excluded": sorted(refused)})
        failing = sorted({f.index for f in verdicts.result()})
    diverted = columnar.files_with_shapes(con, [shapes[i][0] for i in failing]) | refused
    batch.rows_read += sum(info.rows for info in parsed if chunk.ids[info.name] not in diverted)
    columnar.clear(con)
    for regular in chunk.regular:
        regular.utf8.unlink()   # staged: the copy is not needed again, and a year of them is large
    row_by_row = [r.info for r in chunk.regular if chunk.ids[r.info.name] in diverted] + chunk.irregular
    _load_rows(index, row_by_row, chunk, batch, source, gx_root, run_name)
    chunk.irregular[:] = row_by_row


def _load_rows(index: NotificationIndex, files: list[FileInfo], chunk: _Work, batch: Batch, source: Source,
               gx_root: Path | None, run_name: str | None) -> None:
    """The chunk's irregular files through the row reader, validated together (one suite run per
    CHUNK_ROWS records, not per file)."""
    if not files:
        return
    records: list[tuple[int, Record]] = []
    for info in files:
        data, fresh = read_delivery(chunk.paths[info.name])
        if fresh.sha256 != info.sha256:
            raise SourceError(f"{info.name} が読込中に書き換えられました。次回の実行で読み直します")
        info.rows, info.encoding = 0, ""
        for item in read_file(data, info):
            if isinstance(item, Bad):
                batch.bad.append(item)
                batch.rows_read += item.rows
            else:
                records.append((chunk.ids[info.name], item))
                batch.rows_read += 1
    valid: list[tuple[int, Record]] = []
    for part in chunks(records, CHUNK_ROWS):
        kept = {id(r) for r in valid_records(source.records_suite, [r for _, r in part], batch.bad, gx_root, run_name)}
        valid.extend((file_id, r) for file_id, r in part if id(r) in kept)
    con = index.con
    con.execute("CREATE OR REPLACE TEMP TABLE row_reader_rows (file_id INTEGER, seq INTEGER, ward VARCHAR, "
                "receipt VARCHAR, day DATE, myna BOOLEAN, withdrawn BOOLEAN)")
    insert_rows(con, "row_reader_rows", [
        (file_id, int(r.item), r.key[0], r.key[1], r.fields["reception_date"], r.fields["route"] == measure.MYNA,
         r.fields["withdrawn"] == "1") for file_id, r in valid])
    try:
        index.add_files([_indexed(info, chunk.ids) for info in files], "SELECT * FROM row_reader_rows", {})
    finally:
        con.execute("DROP TABLE row_reader_rows")


def _indexed(info: FileInfo, ids: dict[str, int]) -> IndexedFile:
    return IndexedFile(ids[info.name], info.name, info.sha256, info.size, info.rows, info.encoding)


def _report(sink: Callable[[Progress], None] | None, batch: Batch, done: int, total: int, finished: bool) -> None:
    if sink is not None:
        sink(Progress(batch.source, "ファイル", done, total, batch.rows_read, batch.bad_rows, finished))
