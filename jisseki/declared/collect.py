"""A declared source as a `Source`: its reader by type, each row typed and validated by the suites its rules
make, its valid rows measured in DuckDB by the catalog's declared measures. The pipeline runs it as it runs
the built-in sources (read → validate in chunks → quarantine → measure → reject or land).

A Record of a declared source carries in `key` the row as the measures' table holds it (reading order, day,
scope, each declared column's typed value, the personal ones included): it lives in memory only, in the
pipeline and in an in-memory DuckDB that never spills to disk. A CSV source's columnar path keeps its plain
copies and DuckDB's spill in a locked work folder removed after the run (jisseki/declared/columnar.py)."""
from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from typing import Any

from connectors.errors import SourceConfigError
from expectations.runner import register_suite
from jisseki.batch import CHUNK_ROWS, RunContext
from jisseki.core.imports import heavy
from jisseki.core.model import Figure
from jisseki.core.periods import fiscal_year, fy_start
from jisseki.core.records import Bad, Lineage, Record, named, text_problem
from jisseki.declared import engine, rules
from jisseki.declared.read_csv import read_csv
from jisseki.declared.read_excel import read_excel
from jisseki.declared.read_jsonl import read_jsonl
from jisseki.declared.read_rest import read_rest
from jisseki.declared.read_sql import read_sql
from jisseki.declared.spec import TYPE_WORDS, Declared, MeasureSpec, Range
from jisseki.declared.values import MISSING, Reader, Row, Window, day_of, typed
from jisseki.moveout.columnar import insert_rows
from jisseki.secrets import declared_secret

# Each type's reader. Imported with this module, not on first use: a source's thread must not wait, before its
# first request, for the lock under which other sources import and run GX (their heavy parts, openpyxl and the
# database drivers, load on use).
READERS: dict[str, Reader] = {"csv": read_csv, "excel": read_excel, "jsonl": read_jsonl, "sql": read_sql,
                              "rest": read_rest}


def window(as_of: date) -> Window:
    return Window(fy_start(fiscal_year(as_of)), as_of)


def measure_problems(decl: Declared, measures: Mapping[str, MeasureSpec]) -> list[str]:
    """Why the catalog's measures cannot be counted from this declaration, one sentence each (none: they can)."""
    out: list[str] = []
    for kpi, m in measures.items():
        unknown = sorted(m.columns() - set(decl.columns))
        if unknown:
            out.append(f"指標 {kpi} の measure が使う列 {'、'.join(unknown)} がソースの columns にありません")
            continue
        types = {c: decl.columns[c].type for c in m.columns()}
        if m.type != "active" and not (m.date or decl.date):
            out.append(f"指標 {kpi}: 行を日に割り当てる列がありません（ソースの date か measure の date を書いてください）")
        if m.date and types[m.date] not in ("date", "datetime"):
            out.append(f"指標 {kpi}: measure の date の列 {m.date} が date・datetime の型ではありません")
        if m.type in ("sum", "mean", "latest") and m.column and types[m.column] not in ("integer", "number"):
            out.append(f"指標 {kpi}: {m.type} の列 {m.column} が integer・number の型ではありません")
        for bound in (m.valid_from, m.valid_to):
            if bound and types[bound] not in ("date", "datetime"):
                out.append(f"指標 {kpi}: 有効期間の列 {bound} が date・datetime の型ではありません")
        if m.by_scope and not decl.scope:
            out.append(f"指標 {kpi}: by_scope ですが、ソースに scope（範囲の列）がありません")
        personal = sorted(c for c in {*m.where, *m.numerator} if decl.columns[c].personal)
        if personal:
            out.append(f"指標 {kpi}: personal の列 {'、'.join(personal)} では絞り込めません（値を見ないため）")
        out.extend(filter_problems(kpi, decl, {**m.where, **m.numerator}))
    return out


def filter_problems(kpi: str, decl: Declared, spec: Mapping[str, Any]) -> list[str]:
    """Why a filter's values cannot be compared with its columns' typed values: a value not of the column's
    type would stop the measure in the database, and one not in the typed form (a 5-digit ward code) would
    match no row without a word."""
    out: list[str] = []
    for name, wanted in spec.items():
        column = decl.columns[name]
        if column.personal:
            continue
        if isinstance(wanted, Range):
            if column.type not in ("integer", "number"):
                out.append(f"指標 {kpi}: 範囲（min・max）の条件は integer・number の列にだけ書けます"
                           f"（列 {name} は{TYPE_WORDS[column.type]}）")
            continue
        for value in wanted if isinstance(wanted, list) else [wanted]:
            as_typed = typed(value, column)
            shown = json.dumps(value, ensure_ascii=False)
            if as_typed is None or as_typed is MISSING:
                out.append(f"指標 {kpi}: 列 {name} の条件の値 {shown} を{TYPE_WORDS[column.type]}として読めません")
            elif column.type != "datetime" and _written(as_typed) != value:
                out.append(f"指標 {kpi}: 列 {name} の条件の値 {shown} は {json.dumps(_written(as_typed), ensure_ascii=False)} "
                           "と書いてください（行の値はその形で比べます）")
    return out


def _written(value: Any) -> Any:
    """A typed value as a filter writes it in TOML: a date as its ISO text."""
    return value.isoformat() if isinstance(value, date) else value


def read_declared(ctx: RunContext, lineage: Lineage) -> Iterator[Record | Bad]:
    decl: Declared = ctx.cfg
    prepare(ctx)
    secret = declared_secret(decl)
    for position, item in enumerate(READERS[decl.type](decl, lineage, window(ctx.as_of), secret)):
        yield item if isinstance(item, Bad) else record(decl, item, position)


def prepare(ctx: RunContext) -> None:
    """Refuses measures the declaration cannot count; registers the suites its rules and measures make."""
    decl: Declared = ctx.cfg
    name = ctx.source.name
    problems = measure_problems(decl, ctx.measures)
    if problems:
        raise SourceConfigError("; ".join(problems), "運営方針（カタログ）の measure と設定ファイルの "
                                f"[sources.{name}] の columns を合わせてください（jisseki check で確かめられます）")
    register_suite(rules.records_suite(name, decl))
    register_suite(rules.figures_suite(name, dict(ctx.measures), decl.scope is not None))


def record(decl: Declared, row: Row, position: int) -> Record | Bad:
    values = {name: typed(row.values.get(name), column) for name, column in decl.columns.items()}
    problem = text_problem({n: v for n, v in values.items() if not decl.columns[n].personal})
    if problem:
        return Bad(row.location, row.item, "bad_text", problem, content_hash=row.content_hash)
    kept = [stored(v) for v in values.values()]
    day = day_of(values[decl.date]) if decl.date else None
    scope = values[decl.scope] if decl.scope else None
    scope = None if scope is MISSING else scope
    fields = rules.fields(decl, values, dict(row.values))
    return Record(fields, (position, day, None if scope is None else str(scope), *kept), row.location,
                  _item(decl, row.item, values), row.content_hash)


def _item(decl: Declared, item: str, values: dict[str, Any]) -> str:
    """A row's place, with its id when one column keys it and holds a catalog id (PROC-000123): an API's
    owner finds a record by it. A personal key is never shown."""
    if len(decl.key) == 1 and not decl.columns[decl.key[0]].personal:
        key = values[decl.key[0]]
        return named(item, key if isinstance(key, str) else None)
    return item


def stored(value: Any) -> Any:
    """A typed value as the measures' table holds it: a date-time as its Japan wall time (typed values are in
    Japan time), so DuckDB never converts it by the machine's zone."""
    if value is MISSING:
        return None
    return value.replace(tzinfo=None) if isinstance(value, datetime) else value


class DeclaredMeasure:
    """Holds the valid rows in an in-memory DuckDB and computes the catalog's declared measures over them."""

    def __init__(self, ctx: RunContext) -> None:
        self.decl: Declared = ctx.cfg
        self.measures = dict(ctx.measures)
        self.as_of = ctx.as_of
        self.pending: list[tuple[Any, ...]] = []
        self.con: Any = None   # opened with the first rows: DuckDB loads under the heavy-import lock
        self.day: date | None = None

    def add(self, record: Record) -> None:
        self.pending.append(record.key)
        if len(self.pending) >= CHUNK_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self.con is None:
            # In memory, and never spilled: the rows may hold personal columns (a dedupe key).
            self.con = heavy("duckdb").connect(":memory:", config={"temp_directory": ""})
            engine.create_rows(self.con, self.decl)
        insert_rows(self.con, "rows", self.pending)
        self.pending = []

    def figures(self) -> list[Figure]:
        self._flush()
        engine.kept_rows(self.con, self.decl)
        self.day = engine.last_day(self.con, self.as_of)
        try:
            return engine.figures(self.con, self.decl, self.measures, self.as_of)
        finally:
            self.con.close()

    def max_event_date(self) -> date | None:
        return self.day
