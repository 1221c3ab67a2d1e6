"""One nightly run at a time per warehouse: a lock row with a heartbeat, and the gates that keep a source the run
gave up on from landing.

A run killed with SIGKILL leaves its row behind; the next run takes it over when the owner's
process is gone (same host) or its heartbeat is older than STALE (another host)."""
from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Connection, Engine, Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from jisseki.core.errors import ExitCode
from jisseki.core.periods import as_utc, now_utc
from warehouse.errors import WarehouseError
from warehouse.schema import run_lock

NAME = "nightly"
STALE = timedelta(minutes=10)
HEARTBEAT_SECONDS = 30.0


@dataclass(frozen=True)
class Holder:
    """Who holds the lock, as an operator would look for it."""
    host: str
    pid: int
    since: datetime

    def describe(self) -> str:
        since = as_utc(self.since).astimezone(timezone.utc)
        return f"{self.host} の PID {self.pid}、{since:%Y-%m-%d %H:%M:%S} UTC から"


class RunLocked(WarehouseError):
    """Another run holds the warehouse. The message is for `jisseki run`; `holder` lets other callers word theirs."""

    def __init__(self, holder: Holder | None) -> None:
        self.holder = holder
        if holder is None:
            super().__init__("別の jisseki run が倉庫を使用中です")
        else:
            super().__init__(f"別の jisseki run が実行中です（{holder.describe()}）。"
                             "終わってから再実行するか --wait 秒数 を指定してください")

    exit_code = ExitCode.LOCKED


class Abandoned(WarehouseError):
    """The run gave up on this source (past its deadline, stopped by a signal) or lost the lock: what the source
    read is not written, and the run has already recorded why."""


class Gate:
    """Whether what one source did may still be written: its batch, or why it failed. The run closes it when it
    gives up on the source. A thread blocked in I/O cannot be stopped in Python, so instead every write of the
    source commits while holding the gate: once close() has returned, nothing of the source can be written, and
    whoever closed it writes the source's outcome. `owner` is the run lock the batch is landed under."""

    def __init__(self, owner: str | None = None) -> None:
        self.owner = owner
        self._lock = threading.Lock()
        self._closed: str | None = None
        self._written = False
        self.stopped = threading.Event()   # set on close: what the source waits for may end early (jisseki.core.stopping)

    @contextmanager
    def passing(self) -> Iterator[None]:
        """Around the commit of the source's outcome; Abandoned once the gate is closed."""
        with self._lock:
            if self._closed is not None:
                raise Abandoned(self._closed)
            yield
            self._written = True

    def close(self, why: str) -> bool:
        """True when this closed it: nothing was written, nothing will be, and the caller records `why`.
        False when the source's outcome was already written (or the gate was closed before)."""
        with self._lock:
            if self._written or self._closed is not None:
                return False
            self._closed = why
            self.stopped.set()
            return True


def holds(conn: Connection, owner: str) -> bool:
    """Inside a writing transaction, just before its commit: does `owner` still hold the lock? The row is
    locked (FOR SHARE on PostgreSQL; SQLite's writer already excludes every other), so a release waits for
    this commit, and a transaction after a release finds no row and must not commit."""
    held = conn.execute(select(run_lock.c.owner).where(run_lock.c.name == NAME).with_for_update(read=True)).first()
    return held is not None and held.owner == owner


@contextmanager
def exclusive_run(engine: Engine, wait_seconds: float = 0.0) -> Iterator[str]:
    owner = uuid.uuid4().hex
    deadline = time.monotonic() + wait_seconds
    while not _try_acquire(engine, owner):
        if time.monotonic() >= deadline:
            raise RunLocked(_holder(engine))
        time.sleep(min(2.0, max(0.1, deadline - time.monotonic())))
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(engine, owner, stop), daemon=True)
    beat.start()
    try:
        yield owner
    finally:
        stop.set()
        beat.join(timeout=5)
        with engine.begin() as conn:
            conn.execute(delete(run_lock).where(run_lock.c.name == NAME, run_lock.c.owner == owner))


def _try_acquire(engine: Engine, owner: str) -> bool:
    mine = dict(owner=owner, host=socket.gethostname(), pid=os.getpid(), acquired_at=now_utc(), heartbeat_at=now_utc())
    try:
        with engine.begin() as conn:
            row = conn.execute(select(run_lock).where(run_lock.c.name == NAME)).first()
            if row is None:
                conn.execute(insert(run_lock).values(name=NAME, **mine))
                return True
            if not _abandoned(row):
                return False
            # Take over only if nobody else did in between.
            taken = conn.execute(update(run_lock).where(run_lock.c.name == NAME, run_lock.c.owner == row.owner)
                                 .values(**mine)).rowcount
            return taken == 1
    except IntegrityError:
        return False  # another run inserted first


def _abandoned(row: Row[Any]) -> bool:
    if now_utc() - as_utc(row.heartbeat_at) > STALE:
        return True
    return row.host == socket.gethostname() and not _alive(row.pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _heartbeat(engine: Engine, owner: str, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_SECONDS):
        try:
            with engine.begin() as conn:
                conn.execute(update(run_lock).where(run_lock.c.owner == owner).values(heartbeat_at=now_utc()))
        except Exception:  # a missed beat only makes the lock look older; the run goes on
            pass


def _holder(engine: Engine) -> Holder | None:
    with engine.connect() as conn:
        row = conn.execute(select(run_lock).where(run_lock.c.name == NAME)).first()
    return None if row is None else Holder(row.host, row.pid, row.acquired_at)
