"""The benchmark's baseline and the pipeline count the same thing on the same files."""
from __future__ import annotations

import shutil
import sys
from datetime import date
from pathlib import Path

import pytest

from jisseki.catalog import load_catalog
from jisseki.config import load_config
from jisseki.pipeline import collect
from jisseki.source_config import MoveoutSourceConfig
from jisseki.sources import SOURCE_DEFS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from generate import generate, generate_declared  # noqa: E402
from run import DECLARED, DECLARED_BASELINE_SQL, DECLARED_CONFIG, DECLARED_POLICY, baseline  # noqa: E402


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("iconv") is None, reason="iconv is not installed")
def test_baseline_and_pipeline_agree_per_month_and_ward(tmp_path: Path) -> None:
    import duckdb

    files = generate(3000, tmp_path / "data", days=40)
    seconds, groups = baseline(files, tmp_path)
    batch = collect(SOURCE_DEFS["moveout_log"], MoveoutSourceConfig(path=tmp_path / "data"), load_catalog(),
                    date(2026, 3, 31), 0.05)
    ours = {(f.period, f.scope): (f.numerator, f.denominator) for f in batch.figures
            if f.scope != "city" and not f.period.startswith("FY")}
    from run import BASELINE_SQL

    theirs = {(month, ward): (float(myna), float(total)) for month, ward, total, myna in
              duckdb.sql(BASELINE_SQL.format(folder=tmp_path / "baseline-utf8")).fetchall()}
    assert groups == len(theirs) and ours == theirs and seconds > 0


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("iconv") is None, reason="iconv is not installed")
def test_the_declared_scenario_baseline_and_pipeline_agree(tmp_path: Path) -> None:
    import duckdb

    files = generate_declared(3000, tmp_path / "data", days=40)
    seconds, groups = baseline(files, tmp_path, DECLARED_BASELINE_SQL)
    (tmp_path / "jisseki.toml").write_text(DECLARED_CONFIG.replace('"inbox"', f'"{tmp_path / "data"}"'), "utf-8")
    (tmp_path / "policy.toml").write_text(DECLARED_POLICY, "utf-8")
    config = load_config(tmp_path / "jisseki.toml", {})
    batch = collect(config.source_def(DECLARED), config.source(DECLARED), load_catalog(config.catalog.path),
                    date(2026, 3, 31), 0.05)
    assert batch.rejected is None and batch.rows_read == 3000 and not batch.bad
    monthly = [f for f in batch.figures if not f.period.startswith("FY")]
    ours = {(f.period, f.scope): (f.numerator, f.denominator) for f in monthly
            if f.kpi_id == "resident_share" and f.scope != "city"}
    ours |= {(f.period, None): (None, f.value) for f in monthly if f.kpi_id == "filings" and f.value}
    theirs = {(month, ward): (None if ward is None else float(residents), float(filings)) for month, ward, filings,
              residents in duckdb.sql(DECLARED_BASELINE_SQL.format(folder=tmp_path / "baseline-utf8")).fetchall()}
    assert groups == len(theirs) and ours == theirs and seconds > 0
