"""The figures of declared measures, computed in DuckDB over a source's typed rows: one implementation for the
row readers (their valid rows are loaded into a table) and the columnar path (which builds the table itself).

The table `rows` has `_ord` (reading order: files by name then line, pages in order), `_day` (the day the
source's `date` column places the row in), `_scope`, and one column `c<i>` per declared column i. Rows with one
dedupe key are one row (`keep`), then each measure counts what its filters take, per period and scope:

- a flow (count, distinct, sum, mean, ratio, first) is given every month of each fiscal year from its first
  day's, up to the as-of date (a month without rows counts 0; a ratio or mean without rows has no figure);
- a stock (active, latest) from the month of its first day;
- a fiscal year's figure covers the year to date, or is the mean of its complete months (`mean_of_months`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from jisseki.core.model import CITY, Figure
from jisseki.core.normalize import nfkc
from jisseki.core.periods import (
    fiscal_year,
    fy_end,
    fy_label,
    fy_months,
    fy_start,
    month_end,
    month_label,
    months_between,
)
from jisseki.declared.rules import figure_checks
from jisseki.declared.spec import Declared, MeasureSpec, Range
from jisseki.moveout.columnar import insert_rows

SQL_TYPES = {"text": "VARCHAR", "integer": "BIGINT", "number": "DOUBLE", "date": "DATE", "datetime": "TIMESTAMP",
             "ward": "VARCHAR", "lg_code": "VARCHAR", "boolean": "BOOLEAN"}
STOCKS = ("active", "latest")


def column_ids(decl: Declared) -> dict[str, str]:
    """Each declared column's column in `rows`: c0, c1, … in declaration order (names people write in any script
    need no quoting in SQL this way)."""
    return {name: f"c{i}" for i, name in enumerate(decl.columns)}


def create_rows(con: Any, decl: Declared) -> None:
    """`rows` (and later `kept`) in the connection's current database: the columnar path's compresses them."""
    ids = column_ids(decl)
    columns = ", ".join(f"{ids[n]} {SQL_TYPES[c.type]}" for n, c in decl.columns.items())
    con.execute(f"CREATE OR REPLACE TABLE rows (_ord BIGINT, _day DATE, _scope VARCHAR, {columns})")


def kept_rows(con: Any, decl: Declared) -> None:
    """`kept`: `rows` with one row per dedupe key (the first or last read, or the latest by a column)."""
    if not decl.key:
        con.execute("CREATE OR REPLACE TABLE kept AS SELECT * FROM rows")
        return
    ids = column_ids(decl)
    order = "_ord DESC" if decl.keep == "last" else "_ord"
    if decl.latest:
        order = f"{ids[decl.latest]} DESC NULLS LAST, _ord DESC"
    keys = ", ".join(ids[k] for k in decl.key)
    con.execute(f"CREATE OR REPLACE TABLE kept AS SELECT * FROM rows "
                f"QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY {order}) = 1")


def last_day(con: Any, as_of: date) -> date | None:
    """The latest day a kept row is placed in, up to the as-of date (when the source's data last moved)."""
    return con.execute("SELECT max(_day) FROM kept WHERE _day <= $as_of", {"as_of": as_of}).fetchone()[0]


@dataclass(frozen=True)
class _Period:
    label: str
    start: date
    end: date
    fiscal: bool


def figures(con: Any, decl: Declared, measures: dict[str, MeasureSpec], as_of: date) -> list[Figure]:
    """Every measure's figures over `kept`."""
    out: list[Figure] = []
    for kpi, measure in measures.items():
        out.extend(_measure(con, decl, kpi, measure, as_of))
    return out


def _measure(con: Any, decl: Declared, kpi: str, m: MeasureSpec, as_of: date) -> list[Figure]:
    ids = column_ids(decl)
    day = f"CAST(r.{ids[m.date]} AS DATE)" if m.date else "r._day"
    params: dict[str, Any] = {"as_of": as_of}
    where = _filter(m.where, ids, params, "w")
    first = _first_day(con, m, ids, day, where, params)
    if first is None:
        # Rows read, none of them counted: the year so far counts nothing, which is a figure (0), not a gap.
        if con.execute("SELECT count(*) FROM kept").fetchone()[0] == 0:
            return []
        first = fy_start(fiscal_year(as_of))
    periods = _periods(first, as_of, stock=m.type in STOCKS)
    scopes = [CITY] if not (m.by_scope and decl.scope) else [CITY, "by_scope"]
    out: list[Figure] = []
    for scope in scopes:
        rows = _query(con, m, ids, day, where, params, periods, scope == "by_scope")
        out.extend(_figures(kpi, m, rows, periods, as_of))
    return out


def _first_day(con: Any, m: MeasureSpec, ids: dict[str, str], day: str, where: str,
               params: dict[str, Any]) -> date | None:
    if m.type == "active":
        assert m.valid_from is not None   # MeasureSpec requires it
        start = f"CAST(r.{ids[m.valid_from]} AS DATE)"
        sql = f"SELECT min({start}) FROM kept r WHERE {where} AND {start} <= $as_of"
    else:
        sql = f"SELECT min({day}) FROM kept r WHERE {where} AND {day} <= $as_of"
    return _run(con, sql, params).fetchone()[0]


def _periods(first: date, as_of: date, stock: bool) -> list[_Period]:
    months = months_between(first, as_of) if stock else [
        m for fy in range(fiscal_year(first), fiscal_year(as_of) + 1) for m in fy_months(fy) if m <= as_of]
    out = [_Period(month_label(m), m, min(month_end(m), as_of), False) for m in months]
    for fy in range(fiscal_year(first), fiscal_year(as_of) + 1):
        out.append(_Period(fy_label(fy), fy_start(fy), min(fy_end(fy), as_of), True))
    return out


def _query(con: Any, m: MeasureSpec, ids: dict[str, str], day: str, where: str, params: dict[str, Any],
           periods: list[_Period], by_scope: bool) -> dict[tuple[str, str], tuple[Any, Any]]:
    """(period label, scope) → (value or numerator, denominator) for every period and scope."""
    con.execute("CREATE OR REPLACE TEMP TABLE periods (label VARCHAR, p_start DATE, p_end DATE)")
    insert_rows(con, "periods", [(p.label, p.start, p.end) for p in periods])
    scopes = ("(SELECT DISTINCT _scope AS scope FROM kept WHERE _scope IS NOT NULL)" if by_scope
              else f"(SELECT '{CITY}' AS scope)")
    same_scope = "r._scope = s.scope AND " if by_scope else ""
    table = "kept"
    if m.type == "first":
        assert m.column is not None
        group = ", _scope" if by_scope else ""
        table = (f"(SELECT {ids[m.column]} AS counted{group}, min({day}) AS _day FROM kept r "
                 f"WHERE {where} AND {day} IS NOT NULL GROUP BY {ids[m.column]}{group})")
        on, where, day = "r._day BETWEEN p.p_start AND p.p_end", "TRUE", "r._day"
    elif m.type == "active":
        assert m.valid_from is not None
        start = f"CAST(r.{ids[m.valid_from]} AS DATE)"
        end = f"CAST(r.{ids[m.valid_to]} AS DATE)" if m.valid_to else "NULL"
        on = f"{start} <= p.p_end AND ({end} IS NULL OR {end} > p.p_end)"
    else:
        on = f"{day} BETWEEN p.p_start AND p.p_end"
    value, second = _aggregate(m, ids, day, params)
    sql = (f"SELECT p.label, s.scope, {value}, {second} FROM periods p CROSS JOIN {scopes} s "
           f"LEFT JOIN {table} r ON {same_scope}{on} AND {where} GROUP BY p.label, s.scope")
    return {(label, scope): (a, b) for label, scope, a, b in _run(con, sql, params).fetchall()}


def _aggregate(m: MeasureSpec, ids: dict[str, str], day: str, params: dict[str, Any]) -> tuple[str, str]:
    column = f"r.{ids[m.column]}" if m.column else None
    if m.type == "ratio":
        numerator = _filter(m.numerator, ids, params, "n")
        return f"count(r._ord) FILTER (WHERE {numerator})", "count(r._ord)"
    if m.type == "first":
        return "count(r.counted)", "NULL"
    return {"count": "count(r._ord)", "active": "count(r._ord)", "distinct": f"count(DISTINCT {column})",
            "sum": f"coalesce(sum({column}), 0)", "mean": f"avg({column})",
            # The value of the row placed last: by its day, then as read.
            "latest": f"arg_max({column}, date_diff('day', DATE '1970-01-01', {day}) * 4294967296 + r._ord)"
            }[m.type], "NULL"


def _figures(kpi: str, m: MeasureSpec, rows: dict[tuple[str, str], tuple[Any, Any]], periods: list[_Period],
             as_of: date) -> list[Figure]:
    out: list[Figure] = []
    months = [p for p in periods if not p.fiscal]
    for (label, scope), (a, b) in sorted(rows.items()):
        period = next(p for p in periods if p.label == label)
        if period.fiscal and m.fiscal_year == "mean_of_months":
            complete = [rows.get((p.label, scope)) for p in months
                        if fiscal_year(p.start) == fiscal_year(period.start) and month_end(p.start) <= as_of]
            values = [_value(m, *v) for v in complete if v is not None]
            present = [v[0] for v in values if v is not None]
            if present:
                out.append(Figure(kpi, label, scope, period.end, sum(present) / len(present),
                                  checks=figure_checks(m, sum(present) / len(present), None, None)))
            continue
        made = _value(m, a, b)
        if made is not None:
            value, numerator, denominator = made
            out.append(Figure(kpi, label, scope, period.end, value, numerator, denominator,
                              checks=figure_checks(m, value, numerator, denominator)))
    return out


def _value(m: MeasureSpec, a: Any, b: Any) -> tuple[float, float | None, float | None] | None:
    if m.type == "ratio":
        return (a / b, float(a), float(b)) if b else None
    if a is None:
        return None   # a mean or latest value of no rows
    return float(a), None, None


def _as_typed(value: Any) -> Any:
    """A filter's value as typed values are: text NFKC-normalised and stripped (全角 in a declaration matches)."""
    return nfkc(value) if isinstance(value, str) else value


def _run(con: Any, sql: str, params: dict[str, Any]) -> Any:
    """DuckDB refuses parameters a statement does not use: only those it names are given."""
    return con.execute(sql, {k: v for k, v in params.items() if re.search(rf"\${k}\b", sql)})


def _filter(spec: dict[str, Any], ids: dict[str, str], params: dict[str, Any], prefix: str) -> str:
    """SQL for a filter, its values bound as parameters: equality, membership or a range per column."""
    parts = ["TRUE"]
    for i, (name, wanted) in enumerate(spec.items()):
        column, key = f"r.{ids[name]}", f"{prefix}{i}"
        if isinstance(wanted, Range):
            if wanted.min is not None:
                parts.append(f"{column} >= ${key}_min")
                params[f"{key}_min"] = wanted.min
            if wanted.max is not None:
                parts.append(f"{column} <= ${key}_max")
                params[f"{key}_max"] = wanted.max
        elif isinstance(wanted, list):
            parts.append(f"list_contains(${key}, {column})")
            params[key] = [_as_typed(v) for v in wanted]
        else:
            parts.append(f"{column} = ${key}")
            params[key] = _as_typed(wanted)
    return " AND ".join(parts)
