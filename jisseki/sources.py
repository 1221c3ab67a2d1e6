"""Which connector, measure and suites make up each source named in the config: one way for all six."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from connectors.dataviz_access import read_dataviz_access, read_master
from connectors.errors import SourceConfigError
from connectors.http import HttpClient
from connectors.manual_entries import read_manual_entries
from connectors.moveout_log import read_moveout_log
from connectors.nocode_apps import read_nocode_apps
from connectors.online_procedures import read_online_procedures
from connectors.records import Bad, Lineage, Record
from connectors.speech_usage import read_speech_usage
from jisseki import stopping
from jisseki.catalog import Catalog
from jisseki.config import ApiSourceConfig, MoveoutSourceConfig
from jisseki.imports import heavy
from jisseki.measures.dataviz import DatavizShare
from jisseki.measures.manual import ManualEntries
from jisseki.measures.nocode import NocodeOperations
from jisseki.measures.procedures import OnlineProcedures
from jisseki.measures.speech import SpeechHours
from jisseki.model import Figure


class Measure(Protocol):
    def add(self, record: Record) -> None: ...
    def figures(self) -> list[Figure]: ...
    def max_event_date(self) -> date | None: ...


@dataclass(frozen=True)
class SourceDef:
    name: str
    read: Callable[[Any, Lineage, Catalog], Iterator[Record | Bad]]
    measure: Callable[[date, Any], Measure] | None
    # Rows of a machine export fail together when the feed breaks: many bad rows reject the batch.
    # Rows of the manual workbook are separate people's entries: one typo must not hold back the rest.
    default_max_bad_ratio: float | None = None
    # A source with its own way from files to a batch (pipeline.collect's signature), instead of
    # read → validate → measure record by record.
    collect: Callable[..., Any] | None = None

    @property
    def records_suite(self) -> str:
        return f"{self.name}.records"

    @property
    def figures_suite(self) -> str:
        return f"{self.name}.figures"

    def kpis(self, catalog: Catalog) -> tuple[str, ...]:
        return tuple(i.id for i in catalog.indicators if i.source == self.name)


def token(cfg: ApiSourceConfig) -> str:
    """From the environment (resolved when the config was read) or a Prefect Secret block."""
    if cfg.token_secret:
        return _secret_block(cfg.token_secret)
    if cfg.token is None:
        raise SourceConfigError(f"環境変数 {cfg.token_env} にトークンが設定されていません",
                                "その環境変数を設定してから実行し直してください（トークンは設定ファイルに書きません）")
    return cfg.token.get_secret_value()


def fingerprint_key(cfg: MoveoutSourceConfig) -> str | None:
    """The key of the notification index's fingerprints, or None (then nothing is kept between runs)."""
    if cfg.fingerprint_key_secret:
        return _secret_block(cfg.fingerprint_key_secret)
    if cfg.fingerprint_key_env and cfg.fingerprint_key is None:
        raise SourceConfigError(f"環境変数 {cfg.fingerprint_key_env} に指紋の鍵が設定されていません")
    return cfg.fingerprint_key.get_secret_value() if cfg.fingerprint_key else None


def _secret_block(name: str) -> str:
    secret = heavy("prefect.blocks.system").Secret
    try:
        return str(secret.load(name).get())
    except (ValueError, RuntimeError) as exc:
        raise SourceConfigError(f"Prefect Secret ブロック {name!r} を読めません ({type(exc).__name__})",
                                "その名前の Secret ブロックがあるか、PREFECT_API_URL が正しいかを"
                                "確認してください") from None


def _collect_moveout(*args: Any) -> Any:
    # Imported on use: DuckDB loads only for the source that needs it.
    from jisseki.moveout_bulk import collect_moveout

    return collect_moveout(*args)


def http_client(cfg: ApiSourceConfig, auth: Callable[[str], dict[str, str]]) -> HttpClient:
    return HttpClient(
        base_url=cfg.base_url, headers=auth(token(cfg)), verify_tls=cfg.verify_tls,
        connect_timeout=cfg.connect_timeout, read_timeout=cfg.read_timeout, total_timeout=cfg.total_timeout,
        max_retries=cfg.max_retries, backoff_seconds=cfg.backoff_seconds, max_retry_after=cfg.max_retry_after,
        cancel=stopping.current(),   # the run giving up on the source ends a request in flight
    )


def _procedures(cfg: ApiSourceConfig, lineage: Lineage, _catalog: Catalog) -> Iterator[Record | Bad]:
    client = http_client(cfg, lambda token: {"Authorization": f"Bearer {token}"})
    return read_online_procedures(client, lineage, per_page=cfg.page_size)


def _nocode(cfg: ApiSourceConfig, lineage: Lineage, _catalog: Catalog) -> Iterator[Record | Bad]:
    client = http_client(cfg, lambda token: {"X-Api-Token": token})
    return read_nocode_apps(client, lineage, limit=cfg.page_size)


def _manual(cfg: Any, lineage: Lineage, catalog: Catalog) -> Iterator[Record | Bad]:
    kinds = {i.id: i.kind for i in catalog.indicators if i.source == "manual_entries"}
    return read_manual_entries(cfg.path, lineage, kinds)


SOURCE_DEFS: dict[str, SourceDef] = {
    d.name: d for d in (
        SourceDef("online_procedures", _procedures, lambda as_of, cfg: OnlineProcedures(as_of)),
        SourceDef("moveout_log", lambda cfg, lin, cat: read_moveout_log(cfg.path, lin), None,
                  collect=_collect_moveout),
        SourceDef("speech_usage", lambda cfg, lin, cat: read_speech_usage(cfg.path, lin),
                  lambda as_of, cfg: SpeechHours(as_of)),
        SourceDef("nocode_apps", _nocode, lambda as_of, cfg: NocodeOperations(as_of)),
        SourceDef("dataviz_access", lambda cfg, lin, cat: read_dataviz_access(cfg.path, cfg.departments, lin),
                  lambda as_of, cfg: DatavizShare(as_of, read_master(cfg.departments)[0])),
        SourceDef("manual_entries", _manual, lambda as_of, cfg: ManualEntries(as_of), default_max_bad_ratio=1.0),
    )
}
