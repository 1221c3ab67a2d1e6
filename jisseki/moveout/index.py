"""The moving-out notification index: per delivered file, one row per valid notification row, keyed by
a keyed 64-bit fingerprint of (区コード, 受付番号), in a DuckDB file beside the warehouse.

Why it exists: deduplication spans all files, so a night that reads only the new file still has to
know every earlier notification. Why it is safe: it holds no receipt number, only
md5(key ‖ ward ‖ receipt) truncated to 64 bits, where the key is a secret from the config that is
never written here; without that key it is a set of random numbers. A tally of the deduplicated
notifications per day, ward, route and withdrawal follows each change, so a night that adds one
file recounts only the notifications that file touches. It is a cache, not a record:
a file's partition counts only while the warehouse's ingest_file row names the same content hash,
so a crash, a rejected batch or a lost index file costs a re-read, never a wrong figure.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from jisseki.core.imports import heavy
from jisseki.moveout.columnar import insert_rows
from jisseki.moveout.measure import MonthCount

FORMAT = "3"     # bump when what a partition holds changes: old indexes are then rebuilt
MEMORY_LIMIT = "192MB"
# The same 64 bits as md5_number_lower, which DuckDB computes about three times slower.
FINGERPRINT_SQL = "(md5_number($key || {ward} || chr(31) || {receipt}) >> 64)::UBIGINT"
# A recount deduplicates this many rows at a time (fingerprints split by remainder), so the memory
# it needs does not grow with the index.
RECOUNT_ROWS = 2_000_000
# New data under a quarter of what is indexed updates the tally as it lands; more is cheaper to
# recount once at the end.
DELTA_SHARE = 0.25

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS files (file_id INTEGER PRIMARY KEY, name VARCHAR NOT NULL, sha256 VARCHAR NOT NULL,
                                  size BIGINT NOT NULL, rows BIGINT NOT NULL, encoding VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS notifications (file_id INTEGER NOT NULL, seq INTEGER NOT NULL, fp UBIGINT NOT NULL,
                                          day DATE NOT NULL, ward INTEGER NOT NULL, myna BOOLEAN NOT NULL,
                                          withdrawn BOOLEAN NOT NULL);
CREATE TABLE IF NOT EXISTS tally (day DATE NOT NULL, ward INTEGER NOT NULL, myna BOOLEAN NOT NULL,
                                  withdrawn BOOLEAN NOT NULL, n BIGINT NOT NULL);
"""
TABLES = ("meta", "files", "notifications", "tally")
OTHER_IDENTITY = "別の鍵か形式で作られていた"   # why an index is rebuilt after a new key or FORMAT

# Notifications after deduplication, per first-row day, ward, route and withdrawal, over the
# fingerprints that {rows} selects from `notifications`. Most fingerprints occur once: only those
# seen twice need the first-row rule (file name, then row), so the costly arg_min runs on the few
# duplicates and a plain count on everything else.
# ({rows}) is written out each time it is used: as a CTE, DuckDB would materialise it.
CONTRIBUTION_SQL = """
WITH dup AS (SELECT fp FROM ({rows}) GROUP BY fp HAVING count(*) > 1),
single AS (SELECT day, ward, myna, withdrawn FROM ({rows}) ANTI JOIN dup USING (fp)),
multi AS (
    SELECT arg_min(p.day, (f.name, p.seq)) AS day, arg_min(p.ward, (f.name, p.seq)) AS ward,
           arg_min(p.myna, (f.name, p.seq)) AS myna, bool_or(p.withdrawn) AS withdrawn
    FROM ({rows}) p SEMI JOIN dup USING (fp) JOIN files f USING (file_id)
    GROUP BY p.fp),
first_rows AS (SELECT * FROM single UNION ALL SELECT * FROM multi)
SELECT day, ward, myna, withdrawn, {sign} * count(*) AS n FROM first_rows GROUP BY ALL
"""
ROWS = "SELECT fp, file_id, seq, day, ward, myna, withdrawn FROM notifications"
COMPACT_SQL = """
CREATE OR REPLACE TEMP TABLE tally_sum AS
    SELECT day, ward, myna, withdrawn, sum(n)::BIGINT AS n FROM tally GROUP BY ALL HAVING sum(n) <> 0;
DELETE FROM tally;
INSERT INTO tally SELECT * FROM tally_sum;
DROP TABLE tally_sum;
"""
COUNTS_SQL = """
SELECT date_trunc('month', day)::DATE, CAST(ward AS VARCHAR), coalesce(sum(n) FILTER (WHERE myna), 0)::BIGINT,
       sum(n)::BIGINT, withdrawn, max(day)
FROM tally WHERE day <= $as_of GROUP BY ALL ORDER BY ALL
"""


@dataclass(frozen=True)
class IndexedFile:
    file_id: int
    name: str
    sha256: str
    size: int
    rows: int
    encoding: str


class NotificationIndex:
    def __init__(self, path: Path, key: str, spill_dir: Path, key_ref: str | None = None) -> None:
        """key_ref: which key file holds the key (warehouse/keyfile.py), kept here so the next run finds it.
        An existing file that cannot be trusted is replaced by an empty index, which the next read fills
        from the inbox; `rebuilt` then says why (None when the file was sound or new)."""
        duckdb = heavy("duckdb")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.key = key
        self.identity = f"{FORMAT}:{hashlib.sha256(('jisseki-index:' + key).encode()).hexdigest()}"
        self.rebuilt: str | None = None
        existed = path.exists()
        con = None
        try:
            con = self._connect(path, spill_dir)
            fault = self._fault(con)
        except duckdb.Error as exc:   # not a DuckDB file, cut short, a bad checksum, tables missing
            fault = f"読めなかった（{type(exc).__name__}）"
        if con is None or fault is not None:   # con is None only with a fault; testing it narrows con's type
            if con is not None:
                con.close()
            for stale in (path, path.with_name(path.name + ".wal")):
                stale.unlink(missing_ok=True)
            con = self._connect(path, spill_dir)
            con.execute(SCHEMA)
            con.execute("INSERT INTO meta VALUES ('identity', ?), ('tally', 'current')", [self.identity])
            self.rebuilt = fault if existed else None
        self.con = con
        if key_ref is not None:
            self.con.execute("INSERT OR REPLACE INTO meta VALUES ('key_ref', ?)", [key_ref])
        self.delta = True   # keep the tally current change by change (see plan_load)

    @staticmethod
    def _connect(path: Path, spill_dir: Path) -> Any:
        return heavy("duckdb").connect(str(path), config={
            "memory_limit": MEMORY_LIMIT, "threads": max(1, min(4, os.cpu_count() or 1)),
            "temp_directory": str(spill_dir), "preserve_insertion_order": True})

    def _fault(self, con: Any) -> str | None:
        """Why the opened file cannot serve as this index, or None. Another key or format makes every
        partition meaningless; a damaged block fails here, on every table read whole, rather than on
        whichever query meets it later, night after night."""
        found = con.execute("SELECT value FROM meta WHERE name = 'identity'").fetchone()
        if not found or found[0] != self.identity:
            return OTHER_IDENTITY
        for table in TABLES:
            con.execute(f"SELECT count(*), bit_xor(hash(t)) FROM {table} t").fetchone()
        return None

    def close(self) -> None:
        self.con.close()

    @staticmethod
    def stored_key_ref(path: Path) -> str | None:
        """The key reference an index file records, if the file exists and records one."""
        if not path.exists():
            return None
        duckdb = heavy("duckdb")
        try:
            con = duckdb.connect(str(path), read_only=True)
        except duckdb.Error:
            return None   # unreadable: the index is rebuilt under a new key
        try:
            row = con.execute("SELECT value FROM meta WHERE name = 'key_ref'").fetchone()
        except duckdb.Error:
            row = None
        finally:
            con.close()
        return row[0] if row else None

    def files(self) -> dict[str, IndexedFile]:
        rows = self.con.execute("SELECT file_id, name, sha256, size, rows, encoding FROM files").fetchall()
        return {r[1]: IndexedFile(*r) for r in rows}

    def keep_only(self, trusted: Mapping[str, str]) -> int:
        """Drops every partition whose (name, sha256) the warehouse does not vouch for; returns how many."""
        stale = [f.file_id for f in self.files().values() if trusted.get(f.name) != f.sha256]
        self.drop(stale)
        return len(stale)

    def drop(self, file_ids: Iterable[int]) -> None:
        ids = list(file_ids)
        if not ids:
            return
        self.con.execute("BEGIN")
        try:
            delta = self._begin_change("SELECT fp FROM notifications WHERE list_contains($ids, file_id)", {"ids": ids})
            self.con.execute("DELETE FROM notifications WHERE list_contains($ids, file_id)", {"ids": ids})
            self.con.execute("DELETE FROM files WHERE list_contains($ids, file_id)", {"ids": ids})
            self._end_change(delta)
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    def next_file_id(self) -> int:
        return int(self.con.execute("SELECT coalesce(max(file_id), 0) + 1 FROM files").fetchone()[0])

    def plan_load(self, incoming_bytes: int) -> None:
        """Chooses how the tally follows the coming add_files: change by change when the new data is
        small against what is indexed (a night), else one recount at the end (a first load)."""
        indexed = self.con.execute("SELECT coalesce(sum(size), 0) FROM files").fetchone()[0]
        self.delta = incoming_bytes <= DELTA_SHARE * indexed

    def add_files(self, files: Iterable[IndexedFile], select_sql: str, params: Mapping[str, Any]) -> None:
        """One transaction: the files' rows (from select_sql, columns as in `notifications` but with
        ward and receipt instead of the fingerprint) and their entries, replacing same-named files."""
        files = list(files)
        if not files:
            return
        names = {"names": [f.name for f in files]}
        replaced = "file_id IN (SELECT file_id FROM files WHERE list_contains($names, name))"
        fingerprint = FINGERPRINT_SQL.format(ward="s.ward", receipt="s.receipt")
        rows = (f"SELECT s.file_id, s.seq, {fingerprint} AS fp, s.day, CAST(s.ward AS INTEGER) AS ward, s.myna, "
                f"s.withdrawn "
                f"FROM ({select_sql}) s")
        params = {**params, "key": self.key}
        self.con.execute("BEGIN")
        try:
            if self.delta and self._tally_current():
                # The new rows' fingerprints must be known before they land, to take out what the
                # notifications they touch counted so far.
                self._insert(f"CREATE OR REPLACE TEMP TABLE incoming AS {rows}", params)
                delta = self._begin_change(f"SELECT fp FROM incoming UNION ALL SELECT fp FROM notifications "
                                           f"WHERE {replaced}", names)
                rows, params = "SELECT * FROM incoming", {}
            else:
                delta = self._begin_change(None, {})
            self.con.execute(f"DELETE FROM notifications WHERE {replaced}", names)
            self.con.execute("DELETE FROM files WHERE list_contains($names, name)", names)
            self._insert(f"INSERT INTO notifications {rows}", params)
            self.con.execute("DROP TABLE IF EXISTS incoming")
            insert_rows(self.con, "files", [(f.file_id, f.name, f.sha256, f.size, f.rows, f.encoding) for f in files])
            self._end_change(delta)
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    def _insert(self, sql: str, params: Mapping[str, Any]) -> None:
        # Rows carry their own order (seq), so DuckDB may write them in parallel, out of order.
        self.con.execute("SET preserve_insertion_order = false")
        try:
            self.con.execute(sql, params)
        finally:
            self.con.execute("SET preserve_insertion_order = true")   # staging numbers rows by order

    def _tally_current(self) -> bool:
        return self.con.execute("SELECT count(*) FROM meta WHERE name = 'tally'").fetchone()[0] == 1

    def _begin_change(self, touched_sql: str | None, params: Mapping[str, Any]) -> bool:
        """Inside a transaction, before rows change: with the fingerprints the change touches, takes
        their notifications out of the tally (they are counted again by _end_change); without, or
        when the tally is stale anyway, marks it stale. Returns whether the tally is kept."""
        if touched_sql is None or not self._tally_current():
            self.con.execute("DELETE FROM meta WHERE name = 'tally'")
            return False
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE touched AS SELECT DISTINCT fp FROM ({touched_sql})", params)
        self._add_to_tally(f"{ROWS} SEMI JOIN touched USING (fp)", -1)
        return True

    def _end_change(self, delta: bool) -> None:
        if delta:
            self._add_to_tally(f"{ROWS} SEMI JOIN touched USING (fp)", 1)
            self.con.execute("DROP TABLE touched")
            self.con.execute(COMPACT_SQL)

    def _add_to_tally(self, rows: str, sign: int) -> None:
        self.con.execute(f"INSERT INTO tally {CONTRIBUTION_SQL.format(rows=rows, sign=sign)}")

    def _recount(self) -> None:
        total = self.con.execute("SELECT count(*) FROM notifications").fetchone()[0]
        parts = max(1, -(-total // RECOUNT_ROWS))
        self.con.execute("BEGIN")
        try:
            self.con.execute("DELETE FROM tally")
            for part in range(parts):
                self._add_to_tally(f"{ROWS} WHERE fp % {parts} = {part}", 1)
            self.con.execute(COMPACT_SQL)
            self.con.execute("INSERT INTO meta VALUES ('tally', 'current')")
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    def counts(self, as_of: date) -> tuple[list[MonthCount], date | None]:
        """Valid notifications up to the as-of date per month and ward, after deduplication (the
        first row in file-name order, then row order, gives day, ward and route), and the latest
        reception day up to the as-of date (withdrawn ones included)."""
        if not self._tally_current():
            self._recount()
        rows = self.con.execute(COUNTS_SQL, {"as_of": as_of}).fetchall()
        return [MonthCount(*row[:4]) for row in rows if not row[4]], max((row[5] for row in rows), default=None)
