"""Alert rules: a pure function of this run's verdicts, figures and source outcomes to the
conditions that hold now. What was already sent is the warehouse's business, not the rules'."""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from cronsim import CronSim

from jisseki.catalog import Catalog, Indicator
from jisseki.city_calendar import CityCalendar, day_label
from jisseki.core.freshness import EntryDue, Freshness, NewDataDay, RecentCrawl
from jisseki.core.model import CITY, Figure
from jisseki.core.normalize import scope_name
from jisseki.core.periods import as_utc, fiscal_year, fy_end, fy_months, fy_start, month_end, month_label
from jisseki.evaluate import Verdict, met
from jisseki.report import format_value, needed_pace, target_words
from jisseki.sources import source_label

WATCHDOG_SCOPE = "watchdog"
WATCHDOG_KEY = "night_missed"
WATCHDOG_TODO = ("対応: 夜間処理を動かすもの（Prefect のワーカー `prefect worker start`、"
                 "または `jisseki serve`）が動いているか、デプロイメントが一時停止（Paused）に"
                 "なっていないか、Prefect サーバーに接続できるかを確認してください。"
                 "再開したら `jisseki run` でこの夜の分を取り込めます")
NOT_COUNTED = ("土曜・日曜・祝日（振替休日・国民の休日を含む）・年末年始（12/29〜1/3）・"
               "設定の閉庁日（[calendar] closed_days）")
LOCK_SCOPE = "run_lock"    # the warehouse lock: checked by every run that gets it or gives up on it
WATCHDOG_RUN = "watchdog"  # the flow_run_id of what the watchdog queues: it has no flow run
# The scopes checked, by what they are of: an indicator, or a source (its run, its lateness).
KPI_SCOPE, RUN_SCOPE, STALE_SCOPE = "kpi:", "run:", "stale:"
# The sources in the words of the people who read the alerts
@dataclass(frozen=True)
class Place:
    """Where a source reads from, safe to mail, and what to check there when it cannot be read."""
    text: str     # 「フォルダ …」 or 「API scheme://host:port」
    check: str
    label: str = ""   # what people call the source (a declared one is named by its config); "" for the registry's

    def __str__(self) -> str:
        return self.text


FOLDER_CHECK = "フォルダがマウントされていて読み取れるか（権限）、ファイルが届いているか"
API_CHECK = "API が応答しているか、認証情報（トークン）が有効か"
DATABASE_CHECK = "データベースが動いていて接続できるか、接続先と認証情報が正しいか、問い合わせが読む表があるか"


@dataclass(frozen=True)
class Alert:
    key: str          # identity of the condition, stable across runs; its first part is its kind (digest.py)
    scope: str        # what was checked; a firing alert whose scope was checked and is quiet resolves
    subject: str      # kpi_id or source name
    severity: str     # warning | failure
    title: str
    body: str         # first line: the digest's entry (who, figure, target, period); then what to do


@dataclass
class Checked:
    active: list[Alert] = field(default_factory=list)
    scopes: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class SourceState:
    landed_at: datetime | None
    max_event_date: date | None


def check(verdicts: Iterable[Verdict], figures: Iterable[Figure], catalog: Catalog, as_of: date, now: datetime,
          outcomes: Mapping[str, tuple[str, str]], states: Mapping[str, SourceState],
          freshness: Mapping[str, Freshness], calendar: CityCalendar, places: Mapping[str, Place],
          published: Sequence[Mapping[str, Any]] = ()) -> Checked:
    """outcomes: this run's (status, message) per source; states: the last landing per source;
    freshness: when each configured source is late, from its config section; places: where each source reads
    from, in words that hold no secret (a folder, an API's host); published: the published_grade rows. The
    digest links the flow run, not the rules."""
    out = Checked()
    out.scopes.add(WATCHDOG_SCOPE)   # this night ran: what the watchdog said of a missed one is resolved
    verdicts = list(verdicts)
    for verdict in verdicts:
        ind = catalog.get(verdict.kpi_id)
        _kpi_alerts(out, ind, verdict, freshness.get(ind.source), places.get(ind.source))
    out.active.extend(restated(verdicts, published, catalog))
    _monthly_alerts(out, list(figures), catalog, as_of)
    for name, (status, message) in outcomes.items():
        out.scopes.add(f"{RUN_SCOPE}{name}")
        if status != "landed":
            out.active.append(_source_failed(name, status, message, places.get(name), as_of))
    for name, rule in freshness.items():
        _stale_alert(out, name, rule, states.get(name), as_of, now, calendar, places.get(name))
    return out


def _source_failed(name: str, status: str, message: str, place: Place | None, as_of: date) -> Alert:
    rejected = status == "rejected"
    word = "検証で不採用" if rejected else "取込失敗"
    where = f"読込元: {place}" if place else "読込元: 設定ファイルにありません"
    todo = ("対応: 不採用の理由（不正な行の割合など）を確認し、読込元のファイルを直すか差し替えてください。"
            "前回までの実績は残っています" if rejected else
            f"対応: {place.check if place else '設定ファイルの読込元'}と理由を確認し、"
            "直ったら `jisseki run` で取り込み直してください")
    reasons = [f"理由: {line}" for line in message.splitlines() if line.strip()] or ["理由: 記録がありません"]
    label = _label(name, place)
    return Alert(f"source_failed:{name}", f"{RUN_SCOPE}{name}", name, "failure", f"【{word}】{label}",
                 "\n".join([f"{label}: {word}（{as_of} 時点） {where}", *reasons, todo]))


def _label(name: str, place: Place | None) -> str:
    return place.label if place is not None and place.label else source_label(name)


def departments_of(scope: str, catalog: Catalog) -> list[str]:
    """Whose alert a scope's is, for routing: an indicator's department, or for a source every department
    whose indicators read it; the night's own conditions (lock, watchdog) are nobody's in particular."""
    if scope.startswith(KPI_SCOPE):
        kpi = scope.removeprefix(KPI_SCOPE)
        return [catalog.get(kpi).department] if kpi in catalog.ids() else []
    for prefix in (RUN_SCOPE, STALE_SCOPE):
        if scope.startswith(prefix):
            source = scope.removeprefix(prefix)
            return list(dict.fromkeys(i.department for i in catalog.indicators if i.source == source))
    return []


def lock_check(refusal: str | None, as_of: date) -> Checked:
    """The lock condition alone. A run that gave up waiting for the warehouse lock fires it, refusal saying who
    holds it and what to do; the next run that gets the lock finds it quiet, which resolves it."""
    out = Checked(scopes={LOCK_SCOPE})
    if refusal is not None:
        out.active.append(Alert("run_locked", LOCK_SCOPE, "nightly", "failure", "【未実行】夜間処理 倉庫が使用中",
                                f"夜間処理（{as_of} 時点の分）を開始できませんでした\n{refusal}"))
    return out


def _kpi_alerts(out: Checked, ind: Indicator, v: Verdict, rule: Freshness | None, place: Place | None) -> None:
    scope = f"{KPI_SCOPE}{ind.id}"
    out.scopes.add(scope)
    if v.scope != CITY:   # a ward's (or 団体コード's) own target: its own condition, named by the scope
        _scope_alerts(out, ind, v, scope)
        return
    who = f"{ind.name}（{ind.id}） {v.fiscal_year}年度"
    when = f"（{v.as_of} 時点）"
    goal = target_words(ind, v.target, v.target_low, v.target_high)
    if v.grade == "B":
        late = "（期限までに完了しませんでした）" if ind.due is not None and fiscal_year(ind.due) == v.fiscal_year else ""
        out.active.append(Alert(
            f"missed:{ind.id}:FY{v.fiscal_year}", scope, ind.id, "failure", f"【目標未達成】{who}",
            f"{who}: 実績 {format_value(ind, v.actual)} / 目標 {goal} → B（未達成）{late}{when}\n"
            f"対応: 所管の所属に未達成の原因と来年度の対策を確認してください"))
    elif v.status == "at_risk" and ind.kind == "milestone" and ind.due is not None:
        out.active.append(Alert(
            f"at_risk:{ind.id}:FY{v.fiscal_year}", scope, ind.id, "warning", f"【要注意】{who} 期限が近づいています",
            f"{who}: 未完了 / 期限 {day_label(ind.due)}{when}\n"
            f"対応: 所管の所属に期限までに完了できるかを確認し、完了したら実績入力シートに入力するよう依頼してください"))
    elif v.status == "at_risk" and v.actual is not None and v.projected is not None \
            and (v.target is not None or v.target_low is not None):
        # evaluate gives every at_risk verdict these; the checks only narrow their types.
        out.active.append(Alert(
            f"at_risk:{ind.id}:FY{v.fiscal_year}", scope, ind.id, "warning", f"【要注意】{who} 目標に届かない見込み",
            f"{who}: 年度累計の実績 {format_value(ind, v.actual)} / 目標 {goal}{when}\n"
            f"年度末の見込み: {format_value(ind, v.projected)}（{v.projection_method}）\n"
            f"必要なこと: {_needed(ind, v)}\n"
            f"対応: 所管の所属に年度末までの取組の見通しと、前倒しできる取組を確認してください"))
    elif v.status == "no_data" and isinstance(rule, EntryDue) and v.as_of > rule.due(v.fiscal_year):
        sheet = f"（{place}）" if place else ""
        out.active.append(Alert(
            f"manual_missing:{ind.id}:FY{v.fiscal_year}", scope, ind.id, "warning", f"【未入力】{who}",
            f"{who}: 実績が未入力 / 目標 {goal}（入力期限 {day_label(rule.due(v.fiscal_year))}"
            f"を過ぎても実績入力シートに入力がありません）\n"
            f"対応: 所管の所属に {v.fiscal_year}年度の実績（{ind.id}）の入力を依頼し、"
            f"入力したシートが取込フォルダ{sheet}に置かれたかを確認してください"))


def _scope_alerts(out: Checked, ind: Indicator, v: Verdict, scope: str) -> None:
    """A scope's miss or risk: the same words as the city's, one condition per scope."""
    if v.grade != "B" and v.status != "at_risk":
        return
    who = f"{ind.name}（{ind.id}） {scope_name(v.scope)} {v.fiscal_year}年度"
    goal = target_words(ind, v.target, v.target_low, v.target_high)
    missed = v.grade == "B"
    key = f"{'missed' if missed else 'at_risk'}:{ind.id}:FY{v.fiscal_year}:{v.scope}"
    facts = (f"{who}: 実績 {format_value(ind, v.actual)} / 目標 {goal} → B（未達成）（{v.as_of} 時点）" if missed else
             f"{who}: 年度累計の実績 {format_value(ind, v.actual)} / 目標 {goal}（{v.as_of} 時点）\n"
             f"年度末の見込み: {format_value(ind, v.projected)}（{v.projection_method}）")
    out.active.append(Alert(key, scope, ind.id, "failure" if missed else "warning",
                            f"【{'目標未達成' if missed else '要注意'}】{who}",
                            f"{facts}\n対応: 所管の所属と{scope_name(v.scope)}の担当に、この範囲の実績が目標に"
                            f"{'届かなかった原因' if missed else '届かない見込みの理由と取組'}を確認してください"))


def restated(verdicts: Iterable[Verdict], published: Sequence[Mapping[str, Any]], catalog: Catalog) -> list[Alert]:
    """A published figure whose latest evaluation has another actual: one alert per figure (kpi, year, scope),
    saying whether the grade would change. Its scope is the indicator's, so it resolves when the figure is
    back at the published value."""
    latest = {(v.kpi_id, v.fiscal_year, v.scope): v for v in verdicts}
    out = []
    for row in published:
        v = latest.get((row["kpi_id"], row["fiscal_year"], row["scope"]))
        if v is None or _same_actual(row["actual"], v.actual):
            continue
        ind = catalog.get(v.kpi_id)
        where = "" if v.scope == CITY else f" {scope_name(v.scope)}"
        who = f"{ind.name}（{ind.id}）{where} {v.fiscal_year}年度"
        before, after = row["grade"] or "—", v.grade or "—"
        change = "評価は変わりません" if before == after else f"評価が {before} から {after} に変わります"
        key = f"restated:{ind.id}:FY{v.fiscal_year}" + ("" if v.scope == CITY else f":{v.scope}")
        out.append(Alert(
            key, f"{KPI_SCOPE}{ind.id}", ind.id, "warning", f"【公表値の訂正】{who}",
            f"{who}: 公表値 {format_value(ind, row['actual'])} / 最新値 {format_value(ind, v.actual)}"
            f"（{fy_start(v.fiscal_year)}〜{fy_end(v.fiscal_year)} の実績、{v.as_of} 時点）。{change}\n"
            f"公表値と公表時の評価（{before}）は変わらず、報告書と status には最新値が並べて表示されます\n"
            f"対応: 所管の所属に訂正の理由（取り込み直したファイルなど）を確認し、公表資料に訂正を載せるかを"
            f"決めてください"))
    return out


def _same_actual(published: float | None, latest: float | None) -> bool:
    if published is None or latest is None:
        return published is None and latest is None
    return math.isclose(published, latest, rel_tol=1e-12, abs_tol=1e-12)


def _needed(ind: Indicator, v: Verdict) -> str:
    """What it takes to reach the target from here, in the indicator's own unit: the report's words."""
    pace = needed_pace(ind, v.fiscal_year, v.actual, v.target, v.data_as_of, v.target_low, v.target_high)
    return pace.text if pace is not None else "年度末までに目標に届くよう取組を前倒しすること"


def month_words(label: str) -> str:
    """"2025-04" as people write it: 2025年4月."""
    year, month = label.split("-")
    return f"{int(year)}年{int(month)}月"


def _monthly_alerts(out: Checked, figures: list[Figure], catalog: Catalog, as_of: date) -> None:
    """A per-month target ("月1,870時間以上") missed in a month that is over. One condition per month, so each
    month resolves on its own; the digest folds the months of one indicator into one line."""
    by_key = {f.key: f for f in figures if f.scope == CITY}
    for ind in catalog.indicators:
        if ind.kind != "hours_per_month":
            continue
        for fy in ind.targets:
            target = ind.target(fy)
            if target is None:
                continue
            for month in fy_months(fy):
                figure = by_key.get((ind.id, month_label(month), CITY))
                if figure is None or month_end(month) > as_of or met(ind.direction, figure.value, target):
                    continue
                who = f"{ind.name}（{ind.id}） {month_words(month_label(month))}"
                out.active.append(Alert(
                    f"month_missed:{ind.id}:{month_label(month)}", f"{KPI_SCOPE}{ind.id}", ind.id, "warning",
                    f"【月間目標未達】{who}",
                    f"{who}: 実績 {format_value(ind, figure.value)} / 目標 {format_value(ind, target)}"
                    f"{'以下' if ind.direction == 'at_most' else '以上'}"
                    f"（{fy}年度）\n"
                    f"対応: 所管の所属に利用が目標に届かなかった理由と、利用を増やす取組を確認してください"))


def _stale_alert(out: Checked, name: str, rule: Freshness, state: SourceState | None, as_of: date, now: datetime,
                 calendar: CityCalendar, place: Place | None) -> None:
    scope = f"{STALE_SCOPE}{name}"
    out.scopes.add(scope)
    if state is None:
        return  # never landed: the run's own failure alert says why
    late = _lateness(rule, state, as_of, now, calendar, place)
    if late is not None:
        where = f" 読込元: {place}" if place else ""
        label = _label(name, place)
        out.active.append(Alert(f"stale:{name}", scope, name, "warning", f"【データ遅延】{label}",
                                f"{label}: データ遅延（{as_of} 時点）{where}\n{late}"))


def _lateness(rule: Freshness, state: SourceState, as_of: date, now: datetime, calendar: CityCalendar,
              place: Place | None) -> str | None:
    """What was checked and what to do, while the source is late by its own rule."""
    there = f"（{place}）" if place else ""
    if isinstance(rule, NewDataDay) and state.max_event_date is None and state.landed_at is not None:
        # It ran and landed, but no file of it ever held a dated row: an empty share on its first nights, a
        # wrong pattern. No figure of it will ever be late by days, so this is said at once.
        return (f"取り込みは成功しましたが、データのある日がまだ 1 日もありません（基準日 {day_label(as_of)}）\n"
                f"対応: 取込フォルダ{there}の場所とマウント、ファイルが届いているか、設定のファイル名の pattern が"
                f"合っているかを確認してください")
    if isinstance(rule, NewDataDay) and state.max_event_date is not None:
        passed = calendar.business_days_after(state.max_event_date, as_of)
        if passed > rule.business_days:
            return (f"最新のデータ日 {day_label(state.max_event_date)}から基準日 {day_label(as_of)}までに "
                    f"{passed} 営業日、新しい日のデータがありません（許容: {rule.business_days} 営業日まで）\n"
                    f"数えない日: {NOT_COUNTED}\n"
                    f"対応: 新しいファイルが取込フォルダ{there}に届いているか、配信元からの連携が止まって"
                    f"いないかを確認してください")
    elif isinstance(rule, RecentCrawl) and state.landed_at is not None:
        if now - state.landed_at > timedelta(days=rule.days):
            return (f"最後に取り込めたクロール: {state.landed_at:%Y-%m-%d %H:%M} UTC\n"
                    f"確認時刻: {now.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC（{rule.days} 日を超えて"
                    f"取り込めていません。API は毎日動くため暦日で数えます）\n"
                    f"対応: API{there}が応答しているか、認証情報（トークン）が有効かを確認してください")
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
    # `last` is the run that finished last (warehouse.store.last_nights), so it has a finish time.
    finished = last.finished_at if last is not None else None
    if finished is not None and as_utc(finished) >= expected:
        return out
    stamp = "%Y-%m-%d %H:%M"
    lines = [f"予定: {expected.strftime(stamp)}（{zone}）の定時実行が、"
             f"期限 {due.strftime(stamp)} までに終わっていません"]
    if last is not None and finished is not None:
        lines.append(f"最後に終わった夜間処理: {as_utc(finished).astimezone(tz).strftime(stamp)}"
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


def resolved_message(title: str, body: str) -> tuple[str, str]:
    """The digest's entry for a condition that no longer holds: what it was, and what it said then."""
    first = body.split("\n", 1)[0]
    return f"【解消】{title}", f"{title}: 解消しました\n当時の内容: {first}"


def to_state(row: Mapping[str, Any]) -> SourceState:
    landed = row.get("landed_at")
    return SourceState(as_utc(landed) if landed is not None else None, row.get("max_event_date"))
