"""The nightly deployment as an operator runs it: a Prefect server, `prefect deploy --all` to a process work pool,
a worker and `jisseki serve`, each a subprocess, side by side on one server."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from jisseki.config import ConfigError, config_file
from jisseki.deployment import definition
from tests.digests import entries
from tests.handcount import expected_figures
from tests.support import Receiver, table_counts, write_config
from tests.test_exactness import assert_matches, landed
from tests.test_faults_runs import file_sources_only
from tests.unseen import SUGGESTED_AS_OF, write_unseen
from warehouse.lock import exclusive_run
from warehouse.store import connect

ROOT = Path(__file__).resolve().parents[1]
PREFECT = [sys.executable, "-m", "prefect"]
POOL, SERVED = "jisseki-nightly/nightly", "jisseki-nightly/nightly-serve"
LOCKED_TITLE = "【未実行】夜間処理 倉庫が使用中"


class Processes:
    """Every process the test starts runs in its own session and carries a tag in its environment, which its
    children inherit (a worker's flow runs start sessions of their own), so all of them can be found and ended."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.tag = uuid.uuid4().hex
        self.env = {**env, "JISSEKI_TEST_PROCESS_TAG": self.tag}
        self.logs = logs
        self.started: list[subprocess.Popen] = []

    def start(self, name: str, args: list[str], cwd: Path, **env: str) -> subprocess.Popen:
        log = (self.logs / f"{name}.log").open("wb")
        proc = subprocess.Popen(args, cwd=cwd, env={**self.env, **env}, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        log.close()
        self.started.append(proc)
        return proc

    def run(self, args: list[str], cwd: Path) -> str:
        done = subprocess.run(args, cwd=cwd, env=self.env, capture_output=True, text=True, timeout=180,
                              start_new_session=True)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text("utf-8", errors="replace")

    def tagged(self) -> list[int]:
        """Live processes with the tag (zombies have no environment left to read)."""
        found = []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and f"JISSEKI_TEST_PROCESS_TAG={self.tag}".encode() in \
                        (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                pass  # gone meanwhile, or not ours to read
        return found

    def end_all(self) -> None:
        for proc in self.started:
            _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.started:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass  # the worker forwards SIGTERM to itself as SIGINT and lingers; SIGKILL below
        for _ in range(50):
            pids = self.tagged()
            if not pids:
                return
            for proc in self.started:
                _signal_group(proc.pid, signal.SIGKILL)
            for pid in pids:
                _signal(pid, signal.SIGKILL)
            for proc in self.started:
                try:
                    proc.wait(timeout=0.1)
                except subprocess.TimeoutExpired:
                    pass
            time.sleep(0.1)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what: str, check: Any, timeout: float, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


@contextmanager
def prefect_client(api_url: str) -> Iterator[Any]:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        yield client


def finished(client: Any, run_id: Any, timeout: float = 300) -> Any:
    return wait_for(f"flow run {run_id}", lambda: (run := client.read_flow_run(run_id)).state.is_final() and run,
                    timeout, every=1.0)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Server, work pool, `prefect deploy --all`, a worker and `jisseki serve`; everything ended afterwards."""
    data = tmp_path / "data"
    data.mkdir()
    write_unseen(data, 41)
    receiver = Receiver()
    url = f"sqlite:///{data / 'warehouse.db'}"
    config = write_config(data, url, None, alerts={"urls": [receiver.url()]})
    api = f"http://127.0.0.1:{free_port()}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}  # nothing of the test's own server
    env.update({
        "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "GX_ANALYTICS_ENABLED": "false",
        "PREFECT_HOME": str(tmp_path / "prefect-home"), "PREFECT_API_URL": api, "PYTHONUNBUFFERED": "1",
        # No 02:00 run may be created while the test runs; the schedules themselves are what is checked.
        "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
        # Shorter waits than production so the test stays short: an enqueued run retries its slot after 5 s,
        # a worker and serve poll every 2 s.
        "PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS": "5", "PREFECT_WORKER_QUERY_SECONDS": "2",
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",
    })
    procs = Processes(env, tmp_path)
    try:
        server = procs.start("server", [*PREFECT, "server", "start", "--host", "127.0.0.1", "--port",
                                        api.rsplit(":", 1)[1].removesuffix("/api")], tmp_path)
        wait_for("the server's /api/health", lambda: server.poll() is None and _healthy(api), 120)
        assert server.poll() is None, procs.log("server")
        procs.run([*PREFECT, "work-pool", "create", "jisseki-process", "--type", "process"], tmp_path)
        procs.run([*PREFECT, "--no-prompt", "deploy", "--all"], ROOT)  # from the checkout, as the README says
        # The worker runs elsewhere and has the config only through its environment.
        worker = procs.start("worker", [*PREFECT, "worker", "start", "--pool", "jisseki-process"], tmp_path,
                             JISSEKI_CONFIG=str(config))
        serve_started = datetime.now(timezone.utc)
        serve = procs.start("serve", [sys.executable, "-m", "jisseki.cli", "serve", "--config", str(config)],
                            tmp_path)
        yield {"procs": procs, "api": api, "url": url, "data": data, "receiver": receiver, "serve": serve,
               "serve_started": serve_started, "worker": worker}
    finally:
        procs.end_all()
        receiver.close()
    assert procs.tagged() == [], "a process started by the test outlived it"


def locked(receiver: Receiver) -> list[str]:
    """The digest sections that told of the lock: fired, then resolved."""
    return [section for section, line in entries(receiver.messages)
            if line.startswith(LOCKED_TITLE) or line.endswith("時点の分）を開始できませんでした")]


def _healthy(api: str) -> bool:
    try:
        return httpx.get(f"{api}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.e2e
def test_served_and_work_pool_deployments_side_by_side_overlapping_runs_wait(stack: dict[str, Any]) -> None:
    procs, url, receiver = stack["procs"], stack["url"], stack["receiver"]
    spec = definition()
    as_of = SUGGESTED_AS_OF.isoformat()
    with prefect_client(stack["api"]) as client:
        served = wait_for("serve to poll", lambda: _polled_since(client, SERVED, stack["serve_started"]), 120)
        assert {stack["serve"].pid, stack["worker"].pid} <= set(procs.tagged())  # the final check can see them
        pooled = client.read_deployment_by_name(POOL)
        for deployed in (pooled, served):
            (schedule,) = deployed.schedules
            assert (schedule.schedule.cron, schedule.schedule.timezone, schedule.active) == \
                ("0 2 * * *", "Asia/Tokyo", True)
            assert not deployed.paused
            assert deployed.global_concurrency_limit.limit == 1
            assert deployed.concurrency_options.collision_strategy == "ENQUEUE"
            assert deployed.description == spec["description"]
        assert (pooled.name, served.name) == ("nightly", "nightly-serve")
        # Serving did not take over the work pool's deployment: its entrypoint and pull step are as deployed.
        assert pooled.entrypoint == spec["entrypoint"] == "flows/nightly.py:nightly"
        assert pooled.work_pool_name == "jisseki-process"
        assert pooled.pull_steps == [{"prefect.deployments.steps.set_working_directory": {"directory": str(ROOT)}}]
        assert pooled.parameters == {"wait_seconds": 3600}
        assert served.parameters == {"wait_seconds": 3600, "config_path": str(stack["data"] / "jisseki.toml")}

        # A run that cannot get the warehouse lock: Failed, saying who holds it and what to do, and one alert.
        engine = connect(url)
        with exclusive_run(engine):
            run = client.create_flow_run_from_deployment(pooled.id, parameters={"as_of": as_of, "wait_seconds": 2})
            refused = finished(client, run.id)
        assert refused.state.is_failed(), refused.state
        message = refused.state.message
        assert f"{socket.gethostname()} の PID {os.getpid()}" in message and "UTC から" in message, message
        assert "2 秒待っても開始できませんでした" in message and "Prefect UI" in message and "次の定時実行" in message
        assert "--wait" not in message
        [digest] = receiver.messages
        assert "・未実行 1 件・" in digest["title"] and f"PID {os.getpid()}" in digest["message"]
        assert locked(receiver) == ["夜間処理の未実行"] and f"フロー実行 ID: {run.id}" in digest["message"]
        assert table_counts(url)["kpi_actual"] == 0  # it collected nothing

        # Two runs of the work-pool deployment at the same moment: one after the other, both Completed.
        first, second = (client.create_flow_run_from_deployment(pooled.id, parameters={"as_of": as_of})
                         for _ in range(2))
        runs = sorted((finished(client, r.id) for r in (first, second)), key=lambda r: r.start_time)
        assert [r.state.type.value for r in runs] == ["COMPLETED", "COMPLETED"], [r.state for r in runs]
        assert runs[0].end_time <= runs[1].start_time, [(r.start_time, r.end_time) for r in runs]
        assert "AwaitingConcurrencySlot" in {s.name for s in client.read_flow_run_states(runs[1].id)}  # enqueued
        assert_matches(landed(url), file_sources_only(expected_figures(stack["data"], [], [], SUGGESTED_AS_OF)))
        # The first run that got the lock resolved the alert, once.
        assert locked(receiver) == ["夜間処理の未実行", "解消"]

        # A served run started while the warehouse is held waits for it (the definition's wait), then completes.
        with exclusive_run(engine):
            run = client.create_flow_run_from_deployment(served.id, parameters={"as_of": as_of})
            wait_for("the served run to start", lambda: client.read_flow_run(run.id).state.is_running(), 120)
            time.sleep(3)
            released = datetime.now(timezone.utc)
        waited = finished(client, run.id)
        assert waited.state.is_completed(), waited.state
        assert waited.start_time < released < waited.end_time

        # Stopping serve pauses what it served, and only that; serving again resumes it.
        os.killpg(stack["serve"].pid, signal.SIGTERM)
        stack["serve"].wait(timeout=60)
        assert "paused" in procs.log("serve")
        assert client.read_deployment_by_name(SERVED).paused
        assert not client.read_deployment_by_name(POOL).paused
        restarted = datetime.now(timezone.utc)
        again = procs.start("serve-again", stack["serve"].args, stack["data"])
        # A serve stopped before its runner polls exits without pausing: wait until it polled.
        assert not wait_for("serve to poll again", lambda: _polled_since(client, SERVED, restarted), 120).paused
        os.killpg(again.pid, signal.SIGTERM)
        again.wait(timeout=60)
        assert client.read_deployment_by_name(SERVED).paused and not client.read_deployment_by_name(POOL).paused


def _polled_since(client: Any, name: str, moment: datetime) -> Any:
    """The deployment once a runner serving it has polled for runs after moment: then it has started."""
    from prefect.exceptions import ObjectNotFound

    try:
        found = client.read_deployment_by_name(name)
    except ObjectNotFound:
        return None
    return found if found.last_polled and found.last_polled > moment else None


def test_the_config_comes_from_the_parameter_else_jisseki_config_else_an_error_naming_both(tmp_path) -> None:
    given = tmp_path / "given.toml"
    assert config_file(given, {"JISSEKI_CONFIG": "/elsewhere.toml"}) == given
    assert config_file(None, {"JISSEKI_CONFIG": str(given)}) == given
    with pytest.raises(ConfigError) as raised:
        config_file(None, {})
    assert "config_path" in str(raised.value) and "JISSEKI_CONFIG" in str(raised.value)


def test_serve_takes_the_definition_and_lets_the_config_change_its_schedule(tmp_path) -> None:
    from flows.deploy import deployment
    from jisseki.config import load_config

    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'w.db'}", None, speech="")
    deployed = deployment(config, load_config(config))
    assert deployed.name == "nightly-serve" and deployed.flow_name == "jisseki-nightly"
    assert (deployed.schedules[0].schedule.cron, deployed.schedules[0].schedule.timezone) == ("0 2 * * *", "Asia/Tokyo")
    assert deployed.parameters == {"wait_seconds": 3600, "config_path": str(config)}
    assert (deployed.concurrency_limit, deployed.concurrency_options.collision_strategy) == (1, "ENQUEUE")
    assert deployed.entrypoint == "flows.nightly.nightly"

    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'w.db'}", None, speech="", schedule={"cron": "30 3 * * *"})
    schedule = deployment(config, load_config(config)).schedules[0].schedule
    assert (schedule.cron, schedule.timezone) == ("30 3 * * *", "Asia/Tokyo")
