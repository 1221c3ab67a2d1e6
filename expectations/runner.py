"""Runs the declared suites (expectations/*.json) with Great Expectations 1.x.

GX and pandas are imported on first use only: a run with nothing to validate should not pay
for them. One ephemeral context per process; GX is not thread-safe, so runs are serialised.
"""
from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

_lock = threading.Lock()


@dataclass(frozen=True)
class Failure:
    index: int          # row position in the validated batch
    code: str
    reason: str
    value: str


def suite_spec(name: str) -> dict[str, Any]:
    return json.loads((Path(__file__).parent / f"{name}.json").read_text("utf-8"))


def validate(suite_name: str, rows: list[dict[str, Any]]) -> list[Failure]:
    """Every (row, expectation) that failed, in suite order per row."""
    if not rows:
        return []
    import pandas as pd

    frame = pd.DataFrame.from_records(rows)
    spec = suite_spec(suite_name)
    with _lock:
        result = _definition(suite_name).run(
            batch_parameters={"dataframe": frame},
            result_format={"result_format": "COMPLETE"},
        )
    failures = []
    for res in result.results:
        # GX may reorder results; the position stored in meta maps each back to its declaration.
        meta = spec["expectations"][int(res.expectation_config.meta["position"])]["meta"]
        if res.exception_info and res.exception_info.get("raised_exception"):
            raise RuntimeError(f"expectation {meta['code']} in {suite_name} could not run: "
                               f"{res.exception_info.get('exception_message')}")
        if res.success:
            continue
        column = meta.get("value_column")
        for index in res.result.get("unexpected_index_list") or []:
            value = "" if column is None else _text(rows[index].get(column))
            failures.append(Failure(int(index), meta["code"], meta["reason"], value))
    return failures


def _text(value: Any) -> str:
    return "" if value is None else str(value)[:80]


@cache
def _context() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False, "metric_calculations": False}
    return context


@cache
def _definition(suite_name: str) -> Any:
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    context = _context()
    spec = suite_spec(suite_name)
    suite = gx.ExpectationSuite(name=suite_name)
    for position, entry in enumerate(spec["expectations"]):
        meta = {**entry["meta"], "position": position}
        suite.add_expectation_configuration(
            ExpectationConfiguration(type=entry["type"], kwargs=entry["kwargs"], meta=meta))
    if len(suite.expectations) != len(spec["expectations"]):
        # GX merges expectations of one type on one column; each must stay separate to keep its reason.
        raise ValueError(f"suite {suite_name}: two expectations share a type and column")
    suite = context.suites.add(suite)
    asset = context.data_sources.add_pandas(f"{suite_name}-source").add_dataframe_asset(suite_name)
    batch = asset.add_batch_definition_whole_dataframe(f"{suite_name}-batch")
    return context.validation_definitions.add(gx.ValidationDefinition(name=suite_name, data=batch, suite=suite))
