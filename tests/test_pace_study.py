"""The pace study's counting (bench/pace.py) on hand-made histories: the first flag, whether it stayed, the
false-alarm nights, and the table's sums, so its published numbers cannot silently be wrong."""
from __future__ import annotations

import random
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from pace import METHODS, outcome, outcomes, table  # noqa: E402

from jisseki.core.periods import fy_months, month_end  # noqa: E402

NIGHTS = [month_end(m) for m in fy_months(2025)][:-1]   # April 30 ... February 28, before March 31
YEAR_END = date(2026, 3, 31)


def history(statuses: str, grade: str) -> list[tuple[date, str, str | None]]:
    """One letter a night, April to February: o on track, r at risk, a achieved; then March 31's grade."""
    names = {"o": "on_track", "r": "at_risk", "a": "achieved"}
    nights: list[tuple[date, str, str | None]] = [(d, names[c], None) for d, c in zip(NIGHTS, statuses, strict=True)]
    return nights + [(YEAR_END, "achieved" if grade == "A" else "missed", grade)]


def test_a_b_year_is_first_flagged_on_its_first_night_at_risk_and_stays_only_if_never_cleared() -> None:
    wavering = outcome("k", "linear", 1, 2025, history("orooooorrrr", "B"))
    assert (wavering.first_flag, wavering.days_early, wavering.stayed) == (date(2025, 5, 31), 304, False)
    steady = outcome("k", "linear", 1, 2025, history("ooooooorrrr", "B"))
    assert (steady.first_flag, steady.days_early, steady.stayed, steady.nights) == (date(2025, 11, 30), 121, True, 11)
    silent = outcome("k", "linear", 1, 2025, history("ooooooooooo", "B"))
    assert (silent.first_flag, silent.days_early, silent.stayed, silent.false_alarms) == (None, None, False, 0)


def test_an_a_year_counts_its_nights_at_risk_and_not_an_early_achievement() -> None:
    a = outcome("k", "seasonal", 1, 2025, history("rroooroaaaa", "A"))
    assert (a.grade, a.false_alarms, a.nights, a.first_flag, a.stayed) == ("A", 3, 11, None, False)
    shuffled = history("rroooroaaaa", "A")
    random.Random(3).shuffle(shuffled)
    assert outcome("k", "seasonal", 1, 2025, shuffled) == a


def test_the_table_sums_the_years_per_indicator_and_method() -> None:
    rows = [dict(kpi_id="k", method="linear", seed=1, fiscal_year=2025, as_of=d, status=s, grade=g)
            for d, s, g in history("orooooorrrr", "B")]
    rows += [dict(kpi_id="k", method="linear", seed=2, fiscal_year=2025, as_of=d, status=s, grade=g)
             for d, s, g in history("ooooooorrrr", "B")]
    rows += [dict(kpi_id="k", method="linear", seed=1, fiscal_year=2024, as_of=d.replace(year=d.year - 1), status=s,
                  grade=g) for d, s, g in history("rroooroaaaa", "A")]
    rows += [dict(kpi_id="k", method="seasonal", seed=1, fiscal_year=2025, as_of=d, status=s, grade=g)
             for d, s, g in history("ooooooooooo", "A")]
    lines = table(outcomes(rows)).splitlines()
    assert lines[2] == "| k | linear | 2 | 2 | 121（121〜304） | 1 | 1 | 3 / 11 | 1 |"
    assert lines[3] == "| k | seasonal | 0 | 0 | － | 0 | 1 | 0 / 11 | 0 |"
    assert len(lines) == 4 and "progress_ratio" in METHODS
