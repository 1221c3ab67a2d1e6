"""The report page as planning staff meet it: what needs attention on the first screen with the pace
it needs, round axes, labelled targets, a line instead of a chart for yearly figures, the history of
statuses; and the demo's page rendered by Chromium at a desktop and a phone width."""
from __future__ import annotations

import html
import json
import math
import os
import re
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from jisseki.catalog import load_catalog
from jisseki.charts import TARGET_COLOR, line_chart, nice_ticks
from jisseki.cli import main
from jisseki.evaluate import Verdict
from jisseki.report import format_value, needed_pace, since_text, status_since
from tests.test_report import chromium, png_pixels
from warehouse.store import connect, evaluation_history, save_evaluations, withdraw_evaluations_after

CATALOG = load_catalog()
IND = {i.id: i for i in CATALOG.indicators}
DEC = date(2025, 12, 31)


# --- what it takes to reach the target --------------------------------------------------------------

def test_a_count_per_year_needs_the_rest_spread_over_the_months_left() -> None:
    pace = needed_pace(IND["external_specialists"], 2025, 3.0, 7.0, DEC)   # Jan, Feb, Mar left
    assert pace.per_month == pytest.approx(4 / 3)
    assert pace.text == "残り3か月であと 4名（月あたり 1.4名）"
    # A figure as of the middle of a month leaves that month too.
    assert needed_pace(IND["external_specialists"], 2025, 3.0, 7.0, date(2025, 12, 15)).per_month == 1.0


def test_a_cumulative_count_needs_its_growth_per_month() -> None:
    pace = needed_pace(IND["online_procedures"], 2025, 1900.0, 2000.0, date(2025, 9, 30))
    assert pace.per_month == pytest.approx(100 / 6)
    assert pace.text == "残り6か月であと 100件（月あたり 16.7件の増加）"


def test_monthly_hours_need_the_mean_of_the_months_left_that_lifts_the_year_mean() -> None:
    # Nine complete months averaging 400 h; the year's mean over twelve must reach 1,870 h.
    pace = needed_pace(IND["speech_hours_monthly"], 2025, 400.0, 1870.0, DEC)
    assert pace.per_month == pytest.approx((1870 * 12 - 400 * 9) / 3) == 6280
    assert pace.text == "残り3か月の平均を 月6,280時間 以上に（年度平均を 月1,870時間 にするには）"


def test_a_ratio_needs_a_share_in_the_rest_of_the_year_and_says_when_none_can_do() -> None:
    # Apr 1 - Sep 30 is 183 of the year's 365 days, at 20 %; the year must end at 25 %.
    pace = needed_pace(IND["myna_moveout_share"], 2025, 0.20, 0.25, date(2025, 9, 30))
    assert pace.per_month == pytest.approx((0.25 * 365 - 0.20 * 183) / 182)
    assert pace.text == "残り6か月の比率を平均 30.1% 以上に（件数がこれまでと同じペースなら）"
    hopeless = needed_pace(IND["myna_moveout_share"], 2025, 0.0, 0.25, date(2026, 2, 28))
    assert hopeless.per_month is None and "届きません" in hopeless.text


def test_a_share_that_only_grows_needs_points_and_a_milestone_needs_doing() -> None:
    pace = needed_pace(IND["dataviz_department_share"], 2025, 0.50, 0.60, DEC)
    assert pace.per_month == pytest.approx(0.1 / 3)
    assert pace.text == "年度末までにあと 10.0 ポイント（月あたり 3.3 ポイント）"
    milestone = needed_pace(IND["security_strategy_revised"], 2025, 0.0, 1.0, DEC)
    assert milestone.per_month is None and milestone.text == "2026-03-31 までに完了すること"


def test_after_the_year_only_the_shortfall_is_left_and_without_an_actual_nothing() -> None:
    over = needed_pace(IND["speech_hours_monthly"], 2025, 403.0, 1870.0, date(2026, 3, 31))
    assert over.per_month is None and over.text == "2026-03-31 で年度は終わりました（目標まで 月1,467時間 不足）"
    assert needed_pace(IND["external_specialists"], 2025, None, 7.0, None) is None
    assert needed_pace(IND["external_specialists"], 2025, math.nan, 7.0, DEC) is None


def test_since_when_a_status_holds() -> None:
    statuses = [(date(2025, 4, 30), "on_track"), (date(2025, 5, 31), "at_risk"), (date(2025, 6, 30), "at_risk")]
    since = status_since([{"as_of": d, "status": s} for d, s in statuses])
    assert (since.status, since.day, since.first) == ("at_risk", date(2025, 5, 31), False)
    assert since_text(since) == "2025-05-31 から要注意"
    always = status_since([{"as_of": d, "status": "on_track"} for d, _ in statuses])
    assert since_text(always) == "2025-04-30（最初の評価）から順調"
    assert status_since([]) is None


# --- the axis -----------------------------------------------------------------------------------------

def is_round_step(step: float) -> bool:
    mantissa = step / 10 ** math.floor(math.log10(step))
    return any(math.isclose(mantissa, m) for m in (1, 2, 5))


@pytest.mark.parametrize("high", [2180, 1870, 935, 0.39, 0.25, 1, 5, 5.0000001, 7, 49.9, 60, 0.064, 123456, 0.0007])
def test_ticks_are_round_steps_from_zero_covering_the_maximum(high: float) -> None:
    ticks = nice_ticks(high)
    step = ticks[1]
    assert ticks[0] == 0 and 4 <= len(ticks) <= 6 and ticks[-1] >= high and ticks[-2] < high
    assert is_round_step(step) and all(math.isclose(t, i * step) for i, t in enumerate(ticks))


def test_a_small_count_has_whole_steps() -> None:
    assert nice_ticks(2, integer=True) == [0, 1, 2, 3]
    assert nice_ticks(7, integer=True) == [0, 2, 4, 6, 8]
    assert nice_ticks(2180) == [0, 500, 1000, 1500, 2000, 2500]


def test_the_chart_labels_the_target_and_draws_the_projection_to_march() -> None:
    actual = [100.0 * (i + 1) for i in range(9)] + [None, None, None]
    svg = line_chart([f"{m}月" for m in range(1, 13)], actual, [None] * 12, 2000.0, lambda v: f"{v:,.0f}件",
                     ("7年度 累計", "6年度 累計", "目標"), status="at_risk", projected=1200.0, integer=True)
    assert svg.count("目標 2,000件") == 2                     # the wide and the narrow drawing
    assert svg.count('class="projection"') == 2 and svg.count("見込み 1,200件") == 2
    assert f'stroke="{TARGET_COLOR}"' in svg and "#c0221b" not in svg
    ticks = re.findall(r'class="tick"[^>]*>([^<]+)<', svg)
    assert ticks == ["500件", "1,000件", "1,500件", "2,000件"] * 2


# --- the history query ----------------------------------------------------------------------------------

def verdict(kpi: str, fy: int, day: date, status: str) -> Verdict:
    return Verdict(kpi, fy, day, 1.0, 2.0, None, status, 1.0, None, day, "m")


def test_the_history_keeps_one_evaluation_per_day_the_newest_runs(warehouse_url: str) -> None:
    engine = connect(warehouse_url)
    save_evaluations(engine, [verdict("speech_hours_monthly", 2025, date(2025, 4, 30), "on_track"),
                              verdict("speech_hours_monthly", 2025, date(2025, 5, 31), "on_track"),
                              verdict("speech_hours_monthly", 2024, date(2025, 3, 31), "missed"),
                              verdict("online_procedures", 2025, date(2025, 4, 30), "on_track")], "backfill")
    save_evaluations(engine, [verdict("speech_hours_monthly", 2025, date(2025, 5, 31), "at_risk")], "nightly")
    rows = [(r["kpi_id"], r["as_of"], r["status"]) for r in evaluation_history(engine, 2025)]
    assert rows == [("online_procedures", date(2025, 4, 30), "on_track"),
                    ("speech_hours_monthly", date(2025, 4, 30), "on_track"),
                    ("speech_hours_monthly", date(2025, 5, 31), "at_risk")]


# --- the demo's page, the whole way ----------------------------------------------------------------------

def jisseki(*args: str) -> str:
    from prefect.settings import PREFECT_API_URL

    done = subprocess.run([sys.executable, "-m", "jisseki.cli", *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()})
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> tuple[Path, Path]:
    """The demo landed, its year re-evaluated month by month up to December (so the year is still running
    and speech recognition is at risk), and the report of it: the Digital Office's page (the demo has two
    departments, so index.html is the index of their pages)."""
    root = tmp_path_factory.mktemp("demo-report")
    jisseki("demo", "--workdir", str(root / "demo"))
    config = root / "demo" / "jisseki.toml"
    withdraw_evaluations_after(connect(f"sqlite:///{root / 'demo' / 'warehouse.db'}"), DEC)
    assert main(["backfill", "--config", str(config), "--from", "2025-04-01", "--to", DEC.isoformat()]) == 0
    assert main(["report", "--config", str(config), "--out", str(root / "out"), "--fy", "2025"]) == 0
    return root / "out" / "osaka-digital-office-fy2025.html", root / "demo" / "warehouse.db"


def warehouse_rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def between(page: str, start: str, end: str) -> str:
    return page[page.index(start):page.index(end, page.index(start))]


@pytest.mark.e2e
def test_the_first_screen_counts_and_lists_what_is_at_risk_with_the_pace_it_needs(demo_report) -> None:
    page_path, db = demo_report
    page = page_path.read_text("utf-8")
    speech = IND["speech_hours_monthly"]
    # Independent of the evaluator: the year mean so far and the pace from the landed monthly hours.
    months = [v for (v,) in warehouse_rows(db, "select value from kpi_actual where is_current and scope='city' and "
                                              "kpi_id='speech_hours_monthly' and period between '2025-04' and "
                                              "'2025-12' order by period")]
    assert len(months) == 9
    need = math.ceil((1870 * 12 - sum(months)) / 3 - 1e-6)
    evaluated = [row for row in warehouse_rows(db, f"select kpi_id, status, grade from kpi_evaluation "
                                                   f"where as_of = '{DEC}' and scope = 'city'") if row[0] in IND]
    statuses = {kpi: status for kpi, status, _ in evaluated}
    grades = [grade for _, _, grade in evaluated]
    assert statuses["speech_hours_monthly"] == "at_risk" and len(statuses) == 15
    tiles = {label: int(n) for n, label in re.findall(r'<div class="tile [^"]+"><b>(\d+)</b><span>([^<]+)', page)}
    assert tiles == {"A（達成）": grades.count("A"), "B（未達成）": grades.count("B"),
                     "要注意": list(statuses.values()).count("at_risk"),
                     "順調": sum(1 for _, s, g in evaluated if s in ("on_track", "achieved") and g is None),
                     "データなし": list(statuses.values()).count("no_data")}
    attention = between(page, 'id="attention"', "</ul>")
    assert page.index('id="attention"') < page.index("<svg")
    assert attention.count("<li") == 1 and html.escape(speech.name) in attention
    assert format_value(speech, sum(months) / 9) in attention and "月1,870時間" in attention
    assert f"月{need:,}時間 以上に" in attention
    assert "2025-04-30（最初の評価）から要注意" in attention   # at risk from the first month end on


@pytest.mark.e2e
def test_charts_label_targets_with_round_ticks_and_yearly_figures_are_lines(demo_report) -> None:
    page = demo_report[0].read_text("utf-8")
    with_months = {k for (k,) in warehouse_rows(demo_report[1], "select distinct kpi_id from kpi_actual where "
                                                               "period like '20__-__' and scope='city'") if k in IND}
    charts = re.findall(r'<section class="kpi" title="([a-z_]+)">(.*?)</section>', page)
    assert {k for k, _ in charts} == with_months and len(with_months) == 5
    rows = re.findall(r'<li title="([a-z_]+)">', page)
    assert len(rows) == 15 - len(with_months) and not set(rows) & with_months
    for kpi, section in charts:
        target = format_value(IND[kpi], IND[kpi].target(2025))
        svgs = re.findall(r"<svg.*?</svg>", section)
        assert len(svgs) == 2, kpi                                            # a wide and a narrow drawing
        for svg in svgs:
            assert re.findall(r'class="target-label"[^>]*>([^<]+)<', svg) == [f"目標 {target}"], kpi
            labels = re.findall(r'class="tick"[^>]*>([^<]+)<', svg)
            values = [float(re.sub(r"[^0-9.]", "", t)) for t in labels]
            step = values[0]
            assert 3 <= len(values) <= 5 and is_round_step(step), (kpi, labels)   # 0 is the baseline
            assert all(math.isclose(v, step * (i + 1)) for i, v in enumerate(values)), (kpi, labels)
            scale = 100 if IND[kpi].kind == "ratio" else 1
            assert values[-1] >= IND[kpi].target(2025) * scale - 1e-9, (kpi, labels)
    words = dict(charts)
    assert "7年度 累計" in words["online_procedures"] and "7年度 累計" in words["nocode_operations"]
    assert "7年度 月次" in words["speech_hours_monthly"] and "月次実績" not in page
    assert 'class="projection"' in words["speech_hours_monthly"]          # at risk, so projected to March
    for heading in re.findall(r"<h[1-3][^>]*>(.*?)</h[1-3]>", page):
        assert not any(i.id in heading for i in CATALOG.indicators), heading
    assert "#c0221b" not in " ".join(re.findall(r'<line class="target"[^>]*>', page))


@pytest.mark.e2e
def test_the_page_fetches_nothing(demo_report) -> None:
    index = demo_report[0].with_name("index.html").read_text("utf-8")
    assert 'class="rejected' in index and 'href="osaka-digital-office-fy2025.html"' in index
    for page in (demo_report[0].read_text("utf-8"), index):
        assert not re.findall(r"(?:https?:)?//", page.replace('xmlns="http://www.w3.org/2000/svg"', ""))
        assert not re.search(r"<script|<link|<img|<iframe|src=|url\(|@import", page)


MEASURE = """<!doctype html><html><body style="margin:0"><iframe id="f" src="{src}" style="width:{width}px;
height:900px;border:0"></iframe><pre id="out"></pre><script>
f.onload = () => {{
  const d = f.contentDocument, w = f.contentWindow, root = d.documentElement;
  const shown = [...d.querySelectorAll("figure.chart svg")].filter(s => s.getBoundingClientRect().width > 0);
  const wide = [...d.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > w.innerWidth + 1)
    .map(e => e.tagName + "." + e.className).slice(0, 5);
  document.getElementById("out").textContent = JSON.stringify({{
    innerWidth: w.innerWidth, scrollWidth: root.scrollWidth, scrollHeight: root.scrollHeight, wide,
    attentionBottom: d.querySelector("ul.attention li").getBoundingClientRect().bottom,
    firstChartTop: d.querySelector("figure.chart").getBoundingClientRect().top,
    rejectionsTop: (d.querySelector("section.rejected") || root).getBoundingClientRect().top,
    shown: shown.map(s => s.getAttribute("class")), charts: d.querySelectorAll("figure.chart").length}});
}};
</script></body></html>"""


def browse(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars", *args],
                          check=True, capture_output=True, text=True, timeout=120)


def measure(page: Path, tmp_path: Path, width: int) -> dict:
    """The page in an iframe of exactly `width` CSS pixels (headless Chromium's own window is at least
    500 wide), measured by a script in the test's wrapper page: the report itself has none."""
    wrapper = page.parent / f"measure-{width}.html"
    wrapper.write_text(MEASURE.format(src=page.name, width=width), "utf-8")
    dom = browse(tmp_path, "--allow-file-access-from-files", "--window-size=1280,1000", "--dump-dom",
                 wrapper.as_uri()).stdout
    return json.loads(html.unescape(re.search(r'<pre id="out">(.*?)</pre>', dom, re.S).group(1)))


@pytest.mark.e2e
@pytest.mark.skipif(chromium() is None and os.environ.get("CI") != "true", reason="chromium is not installed")
def test_the_page_in_chromium_at_desktop_and_phone_width(demo_report, tmp_path: Path) -> None:
    page = demo_report[0]
    desk, phone = measure(page, tmp_path, 1280), measure(page, tmp_path, 390)
    assert desk["innerWidth"] == 1280 and phone["innerWidth"] == 390
    assert phone["scrollWidth"] <= 390 and not phone["wide"], phone          # nothing runs off a phone
    assert desk["scrollWidth"] <= 1280 and not desk["wide"], desk
    assert desk["attentionBottom"] < 900 and phone["attentionBottom"] < 900  # on the first screen
    assert desk["attentionBottom"] < desk["firstChartTop"] and phone["attentionBottom"] < phone["firstChartTop"]
    # The indicators take under 4,200 px (5,800 with a chart per KPI); the rows set aside are on the index.
    assert desk["rejectionsTop"] == 0 and desk["scrollHeight"] < 4200, desk
    assert desk["shown"] == ["wide"] * desk["charts"] and phone["shown"] == ["narrow"] * phone["charts"]
    for width in (1280, 390):
        shot = tmp_path / f"report-{width}.png"
        browse(tmp_path, f"--window-size={width},900", f"--screenshot={shot}", page.as_uri())
        shot_width, shot_height, raw = png_pixels(shot)
        assert (shot_width, shot_height) == (width, 900) and len(set(raw)) > 50


def test_sections_from_elsewhere_come_after_the_indicators_and_in_the_contents() -> None:
    from jisseki.core.model import Figure
    from jisseki.evaluate import evaluate
    from jisseki.report import evaluation_rows
    from jisseki.report_files import render_html

    figures = [Figure("external_specialists", "FY2025", "city", DEC, 3.0)]
    verdicts = [v.__dict__ for v in evaluate(figures, CATALOG, DEC)]
    extra = '<section class="excluded"><h2>除外した行 <small>moveout_log</small></h2><p>3 行</p></section>'
    page = render_html(evaluation_rows(verdicts, CATALOG), verdicts, figures, CATALOG, 2025, sections_after=[extra])
    assert page.index('id="challenge-4"') < page.index(extra) < page.index("</main>")
    assert '<a href="#extra-0">除外した行 moveout_log</a>' in page and '<div id="extra-0">' + extra in page
    # A count per year with no months is a line with its pace on the first screen: 4 more in 3 months.
    assert "残り3か月であと 4名（月あたり 1.4名）" in between(page, 'id="attention"', "</section>")
