"""Published grades stay published: `jisseki publish` refuses a year that is not over, not fully graded or
already published, and writes nothing then; 所見 (contract 6) is read where the column is, landed with its
figure and kept when published; a published figure restated later raises one alert saying so. Real SQLite (and
PostgreSQL for the warehouse's part)."""
from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import event

from jisseki.alerts.rules import restated
from jisseki.catalog import load_catalog
from jisseki.cli import main
from jisseki.core.model import Figure
from jisseki.evaluate import Verdict, evaluate
from jisseki.publish import PublishRefused, by_key, published_lines, published_rows
from jisseki.report_files import write_report
from tests.support import table_counts, write_config
from tests.test_workbooks import GOOD_ROW, HEADER, manual, read
from warehouse.store import (
    commentaries,
    connect,
    land,
    latest_evaluations,
    publish,
    published_grades,
    save_evaluations,
)

CATALOG = load_catalog()
YEAR_END = date(2026, 3, 31)
FY2025 = [i for i in CATALOG.indicators if 2025 in i.target_years()]


def full_year(as_of: date = YEAR_END, leave_out: str = "") -> list[Figure]:
    """A figure of FY2025 for every indicator, counted to `as_of`, each at its target (so A)."""
    return [Figure(i.id, "FY2025", "city", as_of, float(i.target(2025) or 1.0))
            for i in FY2025 if i.id != leave_out]


def evaluated(tmp_path: Path, figures: list[Figure], as_of: date = YEAR_END) -> str:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    engine = connect(url)
    save_evaluations(engine, evaluate(figures, CATALOG, as_of), "run-1")
    engine.dispose()
    return url


def publish_cli(tmp_path: Path, url: str, *more: str) -> int:
    return main(["publish", "--config", str(write_config(tmp_path, url, None)), "--fy", "2025", *more])


def entry_book(path: Path, header: list[str], rows: list[list]) -> None:
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = "実績"
    for row in [header, *rows]:
        book.active.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)


# --- 所見 in the workbook -------------------------------------------------------------------------------

def test_commentary_is_read_where_the_column_is_and_empty_where_it_is_not(tmp_path: Path) -> None:
    entry_book(tmp_path / "old" / "a.xlsx", HEADER, [GOOD_ROW])
    [old], _ = read(tmp_path / "old")
    assert old.fields["commentary"] == ""
    entry_book(tmp_path / "new" / "b.xlsx", ["所見", *HEADER], [   # any column order
        ["  外部専門人材を７名登用。\r\n来年度も\u200b継続  ", *GOOD_ROW],
        [None, "dx_support_departments", "2025", 2, "", "DX推進課", datetime(2026, 4, 3)]])
    records, bad = read(tmp_path / "new")
    assert not bad
    assert [r.fields["commentary"] for r in records] == ["外部専門人材を7名登用。\n来年度も継続", ""]


def test_a_changed_commentary_is_stored_with_its_figure_and_a_removed_one_goes(tmp_path: Path,
                                                                             warehouse_url: str) -> None:
    engine = connect(warehouse_url)
    folder = tmp_path / "manual"
    entry = ["external_specialists", "2025", "7名", "資料", "DX推進課", datetime(2026, 4, 3)]

    def night(note: str | None, run: str) -> int:
        if note is None:
            entry_book(folder / "a.xlsx", HEADER, [entry])
        else:
            entry_book(folder / "a.xlsx", [*HEADER, "所見"], [[*entry, note]])
        return land(engine, manual(folder), run).revisions_added

    assert night("予定どおり登用", "r1") == 1
    assert commentaries(engine) == {("external_specialists", 2025): "予定どおり登用"}
    assert night("登用を前倒し", "r2") == 0   # the value did not change: no revision, but the new 所見 is kept
    assert commentaries(engine, 2025) == {("external_specialists", 2025): "登用を前倒し"}
    assert night(None, "r3") == 0            # a workbook without the column: no 所見 any more
    assert commentaries(engine) == {}


# --- publish: what it refuses, and that it then writes nothing ------------------------------------------

def test_a_year_not_over_in_the_latest_evaluation_is_not_published(tmp_path: Path, capsys) -> None:
    url = evaluated(tmp_path, full_year(date(2026, 2, 28)), date(2026, 2, 28))
    assert publish_cli(tmp_path, url) == 1
    err = capsys.readouterr().err
    assert "2025年度はまだ終わっていません（最新の評価は 2026-02-28 時点）" in err
    assert "2026-03-31 以降の基準日で jisseki run を実行してから公表してください" in err
    assert table_counts(url)["published_grade"] == 0


def test_an_indicator_without_a_grade_stops_the_whole_year(tmp_path: Path, capsys) -> None:
    url = evaluated(tmp_path, full_year(leave_out="external_specialists"))
    assert publish_cli(tmp_path, url) == 1
    err = capsys.readouterr().err
    assert "評価（A・B）がない指標があるため公表できません" in err and "external_specialists" in err
    assert table_counts(url)["published_grade"] == 0


def test_no_evaluation_of_the_year_is_refused(tmp_path: Path, capsys) -> None:
    url = evaluated(tmp_path, [], date(2025, 3, 31))
    assert publish_cli(tmp_path, url) == 1
    assert "2025年度の評価がまだありません" in capsys.readouterr().err


def test_a_published_year_is_kept_and_never_rewritten(tmp_path: Path, capsys) -> None:
    url = evaluated(tmp_path, full_year())
    assert publish_cli(tmp_path, url) == 0
    assert "令和7年度（2025年度）を公表しました" in capsys.readouterr().out
    first = published_grades(connect(url))
    assert {r["kpi_id"] for r in first} == {i.id for i in FY2025} and all(r["grade"] == "A" for r in first)
    assert {r["flow_run_id"] for r in first} == {"run-1"} and {r["as_of"] for r in first} == {YEAR_END}
    # a restatement lands and is evaluated; publishing again is refused and changes nothing
    restated_figures = [f if f.kpi_id != "online_procedures" else Figure(f.kpi_id, f.period, f.scope, f.as_of, 1.0)
                        for f in full_year()]
    save_evaluations(connect(url), evaluate(restated_figures, CATALOG, date(2026, 4, 30)), "run-2")
    assert publish_cli(tmp_path, url) == 1
    err = capsys.readouterr().err
    assert "デジタル統括室 の令和7年度（2025年度）は公表済みです。公表した値は書き換えません" in err
    assert published_grades(connect(url)) == first
    # and with --department: the department's year is the one published
    assert publish_cli(tmp_path, url, "--department", CATALOG.departments()[0]) == 1
    assert published_grades(connect(url)) == first


def test_an_unknown_department_is_named(tmp_path: Path, capsys) -> None:
    url = evaluated(tmp_path, full_year())
    assert publish_cli(tmp_path, url, "--department", "架空局") == 2
    assert "所属「架空局」の運営方針はありません" in capsys.readouterr().err


def test_one_departments_year_is_published_beside_anothers_in_one_transaction(warehouse_url: str) -> None:
    """The warehouse's part alone: a department published before stops the batch, a failing build writes none."""
    engine = connect(warehouse_url)
    row = dict(kpi_id="a", fiscal_year=2025, scope="city", actual=1.0, target=1.0, target_low=None,
               target_high=None, grade="A", status="achieved", as_of=YEAR_END, data_as_of=YEAR_END,
               flow_run_id="run-1", rule="規則", commentary="所見")
    assert publish(engine, 2025, lambda e, n: [{**row, "department": "甲局"}]).rows == 1
    both = [{**row, "department": "甲局"}, {**row, "kpi_id": "b", "department": "乙区役所"}]
    refused = publish(engine, 2025, lambda e, n: both)
    assert refused.already == ["甲局"] and refused.rows == 0
    assert publish(engine, 2025, lambda e, n: both[1:]).rows == 1

    def broken(evaluations, notes):
        raise PublishRefused("だめ")
    with pytest.raises(PublishRefused):
        publish(engine, 2026, broken)
    assert [(r["kpi_id"], r["department"]) for r in published_grades(engine)] == [("a", "甲局"), ("b", "乙区役所")]


def test_published_rows_copy_the_evaluation_and_the_commentary(tmp_path: Path) -> None:
    url = evaluated(tmp_path, full_year())
    rows = published_rows(latest_evaluations(connect(url), 2025, scopes=True),
                          {("external_specialists", 2025): "外部人材を登用"}, CATALOG, 2025)
    kept = {r["kpi_id"]: r for r in rows}
    assert kept["external_specialists"]["commentary"] == "外部人材を登用"
    assert kept["online_procedures"] | {"commentary": ""} == kept["online_procedures"]
    assert kept["online_procedures"]["rule"] and kept["online_procedures"]["department"] == "デジタル統括室"


# --- the restatement alert -------------------------------------------------------------------------------

def verdict(kpi: str, actual: float, grade: str, scope: str = "city") -> Verdict:
    return Verdict(kpi, 2025, date(2026, 4, 30), actual, 0.25, grade, "achieved" if grade == "A" else "missed",
                   actual, None, YEAR_END, "", scope=scope)


def published_row(kpi: str, actual: float, grade: str, scope: str = "city") -> dict:
    return dict(kpi_id=kpi, fiscal_year=2025, scope=scope, actual=actual, grade=grade)


def test_a_restated_published_figure_raises_one_alert_saying_whether_the_grade_changes() -> None:
    same = restated([verdict("myna_moveout_share", 0.31, "A")], [published_row("myna_moveout_share", 0.31, "A")],
                    CATALOG)
    assert same == []
    [kept] = restated([verdict("myna_moveout_share", 0.32, "A")], [published_row("myna_moveout_share", 0.31, "A")],
                      CATALOG)
    assert kept.key == "restated:myna_moveout_share:FY2025" and kept.scope == "kpi:myna_moveout_share"
    assert kept.title.startswith("【公表値の訂正】") and "2025年度" in kept.title
    headline = kept.body.split("\n")[0]
    assert "公表値 31.0% / 最新値 32.0%" in headline and "2025-04-01〜2026-03-31" in headline
    assert "評価は変わりません" in headline and "対応:" in kept.body
    [changed] = restated([verdict("myna_moveout_share", 0.2, "B", "271021")],
                         [published_row("myna_moveout_share", 0.31, "A", "271021")], CATALOG)
    assert changed.key == "restated:myna_moveout_share:FY2025:271021"
    assert "評価が A から B に変わります" in changed.body
    # a figure of a year not published, or not evaluated tonight, says nothing
    assert restated([verdict("online_procedures", 5.0, "B")], [published_row("myna_moveout_share", 0.31, "A")],
                    CATALOG) == []


# --- what the report shows ------------------------------------------------------------------------------

def test_the_report_puts_the_published_value_beside_the_latest_and_the_commentary_safely(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    url = evaluated(tmp_path, full_year())
    engine = connect(url)
    publish(engine, 2025, lambda e, n: published_rows(e, n, CATALOG, 2025))
    save_evaluations(engine, evaluate([f if f.kpi_id != "online_procedures" else
                                       Figure(f.kpi_id, f.period, f.scope, f.as_of, 1999.0) for f in full_year()],
                                      CATALOG, date(2026, 4, 30)), "run-2")
    notes = {("online_procedures", 2025): "=HYPERLINK(\"http://x\") <b>注</b>"}
    html, xlsx = write_report(latest_evaluations(engine, 2025), [], CATALOG, 2025, tmp_path / "out",
                              published=by_key(published_grades(engine, 2025)), commentary=notes,
                              published_lines={(2025, "デジタル統括室"): PUBLISHED_LINE})
    page = html.read_text("utf-8")
    assert "<th>公表値</th><th>公表評価</th><th>最新値</th>" in page and "<th>所見</th>" in page
    assert "令和7年度: 公表済（2026-06-30 公表、2026-03-31 時点の評価）" in page
    assert "&lt;b&gt;注&lt;/b&gt;" in page and "<b>注</b>" not in page
    sheet = load_workbook(xlsx)["達成状況"]
    header = [c.value for c in sheet[3]]
    assert header[2] == "最新値" and header[-3:] == ["公表値", "公表評価", "所見"]
    [row] = [r for r in sheet.iter_rows(min_row=4, values_only=True) if r[7] == "online_procedures"]
    assert row[2] == 1999.0 and row[8] == 2000.0 and row[9] == "A" and row[10].startswith("'=HYPERLINK")
    assert sheet.cell(2, 1).value.endswith("令和7年度: 公表済（2026-06-30 公表、2026-03-31 時点の評価）")


PUBLISHED_LINE = "令和7年度: 公表済（2026-06-30 公表、2026-03-31 時点の評価）"


def test_a_department_that_has_not_published_is_not_told_it_has() -> None:
    rows = [{"department": "北区役所", "fiscal_year": 2025, "as_of": date(2026, 3, 31),
             "published_at": datetime(2026, 6, 30, 1, 0, tzinfo=timezone.utc)}]
    assert published_lines(rows) == {(2025, "北区役所"): PUBLISHED_LINE}


def test_two_publishes_of_a_year_at_once_write_it_once(tmp_path: Path) -> None:
    url = evaluated(tmp_path, full_year())
    engine, other = connect(url), connect(url)
    raced: list[int] = []

    def other_publishes_first(conn, cursor, statement, *_: object) -> None:
        # The other publisher commits after this one found the year unpublished, just before it inserts.
        if statement.startswith("INSERT INTO published_grade") and not raced:
            raced.append(publish(other, 2025, lambda e, n: published_rows(e, n, CATALOG, 2025)).rows)

    event.listen(engine, "before_cursor_execute", other_publishes_first)
    done = publish(engine, 2025, lambda e, n: published_rows(e, n, CATALOG, 2025))
    assert raced == [len(CATALOG.indicators)]
    assert (done.rows, done.already) == (0, ["デジタル統括室"])
    assert table_counts(url)["published_grade"] == len(CATALOG.indicators)
