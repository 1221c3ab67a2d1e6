"""`jisseki report`: one offline HTML page per department (what needs attention first, then the achievement
table and a chart or a line per KPI with its history of statuses), and the table as an Excel workbook safe
from formula injection; with several departments, an index page of them all."""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from jisseki.backfill import STATUS_MARK
from jisseki.catalog import Catalog, Indicator, Policy
from jisseki.charts import line_chart
from jisseki.core.model import CITY, Figure
from jisseki.core.periods import fy_months, month_label
from jisseki.rejections import Rejections, rejections_html
from jisseki.report import (
    GRADE_LEGEND,
    STATUS_TEXT,
    Published,
    evaluation_rows,
    format_value,
    needed_pace,
    page_policy,
    reiwa,
    row_notes,
    scope_misses,
    shown_target,
    since_text,
    status_since,
    target_words,
)
from jisseki.report_workbook import write_workbook

MONTH_NAMES = [f"{m.month}月" for m in fy_months(2025)]
ATTENTION = ("missed", "at_risk")   # listed first, in this order
# How each kind's monthly series reads: a running or year-to-date total, or the month's own figure.
SERIES_WORD = {"count_per_fy": "累計", "cumulative_count": "累計", "hours_per_month": "月次"}

CSS = """
*{box-sizing:border-box}
body{font-family:"IPAGothic","IPAexGothic","Noto Sans CJK JP","Hiragino Sans","Yu Gothic",sans-serif;margin:0;
color:#222;line-height:1.5;background:#f6f7f9}
main{max-width:960px;margin:0 auto;padding:16px}
h1{font-size:22px;margin:4px 0}h2{font-size:18px;margin:28px 0 8px;border-left:6px solid #1f5fbf;padding-left:8px}
h3{font-size:15px;margin:0 0 4px}
.note{color:#555;font-size:12px;margin:2px 0}
.tiles{display:grid;grid-template-columns:repeat(5,1fr);gap:8px;margin:12px 0}
.tile{background:#fff;border:1px solid #ccd;border-top:6px solid #8c8c8c;border-radius:6px;padding:6px 10px}
.tile b{display:block;font-size:30px;line-height:1.1}.tile span{font-size:13px}.tile small{display:block;font-size:11px;color:#555}
.tile.A{border-top-color:#1e7b3c}.tile.B{border-top-color:#c0221b}.tile.at_risk{border-top-color:#c77700}
.tile.on_track{border-top-color:#1f5fbf}
.attention{list-style:none;padding:0;margin:0}
.attention li{background:#fff;border:1px solid #ccd;border-left:6px solid #c77700;border-radius:6px;padding:8px 12px;
margin:0 0 8px}.attention li.missed{border-left-color:#c0221b}
.facts{display:grid;grid-template-columns:repeat(3,minmax(0,1fr));gap:4px 16px;margin:4px 0;font-size:14px}
.facts div span{display:block;color:#555;font-size:12px}.pace{margin:4px 0 0;font-size:14px}
.badge{display:inline-block;min-width:2.2em;text-align:center;border-radius:4px;padding:0 6px;color:#fff;
font-size:13px;font-weight:bold;background:#8c8c8c;white-space:nowrap}
.badge.A,.badge.achieved{background:#1e7b3c;color:#fff}.badge.B,.badge.missed{background:#c0221b;color:#fff}
.badge.at_risk{background:#c77700}.badge.on_track{background:#1f5fbf}
nav.toc{font-size:14px;margin:12px 0}nav.toc a{margin-right:12px;display:inline-block;max-width:100%}
.scroll{overflow-x:auto}
.rejections table.rows td{overflow-wrap:anywhere}
@media (max-width:600px){.rejections table.rows tr:first-child{display:none}.rejections table.rows,.rejections table.rows tbody,.rejections table.rows tr,.rejections table.rows td{display:block}.rejections table.rows tr{border-bottom:2px solid #bbb}.rejections table.rows td{border:0;padding:1px 8px}.rejections table.rows td::before{content:attr(data-label)"：";color:#555}}
table{border-collapse:collapse;margin:8px 0 12px;background:#fff;width:100%}
th,td{border:1px solid #bbb;padding:4px 8px;font-size:14px}th{background:#d9e1f2}
td.num{text-align:right;white-space:nowrap}td.note-cell{font-size:13px;min-width:12em}
.published{font-weight:bold;margin:2px 0}.A{color:#11703a;font-weight:bold}.B{color:#c0221b;font-weight:bold}
section.kpi{background:#fff;border:1px solid #dde;border-radius:6px;padding:8px 12px;margin:0 0 10px}
.kpi-head{display:flex;flex-wrap:wrap;gap:4px 12px;align-items:baseline}
figure.chart{margin:4px 0}figure.chart svg{display:block;width:100%;height:auto}figure.chart svg.narrow{display:none}
ul.legend{list-style:none;display:flex;flex-wrap:wrap;gap:2px 16px;padding:0;margin:0 0 2px;font-size:13px}
.swatch{display:inline-block;width:22px;margin:0 6px 4px 0;vertical-align:middle}
ul.rows{list-style:none;padding:0;margin:0 0 12px;background:#fff;border:1px solid #dde;border-radius:6px}
ul.rows li{display:grid;grid-template-columns:minmax(0,1fr) auto auto auto;gap:4px 16px;align-items:center;
padding:6px 12px;border-top:1px solid #eee;font-size:14px}ul.rows li:first-child{border-top:0}
ul.rows .since{grid-column:1/-1;color:#555;font-size:12px;margin:0}
@media (min-width:800px){ul.rows{display:grid;grid-template-columns:1fr 1fr}
ul.rows li:nth-child(2){border-top:0}ul.rows li:nth-child(even){border-left:1px solid #eee}}
ol.hist{list-style:none;display:grid;grid-template-columns:repeat(12,minmax(0,1fr));gap:2px;padding:0;margin:6px 0 0}
ol.hist li{text-align:center;font-size:11px;line-height:1.25;border-radius:3px;padding:1px 0;background:#eee;color:#666}
ol.hist li b{display:block;font-size:12px}
ol.hist li.achieved{background:#1e7b3c;color:#fff}ol.hist li.missed{background:#c0221b;color:#fff}
ol.hist li.at_risk{background:#f3b13c;color:#222}ol.hist li.on_track{background:#cfe0f7;color:#123}
ol.hist li.no_data{background:#e4e4e4;color:#555}
.since{font-size:13px;color:#444;margin:2px 0 0}
ul.notes{font-size:13px;color:#444;margin:0 0 12px;padding-left:1.2em;list-style:none}
table.index td.num{text-align:right;font-weight:bold}table.index td.B.num{color:#c0221b}
table.index td.at_risk.num{color:#c77700}
@media (max-width:640px){
main{padding:10px}.tiles{grid-template-columns:repeat(3,1fr)}.tile b{font-size:24px}
.facts{gap:4px 8px}
figure.chart svg.wide{display:none}figure.chart svg.narrow{display:block}
ul.rows li{grid-template-columns:auto auto auto;justify-items:start}ul.rows li .name{grid-column:1/-1}
th,td{font-size:12px;padding:3px 4px}td+td,th+th{white-space:nowrap}
}
"""


def write_report(evaluations: Sequence[Mapping[str, Any]], figures: Sequence[Figure], catalog: Catalog, fy: int,
                 out: Path, *, history: Sequence[Mapping[str, Any]] = (),
                 rejections: Rejections | None = None, published: Published | None = None,
                 published_lines: Mapping[tuple[int, str], str] | None = None,
                 commentary: Mapping[tuple[str, int], str] | None = None
                 ) -> list[Path]:
    """`evaluations`: the latest ones, per scope too (latest_evaluations(…, scopes=True)); `history`: every
    evaluation of the year (warehouse.store.evaluation_history), for when each status began; `rejections`:
    what the nights set aside, a section per source after the indicators'; `published`: the year's
    published_grade rows by (kpi, year, scope), shown beside the latest, and `published_lines` saying when each department (per year) had it
    was published; `commentary`: the departments' 所見 by (kpi, year). One department: DIR/index.html and
    achievement_FY<fy>.xlsx, as always. Several: DIR/index.html is the index of them, and each has a page and
    a workbook named by its policy's id. Returns the files written, the index (or the page) first."""
    out.mkdir(parents=True, exist_ok=True)
    kept = _Kept(published or {}, published_lines or {}, commentary or {})
    after = [rejections_html(rejections.rows, rejections.counts, rejections.sources)] if rejections else []
    departments = catalog.departments()
    if len(departments) == 1:
        return _department_files(evaluations, figures, catalog, fy, out / "index.html",
                                 out / f"achievement_FY{fy}.xlsx", history, after, kept)
    index = out / "index.html"
    written, pages = [index], []
    for department, stem in zip(departments, file_stems([catalog.policy_for(d, fy) for d in departments])):
        own = catalog.of_department(department)
        ids = own.ids()
        written += _department_files([e for e in evaluations if e["kpi_id"] in ids], figures, own, fy,
                                     out / f"{stem}.html", out / f"{stem}.xlsx",
                                     [h for h in history if h["kpi_id"] in ids], (), kept)
        pages.append((department, f"{stem}.html", f"{stem}.xlsx"))
    index.write_text(render_index(evaluations, catalog, fy, pages, sections_after=after), "utf-8")
    return written


def _department_files(evaluations: Sequence[Mapping[str, Any]], figures: Sequence[Figure], catalog: Catalog,
                      fy: int, html_path: Path, xlsx_path: Path, history: Sequence[Mapping[str, Any]],
                      after: Sequence[str], kept: _Kept) -> list[Path]:
    rows = evaluation_rows(evaluations, catalog, kept.published)
    for row in rows:
        row["所見"] = kept.commentary.get((row["KPI ID"], int(row["年度"].removesuffix("年度"))), "")
    line = kept.lines.get((fy, catalog.departments()[0]), "")   # one department's page
    html_path.write_text(render_html(rows, evaluations, figures, catalog, fy, history=history,
                                     sections_after=after, published_line=line), "utf-8")
    write_workbook(evaluations, figures, catalog, fy, xlsx_path, published=kept.published,
                   commentary=kept.commentary, published_line=line)
    return [html_path, xlsx_path]


@dataclass(frozen=True)
class _Kept:
    """What publishing keeps, for every page: the published rows, the line saying when (per year and
    department), the 所見."""
    published: Published
    lines: Mapping[tuple[int, str], str]
    commentary: Mapping[tuple[str, int], str]


def file_stems(policies: Sequence[Policy]) -> list[str]:
    """A file name per policy from its id, in ASCII letters, digits, - and _ only (a URL and any file system
    take it as it is); a policy whose id leaves nothing, or the same as another's, is numbered."""
    stems: list[str] = []
    for n, policy in enumerate(policies, start=1):
        stem = re.sub(r"[^A-Za-z0-9_-]+", "_", policy.id).strip("_")
        if not stem or stem in stems or stem.lower() == "index":
            stem = f"{stem or 'department'}-{n}"
        stems.append(stem)
    return stems


def _head(title: str) -> str:
    return (f'<!doctype html><html lang="ja"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{escape(title)}</title>'
            f"<style>{CSS}</style></head><body><main>")


def render_html(rows: list[dict[str, str]], evaluations: Sequence[Mapping[str, Any]], figures: Sequence[Figure],
                catalog: Catalog, fy: int, *, history: Sequence[Mapping[str, Any]] = (),
                sections_after: Sequence[str] = (), published_line: str = "") -> str:
    policy = page_policy(catalog, fy)
    as_of = rows[0]["時点"] if rows else "—"
    title = f"令和{reiwa(fy)}年度 {policy.department} アウトカム指標の達成状況"
    verdicts = {e["kpi_id"]: e for e in evaluations if e["fiscal_year"] == fy and e.get("scope", CITY) == CITY}
    misses = scope_misses(evaluations)
    histories: dict[str, list[Mapping[str, Any]]] = {}
    for h in history:
        if h["fiscal_year"] == fy:
            histories.setdefault(h["kpi_id"], []).append(h)
    series = _monthly(figures)
    challenges = list(dict.fromkeys(r["経営課題"] for r in rows))
    extras = [(f"extra-{i}", _heading(section)) for i, section in enumerate(sections_after)]
    parts = [_head(title),
             f"<header><h1>{escape(title)}</h1><p class=\"note\">{escape(policy.title)}（{as_of} 時点）"
             f"{escape(GRADE_LEGEND)}</p>"
             + (f'<p class="published">{escape(published_line)}</p>' if published_line else "") + "</header>",
             _summary(list(verdicts.values()), catalog, fy, histories),
             _toc([(f"challenge-{c}", f"経営課題{c}") for c in challenges] + extras)]
    for challenge in challenges:
        group = [r for r in rows if r["経営課題"] == challenge]
        parts.append(f'<section id="challenge-{challenge}"><h2>経営課題{challenge} '
                     f"{escape(policy.challenges.get(int(challenge), ''))}</h2>")
        parts.append(_table(group, fy))
        notes = [note for r in group for note in row_notes(r, misses.get((r["KPI ID"], fy)))]
        if notes:
            parts.append('<ul class="notes">' + "".join(f"<li>※ {escape(n)}</li>" for n in notes) + "</ul>")
        charted, compact = [], []
        for row in group:
            ind = catalog.get(row["KPI ID"])
            verdict = verdicts.get(ind.id, {})
            kpi_history = histories.get(ind.id, [])
            if _has_months(ind, fy, series):
                charted.append(_chart_section(ind, fy, series, verdict, kpi_history))
            else:
                compact.append(_compact_row(ind, verdict, kpi_history, fy))
        parts.extend(charted)
        if compact:
            parts.append(f'<ul class="rows" aria-label="月次の実績がない指標">{"".join(compact)}</ul>')
        parts.append("</section>")
    parts.extend(f'<div id="{anchor}">{section}</div>' for (anchor, _), section in zip(extras, sections_after))
    parts.append(f'<p class="note">凡例（状況の推移）: {_history_legend()}。'
                 "年度末見込みは評価の方法に従った推計です。</p></main></body></html>")
    return "".join(parts)


INDEX_TILES = (("A", "A（達成）"), ("B", "B（未達成）"), ("at_risk", "要注意"), ("no_data", "データなし"))


def department_counts(verdicts: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """A department's city-wide verdicts of the year: how many are A, B, at risk, without data."""
    grades = [v["grade"] for v in verdicts]
    statuses = [v["status"] for v in verdicts]
    return {"A": grades.count("A"), "B": grades.count("B"), "at_risk": statuses.count("at_risk"),
            "no_data": statuses.count("no_data")}


def render_index(evaluations: Sequence[Mapping[str, Any]], catalog: Catalog, fy: int,
                 pages: Sequence[tuple[str, str, str]], *, sections_after: Sequence[str] = ()) -> str:
    """Every department on one page: its policy, the count of A, B, 要注意 and データなし, its indicators at risk
    with their projection, and links to its page and workbook (`pages`: department, page, workbook)."""
    verdicts = [e for e in evaluations if e["fiscal_year"] == fy and e.get("scope", CITY) == CITY]
    as_of = min((e["as_of"] for e in verdicts), default=None)
    title = f"令和{reiwa(fy)}年度 アウトカム指標の達成状況（所属別）"
    parts = [_head(title), f"<header><h1>{escape(title)}</h1><p class=\"note\">"
             f"{len(pages)} 所属（{as_of.isoformat() + ' 時点' if as_of else '評価なし'}） {escape(GRADE_LEGEND)}"
             "</p></header>",
             '<table class="index"><tr><th>所属</th>'
             + "".join(f"<th>{escape(label)}</th>" for _, label in INDEX_TILES) + "<th>報告書</th></tr>"]
    sections = []
    for n, (department, page, workbook) in enumerate(pages, start=1):
        ids = {i.id for i in catalog.indicators if i.department == department}
        own = [v for v in verdicts if v["kpi_id"] in ids]
        counts = department_counts(own)
        parts.append(f'<tr><td><a href="#department-{n}">{escape(department)}</a></td>'
                     + "".join(f'<td class="num {key}">{counts[key]}</td>' for key, _ in INDEX_TILES)
                     + f'<td><a href="{escape(page)}">ページ</a> <a href="{escape(workbook)}">Excel</a></td></tr>')
        policy = catalog.policy_for(department, fy)
        at_risk = sorted((v for v in own if v["status"] == "at_risk"),
                         key=lambda v: catalog.indicators.index(catalog.get(v["kpi_id"])))
        items = "".join(_index_item(catalog.get(v["kpi_id"]), v) for v in at_risk)
        sections.append(f'<section class="kpi" id="department-{n}"><div class="kpi-head"><h2>{escape(department)}</h2>'
                        f'<span class="note">{escape(policy.title)}</span></div>'
                        f'<p><a href="{escape(page)}">{escape(department)}の報告書</a>'
                        f'（<a href="{escape(workbook)}">Excel</a>）</p>'
                        + (f'<h3>要注意の指標</h3><ul class="attention">{items}</ul>' if items
                           else "<p>要注意の指標はありません。</p>") + "</section>")
    parts.append("</table>")
    parts.extend(sections)
    parts.extend(sections_after)
    parts.append("</main></body></html>")
    return "".join(parts)


def _index_item(ind: Indicator, verdict: Mapping[str, Any]) -> str:
    fmt = lambda v: format_value(ind, v)  # noqa: E731
    return (f'<li class="at_risk"><b>{escape(ind.name)}</b><div class="facts">'
            f'<div><span>実績</span>{escape(fmt(verdict["actual"]))}</div>'
            f'<div><span>目標</span>{escape(shown_target(ind, verdict))}</div>'
            f'<div><span>年度末見込み</span>{escape(fmt(verdict["projected"]))}</div></div></li>')


def _summary(verdicts: list[Mapping[str, Any]], catalog: Catalog, fy: int,
             histories: dict[str, list[Mapping[str, Any]]]) -> str:
    """The first screen: how many are where, and the ones needing attention with what it would take."""
    grades = [v["grade"] for v in verdicts]
    statuses = [v["status"] for v in verdicts]
    reached = sum(1 for v in verdicts if v["grade"] is None and v["status"] == "achieved")  # a count, mid-year
    tiles = [("A", "A（達成）", grades.count("A"), ""), ("B", "B（未達成）", grades.count("B"), ""),
             ("at_risk", "要注意", statuses.count("at_risk"), ""),
             ("on_track", "順調", statuses.count("on_track") + reached, f"（うち目標到達 {reached}）" if reached else ""),
             ("no_data", "データなし", statuses.count("no_data"), "")]
    out = ['<section id="summary" aria-label="概要"><div class="tiles">']
    out += [f'<div class="tile {key}"><b>{count}</b><span>{escape(label)}</span><small>{escape(more)}</small></div>'
            for key, label, count, more in tiles]
    out.append("</div>")
    listed = sorted((v for v in verdicts if v["status"] in ATTENTION),
                    key=lambda v: (ATTENTION.index(v["status"]), catalog.indicators.index(catalog.get(v["kpi_id"]))))
    out.append('<h2 id="attention">要注意・未達成の指標</h2>')
    if not listed:
        out.append('<p>要注意・未達成の指標はありません。</p>')
    else:
        out.append('<ul class="attention">')
        out += [_attention_item(catalog.get(v["kpi_id"]), v, fy, histories.get(v["kpi_id"], [])) for v in listed]
        out.append("</ul>")
    return "".join(out) + "</section>"


def _attention_item(ind: Indicator, verdict: Mapping[str, Any], fy: int, history: list[Mapping[str, Any]]) -> str:
    fmt = lambda v: format_value(ind, v)  # noqa: E731
    data_as_of = verdict.get("data_as_of")
    pace = needed_pace(ind, fy, verdict["actual"], verdict["target"], data_as_of, verdict.get("target_low"),
                       verdict.get("target_high"))
    label = "年度の結果" if verdict["status"] == "missed" else "必要なペース"
    since = status_since(history)
    facts = [(f"実績（{data_as_of.isoformat()} まで）" if data_as_of else "実績", fmt(verdict["actual"])),
             ("目標", shown_target(ind, verdict)), ("年度末見込み", fmt(verdict["projected"]))]
    return (f'<li class="{verdict["status"]}"><h3>{_badge(verdict)} {escape(ind.name)}</h3>'
            f'<div class="facts" title="年度末見込み: {escape(verdict.get("projection_method") or "")}">'
            f'{"".join(f"<div><span>{escape(k)}</span>{escape(v)}</div>" for k, v in facts)}</div>'
            + (f'<p class="pace">{label}: <b>{escape(pace.text)}</b></p>' if pace else "")
            + (f'<p class="since">{escape(since_text(since))}</p>' if since else "") + "</li>")


def _badge(verdict: Mapping[str, Any]) -> str:
    grade, status = verdict.get("grade"), verdict.get("status", "no_data")
    text = grade if grade else STATUS_TEXT[status]
    return f'<span class="badge {grade or status}">{escape(text)}</span>'


def _toc(entries: list[tuple[str, str]]) -> str:
    links = "".join(f'<a href="#{anchor}">{escape(label)}</a>' for anchor, label in entries)
    return f'<nav class="toc" aria-label="目次"><a href="#attention">要注意・未達成</a>{links}</nav>'


class _FirstHeading(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.depth, self.text = 0, ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("h2", "h3") and not self.text:
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("h2", "h3") and self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.text += data


def _heading(section: str) -> str:
    """A section's first heading as text, for the table of contents (the section is someone else's HTML)."""
    parser = _FirstHeading()
    parser.feed(section)
    return parser.text.strip() or "その他"


def _table(rows: list[dict[str, str]], fy: int) -> str:
    """The seed's table; a published year's has the published value and grade beside the latest (「公表値」
    「最新値」), and the departments' 所見 are a last column where there are any."""
    head = ["指標", "目標", f"{reiwa(fy)}年度実績", "達成状況", "状況", "前年度実績"]
    keys = ["指標", "目標", "実績", "達成状況", "状況", "前年度実績"]
    if any("公表値" in r for r in rows):
        head[2:4] = ["公表値", "公表評価", "最新値", "最新の評価"]
        keys[2:4] = ["公表値", "公表評価", "実績", "達成状況"]
    if any(r.get("所見") for r in rows):
        head.append("所見")
        keys.append("所見")
    out = ['<div class="scroll"><table><tr>' + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr>"]
    for r in rows:
        cells = []
        for key in keys:
            text = r.get(key) or ("" if key == "所見" else "—")
            css = (f' class="{text}"' if key in ("達成状況", "公表評価") else ' class="note-cell"' if key == "所見"
                   else ' class="num"' if key in ("目標", "実績", "公表値", "前年度実績") else "")
            cells.append(f"<td{css}>{escape(text).replace(chr(10), '<br>')}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    return "".join(out) + "</table></div>"


def _monthly(figures: Sequence[Figure]) -> dict[tuple[str, str], Figure]:
    return {(f.kpi_id, f.period): f for f in figures if f.scope == CITY}


def _has_months(ind: Indicator, fy: int, series: dict[tuple[str, str], Figure]) -> bool:
    return any((ind.id, month_label(m)) in series for year in (fy, fy - 1) for m in fy_months(year))


def _year_series(ind: Indicator, fy: int, series: dict[tuple[str, str], Figure],
                 until: date | None = None) -> list[float | None]:
    """The fiscal year's monthly values up to `until` (the evaluation's as-of: the chart shows what was
    graded, not months landed since), a count per fiscal year as its running total."""
    values = [series[key].value if (key := (ind.id, month_label(m))) in series and (until is None or m <= until)
              else None for m in fy_months(fy)]
    if ind.kind != "count_per_fy":
        return values
    total, out = 0.0, []
    for v in values:
        total = total + v if v is not None else total
        out.append(total if v is not None else None)
    return out


def _series_word(ind: Indicator) -> str:
    if ind.kind == "ratio":
        return "年度累計" if ind.accumulates else "月次"
    return SERIES_WORD.get(ind.kind, "月次")


def _chart_section(ind: Indicator, fy: int, series: dict[tuple[str, str], Figure], verdict: Mapping[str, Any],
                   history: list[Mapping[str, Any]]) -> str:
    fmt = lambda v: format_value(ind, v)  # noqa: E731
    as_of = verdict.get("as_of")
    actual, prior = _year_series(ind, fy, series, as_of), _year_series(ind, fy - 1, series)
    word = _series_word(ind)
    status = verdict.get("grade") or verdict.get("status", "no_data")
    projected = verdict.get("projected") if verdict.get("status") in ("at_risk", "on_track") else None
    target = verdict.get("target", ind.target(fy))   # a target moved from a baseline is the verdict's number
    chart = line_chart(MONTH_NAMES, actual, prior, target, fmt,
                       (f"{reiwa(fy)}年度 {word}", f"{reiwa(fy - 1)}年度 {word}", "目標"), status=status,
                       projected=projected, integer=ind.kind in ("count_per_fy", "cumulative_count"), label=ind.name)
    facts = (f'<span class="note">実績 {escape(fmt(verdict.get("actual")))} ／ 目標 {escape(_target(ind, fy, verdict))}'
             + (f' ／ 年度末見込み {escape(fmt(projected))}' if projected is not None else "") + "</span>")
    return (f'<section class="kpi" title="{escape(ind.id)}"><div class="kpi-head"><h3>{escape(ind.name)}</h3>'
            f"{_badge(verdict)}{facts}</div>{chart}{_history(history, fy)}</section>")


def _compact_row(ind: Indicator, verdict: Mapping[str, Any], history: list[Mapping[str, Any]], fy: int) -> str:
    """An indicator with only a yearly figure (a milestone, a count entered once a year): one line."""
    fmt = lambda v: format_value(ind, v)  # noqa: E731
    since = status_since(history)
    return (f'<li title="{escape(ind.id)}"><span class="name">{escape(ind.name)}</span>'
            f'<span>目標 {escape(_target(ind, fy, verdict))}</span><span>実績 {escape(fmt(verdict.get("actual")))}</span>'
            f"{_badge(verdict)}"
            + (f'<span class="since">{escape(since_text(since))}</span>' if since else "") + "</li>")


def _target(ind: Indicator, fy: int, verdict: Mapping[str, Any]) -> str:
    """The verdict's target as the policy says it; without a verdict, the catalog's."""
    return shown_target(ind, verdict) if verdict else target_words(ind, ind.target(fy))


def _history(history: list[Mapping[str, Any]], fy: int) -> str:
    """A cell per month of the year in the colour of the month's last evaluation, and since when."""
    if not history:
        return ""
    by_month = {month_label(h["as_of"]): h for h in history}
    cells = []
    for m in fy_months(fy):
        h = by_month.get(month_label(m))
        if h is None:
            cells.append(f'<li title="{m.month}月: 評価なし">{m.month}月<b>&nbsp;</b></li>')
        else:
            text = STATUS_TEXT[h["status"]]
            cells.append(f'<li class="{h["status"]}" title="{h["as_of"].isoformat()} 時点: {text}">{m.month}月'
                         f"<b>{STATUS_MARK[h['status']]}</b></li>")
    since = status_since(history)
    assert since is not None  # history is not empty
    return (f'<ol class="hist" aria-label="状況の推移">{"".join(cells)}</ol>'
            f'<p class="since">{escape(since_text(since))}</p>')


def _history_legend() -> str:
    return " ".join(f"{STATUS_MARK[s]}{STATUS_TEXT[s]}" for s in ("achieved", "on_track", "at_risk", "missed", "no_data"))

