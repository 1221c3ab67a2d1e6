"""Which connector, measure and suites make up each source named in the config."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from connectors.http import HttpClient
from connectors.moveout_log import read_moveout_log
from connectors.online_procedures import read_online_procedures
from connectors.records import Bad, Lineage, Record
from connectors.speech_usage import read_speech_usage
from connectors.errors import SourceConfigError
from jisseki.config import ApiSourceConfig, SourceConfig
from jisseki.measures.moveout import MoveoutShare
from jisseki.measures.procedures import OnlineProcedures
from jisseki.measures.speech import SpeechHours
from jisseki.model import Figure


class Measure(Protocol):
    def add(self, record: Record) -> None: ...
    def figures(self) -> list[Figure]: ...
    def max_event_date(self) -> date | None: ...


Reader = Callable[[Any, Lineage], Iterator[Record | Bad]]


@dataclass(frozen=True)
class SourceDef:
    name: str
    kpis: tuple[str, ...]
    read: Reader
    measure: Callable[[date], Measure]

    @property
    def records_suite(self) -> str:
        return f"{self.name}.records"

    @property
    def figures_suite(self) -> str:
        return f"{self.name}.figures"


def http_client(cfg: ApiSourceConfig, auth: Callable[[str], dict[str, str]]) -> HttpClient:
    if cfg.token is None:
        raise SourceConfigError(f"環境変数 {cfg.token_env} にトークンが設定されていません")
    return HttpClient(
        base_url=cfg.base_url, headers=auth(cfg.token.get_secret_value()), verify_tls=cfg.verify_tls,
        connect_timeout=cfg.connect_timeout, read_timeout=cfg.read_timeout, total_timeout=cfg.total_timeout,
        max_retries=cfg.max_retries, backoff_seconds=cfg.backoff_seconds, max_retry_after=cfg.max_retry_after,
    )


def _procedures(cfg: SourceConfig, lineage: Lineage) -> Iterator[Record | Bad]:
    assert isinstance(cfg, ApiSourceConfig)
    client = http_client(cfg, lambda token: {"Authorization": f"Bearer {token}"})
    return read_online_procedures(client, lineage, per_page=cfg.page_size)


SOURCE_DEFS: dict[str, SourceDef] = {
    d.name: d for d in (
        SourceDef("online_procedures", ("online_procedures",), _procedures, OnlineProcedures),
        SourceDef("moveout_log", ("myna_moveout_share",), lambda cfg, lin: read_moveout_log(cfg.path, lin), MoveoutShare),
        SourceDef("speech_usage", ("speech_hours_monthly",), lambda cfg, lin: read_speech_usage(cfg.path, lin), SpeechHours),
    )
}
