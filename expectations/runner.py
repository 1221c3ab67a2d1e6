"""Runs the declared suites (expectations/*.json) with Great Expectations 1.x.

GX and pandas are imported on first use only: a run with nothing to validate should not pay
for them. One context per process and root. GX is not thread-safe, its import included, so every
import, set-up and run of it holds the process-wide lock of jisseki.core.imports.

The file context under a root is derived state: the suites are declared here, in expectations/*.json,
and what else it holds is old results. A stored file that is damaged (a disk-full night leaves empty
or cut JSON/YAML, on which GX fails) would fail every night; instead the folder is built anew, and
the operator is told (take_notes).

GX stores what it returns. Results keep row positions only (EXCLUDE_VALUES): the values of personal
or free-text columns must never reach the results store or Data Docs. Quarantine takes the value
from the rows, in its column's declared shape.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from jisseki.core.imports import LOCK, heavy
from jisseki.core.normalize import shown

_runs = [0]   # validations run by this process
_notes: list[str] = []   # what rebuilding a GX folder means for the operator, until a batch takes it
_tallies: dict[str, dict[str, SuiteTally]] = {}   # per run name (one source of one run), per suite, until taken
_log = logging.getLogger(__name__)
T = TypeVar("T")
# COMPLETE for every failing row's position (for quarantine); no row values at all in what GX keeps.
EXCLUDE_VALUES = {"result_format": "COMPLETE", "exclude_unexpected_values": True, "partial_unexpected_count": 0,
                  "include_unexpected_rows": False, "return_unexpected_index_query": False}
# Keys of a stored result that carry row values (absent under EXCLUDE_VALUES).
VALUE_KEYS = (b'"unexpected_list"', b'"partial_unexpected_list"', b'"partial_unexpected_counts"')
# What the file context keeps between runs, by kind; data_docs is rebuilt from scratch by build_data_docs.
STORED = ("great_expectations.yml", "uncommitted/config_variables.yml", "expectations/**/*.json",
          "validation_definitions/*.json", "checkpoints/*.json", "uncommitted/validations/**/*.json")


class DeclarationError(ValueError):
    """A suite in expectations/*.json that GX cannot hold as declared."""


@dataclass(frozen=True)
class Failure:
    index: int          # row position in the validated batch
    code: str
    reason: str
    value: str


MAX_POSITIONS = 20   # row positions kept per failed expectation: enough to find them, small for the UI


@dataclass
class FailedExpectation:
    """One declared expectation that rows failed, over every validation of its suite in one run: where and
    how often, never what the rows held."""
    code: str
    reason: str
    column: str | None
    unexpected: int = 0
    # (which validation of the suite in this run, 1-based; row position within what it validated)
    positions: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class SuiteTally:
    suite: str
    validations: int = 0
    rows: int = 0
    failed: dict[int, FailedExpectation] = field(default_factory=dict)   # by declared position


_declared: dict[str, dict[str, Any]] = {}   # suites made from a declaration (jisseki/declared/rules.py), by name
# Its own lock, not GX's: a source registers its suites before it reads, and must not wait for another
# source's validation to end before its first request.
_declared_lock = threading.Lock()


def suite_spec(name: str) -> dict[str, Any]:
    """A suite as declared: made from a source's declaration, else written in expectations/<name>.json."""
    with _declared_lock:
        made = _declared.get(name)
    if made is not None:
        return made
    return json.loads((Path(__file__).parent / f"{name}.json").read_text("utf-8"))


def register_suite(spec: dict[str, Any]) -> None:
    """Takes a suite made from a declaration. A declaration changed since (the config was edited, a test
    declares another source of the same name) forgets what was built on the earlier one."""
    with _declared_lock:
        old = _declared.get(spec["name"])
        _declared[spec["name"]] = spec
    if old is not None and old != spec:   # what GX built on the old one (a first registration has nothing)
        with LOCK:
            _definition.cache_clear()


def validate(suite_name: str, rows: list[dict[str, Any]], root: Path | None = None,
             run_name: str | None = None) -> list[Failure]:
    """Every (row, expectation) that failed, in suite order per row. With a root, results are kept
    in a file-based GX context there, for Data Docs; without, in memory only."""
    if not rows:
        return []
    spec = suite_spec(suite_name)
    with LOCK:
        frame = heavy("pandas").DataFrame.from_records(rows)
        run_id = heavy("great_expectations.core.run_identifier").RunIdentifier
        _runs[0] += 1
        result = _definition(suite_name, root).run(
            batch_parameters={"dataframe": frame},
            result_format=EXCLUDE_VALUES,
            run_id=run_id(run_name=run_name) if run_name else None,
        )
    failures = []
    tally = _tally(run_name, suite_name, len(rows))
    for res in result.results:
        # GX may reorder results; the position stored in meta maps each back to its declaration.
        position = int(res.expectation_config.meta["position"])
        meta = spec["expectations"][position]["meta"]
        if res.exception_info and res.exception_info.get("raised_exception"):
            raise RuntimeError(f"expectation {meta['code']} in {suite_name} could not run: "
                               f"{res.exception_info.get('exception_message')}")
        if res.success:
            continue
        if tally is not None:
            _count(tally, position, spec["expectations"][position], res.result)
        column = meta.get("value_column")
        for index in res.result.get("unexpected_index_list") or []:
            # Quarantine keeps a value only in the shape its column is declared to have (jisseki.core.normalize).
            value = "" if column is None else shown(rows[index].get(column), meta["value_shape"])
            failures.append(Failure(int(index), meta["code"], meta["reason"], value))
    return failures


def _tally(run_name: str | None, suite_name: str, rows: int) -> SuiteTally | None:
    if run_name is None:
        return None
    with LOCK:
        tally = _tallies.setdefault(run_name, {}).setdefault(suite_name, SuiteTally(suite_name))
    tally.validations += 1
    tally.rows += rows
    return tally


def _count(tally: SuiteTally, position: int, entry: dict[str, Any], result: dict[str, Any]) -> None:
    kwargs = entry["kwargs"]
    columns = [kwargs[key] for key in ("column", "column_A", "column_B") if key in kwargs]   # pair expectations
    failed = tally.failed.setdefault(position, FailedExpectation(
        entry["meta"]["code"], entry["meta"]["reason"], ", ".join(columns) or None))
    indexes = result.get("unexpected_index_list") or []
    failed.unexpected += int(result.get("unexpected_count") or len(indexes))
    room = MAX_POSITIONS - len(failed.positions)
    failed.positions.extend((tally.validations, int(i)) for i in indexes[:max(0, room)])


def take_tallies(run_name: str) -> list[SuiteTally]:
    """What the suites validated under run_name (rows, failed expectations), in the order first validated;
    forgotten here once taken."""
    with LOCK:
        return list(_tallies.pop(run_name, {}).values())


def prepare(suite_name: str, root: Path | None = None) -> None:
    """Imports GX and pandas and builds the suite's validation now, ahead of the first rows, for a
    caller that has other work in flight (another process) to overlap with the seconds this takes."""
    with LOCK:
        _definition(suite_name, root)


def validated() -> bool:
    """Whether this process has run any validation (and so has results for Data Docs)."""
    return _runs[0] > 0


def take_notes() -> list[str]:
    """What the operator should know of GX folders rebuilt since the last call (each is told once)."""
    with LOCK:
        notes = list(_notes)
        _notes.clear()
    return notes


@cache
def _context(root: Path | None) -> Any:
    """Only under LOCK (as _definition): functools.cache alone would let two threads build one each."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    gx = heavy("great_expectations")

    if root is None:
        context = gx.get_context(mode="ephemeral")
    else:
        damaged = _damaged_file(root / "gx")
        if damaged is not None:
            _rebuild(root, f"{damaged} が空か読めない")
        context = _healed(root, lambda: _file_context(gx, root))
    context.variables.progress_bars = {"globally": False, "metric_calculations": False}
    return context


def _file_context(gx: Any, root: Path) -> Any:
    root.mkdir(parents=True, exist_ok=True)
    return gx.get_context(mode="file", project_root_dir=str(root))


@cache
def _definition(suite_name: str, root: Path | None = None) -> Any:
    return _healed(root, lambda: _register(_context(root), suite_name))


def _register(context: Any, suite_name: str) -> Any:
    gx = heavy("great_expectations")
    configuration = heavy("great_expectations.expectations.expectation_configuration").ExpectationConfiguration

    spec = suite_spec(suite_name)
    suite = gx.ExpectationSuite(name=suite_name)
    for position, entry in enumerate(spec["expectations"]):
        meta = {**entry["meta"], "position": position}
        suite.add_expectation_configuration(
            configuration(type=entry["type"], kwargs=entry["kwargs"], meta=meta))
    if len(suite.expectations) != len(spec["expectations"]):
        # GX merges expectations of one type on one column; each must stay separate to keep its reason.
        raise DeclarationError(f"suite {suite_name}: two expectations share a type and column")
    # add_or_update: a file context remembers suites from earlier runs; the declaration here wins.
    suite = context.suites.add_or_update(suite)
    source = context.data_sources.add_or_update_pandas(f"{suite_name}-source")
    asset = next((a for a in source.assets if a.name == suite_name), None) or source.add_dataframe_asset(suite_name)
    batch = (next(iter(asset.batch_definitions), None)
             or asset.add_batch_definition_whole_dataframe(f"{suite_name}-batch"))
    return context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=suite_name, data=batch, suite=suite))


def _healed(root: Path | None, build: Callable[[], T]) -> T:
    """build(), which reads the file context under root; if GX fails on what that folder holds, once more
    on a new folder. A failure that is not the folder's fails the new folder too, and is raised."""
    if root is None:
        return build()
    try:
        return build()
    except DeclarationError:
        raise   # the suite's own fault: a new folder would not mend it
    except Exception as exc:   # GX raises many kinds (TypeError, KeyError, its own) on a damaged store
        _rebuild(root, f"GX が読込中に {type(exc).__name__} で失敗した")
    return build()


def _rebuild(root: Path, why: str) -> None:
    """Removes the GX folder and every context and definition built on it (under LOCK)."""
    folder = root / "gx"
    shutil.rmtree(folder, ignore_errors=True)
    _context.cache_clear()
    _definition.cache_clear()
    note = (f"GX の保存ファイルが壊れていたため（{why}）、{folder} を作り直しました。スイートは expectations/ の"
            "宣言から作り直し、過去の検証結果と Data Docs は失われました")
    _log.warning(note)
    _notes.append(note)


def _damaged_file(folder: Path) -> str | None:
    """The first stored file (relative to folder) that is empty or does not parse as what GX wrote."""
    if not folder.is_dir():
        return None
    yaml = heavy("ruamel.yaml").YAML(typ="safe")
    for pattern in STORED:
        for path in sorted(folder.glob(pattern)):
            try:
                text = path.read_text("utf-8")
                loaded = json.loads(text) if path.suffix == ".json" else yaml.load(text)
            except Exception:   # unreadable, undecodable or unparsable: json, ruamel and OSError alike
                loaded = None
            if not isinstance(loaded, dict):
                return str(path.relative_to(folder))
    return None


def build_data_docs(root: Path, keep: int = 30) -> Path:
    """Keeps the newest `keep` validation results per suite and rebuilds the site from scratch,
    so the Data Docs stay small and fast however many nights have run."""
    site = site_index(root).parent
    with LOCK:
        def build() -> None:
            _forget_values(root / "gx")
            context = _context(root)
            store = context.validation_results_store
            by_suite: dict[str, list[Any]] = {}
            for key in store.list_keys():
                by_suite.setdefault(key.expectation_suite_identifier.name, []).append(key)
            for keys in by_suite.values():
                keys.sort(key=lambda k: str(k.run_id.run_time))
                for old in keys[:-keep]:
                    store.remove_key(old)
            shutil.rmtree(site, ignore_errors=True)
            context.build_data_docs()

        _healed(root, build)
    return site / "index.html"


def _forget_values(folder: Path) -> None:
    """Removes results that hold row values: an older jisseki validated with plain COMPLETE, and they
    would otherwise stay in the store and the Data Docs for `keep` more nights."""
    for path in folder.glob("uncommitted/validations/**/*.json"):
        try:
            if any(key in path.read_bytes() for key in VALUE_KEYS):
                path.unlink()
        except OSError:
            continue   # gone meanwhile, or unreadable: GX reports the latter when it reads it


def site_index(root: Path) -> Path:
    return root / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
