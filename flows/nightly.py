"""The nightly flow: every configured source concurrently, then evaluation."""
from __future__ import annotations

from datetime import date

from prefect import flow
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner
from sqlalchemy import Engine

from flows.tasks import (
    evaluate_kpis,
    ingest_source,
    publish_data_docs,
    publish_evaluation,
    publish_source_summary,
    save_evaluation,
    send_alerts,
)
from jisseki.catalog import Catalog, load_catalog
from jisseki.config import Config, load_config
from jisseki.errors import ConfigError, JissekiError
from jisseki.periods import as_of_day, parse_day
from warehouse.lock import exclusive_run
from warehouse.store import connect, recorded_night, source_runs

FLOW_NAME = "jisseki-nightly"


class SourcesFailed(JissekiError):
    """Some sources did not land; the others did, and the evaluation ran."""


@flow(name=FLOW_NAME, task_runner=ThreadPoolTaskRunner(max_workers=4), validate_parameters=False)
def nightly(config_path: str, as_of: str | None = None, sources: list[str] | None = None,
            wait_seconds: float = 0.0) -> dict[str, str]:
    day = as_of_day(parse_day(as_of) if as_of else None)   # before anything is read or saved
    config = load_config(config_path)
    run_id = str(flow_run.get_id() or "local")
    catalog = load_catalog(config.catalog.path)
    engine = connect(config.warehouse.url)
    names = select_sources(config.enabled_sources(), sources)
    with exclusive_run(engine, wait_seconds), recorded_night(engine, run_id, day) as night:
        outcome = _collect_and_evaluate(config, catalog, engine, names, day, run_id)
        night["value"] = "landed" if all(state == "landed" for state in outcome.values()) else "partial"
    failed = sorted(name for name, state in outcome.items() if state != "landed")
    if failed:
        raise SourcesFailed("取り込めなかったソース: " + ", ".join(failed))
    return outcome


def _collect_and_evaluate(config: Config, catalog: Catalog, engine: Engine, names: list[str], day: date,
                          run_id: str) -> dict[str, str]:
    futures = {name: ingest_source.submit(name, config, catalog, engine, day, run_id) for name in names}
    outcome, reasons = {}, {}
    for name, future in futures.items():
        future.wait()
        outcome[name] = "landed" if future.state.is_completed() else f"failed: {future.state.message}"
        if future.state.is_completed():
            reasons[name] = future.result()["reasons"]
    verdicts = evaluate_kpis(engine, catalog, day)
    save_evaluation(engine, verdicts, run_id)
    publish_evaluation(verdicts, catalog, day)
    publish_source_summary(source_runs(engine, run_id), reasons, day)
    if futures:
        publish_data_docs(config)
    send_alerts(engine, config, catalog, verdicts, day, run_id)
    return outcome


def select_sources(enabled: list[str], wanted: list[str] | None) -> list[str]:
    if not wanted:
        return enabled
    unknown = [name for name in wanted if name not in enabled]
    if unknown:
        raise ConfigError(f"設定にないソースです: {', '.join(unknown)}（設定済み: {', '.join(enabled) or 'なし'}）")
    return [name for name in enabled if name in wanted]
