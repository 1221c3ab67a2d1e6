"""The nightly flow: every configured source concurrently, then evaluation."""
from __future__ import annotations

import contextvars
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from prefect import flow
from prefect.exceptions import TerminationSignal
from prefect.runtime import deployment, flow_run
from prefect.states import State
from sqlalchemy import Engine

from flows.tasks import (
    announce_lock,
    evaluate_kpis,
    ingest_source,
    publish_data_docs,
    publish_evaluation,
    publish_source_summary,
    save_evaluation,
    send_alerts,
)
from jisseki.catalog import Catalog, load_catalog
from jisseki.config import Config, config_file, config_for
from jisseki.core import stopping
from jisseki.core.errors import ConfigError, ExitCode, JissekiError, UsageError
from jisseki.core.periods import as_of_day, parse_day
from warehouse.lock import Gate, RunLocked, exclusive_run
from warehouse.store import (
    connect,
    ingest_states,
    record_failure,
    recorded_night,
    source_runs,
    withdraw_evaluations_after,
)

FLOW_NAME = "jisseki-nightly"


class SourcesFailed(JissekiError):
    """Some sources did not land; the others did, and the evaluation ran."""


class WarehouseBusy(JissekiError):
    """Another run held the warehouse for longer than this run would wait; nothing was collected."""

    exit_code = ExitCode.LOCKED


@flow(name=FLOW_NAME, validate_parameters=False)
def nightly(config_path: str | None = None, as_of: str | None = None, sources: list[str] | None = None,
            wait_seconds: float = 0.0, restate: bool = False) -> dict[str, str]:
    day = as_of_day(parse_day(as_of) if as_of else None)   # before anything is read or saved
    config = config_for(config_file(config_path))
    run_id = str(flow_run.get_id() or "local")
    catalog = load_catalog(config.catalog.path)
    config.alerts.check_routes(catalog.departments())   # before anything is read: the config and catalog disagree
    engine = connect(config.warehouse.url)
    names = select_sources(config.enabled_sources(), sources)
    refuse_earlier_as_of(engine, names, day, restate)
    with _holding_the_warehouse(engine, config, wait_seconds, day, run_id) as owner, \
            recorded_night(engine, run_id, day):
        outcome = _collect_and_evaluate(config, catalog, engine, names, day, run_id, owner, restate)
    failed = sorted(name for name, state in outcome.items() if state != "landed")
    if failed:
        raise SourcesFailed("取り込めなかったソース: " + ", ".join(failed))
    return outcome


def _collect_and_evaluate(config: Config, catalog: Catalog, engine: Engine, names: list[str], day: date,
                          run_id: str, owner: str, restate: bool) -> dict[str, str]:
    states = _ingest_all(config, catalog, engine, names, day, run_id, owner)
    outcome, reasons = {}, {}
    for name, state in states.items():
        if state is not None and state.is_completed():
            outcome[name] = "landed"
            reasons[name] = state.result()["reasons"]
        else:
            outcome[name] = f"failed: {state.message if state else '期限切れ'}"
    verdicts = evaluate_kpis(engine, catalog, day)
    save_evaluation(engine, verdicts, run_id)
    if restate:
        withdraw_evaluations_after(engine, day)
    publish_evaluation(verdicts, catalog, day)
    publish_source_summary(source_runs(engine, run_id), reasons, day)
    if names:
        publish_data_docs(config)
    send_alerts(engine, config, catalog, verdicts, day, run_id)
    return outcome


@dataclass
class _SourceThread:
    """One source collected and landed on a daemon thread of its own: a thread blocked in I/O cannot be stopped,
    so the run must be able to leave it behind (closing its gate) and still end, and the process still exit."""
    name: str
    gate: Gate
    deadline: float                                  # time.monotonic() by which it must have finished
    done: threading.Event = field(default_factory=threading.Event)
    state: State | None = None

    def start(self, call: Any) -> None:
        context = contextvars.copy_context()   # the flow run's context: the task run belongs to this flow run

        def collect() -> Any:
            stopping.install(self.gate.stopped)
            return call()

        def run() -> None:
            try:
                self.state = context.run(collect)
            finally:
                self.done.set()

        threading.Thread(target=run, name=f"ingest-{self.name}", daemon=True).start()


def _ingest_all(config: Config, catalog: Catalog, engine: Engine, names: list[str], day: date, run_id: str,
                owner: str) -> dict[str, State | None]:
    """Every source concurrently, each until its deadline ([sources.X] deadline_seconds). A source past it, or
    every unfinished one when the run is stopped (SIGTERM, SIGINT), has its gate closed first, so that nothing
    of it can land any more, and then a failed source_run row saying why."""
    started = time.monotonic()
    threads = [_SourceThread(name, Gate(owner), started + config.source(name).deadline_seconds) for name in names]
    try:
        for thread in threads:
            thread.start(lambda t=thread: ingest_source(t.name, config, catalog, engine, day, run_id, t.gate,
                                                        return_state=True))
        for thread in threads:
            if not thread.done.wait(max(0.0, thread.deadline - time.monotonic())):
                why = past_deadline_message(thread.name, config.source(thread.name).deadline_seconds)
                if thread.gate.close(why):
                    record_failure(engine, thread.name, day, why, run_id)
    except BaseException as exc:
        why = stopped_message(exc)
        closed = [thread for thread in threads if thread.gate.close(why)]   # first: from here on nothing lands
        for thread in closed:
            record_failure(engine, thread.name, day, why, run_id)
        raise
    return {thread.name: thread.state if thread.done.is_set() else None for thread in threads}


def past_deadline_message(name: str, seconds: float) -> str:
    return (f"期限 {seconds:g} 秒を過ぎても終わらなかったため打ち切りました（この実行では何も取り込んでいません）。"
            f"読込先（API、ファイルの置き場所）が応答しているかを確認してください"
            f"（期限は [sources.{name}] deadline_seconds）")


def stopped_message(exc: BaseException) -> str:
    """What a source left unfinished by a stopped run says: the signal, when it was one."""
    if isinstance(exc, TerminationSignal):
        cause = f"停止の指示（{signal.Signals(exc.signal).name}）"
    elif isinstance(exc, KeyboardInterrupt):
        cause = f"停止の指示（{exc.args[0] if exc.args else 'SIGINT'}）"
    else:
        cause = f"夜間処理の中断（{type(exc).__name__}）"
    return f"{cause}で中断しました（この実行では何も取り込んでいません。次の実行で取り込みます）"


@contextmanager
def _holding_the_warehouse(engine: Engine, config: Config, wait_seconds: float, day: date,
                           run_id: str) -> Iterator[str]:
    """The warehouse lock (its owner), or WarehouseBusy saying why not. Either way the lock alert is checked:
    raised by a run that gave up, resolved by the next one that gets the lock."""
    with ExitStack() as held:
        try:
            owner = held.enter_context(exclusive_run(engine, wait_seconds))
            refusal = None
        except RunLocked as exc:
            refusal = refusal_message(exc, wait_seconds, by_deployment=deployment.get_id() is not None)
        # return_state: a failing alert step must neither hide why a run stopped nor stop one that got the lock.
        announce_lock(engine, config, refusal, day, run_id, return_state=True)
        if refusal is not None:
            raise WarehouseBusy(refusal)
        yield owner


def refusal_message(exc: RunLocked, waited: float, by_deployment: bool) -> str:
    """`jisseki run` may be told to --wait; a deployment run cannot, so it says what an operator can do."""
    if not by_deployment:
        return str(exc)
    holder = exc.holder.describe() if exc.holder else "保持者は不明"
    return (f"別の夜間処理が倉庫を使用中のため、{waited:g} 秒待っても開始できませんでした（{holder}）。"
            "今回の分は次の定時実行で取り込まれます。すぐに必要なら、その実行が終わってから Prefect UI で"
            "このフロー実行を再実行してください")


def refuse_earlier_as_of(engine: Engine, names: list[str], day: date, restate: bool) -> None:
    """A run as of a day before what a source has landed would roll its current figures back while `status`
    still shows the later evaluation: refused, unless restated on purpose (then the later figures and
    evaluations are withdrawn, so what is current and what status shows agree on the earlier day)."""
    landed = {name: state["as_of"] for name, state in ingest_states(engine).items() if name in names}
    later = sorted((as_of, name) for name, as_of in landed.items() if as_of > day)
    if not later or restate:
        return
    latest, _ = later[-1]
    sources = "、".join(name for _, name in later)
    raise UsageError(f"基準日 {day} は取り込み済みの基準日 {latest}（{sources}）より前です。このまま取り込むと"
                     "現在の集計値が前の日付に戻り、status の評価と食い違うため実行しません",
                     f"{latest} 以降の日付を指定してください（省略すると日本時間の昨日）。{day} 時点に意図して"
                     f"戻すときだけ jisseki run --restate（デプロイメントではパラメータ restate=true）で実行すると、"
                     f"{day} より後の集計値と評価が取り下げられます")


def select_sources(enabled: list[str], wanted: list[str] | None) -> list[str]:
    if not wanted:
        return enabled
    unknown = [name for name in wanted if name not in enabled]
    if unknown:
        raise ConfigError(f"設定にないソースです: {', '.join(unknown)}（設定済み: {', '.join(enabled) or 'なし'}）")
    return [name for name in enabled if name in wanted]
