"""A night reads only new or changed moving-out files, and its figures equal a fresh read of the folder."""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from jisseki.batch import Batch, Incremental
from jisseki.catalog import load_catalog
from jisseki.moveout.index import NotificationIndex
from jisseki.pipeline import collect
from jisseki.source_config import MoveoutSourceConfig
from jisseki.sources import SOURCE_DEFS
from warehouse.store import connect, ingest_files, land

CATALOG = load_catalog()
AS_OF = date(2026, 3, 31)
HEADER = "受付日,区コード,区名,受付番号,届出経路,取消\r\n"
KEY = "test-fingerprint-key"

# Every night here is a collect that starts the transcoding worker (a Python subprocess).
pytestmark = pytest.mark.e2e


def write(folder: Path, name: str, rows: list[str], mtime: int | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes((HEADER + "".join(r + "\r\n" for r in rows)).encode("cp932"))
    if mtime is not None:
        os.utime(path, ns=(mtime, mtime))
    return path


class Night:
    """collect → land → the warehouse's file state for the next night, as the flow does it."""

    def __init__(self, tmp: Path, key: str | None = KEY, key_dir: Path | None = None) -> None:
        self.inbox, self.state = tmp / "inbox", tmp / "state"
        tmp.mkdir(parents=True, exist_ok=True)
        self.engine = connect(f"sqlite:///{tmp / 'wh.db'}")
        self.key, self.key_dir = key, key_dir
        self.runs = 0

    def config(self) -> MoveoutSourceConfig:
        cfg = MoveoutSourceConfig(path=self.inbox, fingerprint_key_env="K", fingerprint_key_dir=self.key_dir)
        cfg.fingerprint_key = None if self.key is None else __import__("pydantic").SecretStr(self.key)
        if self.key is None:
            cfg.fingerprint_key_env = None
        return cfg

    def run(self, max_bad: float = 0.05) -> Batch:
        self.runs += 1
        batch = collect(SOURCE_DEFS["moveout_log"], self.config(), CATALOG, AS_OF, max_bad,
                        incremental=Incremental(ingest_files(self.engine, "moveout_log"), self.state))
        land(self.engine, batch, f"run-{self.runs}")
        return batch


def fresh(folder: Path, tmp: Path) -> Batch:
    return collect(SOURCE_DEFS["moveout_log"], MoveoutSourceConfig(path=folder), CATALOG, AS_OF, 0.05)


def shares(batch: Batch) -> dict[tuple[str, str], tuple[float | None, float | None]]:
    return {(f.period, f.scope): (f.numerator, f.denominator) for f in batch.figures}


def day_rows(day: str, n: int, start: int = 0, route: str = "窓口") -> list[str]:
    return [f"{day},271021,都島区,R{start + i:05d},{route},0" for i in range(n)]


def test_a_night_reads_only_the_new_file_and_counts_like_a_fresh_read(tmp_path: Path) -> None:
    night = Night(tmp_path)
    write(night.inbox, "d1.csv", day_rows("2025/04/01", 30))
    write(night.inbox, "d2.csv", day_rows("2025/04/02", 20, 100, "マイナポータル"))
    first = night.run()
    assert first.rejected is None and first.rows_read == 50
    # d3 re-delivers R00000 (first seen in d1, different date and route) and withdraws R00001.
    write(night.inbox, "d3.csv", ["2025/04/03,271021,都島区,R00000,マイナポータル,0",
                                  "2025/04/03,271021,都島区,R00001,窓口,1"] + day_rows("2025/04/03", 5, 200))
    second = night.run()
    assert second.rows_read == 7                                    # only d3 was read
    assert shares(second) == shares(fresh(night.inbox, tmp_path))
    assert shares(second)[("2025-04", "city")] == (20.0, 54.0)     # 30 + 20 + 5, less one withdrawn
    assert [f.name for f in second.lineage.files] == ["d1.csv", "d2.csv", "d3.csv"]
    third = night.run()
    assert third.rows_read == 0 and shares(third) == shares(second)


def test_changed_touched_and_removed_files(tmp_path: Path) -> None:
    night = Night(tmp_path)
    write(night.inbox, "d1.csv", day_rows("2025/04/01", 10), mtime=1_000_000_000)
    write(night.inbox, "d2.csv", day_rows("2025/04/02", 10, 100))
    night.run()
    os.utime(night.inbox / "d1.csv", ns=(2_000_000_000, 2_000_000_000))    # touched: same content
    assert night.run().rows_read == 0
    write(night.inbox, "d2.csv", day_rows("2025/04/02", 4, 100, "郵送"))  # re-delivered, corrected
    corrected = night.run()
    assert corrected.rows_read == 4
    assert shares(corrected) == shares(fresh(night.inbox, tmp_path))
    assert shares(corrected)[("2025-04", "city")] == (0.0, 14.0)
    (night.inbox / "d1.csv").unlink()
    removed = night.run()
    assert removed.rows_read == 0 and shares(removed)[("2025-04", "city")] == (0.0, 4.0)
    assert sorted(ingest_files(night.engine, "moveout_log")) == ["d2.csv"]


def test_a_file_that_sorts_first_still_decides_which_row_is_first(tmp_path: Path) -> None:
    night = Night(tmp_path)
    write(night.inbox, "b.csv", ["2025/05/01,271021,都島区,X1,窓口,0"])
    night.run()
    write(night.inbox, "a.csv", ["2025/04/30,271039,福島区,X1,マイナポータル,0"])   # X1 again, but not the same key
    write(night.inbox, "a2.csv", ["2025/04/30,271021,都島区,X1,マイナポータル,0"])  # the same notification, earlier file
    batch = night.run()
    assert batch.rows_read == 2
    got = shares(batch)
    assert got[("2025-04", "271021")] == (1.0, 1.0) and ("2025-05", "271021") not in got
    assert got == shares(fresh(night.inbox, tmp_path))


def test_a_rejected_night_is_read_again(tmp_path: Path) -> None:
    night = Night(tmp_path)
    write(night.inbox, "d1.csv", day_rows("2025/04/01", 10))
    night.run()
    write(night.inbox, "d2.csv", ["2025/04/02,999999,?,Z1,窓口,0", "2025/04/02,271021,都島区,Z2,窓口,0"])
    rejected = night.run(max_bad=0.1)
    assert rejected.rejected and rejected.rows_read == 2 and rejected.bad_rows == 1
    again = night.run(max_bad=0.6)                                  # the operator raised the limit
    assert again.rejected is None and again.rows_read == 2
    assert shares(again)[("2025-04", "city")] == (0.0, 11.0)


def test_a_lost_index_or_a_new_key_costs_a_full_read_not_a_wrong_figure(tmp_path: Path) -> None:
    night = Night(tmp_path)
    write(night.inbox, "d1.csv", day_rows("2025/04/01", 10))
    write(night.inbox, "d2.csv", day_rows("2025/04/02", 5, 100))
    before = shares(night.run())
    (night.state / "moveout_log.duckdb").unlink()
    assert night.run().rows_read == 15
    night.key = "another-key"
    rekeyed = night.run()
    assert rekeyed.rows_read == 15 and shares(rekeyed) == before


def test_an_index_of_another_format_is_rebuilt_and_the_figures_stay_exact(tmp_path: Path, monkeypatch) -> None:
    """The index's own schema has no migrations: a new FORMAT empties it, and the night reads every file again."""
    import jisseki.moveout.index as module

    night = Night(tmp_path)
    write(night.inbox, "d1.csv", day_rows("2025/04/01", 10, 0, "マイナポータル"))
    write(night.inbox, "d2.csv", day_rows("2025/04/02", 5, 100))
    before = shares(night.run())
    assert night.run().rows_read == 0                       # the index is used
    monkeypatch.setattr(module, "FORMAT", module.FORMAT + "-next")
    rebuilt = night.run()
    assert rebuilt.rows_read == 15 and shares(rebuilt) == before == shares(fresh(night.inbox, tmp_path))
    assert before[("2025-04", "city")] == (10.0, 15.0)
    index = NotificationIndex(night.state / "moveout_log.duckdb", KEY, tmp_path / "spill")
    try:
        identity = index.con.execute("SELECT value FROM meta WHERE name = 'identity'").fetchone()[0]
        assert identity.startswith(module.FORMAT + ":") and sorted(index.files()) == ["d1.csv", "d2.csv"]
    finally:
        index.close()
    assert night.run().rows_read == 0                       # and the rebuilt index is used again


def test_without_a_configured_key_the_first_run_makes_one_outside_the_data_folder(tmp_path: Path) -> None:
    keys = tmp_path / "home" / "keys"
    night = Night(tmp_path / "site", key=None, key_dir=keys)
    write(night.inbox, "d1.csv", day_rows("2025/04/01", 10))
    first = night.run()
    (key_file,) = keys.iterdir()
    assert first.notes == [f"指紋の鍵を作成しました: {key_file}（所有者だけが読めます。消すと次の実行で作り直し、"
                           "索引を一度組み直します）"]
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700 and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text("ascii").strip()
    assert len(key) == 64 and key.encode() not in (night.state / "moveout_log.duckdb").read_bytes()

    write(night.inbox, "d2.csv", day_rows("2025/04/02", 5, 100))
    second = night.run()
    assert second.rows_read == 5 and second.notes == []            # only the new file, with the same key
    assert shares(second) == shares(fresh(night.inbox, tmp_path))

    key_file.unlink()                                              # a rotation: a new key, one full read
    rotated = night.run()
    assert rotated.rows_read == 15 and len(rotated.notes) == 1 and shares(rotated) == shares(second)
    assert night.run().rows_read == 0 and len(list(keys.iterdir())) == 1


def test_a_key_file_readable_by_others_is_used_with_a_warning(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    night = Night(tmp_path / "site", key=None, key_dir=keys)
    write(night.inbox, "d1.csv", day_rows("2025/04/01", 10))
    night.run()
    (key_file,) = keys.iterdir()
    key_file.chmod(0o644)
    write(night.inbox, "d2.csv", day_rows("2025/04/02", 5, 100))
    second = night.run()
    assert second.rows_read == 5 and second.notes == [f"指紋の鍵ファイル {key_file} が所有者以外からも読めます。"
                                                      "chmod 600 にしてください"]


def test_without_a_key_or_a_key_folder_nothing_is_kept(tmp_path: Path) -> None:
    night = Night(tmp_path, key=None)
    write(night.inbox, "d1.csv", day_rows("2025/04/01", 10))
    night.run()
    assert night.run().rows_read == 10
    assert not (night.state / "moveout_log.duckdb").exists()


def test_the_index_holds_no_receipt_number(tmp_path: Path) -> None:
    night = Night(tmp_path)
    receipts = [f"SECRET{i:06d}" for i in range(2000)]
    write(night.inbox, "d1.csv", [f"2025/04/01,271021,都島区,{r},窓口,0" for r in receipts])
    night.run()
    index = NotificationIndex(night.state / "moveout_log.duckdb", KEY, tmp_path / "spill")
    try:
        tables = index.con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        dump = "".join(str(index.con.execute(f"SELECT * FROM {t}").fetchall()) for (t,) in tables)
    finally:
        index.close()
    assert "SECRET" not in dump and KEY not in dump
    assert b"SECRET" not in (night.state / "moveout_log.duckdb").read_bytes()


@pytest.mark.parametrize("bad", ["2025/04/01,271021,都島区,Q1,窓口\r\n", "2025/04/0x,271021,都島区,Q1,窓口,0\r\n"])
def test_irregular_files_are_quarantined_by_line_as_before(tmp_path: Path, bad: str) -> None:
    night = Night(tmp_path)
    night.inbox.mkdir(parents=True)
    (night.inbox / "d1.csv").write_bytes((HEADER + "2025/04/01,271021,都島区,Q0,窓口,0\r\n" + bad).encode("cp932"))
    batch = night.run(max_bad=1.0)
    assert batch.rows_read == 2
    assert shares(batch)[("2025-04", "city")] == ((0.0, 2.0) if not batch.bad else (0.0, 1.0))
    assert all(b.location == "d1.csv" and b.item == "3" for b in batch.bad)


def test_the_transcoding_worker_reads_what_this_process_reads(tmp_path: Path, monkeypatch) -> None:
    """Many files go to a worker process; regular, irregular and failing files come back the same."""
    from jisseki.moveout import bulk as moveout_bulk

    inbox = tmp_path / "inbox"
    for day in range(1, 10):
        write(inbox, f"d{day}.csv", day_rows(f"2025/04/{day:02d}", 5, day * 10, "マイナポータル" if day % 2 else "窓口"))
    (inbox / "d5.csv").write_bytes((HEADER + "2025/04/05,271021,都島区,R1\r2,窓口,0\r\n").encode("cp932"))  # lone CR
    # R00010 is first delivered on d1: d6 re-delivers it, d1 decides
    write(inbox, "d6.csv", ["2025/04/0x,271021,都島区,Q1,窓口,0", "2025/04/06,271021,都島区,R00010,郵送,0"])
    (inbox / "d7.csv").write_bytes(HEADER.encode("cp932") + b"2025/04/07,271021,\x82,R7,\x82\xa0,0\r\n")  # not CP932

    def read(worker_files: int) -> Batch:
        monkeypatch.setattr(moveout_bulk, "WORKER_FILES", worker_files)
        return collect(SOURCE_DEFS["moveout_log"], MoveoutSourceConfig(path=inbox), CATALOG, AS_OF, 1.0)

    by_worker, here = read(1), read(100)
    assert shares(by_worker) == shares(here) and shares(here)[("2025-04", "city")] == (15.0, 30.0)

    def no_processes(*args, **kwargs) -> None:
        raise PermissionError(1, "Operation not permitted")   # a sandbox that forbids starting processes

    monkeypatch.setattr("jisseki.worker.subprocess.Popen", no_processes)
    assert shares(read(1)) == shares(here)
    assert [(b.location, b.item, b.code) for b in by_worker.bad] == [(b.location, b.item, b.code) for b in here.bad]
    assert {b.location for b in here.bad} == {"d5.csv", "d6.csv", "d7.csv"}
    assert [f.sha256 for f in by_worker.lineage.files] == [f.sha256 for f in here.lineage.files]
    monkeypatch.undo()

    def disk_gone(*args, **kwargs) -> None:
        raise OSError(5, "Input/output error")

    # An error while the worker's results are read is that error, not taken for "no worker here".
    monkeypatch.setattr(moveout_bulk.columnar, "stage", disk_gone)
    with pytest.raises(OSError, match="Input/output error"):
        read(1)


@pytest.mark.parametrize("nights", [1, 2])
def test_a_regular_file_with_a_failing_shape_is_indexed_once_by_the_row_reader(tmp_path: Path, nights: int) -> None:
    """Its rows are indexed while its shapes are validated, then taken out again: only the row
    reader's valid rows count, on a first load (recount) and on a night (tally kept change by change)."""
    night = Night(tmp_path)
    write(night.inbox, "d1.csv", day_rows("2025/04/01", 40, 0, "マイナポータル"))
    if nights == 2:
        night.run()
    write(night.inbox, "d2.csv", day_rows("2025/04/02", 3, 100) + ["2025/04/02,271021,都島区,R00200,FAX,0"])
    batch = night.run()
    assert [(b.location, b.item, b.code) for b in batch.bad] == [("d2.csv", "5", "unknown_route")]
    assert shares(batch)[("2025-04", "city")] == (40.0, 43.0)
    assert shares(night.run())[("2025-04", "city")] == (40.0, 43.0)   # and the next night agrees


@pytest.mark.parametrize("how", ["cp -p", "rsync -t"])
def test_a_correction_copied_with_its_size_and_mtime_kept_is_read(tmp_path: Path, how: str) -> None:
    """cp -p writes over the landed file (same inode, new ctime); rsync -t renames a copy over it (new inode).
    Either keeps size and mtime, and the corrected content must still count."""
    night = Night(tmp_path)
    write(night.inbox, "d1.csv", day_rows("2025/04/01", 10), mtime=1_000_000_000)
    write(night.inbox, "d2.csv", day_rows("2025/04/02", 5, 100))
    assert shares(night.run())[("2025-04", "city")] == (0.0, 15.0)
    # The correction withdraws three notifications: 取消 0 → 1, the same number of bytes.
    fixed = write(tmp_path / "outbox", "d1.csv", day_rows("2025/04/01", 7) + [
        f"2025/04/01,271021,都島区,R{i:05d},窓口,1" for i in range(7, 10)], mtime=1_000_000_000)
    landed = night.inbox / "d1.csv"
    assert fixed.stat().st_size == landed.stat().st_size and fixed.read_bytes() != landed.read_bytes()
    if how == "cp -p":
        subprocess.run(["cp", "-p", str(fixed), str(landed)], check=True)
    else:
        staged = night.inbox / ".d1.csv.tmp"
        shutil.copy2(fixed, staged)
        os.replace(staged, landed)
    assert (landed.stat().st_size, landed.stat().st_mtime_ns) == (fixed.stat().st_size, 1_000_000_000)
    corrected = night.run()
    assert corrected.rows_read == 10 and shares(corrected)[("2025-04", "city")] == (0.0, 12.0)
    assert shares(corrected) == shares(fresh(night.inbox, tmp_path))
    assert night.run().rows_read == 0   # and then it is known again


def test_files_landed_before_ctime_and_inode_were_kept_are_hashed_once(tmp_path: Path) -> None:
    """A warehouse upgraded from revision 0003 has no ctime or inode: the first night hashes every file (and
    reads the one whose content changed under the old size and mtime), then stores them."""
    night = Night(tmp_path)
    write(night.inbox, "d1.csv", day_rows("2025/04/01", 10), mtime=1_000_000_000)
    night.run()
    with night.engine.begin() as conn:
        conn.execute(sa.text("UPDATE ingest_file SET ctime_ns = NULL, inode = NULL"))
    write(night.inbox, "d1.csv", day_rows("2025/04/01", 9) + ["2025/04/01,271021,都島区,R00009,窓口,1"],
          mtime=1_000_000_000)
    first = night.run()
    assert first.rows_read == 10 and shares(first)[("2025-04", "city")] == (0.0, 9.0)
    known = ingest_files(night.engine, "moveout_log")["d1.csv"]
    stat = (night.inbox / "d1.csv").stat()
    assert (known.ctime_ns, known.inode) == (stat.st_ctime_ns, stat.st_ino)
    assert night.run().rows_read == 0


@pytest.mark.parametrize("damage", ["garbage", "cut short", "another key"])
def test_a_damaged_index_is_rebuilt_from_the_inbox_with_a_note(tmp_path: Path, damage: str) -> None:
    night = Night(tmp_path)
    write(night.inbox, "d1.csv", day_rows("2025/04/01", 10, 0, "マイナポータル"))
    write(night.inbox, "d2.csv", day_rows("2025/04/02", 5, 100))
    before = shares(night.run())
    path = night.state / "moveout_log.duckdb"
    if damage == "garbage":
        path.write_bytes(os.urandom(path.stat().st_size))
    elif damage == "cut short":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        night.key = "another-key"
    rebuilt = night.run()
    assert rebuilt.rejected is None and rebuilt.rows_read == 15 and shares(rebuilt) == before
    assert len(rebuilt.notes) == 1 and rebuilt.notes[0].startswith(f"通知索引 {path} が")
    assert "作り直し" in rebuilt.notes[0]
    again = night.run()
    assert again.rows_read == 0 and again.notes == [] and shares(again) == before
