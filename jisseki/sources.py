"""The registry: one `Source` per source, and every list of sources made from it (the config's
`[sources.*]` sections, the catalog's allowed sources, the Japanese names, the late-data rules through each
config model's freshness()). A new source is one entry here, its suites in expectations/, its catalog rows."""
from __future__ import annotations

import tomllib
from dataclasses import replace
from importlib import resources

from connectors.dataviz_access import read_dataviz_access, read_master
from connectors.manual_entries import read_manual_entries
from connectors.speech_usage import read_speech_usage
from jisseki.batch import Source
from jisseki.declared.source import declared_source
from jisseki.declared.spec import DECLARED_TYPES, MeasureSpec
from jisseki.measures.dataviz import DatavizShare
from jisseki.measures.manual import ManualEntries
from jisseki.measures.speech import SpeechHours
from jisseki.moveout.bulk import collect_moveout
from jisseki.source_config import (
    DailyLogSourceConfig,
    DatavizSourceConfig,
    ManualSourceConfig,
    MoveoutSourceConfig,
)


def shipped(name: str) -> Source:
    """A source whose definition is a declaration shipped with jisseki (jisseki/declarations/<name>.toml)."""
    raw = tomllib.loads(resources.files("jisseki.declarations").joinpath(f"{name}.toml").read_text("utf-8"))
    measures = {kpi: MeasureSpec.model_validate(m) for kpi, m in raw.pop("measures", {}).items()}
    return replace(declared_source(name, DECLARED_TYPES[raw["type"]], raw["title"]), declaration=raw,
                   measures=measures)


# What people call the sources: the contracts' names (../shared/contracts/sources.md).
SOURCE_DEFS: dict[str, Source] = {
    s.name: s for s in (
        shipped("online_procedures"),
        # Read only where new or changed, columnar where regular (jisseki/moveout/bulk.py).
        Source("moveout_log", "転出届 受付ログ", MoveoutSourceConfig, bulk=collect_moveout),
        Source("speech_usage", "AI音声認識端末 利用ログ", DailyLogSourceConfig,
               lambda ctx, lin: read_speech_usage(ctx.cfg.path, lin), lambda ctx: SpeechHours(ctx.as_of)),
        shipped("nocode_apps"),
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
