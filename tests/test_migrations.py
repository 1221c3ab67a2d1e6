"""Schema migrations on real SQLite and PostgreSQL: a warehouse of 0.1.0 keeps its data, the baseline is
that release's schema, the model matches the revisions, and every refusal changes nothing."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from flows.run import run_nightly
from tests.fixtures import schema_release_0_1_0 as release
from tests.fixtures.make_release_dump import encode
from tests.handcount import expected_figures
from tests.sample_api import SampleApi
from tests.support import TOKEN, TOKEN_ENV, write_config
from tests.test_exactness import assert_matches, landed
from tests.test_exactness_all import NOCODE_ENV
from tests.unseen import write_unseen
from tests.unseen_more import write_unseen_more
from warehouse import schema
from warehouse.errors import WarehouseError
from warehouse.migrations import BASELINE, PG_LOCK_KEY, RELEASE_TABLES, alembic_config, head
from warehouse.store import connect

DUMP = json.loads((Path(__file__).parent / "fixtures" / "warehouse-release-0.1.0.json").read_text("utf-8"))
REPO = Path(__file__).resolve().parents[1]
PASSWORD = "Pw-n0t-t0-be-sh0wn"


def engine_of(url: str) -> sa.Engine:
    return sa.create_engine(url)


def decode(column: sa.Column, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(column.type, sa.DateTime):
        return datetime.fromisoformat(value)
    if isinstance(column.type, sa.Date):
        return date.fromisoformat(value)
    return value


def restore(url: str, dump: dict = DUMP) -> None:
    """What a site running 0.1.0 has: its create_all, its rows, PostgreSQL's id sequences past them."""
    engine = engine_of(url)
    release.metadata.create_all(engine)
    with engine.begin() as conn:
        for table in release.metadata.sorted_tables:
            data = dump["tables"][table.name]
            columns = [table.c[name] for name in data["columns"]]
            rows = [{c.name: decode(c, v) for c, v in zip(columns, row)} for row in data["rows"]]
            if rows:
                conn.execute(table.insert(), rows)
            if conn.dialect.name == "postgresql" and "id" in table.c and rows:
                conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                     f"(SELECT MAX(id) FROM {table.name}))"))
    engine.dispose()


def rows_of(url: str) -> dict[str, list[str]]:
    """Every row of every table of the release, encoded as in the dump, in one order on both databases."""
    engine = engine_of(url)
    with engine.connect() as conn:
        out = {table.name: sorted(json.dumps([encode(v) for v in row], ensure_ascii=False)
                                  for row in conn.execute(sa.select(table)))
               for table in release.metadata.sorted_tables}
    engine.dispose()
    return out


def kept(dump: dict = DUMP) -> dict[str, list[str]]:
    """The dump without the rows revision 2 removes (those added by hand)."""
    removed = {(name, row_id) for name, ids in dump["added_by_hand"].items() for row_id in ids}
    return {name: sorted(json.dumps(row, ensure_ascii=False) for row in data["rows"] if (name, row[0]) not in removed)
            for name, data in dump["tables"].items()}


def version(url: str) -> list[str]:
    engine = engine_of(url)
    with engine.connect() as conn:
        found = list(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())
    engine.dispose()
    return found


def table_names(url: str) -> set[str]:
    engine = engine_of(url)
    names = set(sa.inspect(engine).get_table_names())
    engine.dispose()
    return names


def schema_of(url: str) -> dict[str, Any]:
    """What sqlalchemy.inspect sees of every table but alembic_version, and on SQLite the DDL itself."""
    engine = engine_of(url)
    out: dict[str, Any] = {}
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        for name in sorted(set(inspector.get_table_names()) - {"alembic_version"}):
            out[name] = {
                "columns": [(c["name"], str(c["type"]), c["nullable"], c.get("default"), c.get("autoincrement"))
                            for c in inspector.get_columns(name)],
                "primary_key": inspector.get_pk_constraint(name),
                "unique": sorted((u["name"], tuple(u["column_names"])) for u in inspector.get_unique_constraints(name)),
                "indexes": sorted((i["name"], tuple(i["column_names"]), i["unique"],
                                   sorted((k, str(v)) for k, v in i.get("dialect_options", {}).items()))
                                  for i in inspector.get_indexes(name)),
                "checks": inspector.get_check_constraints(name),
                "foreign_keys": inspector.get_foreign_keys(name),
            }
        if conn.dialect.name == "sqlite":
            out["sqlite_master"] = sorted(tuple(r) for r in conn.execute(sa.text(
                "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE tbl_name <> 'alembic_version'")))
        else:
            out["sequences"] = sorted(inspector.get_sequence_names())
    engine.dispose()
    return out


def with_password(url: str) -> str:
    """The same PostgreSQL warehouse with a password in its URL (trust authentication ignores it)."""
    return url.replace("postgres@", f"postgres:{PASSWORD}@", 1)


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "jisseki.cli", *args]


def run_cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(cli(*args), cwd=cwd, capture_output=True, text=True, timeout=300)


def six_source_config(folder: Path, url: str, procedures_url: str, nocode_url: str) -> Path:
    return write_config(folder, url, procedures_url, **{
        "sources.nocode_apps": {"base_url": nocode_url, "token_env": NOCODE_ENV, "max_retries": 1},
        "sources.dataviz_access": {"path": "dataviz", "departments": "departments.csv"},
        "sources.manual_entries": {"path": "manual"}})


def landed_file_hashes(dump: dict) -> dict[str, str]:
    data = dump["tables"]["lineage"]
    detail = data["columns"].index("detail")
    return {name: sha for row in data["rows"] for name, sha, *_ in json.loads(row[detail]).get("files", [])}


@pytest.mark.e2e
@pytest.mark.usefixtures("prefect_harness")
def test_an_upgrade_keeps_every_row_and_the_next_run_lands_exactly(tmp_path, monkeypatch, warehouse_url) -> None:
    restore(warehouse_url)
    assert rows_of(warehouse_url) == {name: sorted(json.dumps(r, ensure_ascii=False) for r in data["rows"])
                                      for name, data in DUMP["tables"].items()}   # restored whole
    seed, as_of = DUMP["seed"], date.fromisoformat(DUMP["as_of"][-1])
    procedures, apps = write_unseen(tmp_path, seed), write_unseen_more(tmp_path, seed)
    # The regenerated inbox is the one the release read: every file by the SHA-256 its lineage names.
    written = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.rglob("*") if p.is_file()}
    assert {name: written.get(name) for name in landed_file_hashes(DUMP)} == landed_file_hashes(DUMP)
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.setenv(NOCODE_ENV, TOKEN)
    with SampleApi(procedures, TOKEN) as api, SampleApi.nocode(apps, TOKEN) as nocode:
        config = six_source_config(tmp_path, warehouse_url, api.base_url, nocode.base_url)
        done = run_cli("upgrade", "--config", str(config))
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[1:] == ["更新前の版: なし（jisseki 0.1.0 の倉庫: 版の記録なし）", f"更新後の版: {head()}"]
        assert "alembic" not in (done.stdout + done.stderr).lower() and done.stderr == ""
        assert version(warehouse_url) == [head()]
        upgraded = rows_of(warehouse_url)
        assert upgraded == kept()   # every row of every table, less the one evaluation about a later day
        assert len(upgraded["kpi_evaluation"]) == len(DUMP["tables"]["kpi_evaluation"]["rows"]) - 1
        assert run_nightly(config, as_of, None) == 0
    assert_matches(landed(warehouse_url), expected_figures(tmp_path, procedures, apps, as_of))
    after = rows_of(warehouse_url)
    assert after["kpi_actual"] == upgraded["kpi_actual"]   # the same figures: no revision added, none retired
    assert after["lineage"] == upgraded["lineage"]         # the same inputs, hashed alike: no new lineage
    assert len(after["kpi_evaluation"]) > len(upgraded["kpi_evaluation"]) and version(warehouse_url) == [head()]


def test_revision_1_builds_exactly_the_release_schema(warehouse_url) -> None:
    assert RELEASE_TABLES == set(release.metadata.tables)
    engine = engine_of(warehouse_url)
    release.metadata.create_all(engine)
    want = schema_of(warehouse_url)
    release.metadata.drop_all(engine)
    assert set(schema_of(warehouse_url)) <= {"sqlite_master", "sequences"} and set(want) > RELEASE_TABLES
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), BASELINE)
    engine.dispose()
    assert version(warehouse_url) == [BASELINE]
    assert schema_of(warehouse_url) == want


def test_the_model_matches_the_migrations(warehouse_url) -> None:
    """A change to warehouse/schema.py without a revision fails here."""
    engine = connect(warehouse_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        assert compare_metadata(context, schema.metadata) == []
        changed = sa.MetaData()
        for table in schema.metadata.tables.values():
            table.to_metadata(changed)
        changed.tables["kpi_evaluation"].append_column(sa.Column("reviewed_by", sa.String(64)))
        assert [diff[0] for diff in compare_metadata(context, changed)] == ["add_column"]
    engine.dispose()


def test_revision_2_removes_only_evaluations_about_a_later_day_in_japan(warehouse_url) -> None:
    engine = engine_of(warehouse_url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), BASELINE)
    utc = timezone.utc
    cases = [  # evaluated_at (UTC), as_of, kept; Japan is UTC+9
        (datetime(2026, 4, 20, 14, 59, 59, 999999, utc), date(2026, 4, 20), True),   # 23:59:59 on the 20th
        (datetime(2026, 4, 20, 14, 59, 59, 999999, utc), date(2026, 4, 21), False),
        (datetime(2026, 4, 20, 15, 0, tzinfo=utc), date(2026, 4, 21), True),         # 00:00 on the 21st
        (datetime(2026, 4, 20, 15, 0, tzinfo=utc), date(2026, 4, 22), False),
        (datetime(2026, 12, 1, 10, 0, tzinfo=utc), date(2025, 4, 30), True),         # a backfilled month end
        (datetime(2026, 4, 20, 23, 30, tzinfo=utc), date(2028, 1, 5), False),        # `run --as-of 2028-01-05`
    ]
    with engine.begin() as conn:
        conn.execute(release.kpi_evaluation.insert(), [
            dict(id=n, kpi_id="speech_hours_monthly", fiscal_year=2025, as_of=as_of, status="on_track",
                 flow_run_id=f"run-{n}", evaluated_at=evaluated) for n, (evaluated, as_of, _) in enumerate(cases, 1)])
    # Another session time zone on PostgreSQL must not move the day.
    url = warehouse_url + "%20-cTimeZone%3DPacific/Honolulu" if "options=" in warehouse_url else warehouse_url
    if "options=" in url:
        with engine_of(url).connect() as conn:
            assert conn.execute(sa.text("SHOW TimeZone")).scalar_one() == "Pacific/Honolulu"
    connect(url).dispose()
    with engine.connect() as conn:
        left = set(conn.execute(sa.text("SELECT id FROM kpi_evaluation")).scalars())
    engine.dispose()
    assert left == {n for n, (_, _, keep) in enumerate(cases, 1) if keep}


@pytest.mark.e2e
def test_a_warehouse_of_a_newer_jisseki_is_refused_and_left_as_it_is(tmp_path, warehouse_url) -> None:
    connect(warehouse_url).dispose()
    engine = engine_of(warehouse_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0003_from_a_newer_jisseki'"))
    engine.dispose()
    before = schema_of(warehouse_url)
    url = with_password(warehouse_url)
    with pytest.raises(WarehouseError, match="0003_from_a_newer_jisseki をこの jisseki は知りません") as refused:
        connect(url)
    assert "jisseki をその版以降に更新" in str(refused.value) and PASSWORD not in str(refused.value)
    done = run_cli("upgrade", "--config", str(write_config(tmp_path, url, None, moveout="", speech="")))
    assert done.returncode == 1 and "0003_from_a_newer_jisseki" in done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    assert schema_of(warehouse_url) == before and version(warehouse_url) == ["0003_from_a_newer_jisseki"]


@pytest.mark.e2e
@pytest.mark.parametrize("command", [["status"], ["report", "--out", "report"],
                                     ["backfill", "--from", "2025-04-01", "--to", "2025-06-30"]])
def test_a_read_command_on_a_missing_sqlite_warehouse_fails_and_creates_no_file(tmp_path, command) -> None:
    config = write_config(tmp_path, "sqlite:///warehouse.db", None, moveout="", speech="")
    done = run_cli(*command, "--config", str(config), cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip() == f"倉庫がありません: sqlite:///{tmp_path / 'warehouse.db'}。先に jisseki run を実行してください"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jisseki.toml"]


@pytest.mark.e2e
def test_status_on_a_postgresql_database_without_the_tables_fails_and_creates_nothing(tmp_path, postgres_url) -> None:
    url = with_password(postgres_url)
    done = run_cli("status", "--config", str(write_config(tmp_path, url, None, moveout="", speech="")))
    assert done.returncode == 1 and "倉庫がありません: postgresql://postgres:***@" in done.stderr
    assert "先に jisseki run を実行してください" in done.stderr and PASSWORD not in done.stdout + done.stderr
    with pytest.raises(WarehouseError, match="倉庫がありません"):
        connect(postgres_url, create=False)
    assert schema_of(postgres_url) == {"sequences": []}


def test_an_existing_warehouse_is_upgraded_by_a_read_command_too(tmp_path, warehouse_url) -> None:
    restore(warehouse_url)
    connect(warehouse_url, create=False).dispose()
    assert version(warehouse_url) == [head()] and rows_of(warehouse_url) == kept()


def test_a_warehouse_with_only_some_of_the_tables_is_refused_and_left_as_it_is(warehouse_url) -> None:
    engine = engine_of(warehouse_url)
    release.metadata.create_all(engine)
    release.alert_outbox.drop(engine)
    engine.dispose()
    before = schema_of(warehouse_url)
    with pytest.raises(WarehouseError, match="倉庫の表が一部しかありません（ない表: alert_outbox）"):
        connect(warehouse_url)
    assert schema_of(warehouse_url) == before


REFUSE_DELETES = {
    "sqlite": ["CREATE TRIGGER refuse BEFORE DELETE ON kpi_evaluation BEGIN SELECT RAISE(ABORT, 'refused'); END"],
    "postgresql": ["CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                   "$$ BEGIN RAISE EXCEPTION 'refused'; END $$",
                   "CREATE TRIGGER refuse BEFORE DELETE ON kpi_evaluation FOR EACH ROW EXECUTE FUNCTION refuse()"],
}


def test_a_revision_that_fails_leaves_the_warehouse_as_it_was(warehouse_url) -> None:
    """The stamp, revision 1's bookkeeping and revision 2 are one transaction: a failure in 2 undoes all."""
    restore(warehouse_url)
    engine = engine_of(warehouse_url)
    with engine.begin() as conn:
        for statement in REFUSE_DELETES[conn.dialect.name]:
            conn.exec_driver_sql(statement)
    engine.dispose()
    before = rows_of(warehouse_url)
    with pytest.raises(WarehouseError, match="倉庫のスキーマを更新できません.*refused.*倉庫は変更していません"):
        connect(warehouse_url)
    assert "alembic_version" not in table_names(warehouse_url) and rows_of(warehouse_url) == before


def test_alembic_logs_nothing_of_its_own(tmp_path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    connect(f"sqlite:///{tmp_path / 'w.db'}").dispose()
    assert version(f"sqlite:///{tmp_path / 'w.db'}") == [head()]
    assert [r.getMessage() for r in caplog.records if r.name.startswith("alembic")] == []


@contextmanager
def upgrades_held(url: str) -> Iterator[Callable[[list[subprocess.Popen]], None]]:
    """Holds the lock an upgrade takes; the callable returns once every child is waiting for it."""
    if url.startswith("sqlite"):
        import sqlite3

        path = sa.make_url(url).database
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("PRAGMA journal_mode=WAL")
        holder.execute("BEGIN IMMEDIATE")

        def waiting(children: list[subprocess.Popen]) -> None:
            # A child that has the file open is a moment away from waiting on the lock.
            wait_for(lambda: all(opened(child.pid, path) for child in children))
            time.sleep(1.0)

        try:
            yield waiting
        finally:
            holder.rollback()
            holder.close()
    else:
        engine = engine_of(url)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})

            def waiting(children: list[subprocess.Popen]) -> None:
                with engine.connect() as other:
                    wait_for(lambda: other.execute(sa.text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                        "AND objid = :low"), {"low": PG_LOCK_KEY & 0xFFFFFFFF}).scalar_one() == len(children))

            yield waiting
            conn.rollback()
        engine.dispose()


def opened(pid: int, path: str) -> bool:
    fds = Path(f"/proc/{pid}/fd")
    try:
        return any(os.path.realpath(fd) == os.path.realpath(path) for fd in fds.iterdir())
    except (FileNotFoundError, PermissionError):
        return False


def wait_for(condition: Callable[[], bool], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the children never reached the lock"
        time.sleep(0.1)


@pytest.mark.e2e
@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to see the children waiting")
@pytest.mark.parametrize("start", ["new", "release"])
def test_two_processes_arriving_at_once_both_succeed(tmp_path, warehouse_url, start) -> None:
    if start == "release":
        restore(warehouse_url)
    config = write_config(tmp_path, warehouse_url, None, moveout="", speech="")
    with upgrades_held(warehouse_url) as waiting:
        children = [subprocess.Popen(cli("upgrade", "--config", str(config)), cwd=REPO, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True) for _ in range(2)]
        waiting(children)
    outputs = [child.communicate(timeout=300) for child in children]
    assert [child.returncode for child in children] == [0, 0], outputs
    befores = sorted(out.splitlines()[1] for out, _ in outputs)
    first = {"new": "なし（空の倉庫: 新しく作成）", "release": "なし（jisseki 0.1.0 の倉庫: 版の記録なし）"}[start]
    # One did the work; the other waited for it and found the warehouse at the head.
    assert befores == sorted([f"更新前の版: {first}", f"更新前の版: {head()}"])
    assert version(warehouse_url) == [head()]
    if start == "release":
        assert rows_of(warehouse_url) == kept()
