"""One run at a time per warehouse; a killed run's lock is taken over."""
from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from warehouse.lock import RunLocked, exclusive_run
from warehouse.schema import run_lock
from warehouse.store import connect


def test_a_second_run_is_refused_with_a_clear_message(warehouse_url) -> None:
    engine = connect(warehouse_url)
    with exclusive_run(engine):
        with pytest.raises(RunLocked, match="別の jisseki run が実行中です"):
            with exclusive_run(engine, wait_seconds=0.3):
                pass
    with exclusive_run(engine):  # released
        pass


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'w.db'}")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    import socket

    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        conn.execute(sa.insert(run_lock).values(name="nightly", owner="killed", host=socket.gethostname(),
                                                pid=int(dead.stdout), acquired_at=now, heartbeat_at=now))
    with exclusive_run(engine) as owner:
        assert owner != "killed"


def test_a_lock_whose_heartbeat_stopped_on_another_host_is_taken_over(tmp_path) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'w.db'}")
    old = datetime.now(timezone.utc) - timedelta(minutes=11)
    with engine.begin() as conn:
        conn.execute(sa.insert(run_lock).values(name="nightly", owner="gone", host="elsewhere", pid=1,
                                                acquired_at=old, heartbeat_at=old))
    with exclusive_run(engine):
        pass
    fresh = datetime.now(timezone.utc)
    with engine.begin() as conn:
        conn.execute(sa.insert(run_lock).values(name="nightly", owner="alive", host="elsewhere", pid=1,
                                                acquired_at=fresh, heartbeat_at=fresh))
    with pytest.raises(RunLocked, match="elsewhere"):
        with exclusive_run(engine):
            pass
