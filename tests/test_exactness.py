"""Unseen data with every bad-input case, through the real flow, lands exactly as a hand count."""
from __future__ import annotations

import json
import math

import pytest
import sqlalchemy as sa

from flows.run import run_nightly
from tests.handcount import expected_bad_counts, expected_figures
from tests.sample_api import SampleApi
from tests.support import TOKEN, TOKEN_ENV, every_cell, table_counts, write_config
from tests.unseen import SUGGESTED_AS_OF, personal_values, write_unseen
from warehouse.store import connect, current_figures

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_harness")]


def landed(url: str) -> dict[tuple[str, str, str], tuple]:
    return {f.key: (f.value, f.numerator, f.denominator, f.as_of) for f in current_figures(connect(url))}


def quarantined(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT source, SUM(rows) FROM quarantine GROUP BY source"))
        out = {source: int(n) for source, n in rows}
    engine.dispose()
    return out


def assert_matches(actual: dict, expected: dict) -> None:
    assert set(actual) == set(expected), (sorted(set(actual) ^ set(expected))[:10])
    for key, want in expected.items():
        value, numerator, denominator, as_of = actual[key]
        assert math.isclose(value, want["value"], rel_tol=1e-12, abs_tol=1e-9), (key, value, want)
        assert numerator == want["numerator"] and denominator == want["denominator"], key
        assert as_of == want["as_of"], (key, as_of, want["as_of"])


@pytest.mark.parametrize("seed", [11])
def test_unseen_data_lands_exactly_and_a_second_run_adds_nothing(tmp_path, monkeypatch, warehouse_url, seed) -> None:
    procedures = write_unseen(tmp_path, seed)
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with SampleApi(procedures, TOKEN) as api:
        config = write_config(tmp_path, warehouse_url, api.base_url)
        assert run_nightly(config, SUGGESTED_AS_OF, None) == 0
        first = table_counts(warehouse_url)
        assert run_nightly(config, SUGGESTED_AS_OF, None) == 0
    expected = expected_figures(tmp_path, procedures, [], SUGGESTED_AS_OF)
    assert_matches(landed(warehouse_url), expected)
    assert quarantined(warehouse_url) == {k: v for k, v in expected_bad_counts(tmp_path, procedures, []).items() if v}

    second = table_counts(warehouse_url)
    for table in ("kpi_actual", "quarantine", "lineage", "ingest_state"):
        assert second[table] == first[table], table
    assert second["kpi_evaluation"] == 2 * first["kpi_evaluation"]  # one evaluation per KPI and run

    stored = every_cell(warehouse_url)
    leaked = sorted(v for v in personal_values(tmp_path, seed) if len(v) >= 4 and v in stored)
    assert leaked == []
    assert TOKEN not in stored


def test_a_later_as_of_and_a_corrected_file_add_revisions_only_where_figures_changed(tmp_path, monkeypatch) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    procedures = write_unseen(tmp_path, 5)
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with SampleApi(procedures, TOKEN) as api:
        config = write_config(tmp_path, url, api.base_url)
        assert run_nightly(config, SUGGESTED_AS_OF, None) == 0
        before = landed(url)
        victim = sorted((tmp_path / "moveout").glob("*.csv"))[0]
        victim.unlink()  # the folder changes: a file was withdrawn by its sender and re-sent empty
        victim.write_bytes("受付日,区コード,区名,受付番号,届出経路,取消\r\n".encode("cp932"))
        assert run_nightly(config, SUGGESTED_AS_OF, None) == 0
    after = landed(url)
    assert_matches(after, expected_figures(tmp_path, procedures, [], SUGGESTED_AS_OF))
    changed = {k for k in after if k in before and after[k] != before[k]}
    assert changed and all(k[0] == "myna_moveout_share" for k in changed)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        revisions = dict(conn.execute(sa.text(
            "SELECT kpi_id, COUNT(*) FROM kpi_actual WHERE revision > 1 GROUP BY kpi_id")).all())
        dupes = conn.execute(sa.text(
            "SELECT kpi_id, period, scope FROM kpi_actual WHERE is_current GROUP BY kpi_id, period, scope "
            "HAVING COUNT(*) > 1")).all()
    assert revisions.get("myna_moveout_share", 0) >= len(changed) and set(revisions) <= {"myna_moveout_share"}
    assert dupes == []
    # Each revision points at the lineage it was computed from: the file's old content and its new one.
    with engine.connect() as conn:
        details = [json.loads(d) for (d,) in conn.execute(sa.text(
            "SELECT detail FROM lineage WHERE source = 'moveout_log' ORDER BY created_at"))]
        used = {json.loads(x)["lineage_id"] for (x,) in conn.execute(sa.text(
            "SELECT DISTINCT lineage FROM kpi_actual WHERE kpi_id = 'myna_moveout_share'"))}
    hashes = [{sha for name, sha, *_ in d["files"] if name == victim.name} for d in details]
    assert len(details) == 2 and hashes[0] != hashes[1] and len(used) == 2
