"""Reading back what the nights set aside (table quarantine), for `jisseki quarantine` and the report."""
from __future__ import annotations

from datetime import date, timezone
from typing import Any

from sqlalchemy import Engine, case, func, select

from jisseki.core.periods import as_utc, day_start_jst
from warehouse.schema import quarantine

COLUMNS = ("source", "location", "item", "reason_code", "reason", "value", "rows", "detected_at")


def quarantined(engine: Engine, source: str | None = None, since: date | None = None,
                limit_per_source: int | None = None) -> list[dict[str, Any]]:
    """The entries as stored, per source newest night first, then by file and line; with limit_per_source,
    only the first that many of each source (a bad night may have set aside a whole feed)."""
    q = quarantine.c
    # A whole file first, then its header, then its lines in number order (digits: shorter is smaller).
    place = case((q.item == "file", 0), (q.item == "header", 1), else_=2)
    order = (q.detected_at.desc(), q.location, place, func.length(q.item), q.item, q.id)
    query = select(*(getattr(q, name) for name in COLUMNS))
    query = _filtered(query, source, since)
    if limit_per_source is not None:
        rank = func.row_number().over(partition_by=q.source, order_by=order).label("rank")
        ranked = _filtered(select(q.id, rank), source, since).subquery()
        query = query.join(ranked, ranked.c.id == q.id).where(ranked.c.rank <= limit_per_source)
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query.order_by(q.source, *order))]
    for row in rows:
        row["detected_at"] = as_utc(row["detected_at"])
    return rows


def reason_counts(engine: Engine, source: str | None = None, since: date | None = None) -> dict[tuple[str, str], int]:
    """How many entries of each (source, reason code), over all of them (not only those listed)."""
    q = quarantine.c
    query = _filtered(select(q.source, q.reason_code, func.count()).group_by(q.source, q.reason_code), source, since)
    with engine.connect() as conn:
        return {(s, code): n for s, code, n in conn.execute(query)}


def _filtered(query: Any, source: str | None, since: date | None) -> Any:
    q = quarantine.c
    if source is not None:
        query = query.where(q.source == source)
    if since is not None:
        # In UTC: SQLite keeps the timestamps without their offset, as UTC (store.now()).
        query = query.where(q.detected_at >= day_start_jst(since).astimezone(timezone.utc))
    return query
