"""The index's tally, kept change by change, counts what a plain deduplication of every indexed row counts."""
from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jisseki.moveout.columnar import insert_rows
from jisseki.moveout.index import IndexedFile, NotificationIndex

DAYS = [date(2025, 4, 1), date(2025, 4, 30), date(2025, 5, 2), date(2026, 3, 31), date(2026, 4, 1)]
AS_OF = date(2026, 3, 31)
Row = tuple[int, str, date, bool, bool]   # ward, receipt, day, myna, withdrawn

rows_strategy = st.lists(st.tuples(st.integers(1, 3), st.sampled_from("ABCDE"), st.sampled_from(DAYS),
                                   st.booleans(), st.booleans()), max_size=8)
ops_strategy = st.lists(st.tuples(st.sampled_from(["add", "drop"]), st.sampled_from(["a.csv", "b.csv", "c.csv"]),
                                  rows_strategy), min_size=1, max_size=8)


def expected(files: dict[str, list[Row]]) -> tuple[Counter, date | None]:
    """By hand: the first row (file name, then row) of each (ward, receipt) decides; any withdrawal removes."""
    first: dict[tuple[int, str], Row] = {}
    withdrawn: set[tuple[int, str]] = set()
    for name in sorted(files):
        for row in files[name]:
            first.setdefault(row[:2], row)
            if row[4]:
                withdrawn.add(row[:2])
    counts: Counter = Counter()
    days = [row[2] for row in first.values() if row[2] <= AS_OF]
    for key, (ward, _, day, myna, _) in first.items():
        if key not in withdrawn and day <= AS_OF:
            counts[(day.replace(day=1), str(ward), "all")] += 1
            counts[(day.replace(day=1), str(ward), "myna")] += myna
    return +counts, max(days, default=None)


def counted(index: NotificationIndex) -> tuple[Counter, date | None]:
    months, latest = index.counts(AS_OF)
    counts: Counter = Counter()
    for m in months:
        counts[(m.month, m.ward, "all")] += m.notifications
        counts[(m.month, m.ward, "myna")] += m.myna
    return +counts, latest


def add(index: NotificationIndex, name: str, rows: list[Row]) -> None:
    file_id = index.next_file_id()
    index.con.execute("CREATE OR REPLACE TEMP TABLE given (file_id INTEGER, seq INTEGER, ward VARCHAR, "
                      "receipt VARCHAR, day DATE, myna BOOLEAN, withdrawn BOOLEAN)")
    insert_rows(index.con, "given", [(file_id, seq, str(w), r, d, m, x) for seq, (w, r, d, m, x) in enumerate(rows)])
    index.add_files([IndexedFile(file_id, name, "sha-" + name, 100, len(rows), "cp932")], "SELECT * FROM given", {})


@pytest.mark.e2e
@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=ops_strategy, delta=st.booleans())
def test_the_tally_follows_every_change(tmp_path: Path, ops: list, delta: bool) -> None:
    path = tmp_path / f"index-{delta}-{abs(hash(str(ops)))}.duckdb"
    index = NotificationIndex(path, "key", tmp_path / "spill")
    try:
        files: dict[str, list[Row]] = {}
        for kind, name, rows in ops:
            index.delta = delta
            if kind == "add":
                add(index, name, rows)
                files[name] = rows
            elif name in files:
                index.drop([index.files()[name].file_id])
                del files[name]
            assert counted(index) == expected(files)
    finally:
        index.close()
        path.unlink()


def test_a_large_index_recounts_in_parts(tmp_path: Path, monkeypatch) -> None:
    """Split by fingerprint, a duplicate still meets its twin: parts give the counts one pass gives."""
    import jisseki.moveout.index as module

    index = NotificationIndex(tmp_path / "i.duckdb", "key", tmp_path / "spill")
    rows_a = [(w, r, DAYS[i % 3], i % 2 == 0, r == "E") for i, (w, r) in enumerate((w, r) for w in (1, 2, 3)
                                                                                 for r in "ABCDE")]
    rows_b = [(w, r, DAYS[2], True, False) for w, r in ((1, "A"), (2, "B"), (3, "E"), (3, "Z"))]
    index.plan_load(10**9)   # a first load: the tally is recounted at the end
    add(index, "b.csv", rows_b)
    add(index, "a.csv", rows_a)
    monkeypatch.setattr(module, "RECOUNT_ROWS", 3)
    assert not index._tally_current()
    assert counted(index) == expected({"a.csv": rows_a, "b.csv": rows_b})
    index.close()


def spoil_blocks(path: Path) -> None:
    """Overwrites every block after the headers (which stay valid, so the file opens): bad checksums."""
    with path.open("r+b") as out:
        out.seek(3 * 4096)
        out.write(b"garbage!" * ((path.stat().st_size - 3 * 4096) // 8))


def other_database(path: Path) -> None:
    import duckdb

    path.unlink()
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE files (name VARCHAR, rows INTEGER); INSERT INTO files VALUES ('x', 1)")
    con.close()


DAMAGE = {
    "garbage": lambda p: p.write_bytes(b"not a database\n" * 1000),
    "empty": lambda p: p.write_bytes(b""),
    "cut short": lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 3]),
    "bad blocks": spoil_blocks,
    "another database": other_database,
}


def test_a_sound_or_new_index_is_not_rebuilt_and_a_damaged_one_is_rebuilt_empty(tmp_path: Path) -> None:
    for name, spoil in DAMAGE.items():
        path = tmp_path / f"{len(name)}-{abs(hash(name))}.duckdb"
        index = NotificationIndex(path, "key", tmp_path / "spill")
        assert index.rebuilt is None                       # a new file is no news
        add(index, "a.csv", [(1, f"R{i}", DAYS[i % 5], i % 2 == 0, False) for i in range(3_000)])
        index.close()
        reopened = NotificationIndex(path, "key", tmp_path / "spill")
        assert reopened.rebuilt is None and list(reopened.files()) == ["a.csv"]
        reopened.close()
        spoil(path)
        rebuilt = NotificationIndex(path, "key", tmp_path / "spill")
        try:
            assert rebuilt.rebuilt is not None, name
            assert rebuilt.files() == {} and counted(rebuilt) == (Counter(), None), name
            add(rebuilt, "b.csv", [(1, "A", DAYS[0], True, False)])
            assert counted(rebuilt) == expected({"b.csv": [(1, "A", DAYS[0], True, False)]})
        finally:
            rebuilt.close()
    rekeyed = NotificationIndex(path, "another key", tmp_path / "spill")
    assert rekeyed.rebuilt == "別の鍵か形式で作られていた" and rekeyed.files() == {}
    rekeyed.close()
