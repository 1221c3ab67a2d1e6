"""Alert rules: a pure function of this run's verdicts, figures and source outcomes to the
conditions that hold now. What was already sent is the warehouse's business, not the rules'."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from cronsim import CronSim

from jisseki.catalog import Catalog, Indicator
from jisseki.city_calendar import CityCalendar, day_label
from jisseki.evaluate import Verdict
from jisseki.freshness import EntryDue, Freshness, NewDataDay, RecentCrawl
from jisseki.model import CITY, Figure
from jisseki.periods import as_utc, fy_months, month_end, month_label
from jisseki.report import format_value

WATCHDOG_SCOPE = "watchdog"
WATCHDOG_KEY = "night_missed"
WATCHDOG_TODO = ("対応: 夜間処理を動かすもの（Prefect のワーカー `prefect worker start`、"
                 "または `jisseki serve`）が動いているか、デプロイメントが一時停止（Paused）に"
                 "なっていないか、Prefect サーバーに接続できるかを確認してください。"
                 "再開したら `jisseki run` でこの夜の分を取り込めます")
NOT_COUNTED = ("土曜・日曜・祝日（振替休日・国民の休日を含む）・年末年始（12/29〜1/3）・"
               "設定の閉庁日（[calendar] closed_days）")
LOCK_SCOPE = "run_lock"    # the warehouse lock: checked by every run that gets it or gives up on it


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
          freshness: Mapping[str, Freshness], calendar: CityCalendar) -> Checked:
    """outcomes: this run's (status, message) per source; states: the last landing per source;
    freshness: when each configured source is late, from its config section."""
    out = Checked()
    out.scopes.add(WATCHDOG_SCOPE)   # this night ran: what the watchdog said of a missed one is resolved
    footer = f"フロー実行: {run_id}"
    for verdict in verdicts:
        ind = catalog.get(verdict.kpi_id)
        _kpi_alerts(out, ind, verdict, freshness.get(ind.source), footer)
    _monthly_alerts(out, list(figures), catalog, as_of, footer)
    for name, (status, message) in outcomes.items():
        out.scopes.add(f"run:{name}")
        if status != "landed":
            word = "検証で不採用" if status == "rejected" else "取込失敗"
            out.active.append(Alert(f"source_failed:{name}", f"run:{name}", name, "failure",
                                    f"【{word}】ソース {name}",
                                    f"ソース: {name}\n状態: {status}\n理由: {message}\n期間: {as_of} 時点\n{footer}"))
    for name, rule in freshness.items():
        _stale_alert(out, name, rule, states.get(name), as_of, now, calendar, footer)
    return out


def lock_check(refusal: str | None, as_of: date, run_id: str) -> Checked:
    """The lock condition alone. A run that gave up waiting for the warehouse lock fires it, refusal saying who
    holds it and what to do; the next run that gets the lock finds it quiet, which resolves it."""
    out = Checked(scopes={LOCK_SCOPE})
    if refusal is not None:
        out.active.append(Alert("run_locked", LOCK_SCOPE, "nightly", "failure", "【未実行】夜間処理 倉庫が使用中",
                                f"夜間処理（{as_of} 時点の分）を開始できませんでした\n{refusal}\nフロー実行: {run_id}"))
    return out


def _kpi_alerts(out: Checked, ind: Indicator, v: Verdict, rule: Freshness | None, footer: str) -> None:
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
    elif v.status == "no_data" and isinstance(rule, EntryDue) and v.as_of > rule.due(v.fiscal_year):
        out.active.append(Alert(f"manual_missing:{ind.id}:FY{v.fiscal_year}", scope, ind.id, "warning",
                                f"【未入力】{ind.id} {v.fiscal_year}年度",
                                f"{head}\n目標: {format_value(ind, v.target)}\n"
                                f"入力期限 {day_label(rule.due(v.fiscal_year))}を過ぎても"
                                f"実績入力シートに入力がありません\n"
                                f"対応: 所管の所属に {v.fiscal_year}年度の実績（{ind.id}）の入力を"
                                f"依頼してください\n{footer}"))


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


def _stale_alert(out: Checked, name: str, rule: Freshness, state: SourceState | None, as_of: date, now: datetime,
                 calendar: CityCalendar, footer: str) -> None:
    scope = f"stale:{name}"
    out.scopes.add(scope)
    if state is None:
        return  # never landed: the run's own failure alert says why
    late = _lateness(name, rule, state, as_of, now, calendar)
    if late is not None:
        out.active.append(Alert(f"stale:{name}", scope, name, "warning", f"【データ遅延】ソース {name}",
                                f"ソース: {name}\n{late}\n{footer}"))


def _lateness(name: str, rule: Freshness, state: SourceState, as_of: date, now: datetime,
              calendar: CityCalendar) -> str | None:
    """What was checked and what to do, while the source is late by its own rule."""
    if isinstance(rule, NewDataDay) and state.max_event_date is not None:
        passed = calendar.business_days_after(state.max_event_date, as_of)
        if passed > rule.business_days:
            return (f"最新のデータ日 {day_label(state.max_event_date)}から基準日 {day_label(as_of)}までに "
                    f"{passed} 営業日、新しい日のデータがありません（許容: {rule.business_days} 営業日まで）\n"
                    f"数えない日: {NOT_COUNTED}\n"
                    f"対応: {name} のファイルが取込フォルダに届いているか、配信元からの連携を確認してください")
    elif isinstance(rule, RecentCrawl) and state.landed_at is not None:
        if now - state.landed_at > timedelta(days=rule.days):
            return (f"最後に取り込めたクロール: {state.landed_at:%Y-%m-%d %H:%M} UTC\n"
                    f"確認時刻: {now.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC（{rule.days} 日を超えて"
                    f"取り込めていません。API は毎日動くため暦日で数えます）\n"
                    f"対応: {name} の API が応答しているか、認証情報（トークン）が有効かを確認してください")
    return None


@dataclass(frozen=True)
class NightRun:
    """A nightly run as the warehouse's night_run table has it."""
    started_at: datetime
    finished_at: datetime | None
    host: str
    pid: int
    as_of: date


def night_missed(now: datetime, cron: str, zone: str, deadline: time, last: NightRun | None,
                 running: NightRun | None) -> Checked:
    """The watchdog's rule, outside the nightly run: once the deadline of a day has passed, a nightly run
    must have finished since the last scheduled start before that deadline."""
    out = Checked(scopes={WATCHDOG_SCOPE})
    tz = ZoneInfo(zone)
    local = now.astimezone(tz)
    due = datetime.combine(local.date(), deadline, tz)
    if local < due:
        due -= timedelta(days=1)
    expected = next(CronSim(cron, due, reverse=True))
    if last is not None and as_utc(last.finished_at) >= expected:
        return out
    stamp = "%Y-%m-%d %H:%M"
    lines = [f"予定: {expected.strftime(stamp)}（{zone}）の定時実行が、"
             f"期限 {due.strftime(stamp)} までに終わっていません"]
    if last is not None:
        lines.append(f"最後に終わった夜間処理: {as_utc(last.finished_at).astimezone(tz).strftime(stamp)}"
                     f"（基準日 {last.as_of}）")
    else:
        lines.append("最後に終わった夜間処理: 記録がありません")
    if running is not None:
        lines.append(f"実行中: {running.host} の PID {running.pid} が "
                     f"{as_utc(running.started_at).astimezone(tz).strftime(stamp)} から実行中です"
                     "（止まっているかもしれません）")
    out.active.append(Alert(f"{WATCHDOG_KEY}:{expected:%Y-%m-%d}", WATCHDOG_SCOPE, "nightly", "failure",
                            f"【夜間処理が未実行】{expected.strftime(stamp)} の定時実行",
                            "\n".join([*lines, WATCHDOG_TODO])))
    return out


def resolved_message(title: str, body: str, run_id: str) -> tuple[str, str]:
    first = body.split("\n", 1)[0]
    return f"【解消】{title}", f"次の状態は解消しました。\n{title}\n{first}\nフロー実行: {run_id}"


def to_state(row: Mapping[str, Any]) -> SourceState:
    landed = row.get("landed_at")
    return SourceState(as_utc(landed) if landed is not None else None, row.get("max_event_date"))
