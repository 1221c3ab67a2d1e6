"""How evaluations read to people: the achievement table in Japanese, and the JSON of interfaces.md."""
from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from jisseki.catalog import Catalog, Change, Indicator, Policy
from jisseki.core.model import CITY
from jisseki.core.normalize import scope_name
from jisseki.core.periods import as_utc, fy_end, fy_months, fy_start, month_end
from jisseki.evaluate import EPS

GRADE_LEGEND = "※A：達成 B：未達成"
SOURCE_STATUS_TEXT = {"landed": "取込済", "rejected": "不採用", "failed": "失敗"}
STATUS_TEXT = {"achieved": "達成", "on_track": "順調", "at_risk": "要注意", "missed": "未達成", "no_data": "データなし"}


def _get(v: Any, name: str) -> Any:
    return v[name] if isinstance(v, Mapping) else getattr(v, name)


def _get_or(v: Any, name: str, default: Any) -> Any:
    """A field added since 0.1 (scope, rule, a band's bounds), which an older evaluation may lack."""
    return v.get(name, default) if isinstance(v, Mapping) else getattr(v, name, default)


def format_value(indicator: Indicator, value: float | None) -> str:
    if value is None:
        return "—"
    if indicator.kind == "milestone":
        return "完了" if value >= 1 else "未完了"
    if indicator.kind == "ratio":
        return f"{value * 100:.1f}%"
    if indicator.kind == "hours_per_month":
        return f"月{value:,.1f}時間".replace(".0時間", "時間")
    if indicator.kind == "mean":
        return f"{value:,.1f}{indicator.unit}"
    return f"{value:,.0f}{indicator.unit}"


def target_words(indicator: Indicator, target: float | None, low: float | None = None,
                 high: float | None = None) -> str:
    """The target as the policy says it: a number (at least, as the seed writes it), 以下 for an upper bound,
    a band as low〜high."""
    if indicator.direction == "within":
        return f"{format_value(indicator, low)}〜{format_value(indicator, high)}" if low is not None else "—"
    words = format_value(indicator, target)
    if indicator.kind in ("count_per_fy", "cumulative_count") and target is not None and not float(target).is_integer():
        # A plan's interim target (300 × 33.4% = 100.2): rounded, 100 would look met by 100.
        words = f"{target:,.1f}{indicator.unit}"
    return f"{words}以下" if indicator.direction == "at_most" and target is not None else words


def change_rule(ind: Indicator, fy: int, rule: str | None) -> str:
    """The grading rule where the target is moved from a baseline year's actual (it says which year and by how
    much, and why there is no target when that actual is missing); "" for a target written as a number."""
    return rule or "" if isinstance(ind.target_spec(fy), Change) else ""


def scope_misses(evaluations: Iterable[Any]) -> dict[tuple[str, int], list[str]]:
    """Per KPI and fiscal year, the scopes graded on their own targets that miss them or are at risk of it,
    as 「北区（271276） 未達成」, in the order given."""
    out: dict[tuple[str, int], list[str]] = {}
    for e in evaluations:
        scope = _get_or(e, "scope", CITY)
        if scope != CITY and _get(e, "status") in ("missed", "at_risk"):
            out.setdefault((_get(e, "kpi_id"), _get(e, "fiscal_year")), []).append(
                f"{scope_name(scope)} {STATUS_TEXT[_get(e, 'status')]}")
    return out


@dataclass(frozen=True)
class Pace:
    """What it takes to reach the target from here: `per_month` in the indicator's unit (a ratio as a
    fraction, a share as points of one) where a monthly figure means something, and the sentence."""
    per_month: float | None
    text: str


def needed_pace(ind: Indicator, fy: int, actual: float | None, target: float | None, data_as_of: date | None,
                low: float | None = None, high: float | None = None) -> Pace | None:
    """The pace the rest of the year needs, by kind and direction, as the evaluator grades it (the report's
    attention list and the at-risk alert say the same). `data_as_of` is the day the actual covers up to (the
    verdict's): the months after its month are the ones left. At least a target: what the rest must reach; at
    most: what the rest may add at most; a band (low, high): both. None without an actual or a target (or
    with a number that is not finite)."""
    lo, hi = (low, high) if ind.direction == "within" else \
        (None, target) if ind.direction == "at_most" else (target, None)
    bounds = [b for b in (lo, hi) if b is not None]
    if actual is None or data_as_of is None or not bounds or not all(math.isfinite(b - actual) for b in bounds):
        return None
    goal = target_words(ind, target, low, high)
    left = [m for m in fy_months(fy) if month_end(m) > data_as_of]
    months = len(left)
    if not months:
        short = f"（目標まで {_gap(ind, lo - actual)} 不足）" if lo is not None and lo - actual > EPS else \
            f"（目標を {_gap(ind, actual - hi)} 超過）" if hi is not None and actual - hi > EPS else ""
        return Pace(None, f"{fy_end(fy).isoformat()} で年度は終わりました{short}")
    if ind.kind == "milestone":
        return Pace(None, f"{(ind.due or fy_end(fy)).isoformat()} までに完了すること")
    if ind.kind == "hours_per_month":
        done = 12 - months  # the actual is the mean of the complete months
        need = [(b * 12 - actual * done) / months if b is not None else None for b in (lo, hi)]
        return Pace(need[0] if need[0] is not None else need[1],
                    f"残り{months}か月の平均を {_level(ind, need[0], need[1], 0)}に（年度平均を {goal} にするには）")
    if ind.kind == "mean" or (ind.kind == "ratio" and not ind.accumulates):
        # The year-to-date figure weighs the rest by its share of the year, if it runs at the pace so far.
        share = ((data_as_of - fy_start(fy)).days + 1) / ((fy_end(fy) - fy_start(fy)).days + 1)
        need = [(b - actual * share) / (1 - share) if b is not None else None for b in (lo, hi)]
        ceiling = 1.0 if ind.kind == "ratio" else math.inf
        if (need[0] is not None and need[0] > ceiling + EPS) or (need[1] is not None and need[1] < -EPS):
            return Pace(None, f"残り{months}か月がどうであっても年度の{'比率' if ind.kind == 'ratio' else '平均'}は"
                              f"目標 {goal} に届きません")
        if need[1] is not None:
            need[1] = min(need[1], ceiling)
        word = "比率を平均" if ind.kind == "ratio" else "平均を"
        return Pace(need[0] if need[0] is not None else need[1],
                    f"残り{months}か月の{word} {_level(ind, need[0], need[1], 1)}に（件数がこれまでと同じペースなら）")
    # A count, a running total, a share that only grows: the rest of the year adds to the figure.
    plan = f"（計画 {ind.plan.first}〜{ind.plan.last}年度の総量 {format_value(ind, ind.plan.total)} に向けた" \
           f"{fy}年度末の目標 {goal}）" if ind.plan is not None else ""
    more = [b - actual if b is not None else None for b in (lo, hi)]
    if more[1] is not None and more[1] < -EPS:
        return Pace(None, f"すでに目標の上限 {format_value(ind, hi)} を {_gap(ind, -more[1])} 超えています")
    if more[0] is not None and more[0] <= EPS:
        if more[1] is None:
            return Pace(0.0, f"目標の水準にあります。年度末まで {format_value(ind, target)} 以上を保つこと")
        return Pace(0.0, f"目標の範囲にあります。残り{months}か月の増加を {_gap(ind, more[1])} 以内に")
    if more[0] is None and more[1] is not None:
        return Pace(more[1] / months, f"残り{months}か月の増加を {_gap(ind, more[1])} 以内に"
                                      f"（月あたり {_allowance(ind, more[1] / months)}）{plan}")
    assert more[0] is not None
    per = more[0] / months
    within = f"（増加は {_gap(ind, more[1])} まで）" if more[1] is not None else ""
    if ind.kind == "ratio":
        return Pace(per, f"年度末までにあと {more[0] * 100:.1f} ポイント（月あたり {per * 100:.1f} ポイント）{within}")
    growth = "の増加" if ind.kind == "cumulative_count" else ""
    return Pace(per, f"残り{months}か月であと {_gap(ind, more[0])}（月あたり {_count(ind, per)}{growth}）{within}{plan}")


def _level(ind: Indicator, low: float | None, high: float | None, digits: int) -> str:
    """A level the rest of the year must keep: at least `low` (rounded up), at most `high` (rounded down)."""
    def shown(value: float, up: bool) -> str:
        if ind.kind == "ratio":
            return f"{(_ceil(value * 100, digits) if up else _floor(value * 100, digits)):.{digits}f}%"
        return format_value(ind, _ceil(value, digits) if up else _floor(value, digits))
    if low is not None and high is not None:
        return f"{shown(max(low, 0.0), True)}〜{shown(high, False)}"
    if low is not None:
        return f"{shown(low, True)} 以上"
    assert high is not None
    return f"{shown(max(high, 0.0), False)} 以下"


def _floor(value: float, digits: int) -> float:
    """An allowance is rounded down: the rounded figure must not be too much."""
    scale = 10 ** digits
    return math.floor(value * scale + 1e-6) / scale


def _allowance(ind: Indicator, value: float) -> str:
    """What a month may add at most, rounded down."""
    if ind.kind == "ratio":
        return f"{_floor(value * 100, 1):.1f} ポイント"
    value = _floor(value, 1)
    return (f"{value:,.0f}" if value == int(value) else f"{value:,.1f}") + ind.unit


def _ceil(value: float, digits: int) -> float:
    """A pace is rounded up: the rounded figure must still be enough."""
    scale = 10 ** digits
    return math.ceil(value * scale - 1e-6) / scale


def _count(ind: Indicator, value: float) -> str:
    value = _ceil(value, 1)
    text = f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"
    return text + ind.unit


def _gap(ind: Indicator, gap: float) -> str:
    if ind.kind == "ratio":
        return f"{gap * 100:.1f} ポイント"
    if ind.kind == "hours_per_month":
        return format_value(ind, gap)
    if ind.kind == "milestone":
        return "完了"
    return _count(ind, gap)


@dataclass(frozen=True)
class Since:
    status: str
    day: date
    first: bool   # the status has held since the first evaluation on record


def status_since(history: Sequence[Mapping[str, Any]]) -> Since | None:
    """Since when the latest status holds: the first as-of of the run of equal statuses that ends with
    the latest evaluation. `history`: one KPI and fiscal year's evaluations, in as-of order."""
    if not history:
        return None
    status, start = history[-1]["status"], len(history) - 1
    while start > 0 and history[start - 1]["status"] == status:
        start -= 1
    return Since(status, history[start]["as_of"], start == 0)


def since_text(since: Since) -> str:
    first = "（最初の評価）" if since.first else " "
    return f"{since.day.isoformat()}{first}から{STATUS_TEXT[since.status]}"


Published = Mapping[tuple[str, int, str], Mapping[str, Any]]   # published_grade rows by (kpi, year, scope)


def shown_target(ind: Indicator, v: Any) -> str:
    """An evaluation's target as the policy says it (以下, a band), from the evaluation's own numbers."""
    return target_words(ind, _get(v, "target"), _get_or(v, "target_low", None), _get_or(v, "target_high", None))


def evaluation_rows(verdicts: Iterable[Any], catalog: Catalog, published: Published | None = None
                    ) -> list[dict[str, str]]:
    """The achievement table, one dict per KPI and fiscal year (city-wide: a scope's verdict is told as a miss
    of its indicator, scope_misses), in the seed's words; a published figure's row also has 公表値 and 公表評価
    (the table's 実績 and 達成状況 are then the latest)."""
    rows = []
    for v in verdicts:
        if _get_or(v, "scope", CITY) != CITY:
            continue
        ind = catalog.get(_get(v, "kpi_id"))
        kept = (published or {}).get((ind.id, _get(v, "fiscal_year"), CITY))
        shown = {"公表値": format_value(ind, kept["actual"]), "公表評価": kept["grade"] or "—"} if kept else {}
        rows.append({
            "所属": ind.department,
            "経営課題": str(ind.challenge),
            "年度": f"{_get(v, 'fiscal_year')}年度",
            "KPI ID": ind.id,
            "指標": ind.name,
            "目標": shown_target(ind, v),
            "実績": format_value(ind, _get(v, "actual")),
            "達成状況": _get(v, "grade") or "—",
            "状況": STATUS_TEXT[_get(v, "status")],
            "年度末見込み": format_value(ind, _get(v, "projected")),
            "前年度実績": format_value(ind, _get(v, "prior_year_actual")),
            "時点": _get(v, "as_of").isoformat(),
            "判定の基準": change_rule(ind, _get(v, "fiscal_year"), _get_or(v, "rule", "")),
            **shown,
        })
    return rows


def status_json(evaluations: Iterable[Mapping[str, Any]], catalog: Catalog, published: Published | None = None
                ) -> list[dict[str, Any]]:
    """One object per KPI and fiscal year, city-wide as interfaces.md has it; the verdicts of its scopes (wards,
    団体コード) graded on their own targets are objects in its `scopes`, so a reader of the contract's fields
    counts each indicator once. published_*: what `jisseki publish` froze of the figure (null while its year
    is not published). Strict JSON: NaN and Infinity are not JSON. No figure can be one (the pipeline
    refuses them), but a number that is one anyway is printed as null, with null_reasons saying why."""
    evaluations = list(evaluations)
    scopes: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for e in evaluations:
        if e.get("scope", CITY) != CITY:
            scopes.setdefault((e["kpi_id"], e["fiscal_year"]), []).append(_finite({
                "scope": e["scope"], "scope_name": scope_name(e["scope"]), **_verdict_fields(e)}))
    out = []
    for e in evaluations:
        if e.get("scope", CITY) != CITY:
            continue
        ind = catalog.get(e["kpi_id"])
        kept = (published or {}).get((e["kpi_id"], e["fiscal_year"], CITY))
        out.append(_finite({
            "kpi_id": e["kpi_id"], "fiscal_year": e["fiscal_year"], "as_of": e["as_of"].isoformat(),
            **_verdict_fields(e),
            "name": ind.name, "challenge": ind.challenge, "unit": ind.unit, "kind": ind.kind,
            "department": ind.department, "direction": ind.direction, "scope": CITY,
            "flow_run_id": e["flow_run_id"], "scopes": scopes.get((e["kpi_id"], e["fiscal_year"]), []),
            "published_actual": kept["actual"] if kept else None, "published_grade": kept["grade"] if kept else None,
            "published_at": as_utc(kept["published_at"]).isoformat() if kept else None,
        }))
    return out


def _verdict_fields(e: Mapping[str, Any]) -> dict[str, Any]:
    return {"actual": e["actual"], "target": e["target"], "target_low": e.get("target_low"),
            "target_high": e.get("target_high"), "grade": e["grade"], "status": e["status"],
            "projected": e["projected"], "prior_year_actual": e["prior_year_actual"],
            "data_as_of": e["data_as_of"].isoformat() if e["data_as_of"] else None,
            "projection_method": e["projection_method"], "rule": e.get("rule")}


def _finite(entry: dict[str, Any]) -> dict[str, Any]:
    broken = [k for k, v in entry.items() if isinstance(v, float) and not math.isfinite(v)]
    if broken:
        entry.update(dict.fromkeys(broken))
        entry["null_reasons"] = dict.fromkeys(broken, "有限の数ではない値（NaN・無限大）のため null にしました")
    return entry


def page_policy(catalog: Catalog, fy: int) -> Policy:
    """A report page and a workbook are one department's (its catalog: Catalog.of_department): that year's
    policy, for the title and the 経営課題."""
    return catalog.policy_for(catalog.departments()[0], fy)


def reiwa(fy: int) -> int:
    return fy - 2018


def render_table(rows: list[dict[str, str]], catalog: Catalog,
                 misses: Mapping[tuple[str, int], list[str]] | None = None,
                 notes: Mapping[tuple[int, str], str] | None = None) -> str:
    """The seed's achievement table: per fiscal year and department (its own policy's title and 経営課題),
    grouped by 経営課題, then the count of A and B. Under a group, a note per indicator whose target is moved
    from a baseline (the rule) and per indicator with scopes that miss theirs (`misses`, scope_misses).
    `notes`: a line per fiscal year and department under its title (which year it has published); a published
    year's table puts the published value and grade beside the latest."""
    if not rows:
        return "評価がまだありません。`jisseki run` を実行してください。\n"
    misses = misses or {}
    lines: list[str] = []
    for year in dict.fromkeys(r["年度"] for r in rows):
        fy = int(year.removesuffix("年度"))
        actual = f"{reiwa(fy)}年度実績"
        columns = {"指標": "指標", "目標": "目標", "実績": actual, "達成状況": "達成状況", "状況": "状況",
                   "前年度実績": "前年度実績"}
        for department in dict.fromkeys(r["所属"] for r in rows if r["年度"] == year):
            dept_rows = [r for r in rows if r["年度"] == year and r["所属"] == department]
            shown = columns
            if any("公表値" in r for r in dept_rows):
                shown = {"指標": "指標", "目標": "目標", "公表値": "公表値", "公表評価": "公表評価", "実績": "最新値",
                         "達成状況": "最新の評価", "状況": "状況", "前年度実績": "前年度実績"}
                dept_rows = [{"公表値": "—", "公表評価": "—", **r} for r in dept_rows]
            policy = catalog.policy_for(department, fy)
            lines.append(f"令和{reiwa(fy)}年度 {policy.department} アウトカム指標の達成状況"
                         f"（{dept_rows[0]['時点']} 時点） {GRADE_LEGEND}")
            if notes and (fy, department) in notes:
                lines.append(notes[(fy, department)])
            lines.append("")
            for challenge in dict.fromkeys(r["経営課題"] for r in dept_rows):
                lines.append(f"経営課題{challenge} {policy.challenges.get(int(challenge), '')}")
                group = [r for r in dept_rows if r["経営課題"] == challenge]
                lines.extend(aligned([{label: r[key] for key, label in shown.items()} for r in group],
                                     list(shown.values())))
                lines.extend(f"  ※ {note}" for r in group for note in row_notes(r, misses.get((r["KPI ID"], fy))))
                lines.append("")
            grades = [r["達成状況"] for r in dept_rows]
            a, b = grades.count("A"), grades.count("B")
            lines.append(f"A（達成） {a} 件 / B（未達成） {b} 件 / 未確定 {len(grades) - a - b} 件")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def row_notes(row: Mapping[str, str], misses: list[str] | None) -> list[str]:
    """What a table row's cells cannot say: the rule of a target moved from a baseline, the scopes that miss."""
    notes = [f"{row['指標']}: {row['判定の基準']}"] if row.get("判定の基準") else []
    if misses:
        notes.append(f"{row['指標']}: 地域別の目標に届かない地域 — {'、'.join(misses)}")
    return notes


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def aligned(rows: list[dict[str, str]], columns: list[str]) -> list[str]:
    """Rows as text columns padded to their display width (a full-width character takes two), under a header."""
    widths = {c: max(_width(c), *(_width(r[c]) for r in rows)) for c in columns}
    pad = lambda text, c: text + " " * (widths[c] - _width(text))  # noqa: E731
    out = ["  " + "  ".join(pad(c, c) for c in columns)]
    out += ["  " + "  ".join(pad(r[c], c) for c in columns) for r in rows]
    return out
