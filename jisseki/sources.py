"""The registry: one `Source` per source, and every list of sources made from it (the config's
`[sources.*]` sections, the catalog's allowed sources, the Japanese names, the late-data rules through each
config model's freshness()). A new source is one entry here, its suites in expectations/, its catalog rows."""
from __future__ import annotations

from collections.abc import Callable, Iterator

from connectors.dataviz_access import read_dataviz_access, read_master
from connectors.http import HttpClient
from connectors.manual_entries import read_manual_entries
from connectors.nocode_apps import read_nocode_apps
from connectors.online_procedures import read_online_procedures
from connectors.speech_usage import read_speech_usage
from jisseki.batch import RunContext, Source
from jisseki.core import stopping
from jisseki.core.records import Bad, Lineage, Record
from jisseki.measures.dataviz import DatavizShare
from jisseki.measures.manual import ManualEntries
from jisseki.measures.nocode import NocodeOperations
from jisseki.measures.procedures import OnlineProcedures
from jisseki.measures.speech import SpeechHours
from jisseki.moveout.bulk import collect_moveout
from jisseki.secrets import token
from jisseki.source_config import (
    ApiSourceConfig,
    DailyLogSourceConfig,
    DatavizSourceConfig,
    ManualSourceConfig,
    MoveoutSourceConfig,
)


def http_client(cfg: ApiSourceConfig, auth: Callable[[str], dict[str, str]]) -> HttpClient:
    return HttpClient(
        base_url=cfg.base_url, headers=auth(token(cfg)), verify_tls=cfg.verify_tls,
        connect_timeout=cfg.connect_timeout, read_timeout=cfg.read_timeout, total_timeout=cfg.total_timeout,
        max_retries=cfg.max_retries, backoff_seconds=cfg.backoff_seconds, max_retry_after=cfg.max_retry_after,
        cancel=stopping.current(),   # the run giving up on the source ends a request in flight
    )


def _procedures(ctx: RunContext, lineage: Lineage) -> Iterator[Record | Bad]:
    client = http_client(ctx.cfg, lambda token: {"Authorization": f"Bearer {token}"})
    return read_online_procedures(client, lineage, per_page=ctx.cfg.page_size)


def _nocode(ctx: RunContext, lineage: Lineage) -> Iterator[Record | Bad]:
    client = http_client(ctx.cfg, lambda token: {"X-Api-Token": token})
    return read_nocode_apps(client, lineage, limit=ctx.cfg.page_size)


# What people call the sources: the contracts' names (../shared/contracts/sources.md).
SOURCE_DEFS: dict[str, Source] = {
    s.name: s for s in (
        Source("online_procedures", "行政オンラインシステム 手続カタログ", ApiSourceConfig, _procedures,
               lambda ctx: OnlineProcedures(ctx.as_of)),
        # Read only where new or changed, columnar where regular (jisseki/moveout/bulk.py).
        Source("moveout_log", "転出届 受付ログ", MoveoutSourceConfig, bulk=collect_moveout),
        Source("speech_usage", "AI音声認識端末 利用ログ", DailyLogSourceConfig,
               lambda ctx, lin: read_speech_usage(ctx.cfg.path, lin), lambda ctx: SpeechHours(ctx.as_of)),
        Source("nocode_apps", "ノーコードツール アプリ一覧", ApiSourceConfig, _nocode,
               lambda ctx: NocodeOperations(ctx.as_of)),
        Source("dataviz_access", "データ可視化環境 利用ログ", DatavizSourceConfig,
               lambda ctx, lin: read_dataviz_access(ctx.cfg.path, ctx.cfg.departments, lin),
               lambda ctx: DatavizShare(ctx.as_of, read_master(ctx.cfg.departments)[0])),
        Source("manual_entries", "実績入力シート", ManualSourceConfig,
               lambda ctx, lin: read_manual_entries(ctx.cfg.path, lin, ctx.indicators),
               lambda ctx: ManualEntries(ctx.as_of), default_max_bad_ratio=1.0),
    )
}
SOURCES = tuple(SOURCE_DEFS)
SOURCE_NAMES = {name: s.japanese for name, s in SOURCE_DEFS.items()}


def source_label(name: str) -> str:
    """The Japanese name with the name the config and `--source` use."""
    return SOURCE_DEFS[name].label if name in SOURCE_DEFS else name
