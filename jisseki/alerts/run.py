"""The alert step after every run: check the rules, record changes, deliver one digest per channel."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from connectors.http import origin
from jisseki.alerts import digest, store
from jisseki.alerts.deliver import Channel, channel, deliver
from jisseki.alerts.rules import (
    API_CHECK,
    DATABASE_CHECK,
    FOLDER_CHECK,
    WATCHDOG_RUN,
    Checked,
    NightRun,
    Place,
    check,
    departments_of,
    lock_check,
    night_missed,
    to_state,
)
from jisseki.catalog import Catalog
from jisseki.city_calendar import CityCalendar
from jisseki.config import Config
from jisseki.core.periods import now_utc
from jisseki.declared.spec import Files, RestSource, SqlSource
from jisseki.deployment import schedule
from jisseki.evaluate import Verdict
from jisseki.source_config import FolderSourceConfig
from warehouse.store import current_figures, ingest_states, last_nights, published_grades, source_runs


@dataclass(frozen=True)
class AlertSummary:
    raised: list[str]
    resolved: list[str]
    sent: int        # digests
    failed: int      # digests a channel did not take
    pending: int     # outbox rows still waiting


def process_alerts(engine: Any, config: Config, catalog: Catalog, verdicts: list[Verdict], as_of: date,
                   run_id: str, now: datetime | None = None) -> AlertSummary:
    now = now or now_utc()
    config.alerts.check_routes(catalog.departments())
    outcomes = {r["source"]: (r["status"], r["message"]) for r in source_runs(engine, run_id)}
    states = {name: to_state(row) for name, row in ingest_states(engine).items()}
    checked = check(verdicts, current_figures(engine), catalog, as_of, now, outcomes, states,
                    config.freshness(), CityCalendar(config.calendar.closed_days), source_places(config),
                    published_grades(engine))
    return _announce(engine, config, checked, run_id, None, as_of, routes(config, catalog))


def routes(config: Config, catalog: Catalog) -> Callable[[str], Sequence[str]]:
    """A checked scope → the channels of the departments it belongs to ([alerts.routes]), besides the city-wide
    ones that take everything."""
    by_department = {dept: [channel(url).id for url in urls] for dept, urls in config.alerts.route_urls().items()}
    return lambda scope: [cid for dept in departments_of(scope, catalog) for cid in by_department.get(dept, [])]


def source_places(config: Config) -> dict[str, Place]:
    """Where each configured source reads from, safe to mail: a folder's path, an API's scheme, host and port
    (never its user, password, path or query)."""
    places = {}
    for name in config.enabled_sources():
        source, label = config.source(name), config.source_def(name).label
        if isinstance(source, (FolderSourceConfig, Files)):
            places[name] = Place(f"フォルダ {source.path}", FOLDER_CHECK, label)
        elif isinstance(source, RestSource):
            places[name] = Place(f"API {origin(urlsplit(source.base_url))}", API_CHECK, label)
        elif isinstance(source, SqlSource):
            # The URL is the secret: the place is named by where it is kept.
            kept = f"環境変数 {source.url_env}" if source.url_env else f"Prefect Secret {source.url_secret}"
            places[name] = Place(f"データベース（接続先は {kept}）", DATABASE_CHECK, label)
    return places


def process_lock_alert(engine: Any, config: Config, refusal: str | None, as_of: date, run_id: str) -> AlertSummary:
    """The lock condition (refusal: why this run gave up on the lock; None: it got it). A run that gave up sends
    its own digest now, and only its own rows: the run that holds the lock may be delivering the rest of the
    queue at this moment. A run that got the lock only records the change: its 「解消」 goes out in the digest
    at the end of the same run (one message a run), or in a later one if this run does not get that far."""
    checked = lock_check(refusal, as_of)
    if refusal is None:
        return _summary(store.reconcile(engine, checked, _city(config), run_id), 0, 0,
                        len(store.pending(engine, _channels(config), run_id)))
    return _announce(engine, config, checked, run_id, run_id, as_of)


def _channels(config: Config) -> dict[str, Channel]:
    """Every channel, city-wide and departments' (what waits for any of them is delivered by any run)."""
    routed = [url for urls in config.alerts.route_urls().values() for url in urls]
    return {c.id: c for c in (channel(url) for url in [*config.alerts.channel_urls(), *routed])}


def _city(config: Config) -> list[str]:
    """The city-wide channels' ids: every change goes to them."""
    return [channel(url).id for url in config.alerts.channel_urls()]


def _announce(engine: Any, config: Config, checked: Checked, run_id: str, only_of: str | None,
              as_of: date, routed: Callable[[str], Sequence[str]] = lambda scope: ()) -> AlertSummary:
    channels = _channels(config)
    changes = store.reconcile(engine, checked, _city(config), run_id, routed=routed)
    sent, failed = deliver(store.pending(engine, channels, only_of), channels,
                           lambda ids, error: store.mark(engine, ids, error),
                           lambda rows: digest.build(rows, as_of, config.alerts.ui_url))
    return _summary(changes, sent, failed, len(store.pending(engine, channels, only_of)))


def _summary(changes: list[store.Change], sent: int, failed: int, pending: int) -> AlertSummary:
    return AlertSummary(raised=[c.key for c in changes if c.change == "firing"],
                        resolved=[c.key for c in changes if c.change == "resolved"], sent=sent, failed=failed,
                        pending=pending)


@dataclass(frozen=True)
class WatchSummary:
    missed: list[str]      # the alert keys of nights that did not run, firing now
    sent: int
    failed: int


def process_watchdog(engine: Any, config: Config, now: datetime | None = None) -> WatchSummary:
    """`jisseki watchdog`: the night that did not happen, told through the alert channels once (and resolved
    by the next night that runs). It needs no Prefect: only the warehouse, the schedule and the channels."""
    now = now or now_utc()
    last, running = (_night(row) for row in last_nights(engine))
    cron, zone = schedule(config)
    checked = night_missed(now, cron, zone, config.watchdog.deadline, last, running)
    # Only its own messages go out: a nightly run may be delivering its own at this moment.
    summary = _announce(engine, config, checked, WATCHDOG_RUN, WATCHDOG_RUN, now.astimezone(ZoneInfo(zone)).date())
    return WatchSummary([a.key for a in checked.active], summary.sent, summary.failed)


def _night(row: dict[str, Any] | None) -> NightRun | None:
    if row is None:
        return None
    return NightRun(row["started_at"], row["finished_at"], row["host"], row["pid"], row["as_of"])
