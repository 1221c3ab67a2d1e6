"""Races that only a fresh interpreter shows: source tasks importing heavy libraries in their threads.

The suite's own process imported GX long ago, so these run `jisseki` as new processes."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.handcount import expected_figures
from tests.sample_api import SampleApi
from tests.support import TOKEN, TOKEN_ENV, write_config
from tests.test_exactness import assert_matches, landed
from tests.test_flow import source_runs
from tests.unseen import write_unseen
from tests.unseen_more import SUGGESTED_AS_OF_MORE, write_unseen_more

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_harness")]
ROOT = Path(__file__).resolve().parents[1]
NOCODE_ENV = "JISSEKI_TEST_NOCODE_TOKEN"


def six_sources(tmp_path: Path, procedures_url: str, nocode_url: str, url: str) -> Path:
    return write_config(tmp_path, url, procedures_url, **{
        "sources.nocode_apps": {"base_url": nocode_url, "token_env": NOCODE_ENV, "max_retries": 1},
        "sources.dataviz_access": {"path": "dataviz", "departments": "departments.csv"},
        "sources.manual_entries": {"path": "manual"}})


def guarded_run(config: Path, report: Path) -> subprocess.CompletedProcess:
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), TOKEN_ENV: TOKEN, NOCODE_ENV: TOKEN}
    return subprocess.run([sys.executable, str(ROOT / "tests" / "import_guard.py"), str(report), "run",
                           "--config", str(config), "--as-of", SUGGESTED_AS_OF_MORE.isoformat()],
                          env=env, capture_output=True, text=True, timeout=600)


def test_fresh_runs_of_all_six_sources_each_land_and_import_nothing_heavy_unguarded(tmp_path) -> None:
    procedures = write_unseen(tmp_path, 41)
    apps = write_unseen_more(tmp_path, 41)
    with SampleApi(procedures, TOKEN) as api, SampleApi.nocode(apps, TOKEN) as nocode:
        for attempt in range(3):
            url = f"sqlite:///{tmp_path / f'w{attempt}.db'}"
            config = six_sources(tmp_path, api.base_url, nocode.base_url, url)
            for derived in ("gx-data", "state"):   # each run a first run: every source validates at once
                shutil.rmtree(tmp_path / derived, ignore_errors=True)
            report = tmp_path / f"guard{attempt}.json"
            done = guarded_run(config, report)
            assert done.returncode == 0, done.stdout + done.stderr[-3000:]
            assert {s: st for s, (st, _) in source_runs(url).items()} == dict.fromkeys(
                ("online_procedures", "moveout_log", "speech_usage", "nocode_apps", "dataviz_access",
                 "manual_entries"), "landed")
            assert json.loads(report.read_text("utf-8")) == []
            assert_matches(landed(url), expected_figures(tmp_path, procedures, apps, SUGGESTED_AS_OF_MORE))


FIRST_TOUCH = """
import sys, threading
from expectations.runner import prepare, validate
start = threading.Barrier(3)
errors = []
def touch(call):
    start.wait()
    try:
        call()
    except BaseException as exc:
        errors.append(repr(exc))
calls = [lambda: validate("speech_usage.records", [{"session_id": "s"}]),
         lambda: validate("dataviz_access.records", [{"department_code": "D1"}]),
         lambda: prepare("moveout_log.records")]
threads = [threading.Thread(target=touch, args=(c,)) for c in calls]
[t.start() for t in threads]
[t.join() for t in threads]
print(errors)
sys.exit(1 if errors else 0)
"""


def test_three_threads_touching_gx_first_at_the_same_moment_all_succeed() -> None:
    """Three of the source paths that first touch GX, released together in fresh interpreters (before the
    fix, about one in four such processes ended in _DeadlockError or a partially initialised module)."""
    env = {**os.environ, "GX_ANALYTICS_ENABLED": "false"}
    results: list[subprocess.CompletedProcess] = []

    def one() -> None:
        results.append(subprocess.run([sys.executable, "-c", FIRST_TOUCH], env=env, capture_output=True,
                                      text=True, timeout=300, cwd=ROOT))

    for _ in range(3):   # two interpreters at a time, so each also competes for the CPU
        pair = [threading.Thread(target=one) for _ in range(2)]
        [t.start() for t in pair]
        [t.join() for t in pair]
    assert [(r.returncode, r.stdout.strip()) for r in results] == [(0, "[]")] * 6, [r.stderr[-2000:] for r in results]
