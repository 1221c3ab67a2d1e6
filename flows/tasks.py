"""Prefect tasks: thin wrappers around the plain functions in connectors/, warehouse/, expectations/."""
from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import (
    create_link_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE
from sqlalchemy.exc import DBAPIError

from jisseki import progress as terminal
from jisseki.alerts.run import process_alerts, process_lock_alert
from jisseki.catalog import Catalog
from jisseki.config import Config
from jisseki.errors import DETAILS, JissekiError, internal_error
from jisseki.evaluate import Verdict, evaluate
from jisseki.pipeline import Incremental, Progress, collect
from jisseki.report import SOURCE_STATUS_TEXT, evaluation_rows
from jisseki.sources import SOURCE_DEFS
from warehouse.errors import WarehouseError
from warehouse.lock import Gate
from warehouse.store import current_figures, ingest_files, land, record_failure, save_evaluations


class SourceRejected(Exception):
    """Read, but unfit to land (too many bad rows or figures that fail validation)."""


def gx_root(config: Config) -> Path:
    """The file-based GX context (suites, results, Data Docs) lives beside the config: the data folder."""
    return config.base_dir / "gx-data"


def state_dir(config: Config) -> Path:
    """Derived state a source keeps between runs (the notification index), beside the GX folder."""
    return config.base_dir / "state"


@task(name="ingest-source", task_run_name="ingest-{name}", cache_policy=NO_CACHE)
def ingest_source(name: str, config: Config, catalog: Catalog, engine: Any, as_of: date, run_id: str,
                  gate: Gate | None = None) -> dict[str, Any]:
    """Collects and lands one source. Whatever fails on the way, landing included, ends in a failed source_run
    row (which the run summary and the source-failure alert read), unless the run gave up on the source first
    (gate closed: the run recorded why)."""
    logger = get_run_logger()
    source = SOURCE_DEFS[name]
    try:
        batch = collect(source, config.source(name), catalog, as_of,
                        config.max_bad_ratio(name, source.default_max_bad_ratio),
                        gx_root=gx_root(config), run_name=f"{run_id}-{name}", progress=_progress(name),
                        incremental=Incremental(ingest_files(engine, name), state_dir(config),
                                                {f.key: f for f in current_figures(engine, source.kpis(catalog))}))
        result = land(engine, batch, run_id, gate)
    except Exception as exc:
        message = failure_message(exc)
        # Through the gate: when the run gave up on the source (Abandoned among others), it recorded why.
        record_failure(engine, name, as_of, message, run_id, gate)
        if isinstance(exc, DBAPIError):   # its text (logged with the traceback) repeats the values being written
            raise WarehouseError(message) from None
        raise
    logger.info("%s: 読込 %d 行, 隔離 %d 行 %s, 集計値 %d, 新しい版 %d", name, batch.rows_read, batch.bad_rows,
                batch.reasons(), len(batch.figures), result.revisions_added)
    for note in batch.notes:
        logger.warning("%s: %s", name, note)
    if batch.rejected:
        raise SourceRejected(f"{name}: {batch.rejected}")
    return {"source": name, "reasons": batch.reasons()}


def failure_message(exc: Exception) -> str:
    """What a source_run row, the summary and the alert say of a failure. An expected error says what failed
    and what to do; anything else only its type and message, and a database error only its type and SQLSTATE:
    a driver's message and SQLAlchemy's text repeat the values that were being written."""
    if isinstance(exc, JissekiError):
        return str(exc)
    if isinstance(exc, DBAPIError):
        state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        return (f"倉庫への書き込みに失敗しました（{type(exc.orig).__name__}"
                f"{f'、SQLSTATE {state}' if state else ''}）{DETAILS}")
    return internal_error(exc) + DETAILS


def _progress(name: str) -> Callable[[Progress], None]:
    """To the terminal (when the CLI installed a sink) and to the Prefect UI as a progress artifact."""
    sink = terminal.current()
    artifact: dict[str, Any] = {"id": None, "at": 0.0}

    def report(p: Progress) -> None:
        if sink is not None:
            sink(p)
        if not p.total:
            return
        percent = 100.0 if p.finished else min(99.0, 100.0 * p.done / p.total)
        if artifact["id"] is None:
            artifact["id"] = create_progress_artifact(progress=percent, key=f"progress-{name.replace('_', '-')}",
                                                      description=f"{name} の読込状況（{p.unit}）")
        elif p.finished or time.monotonic() - artifact["at"] > 2:
            update_progress_artifact(artifact_id=artifact["id"], progress=percent)
        artifact["at"] = time.monotonic()

    return report


@task(name="evaluate", cache_policy=NO_CACHE)
def evaluate_kpis(engine: Any, catalog: Catalog, as_of: date) -> list[Verdict]:
    return evaluate(current_figures(engine), catalog, as_of)


@task(name="save-evaluation", cache_policy=NO_CACHE)
def save_evaluation(engine: Any, verdicts: list[Verdict], run_id: str) -> None:
    save_evaluations(engine, verdicts, run_id)


@task(name="alerts", cache_policy=NO_CACHE)
def send_alerts(engine: Any, config: Config, catalog: Catalog, verdicts: list[Verdict], as_of: date,
                run_id: str) -> None:
    summary = process_alerts(engine, config, catalog, verdicts, as_of, run_id)
    get_run_logger().info("アラート: 発生 %d 件 %s, 解消 %d 件, 送信 %d 通, 送信失敗 %d 通, 未送信 %d 通",
                          len(summary.raised), summary.raised, len(summary.resolved), summary.sent,
                          summary.failed, summary.pending)


@task(name="lock-alert", cache_policy=NO_CACHE)
def announce_lock(engine: Any, config: Config, refusal: str | None, as_of: date, run_id: str) -> None:
    summary = process_lock_alert(engine, config, refusal, as_of, run_id)
    if summary.raised or summary.resolved:
        get_run_logger().info("アラート（倉庫のロック）: 発生 %s, 解消 %s, 送信 %d 通, 送信失敗 %d 通",
                              summary.raised, summary.resolved, summary.sent, summary.failed)


@task(name="publish-evaluation-artifact", cache_policy=NO_CACHE)
def publish_evaluation(verdicts: list[Verdict], catalog: Catalog, as_of: date) -> None:
    create_table_artifact(
        key="kpi-evaluation", table=evaluation_rows(verdicts, catalog),
        description=f"KPI評価（{as_of.isoformat()} 時点）")


@task(name="publish-source-summary", cache_policy=NO_CACHE)
def publish_source_summary(runs: list[dict[str, Any]], reasons: dict[str, dict[str, int]], as_of: date) -> None:
    rows = [{"ソース": r["source"], "状態": SOURCE_STATUS_TEXT.get(r["status"], r["status"]), "読込行": r["rows_read"],
             "隔離行": r["rows_quarantined"],
             "隔離の内訳": ", ".join(f"{code} {n}" for code, n in sorted(reasons.get(r["source"], {}).items())) or "—",
             "集計値": r["figures"], "新しい版": r["revisions_added"], "メッセージ": r["message"]} for r in runs]
    create_table_artifact(key="source-summary", table=rows,
                          description=f"ソース別の取込結果（{as_of.isoformat()} 時点）")


@task(name="publish-data-docs", cache_policy=NO_CACHE)
def publish_data_docs(config: Config) -> None:
    from expectations import runner

    if runner.validated():
        index = runner.build_data_docs(gx_root(config))
        for note in runner.take_notes():   # a folder damaged since the sources validated
            get_run_logger().warning(note)
    else:
        # Nothing was validated: the last site stands, and GX (seconds to import) stays unloaded.
        index = runner.site_index(gx_root(config))
        if not index.exists():
            return
    create_link_artifact(key="gx-data-docs", link=index.as_uri(), link_text="Great Expectations Data Docs",
                         description="このサーバーから開ける場所にある検証結果（直近30回分）")
