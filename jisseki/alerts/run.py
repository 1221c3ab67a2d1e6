"""The alert step after every run: check the rules, record changes, deliver what is queued."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from jisseki.alerts.deliver import channel, deliver
from jisseki.alerts.rules import WATCHDOG_KEY, NightRun, check, night_missed, to_state
from jisseki.catalog import Catalog
from jisseki.city_calendar import CityCalendar
from jisseki.config import Config
from jisseki.evaluate import Verdict
from warehouse import alerts as store
from warehouse.store import current_figures, ingest_states, last_nights, source_runs


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


@dataclass(frozen=True)
class WatchSummary:
    missed: list[str]      # the alert keys of nights that did not run, firing now
    sent: int
    failed: int


def process_watchdog(engine: Any, config: Config, now: datetime | None = None) -> WatchSummary:
    """`jisseki watchdog`: the night that did not happen, told through the alert channels once (and resolved
    by the next night that runs). It needs no Prefect: only the warehouse and the channels."""
    now = now or datetime.now(timezone.utc)
    last, running = (_night(row) for row in last_nights(engine))
    checked = night_missed(now, config.schedule.cron, config.schedule.timezone, config.watchdog.deadline, last,
                           running)
    channels = {c.id: c for c in (channel(url) for url in config.alerts.channel_urls())}
    store.reconcile(engine, checked, list(channels), "watchdog")
    # Only its own messages: a nightly run may be delivering its own at this moment.
    own = [m for m in store.pending(engine, channels) if m["alert_key"].startswith(f"{WATCHDOG_KEY}:")]
    sent, failed = deliver(own, channels, lambda i, e: store.mark(engine, i, e))
    return WatchSummary([a.key for a in checked.active], sent, failed)


def _night(row: dict[str, Any] | None) -> NightRun | None:
    if row is None:
        return None
    return NightRun(row["started_at"], row["finished_at"], row["host"], row["pid"], row["as_of"])
