"""The alert step after every run: check the rules, record changes, deliver what is queued."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from jisseki.alerts.deliver import channel, deliver
from jisseki.alerts.rules import Checked, NightRun, check, lock_check, night_missed, to_state
from jisseki.catalog import Catalog
from jisseki.city_calendar import CityCalendar
from jisseki.config import Config
from jisseki.deployment import schedule
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
    return _announce(engine, config, checked, run_id, None)


def process_lock_alert(engine: Any, config: Config, refusal: str | None, as_of: date, run_id: str) -> AlertSummary:
    """The lock condition (refusal: why this run gave up on the lock; None: it got it). Only this run's messages
    go out here: the run that holds the lock may be delivering the rest of the queue at this moment."""
    return _announce(engine, config, lock_check(refusal, as_of, run_id), run_id, run_id)


def _announce(engine: Any, config: Config, checked: Checked, run_id: str, only_of: str | None) -> AlertSummary:
    channels = {c.id: c for c in (channel(url) for url in config.alerts.channel_urls())}
    changes = store.reconcile(engine, checked, list(channels), run_id)
    sent, failed = deliver(store.pending(engine, channels, only_of), channels, lambda i, e: store.mark(engine, i, e))
    return AlertSummary(raised=[c.key for c in changes if c.change == "firing"],
                        resolved=[c.key for c in changes if c.change == "resolved"], sent=sent, failed=failed,
                        pending=len(store.pending(engine, channels, only_of)))


WATCHDOG_RUN = "watchdog"   # the flow_run_id of what the watchdog queues: it has no flow run


@dataclass(frozen=True)
class WatchSummary:
    missed: list[str]      # the alert keys of nights that did not run, firing now
    sent: int
    failed: int


def process_watchdog(engine: Any, config: Config, now: datetime | None = None) -> WatchSummary:
    """`jisseki watchdog`: the night that did not happen, told through the alert channels once (and resolved
    by the next night that runs). It needs no Prefect: only the warehouse, the schedule and the channels."""
    now = now or datetime.now(timezone.utc)
    last, running = (_night(row) for row in last_nights(engine))
    cron, zone = schedule(config)
    checked = night_missed(now, cron, zone, config.watchdog.deadline, last, running)
    # Only its own messages go out: a nightly run may be delivering its own at this moment.
    summary = _announce(engine, config, checked, WATCHDOG_RUN, WATCHDOG_RUN)
    return WatchSummary([a.key for a in checked.active], summary.sent, summary.failed)


def _night(row: dict[str, Any] | None) -> NightRun | None:
    if row is None:
        return None
    return NightRun(row["started_at"], row["finished_at"], row["host"], row["pid"], row["as_of"])
