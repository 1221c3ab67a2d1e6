"""How evaluations read to people: the achievement table in Japanese, and the JSON of interfaces.md."""
from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from jisseki.catalog import Catalog, Indicator

GRADE_TEXT = {"A": "A", "B": "B"}
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
    return f"{value:,.0f}{indicator.unit}"


def evaluation_rows(verdicts: Iterable[Any], catalog: Catalog) -> list[dict[str, str]]:
    """The achievement table, one dict per KPI and fiscal year, in the seed's words."""
    rows = []
    for v in verdicts:
        ind = catalog.get(_get(v, "kpi_id"))
        rows.append({
            "経営課題": str(ind.challenge),
            "年度": f"{_get(v, 'fiscal_year')}年度",
            "KPI ID": ind.id,
            "指標": ind.name,
            "目標": format_value(ind, _get(v, "target")),
            "実績": format_value(ind, _get(v, "actual")),
            "達成状況": GRADE_TEXT.get(_get(v, "grade") or "", "—"),
            "状況": STATUS_TEXT[_get(v, "status")],
            "年度末見込み": format_value(ind, _get(v, "projected")),
            "前年度実績": format_value(ind, _get(v, "prior_year_actual")),
            "時点": _get(v, "as_of").isoformat(),
        })
    return rows


def status_json(evaluations: Iterable[Mapping[str, Any]], catalog: Catalog) -> list[dict[str, Any]]:
    """Strict JSON: NaN and Infinity are not JSON. No figure can be one (the pipeline refuses them), but a
    number that is one anyway is printed as null, with null_reasons saying why."""
    out = []
    for e in evaluations:
        ind = catalog.get(e["kpi_id"])
        entry = {
            "kpi_id": e["kpi_id"], "fiscal_year": e["fiscal_year"], "as_of": e["as_of"].isoformat(),
            "actual": e["actual"], "target": e["target"], "grade": e["grade"], "status": e["status"],
            "projected": e["projected"], "prior_year_actual": e["prior_year_actual"],
            "name": ind.name, "challenge": ind.challenge, "unit": ind.unit, "kind": ind.kind,
            "data_as_of": e["data_as_of"].isoformat() if e["data_as_of"] else None,
            "projection_method": e["projection_method"], "flow_run_id": e["flow_run_id"],
        }
        broken = [k for k, v in entry.items() if isinstance(v, float) and not math.isfinite(v)]
        if broken:
            entry.update(dict.fromkeys(broken))
            entry["null_reasons"] = dict.fromkeys(broken, "有限の数ではない値（NaN・無限大）のため null にしました")
        out.append(entry)
    return out


def reiwa(fy: int) -> int:
    return fy - 2018


def render_table(rows: list[dict[str, str]], catalog: Catalog) -> str:
    """The seed's achievement table: per fiscal year, grouped by 経営課題, then the count of A and B."""
    if not rows:
        return "評価がまだありません。`jisseki run` を実行してください。\n"
    lines: list[str] = []
    for year in dict.fromkeys(r["年度"] for r in rows):
        year_rows = [r for r in rows if r["年度"] == year]
        fy = int(year.removesuffix("年度"))
        actual = f"{reiwa(fy)}年度実績"
        columns = {"指標": "指標", "目標": "目標", "実績": actual, "達成状況": "達成状況", "状況": "状況",
                   "前年度実績": "前年度実績"}
        lines.append(f"令和{reiwa(fy)}年度 {catalog.policy.department} アウトカム指標の達成状況"
                     f"（{year_rows[0]['時点']} 時点） {GRADE_LEGEND}")
        lines.append("")
        for challenge in dict.fromkeys(r["経営課題"] for r in year_rows):
            lines.append(f"経営課題{challenge} {catalog.challenges[int(challenge)]}")
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
