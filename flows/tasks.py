"""Prefect tasks: thin wrappers around the plain functions in connectors/, warehouse/, expectations/."""
from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect import get_run_logger, task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE
from sqlalchemy.exc import DBAPIError

from expectations.runner import SuiteTally, take_tallies
from jisseki import progress as terminal
from jisseki.alerts.run import process_alerts, process_lock_alert
from jisseki.batch import Incremental, Progress
from jisseki.catalog import Catalog
from jisseki.config import Config
from jisseki.core.errors import DETAILS, JissekiError, internal_error
from jisseki.evaluate import Verdict, evaluate
from jisseki.pipeline import collect
from jisseki.rejections import reason_text
from jisseki.report import SOURCE_STATUS_TEXT, evaluation_rows
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
    source = config.source_def(name)
    progress, outcome = None, "failed"
    try:
        try:
            progress = _ProgressArtifact(name)
            batch = collect(source, config.source(name), catalog, as_of,
                            config.max_bad_ratio(name, source.default_max_bad_ratio),
                            gx_root=gx_root(config), run_name=_run_name(run_id, name), progress=progress,
                            incremental=Incremental(ingest_files(engine, name), state_dir(config),
                                                    {f.key: f for f in current_figures(engine, catalog.kpis(name))}))
            result = land(engine, batch, run_id, gate)
        except Exception as exc:
            message = failure_message(exc)
            # Through the gate: when the run gave up on the source (Abandoned among others), it recorded why.
            record_failure(engine, name, as_of, message, run_id, gate)
            if isinstance(exc, DBAPIError):   # its text (logged with the traceback) repeats the values being written
                raise WarehouseError(message) from None
            raise
        outcome = result.status
    finally:
        tallies = take_tallies(_run_name(run_id, name))
        try:   # what the UI shows: it must neither hide why a source failed nor fail one that landed
            if progress is not None:
                progress.end(outcome)
            publish_validation(name, tallies)
        except Exception as exc:
            logger.warning("%s: 進捗と検証結果を Prefect に保存できませんでした（%s）", name, internal_error(exc))
    logger.info("%s: 読込 %d 行, 隔離 %d 行 %s, 集計値 %d, 新しい版 %d", name, batch.rows_read, batch.bad_rows,
                batch.reasons(), len(batch.figures), result.revisions_added)
    for note in batch.notes:
        logger.warning("%s: %s", name, note)
    if batch.rejected:
        raise SourceRejected(f"{name}: {batch.rejected}")
    return {"source": name, "reasons": batch.reasons()}


def _run_name(run_id: str, name: str) -> str:
    """The name GX keeps one source's validation results of one run under (and the tally of them)."""
    return f"{run_id}-{name}"


def _key(prefix: str, name: str) -> str:
    """Artifact keys take lowercase letters, digits and dashes only."""
    return f"{prefix}-{name.replace('_', '-')}"


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


class _ProgressArtifact:
    """progress-<source> in the Prefect UI, for every source of a run: 0 as it starts, how far it has read while
    it runs (when the source says how much there is: files, or API pages with a total), 100 when it has ended,
    landed or not, with how it ended. Its progress reports also go to the terminal when the CLI installed a sink."""

    def __init__(self, name: str) -> None:
        self.name, self.sink, self.at = name, terminal.current(), time.monotonic()
        # Prefect's async_dispatch types the result as UUID | Coroutine; called here, outside async code, it
        # is the UUID.
        self.id: UUID = create_progress_artifact(  # type: ignore[assignment]
            progress=0.0, key=_key("progress", name), description=f"{name} の読込状況: 開始しました")

    def __call__(self, p: Progress) -> None:
        if self.sink is not None:
            self.sink(p)
        if not p.total or p.finished or time.monotonic() - self.at < 2:
            return   # the end is end()'s: after landing, which can still fail
        update_progress_artifact(artifact_id=self.id, progress=min(99.0, 100.0 * p.done / p.total),
                                 description=f"{self.name} の読込状況: 読込中（{p.unit} {p.done}/{p.total}）")
        self.at = time.monotonic()

    def end(self, status: str) -> None:
        update_progress_artifact(artifact_id=self.id, progress=100.0,
                                 description=f"{self.name} の読込状況: 終了（{SOURCE_STATUS_TEXT.get(status, status)}）")


def publish_validation(name: str, tallies: list[SuiteTally]) -> None:
    """validation-<source>: the expectations rows failed, per suite, readable from the flow run page."""
    create_markdown_artifact(key=_key("validation", name), markdown=validation_markdown(name, tallies),
                             description=f"{name} の検証結果（失敗した期待）")


SUITE_KIND = {"records": "行の検証", "figures": "集計値の検証"}


def validation_markdown(name: str, tallies: list[SuiteTally]) -> str:
    """Each failed expectation's reason (the suite's own, Japanese), column, how many failed and where: row
    positions within what was validated, never the rows' values (GX keeps none: runner.EXCLUDE_VALUES)."""
    lines = [f"## {name} の検証結果", ""]
    if not tallies:
        return "\n".join(lines + ["この実行では検証していません（読み込む前に失敗したか、検証する行がありません）。", ""])
    for tally in tallies:
        kind = SUITE_KIND.get(tally.suite.rsplit(".", 1)[-1], "検証")
        lines += [f"### {tally.suite}（{kind}）", "",
                  f"検証 {tally.validations:,} 回、{tally.rows:,} 件。失敗した期待 {len(tally.failed)} 件。", ""]
        if not tally.failed:
            continue
        lines += ["| 理由 | 列 | 不合格の件数 | 割合 | 行の位置（何回目の検証: 位置） |", "|---|---|---:|---:|---|"]
        for _, failed in sorted(tally.failed.items()):
            by_run: dict[int, list[str]] = {}
            for validation, index in failed.positions:
                by_run.setdefault(validation, []).append(str(index))
            where = " / ".join(f"{n}回目: {', '.join(indexes)}" for n, indexes in by_run.items())
            if failed.unexpected > len(failed.positions):
                where += f"（先頭 {len(failed.positions)} 件）"
            share = 100.0 * failed.unexpected / tally.rows if tally.rows else 0.0
            lines.append(f"| {_cell(failed.reason)} | {_cell(failed.column or '—')} | {failed.unexpected:,} | "
                         f"{share:.2f}% | {where or '—'} |")
        lines.append("")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


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
    create_table_artifact(key="source-summary", table=[source_summary_row(r, reasons.get(r["source"], {}))
                                                       for r in runs],
                          description=f"ソース別の取込結果（{as_of.isoformat()} 時点）")


def source_summary_row(run: dict[str, Any], reasons: dict[str, int]) -> dict[str, str]:
    """One source of the run in the words of `jisseki run`'s summary lines, every value with its unit."""
    return {"ソース": run["source"], "状態": SOURCE_STATUS_TEXT.get(run["status"], run["status"]),
            "読込": f"{run['rows_read']:,} 行", "隔離": f"{run['rows_quarantined']:,} 行",
            "隔離の理由": "、".join(f"{reason_text(code)} {n:,} 行" for code, n in sorted(reasons.items())) or "なし",
            "集計値": f"{run['figures']:,} 件", "新しい版": f"{run['revisions_added']:,} 件",
            "メッセージ": run["message"] or "—"}


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
    # A path, not a link: browsers refuse file:// links from the UI's http page. The failed expectations
    # themselves are in the validation-<source> artifacts.
    create_markdown_artifact(
        key="gx-data-docs", description="Great Expectations Data Docs（直近30回分の検証結果）の場所",
        markdown=("## Great Expectations Data Docs\n\n直近30回分の検証結果のサイトは、この実行を動かしたマシンの"
                  "次のファイルです（ブラウザーはこの画面からのファイルへのリンクを開かないため、そのマシンで"
                  f"直接開いてください）:\n\n`{index}`\n"))
