"""The registry and every list made from it agree: a source with no suites, no config section model, no rule
for late data or no Japanese name fails here, not at night."""
from __future__ import annotations

import typing
from pathlib import Path

import pytest
from pydantic import ValidationError

from jisseki.batch import Source
from jisseki.catalog import Indicator, load_catalog
from jisseki.config import Config
from jisseki.declared.spec import RestSource
from jisseki.source_config import SourceConfig
from jisseki.sources import SOURCE_DEFS, SOURCE_NAMES, SOURCES, source_label

SUITES = Path(__file__).resolve().parent.parent / "expectations"
SIX = ("online_procedures", "moveout_log", "speech_usage", "nocode_apps", "dataviz_access", "manual_entries")


def problems(source: Source) -> list[str]:
    """What a source lacks for every registry to be made from it."""
    out = []
    # A declared source's suites are made from its declaration's rules (jisseki/declared/rules.py).
    for suite in (source.records_suite, source.figures_suite) if source.declaration is None else ():
        if not (SUITES / f"{suite}.json").is_file():
            out.append(f"no suite {suite}")
    if not (isinstance(source.config, type) and issubclass(source.config, SourceConfig)):
        out.append("no config model")
    elif source.config.freshness is SourceConfig.freshness:
        out.append("no freshness rule")
    if not source.japanese.strip():
        out.append("no Japanese name")
    return out


def test_every_registered_source_has_suites_a_config_model_a_freshness_rule_and_a_japanese_name() -> None:
    assert SOURCES == SIX   # the contracts' six, in their order
    assert {name: problems(source) for name, source in SOURCE_DEFS.items()} == {name: [] for name in SIX}


def test_a_source_missing_a_part_is_told_what_it_lacks() -> None:
    # The check itself can fail: a source of a new system with nothing but a reader.
    bare = Source("parking_permits", " ", SourceConfig, read=lambda ctx, lineage: iter(()),
                  measure=lambda ctx: None)  # type: ignore[arg-type, return-value]
    assert problems(bare) == ["no suite parking_permits.records", "no suite parking_permits.figures",
                              "no freshness rule", "no Japanese name"]


def test_the_catalog_allows_the_registered_sources_and_declared_ones_that_say_what_they_count() -> None:
    assert {i.source for i in load_catalog().indicators} == set(SOURCES)
    base = {"id": "k", "challenge": 1, "name": "指標", "unit": "件", "kind": "count_per_fy", "direction": "at_least",
            "targets": {2025: 1}}
    for name in SOURCES:
        assert Indicator.model_validate({**base, "source": name}).measure is None
    declared = Indicator.model_validate({**base, "source": "window_queue", "measure": {"type": "count"}})
    assert declared.measure is not None and declared.measure.type == "count"
    with pytest.raises(ValidationError, match="組み込みのソース.*measure"):
        Indicator.model_validate({**base, "source": "window_queue"})


def test_the_config_has_one_section_per_source_of_its_own_model() -> None:
    fields = Config.model_fields["sources"].annotation.model_fields
    assert tuple(fields) == SOURCES
    for name, field in fields.items():
        assert typing.get_args(field.annotation) == (SOURCE_DEFS[name].config, type(None))
        assert field.default is None   # a source left out is not collected
    assert SOURCE_DEFS["online_procedures"].config is SOURCE_DEFS["nocode_apps"].config is RestSource


def test_names_and_labels_come_from_the_registry() -> None:
    assert SOURCE_NAMES["moveout_log"] == "転出届 受付ログ"
    assert source_label("manual_entries") == "実績入力シート（manual_entries）"
    assert source_label("unknown") == "unknown"


def test_a_source_has_one_way_to_a_batch() -> None:
    moveout = SOURCE_DEFS["moveout_log"]
    assert moveout.bulk is not None and moveout.read is None and moveout.measure is None
    assert all(s.bulk is None and s.read and s.measure for n, s in SOURCE_DEFS.items() if n != "moveout_log")
    try:
        Source("neither", "どちらもない", SourceConfig)
    except ValueError as exc:
        assert "either a reader and a measure, or a bulk path" in str(exc)
    else:
        raise AssertionError("a source with neither way was accepted")


def test_the_demo_configures_every_registered_source_in_the_registry_order() -> None:
    from jisseki.demo.run import demo_config

    text = demo_config("http://127.0.0.1:1", "http://127.0.0.1:2")
    assert [line[len("[sources."):-1] for line in text.splitlines() if line.startswith("[sources.")] == list(SOURCES)
