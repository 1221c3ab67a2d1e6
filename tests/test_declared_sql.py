"""The declared SQL reader against real databases: the machine's PostgreSQL and MariaDB (skipped outside CI
when one is not there) and a SQLite file. Each test makes a table of its own with hand-made rows (dates,
numbers, NULLs, Japanese text) and drops it after."""
from __future__ import annotations

import hashlib
import logging
import os
import socket
import sqlite3
import time
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.errors import SourceConfigError, SourceFormatError, SourceUnavailable
from jisseki.core.records import Lineage
from jisseki.declared.read_sql import read_sql, runnable
from jisseki.declared.spec import SqlSource
from jisseki.declared.values import MISSING, Row, Window, typed

POSTGRES = sa.make_url(os.environ.get("JISSEKI_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")) \
    .set(drivername="postgresql+psycopg")
MARIADB = sa.make_url("mysql+pymysql://root@127.0.0.1:3306/test")
PASSWORD = "Pw-7c1e9a-secret"

FY2025_H1 = Window(date(2025, 4, 1), date(2025, 9, 30))
FY2025 = Window(date(2025, 4, 1), date(2026, 3, 31))
# id, received_on, amount, ward, note: two rows outside the first half, one outside the year.
ROWS = ("(1, '2025-03-31', 10.50, '北区', NULL)",
        "(2, '2025-04-01', 3, '中央区', 'メモ：至急')",
        "(3, '2025-06-15', NULL, '浪速区', NULL)",
        "(4, '2025-09-30', 7.25, '北区', '')",
        "(5, '2025-10-01', 1, '港区', NULL)",
        "(6, '2026-04-01', 2, '港区', NULL)")
COLUMNS = {"受付日": "date", "件数": {"type": "number", "source": "amount"}, "区": {"source": "WARD"}, "note": "text"}


@dataclass
class Database:
    kind: str
    url: sa.URL
    table: str
    admin: sa.Engine

    def secret(self) -> str:
        return self.url.render_as_string(hide_password=False)

    def count(self) -> int:
        with self.admin.connect() as conn:
            return conn.execute(sa.text(f"SELECT count(*) FROM {self.table}")).scalar_one()

    def run(self, sql: str) -> None:
        with self.admin.begin() as conn:
            conn.exec_driver_sql(sql)


def _server(url: sa.URL) -> sa.Engine:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        engine.connect().close()
    except sa.exc.OperationalError as exc:
        engine.dispose()
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"{url.get_backend_name()} not reachable: {type(exc).__name__}")
    return engine


def _database(kind: str, tmp_path: Path) -> Iterator[Database]:
    table = f"jisseki_sql_{uuid.uuid4().hex[:10]}"
    url = {"postgresql": POSTGRES, "mariadb": MARIADB}.get(kind) or sa.make_url(f"sqlite:///{tmp_path / '窓口.db'}")
    admin = _server(url)
    database = Database(kind, url, table, admin)
    charset = " DEFAULT CHARSET=utf8mb4" if kind == "mariadb" else ""
    database.run(f"CREATE TABLE {table} (id integer PRIMARY KEY, received_on date, amount numeric(10, 2), "
                 f"ward varchar(20), note text){charset}")
    database.run(f"INSERT INTO {table} VALUES {', '.join(ROWS)}")
    yield database
    database.run(f"DROP TABLE IF EXISTS {table}")
    admin.dispose()


@pytest.fixture(params=["postgresql", "mariadb", "sqlite"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    yield from _database(request.param, tmp_path)


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[Database]:
    yield from _database("postgresql", tmp_path)


def source(query: str, columns: dict[str, Any] | None = None, timeout: float = 30.0) -> SqlSource:
    return SqlSource.model_validate({"type": "sql", "title": "窓口DB", "url_env": "MADOGUCHI_DB_URL",
                                     "query": query, "columns": columns or COLUMNS, "timeout_seconds": timeout})


def read(cfg: SqlSource, secret: str, window: Window = FY2025_H1) -> tuple[list[Row], Lineage]:
    lineage = Lineage()
    rows = list(read_sql(cfg, lineage, window, secret))
    assert all(isinstance(row, Row) for row in rows)
    return rows, lineage


def query(db: Database) -> str:
    return (f"SELECT id, received_on AS 受付日, amount, ward, note FROM {db.table} "
            "WHERE received_on BETWEEN :start AND :end ORDER BY id")


def test_rows_hold_the_declared_columns_of_the_window(db: Database) -> None:
    cfg = source(query(db))
    rows, lineage = read(cfg, db.secret())
    assert [row.item for row in rows] == ["row 1", "row 2", "row 3"] and {row.location for row in rows} == {"query"}
    # id is in the result but not declared: it never enters a row.
    assert all(set(row.values) == {"受付日", "件数", "区", "note"} for row in rows)
    seen = [{name: typed(value, cfg.columns[name]) for name, value in row.values.items()} for row in rows]
    assert seen == [
        {"受付日": date(2025, 4, 1), "件数": 3.0, "区": "中央区", "note": "メモ:至急"},
        {"受付日": date(2025, 6, 15), "件数": MISSING, "区": "浪速区", "note": MISSING},
        {"受付日": date(2025, 9, 30), "件数": 7.25, "区": "北区", "note": MISSING},
    ]
    # Raw as the database holds it (NFKC is the typing's business).
    assert rows[0].values["note"] == "メモ：至急"
    assert rows[1].values["件数"] is None and rows[1].values["note"] is None
    assert len({row.content_hash for row in rows}) == 3 and all(len(row.content_hash) == 64 for row in rows)
    database = "窓口.db" if db.kind == "sqlite" else "test"
    backend = "mysql" if db.kind == "mariadb" else db.kind
    assert lineage.pages_read == 1
    assert {k: v for k, v in lineage.crawl.items() if k not in ("crawled_at", "content_sha256")} == {
        "endpoint": f"sql:{backend}/{database}", "pages": 1, "records": 3,
        "query_sha256": hashlib.sha256(cfg.query.encode()).hexdigest()}
    # The same rows read again are the same crawl; the whole year is another.
    again, second = read(cfg, db.secret())
    assert [r.content_hash for r in again] == [r.content_hash for r in rows]
    assert second.crawl["content_sha256"] == lineage.crawl["content_sha256"]
    year, whole = read(cfg, db.secret(), FY2025)
    assert [typed(r.values["受付日"], cfg.columns["受付日"]) for r in year] == [
        date(2025, 4, 1), date(2025, 6, 15), date(2025, 9, 30), date(2025, 10, 1)]
    assert whole.crawl["records"] == 4 and whole.crawl["content_sha256"] != lineage.crawl["content_sha256"]


def test_a_query_without_the_window_reads_every_row(db: Database) -> None:
    rows, lineage = read(source(f"SELECT received_on AS 受付日, amount, ward, note FROM {db.table};  "), db.secret())
    assert len(rows) == len(ROWS) and lineage.crawl["records"] == len(ROWS)


WRITES = ["INSERT INTO {t} (id) VALUES (9)",
          "UPDATE {t} SET ward = '西区'",
          "DELETE FROM {t}",
          "SELECT id FROM {t}; DROP TABLE {t}",
          "SELECT id FROM {t} /* ; */ ; DELETE FROM {t}",
          "SELECT id FROM {t} -- only a comment\n; DELETE FROM {t}",
          "SELECT id INTO jisseki_copy FROM {t}",
          "SELECT id FROM {t} FOR UPDATE",
          "WITH x AS (SELECT id FROM {t}) DELETE FROM {t} WHERE id IN (SELECT id FROM x)"]


@pytest.mark.parametrize("statement", WRITES)
def test_a_statement_that_writes_is_refused_and_the_table_is_unchanged(db: Database, statement: str) -> None:
    with pytest.raises(SourceConfigError, match="query"):
        read(source(statement.format(t=db.table), {"id": "integer"}), db.secret())
    assert db.count() == len(ROWS)


def test_a_cte_that_deletes_is_refused_by_postgresql_text_check(postgres: Database) -> None:
    t = postgres.table
    with pytest.raises(SourceConfigError, match="DELETE"):
        read(source(f"WITH x AS (DELETE FROM {t} RETURNING id) SELECT id FROM x", {"id": "integer"}),
             postgres.secret())
    assert postgres.count() == len(ROWS)


def test_the_database_itself_refuses_a_write_the_text_does_not_show(db: Database) -> None:
    """A function that deletes passes the text check (it is a SELECT); the read-only transaction stops it."""
    if db.kind == "sqlite":
        # No SQL function of SQLite writes; its read-only opening shows in the file left untouched.
        before = Path(db.url.database).read_bytes()
        read(source(query(db)), db.secret())
        assert Path(db.url.database).read_bytes() == before
        assert sorted(p.name for p in Path(db.url.database).parent.iterdir()) == ["窓口.db"]
        return
    wipe = f"{db.table}_wipe"
    if db.kind == "postgresql":
        db.run(f"CREATE FUNCTION {wipe}() RETURNS integer LANGUAGE sql AS $$ DELETE FROM {db.table}; SELECT 1 $$")
    else:
        db.run(f"CREATE FUNCTION {wipe}() RETURNS integer MODIFIES SQL DATA BEGIN DELETE FROM {db.table}; "
               "RETURN 1; END")
    try:
        with pytest.raises(SourceConfigError, match="読み取り専用の接続が拒否しました"):
            read(source(f"SELECT {wipe}() AS n", {"n": "integer"}), db.secret())
        assert db.count() == len(ROWS)
    finally:
        db.run(f"DROP FUNCTION {wipe}")


def test_a_missing_declared_column_stops_the_read_before_any_row(db: Database) -> None:
    columns = {**COLUMNS, "窓口": "text", "担当": {"source": "staff_code"}}
    reader = read_sql(source(query(db), columns), Lineage(), FY2025_H1, db.secret())
    with pytest.raises(SourceFormatError) as caught:
        next(reader)
    assert "窓口、staff_code がありません" in str(caught.value) and "北区" not in str(caught.value)


def test_a_slow_query_is_stopped_at_its_timeout(db: Database) -> None:
    slow = {"postgresql": "SELECT pg_sleep(20) AS n",
            "mariadb": "SELECT SLEEP(20) AS n",
            # SQLite has no sleep: a recursive count long enough to take far more than the timeout.
            "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) "
                      "SELECT max(x) AS n FROM c"}[db.kind]
    lineage = Lineage()
    with pytest.raises(SourceUnavailable, match="0.5 秒で終わらず"):
        list(read_sql(source(slow, {"n": "integer"}, timeout=0.5), lineage, FY2025_H1, db.secret()))
    assert lineage.crawl == {}


def test_a_query_error_is_a_config_error_without_the_driver_text(db: Database) -> None:
    with pytest.raises(SourceConfigError, match="問合せを実行できません") as caught:
        read(source(f"SELECT no_such_column AS n FROM {db.table}", {"n": "integer"}), db.secret())
    assert "no_such_column" not in str(caught.value)


def test_a_big_result_is_read_in_batches_and_the_connection_is_closed(postgres: Database) -> None:
    app = f"jisseki_{uuid.uuid4().hex[:8]}"
    secret = postgres.url.update_query_dict({"application_name": app}).render_as_string(hide_password=False)
    rows, _ = read(source("SELECT g AS n FROM generate_series(1, 2500) g", {"n": "integer"}), secret)
    assert [r.values["n"] for r in rows] == list(range(1, 2501)) and rows[-1].item == "row 2500"
    # A read given up after its first row still ends its session.
    reader = read_sql(source("SELECT g AS n FROM generate_series(1, 5000) g", {"n": "integer"}), Lineage(),
                      FY2025_H1, secret)
    assert next(reader).values == {"n": 1}
    reader.close()
    with postgres.admin.connect() as conn:
        left = conn.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :a"),
                            {"a": app}).scalar_one()
    assert left == 0


@pytest.mark.parametrize("scheme", ["postgresql+psycopg", "mysql+pymysql"])
def test_a_server_that_never_answers_is_given_up_on(scheme: str) -> None:
    # A port that takes the connection (the kernel completes it) and then says nothing.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(SourceUnavailable, match="接続できない"):
            list(read_sql(source("SELECT 1 AS n", {"n": "integer"}, timeout=1), Lineage(), FY2025_H1,
                          f"{scheme}://u@127.0.0.1:{port}/test"))
    assert time.monotonic() - started < 8


def _leaks(exc: BaseException, caplog: pytest.LogCaptureFixture) -> list[str]:
    told = [str(exc), repr(exc), "".join(traceback.format_exception(exc)), caplog.text]
    return [text for text in told if PASSWORD in text or "@127.0.0.1" in text]


@pytest.mark.parametrize("server, secret, error", [
    (None, f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:1/test", SourceUnavailable),
    (POSTGRES, f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:5432/jisseki_no_such_db", SourceConfigError),
    (MARIADB, f"mysql+pymysql://root:{PASSWORD}@127.0.0.1:3306/test", SourceConfigError),
    (MARIADB, f"mysql+pymysql://root:{PASSWORD}@127.0.0.1:3306/jisseki_no_such_db", SourceConfigError),
    (None, f"mysql+pymysql://root:{PASSWORD}@127.0.0.1:1/test", SourceUnavailable),
])
def test_the_password_is_never_told(server: sa.URL | None, secret: str, error: type[Exception],
                                    caplog: pytest.LogCaptureFixture) -> None:
    if server is not None:
        _server(server).dispose()
    caplog.set_level(logging.DEBUG)
    lineage = Lineage()
    with pytest.raises(error) as caught:
        list(read_sql(source("SELECT 1 AS n", {"n": "integer"}), lineage, FY2025_H1, secret))
    assert _leaks(caught.value, caplog) == [] and lineage.crawl == {}
    assert "127.0.0.1" in str(caught.value)   # the place is named, without its user


def test_a_url_that_cannot_be_read_is_not_repeated() -> None:
    with pytest.raises(SourceConfigError, match="URL として読めません") as caught:
        list(read_sql(source("SELECT 1 AS n", {"n": "integer"}), Lineage(), FY2025_H1,
                      f"postgresql+psycopg://u:{PASSWORD}@host:port/db"))
    assert PASSWORD not in str(caught.value)
    with pytest.raises(SourceConfigError, match="読めません"):
        list(read_sql(source("SELECT 1 AS n", {"n": "integer"}), Lineage(), FY2025_H1, "oracle://u@h/db"))
    with pytest.raises(SourceConfigError, match="URL がありません"):
        list(read_sql(source("SELECT 1 AS n", {"n": "integer"}), Lineage(), FY2025_H1, None))


def test_unknown_parameters_are_refused_before_connecting() -> None:
    # Port 1 listens to nothing: a connection attempt would be SourceUnavailable.
    with pytest.raises(SourceConfigError, match=":ward"):
        list(read_sql(source("SELECT 1 AS n WHERE :start < :end AND :ward = 1", {"n": "integer"}), Lineage(),
                      FY2025_H1, "postgresql+psycopg://postgres@127.0.0.1:1/test"))


def test_a_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    with pytest.raises(SourceConfigError, match="ファイルがありません"):
        list(read_sql(source("SELECT 1 AS n", {"n": "integer"}), Lineage(), FY2025_H1,
                      f"sqlite:///{tmp_path / 'none.db'}"))
    assert list(tmp_path.iterdir()) == []


def test_result_columns_match_ignoring_case_but_not_twice(tmp_path: Path) -> None:
    path = tmp_path / "区.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (ward text, note text)")
        conn.execute("INSERT INTO t VALUES ('北区', 'x')")
    conn.close()
    rows, _ = read(source("SELECT ward AS Ward FROM t", {"区": {"source": "WARD"}}), f"sqlite:///{path}")
    assert [r.values for r in rows] == [{"区": "北区"}]
    with pytest.raises(SourceFormatError, match="WARD が複数あります"):
        read(source("SELECT ward AS Ward, note AS ward FROM t", {"区": {"source": "WARD"}}), f"sqlite:///{path}")


@pytest.mark.parametrize("text, backend, sent", [
    ("SELECT 1 -- ; DROP TABLE t", "postgresql", "SELECT 1"),
    ("SELECT ';' AS x;", "postgresql", "SELECT ';' AS x"),
    ("  ( SELECT 1 ) ;  -- end", "sqlite", "( SELECT 1 )"),
    ('SELECT "delete", `update` FROM t', "mysql", 'SELECT "delete", `update` FROM t'),
    ("SELECT updated_at, $$;DROP$$ AS x", "postgresql", "SELECT updated_at, $$;DROP$$ AS x"),
    ("SELECT E'a\\'; DROP t; --' AS x", "postgresql", "SELECT E'a\\'; DROP t; --' AS x"),
    ("SELECT 'a\\'; DROP t; --' AS x", "mysql", "SELECT 'a\\'; DROP t; --' AS x"),
    ("SELECT 'a\\''; DROP t; --' AS x", "postgresql", "SELECT 'a\\''; DROP t; --' AS x"),
    ("SELECT 1--1 AS x", "postgresql", "SELECT 1"),
    ("SELECT 1--1 AS x", "mysql", "SELECT 1--1 AS x"),
    ("WITH a AS (SELECT 1 AS n) /* x */ SELECT n FROM a", "sqlite", "WITH a AS (SELECT 1 AS n)         SELECT n FROM a"),
])
def test_a_read_only_query_is_sent_without_its_comments(text: str, backend: str, sent: str) -> None:
    assert runnable(text, backend, "窓口DB") == sent


@pytest.mark.parametrize("text, backend", [
    ("SELECT 1 # ; DROP TABLE t", "postgresql"),      # # is no comment there: the ; is code
    ("SELECT 1--1 ; DROP TABLE t", "mysql"),          # --1 is minus minus one there
    ("SELECT 1 /*! ; DROP TABLE t */", "mariadb"),    # MariaDB runs what /*! */ holds
    ("SELECT 'a\\''; DROP TABLE t; --'", "mysql"),    # the backslash escapes a quote there: the ; is code
    ("SELECT E'a\\''; DROP TABLE t; --'", "postgresql"),  # and in PostgreSQL's E'' strings
    ("SELECT 'a\\'; DROP TABLE t; --'", "postgresql"),  # but not in its others: the string ends before the ;
    ("SELECT 'unclosed", "sqlite"),
    ("SELECT 1 /* unclosed", "postgresql"),
    ("VALUES (1)", "postgresql"),
    ("EXPLAIN ANALYZE DELETE FROM t", "postgresql"),
    ("PRAGMA writable_schema = ON", "sqlite"),
    ("SELECT 1 FROM t LOCK IN SHARE MODE; SELECT 2", "mysql"),
])
def test_anything_else_is_refused_before_connecting(text: str, backend: str) -> None:
    with pytest.raises(SourceConfigError, match="窓口DB: query"):
        runnable(text, backend, "窓口DB")
