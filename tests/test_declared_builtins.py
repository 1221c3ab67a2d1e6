"""The two API sources of the contracts (1 and 4) as the declarations jisseki ships, against a real loopback API:
paging as the contracts say, answers out of contract failing the source, and each broken record quarantined
with the reason its owner reads."""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.errors import SourceFormatError
from jisseki.catalog import load_catalog
from jisseki.config import load_config
from jisseki.core.records import Bad, Lineage
from jisseki.declared.read_rest import read_rest
from jisseki.declared.rules import fields
from jisseki.declared.values import Row, Window, typed
from jisseki.pipeline import collect
from tests.sample_api import Reply, SampleApi

WINDOW = Window(date(2025, 4, 1), date(2026, 3, 31))


def section(tmp_path: Path, name: str, base_url: str, extra: str = "") -> object:
    path = tmp_path / "jisseki.toml"
    path.write_text(f'[sources.{name}]\nbase_url = "{base_url}"\ntoken_env = "T"\nmax_retries = 0\n{extra}', "utf-8")
    return load_config(path, {"T": "k"}).source(name)


def crawl(tmp_path: Path, api: SampleApi, name: str, extra: str = "") -> tuple[list[Row], list[Bad], Lineage]:
    lineage = Lineage()
    items = list(read_rest(section(tmp_path, name, api.base_url, extra), lineage, WINDOW, "k"))
    return [i for i in items if isinstance(i, Row)], [i for i in items if isinstance(i, Bad)], lineage


def procedures(n: int) -> list[dict]:
    return [{"id": f"PROC-{i:06d}", "title": "t", "department_code": "D1", "online_since": "2021-06-01",
             "retired_on": None, "status": "active", "updated_at": "2025-04-01T09:00:00+09:00"} for i in range(n)]


def apps(n: int) -> list[dict]:
    return [{"app_id": str(i), "name": "n", "business_id": f"OPS-{i:04d}", "status": "in_operation",
             "operation_started_on": "2025-06-02", "retired_on": None} for i in range(n)]


def test_procedures_follow_next_page_to_the_end_with_the_bearer_token(tmp_path: Path) -> None:
    with SampleApi(procedures(250), "k") as api:
        rows, bad, lineage = crawl(tmp_path, api, "online_procedures")
    assert len(rows) == 250 and bad == []
    assert [r["query"]["page"] for r in api.requests] == ["1", "2", "3"]
    assert all(r["query"]["per_page"] == "100" for r in api.requests)
    assert lineage.crawl["pages"] == 3 and lineage.crawl["records"] == 250
    # Only the declared columns are read: title and department_code never leave the page.
    assert set(rows[0].values) == {"id", "online_since", "retired_on", "status", "updated_at"}


def test_page_size_of_the_contract_sets_the_page(tmp_path: Path) -> None:
    with SampleApi(procedures(5), "k") as api:
        rows, _, lineage = crawl(tmp_path, api, "online_procedures", "page_size = 2\n")
    assert len(rows) == 5 and [r["query"]["per_page"] for r in api.requests] == ["2", "2", "2"]


def test_procedures_empty_catalog_fails_the_source(tmp_path: Path) -> None:
    with SampleApi([], "k") as api, pytest.raises(SourceFormatError, match="0 件"):
        crawl(tmp_path, api, "online_procedures")


@pytest.mark.parametrize("body", [b'{"items": []}', b'{"data": {}, "meta": {}}', b'[]',
                                  b'{"data": [], "meta": {"next_page": "2"}}'])
def test_procedures_body_not_in_the_contract_fails_clearly(tmp_path: Path, body: bytes) -> None:
    with SampleApi(procedures(3), "k") as api, pytest.raises(SourceFormatError):
        api.script.append(Reply(200, body))
        crawl(tmp_path, api, "online_procedures")


def test_procedures_a_next_page_that_loops_is_an_error(tmp_path: Path) -> None:
    looping = json.dumps({"data": procedures(1), "meta": {"next_page": 1}}).encode()
    with SampleApi(procedures(3), "k") as api, pytest.raises(SourceFormatError, match="もう読んだページ"):
        api.script.extend([Reply(200, looping)] * 3)
        crawl(tmp_path, api, "online_procedures")


@pytest.mark.parametrize("total, offsets", [(250, ["0", "100", "200"]), (200, ["0", "100", "200"]),
                                            (99, ["0"]), (100, ["0", "100"])])
def test_nocode_pages_end_on_the_first_short_page(tmp_path: Path, total: int, offsets: list[str]) -> None:
    with SampleApi.nocode(apps(total), "k") as api:
        rows, bad, lineage = crawl(tmp_path, api, "nocode_apps")
    assert len(rows) == total and bad == [] and lineage.crawl["records"] == total
    assert [r["query"]["offset"] for r in api.requests] == offsets
    # The token alone, in X-Api-Token (the sample API checks the header and the token).
    assert all(r["query"]["limit"] == "100" and r["authorization"] == "k" for r in api.requests)


def test_nocode_rejects_a_body_out_of_contract_and_an_empty_list(tmp_path: Path) -> None:
    with SampleApi.nocode(apps(3), "k") as api, pytest.raises(SourceFormatError, match="apps"):
        api.script.append(Reply(200, b'{"data": []}'))
        crawl(tmp_path, api, "nocode_apps")
    with SampleApi.nocode([], "k") as api, pytest.raises(SourceFormatError, match="0 件"):
        crawl(tmp_path, api, "nocode_apps")


def broken_procedures() -> list[dict]:
    good = procedures(8)
    good[0]["online_since"] = "2021/06/01"          # a contract form for files, not the API's ISO date
    good[1]["online_since"] = "令和3年6月1日"
    good[2]["status"] = "closed"
    del good[3]["id"]
    good[4]["id"] = ""
    good[5].update(retired_on="未定")
    good[6]["updated_at"] = "yesterday"
    good[7].update(online_since="2018-10-01", retired_on="2018-04-01", status="retired")
    return [*good, *procedures(12)[8:], "not an object"]


def test_each_broken_procedure_is_quarantined_with_its_reason_and_the_rest_count(tmp_path: Path) -> None:
    with SampleApi(broken_procedures(), "k") as api:
        cfg = section(tmp_path, "online_procedures", api.base_url)
        from jisseki.sources import SOURCE_DEFS

        batch = collect(SOURCE_DEFS["online_procedures"], cfg, load_catalog(), date(2025, 5, 31), 1.0)
    reasons = [(b.item, b.code, b.reason, b.value) for b in batch.bad]
    assert reasons == [
        ("#13", "not_object", "レコードがJSONオブジェクトではありません", ""),   # read, before any is validated
        ("#1 PROC-000000", "invalid_value", "online_since を日付として解釈できません", "2021/06/01"),
        ("#2 PROC-000001", "invalid_value", "online_since を日付として解釈できません", "令和3年6月1日"),
        ("#3 PROC-000002", "not_allowed", "status が active・suspended・retired のいずれでもありません", "closed"),
        ("#4", "missing_value", "id がありません", ""),
        ("#5", "missing_value", "id がありません", ""),
        ("#6 PROC-000005", "invalid_value", "retired_on を日付として解釈できません", "文字列（2文字）"),
        ("#7 PROC-000006", "invalid_value", "updated_at を日時として解釈できません", "文字列（9文字）"),
        ("#8 PROC-000007", "before_other", "retired_on が online_since より前です", "2018-04-01"),
    ]
    assert batch.rows_read == 13 and batch.rejected is None
    figures = {f.period: f.value for f in batch.figures}
    assert figures["FY2025"] == 4.0 and figures["2021-06"] == 4.0 and "2021-05" not in figures


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
                           max_leaves=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["id", "online_since", "retired_on", "status", "updated_at", "app_id",
                                        "business_id", "operation_started_on"]), json_values | st.dates().map(str)))
def test_any_json_value_types_or_is_invalid_never_an_error(record: dict) -> None:
    from jisseki.sources import SOURCE_DEFS

    for name in ("online_procedures", "nocode_apps"):
        decl = SOURCE_DEFS[name].config.model_validate({**SOURCE_DEFS[name].declaration, "base_url": "http://x", "token_env": "T"})
        values = {c: typed(record.get(c), column) for c, column in decl.columns.items()}
        assert set(fields(decl, values, record)) >= set(decl.columns)
