"""The moving-out notification index: per delivered file, one row per valid notification row, keyed by
a keyed 64-bit fingerprint of (区コード, 受付番号), in a DuckDB file beside the warehouse.

Why it exists: deduplication spans all files, so a night that reads only the new file still has to
know every earlier notification. Why it is safe: it holds no receipt number, only
md5(key ‖ ward ‖ receipt) truncated to 64 bits, where the key is a secret from the config that is
never written here; without that key it is a set of random numbers. It is a cache, not a record:
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

from connectors.moveout_columnar import insert_rows
from jisseki.measures.moveout import MonthCount

FORMAT = "2"     # bump when what a partition holds changes: old indexes are then rebuilt
MEMORY_LIMIT = "256MB"
FINGERPRINT_SQL = "md5_number_lower($key || {ward} || chr(31) || {receipt})"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS files (file_id INTEGER PRIMARY KEY, name VARCHAR NOT NULL, sha256 VARCHAR NOT NULL,
                                  size BIGINT NOT NULL, rows BIGINT NOT NULL, encoding VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS notifications (file_id INTEGER NOT NULL, seq INTEGER NOT NULL, fp UBIGINT NOT NULL,
                                          day DATE NOT NULL, ward INTEGER NOT NULL, myna BOOLEAN NOT NULL,
                                          withdrawn BOOLEAN NOT NULL);
"""

# Most fingerprints occur once: only those seen twice need the first-row rule, so the costly
# arg_min runs on the few duplicates and a plain count on everything else.
COUNTS_SQL = """
WITH dup AS (SELECT fp FROM notifications GROUP BY fp HAVING count(*) > 1),
single AS (SELECT day, ward, myna, withdrawn FROM notifications n ANTI JOIN dup USING (fp)),
multi AS (
    SELECT arg_min(n.day, (r.rank, n.seq)) AS day, arg_min(n.ward, (r.rank, n.seq)) AS ward,
           arg_min(n.myna, (r.rank, n.seq)) AS myna, bool_or(n.withdrawn) AS withdrawn
    FROM notifications n SEMI JOIN dup USING (fp) JOIN ranks r USING (file_id)
    GROUP BY n.fp),
first_rows AS (SELECT * FROM single UNION ALL SELECT * FROM multi)
SELECT date_trunc('month', day)::DATE, CAST(ward AS VARCHAR), count(*) FILTER (WHERE myna), count(*),
       withdrawn, max(day)
FROM first_rows WHERE day <= $as_of
GROUP BY ALL ORDER BY ALL
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
    def __init__(self, path: Path, key: str, spill_dir: Path) -> None:
        import duckdb

        path.parent.mkdir(parents=True, exist_ok=True)
        self.key = key
        self.con = duckdb.connect(str(path), config={
            "memory_limit": MEMORY_LIMIT, "threads": max(1, min(4, os.cpu_count() or 1)),
            "temp_directory": str(spill_dir), "preserve_insertion_order": True})
        self.con.execute(SCHEMA)
        self._check_identity()

    def close(self) -> None:
        self.con.close()

    def _check_identity(self) -> None:
        """Another key or format makes every partition meaningless: start empty."""
        identity = f"{FORMAT}:{hashlib.sha256(('jisseki-index:' + self.key).encode()).hexdigest()}"
        found = self.con.execute("SELECT value FROM meta WHERE name = 'identity'").fetchone()
        if found and found[0] == identity:
            return
        self.con.execute("BEGIN")
        self.con.execute("DELETE FROM notifications; DELETE FROM files; DELETE FROM meta")
        self.con.execute("INSERT INTO meta VALUES ('identity', ?)", [identity])
        self.con.execute("COMMIT")

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
        self.con.execute("DELETE FROM notifications WHERE list_contains($ids, file_id)", {"ids": ids})
        self.con.execute("DELETE FROM files WHERE list_contains($ids, file_id)", {"ids": ids})
        self.con.execute("COMMIT")

    def next_file_id(self) -> int:
        return int(self.con.execute("SELECT coalesce(max(file_id), 0) + 1 FROM files").fetchone()[0])

    def add_files(self, files: Iterable[IndexedFile], select_sql: str, params: Mapping[str, Any]) -> None:
        """One transaction: the files' rows (from select_sql, columns as in `notifications` but with
        ward and receipt instead of the fingerprint) and their entries, replacing same-named files."""
        files = list(files)
        if not files:
            return
        names = [f.name for f in files]
        self.con.execute("BEGIN")
        try:
            self.con.execute("DELETE FROM notifications WHERE file_id IN (SELECT file_id FROM files "
                             "WHERE list_contains($names, name))", {"names": names})
            self.con.execute("DELETE FROM files WHERE list_contains($names, name)", {"names": names})
            fingerprint = FINGERPRINT_SQL.format(ward="s.ward", receipt="s.receipt")
            # Rows carry their own order (seq), so DuckDB may write them in parallel, out of order.
            self.con.execute("SET preserve_insertion_order = false")
            try:
                self.con.execute(
                    f"INSERT INTO notifications SELECT s.file_id, s.seq, {fingerprint}, s.day, "
                    f"CAST(s.ward AS INTEGER), s.myna, s.withdrawn FROM ({select_sql}) s", {**params, "key": self.key})
            finally:
                self.con.execute("SET preserve_insertion_order = true")   # staging numbers rows by order
            insert_rows(self.con, "files", [(f.file_id, f.name, f.sha256, f.size, f.rows, f.encoding) for f in files])
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    def counts(self, as_of: date) -> tuple[list[MonthCount], date | None]:
        """Valid notifications up to the as-of date per month and ward, after deduplication (the
        first row in file-name order, then row order, gives day, ward and route), and the latest
        reception day up to the as-of date (withdrawn ones included)."""
        files = self.files()
        rank = {name: i for i, name in enumerate(sorted(files))}
        ranked = [[f.file_id, rank[f.name]] for f in files.values()]
        self.con.execute("CREATE OR REPLACE TEMP TABLE ranks (file_id INTEGER, rank INTEGER)")
        insert_rows(self.con, "ranks", ranked)
        rows = self.con.execute(COUNTS_SQL, {"as_of": as_of}).fetchall()
        return [MonthCount(*row[:4]) for row in rows if not row[4]], max((row[5] for row in rows), default=None)
