"""Derived state mends itself: a damaged GX folder is rebuilt, GX keeps no row values, and the plain
copies a killed run left in its work folder are removed by the next run."""
from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from flows.run import run_nightly
from jisseki.catalog import load_catalog
from jisseki.moveout import bulk as moveout_bulk
from jisseki.pipeline import collect
from jisseki.source_config import MoveoutSourceConfig
from jisseki.sources import SOURCE_DEFS
from jisseki.work_folder import LOCK_FILE
from tests.handcount import moveout_figures, moveout_rows
from tests.support import write_config
from tests.test_exactness import assert_matches, landed
from tests.unseen import SUGGESTED_AS_OF, personal_values, write_unseen

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_harness")]
HEADER = "受付日,区コード,区名,受付番号,届出経路,取消\r\n"


def child_env(**extra: str) -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    return {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "PYTHONUNBUFFERED": "1", **extra}


def cli(config: Path) -> list[str]:
    return [sys.executable, "-m", "jisseki.cli", "run", "--config", str(config), "--as-of",
            SUGGESTED_AS_OF.isoformat()]


def deliver(root: Path, name: str, rows: list[str]) -> None:
    (root / "moveout" / name).write_bytes((HEADER + "".join(r + "\r\n" for r in rows)).encode("cp932"))


def good_rows(day: str, n: int, prefix: str) -> list[str]:
    return [f"{day},271021,都島区,{prefix}-{i:05d},窓口,0" for i in range(n)]


def messages(url: str) -> list[str]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT message FROM source_run WHERE source = 'moveout_log' "
                                    "ORDER BY finished_at")).scalars().all()
    engine.dispose()
    return list(rows)


def landed_night(tmp_path: Path, seed: int) -> tuple[Path, str]:
    write_unseen(tmp_path, seed)
    url = f"sqlite:///{tmp_path / 'w.db'}"
    config = write_config(tmp_path, url, None, speech="")
    assert run_nightly(config, SUGGESTED_AS_OF, None) == 0
    return config, url


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


DAMAGE = {
    "empty suite file": ("expectations/moveout_log/records.json", lambda p: p.write_bytes(b"")),
    "cut validation definition": ("validation_definitions/moveout_log.records.json", truncate),
    "garbage great_expectations.yml": ("great_expectations.yml", lambda p: p.write_bytes(b"\x00\xff{[: garbage")),
    "cut great_expectations.yml": ("great_expectations.yml", truncate),
    "cut validation result": ("uncommitted/validations", lambda p: truncate(sorted(p.rglob("*.json"))[-1])),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_gx_folder_is_rebuilt_and_the_next_night_lands_exactly(tmp_path: Path, damage: str) -> None:
    config, url = landed_night(tmp_path, 31)
    relative, spoil = DAMAGE[damage]
    stored = tmp_path / "gx-data" / "gx" / relative
    assert stored.exists()
    spoil(stored)
    deliver(tmp_path, "tenshutsu_20260410.csv", good_rows("2026/04/10", 40, "TN2604"))   # something to validate

    done = subprocess.run(cli(config), env=child_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "作り直しました" in done.stdout and "GX の保存ファイルが壊れていた" in messages(url)[-1]
    assert_matches(landed(url), moveout_figures(tmp_path / "moveout", SUGGESTED_AS_OF))
    if damage != "empty suite file":
        return   # one case shows the night after (each costs a process start on a busy machine)
    # The folder is sound again: the night after says nothing of it.
    deliver(tmp_path, "tenshutsu_20260413.csv", good_rows("2026/04/13", 10, "TN2605"))
    again = subprocess.run(cli(config), env=child_env(), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "作り直し" not in again.stdout and (tmp_path / "gx-data" / "gx" / "great_expectations.yml").stat().st_size
    assert_matches(landed(url), moveout_figures(tmp_path / "moveout", SUGGESTED_AS_OF))


def test_gx_results_and_data_docs_hold_no_row_values(tmp_path: Path) -> None:
    write_unseen(tmp_path, 32)
    # Routes that are receipt numbers, and a row shifted by one column (its receipt number in 区名,
    # its route in 受付番号, its withdrawal flag in 届出経路).
    bad = [f"2026/04/0{d},271021,都島区,TN2604-9{d:04d},TN2604-8{d:04d},0" for d in range(1, 5)]
    shifted = "2026/04/06,271021,TN2604-70001,窓口,TN2604-60001,0"
    deliver(tmp_path, "tenshutsu_20260406.csv", good_rows("2026/04/06", 200, "TN2604") + bad + [shifted])
    url = f"sqlite:///{tmp_path / 'w.db'}"
    config = write_config(tmp_path, url, None, speech="")
    assert run_nightly(config, SUGGESTED_AS_OF, None) == 0

    stored = [p for p in (tmp_path / "gx-data").rglob("*") if p.is_file()]
    results = [p for p in stored if "validations" in p.parts and p.suffix == ".json"]
    docs = [p for p in stored if p.suffix == ".html" and "validations" in p.parts]
    assert results and docs                                     # GX did keep results and Data Docs
    assert any(b'"unexpected_index_list"' in p.read_bytes() for p in results)   # positions are kept
    receipts = {row["受付番号"] for row in moveout_rows(tmp_path / "moveout")} - {""}
    secrets = {v for v in personal_values(tmp_path, 32) | receipts if len(v) >= 4}
    secrets |= {"TN2604-70001", "TN2604-60001"} | {f"TN2604-{k}{d:04d}" for k in (8, 9) for d in range(1, 5)}
    leaked = {(p.name, s) for p in stored for s in secrets if s.encode() in p.read_bytes()}
    assert not leaked, sorted(leaked)[:5]
    assert_matches(landed(url), moveout_figures(tmp_path / "moveout", SUGGESTED_AS_OF))


def held(lock_file: Path) -> bool:
    lock = os.open(lock_file, os.O_RDWR)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(lock)
    return False


def work_folders(parent: Path) -> list[Path]:
    return sorted(parent.glob(moveout_bulk.WORK_PREFIX + "*"))


def test_a_killed_run_leaves_its_plain_copies_and_the_next_run_removes_them(tmp_path: Path, monkeypatch) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))   # this process's runs, and (TMPDIR) the child's
    write_unseen(tmp_path, 33)
    assert len(list((tmp_path / "moveout").glob("*.csv"))) >= moveout_bulk.WORKER_FILES   # the worker is used
    url = f"sqlite:///{tmp_path / 'w.db'}"
    config = write_config(tmp_path, url, None, speech="")
    child = subprocess.Popen(cli(config), env=child_env(TMPDIR=str(temp)), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    copies: list[Path] = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and child.poll() is None and not copies:
        copies = [p for folder in work_folders(temp) for p in folder.glob("*.csv")]
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert copies, "the run ended before it wrote a copy"
    (left,) = work_folders(temp)
    assert left.name.startswith(f"{moveout_bulk.WORK_PREFIX}{child.pid}-")
    assert [p for p in left.iterdir() if p.name != LOCK_FILE]     # plain copies, left behind
    # Its worker holds the folder too, and ends within one job of its parent's death (test_worker).
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and held(left / LOCK_FILE):
        time.sleep(0.1)

    assert run_nightly(config, SUGGESTED_AS_OF, None) == 0
    assert work_folders(temp) == []
    assert "中断された実行の作業フォルダ" in messages(url)[-1]
    assert_matches(landed(url), moveout_figures(tmp_path / "moveout", SUGGESTED_AS_OF))


def small_night(tmp_path: Path) -> Path:
    deliver_to = tmp_path / "moveout"
    deliver_to.mkdir(parents=True)
    deliver(tmp_path, "d1.csv", good_rows("2025/04/01", 5, "R1"))
    return write_config(tmp_path, f"sqlite:///{tmp_path / 'w.db'}", None, speech="")


@pytest.mark.parametrize("interruption", [KeyboardInterrupt, SystemExit])
def test_an_interrupted_run_removes_its_work_folder(tmp_path: Path, monkeypatch, interruption: type) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    small_night(tmp_path)
    seen: list[list[Path]] = []

    def interrupted(*args: object) -> None:
        seen.append([p for folder in work_folders(temp) for p in folder.glob("*.csv")])
        raise interruption()

    monkeypatch.setattr(moveout_bulk, "_load", interrupted)
    with pytest.raises(interruption):
        collect(SOURCE_DEFS["moveout_log"], MoveoutSourceConfig(path=tmp_path / "moveout"), load_catalog(),
                SUGGESTED_AS_OF, 0.05)
    assert seen and seen[0], "the copy was not there when the run was interrupted"
    assert work_folders(temp) == []


def test_only_work_folders_no_live_run_holds_are_removed(tmp_path: Path, monkeypatch) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    held = temp / f"{moveout_bulk.WORK_PREFIX}1-held"              # another run's, locked
    unlocked_live = temp / f"{moveout_bulk.WORK_PREFIX}{os.getpid()}-new"   # made, not yet locked
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    unlocked_dead = temp / f"{moveout_bulk.WORK_PREFIX}{dead.stdout.strip()}-gone"
    older = temp / f"{moveout_bulk.WORK_PREFIX}abc_123x"          # an older version's, days old
    for folder in (held, unlocked_live, unlocked_dead, older):
        folder.mkdir()
        (folder / "1.csv").write_text("受付番号\nR1-00001\n", "utf-8")
    (held / LOCK_FILE).touch()
    os.utime(older, (time.time() - 3 * 86400,) * 2)
    lock = os.open(held / LOCK_FILE, os.O_RDWR)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        assert run_nightly(small_night(tmp_path), SUGGESTED_AS_OF, None) == 0
        assert set(work_folders(temp)) == {held, unlocked_live}
    finally:
        os.close(lock)
    deliver(tmp_path, "d2.csv", good_rows("2025/04/02", 5, "R2"))
    assert run_nightly(tmp_path / "jisseki.toml", SUGGESTED_AS_OF, None) == 0
    assert work_folders(temp) == [unlocked_live]


def test_results_an_older_version_kept_with_row_values_are_removed(tmp_path: Path) -> None:
    """Results validated before with plain COMPLETE held the failing values: they leave the store and the site."""
    import json

    from expectations import runner

    root = tmp_path / "gx-data"
    good = {"reception_date": date(2026, 4, 1), "raw_date": "2026/04/01", "ward_code": "271021", "raw_ward": "271021",
            "route": "窓口", "withdrawn": "0", "has_receipt": True}
    rows = [good, {**good, "route": "TN2604-44444"}]
    assert [f.index for f in runner.validate("moveout_log.records", rows, root, "night-1")] == [1]
    (kept,) = (root / "gx").glob("uncommitted/validations/**/*.json")
    old = json.loads(kept.read_text("utf-8"))
    for result in old["results"]:
        if not result["success"]:
            result["result"].update(unexpected_list=["TN2604-55555"], partial_unexpected_list=["TN2604-55555"])
    older = kept.parent.parent / "20200101T000000.000000Z" / kept.name
    older.parent.mkdir()
    older.write_text(json.dumps(old), "utf-8")
    index = runner.build_data_docs(root)
    assert index.exists() and kept.exists() and not older.exists()
    stored = [p.read_bytes() for p in root.rglob("*") if p.is_file()]
    assert not [b for b in stored if b"TN2604-55555" in b or b"TN2604-44444" in b]
