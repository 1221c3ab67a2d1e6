"""Schema migrations of the warehouse (Alembic, run from code: no alembic.ini), applied by
warehouse/store.connect() before anything reads or writes, and by `jisseki upgrade`.

- a warehouse without jisseki's tables is built from nothing by the revisions in versions/;
- one of jisseki 0.1.0 (its tables, no alembic_version) is stamped at BASELINE, which creates exactly
  what that release created, then upgraded;
- one at the head costs one query (this runs at the start of every night);
- one at a revision this code does not know (written by a newer jisseki) is left as it is, with an error.

An upgrade runs in one transaction under a lock, so two processes arriving at once both succeed (the
second waits, then finds the work done) and a revision that fails leaves the warehouse as it was:
PostgreSQL takes an advisory lock, SQLite `BEGIN IMMEDIATE`, which a second process waits for.

A new revision is a file in versions/ with `revision`, `down_revision` and `upgrade()` written with op.*
calls, never from warehouse.schema (a revision must not change when the model does);
tests/test_migrations.py fails while the model and the revisions disagree.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import DBAPIError

from warehouse.errors import WarehouseError

LOCATION = Path(__file__).parent
BASELINE = "0001_baseline"
VERSION_TABLE = "alembic_version"
# What jisseki 0.1.0 created, without a version table.
RELEASE_TABLES = frozenset({"kpi_actual", "kpi_evaluation", "quarantine", "lineage", "ingest_state", "ingest_file",
                            "source_run", "alert_state", "alert_outbox", "run_lock"})
PG_LOCK_KEY = 0x6A6973736B69   # "jisski": one upgrade at a time per PostgreSQL database
LOCK_SQL = {
    "postgresql": f"SELECT pg_advisory_xact_lock({PG_LOCK_KEY})",   # released when the transaction ends
    "sqlite": "BEGIN IMMEDIATE",                                     # waits up to the busy timeout
}
FOUND_TEXT = {"new": "なし（空の倉庫: 新しく作成）", "release": "なし（jisseki 0.1.0 の倉庫: 版の記録なし）"}


@dataclass(frozen=True)
class Upgrade:
    url: str                 # password hidden
    found: str               # new | release | versioned
    before: str | None       # the revision found, None without a version
    after: str

    def lines(self) -> list[str]:
        before = FOUND_TEXT.get(self.found, self.before)
        same = "（変更なし）" if self.before == self.after else ""
        return [f"倉庫: {self.url}", f"更新前の版: {before}", f"更新後の版: {self.after}{same}"]


def alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(LOCATION))
    config.attributes["connection"] = connection
    return config


@cache
def scripts() -> ScriptDirectory:
    return ScriptDirectory(str(LOCATION))


def head() -> str:
    found = scripts().get_current_head()
    assert found is not None   # versions/ ships with the package and is never empty
    return found


def upgrade(engine: Engine, create: bool) -> Upgrade:
    """Brings the warehouse to the head; with create=False one without jisseki's tables is an error."""
    shown = engine.url.render_as_string(hide_password=True)
    if engine.dialect.name not in LOCK_SQL:
        raise WarehouseError(f"倉庫に使えるのは SQLite と PostgreSQL です: {shown}")
    with engine.connect() as conn:
        found = _versions(conn)
    if found is not None:
        _check_known(found, shown)
        if found == (head(),):
            return Upgrade(shown, "versioned", head(), head())
    # Its INFO lines are English noise to an operator; what changed is told by `jisseki upgrade`.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(LOCK_SQL[engine.dialect.name])
            result = _upgrade_locked(conn, shown, create)
            conn.commit()
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else ""
        if engine.url.password:
            reason = reason.replace(engine.url.password, "***")
        raise WarehouseError(f"倉庫のスキーマを更新できません: {shown}（{type(exc.orig).__name__}: {reason}）。"
                             "倉庫は変更していません") from None
    return result


def _versions(conn: Connection) -> tuple[str, ...] | None:
    """The revisions recorded, or None without a version table: one query (an error when there is none)."""
    try:
        return _recorded(conn)
    except DBAPIError:
        return None


def _recorded(conn: Connection) -> tuple[str, ...]:
    return tuple(conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())


def _check_known(found: tuple[str, ...], shown: str) -> None:
    known = {script.revision for script in scripts().walk_revisions()}
    unknown = [rev for rev in found if rev not in known]
    if unknown:
        raise WarehouseError(
            f"倉庫のスキーマの版 {', '.join(unknown)} をこの jisseki は知りません"
            f"（知っている最新の版は {head()}）: {shown}。より新しい jisseki が更新した倉庫です。"
            "jisseki をその版以降に更新してから実行してください。倉庫は変更していません")


def _upgrade_locked(conn: Connection, shown: str, create: bool) -> Upgrade:
    """Under the lock, looks again: another process may have done the work while this one waited."""
    tables = set(inspect(conn).get_table_names())
    found = _recorded(conn) if VERSION_TABLE in tables else ()
    config = alembic_config(conn)
    if found:
        _check_known(found, shown)
        state = "versioned"
    elif not tables & RELEASE_TABLES:
        if not create:
            raise WarehouseError(f"倉庫がありません: {shown}。先に jisseki run を実行してください")
        state = "new"
    elif RELEASE_TABLES <= tables:
        command.stamp(config, BASELINE)
        state = "release"
    else:
        missing = ", ".join(sorted(RELEASE_TABLES - tables))
        raise WarehouseError(f"倉庫の表が一部しかありません（ない表: {missing}）: {shown}。"
                             "jisseki の倉庫ではないか、表が削除されています。バックアップから戻してください。"
                             "倉庫は変更していません")
    command.upgrade(config, "head")
    return Upgrade(shown, state, found[0] if found else None, head())
