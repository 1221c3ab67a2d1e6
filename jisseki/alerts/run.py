"""The alert step after every run: check the rules, record changes, deliver what is queued."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from jisseki.alerts.deliver import channel, deliver
from jisseki.alerts.rules import check, to_state
from jisseki.catalog import Catalog
from jisseki.city_calendar import CityCalendar
from jisseki.config import Config
from jisseki.evaluate import Verdict
from warehouse import alerts as store
from warehouse.store import current_figures, ingest_states, source_runs


@dataclass(frozen=True)
class AlertSummary:
    raised: list[str]
    resolved: list[str]
    sent: int
    failed: int
    pending: int


def process_alerts(engine: Any, config: Config, catalog: Catalog, verdicts: list[Verdict], as_of: date,
                   run_id: str, now: datetime | None = None) -> AlertSummary:
    now = now or datetime.now(timezone.utc)
    outcomes = {r["source"]: (r["status"], r["message"]) for r in source_runs(engine, run_id)}
    states = {name: to_state(row) for name, row in ingest_states(engine).items()}
    checked = check(verdicts, current_figures(engine), catalog, as_of, now, run_id, outcomes, states,
                    config.freshness(), CityCalendar(config.calendar.closed_days))
    channels = {c.id: c for c in (channel(url) for url in config.alerts.channel_urls())}
    changes = store.reconcile(engine, checked, list(channels), run_id)
    sent, failed = deliver(store.pending(engine, channels), channels, lambda i, e: store.mark(engine, i, e))
    return AlertSummary(raised=[c.key for c in changes if c.change == "firing"],
                        resolved=[c.key for c in changes if c.change == "resolved"], sent=sent, failed=failed,
                        pending=len(store.pending(engine, channels)))
