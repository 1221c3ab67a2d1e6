"""Alert state and outbox: one row per change of state and channel, kept until the channel has taken the
digest that carried it."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update

from jisseki.alerts.rules import Alert, Checked, resolved_message
from jisseki.core.periods import now_utc
from warehouse.schema import alert_outbox, alert_state


@dataclass(frozen=True)
class Change:
    key: str
    scope: str         # what was checked (kpi:<id>, run:<source>, …): whose change it is
    change: str        # firing | resolved
    severity: str
    title: str
    body: str


def reconcile(engine: Engine, checked: Checked, channels: Sequence[str], run_id: str,
              stamp: datetime | None = None, routed: Callable[[str], Sequence[str]] = lambda scope: ()
              ) -> list[Change]:
    """Records what changed since the last run and queues one row per change and channel (the digest of each
    channel is built from its rows when it is delivered): every change for each of `channels`, and a change
    also for the channels `routed` gives for its scope (a department's own)."""
    stamp = stamp or now_utc()
    active = {a.key: a for a in checked.active}
    with engine.begin() as conn:
        known = {r.alert_key: r for r in conn.execute(select(alert_state))}
        found = [_fire(conn, a, known.get(a.key), run_id, stamp) for a in active.values()]
        found += [_resolve(conn, row, run_id, stamp) for key, row in known.items()
                  if key not in active and row.status == "firing" and row.scope in checked.scopes]
        changes = [c for c in found if c is not None]
        rows = [dict(alert_key=c.key, change=c.change, channel=channel, severity=c.severity, title=c.title,
                     body=c.body, flow_run_id=run_id, created_at=stamp, attempts=0)
                for c in changes for channel in dict.fromkeys([*channels, *routed(c.scope)])]
        if rows:
            conn.execute(insert(alert_outbox), rows)
    return changes


def _fire(conn: Any, alert: Alert, row: Any, run_id: str, stamp: datetime) -> Change | None:
    if row is not None and row.status == "firing":
        return None
    values = dict(scope=alert.scope, subject=alert.subject, status="firing", title=alert.title, body=alert.body,
                  flow_run_id=run_id, changed_at=stamp)
    if row is None:
        conn.execute(insert(alert_state).values(alert_key=alert.key, **values))
    else:
        conn.execute(update(alert_state).where(alert_state.c.alert_key == alert.key).values(**values))
    return Change(alert.key, alert.scope, "firing", alert.severity, alert.title, alert.body)


def _resolve(conn: Any, row: Any, run_id: str, stamp: datetime) -> Change:
    conn.execute(update(alert_state).where(alert_state.c.alert_key == row.alert_key)
                 .values(status="resolved", flow_run_id=run_id, changed_at=stamp))
    title, body = resolved_message(row.title, row.body)
    return Change(row.alert_key, row.scope, "resolved", "success", title, body)


def pending(engine: Engine, channels: Iterable[str], run_id: str | None = None) -> list[dict[str, Any]]:
    """What waits for delivery; with run_id only what that run queued."""
    o = alert_outbox.c
    query = select(alert_outbox).where(o.delivered_at.is_(None), o.channel.in_(list(channels)))
    if run_id is not None:
        query = query.where(o.flow_run_id == run_id)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query.order_by(o.id))]


def mark(engine: Engine, outbox_ids: Sequence[int], error: str | None) -> None:
    """One attempt at the rows a digest carried: all delivered (error None) or all still waiting."""
    o = alert_outbox.c
    values: dict[str, Any] = {"attempts": o.attempts + 1, "last_error": error}
    if error is None:
        values["delivered_at"] = now_utc()
    with engine.begin() as conn:
        conn.execute(update(alert_outbox).where(o.id.in_(list(outbox_ids))).values(**values))

