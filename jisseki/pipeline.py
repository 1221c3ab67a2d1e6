"""One source, from connector to a batch ready to land: read, validate, quarantine, measure."""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from itertools import islice
from pathlib import Path
from typing import Any

from connectors.records import Bad, FileInfo, Lineage, Record
from expectations.runner import validate
from jisseki.catalog import Catalog
from jisseki.model import Figure
from jisseki.sources import SourceDef

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


def collect(source: SourceDef, cfg: Any, catalog: Catalog, as_of: date, max_bad_ratio: float,
            gx_root: Path | None = None, run_name: str | None = None,
            progress: Callable[[Progress], None] | None = None, incremental: Incremental | None = None) -> Batch:
    """Raises SourceError when the source cannot be read; returns a rejected batch when it was
    read but is not fit to land. gx_root keeps validation results for Data Docs."""
    if source.collect is not None:
        return source.collect(source, cfg, catalog, as_of, max_bad_ratio, gx_root, run_name, progress, incremental)
    batch = Batch(source.name, source.kpis(catalog), as_of, Lineage())
    measure = source.measure(as_of, cfg)
    report = _reporter(batch, progress)
    for records in _chunks(_records(source.read(cfg, batch.lineage, catalog), batch, report), CHUNK_ROWS):
        for record in _valid(source.records_suite, records, batch.bad, gx_root, run_name):
            measure.add(record)
    batch.figures = measure.figures()
    batch.max_event_date = measure.max_event_date()
    batch.rejected = _rejection(source, batch, max_bad_ratio, gx_root, run_name,
                                incremental.landed if incremental else None)
    report(True)
    return batch


def _reporter(batch: Batch, sink: Callable[[Progress], None] | None) -> Callable[[bool], None]:
    """Reports when another file or page has been read, and at the end."""
    seen = [-1]

    def report(finished: bool) -> None:
        lineage = batch.lineage
        done = lineage.units_read()
        if sink is None or (done == seen[0] and not finished):
            return
        seen[0] = done
        sink(Progress(batch.source, "ページ" if lineage.pages_read else "ファイル", done, lineage.units_total,
                      batch.rows_read, batch.bad_rows, finished))

    return report


def _records(items: Iterable[Record | Bad], batch: Batch, report: Callable[[bool], None]) -> Iterator[Record]:
    """Counts what is read and sets aside what could not even be parsed."""
    for item in items:
        if isinstance(item, Bad):
            batch.rows_read += item.rows
            batch.bad.append(item)
        else:
            batch.rows_read += 1
            yield item
        report(False)


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _valid(suite: str, records: list[Record], bad: list[Bad], gx_root: Path | None,
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


def _rejection(source: SourceDef, batch: Batch, max_bad_ratio: float, gx_root: Path | None,
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
