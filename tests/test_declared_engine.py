"""The declared measures over typed rows (jisseki/declared/engine.py), each case a small table counted by hand."""
from __future__ import annotations

from datetime import date

import duckdb
import pytest

from jisseki.declared import engine
from jisseki.declared.spec import CsvSource, MeasureSpec

D = date
COLUMNS = {"day": "date", "ward": "ward", "route": "text", "minutes": "number", "no": {"type": "text",
           "personal": True}, "until": "date", "seq": "integer"}


def run(rows: list[tuple], measure: dict, as_of: date, **decl: object) -> dict[tuple[str, str], tuple]:
    """rows: (day, ward, route, minutes, no, until, seq) in reading order → {(period, scope): (value, num, den)}."""
    source = CsvSource.model_validate({"type": "csv", "title": "テスト", "path": "x", "columns": COLUMNS,
                                       "date": "day", "scope": "ward", **decl})
    con = duckdb.connect()
    engine.create_rows(con, source)
    engine.insert_rows(con, "rows", [(i, r[0], r[1], *r) for i, r in enumerate(rows)])
    engine.kept_rows(con, source)
    figures = engine.figures(con, source, {"k": MeasureSpec.model_validate(measure)}, as_of)
    out = {}
    for f in figures:
        assert (f.period, f.scope) not in out
        out[(f.period, f.scope)] = (f.value, f.numerator, f.denominator, f.as_of)
    return out


A, B = "271021", "271039"


def test_count_per_month_with_empty_months_and_the_year_to_date():
    rows = [(D(2025, 4, 3), A, "窓口", 5, "1", None, 1), (D(2025, 4, 30), A, "窓口", 5, "2", None, 1),
            (D(2025, 6, 1), B, "郵送", 5, "3", None, 1), (D(2025, 6, 20), B, "窓口", 5, "4", None, 1)]
    got = run(rows, {"type": "count", "where": {"route": "窓口"}}, D(2025, 6, 15))
    assert got == {("2025-04", "city"): (2.0, None, None, D(2025, 4, 30)),
                   ("2025-05", "city"): (0.0, None, None, D(2025, 5, 31)),
                   ("2025-06", "city"): (0.0, None, None, D(2025, 6, 15)),   # the 20th is after the as-of date
                   ("FY2025", "city"): (2.0, None, None, D(2025, 6, 15))}


def test_ratio_per_scope_and_no_figure_without_a_denominator():
    rows = [(D(2025, 4, 1), A, "マイナポータル", 0, "1", None, 1), (D(2025, 4, 2), A, "窓口", 0, "2", None, 1),
            (D(2025, 4, 3), A, "窓口", 0, "3", None, 1), (D(2025, 6, 1), B, "マイナポータル", 0, "4", None, 1)]
    got = run(rows, {"type": "ratio", "numerator": {"route": "マイナポータル"}, "by_scope": True}, D(2025, 6, 30))
    assert got[("2025-04", "city")][:3] == (pytest.approx(1 / 3), 1.0, 3.0)
    assert got[("2025-04", A)][:3] == (pytest.approx(1 / 3), 1.0, 3.0)
    assert ("2025-05", "city") not in got and ("2025-04", B) not in got and ("2025-06", A) not in got
    assert got[("2025-06", B)][:3] == (1.0, 1.0, 1.0)
    assert got[("FY2025", "city")][:3] == (0.5, 2.0, 4.0)
    assert got[("FY2025", B)][:3] == (1.0, 1.0, 1.0)


def test_dedupe_keeps_the_first_read_by_default_and_the_last_or_latest_when_declared():
    # Two rows of one key (no): the first read says 窓口, the second 郵送 with a later day.
    rows = [(D(2025, 4, 1), A, "窓口", 1, "x", None, 7), (D(2025, 4, 2), A, "郵送", 2, "x", None, 3)]
    measure = {"type": "count", "where": {"route": "窓口"}}
    assert run(rows, measure, D(2025, 4, 30), key=["no"])[("FY2025", "city")][0] == 1.0
    assert run(rows, measure, D(2025, 4, 30), key=["no"], keep="last")[("FY2025", "city")][0] == 0.0
    # latest by seq: the first row has the larger seq, so it wins although read first.
    assert run(rows, measure, D(2025, 4, 30), key=["no"], latest="seq")[("FY2025", "city")][0] == 1.0
    assert run(rows, measure, D(2025, 4, 30))[("FY2025", "city")][0] == 1.0   # no key: both rows, one matches


def test_active_on_the_last_day_of_each_period_from_the_first_month():
    # (from, until): counted on D when from <= D and (until empty or until > D)
    rows = [(D(2025, 2, 10), A, "a", 0, "1", None, 1), (D(2025, 3, 1), A, "a", 0, "2", D(2025, 4, 30), 1),
            (D(2025, 4, 30), A, "a", 0, "3", None, 1)]
    got = run(rows, {"type": "active", "valid_from": "day", "valid_to": "until"}, D(2025, 5, 10))
    assert {k: v[0] for k, v in got.items()} == {
        ("2025-02", "city"): 1.0, ("2025-03", "city"): 2.0, ("2025-04", "city"): 2.0,   # 4/30: #2 ends that day
        ("2025-05", "city"): 2.0, ("FY2024", "city"): 2.0, ("FY2025", "city"): 2.0}
    assert got[("FY2024", "city")][3] == D(2025, 3, 31) and got[("2025-05", "city")][3] == D(2025, 5, 10)


def test_first_occurrence_counts_a_key_in_the_period_of_its_first_day():
    # route stands for a 業務 id here: 窓口 first on 2025-03-20 (FY2024), 郵送 on 2025-05-02
    rows = [(D(2025, 5, 2), A, "郵送", 0, "1", None, 1), (D(2025, 3, 20), A, "窓口", 0, "2", None, 1),
            (D(2025, 6, 1), A, "窓口", 0, "3", None, 1), (D(2025, 5, 9), A, "郵送", 0, "4", None, 1)]
    got = run(rows, {"type": "first", "column": "route"}, D(2025, 6, 30))
    values = {k[0]: v[0] for k, v in got.items()}
    assert values["FY2024"] == 1.0 and values["2025-03"] == 1.0 and values["2024-04"] == 0.0
    assert values["FY2025"] == 1.0 and values["2025-05"] == 1.0 and values["2025-06"] == 0.0


def test_distinct_sum_mean_latest_and_the_mean_of_complete_months():
    rows = [(D(2025, 4, 1), A, "a", 10, "1", None, 1), (D(2025, 4, 2), B, "b", 20, "1", None, 2),
            (D(2025, 5, 1), A, "a", 30, "2", None, 3), (D(2025, 5, 1), A, "c", 40, "3", None, 4)]
    as_of = D(2025, 5, 20)
    assert {k[0]: v[0] for k, v in run(rows, {"type": "distinct", "column": "route"}, as_of).items()} == \
        {"2025-04": 2.0, "2025-05": 2.0, "FY2025": 3.0}
    assert run(rows, {"type": "sum", "column": "minutes"}, as_of)[("FY2025", "city")][0] == 100.0
    assert run(rows, {"type": "mean", "column": "minutes", "where": {"route": ["a", "b"]}}, as_of)[
        ("2025-05", "city")][0] == 30.0
    # latest: the last row by day, then as read (two rows on 5/1: the one read later)
    assert run(rows, {"type": "latest", "column": "minutes"}, as_of)[("FY2025", "city")][0] == 40.0
    # mean of complete months: April (30) only, May runs on past the as-of date
    months = run(rows, {"type": "sum", "column": "minutes", "fiscal_year": "mean_of_months"}, as_of)
    assert months[("FY2025", "city")][0] == 30.0 and months[("2025-05", "city")][0] == 70.0


def test_filters_by_equality_membership_and_range():
    rows = [(D(2025, 4, 1), A, "a", 5, "1", None, 1), (D(2025, 4, 1), B, "b", 15, "2", None, 1),
            (D(2025, 4, 1), A, "c", 25, "3", None, 1)]
    as_of = D(2025, 4, 30)
    count = {"type": "count"}
    assert run(rows, {**count, "where": {"ward": A}}, as_of)[("FY2025", "city")][0] == 2.0
    assert run(rows, {**count, "where": {"route": ["a", "b"]}}, as_of)[("FY2025", "city")][0] == 2.0
    assert run(rows, {**count, "where": {"minutes": {"min": 10, "max": 25}}}, as_of)[("FY2025", "city")][0] == 2.0
    assert run(rows, {**count, "where": {"minutes": {"max": 10}, "ward": A}}, as_of)[("FY2025", "city")][0] == 1.0


def test_no_rows_no_figures_and_rows_that_do_not_count_count_zero_this_year():
    assert run([], {"type": "count"}, D(2025, 4, 30)) == {}
    late = [(D(2025, 5, 1), A, "a", 5, "1", None, 1)]
    assert run(late, {"type": "count"}, D(2025, 4, 30)) == {("2025-04", "city"): (0.0, None, None, D(2025, 4, 30)),
                                                            ("FY2025", "city"): (0.0, None, None, D(2025, 4, 30))}
    assert run(late, {"type": "mean", "column": "minutes"}, D(2025, 4, 30)) == {}
