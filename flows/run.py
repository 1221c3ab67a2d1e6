"""`jisseki run`: one nightly flow run now, with a summary and an exit code operators can script on."""
from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

from jisseki.catalog import load_catalog
from jisseki.config import load_config, reading_once
from jisseki.core.errors import DETAILS, ExitCode, JissekiError
from jisseki.core.periods import as_of_day
from jisseki.report import SOURCE_STATUS_TEXT
from warehouse.store import connect, source_runs


def run_nightly(config_path: Path, as_of: date | None, sources: list[str] | None, wait_seconds: float = 0.0,
                restate: bool = False) -> int:
    from flows.nightly import nightly, refuse_earlier_as_of, select_sources
    from jisseki import progress

    day = as_of_day(as_of)   # a day that has not happened fails here, before Prefect starts
    config = load_config(config_path)
    names = select_sources(config.enabled_sources(), sources)  # a typo fails before Prefect starts
    config.alerts.channel_urls()  # so does a missing env: alert URL
    config.alerts.check_routes(load_catalog(config.catalog.path).departments())  # and a route to no department
    engine = connect(config.warehouse.url)  # so does an unreachable warehouse
    try:
        refuse_earlier_as_of(engine, names, day, restate)  # and an as-of before what has landed
    finally:
        engine.dispose()
    progress.install(sys.stderr)
    with reading_once(config_path, config):
        state = nightly(str(config_path), as_of.isoformat() if as_of else None, sources, wait_seconds, restate,
                        return_state=True)
    run_id = str(state.state_details.flow_run_id)
    runs = source_runs(connect(config.warehouse.url), run_id)
    for run in runs:
        print(summary_line(run))
    if state.is_completed():
        print(f"フロー実行 {run_id}: 完了")
        return ExitCode.OK
    failed = [r["source"] for r in runs if r["status"] != "landed"]
    if failed:
        print(f"フロー実行 {run_id}: 取り込めなかったソース — {', '.join(failed)}", file=sys.stderr)
        return ExitCode.FAILED
    error = state.result(raise_on_failure=False)
    if isinstance(error, JissekiError):
        print(f"フロー実行 {run_id}: {error}", file=sys.stderr)
        return error.exit_code
    print(f"フロー実行 {run_id}: 失敗 — {type(error).__name__}: {error}{DETAILS}", file=sys.stderr)
    return ExitCode.FAILED


def summary_line(run: dict) -> str:
    """One line per source: counts when it landed, what went wrong and what to do when not."""
    status = SOURCE_STATUS_TEXT.get(run["status"], run["status"])
    if run["status"] != "landed":
        return f"{run['source']}: {status} — {run['message']}"
    counts = (f"読込 {run['rows_read']:,} 行 / 隔離 {run['rows_quarantined']:,} 行 / 集計値 {run['figures']:,} / "
              f"新しい版 {run['revisions_added']:,}")
    return f"{run['source']}: {status} {counts}" + (f" — {run['message']}" if run["message"] else "")
