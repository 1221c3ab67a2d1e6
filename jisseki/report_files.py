"""`jisseki report`: the achievement table and a chart per KPI as one offline HTML page, and the
table as an Excel workbook safe from formula injection."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from jisseki.catalog import Catalog, Indicator
from jisseki.charts import bar_chart, line_chart
from jisseki.model import CITY, Figure
from jisseki.periods import fy_label, fy_months, month_label
from jisseki.rejections import Rejections, rejections_html
from jisseki.report import GRADE_LEGEND, evaluation_rows, format_value, reiwa
from jisseki.report_workbook import write_workbook

MONTH_NAMES = [f"{m.month}月" for m in fy_months(2025)]

CSS = """
body{font-family:"IPAGothic","IPAexGothic","Noto Sans CJK JP","Hiragino Sans","Yu Gothic",sans-serif;margin:24px;color:#222}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-left:6px solid #1f5fbf;padding-left:8px}
table{border-collapse:collapse;margin:8px 0 16px}th,td{border:1px solid #bbb;padding:4px 8px;font-size:14px}
th{background:#d9e1f2}td.num{text-align:right}.A{color:#11703a;font-weight:bold}.B{color:#c0221b;font-weight:bold}
section.kpi{display:inline-block;vertical-align:top;margin:8px 16px 16px 0}section.kpi h3{font-size:14px;margin:4px 0}
.note{color:#555;font-size:12px}
"""


def write_report(evaluations: Sequence[Mapping[str, Any]], figures: Sequence[Figure], catalog: Catalog, fy: int,
                 out: Path, rejections: Rejections | None = None) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    rows = evaluation_rows(evaluations, catalog)
    html_path, xlsx_path = out / "index.html", out / f"achievement_FY{fy}.xlsx"
    after = rejections_html(rejections.rows, rejections.counts, rejections.sources) if rejections else []
    html_path.write_text(render_html(rows, evaluations, figures, catalog, fy, sections_after=after), "utf-8")
    write_workbook(evaluations, figures, catalog, fy, xlsx_path)
    return html_path, xlsx_path


def render_html(rows: list[dict[str, str]], evaluations: Sequence[Mapping[str, Any]], figures: Sequence[Figure],
                catalog: Catalog, fy: int, sections_after: Sequence[str] = ()) -> str:
    as_of = rows[0]["時点"] if rows else "—"
    title = f"令和{reiwa(fy)}年度 {catalog.policy.department} アウトカム指標の達成状況"
    grades = [r["達成状況"] for r in rows]
    parts = [f'<!doctype html><html lang="ja"><head><meta charset="utf-8"><title>{escape(title)}</title>'
             f"<style>{CSS}</style></head><body>",
             f"<h1>{escape(title)}</h1><p class=\"note\">{escape(catalog.policy.title)}（{as_of} 時点）"
             f"{escape(GRADE_LEGEND)}</p>",
             f"<p>A（達成） <b>{grades.count('A')}</b> 件 / B（未達成） <b>{grades.count('B')}</b> 件</p>"]
    series = _monthly(figures)
    for challenge in dict.fromkeys(r["経営課題"] for r in rows):
        group = [r for r in rows if r["経営課題"] == challenge]
        parts.append(f"<h2>経営課題{challenge} {escape(catalog.challenges[int(challenge)])}</h2>")
        parts.append(_table(group, fy))
        for row in group:
            parts.append(_chart_section(catalog.get(row["KPI ID"]), fy, series, evaluations))
    parts.extend(sections_after)
    parts.append("</body></html>")
    return "".join(parts)


def _table(rows: list[dict[str, str]], fy: int) -> str:
    head = ["指標", "目標", f"{reiwa(fy)}年度実績", "達成状況", "状況", "前年度実績"]
    keys = ["指標", "目標", "実績", "達成状況", "状況", "前年度実績"]
    out = ["<table><tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr>"]
    for r in rows:
        cells = []
        for key in keys:
            css = f' class="{r[key]}"' if key == "達成状況" else ' class="num"' if key in ("目標", "実績", "前年度実績") else ""
            cells.append(f"<td{css}>{escape(r[key])}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    return "".join(out) + "</table>"


def _monthly(figures: Sequence[Figure]) -> dict[tuple[str, str], float]:
    return {(f.kpi_id, f.period): f.value for f in figures if f.scope == CITY}


def _year_series(ind: Indicator, fy: int, series: dict[tuple[str, str], float]) -> list[float | None]:
    values = [series.get((ind.id, month_label(m))) for m in fy_months(fy)]
    if ind.kind != "count_per_fy":
        return values
    total, out = 0.0, []
    for v in values:  # a count per fiscal year is charted as its running total against the target
        total = total + v if v is not None else total
        out.append(total if v is not None else None)
    return out


def _chart_section(ind: Indicator, fy: int, series: dict[tuple[str, str], float],
                   evaluations: Sequence[Mapping[str, Any]]) -> str:
    fmt = lambda v: format_value(ind, v)  # noqa: E731
    target = ind.target(fy)
    actual, prior = _year_series(ind, fy, series), _year_series(ind, fy - 1, series)
    head = f"<h3>{escape(ind.name)}（{escape(ind.id)}）</h3>"
    if any(v is not None for v in actual + prior):
        names = (f"{reiwa(fy)}年度 月次実績", f"{reiwa(fy - 1)}年度", "目標")
        return f'<section class="kpi">{head}{line_chart(MONTH_NAMES, actual, prior, target, fmt, names)}</section>'
    verdict = next((e for e in evaluations if e["kpi_id"] == ind.id and e["fiscal_year"] == fy), {})
    fy_value = series.get((ind.id, fy_label(fy)))
    bars = [(f"{reiwa(fy)}年度実績", fy_value, "actual"), ("前年度実績", verdict.get("prior_year_actual"), "prior"),
            ("目標", target, "target")]
    note = '<p class="note">月次の実績はありません（年度の実績のみ）</p>'
    return f'<section class="kpi">{head}{bar_chart(bars, fmt)}{note}</section>'
