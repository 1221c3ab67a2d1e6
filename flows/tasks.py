"""Prefect tasks: thin wrappers around the plain functions in connectors/, warehouse/, expectations/."""
from __future__ import annotations

from datetime import date
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from connectors.errors import SourceError
from jisseki.alerts.run import process_alerts
from jisseki.catalog import Catalog
from jisseki.config import Config
from jisseki.evaluate import Verdict, evaluate
from jisseki.pipeline import collect
from jisseki.report import evaluation_rows
from jisseki.sources import SOURCE_DEFS
from warehouse.store import current_figures, land, record_failure, save_evaluations


class SourceRejected(Exception):
    """Read, but unfit to land (too many bad rows or figures that fail validation)."""


@task(name="ingest-source", task_run_name="ingest-{name}", cache_policy=NO_CACHE)
def ingest_source(name: str, config: Config, catalog: Catalog, engine: Any, as_of: date,
                  run_id: str) -> dict[str, Any]:
    logger = get_run_logger()
    source = SOURCE_DEFS[name]
    try:
        batch = collect(source, config.source(name), catalog, as_of,
                        config.max_bad_ratio(name, source.default_max_bad_ratio))
    except SourceError as exc:
        record_failure(engine, name, as_of, str(exc), run_id)
        raise
    except Exception as exc:
        # Unexpected errors are recorded by type and message only: never a request or its headers.
        message = f"内部エラー {type(exc).__name__}: {exc}"
        record_failure(engine, name, as_of, message[:500], run_id)
        raise
    result = land(engine, batch, run_id)
    logger.info("%s: 読込 %d 行, 隔離 %d 行 %s, 集計値 %d, 新しい版 %d", name, batch.rows_read, batch.bad_rows,
                batch.reasons(), len(batch.figures), result.revisions_added)
    if batch.rejected:
        raise SourceRejected(f"{name}: {batch.rejected}")
    return {"source": name, "rows_read": batch.rows_read, "quarantined": batch.bad_rows,
            "figures": len(batch.figures), "revisions_added": result.revisions_added}


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


@task(name="publish-evaluation-artifact", cache_policy=NO_CACHE)
def publish_evaluation(verdicts: list[Verdict], catalog: Catalog, as_of: date) -> None:
    create_table_artifact(
        key="kpi-evaluation", table=evaluation_rows(verdicts, catalog),
        description=f"KPI評価（{as_of.isoformat()} 時点）")
