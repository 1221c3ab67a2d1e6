"""All six sources from unseen data through the real flow: exact figures, exact grades, nothing personal."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from flows.run import run_nightly
from jisseki.catalog import load_catalog
from jisseki.core.periods import fy_end
from tests.handcount import expected_bad_counts, expected_figures
from tests.sample_api import SampleApi
from tests.support import TOKEN, TOKEN_ENV, every_cell, table_counts, write_config
from tests.test_exactness import assert_matches, landed, quarantined
from tests.unseen import personal_values, write_unseen
from tests.unseen_more import (
    SUGGESTED_AS_OF_MORE,
    personal_values_more,
    write_unseen_more,
)

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_harness")]
NOCODE_ENV = "JISSEKI_TEST_NOCODE_TOKEN"
AS_OF = SUGGESTED_AS_OF_MORE


def six_source_config(folder, url: str, api: SampleApi, nocode: SampleApi, **extra: dict):
    """The config of a run of all six sources on unseen data, its two APIs served by `api` and `nocode`."""
    return write_config(folder, url, api.base_url, **{
        "sources.nocode_apps": {"base_url": nocode.base_url, "token_env": NOCODE_ENV, "max_retries": 1},
        "sources.dataviz_access": {"path": "dataviz", "departments": "departments.csv"},
        "sources.manual_entries": {"path": "manual"}, **extra})


def evaluations(url: str) -> dict[tuple[str, int], tuple]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT kpi_id, fiscal_year, actual, grade, status FROM kpi_evaluation WHERE id IN "
            "(SELECT MAX(id) FROM kpi_evaluation GROUP BY kpi_id, fiscal_year)")).all()
    engine.dispose()
    return {(k, fy): (a, g, s) for k, fy, a, g, s in rows}


def expected_grades(expected: dict, catalog) -> dict[str, str]:
    """FY2025 is over on the as-of date: A where the year's figure meets its target, else B."""
    out = {}
    for ind in catalog.indicators:
        figure = expected.get((ind.id, "FY2025", "city"))
        if figure is not None and figure["as_of"] >= fy_end(2025):
            out[ind.id] = "A" if figure["value"] >= ind.targets[2025] else "B"
    return out


@pytest.mark.parametrize("seed", [0, 3])
def test_six_sources_land_and_grade_exactly(tmp_path, monkeypatch, warehouse_url, seed) -> None:
    procedures = write_unseen(tmp_path, seed)
    apps = write_unseen_more(tmp_path, seed)
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.setenv(NOCODE_ENV, TOKEN)
    with SampleApi(procedures, TOKEN) as api, SampleApi.nocode(apps, TOKEN) as nocode:
        config = six_source_config(tmp_path, warehouse_url, api, nocode)
        assert run_nightly(config, AS_OF, None) == 0
        first = table_counts(warehouse_url)
        assert run_nightly(config, AS_OF, None) == 0

    expected = expected_figures(tmp_path, procedures, apps, AS_OF)
    assert_matches(landed(warehouse_url), expected)
    bad = expected_bad_counts(tmp_path, procedures, apps)
    assert quarantined(warehouse_url) == {k: v for k, v in bad.items() if v}

    catalog = load_catalog()
    grades = expected_grades(expected, catalog)
    got = evaluations(warehouse_url)
    assert {k: got[(k, 2025)][1] for k in grades} == grades
    assert {"external_specialists", "infra_training_participants", "security_strategy_revised"} <= {
        k for k, g in grades.items() if g == "B"}
    fy2026 = got[("dataviz_department_share", 2026)]
    assert fy2026[0] == pytest.approx(expected[("dataviz_department_share", "FY2026", "city")]["value"])
    assert fy2026[1] is None and fy2026[2] in {"on_track", "at_risk"}  # graded against 70% only at year end

    second = table_counts(warehouse_url)
    for table in ("kpi_actual", "quarantine", "lineage", "ingest_state"):
        assert second[table] == first[table], table
    stored = every_cell(warehouse_url)
    personal = personal_values(tmp_path, seed) | personal_values_more(tmp_path, seed)
    assert sorted(v for v in personal if len(v) >= 4 and v in stored) == []
