"""Landing on real SQLite and the real PostgreSQL: revisions, quarantine, atomicity."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from jisseki.batch import Batch
from jisseki.core.model import Figure
from jisseki.core.records import Bad, FileInfo, Lineage
from tests.support import table_counts
from warehouse.store import connect, current_figures, land

AS_OF = date(2025, 5, 31)
KPI = "myna_moveout_share"


def batch(values: dict[tuple[str, str], float], bad: list[Bad] = (), rejected: str | None = None,
          sha: str = "a" * 64) -> Batch:
    lineage = Lineage(files=[FileInfo("t.csv", 10, 1, sha, rows=len(values))])
    figures = [Figure(KPI, period, scope, AS_OF, v, v * 100, 100.0) for (period, scope), v in values.items()]
    return Batch("moveout_log", (KPI,), AS_OF, lineage, figures=figures, bad=list(bad),
                 rows_read=100 + len(bad), rejected=rejected)


def rows(url: str) -> list[tuple]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        out = conn.execute(sa.text(
            "SELECT period, scope, revision, is_current, value, flow_run_id, lineage FROM kpi_actual "
            "ORDER BY period, scope, revision")).all()
    engine.dispose()
    return [tuple(r) for r in out]


def test_same_input_adds_nothing_and_a_change_adds_one_revision(warehouse_url: str) -> None:
    engine = connect(warehouse_url)
    first = {("2025-04", "city"): 0.3, ("2025-04", "271021"): 0.25, ("FY2025", "city"): 0.3}
    assert land(engine, batch(first), "run-1").revisions_added == 3
    assert land(engine, batch(first), "run-2").revisions_added == 0
    assert len(rows(warehouse_url)) == 3

    changed = {**first, ("2025-04", "271021"): 0.5}
    result = land(engine, batch(changed, sha="b" * 64), "run-3")
    assert result.revisions_added == 1
    ward = [r for r in rows(warehouse_url) if r[1] == "271021"]
    assert [(r[2], r[3], r[4], r[5]) for r in ward] == [(1, False, 0.25, "run-1"), (2, True, 0.5, "run-3")]
    assert '"files": 1' in ward[1][6] and ward[0][6] != ward[1][6]  # each revision keeps its own lineage
    assert {f.key: f.value for f in current_figures(engine)}[(KPI, "2025-04", "271021")] == 0.5


def test_a_file_source_figure_no_longer_yielded_stops_being_current_in_any_period(warehouse_url: str) -> None:
    """A file source's figures follow its folder: March's file was archived, March goes with it (and so
    its fiscal year is made of the months it has), with a note naming the file."""
    engine = connect(warehouse_url)
    march = FileInfo("2025-03.csv", 10, 1, "d" * 64, rows=1)
    first = batch({("2025-04", "city"): 0.3, ("2025-04", "271021"): 0.2, ("2025-03", "city"): 0.1})
    first.lineage.files.append(march)
    land(engine, first, "r1")
    second = batch({("2025-04", "city"): 0.3}, sha="c" * 64)
    land(engine, second, "r2")
    assert {f.key for f in current_figures(engine)} == {(KPI, "2025-04", "city")}
    assert [(r[0], r[1], r[3]) for r in rows(warehouse_url)] == [
        ("2025-03", "city", False), ("2025-04", "271021", False), ("2025-04", "city", True)]
    assert second.notes == ["前回取り込んだファイル 1 件が受信フォルダにありません: 2025-03.csv。その分は月・年度の集計"
                            "から外れました（取り下げた集計値 2 件）（残すにはファイルを受信フォルダに戻してください）"]


def test_an_api_figure_no_longer_yielded_stops_being_current_only_in_a_covered_period(warehouse_url: str) -> None:
    """An API may stop serving old periods: a period it no longer covers keeps its figures."""
    engine = connect(warehouse_url)

    def crawled(values: dict[tuple[str, str], float], records: int) -> Batch:
        served = batch(values)
        served.lineage = Lineage(crawl={"endpoint": "/x", "crawled_at": "2025-06-01T00:00:00+00:00",
                                        "records": records})
        return served

    land(engine, crawled({("2025-04", "city"): 0.3, ("2025-04", "271021"): 0.2, ("2025-03", "city"): 0.1}, 3), "r1")
    second = crawled({("2025-04", "city"): 0.3}, 1)
    land(engine, second, "r2")
    current = {f.key for f in current_figures(engine)}
    assert current == {(KPI, "2025-04", "city"), (KPI, "2025-03", "city")}  # March is not covered: kept
    assert second.notes == []


def test_a_rejected_batch_lands_its_quarantine_but_no_figure_and_no_state(warehouse_url: str) -> None:
    engine = connect(warehouse_url)
    bad = [Bad("t.csv", str(n), "bad_date", "受付日を解釈できません", "2025/13/45", "a" * 64) for n in range(10)]
    result = land(engine, batch({("2025-04", "city"): 0.3}, bad, rejected="too many bad rows"), "run-1")
    assert result.status == "rejected" and result.revisions_added == 0
    counts = table_counts(warehouse_url)
    assert counts["kpi_actual"] == 0 and counts["ingest_state"] == 0 and counts["quarantine"] == 10
    land(engine, batch({("2025-04", "city"): 0.3}, bad, rejected="too many bad rows"), "run-2")
    assert table_counts(warehouse_url)["quarantine"] == 10  # the same bad rows are not recorded twice


def test_a_failure_mid_landing_leaves_nothing_half_written(warehouse_url: str) -> None:
    engine = connect(warehouse_url)
    land(engine, batch({("2025-04", "city"): 0.3}), "run-1")
    broken = batch({("2025-04", "city"): 0.4, ("2025-05", "city"): 0.5}, [Bad("t.csv", "9", "x", "r", "", "d" * 64)],
                   sha="e" * 64)
    broken.figures.append(Figure(KPI, "2025-06", "city", AS_OF, None))  # NOT NULL violation, after the others
    with pytest.raises(sa.exc.IntegrityError):
        land(engine, broken, "run-2")
    assert [(r[0], r[2], r[3], r[4]) for r in rows(warehouse_url)] == [("2025-04", 1, True, 0.3)]
    counts = table_counts(warehouse_url)
    assert counts["quarantine"] == 0 and counts["source_run"] == 1 and counts["lineage"] == 1


def test_the_database_refuses_two_current_rows_for_one_figure(warehouse_url: str) -> None:
    engine = connect(warehouse_url)
    land(engine, batch({("2025-04", "city"): 0.3}), "run-1")
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO kpi_actual (kpi_id, period, scope, as_of, value, revision, is_current, source, lineage, "
            "flow_run_id, collected_at) VALUES (:k, '2025-04', 'city', :d, 0.9, 7, TRUE, 's', '{}', 'x', :d)"),
            {"k": KPI, "d": AS_OF})


def test_a_connection_lost_mid_load_rolls_the_source_back(postgres_url: str) -> None:
    """The real server drops the landing connection just before the figures are written."""
    engine = connect(postgres_url)
    land(engine, batch({("2025-04", "city"): 0.3}), "run-1")
    admin = sa.create_engine(postgres_url.split("?")[0], isolation_level="AUTOCOMMIT")

    def kill_before_figures(conn, cursor, statement, *args) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO KPI_ACTUAL"):
            pid = conn.connection.dbapi_connection.info.backend_pid
            with admin.connect() as other:
                other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

    sa.event.listen(engine, "before_cursor_execute", kill_before_figures)
    changed = batch({("2025-04", "city"): 0.4, ("2025-05", "city"): 0.5},
                    [Bad("t.csv", "9", "x", "r", "", "f" * 64)], sha="f" * 64)
    with pytest.raises(sa.exc.OperationalError):
        land(engine, changed, "run-2")
    sa.event.remove(engine, "before_cursor_execute", kill_before_figures)
    admin.dispose()
    fresh = connect(postgres_url)
    assert [(r[0], r[2], r[3], r[4]) for r in rows(postgres_url)] == [("2025-04", 1, True, 0.3)]
    assert table_counts(postgres_url)["quarantine"] == 0 and table_counts(postgres_url)["lineage"] == 1
    assert land(fresh, changed, "run-3").revisions_added == 2  # the next run lands it whole


def test_a_database_error_never_carries_the_row_values(tmp_path) -> None:
    """Its text reaches the Prefect logs and source_run: SQLAlchemy would put the parameters in it."""
    import sqlalchemy as sa

    from warehouse.store import connect

    engine = connect(f"sqlite:///{tmp_path / 'w.db'}")
    with pytest.raises(sa.exc.IntegrityError) as raised:
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO quarantine (id, source) VALUES (:a, :b)"), {"a": "R7-0000001", "b": None})
    assert "R7-0000001" not in str(raised.value)
    engine.dispose()
