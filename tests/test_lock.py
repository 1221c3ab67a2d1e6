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


def empty_batch(source: str = "speech_usage"):
    from jisseki.batch import Batch
    from jisseki.core.records import Bad, Lineage

    return Batch(source, ("speech_hours_monthly",), datetime(2026, 3, 31).date(), Lineage(),
                 bad=[Bad("a.jsonl", "1", "not_json", "JSONとして読めない行です", content_hash="h")], rows_read=1)


def counts(engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (conn.execute(sa.text("SELECT COUNT(*) FROM source_run")).scalar_one(),
                conn.execute(sa.text("SELECT COUNT(*) FROM quarantine")).scalar_one())


def test_nothing_lands_or_fails_through_a_closed_gate_and_its_closer_records(warehouse_url) -> None:
    from warehouse.lock import Abandoned, Gate
    from warehouse.store import land, record_failure

    engine = connect(warehouse_url)
    with exclusive_run(engine) as owner:
        gate = Gate(owner)
        assert gate.close("期限切れ") is True
        with pytest.raises(Abandoned, match="期限切れ"):
            land(engine, empty_batch(), "run-1", gate)
        assert record_failure(engine, "speech_usage", datetime(2026, 3, 31).date(), "x", "run-1", gate) is False
        assert counts(engine) == (0, 0)   # the landing rolled back whole

        landed = Gate(owner)
        land(engine, empty_batch(), "run-1", landed)
        assert landed.close("遅すぎた") is False   # its outcome was written: nobody records it again
        assert counts(engine) == (1, 1)


def test_a_batch_cannot_land_once_its_run_let_go_of_the_lock(warehouse_url) -> None:
    from warehouse.lock import Abandoned, Gate
    from warehouse.store import land

    engine = connect(warehouse_url)
    with exclusive_run(engine) as owner:
        pass
    with exclusive_run(engine):   # another run holds it now
        with pytest.raises(Abandoned, match="倉庫のロック"):
            land(engine, empty_batch(), "run-1", Gate(owner))
    assert counts(engine) == (0, 0)
