"""The benchmark's baseline and the pipeline count the same thing on the same files."""
from __future__ import annotations

import shutil
import sys
from datetime import date
from pathlib import Path

import pytest

from jisseki.catalog import load_catalog
from jisseki.pipeline import collect
from jisseki.source_config import MoveoutSourceConfig
from jisseki.sources import SOURCE_DEFS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from generate import generate  # noqa: E402
from run import baseline  # noqa: E402


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
