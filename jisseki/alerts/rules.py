"""Alert rules: a pure function of this run's verdicts, figures and source outcomes to the
conditions that hold now. What was already sent is the warehouse's business, not the rules'."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from jisseki.catalog import Catalog, Indicator
from jisseki.evaluate import Verdict
from jisseki.model import CITY, Figure
from jisseki.periods import as_utc, fy_months, month_end, month_label
from jisseki.report import format_value

LOCK_SCOPE = "run_lock"    # the warehouse lock: checked by every run that gets it or gives up on it
DAILY_LOGS = {"moveout_log": 3, "speech_usage": 3, "dataviz_access": 3}   # days without a new day
API_CRAWLS = {"online_procedures": 2, "nocode_apps": 2}                    # days since the last crawl
MANUAL_SOURCE = "manual_entries"


@dataclass(frozen=True)
class Alert:
    key: str          # identity of the condition, stable across runs
    scope: str        # what was checked; a firing alert whose scope was checked and is quiet resolves
    subject: str      # kpi_id or source name
    severity: str     # warning | failure
    title: str
    body: str


@dataclass
class Checked:
    active: list[Alert] = field(default_factory=list)
    scopes: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class SourceState:
    landed_at: datetime | None
    max_event_date: date | None


def check(verdicts: Iterable[Verdict], figures: Iterable[Figure], catalog: Catalog, as_of: date, now: datetime,
          run_id: str, outcomes: Mapping[str, tuple[str, str]], states: Mapping[str, SourceState],
          configured: Iterable[str]) -> Checked:
    """outcomes: this run's (status, message) per source; states: the last landing per source."""
    out = Checked()
    footer = f"フロー実行: {run_id}"
    for verdict in verdicts:
        _kpi_alerts(out, catalog.get(verdict.kpi_id), verdict, footer)
    _monthly_alerts(out, list(figures), catalog, as_of, footer)
    for name, (status, message) in outcomes.items():
        out.scopes.add(f"run:{name}")
        if status != "landed":
            word = "検証で不採用" if status == "rejected" else "取込失敗"
            out.active.append(Alert(f"source_failed:{name}", f"run:{name}", name, "failure",
                                    f"【{word}】ソース {name}",
                                    f"ソース: {name}\n状態: {status}\n理由: {message}\n期間: {as_of} 時点\n{footer}"))
    for name in configured:
        _stale_alert(out, name, states.get(name), as_of, now, footer)
    return out


def lock_check(refusal: str | None, as_of: date, run_id: str) -> Checked:
    """The lock condition alone. A run that gave up waiting for the warehouse lock fires it, refusal saying who
    holds it and what to do; the next run that gets the lock finds it quiet, which resolves it."""
    out = Checked(scopes={LOCK_SCOPE})
    if refusal is not None:
        out.active.append(Alert("run_locked", LOCK_SCOPE, "nightly", "failure", "【未実行】夜間処理 倉庫が使用中",
                                f"夜間処理（{as_of} 時点の分）を開始できませんでした\n{refusal}\nフロー実行: {run_id}"))
    return out


def _kpi_alerts(out: Checked, ind: Indicator, v: Verdict, footer: str) -> None:
    scope = f"kpi:{ind.id}"
    out.scopes.add(scope)
    head = f"指標: {ind.name}（{ind.id}）\n期間: {v.fiscal_year}年度（FY{v.fiscal_year}、{v.as_of} 時点）"
    figures = f"実績: {format_value(ind, v.actual)}\n目標: {format_value(ind, v.target)}"
    if v.grade == "B":
        out.active.append(Alert(f"missed:{ind.id}:FY{v.fiscal_year}", scope, ind.id, "failure",
                                f"【目標未達成】{ind.id} {v.fiscal_year}年度",
                                f"{head}\n{figures}\n達成状況: B（未達成）\n{footer}"))
    elif v.status == "at_risk":
        out.active.append(Alert(f"at_risk:{ind.id}:FY{v.fiscal_year}", scope, ind.id, "warning",
                                f"【要注意】{ind.id} {v.fiscal_year}年度 目標に届かない見込み",
                                f"{head}\n{figures}（年度累計）\n年度末見込み: {format_value(ind, v.projected)}\n"
                                f"見込みの方法: {v.projection_method}\n{footer}"))
    elif v.status == "no_data" and ind.source == MANUAL_SOURCE and v.as_of > date(v.fiscal_year + 1, 4, 30):
        out.active.append(Alert(f"manual_missing:{ind.id}:FY{v.fiscal_year}", scope, ind.id, "warning",
                                f"【未入力】{ind.id} {v.fiscal_year}年度",
                                f"{head}\n目標: {format_value(ind, v.target)}\n"
                                f"{v.fiscal_year + 1}年4月末を過ぎても実績入力シートに入力がありません\n{footer}"))


def _monthly_alerts(out: Checked, figures: list[Figure], catalog: Catalog, as_of: date, footer: str) -> None:
    """A per-month target ("月1,870時間以上") missed in a month that is over."""
    by_key = {f.key: f for f in figures if f.scope == CITY}
    for ind in catalog.indicators:
        if ind.kind != "hours_per_month":
            continue
        for fy, target in ind.targets.items():
            for month in fy_months(fy):
                figure = by_key.get((ind.id, month_label(month), CITY))
                if figure is None or month_end(month) > as_of or figure.value >= target:
                    continue
                out.active.append(Alert(
                    f"month_missed:{ind.id}:{month_label(month)}", f"kpi:{ind.id}", ind.id, "warning",
                    f"【月間目標未達】{ind.id} {month_label(month)}",
                    f"指標: {ind.name}（{ind.id}）\n期間: {month_label(month)}（{fy}年度）\n"
                    f"実績: {format_value(ind, figure.value)}\n目標: {format_value(ind, target)}以上\n{footer}"))


def _stale_alert(out: Checked, name: str, state: SourceState | None, as_of: date, now: datetime,
                 footer: str) -> None:
    scope = f"stale:{name}"
    out.scopes.add(scope)
    if state is None:
        return  # never landed: the run's own failure alert says why
    if name in DAILY_LOGS and state.max_event_date is not None:
        limit = DAILY_LOGS[name]
        if (as_of - state.max_event_date).days > limit:
            out.active.append(Alert(f"stale:{name}", scope, name, "warning", f"【データ遅延】ソース {name}",
                                    f"ソース: {name}\n最新のデータ日: {state.max_event_date}\n"
                                    f"基準日: {as_of}（{limit}日を超えて新しい日のデータがありません）\n{footer}"))
    elif name in API_CRAWLS and state.landed_at is not None:
        limit = API_CRAWLS[name]
        if now - state.landed_at > timedelta(days=limit):
            out.active.append(Alert(f"stale:{name}", scope, name, "warning", f"【データ遅延】ソース {name}",
                                    f"ソース: {name}\n最後に取り込めたクロール: {state.landed_at:%Y-%m-%d %H:%M} UTC\n"
                                    f"{limit}日を超えて取り込めていません\n{footer}"))


def resolved_message(title: str, body: str, run_id: str) -> tuple[str, str]:
    first = body.split("\n", 1)[0]
    return f"【解消】{title}", f"次の状態は解消しました。\n{title}\n{first}\nフロー実行: {run_id}"


def to_state(row: Mapping[str, Any]) -> SourceState:
    landed = row.get("landed_at")
    return SourceState(as_utc(landed) if landed is not None else None, row.get("max_event_date"))
