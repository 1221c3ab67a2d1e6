"""Faults around whole runs: sources down, a wrong token, a run killed with SIGKILL, two runs at once."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from flows.run import run_nightly
from tests.digests import entries, sources
from tests.handcount import expected_figures
from tests.sample_api import Reply, SampleApi
from tests.support import (
    TOKEN,
    TOKEN_ENV,
    Receiver,
    closed_port,
    every_cell,
    table_counts,
    write_config,
)
from tests.test_exactness import assert_matches, landed
from tests.unseen import SUGGESTED_AS_OF, write_unseen

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_harness")]
NOCODE_ENV = "JISSEKI_TEST_NOCODE_TOKEN"


def file_sources_only(expected: dict) -> dict:
    return {k: v for k, v in expected.items() if k[0] != "online_procedures"}


def test_both_apis_down_fails_naming_both_and_everything_else_lands_exactly(tmp_path, monkeypatch, capsys) -> None:
    procedures = write_unseen(tmp_path, 21)
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.setenv(NOCODE_ENV, TOKEN)
    receiver = Receiver()
    url = f"sqlite:///{tmp_path / 'w.db'}"
    try:
        config = write_config(tmp_path, url, f"http://127.0.0.1:{closed_port()}", **{
            "sources.nocode_apps": {"base_url": f"http://127.0.0.1:{closed_port()}", "token_env": NOCODE_ENV,
                                    "max_retries": 1, "backoff_seconds": 0.05},
            "alerts": {"urls": [receiver.url()]}})
        assert run_nightly(config, SUGGESTED_AS_OF, None) == 1
    finally:
        receiver.close()
    err = capsys.readouterr().err
    assert "online_procedures" in err and "nocode_apps" in err
    assert_matches(landed(url), file_sources_only(expected_figures(tmp_path, procedures, [], SUGGESTED_AS_OF)))
    assert sorted(sources(receiver.messages, "取込失敗・不採用")) == ["nocode_apps", "online_procedures"]


def test_a_wrong_token_never_shows_in_output_warehouse_or_alerts(tmp_path, monkeypatch, capsys) -> None:
    procedures = write_unseen(tmp_path, 22)
    wrong = "Wr0ng-T0ken-Sekret"
    monkeypatch.setenv(TOKEN_ENV, wrong)
    receiver = Receiver()
    url = f"sqlite:///{tmp_path / 'w.db'}"
    try:
        with SampleApi(procedures, TOKEN) as api:
            api.script.append(Reply(401, f'{{"error": "bad token {wrong}"}}'.encode()))  # a server that echoes it
            config = write_config(tmp_path, url, api.base_url, alerts={"urls": [receiver.url()]})
            assert run_nightly(config, SUGGESTED_AS_OF, None) == 1
    finally:
        receiver.close()
    out = capsys.readouterr()
    assert wrong not in out.out + out.err and wrong not in every_cell(url)
    assert receiver.messages and all(wrong not in m["title"] + m["message"] for m in receiver.messages)
    assert (tmp_path / "gx-data").exists() and not [p for p in (tmp_path / "gx-data").rglob("*")
                                                    if p.is_file() and wrong.encode() in p.read_bytes()]


def cli(config: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "jisseki.cli", "run", "--config", str(config), "--as-of",
            SUGGESTED_AS_OF.isoformat(), *extra]


def child_env() -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    return {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "PYTHONUNBUFFERED": "1"}


def slow_api(procedures: list[dict]) -> SampleApi:
    api = SampleApi(procedures, TOKEN)
    api.script.extend([Reply(200, delay=1.0)] * 8)  # the first pages answer slowly
    return api


def current_duplicates(url: str) -> list:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT kpi_id, period, scope FROM kpi_actual WHERE is_current "
                                    "GROUP BY kpi_id, period, scope HAVING COUNT(*) > 1")).all()
    engine.dispose()
    return rows


def test_a_run_killed_mid_way_and_run_again_ends_exact(tmp_path, monkeypatch) -> None:
    procedures = write_unseen(tmp_path, 23)
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    url = f"sqlite:///{tmp_path / 'w.db'}"
    receiver = Receiver()
    try:
        with slow_api(procedures) as api:
            config = write_config(tmp_path, url, api.base_url, alerts={"urls": [receiver.url()]})
            child = subprocess.Popen(cli(config), env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and len(api.requests) < 3:  # well into the crawl
                time.sleep(0.2)
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=30)
            assert len(api.requests) >= 3, "the child never reached the API"
            assert run_nightly(config, SUGGESTED_AS_OF, None) == 0  # takes over the dead run's lock
            assert run_nightly(config, SUGGESTED_AS_OF, None) == 0
    finally:
        receiver.close()
    assert_matches(landed(url), expected_figures(tmp_path, procedures, [], SUGGESTED_AS_OF))
    assert current_duplicates(url) == []
    told = entries(receiver.messages)
    assert len(told) == len(set(told))  # no alert sent twice


def test_two_runs_at_once_one_refuses_or_waits_and_figures_stay_exact(tmp_path, monkeypatch) -> None:
    procedures = write_unseen(tmp_path, 24)
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    url = f"sqlite:///{tmp_path / 'w.db'}"
    with slow_api(procedures) as api:
        config = write_config(tmp_path, url, api.base_url)
        first = subprocess.Popen(cli(config), env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not api.requests:
            time.sleep(0.2)
        second = subprocess.run(cli(config), env=child_env(), capture_output=True, text=True, timeout=300)
        waiting = subprocess.Popen(cli(config, "--wait", "300"), env=child_env(), stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT)
        assert first.wait(timeout=300) == 0
        assert waiting.wait(timeout=300) == 0
    assert second.returncode == 3 and "別の jisseki run が実行中です" in second.stdout + second.stderr
    assert_matches(landed(url), expected_figures(tmp_path, procedures, [], SUGGESTED_AS_OF))
    assert current_duplicates(url) == []
    assert table_counts(url)["run_lock"] == 0


class Trickle:
    """A loopback HTTP server that answers one header byte a second, forever: a request that never ends, each
    byte in time for any read timeout. Stands for any source that blocks in I/O (a hung network mount too)."""

    def __init__(self) -> None:
        import socket
        import threading

        self._sock = socket.create_server(("127.0.0.1", 0))
        self._stop = threading.Event()
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def _accept(self) -> None:
        import threading

        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn) -> None:
        self.connections += 1
        try:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            while not self._stop.wait(1.0):
                conn.sendall(b"a")
        except OSError:
            pass
        finally:
            conn.close()

    def __enter__(self) -> Trickle:
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._sock.close()


def blocked_config(folder: Path, url: str, base_url: str, **procedures) -> Path:
    """Both file sources as usual; the procedures API on `base_url`, with timeouts that never cut it off."""
    return write_config(folder, url, None, **{
        "sources.online_procedures": {"base_url": base_url, "token_env": TOKEN_ENV, "max_retries": 0,
                                      "read_timeout": 60.0, "total_timeout": 36000.0, **procedures}})


def query(url: str, sql: str) -> list:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(sql)).all()
    engine.dispose()
    return rows


def runs_of(url: str) -> dict[str, tuple[str, str]]:
    if not (Path(sa.make_url(url).database).exists()):
        return {}
    try:
        return {s: (st, m) for s, st, m in query(url, "SELECT source, status, message FROM source_run")}
    except sa.exc.OperationalError:   # the child has not made the tables yet
        return {}


def wait_for(condition, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def start_blocked_run(tmp_path: Path, url: str, server: Trickle) -> subprocess.Popen:
    """`jisseki run` whose file sources have landed and whose API source is blocked mid-request."""
    child = subprocess.Popen(cli(blocked_config(tmp_path, url, server.base_url)), env=child_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    wait_for(lambda: server.connections and {"moveout_log", "speech_usage"} <= set(runs_of(url)), 180)
    assert child.poll() is None
    return child


@pytest.mark.parametrize("signals", [(signal.SIGTERM,), (signal.SIGINT, signal.SIGTERM)], ids=["once", "twice"])
def test_a_signal_ends_a_run_blocked_in_io_within_seconds(tmp_path, monkeypatch, signals) -> None:
    write_unseen(tmp_path, 31)
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    url = f"sqlite:///{tmp_path / 'w.db'}"
    with Trickle() as server:
        child = start_blocked_run(tmp_path, url, server)
        sent = time.monotonic()
        for n, signum in enumerate(signals):
            if n:
                time.sleep(0.3)
            os.kill(child.pid, signum)
        code = child.wait(timeout=30)
        took = time.monotonic() - sent
        output = child.stdout.read().decode()
        # The lock is free: another run starts at once, and lands.
        assert run_nightly(tmp_path / "jisseki.toml", SUGGESTED_AS_OF, ["speech_usage"]) == 0
    assert code == 130 and took < 10, (code, took, output)
    runs = {s: (st, m) for s, st, m in query(url, "SELECT source, status, message FROM source_run")
            if s == "online_procedures"}
    if len(signals) == 1:   # a second signal may cut the recording short; never what cannot land
        assert "中断しました（SIGTERM）" in output
        assert runs["online_procedures"][0] == "failed"
        assert "停止の指示（SIGTERM）で中断しました" in runs["online_procedures"][1]
        assert query(url, "SELECT outcome FROM night_run WHERE finished_at IS NOT NULL")[0][0] == "failed"
    assert query(url, "SELECT COUNT(*) FROM kpi_actual WHERE source = 'online_procedures'")[0][0] == 0
    assert query(url, "SELECT COUNT(*) FROM run_lock")[0][0] == 0
    assert {"moveout_log", "speech_usage"} <= {s for (s,) in query(url, "SELECT DISTINCT source FROM kpi_actual")}


def test_a_source_past_its_deadline_fails_and_the_run_ends_with_the_others_landed(tmp_path, monkeypatch) -> None:
    procedures = write_unseen(tmp_path, 32)
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    url = f"sqlite:///{tmp_path / 'w.db'}"
    receiver = Receiver()
    try:
        with Trickle() as server:
            config = blocked_config(tmp_path, url, server.base_url, deadline_seconds=3)
            config.write_text(config.read_text("utf-8") + f'\n[alerts]\nurls = ["{receiver.url()}"]\n', "utf-8")
            started = time.monotonic()
            done = subprocess.run(cli(config), env=child_env(), capture_output=True, text=True, timeout=240)
            took = time.monotonic() - started
            assert server.connections, (done.returncode, done.stdout[-2000:], done.stderr[-2000:])
    finally:
        receiver.close()
    assert done.returncode == 1 and took < 180, (done.returncode, took, done.stdout, done.stderr)
    status, message = runs_of(url)["online_procedures"]
    assert status == "failed" and "期限 3 秒を過ぎても終わらなかったため打ち切りました" in message
    assert "online_procedures: 失敗 — 期限 3 秒" in done.stdout
    assert "online_procedures" in sources(receiver.messages, "取込失敗・不採用")
    assert_matches(landed(url), file_sources_only(expected_figures(tmp_path, procedures, [], SUGGESTED_AS_OF)))
    assert query(url, "SELECT COUNT(*) FROM kpi_evaluation")[0][0] >= 15   # every KPI graded
    assert query(url, "SELECT COUNT(*) FROM run_lock")[0][0] == 0


def test_a_stopped_run_leaves_no_process_behind_its_temporary_prefect_server_included(tmp_path, monkeypatch) -> None:
    """Without PREFECT_API_URL a run starts Prefect's temporary server as a child process, which only an atexit
    handler stops; a stopped run ends without those (blocked threads), so it must end its children itself. A
    child left behind would hold the run's stdout open: reading it to the end would never finish."""
    write_unseen(tmp_path, 33)
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    url = f"sqlite:///{tmp_path / 'w.db'}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_API")}
    env.update(PREFECT_HOME=str(tmp_path / "prefect-home"), PYTHONUNBUFFERED="1",
               PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="300")
    with Trickle() as server:
        child = subprocess.Popen(cli(blocked_config(tmp_path, url, server.base_url)), env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: server.connections and {"moveout_log", "speech_usage"} <= set(runs_of(url)), 300)
            os.kill(child.pid, signal.SIGTERM)
            output, _ = child.communicate(timeout=30)   # EOF: no process of the run holds the pipe any more
        finally:
            child.kill()
    assert child.returncode == 130, output.decode(errors="replace")
    assert runs_of(url)["online_procedures"][0] == "failed"
