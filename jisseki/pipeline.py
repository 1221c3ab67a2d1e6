"""One source, from connector to a batch ready to land: read, validate, quarantine, measure."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

from expectations.runner import take_notes
from jisseki.batch import CHUNK_ROWS, Batch, Incremental, Progress, RunContext, Source, chunks, valid_records
from jisseki.catalog import Catalog
from jisseki.core.records import Bad, Record
from jisseki.declared.spec import MeasureSpec


def collect(source: Source, cfg: Any, catalog: Catalog, as_of: date, max_bad_ratio: float,
            gx_root: Path | None = None, run_name: str | None = None,
            progress: Callable[[Progress], None] | None = None, incremental: Incremental | None = None) -> Batch:
    """Raises SourceError when the source cannot be read; returns a rejected batch when it was
    read but is not fit to land. gx_root keeps validation results for Data Docs."""
    ctx = RunContext(source, cfg, catalog.kinds(source.name), as_of, max_bad_ratio, gx_root, run_name, progress,
                     incremental, measures(source, catalog))
    batch = source.bulk(ctx) if source.bulk is not None else _collect(ctx)
    # A GX folder rebuilt while this source validated (sources share it: the note goes to the first that ends).
    batch.notes.extend(take_notes())
    return batch


def measures(source: Source, catalog: Catalog) -> dict[str, MeasureSpec]:
    """What each of the source's indicators counts: as the catalog declares, else as the source's shipped
    declaration does."""
    declared = catalog.measures(source.name)
    return {kpi: m for kpi in catalog.kpis(source.name) if (m := declared.get(kpi) or source.measures.get(kpi))}


def _collect(ctx: RunContext) -> Batch:
    source = ctx.source
    assert source.read is not None and source.measure is not None   # Source checks it has one way or the other
    batch = ctx.batch()
    measure = source.measure(ctx)
    report = _reporter(batch, ctx.progress)
    for records in chunks(_records(source.read(ctx, batch.lineage), batch, report), CHUNK_ROWS):
        for record in valid_records(source.records_suite, records, batch.bad, ctx.gx_root, ctx.run_name):
            measure.add(record)
    batch.figures = measure.figures()
    batch.max_event_date = measure.max_event_date()
    batch.rejected = ctx.rejection(batch)
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
