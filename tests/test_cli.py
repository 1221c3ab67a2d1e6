"""The CLI as an operator meets it, in fresh processes: exit codes, one Japanese line per failure, no
tracebacks unless asked for, dates that have not happened refused."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from jisseki.core.periods import today_jst
from tests.support import table_counts, write_config
from tests.unseen import SUGGESTED_AS_OF, write_unseen
from warehouse.lock import exclusive_run
from warehouse.store import connect

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_harness")]
# Words of Python's, pydantic's and argparse's English that must not reach people.
ENGLISH = re.compile(r"Traceback|Error:|error:|Field required|Value error|not found|not configured|figures")


def jisseki(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    from prefect.settings import PREFECT_API_URL

    return subprocess.run([sys.executable, "-m", "jisseki.cli", *args], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), **(env or {})})


@pytest.fixture(scope="module")
def landed(tmp_path_factory) -> tuple[Path, str]:
    """A config with the two file sources of unseen data, landed once as of SUGGESTED_AS_OF."""
    root = tmp_path_factory.mktemp("cli")
    write_unseen(root, 7)
    url = f"sqlite:///{root / 'w.db'}"
    config = write_config(root, url, None)
    done = jisseki("run", "--config", str(config), "--as-of", SUGGESTED_AS_OF.isoformat())
    assert done.returncode == 0, done.stderr
    return config, url


def status(config: Path) -> str:
    done = jisseki("status", "--config", str(config), "--format", "json")
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_version() -> None:
    from importlib.metadata import version

    done = jisseki("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"jisseki {version('jisseki')}"


def test_an_as_of_that_has_not_happened_is_refused_and_changes_nothing(landed) -> None:
    config, url = landed
    before, counts = status(config), table_counts(url)
    next_year = date(today_jst().year + 1, 1, 5)
    for args in (["run", "--as-of", next_year.isoformat()],
                 ["run", "--as-of", (today_jst() + timedelta(days=1)).isoformat()],
                 ["backfill", "--from", "2026-04-01", "--to", next_year.isoformat()]):
        done = jisseki(*args[:1], "--config", str(config), *args[1:])
        assert done.returncode == 2, done.stderr
        assert "より後の日付です" in done.stderr and "YYYY-MM-DD" in done.stderr and not ENGLISH.search(done.stderr)
    assert status(config) == before and table_counts(url) == counts


@pytest.mark.parametrize("written", ["2026/04/15", "2026-4-15", "20260415", "2026-W16-3", "yesterday"])
def test_an_as_of_in_another_form_says_how_to_write_it(landed, written) -> None:
    done = jisseki("run", "--config", str(landed[0]), "--as-of", written)
    assert done.returncode == 2
    assert "YYYY-MM-DD" in done.stderr and "エラー" in done.stderr


def test_a_failed_source_is_one_japanese_line_with_what_to_do_and_no_traceback(tmp_path) -> None:
    write_unseen(tmp_path, 8)
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'w.db'}", None, moveout="missing-folder")
    done = jisseki("run", "--config", str(config), "--as-of", SUGGESTED_AS_OF.isoformat())
    assert done.returncode == 1
    lines = [line for line in (done.stdout + done.stderr).splitlines() if "moveout_log" in line and "失敗" in line]
    assert len(lines) == 1, done.stdout + done.stderr
    assert "missing-folder" in lines[0] and "フォルダを作成してください" in lines[0]
    assert not ENGLISH.search(done.stdout + done.stderr), done.stderr[-2000:]
    assert re.search(r"speech_usage: 取込済 読込 [\d,]+ 行", done.stdout)

    debug = jisseki("run", "--debug", "--config", str(config), "--as-of", SUGGESTED_AS_OF.isoformat())
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def test_config_errors_exit_2_in_japanese_naming_the_key(tmp_path) -> None:
    config = tmp_path / "jisseki.toml"
    config.write_text("[sources.online_procedures]\nbase_url = 'http://127.0.0.1:1'\n", "utf-8")
    done = jisseki("run", "--config", str(config))
    assert done.returncode == 2
    assert "設定エラー" in done.stderr and "[sources.online_procedures]" in done.stderr
    assert not ENGLISH.search(done.stderr), done.stderr
    missing = jisseki("status", "--config", str(tmp_path / "nope.toml"))
    assert missing.returncode == 2 and "がありません" in missing.stderr and not ENGLISH.search(missing.stderr)


def test_a_run_while_another_holds_the_warehouse_exits_3(landed) -> None:
    config, url = landed
    with exclusive_run(connect(url)):
        done = jisseki("run", "--config", str(config), "--as-of", SUGGESTED_AS_OF.isoformat())
    assert done.returncode == 3, done.stdout + done.stderr
    assert "別の jisseki run が実行中です" in done.stderr and not ENGLISH.search(done.stderr)


def test_report_onto_a_file_is_refused_in_japanese(landed, tmp_path) -> None:
    target = tmp_path / "report.html"
    target.write_text("keep me", "utf-8")
    done = jisseki("report", "--config", str(landed[0]), "--out", str(target))
    assert done.returncode == 2 and "フォルダを指定してください" in done.stderr
    assert target.read_text("utf-8") == "keep me"


def test_a_deployment_run_with_a_future_as_of_fails_before_anything_is_saved(tmp_path) -> None:
    from flows.nightly import nightly
    from jisseki.core.errors import UsageError

    write_unseen(tmp_path, 9)
    url = f"sqlite:///{tmp_path / 'w.db'}"
    config = write_config(tmp_path, url, None)
    state = nightly(str(config), (today_jst() + timedelta(days=1)).isoformat(), return_state=True)
    assert state.is_failed() and isinstance(state.result(raise_on_failure=False), UsageError)
    assert not (tmp_path / "w.db").exists() or not any(table_counts(url).values())
