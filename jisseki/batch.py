"""What a source is made of and what its run makes: the definition (`Source`), the batch ready to land, and
the steps every way from input to a batch shares (validate records, decide a rejection).

Below the registry (jisseki/sources.py) and the pipeline (jisseki/pipeline.py): a source with its own way
from files to a batch (`BulkPath`, the moving-out log's) is built from these alone."""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from itertools import islice
from pathlib import Path
from typing import Any, Protocol

from expectations.runner import validate
from jisseki.core.model import Figure
from jisseki.core.records import Bad, FileInfo, Lineage, Record
from jisseki.declared.spec import MeasureSpec
from jisseki.source_config import SourceConfig

CHUNK_ROWS = 50_000


@dataclass
class Batch:
    source: str
    kpis: tuple[str, ...]
    as_of: date
    lineage: Lineage
    figures: list[Figure] = field(default_factory=list)
    bad: list[Bad] = field(default_factory=list)
    rows_read: int = 0
    max_event_date: date | None = None
    rejected: str | None = None  # why nothing of this source may land
    files_state: list[FileInfo] | None = None  # every current file, for incremental reading next time
    notes: list[str] = field(default_factory=list)  # what an operator should know of a landed source

    @property
    def bad_rows(self) -> int:
        return sum(b.rows for b in self.bad)

    @property
    def bad_ratio(self) -> float:
        return self.bad_rows / self.rows_read if self.rows_read else 0.0

    def reasons(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for b in self.bad:
            out[b.code] = out.get(b.code, 0) + b.rows
        return out


@dataclass(frozen=True)
class Incremental:
    """What a source that reads only new files needs: the files the warehouse has landed (by name)
    and a folder for its own derived state."""
    known: dict[str, FileInfo]
    state_dir: Path
    landed: dict[tuple[str, str, str], Figure] = field(default_factory=dict)  # the current figures


@dataclass(frozen=True)
class Progress:
    source: str
    unit: str            # ファイル or ページ
    done: int
    total: int | None    # None when the source does not say (an API without a total)
    rows: int
    quarantined: int
    finished: bool = False


class Measure(Protocol):
    def add(self, record: Record) -> None: ...
    def figures(self) -> list[Figure]: ...
    def max_event_date(self) -> date | None: ...


# A connector: given the run's context (config section, indicators, as-of date), it fills the lineage.
Reader = Callable[["RunContext", Lineage], Iterator[Record | Bad]]


@dataclass(frozen=True)
class RunContext:
    """Everything one source's run is given: its definition and config section, its indicators in the
    catalog, the as-of date, the bad-row ratio that rejects it, where GX keeps its results, the flow run's
    name, where progress goes, and what an incremental source knows of the last landing."""
    source: Source
    cfg: Any
    indicators: Mapping[str, str]   # the source's KPI ids in the catalog, each with its kind
    as_of: date
    max_bad_ratio: float
    gx_root: Path | None = None
    run_name: str | None = None
    progress: Callable[[Progress], None] | None = None
    incremental: Incremental | None = None
    # What the catalog declares the source's indicators count (a declared source's measures), by KPI id.
    measures: Mapping[str, MeasureSpec] = field(default_factory=dict)

    def batch(self) -> Batch:
        """An empty batch of this run."""
        return Batch(self.source.name, tuple(self.indicators), self.as_of, Lineage())

    def rejection(self, batch: Batch) -> str | None:
        return rejection(self.source, batch, self.max_bad_ratio, self.gx_root, self.run_name,
                         self.incremental.landed if self.incremental else None)


class BulkPath(Protocol):
    """A source's own way from its input to a batch, instead of read → validate → measure record by record:
    it is given the run's context and returns the batch, rejection decided (`RunContext.rejection`)."""
    def __call__(self, ctx: RunContext) -> Batch: ...


@dataclass(frozen=True)
class Source:
    """One source, everything about it in one place: every list of sources (the config's `[sources.*]`
    sections, the catalog's allowed sources, the late-data rules, the Japanese names) is made from these."""
    name: str                        # as the config, the catalog and `--source` write it
    japanese: str                    # what people call it: the contracts' name, in alerts, listings and the report
    config: type[SourceConfig]       # its `[sources.<name>]` section, whose freshness() says when it is late
    read: Reader | None = None
    measure: Callable[[RunContext], Measure] | None = None
    # Rows of a machine export fail together when the feed breaks: many bad rows reject the batch.
    # Rows of the manual workbook are separate people's entries: one typo must not hold back the rest.
    default_max_bad_ratio: float | None = None
    bulk: BulkPath | None = None
    # A source defined by a declaration shipped with jisseki (jisseki/declarations/<name>.toml): what the config's
    # section adds to (base_url and a token, say), and what its indicators count unless the catalog says.
    declaration: Mapping[str, Any] | None = None
    measures: Mapping[str, MeasureSpec] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.bulk is None) == (self.read is None or self.measure is None):
            raise ValueError(f"{self.name}: either a reader and a measure, or a bulk path")

    @property
    def records_suite(self) -> str:
        return f"{self.name}.records"

    @property
    def figures_suite(self) -> str:
        return f"{self.name}.figures"

    @property
    def label(self) -> str:
        """The Japanese name with the name the config and `--source` use."""
        return f"{self.japanese}（{self.name}）"


def chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def valid_records(suite: str, records: list[Record], bad: list[Bad], gx_root: Path | None,
           run_name: str | None) -> list[Record]:
    reasons: dict[int, list[Any]] = {}
    for failure in validate(suite, [r.fields for r in records], gx_root, run_name):
        reasons.setdefault(failure.index, []).append(failure)
    for index, failures in sorted(reasons.items()):
        record = records[index]
        bad.append(Bad(record.location, record.item, failures[0].code,
                       "; ".join(dict.fromkeys(f.reason for f in failures)),
                       value=" / ".join(dict.fromkeys(f.value for f in failures if f.value)),
                       content_hash=record.content_hash))
    return [r for i, r in enumerate(records) if i not in reasons]


def rejection(source: Source, batch: Batch, max_bad_ratio: float, gx_root: Path | None,
               run_name: str | None, landed: dict[tuple[str, str, str], Figure] | None = None) -> str | None:
    if landed and not batch.lineage.crawl and not batch.lineage.files:
        # A file source's figures follow its folder: an empty one (an unmounted share, a wrong path) would
        # withdraw every figure it has landed.
        return ("受信フォルダにファイルが 1 件もないため取り込みません（取り込み済みの集計値をすべて取り下げることに"
                "なります）。フォルダの場所やマウントを確認してください。意図して空にしたときは設定からこのソースを"
                "外してください")
    if batch.rows_read and batch.bad_ratio > max_bad_ratio:
        top = ", ".join(f"{code} {n}" for code, n in sorted(batch.reasons().items(), key=lambda kv: -kv[1])[:5])
        return (f"不正な行が {batch.bad_rows}/{batch.rows_read} 行 ({batch.bad_ratio:.1%}) あり、"
                f"上限 {max_bad_ratio:.1%} を超えたため取り込みません（内訳: {top}）")
    # Whatever a source read, infinity or NaN is not a figure: it would grade, print and chart as nonsense.
    broken = [f for f in batch.figures
              if not all(math.isfinite(v) for v in (f.value, f.numerator, f.denominator) if v is not None)]
    if broken:
        first = broken[0]
        return (f"有限の数でない集計値が {len(broken)} 件あるため取り込みません"
                f"（例: {first.kpi_id} {first.period} {first.scope}）")
    # A figure that equals a landed one in every validated column passed this suite when it landed.
    fresh = [f for f in batch.figures if not _validated_before(f, landed or {})]
    failures = validate(source.figures_suite, [_figure_row(f) for f in fresh], gx_root, run_name)
    if failures:
        first = fresh[failures[0].index]
        return (f"集計値の検証に {len(failures)} 件失敗したため取り込みません"
                f"（例: {first.kpi_id} {first.period} {first.scope}: {failures[0].reason}）")
    return None


def _validated_before(figure: Figure, landed: dict[tuple[str, str, str], Figure]) -> bool:
    old = landed.get(figure.key)
    return (old is not None and not figure.checks and (old.value, old.numerator, old.denominator)
            == (figure.value, figure.numerator, figure.denominator))


def _figure_row(figure: Figure) -> dict[str, Any]:
    return {"kpi_id": figure.kpi_id, "period": figure.period, "scope": figure.scope,
            "value": figure.value, "numerator": figure.numerator, "denominator": figure.denominator,
            **figure.checks}
