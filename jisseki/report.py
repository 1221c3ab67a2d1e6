"""How evaluations read to people: the achievement table in Japanese, and the JSON of interfaces.md."""
from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from jisseki.catalog import Catalog, Indicator
from jisseki.core.model import CITY
from jisseki.core.periods import as_utc, fy_end, fy_months, fy_start, month_end
from jisseki.evaluate import EPS

GRADE_LEGEND = "※A：達成 B：未達成"
SOURCE_STATUS_TEXT = {"landed": "取込済", "rejected": "不採用", "failed": "失敗"}
STATUS_TEXT = {"achieved": "達成", "on_track": "順調", "at_risk": "要注意", "missed": "未達成", "no_data": "データなし"}


def _get(v: Any, name: str) -> Any:
    return v[name] if isinstance(v, Mapping) else getattr(v, name)


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
    return f"{words}以下" if indicator.direction == "at_most" and target is not None else words


@dataclass(frozen=True)
class Pace:
    """What it takes to reach the target from here: `per_month` in the indicator's unit (a ratio as a
    fraction, a share as points of one) where a monthly figure means something, and the sentence."""
    per_month: float | None
    text: str


def needed_pace(ind: Indicator, fy: int, actual: float | None, target: float | None, data_as_of: date | None
                ) -> Pace | None:
    """The pace the rest of the year needs, by kind, as the evaluator grades it. `data_as_of` is the day the
    actual covers up to (the verdict's): the months after its month are the ones left. None without an
    actual or a target (or with one that is not a finite number)."""
    if actual is None or target is None or data_as_of is None or not math.isfinite(actual - target):
        return None
    left = [m for m in fy_months(fy) if month_end(m) > data_as_of]
    gap = target - actual
    if not left:
        return Pace(None, f"{fy_end(fy).isoformat()} で年度は終わりました" + (f"（目標まで {_gap(ind, gap)} 不足）"
                                                                     if gap > EPS else ""))
    months = len(left)
    if ind.kind == "milestone":
        return Pace(None, f"{fy_end(fy).isoformat()} までに完了すること")
    if ind.kind == "hours_per_month":
        done = 12 - months  # the actual is the mean of the complete months
        need = (target * 12 - actual * done) / months
        return Pace(need, f"残り{months}か月の平均を {format_value(ind, _ceil(need, 0))} 以上に"
                          f"（年度平均を {format_value(ind, target)} にするには）")
    if ind.kind == "ratio" and not ind.accumulates:
        share = ((data_as_of - fy_start(fy)).days + 1) / ((fy_end(fy) - fy_start(fy)).days + 1)
        need = (target - actual * share) / (1 - share)
        if need > 1:
            return Pace(None, f"残り{months}か月がすべて該当しても年度の比率は {format_value(ind, target)} に届きません")
        return Pace(need, f"残り{months}か月の比率を平均 {_ceil(need * 100, 1):.1f}% 以上に"
                          "（件数がこれまでと同じペースなら）")
    if gap <= EPS:
        return Pace(0.0, f"目標の水準にあります。年度末まで {format_value(ind, target)} 以上を保つこと")
    if ind.kind == "ratio":  # a share that only grows within the year: the part still to come
        return Pace(gap / months, f"年度末までにあと {gap * 100:.1f} ポイント（月あたり {gap * 100 / months:.1f} "
                                  f"ポイント）")
    per = gap / months
    growth = "の増加" if ind.kind == "cumulative_count" else ""
    return Pace(per, f"残り{months}か月であと {_gap(ind, gap)}（月あたり {_count(ind, per)}{growth}）")


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


def evaluation_rows(verdicts: Iterable[Any], catalog: Catalog, published: Published | None = None
                    ) -> list[dict[str, str]]:
    """The achievement table, one dict per KPI and fiscal year, in the seed's words; a published figure's row
    also has 公表値 and 公表評価 (the table's 実績 and 達成状況 are then the latest)."""
    rows = []
    for v in verdicts:
        ind = catalog.get(_get(v, "kpi_id"))
        kept = (published or {}).get((ind.id, _get(v, "fiscal_year"), CITY))
        shown = {"公表値": format_value(ind, kept["actual"]), "公表評価": kept["grade"] or "—"} if kept else {}
        rows.append({
            "経営課題": str(ind.challenge),
            "年度": f"{_get(v, 'fiscal_year')}年度",
            "KPI ID": ind.id,
            "指標": ind.name,
            "目標": format_value(ind, _get(v, "target")),
            "実績": format_value(ind, _get(v, "actual")),
            "達成状況": _get(v, "grade") or "—",
            "状況": STATUS_TEXT[_get(v, "status")],
            "年度末見込み": format_value(ind, _get(v, "projected")),
            "前年度実績": format_value(ind, _get(v, "prior_year_actual")),
            "時点": _get(v, "as_of").isoformat(),
            **shown,
        })
    return rows


def status_json(evaluations: Iterable[Mapping[str, Any]], catalog: Catalog, published: Published | None = None
                ) -> list[dict[str, Any]]:
    """Strict JSON: NaN and Infinity are not JSON. No figure can be one (the pipeline refuses them), but a
    number that is one anyway is printed as null, with null_reasons saying why. published_*: what
    `jisseki publish` froze of the figure (null while its year is not published)."""
    out = []
    for e in evaluations:
        ind = catalog.get(e["kpi_id"])
        kept = (published or {}).get((e["kpi_id"], e["fiscal_year"], e.get("scope", CITY)))
        entry = {
            "kpi_id": e["kpi_id"], "fiscal_year": e["fiscal_year"], "as_of": e["as_of"].isoformat(),
            "actual": e["actual"], "target": e["target"], "grade": e["grade"], "status": e["status"],
            "projected": e["projected"], "prior_year_actual": e["prior_year_actual"],
            "name": ind.name, "challenge": ind.challenge, "unit": ind.unit, "kind": ind.kind,
            "data_as_of": e["data_as_of"].isoformat() if e["data_as_of"] else None,
            "projection_method": e["projection_method"], "flow_run_id": e["flow_run_id"],
            "published_actual": kept["actual"] if kept else None, "published_grade": kept["grade"] if kept else None,
            "published_at": as_utc(kept["published_at"]).isoformat() if kept else None,
        }
        broken = [k for k, v in entry.items() if isinstance(v, float) and not math.isfinite(v)]
        if broken:
            entry.update(dict.fromkeys(broken))
            entry["null_reasons"] = dict.fromkeys(broken, "有限の数ではない値（NaN・無限大）のため null にしました")
        out.append(entry)
    return out


def reiwa(fy: int) -> int:
    return fy - 2018


def render_table(rows: list[dict[str, str]], catalog: Catalog, notes: Mapping[int, str] | None = None) -> str:
    """The seed's achievement table: per fiscal year, grouped by 経営課題, then the count of A and B. `notes`: a
    line per fiscal year under its title (which year is published); a published year's table puts the
    published value and grade beside the latest."""
    if not rows:
        return "評価がまだありません。`jisseki run` を実行してください。\n"
    lines: list[str] = []
    for year in dict.fromkeys(r["年度"] for r in rows):
        year_rows = [r for r in rows if r["年度"] == year]
        fy = int(year.removesuffix("年度"))
        actual = f"{reiwa(fy)}年度実績"
        columns = {"指標": "指標", "目標": "目標", "実績": actual, "達成状況": "達成状況", "状況": "状況",
                   "前年度実績": "前年度実績"}
        if any("公表値" in r for r in year_rows):
            columns = {"指標": "指標", "目標": "目標", "公表値": "公表値", "公表評価": "公表評価", "実績": "最新値",
                       "達成状況": "最新の評価", "状況": "状況", "前年度実績": "前年度実績"}
            year_rows = [{"公表値": "—", "公表評価": "—", **r} for r in year_rows]
        lines.append(f"令和{reiwa(fy)}年度 {catalog.policy.department} アウトカム指標の達成状況"
                     f"（{year_rows[0]['時点']} 時点） {GRADE_LEGEND}")
        if notes and fy in notes:
            lines.append(notes[fy])
        lines.append("")
        for challenge in dict.fromkeys(r["経営課題"] for r in year_rows):
            lines.append(f"経営課題{challenge} {catalog.policy.challenges[int(challenge)]}")
            group = [{label: r[key] for key, label in columns.items()} for r in year_rows if r["経営課題"] == challenge]
            lines.extend(aligned(group, list(columns.values())))
            lines.append("")
        grades = [r["達成状況"] for r in year_rows]
        a, b = grades.count("A"), grades.count("B")
        lines.append(f"A（達成） {a} 件 / B（未達成） {b} 件 / 未確定 {len(grades) - a - b} 件")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def aligned(rows: list[dict[str, str]], columns: list[str]) -> list[str]:
    """Rows as text columns padded to their display width (a full-width character takes two), under a header."""
    widths = {c: max(_width(c), *(_width(r[c]) for r in rows)) for c in columns}
    pad = lambda text, c: text + " " * (widths[c] - _width(text))  # noqa: E731
    out = ["  " + "  ".join(pad(c, c) for c in columns)]
    out += ["  " + "  ".join(pad(r[c], c) for c in columns) for r in rows]
    return out
