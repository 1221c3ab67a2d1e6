"""Landing figures with revisions, quarantine and ingest state, one transaction per source."""
from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, delete, event, func, insert, make_url, select, update
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError

from jisseki.core.model import CITY, Figure
from jisseki.core.normalize import UNSTORABLE
from jisseki.core.periods import now_utc
from jisseki.core.records import FileInfo
from warehouse import migrations
from warehouse.errors import WarehouseError
from warehouse.lock import Abandoned, Gate, holds
from warehouse.schema import (
    ingest_file,
    ingest_state,
    kpi_actual,
    kpi_commentary,
    kpi_evaluation,
    lineage,
    night_run,
    published_grade,
    quarantine,
    source_run,
)

MISSING_SHOWN = 5   # file names a note lists; the rest are counted


@dataclass(frozen=True)
class LandResult:
    status: str              # landed | rejected
    revisions_added: int


def connect(url: str, create: bool = True) -> Engine:
    """An engine on a warehouse brought to the schema of this code (warehouse/migrations). With
    create=False (the read commands) a warehouse that does not exist is an error, and none is made."""
    return _open(url, create)[0]


def upgrade(url: str) -> migrations.Upgrade:
    """`jisseki upgrade`: what the schema was and is now."""
    engine, result = _open(url, create=True)
    engine.dispose()
    return result


def _open(url: str, create: bool) -> tuple[Engine, migrations.Upgrade]:
    shown = make_url(url).render_as_string(hide_password=True) if "://" in url else "(invalid URL)"
    # hide_parameters: a database error's text (which reaches logs and source_run) never carries row values.
    try:
        if url.startswith("sqlite"):
            if not create and not _sqlite_file_exists(url):
                raise WarehouseError(f"倉庫がありません: {shown}。先に jisseki run を実行してください")
            engine = create_engine(url, connect_args={"timeout": 60}, hide_parameters=True)
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_pre_ping=True, hide_parameters=True)
    except ArgumentError:
        raise WarehouseError(f"倉庫に接続できません: {shown} (ArgumentError)") from None
    try:
        return engine, migrations.upgrade(engine, create)
    except OperationalError as exc:
        engine.dispose()
        raise WarehouseError(f"倉庫に接続できません: {shown} ({type(exc.orig).__name__})",
                             "[warehouse] url（または JISSEKI_WAREHOUSE_URL）と、データベースが"
                             "動いているかを確認してください") from None
    except WarehouseError:
        engine.dispose()
        raise


def _sqlite_file_exists(url: str) -> bool:
    """Checked before connecting: sqlite3 creates a missing file on connect."""
    database = make_url(url).database
    return bool(database and database != ":memory:" and Path(database).is_file())


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.close()


def land(engine: Engine, batch: Any, run_id: str, gate: Gate | None = None) -> LandResult:
    """Everything of one source in one transaction: lineage, quarantine, figures, state, run log. With a gate,
    the commit passes it (Abandoned once the run gave up on the source) and checks that the run still holds
    the warehouse lock (Abandoned when not), so nothing lands after the run let go of the source or the lock."""
    stamp = now_utc()
    with engine.connect() as conn:
        transaction = conn.begin()
        lineage_id = batch.lineage.lineage_id()
        if conn.execute(select(lineage.c.lineage_id).where(lineage.c.lineage_id == lineage_id)).first() is None:
            conn.execute(insert(lineage).values(
                lineage_id=lineage_id, source=batch.source, flow_run_id=run_id, created_at=stamp,
                detail=_json_text(batch.lineage.detail())))
        _quarantine(conn, batch, run_id, stamp)
        added = 0
        if batch.rejected is None:
            added = _revise(conn, batch, batch.lineage.summary(), run_id, stamp)
            _record_commentary(conn, batch, run_id, stamp)
            _advance_state(conn, batch, lineage_id, run_id, stamp)
            if batch.files_state is not None:
                _record_files(conn, batch.source, batch.files_state, run_id, stamp)
        status = "landed" if batch.rejected is None else "rejected"
        message = batch.rejected or "; ".join(batch.notes)   # the counts have columns of their own
        conn.execute(insert(source_run).values(
            flow_run_id=run_id, source=batch.source, status=status, as_of=batch.as_of,
            rows_read=batch.rows_read, rows_quarantined=batch.bad_rows, figures=len(batch.figures),
            revisions_added=added, message=clean_text(message), finished_at=stamp))
        _commit(conn, transaction, gate)   # leaving the block without it rolls everything back
    return LandResult(status, added)


def _commit(conn: Any, transaction: Any, gate: Gate | None) -> None:
    if gate is None:
        transaction.commit()
        return
    with gate.passing():
        if gate.owner is not None and not holds(conn, gate.owner):
            raise Abandoned("倉庫のロックがこの実行のものではなくなったため、取り込みませんでした")
        transaction.commit()


def record_failure(engine: Engine, source: str, as_of: date, message: str, run_id: str,
                   gate: Gate | None = None) -> bool:
    """The source's failed run, unless the run already gave up on it (gate closed: then whoever closed it
    records why, and this returns False)."""
    with engine.connect() as conn:
        transaction = conn.begin()
        conn.execute(insert(source_run).values(
            flow_run_id=run_id, source=source, status="failed", as_of=as_of, rows_read=0,
            rows_quarantined=0, figures=0, revisions_added=0, message=clean_text(message), finished_at=now_utc()))
        try:
            if gate is None:
                transaction.commit()
            else:
                with gate.passing():
                    transaction.commit()
        except Abandoned:
            return False
    return True


def clean_text(value: str) -> str:
    """Text as every database can store it, still saying what it was: NUL as \\x00, a surrogate-escaped
    byte as \\xNN of that byte, any other lone surrogate as \\uNNNN."""
    return UNSTORABLE.sub(_escape, value) if UNSTORABLE.search(value) else value


def _json_text(value: Any) -> str:
    """JSON of cleaned strings: cleaning the JSON text instead would write \\xNN, which is no JSON escape."""
    return json.dumps(_cleaned(value), ensure_ascii=False)


def _cleaned(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {_cleaned(k): _cleaned(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_cleaned(v) for v in value]
    return value


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code == 0 or 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code & 0xFF:02x}"
    return f"\\u{code:04x}"


def _quarantine(conn: Any, batch: Any, run_id: str, stamp: datetime) -> None:
    hashes = sorted({b.content_hash for b in batch.bad})
    known: set[tuple[str, str, str, str]] = set()
    q = quarantine.c
    for part in _parts(hashes, 500):
        rows = conn.execute(select(q.location, q.content_hash, q.item, q.reason_code)
                            .where(q.source == batch.source, q.content_hash.in_(part)))
        known.update(tuple(r) for r in rows)
    fresh = {}
    for b in batch.bad:
        # Compared as stored: a location cleaned by clean_text is the same quarantine entry night after night.
        key = (clean_text(b.location), b.content_hash, clean_text(b.item), clean_text(b.code))
        if key not in known:
            fresh[key] = dict(source=batch.source, location=key[0], item=key[2], reason_code=key[3],
                              reason=clean_text(b.reason), value=clean_text(b.value), rows=b.rows,
                              content_hash=b.content_hash, flow_run_id=run_id, detected_at=stamp)
    if fresh:
        conn.execute(insert(quarantine), list(fresh.values()))


def _revise(conn: Any, batch: Any, summary: dict[str, Any], run_id: str, stamp: datetime) -> int:
    a = kpi_actual.c
    current = {(r.kpi_id, r.period, r.scope): r for r in conn.execute(
        select(a.id, a.kpi_id, a.period, a.scope, a.as_of, a.value, a.numerator, a.denominator, a.revision)
        .where(a.kpi_id.in_(batch.kpis), a.is_current))}
    latest = dict(((k, p, s), rev) for k, p, s, rev in conn.execute(
        select(a.kpi_id, a.period, a.scope, func.max(a.revision))
        .where(a.kpi_id.in_(batch.kpis)).group_by(a.kpi_id, a.period, a.scope)))
    new_keys = {f.key for f in batch.figures}
    periods = {(f.kpi_id, f.period) for f in batch.figures}
    # A file source's figures follow its folder, read whole every night: a figure the input no longer yields
    # stops being current (its files were archived), so a fiscal year always agrees with its months. An API
    # is read whole too but may stop serving old periods: only figures of periods it still covers stop.
    # Any figure dated after the batch's as-of (a restated, earlier as-of) stops: nothing later outlives it.
    whole = not batch.lineage.crawl
    stale = [r.id for key, r in current.items()
             if key not in new_keys and (whole or key[:2] in periods or r.as_of > batch.as_of)]
    if whole:
        _note_missing_files(conn, batch, len(stale))
    changed = [f for f in batch.figures
               if f.key not in current or not f.same_as(current[f.key].value, current[f.key].numerator,
                                                        current[f.key].denominator, current[f.key].as_of)]
    superseded = stale + [current[f.key].id for f in changed if f.key in current]
    for part in _parts(superseded, 500):
        conn.execute(update(kpi_actual).where(a.id.in_(part)).values(is_current=False))
    rows = [dict(kpi_id=f.kpi_id, period=f.period, scope=f.scope, as_of=f.as_of, value=f.value,
                 numerator=f.numerator, denominator=f.denominator, revision=latest.get(f.key, 0) + 1,
                 is_current=True, source=batch.source, lineage=_lineage_text(summary, f), flow_run_id=run_id,
                 collected_at=stamp)
            for f in changed]
    if rows:
        conn.execute(insert(kpi_actual), rows)
    return len(rows)


def _note_missing_files(conn: Any, batch: Any, withdrawn: int) -> None:
    """Says which files the last landing of the source read are gone, and that their figures went with them."""
    s = ingest_state.c
    detail = conn.execute(select(lineage.c.detail).join(ingest_state, s.lineage_id == lineage.c.lineage_id)
                          .where(s.source == batch.source)).scalar()
    before = {entry[0] for entry in json.loads(detail).get("files", [])} if detail else set()
    missing = sorted(before - {clean_text(f.name) for f in batch.lineage.files})   # as stored
    if not missing:
        return
    shown = "、".join(missing[:MISSING_SHOWN]) + (f" ほか {len(missing) - MISSING_SHOWN} 件"
                                                  if len(missing) > MISSING_SHOWN else "")
    gone = f"（取り下げた集計値 {withdrawn} 件）" if withdrawn else ""
    batch.notes.append(f"前回取り込んだファイル {len(missing)} 件が受信フォルダにありません: {shown}。"
                       f"その分は月・年度の集計から外れました{gone}（残すにはファイルを受信フォルダに戻してください）")


def _lineage_text(summary: dict[str, Any], figure: Figure) -> str:
    extra = {"evidence": figure.evidence} if figure.evidence else {}
    return _json_text({**summary, **extra})


def _record_commentary(conn: Any, batch: Any, run_id: str, stamp: datetime) -> None:
    """The 所見 of the batch's yearly figures, replacing what its indicators had: a changed one is stored, one
    no longer written (or whose figure went) is removed. A source without 所見 has no rows to replace."""
    c = kpi_commentary.c
    now = {(f.kpi_id, int(f.period.removeprefix("FY"))): clean_text(f.commentary) for f in batch.figures
           if f.commentary and f.scope == CITY and f.period.startswith("FY")}
    kept = {(r.kpi_id, r.fiscal_year): r.commentary for r in conn.execute(
        select(c.kpi_id, c.fiscal_year, c.commentary).where(c.kpi_id.in_(batch.kpis)))}
    for kpi, fy in [key for key, text in kept.items() if now.get(key) != text]:
        conn.execute(delete(kpi_commentary).where(c.kpi_id == kpi, c.fiscal_year == fy))
    fresh = [dict(kpi_id=kpi, fiscal_year=fy, commentary=text, source=batch.source, flow_run_id=run_id,
                  updated_at=stamp) for (kpi, fy), text in now.items() if kept.get((kpi, fy)) != text]
    if fresh:
        conn.execute(insert(kpi_commentary), fresh)


def commentaries(engine: Engine, fiscal_year: int | None = None) -> dict[tuple[str, int], str]:
    """The current 所見 per (kpi_id, fiscal year)."""
    c = kpi_commentary.c
    query = select(c.kpi_id, c.fiscal_year, c.commentary)
    if fiscal_year is not None:
        query = query.where(c.fiscal_year == fiscal_year)
    with engine.connect() as conn:
        return {(r.kpi_id, r.fiscal_year): r.commentary for r in conn.execute(query)}


def _advance_state(conn: Any, batch: Any, lineage_id: str, run_id: str, stamp: datetime) -> None:
    values = dict(lineage_id=lineage_id, records=batch.rows_read - batch.bad_rows,
                  max_event_date=batch.max_event_date, as_of=batch.as_of, flow_run_id=run_id, landed_at=stamp)
    s = ingest_state.c
    done = conn.execute(update(ingest_state).where(s.source == batch.source).values(**values)).rowcount
    if not done:
        conn.execute(insert(ingest_state).values(source=batch.source, **values))


def _record_files(conn: Any, source: str, files: Sequence[Any], run_id: str, stamp: datetime) -> None:
    """The source's files as landed now, replacing the last set (a removed file stops counting)."""
    conn.execute(delete(ingest_file).where(ingest_file.c.source == source))
    rows = [dict(source=source, name=clean_text(f.name), size=f.size, mtime_ns=f.mtime_ns, sha256=f.sha256,
                 rows=f.rows, encoding=f.encoding, ctime_ns=f.ctime_ns, inode=f.inode, flow_run_id=run_id,
                 landed_at=stamp) for f in files]
    for part in _parts(rows, 1000):
        conn.execute(insert(ingest_file), list(part))


def ingest_files(engine: Engine, source: str) -> dict[str, FileInfo]:
    """The files whose content the source's current figures hold, by name."""
    f = ingest_file.c
    with engine.connect() as conn:
        return {r.name: FileInfo(r.name, r.size, r.mtime_ns, r.sha256, r.rows, r.encoding, r.ctime_ns, r.inode)
                for r in conn.execute(select(f.name, f.size, f.mtime_ns, f.sha256, f.rows, f.encoding, f.ctime_ns,
                                             f.inode).where(f.source == source))}


def current_figures(engine: Engine, kpi_ids: Iterable[str] | None = None) -> list[Figure]:
    a = kpi_actual.c
    query = select(a.kpi_id, a.period, a.scope, a.as_of, a.value, a.numerator, a.denominator).where(a.is_current)
    if kpi_ids is not None:
        query = query.where(a.kpi_id.in_(list(kpi_ids)))
    with engine.connect() as conn:
        return [Figure(*row) for row in conn.execute(query)]


def save_evaluations(engine: Engine, verdicts: Sequence[Any], run_id: str) -> None:
    stamp = now_utc()
    rows = [dict(kpi_id=v.kpi_id, fiscal_year=v.fiscal_year, as_of=v.as_of, actual=v.actual, target=v.target,
                 grade=v.grade, status=v.status, projected=v.projected, prior_year_actual=v.prior_year_actual,
                 data_as_of=v.data_as_of, projection_method=v.projection_method, scope=v.scope, rule=v.rule,
                 target_low=v.target_low, target_high=v.target_high, flow_run_id=run_id,
                 evaluated_at=stamp) for v in verdicts]
    if rows:
        with engine.begin() as conn:
            conn.execute(insert(kpi_evaluation), rows)


def withdraw_evaluations_after(engine: Engine, day: date) -> None:
    """A restated run's: the evaluations about days after `day` were made from figures now withdrawn; kept,
    they would head `status` and `report` over the restated one. The figures' revisions stay in kpi_actual."""
    with engine.begin() as conn:
        conn.execute(delete(kpi_evaluation).where(kpi_evaluation.c.as_of > day))


def latest_evaluations(engine: Engine, fiscal_year: int | None = None,
                       scopes: bool = False) -> list[dict[str, Any]]:
    """Per KPI, fiscal year and scope, the evaluation with the latest as-of date (the newest run among
    equals): a backfill of past month ends does not hide tonight's evaluation. City-wide ones only unless
    `scopes`."""
    with engine.connect() as conn:
        return _latest_evaluations(conn, fiscal_year, scopes)


def _latest_evaluations(conn: Any, fiscal_year: int | None, scopes: bool) -> list[dict[str, Any]]:
    e = kpi_evaluation.c
    other = kpi_evaluation.alias("other")
    newest = (select(other.c.id).where(other.c.kpi_id == e.kpi_id, other.c.fiscal_year == e.fiscal_year,
                                       other.c.scope == e.scope)
              .order_by(other.c.as_of.desc(), other.c.id.desc()).limit(1).scalar_subquery())
    query = select(kpi_evaluation).where(e.id == newest)
    if not scopes:
        query = query.where(e.scope == CITY)
    if fiscal_year is not None:
        query = query.where(e.fiscal_year == fiscal_year)
    return [dict(r._mapping) for r in conn.execute(query.order_by(e.fiscal_year, e.id))]


@dataclass(frozen=True)
class Published:
    rows: int                   # rows written (0 when refused)
    already: list[str]          # departments whose year was published before: then nothing was written
    published_at: datetime


def publish(engine: Engine, fiscal_year: int,
            build: Callable[[list[dict[str, Any]], dict[tuple[str, int], str]], list[dict[str, Any]]]) -> Published:
    """`jisseki publish` in one transaction: the year's latest evaluations (every scope) and 所見 are read,
    `build` turns them into published_grade rows (or raises, which writes nothing), and they are written unless
    a department among them already has the year published, which is never rewritten."""
    stamp = now_utc()
    p = published_grade.c
    departments: list[str] = []
    try:
        with engine.begin() as conn:
            c = kpi_commentary.c
            notes = {(r.kpi_id, r.fiscal_year): r.commentary for r in conn.execute(
                select(c.kpi_id, c.fiscal_year, c.commentary).where(c.fiscal_year == fiscal_year))}
            rows = build(_latest_evaluations(conn, fiscal_year, True), notes)
            departments = sorted({r["department"] for r in rows})
            already = sorted(set(conn.execute(select(p.department).distinct().where(
                p.fiscal_year == fiscal_year, p.department.in_(departments))).scalars()))
            if already:
                return Published(0, already, stamp)
            if rows:
                conn.execute(insert(published_grade), [{**r, "commentary": clean_text(r["commentary"]),
                                                         "published_at": stamp} for r in rows])
    except IntegrityError:   # a publish of the same year committed between our check and insert: its rows stand
        return Published(0, departments, stamp)
    return Published(len(rows), [], stamp)


def published_grades(engine: Engine, fiscal_year: int | None = None) -> list[dict[str, Any]]:
    p = published_grade.c
    query = select(published_grade).order_by(p.fiscal_year, p.kpi_id, p.scope)
    if fiscal_year is not None:
        query = query.where(p.fiscal_year == fiscal_year)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def evaluation_history(engine: Engine, fiscal_year: int) -> list[dict[str, Any]]:
    """Every evaluation of the fiscal year, one per KPI and as-of date (the newest run's where a backfill
    and a night evaluated the same day), in KPI and as-of order: when did a status begin."""
    e = kpi_evaluation.c
    query = (select(e.kpi_id, e.fiscal_year, e.as_of, e.status, e.grade, e.actual, e.projected)
             .where(e.fiscal_year == fiscal_year, e.scope == CITY).order_by(e.kpi_id, e.as_of, e.id))
    with engine.connect() as conn:
        newest = {(r.kpi_id, r.as_of): dict(r._mapping) for r in conn.execute(query)}
    return list(newest.values())


def ingest_states(engine: Engine) -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        return {r.source: dict(r._mapping) for r in conn.execute(select(ingest_state))}


def source_runs(engine: Engine, run_id: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(
            select(source_run).where(source_run.c.flow_run_id == run_id).order_by(source_run.c.id))]


@contextmanager
def recorded_night(engine: Engine, run_id: str, as_of: date) -> Iterator[None]:
    """A row in night_run from the start of a nightly run to its end: completed, or failed when the block
    raised (which sources landed is in source_run). What `jisseki watchdog` reads."""
    with engine.begin() as conn:
        # A flow run that Prefect retries keeps its id: the row starts again.
        conn.execute(delete(night_run).where(night_run.c.flow_run_id == run_id))
        conn.execute(insert(night_run).values(flow_run_id=run_id, as_of=as_of, host=socket.gethostname(),
                                              pid=os.getpid(), started_at=now_utc()))
    outcome = "failed"
    try:
        yield
        outcome = "completed"
    finally:
        with engine.begin() as conn:
            conn.execute(update(night_run).where(night_run.c.flow_run_id == run_id)
                         .values(finished_at=now_utc(), outcome=outcome))


def last_nights(engine: Engine) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The nightly run that finished last, and the one still running (started, not finished), if any."""
    n = night_run.c
    with engine.connect() as conn:
        done = conn.execute(select(night_run).where(n.finished_at.is_not(None))
                            .order_by(n.finished_at.desc()).limit(1)).first()
        running = conn.execute(select(night_run).where(n.finished_at.is_(None))
                               .order_by(n.started_at.desc()).limit(1)).first()
    return (dict(done._mapping) if done else None), (dict(running._mapping) if running else None)


def _parts(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
