"""A run's work folder for plain copies of delivered files (personal values in clear): made as prefix + pid
in the system temp folder and locked (LOCK_FILE) for as long as a run or its worker uses it, so a run can
tell, and remove, what a killed one left; removed however the run ends."""
from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from jisseki.batch import Batch

LOCK_FILE = ".lock"
OLD_FOLDER_SECONDS = 24 * 3600


@contextmanager
def work_folder(batch: Batch, prefix: str) -> Iterator[tuple[Path, int]]:
    """A new work folder and its held lock; removed however the block ends (an exception, Ctrl-C,
    SystemExit), and what killed runs left is removed first."""
    parent = Path(tempfile.gettempdir())
    if removed := _remove_abandoned(parent, prefix):
        batch.notes.append(f"中断された実行の作業フォルダ（届出ファイルの平文の写し）を {removed} 件削除しました")
    work = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent))
    lock = os.open(work / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield work, lock
    finally:
        shutil.rmtree(work, ignore_errors=True)   # before the lock goes, so no other run removes it meanwhile
        os.close(lock)


def _remove_abandoned(parent: Path, prefix: str) -> int:
    """Removes this user's work folders that no live run or worker holds; returns how many."""
    return sum(_remove_if_abandoned(folder, prefix) for folder in parent.glob(prefix + "*"))


def _remove_if_abandoned(folder: Path, prefix: str) -> bool:
    try:
        if folder.is_symlink() or not folder.is_dir() or folder.stat().st_uid != os.getuid():
            return False
        lock = os.open(folder / LOCK_FILE, os.O_RDWR)
    except FileNotFoundError:
        # No lock: a run between making its folder and locking it, or a folder of an older version.
        if not folder.is_dir() or _in_use_unlocked(folder, prefix):
            return False
        shutil.rmtree(folder, ignore_errors=True)
        return not folder.exists()
    except OSError:
        return False
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(lock)
        return False   # in use: the lock is held until its run and worker have ended
    try:
        shutil.rmtree(folder, ignore_errors=True)
    finally:
        os.close(lock)
    return not folder.exists()


def _in_use_unlocked(folder: Path, prefix: str) -> bool:
    """A folder without a lock: its run's process lives (it is about to lock it), or, for a folder an
    older version made (no pid in its name), it is younger than a night."""
    pid, dash, _ = folder.name[len(prefix):].partition("-")
    if not (dash and pid.isdigit()):
        return time.time() - folder.stat().st_mtime < OLD_FOLDER_SECONDS
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True   # another user's process
    return True
