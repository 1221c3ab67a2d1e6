"""The watchdog: a night that did not happen is heard, once, outside the nightly run; the next run resolves it."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime, time, timedelta, timezone

import pytest
import sqlalchemy as sa

from jisseki.alerts.rules import NightRun, night_missed
from jisseki.core.periods import JST
from tests.support import Receiver, write_config
from tests.unseen import SUGGESTED_AS_OF, write_unseen

DAILY = "0 2 * * *"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=JST)


def night(started: datetime, finished: datetime | None) -> NightRun:
    return NightRun(started.astimezone(timezone.utc), finished and finished.astimezone(timezone.utc), "vm", 42,
                    date(2026, 11, 30))


@pytest.mark.parametrize("now, cron, last, running, missed", [
    (at(2, 3, 59), DAILY, night(at(1, 2), at(1, 2, 20)), None, None),            # before the deadline
    (at(2, 4, 1), DAILY, night(at(1, 2), at(1, 2, 20)), None, "2026-12-02"),     # yesterday's run is not tonight's
    (at(2, 4, 1), DAILY, night(at(2, 2), at(2, 2, 20)), None, None),
    (at(2, 5, 0), DAILY, night(at(2, 2), at(2, 4, 30)), None, None),             # late, but it finished
    (at(2, 4, 1), DAILY, night(at(1, 2), at(1, 2, 20)), night(at(2, 2), None), "2026-12-02"),   # hung since 02:00
    (at(2, 4, 1), DAILY, None, None, "2026-12-02"),                               # never ran
    (at(2, 1, 0), DAILY, night(at(1, 2), at(1, 2, 20)), None, None),             # the small hours: last night's
    (at(2, 1, 0), DAILY, night(at(1, 1), at(1, 1, 30)), None, "2026-12-01"),     # it ended before 02:00
    (at(7, 9, 0), "0 2 * * 1", night(at(7, 2), at(7, 2, 10)), None, None),        # weekly, Monday 7th
    (at(8, 9, 0), "0 2 * * 1", night(at(7, 2), at(7, 2, 10)), None, None),        # no run due on Tuesday
    (at(14, 9, 0), "0 2 * * 1", night(at(7, 2), at(7, 2, 10)), None, "2026-12-14"),
])
def test_the_rule(now, cron, last, running, missed) -> None:
    checked = night_missed(now, cron, "Asia/Tokyo", time(4, 0), last, running)
    assert checked.scopes == {"watchdog"}
    assert [a.key for a in checked.active] == ([] if missed is None else [f"night_missed:{missed}"])
    for alert in checked.active:
        assert "期限" in alert.body and "prefect worker start" in alert.body and "jisseki run" in alert.body
        assert ("実行中: vm の PID 42" in alert.body) == (running is not None)


def jisseki(*args: str, **env: str) -> subprocess.CompletedProcess:
    from prefect.settings import PREFECT_API_URL

    return subprocess.run([sys.executable, "-m", "jisseki.cli", *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), **env})


@pytest.mark.e2e
@pytest.mark.usefixtures("prefect_harness")
def test_a_night_that_did_not_run_is_told_once_and_resolved_by_the_next_run(tmp_path) -> None:
    write_unseen(tmp_path, 12)
    url = f"sqlite:///{tmp_path / 'w.db'}"
    receiver = Receiver()
    try:
        config = str(write_config(tmp_path, url, None, alerts={"urls": [receiver.url()]}))
        assert jisseki("run", "--config", config, "--as-of", SUGGESTED_AS_OF.isoformat()).returncode == 0
        assert jisseki("watchdog", "--config", config).returncode == 0          # tonight's run finished

        # The worker stopped two days ago: the wall clock cannot be moved, the last run's end can.
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE night_run SET started_at = :t, finished_at = :t"),
                         {"t": datetime.now(timezone.utc) - timedelta(days=2)})
        engine.dispose()
        before = len(receiver.messages)
        first = jisseki("watchdog", "--config", config)
        assert first.returncode == 1 and "夜間処理が期限までに終わっていません" in first.stderr
        again = jisseki("watchdog", "--config", config)
        assert again.returncode == 1
        [told] = receiver.messages[before:]
        assert told["title"].endswith("時点: 目標未達成 0 件・要注意 0 件・未実行 1 件・取込失敗 0 件"), told
        assert "最後に終わった夜間処理" in told["message"] and "prefect worker start" in told["message"]
        assert "フロー実行" not in told["message"]   # the watchdog has no flow run to link

        assert jisseki("run", "--config", config, "--as-of", SUGGESTED_AS_OF.isoformat()).returncode == 0
        resolved = [m for m in receiver.messages[before + 1:] if "【夜間処理が未実行】" in m["message"]]
        assert len(resolved) == 1 and "の定時実行: 解消しました" in resolved[0]["message"]
        assert jisseki("watchdog", "--config", config).returncode == 0
        assert len([m for m in receiver.messages if "未実行 1 件" in m["title"]]) == 1
        assert len([m for m in receiver.messages if "【夜間処理が未実行】" in m["message"]]) == 1
    finally:
        receiver.close()


@pytest.mark.e2e
def test_the_watchdog_on_a_warehouse_that_does_not_exist_creates_none(tmp_path) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'w.db'}", None)
    done = jisseki("watchdog", "--config", str(config))
    assert done.returncode == 1 and "倉庫がありません" in done.stderr
    assert not (tmp_path / "w.db").exists()
