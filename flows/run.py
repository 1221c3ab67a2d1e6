"""`jisseki run`: one nightly flow run now, with a summary and an exit code operators can script on."""
from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

from jisseki.config import load_config
from jisseki.report import SOURCE_STATUS_TEXT
from warehouse.store import connect, source_runs


def run_nightly(config_path: Path, as_of: date | None, sources: list[str] | None, wait_seconds: float = 0.0) -> int:
    from flows.nightly import nightly, select_sources
    from jisseki import progress

    config = load_config(config_path)
    select_sources(config.enabled_sources(), sources)  # a typo fails before Prefect starts
    config.alerts.channel_urls()  # so does a missing env: alert URL
    connect(config.warehouse.url).dispose()  # so does an unreachable warehouse
    progress.install(sys.stderr)
    state = nightly(str(config_path), as_of.isoformat() if as_of else None, sources, wait_seconds,
                    return_state=True)
    run_id = str(state.state_details.flow_run_id)
    runs = source_runs(connect(config.warehouse.url), run_id)
    for run in runs:
        print(f"{run['source']}: {SOURCE_STATUS_TEXT.get(run['status'], run['status'])} "
              f"読込 {run['rows_read']} 行 / 隔離 {run['rows_quarantined']} 行 / "
              f"集計値 {run['figures']} / 新しい版 {run['revisions_added']} — {run['message']}")
    if state.is_completed():
        print(f"フロー実行 {run_id}: 完了")
        return 0
    failed = [r["source"] for r in runs if r["status"] != "landed"]
    if failed:
        print(f"フロー実行 {run_id}: 取り込めなかったソース — {', '.join(failed)}", file=sys.stderr)
    else:
        print(f"フロー実行 {run_id}: 失敗 — {state.message}", file=sys.stderr)
    return 1
