"""The evaluator's target model, as tables: every direction, baseline, band, multi-year plan and due date,
zero and missing baselines included. Each expected value is worked out by hand in the row."""
from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from jisseki.catalog import load_catalog, parse_catalog
from jisseki.core.errors import ConfigError
from jisseki.core.model import Figure
from jisseki.evaluate import Verdict, evaluate

YEAR_END = date(2026, 3, 31)


def catalog(policy_year: int = 2025, **indicator: Any) -> Any:
    base = {"id": "k", "challenge": 1, "name": "指標", "unit": "分", "kind": "mean", "source": "manual_entries"}
    return parse_catalog({"policy": {"id": "p", "title": "方針", "department": "北区役所", "fiscal_year": policy_year},
                          "challenges": {1: "課題"}, "indicators": [{**base, **indicator}]})


def fy(value: float, as_of: date = YEAR_END, year: int = 2025, scope: str = "city", **more: float) -> Figure:
    return Figure("k", f"FY{year}", scope, as_of, value, more.get("num"), more.get("den"))


def month(label: str, value: float, **more: float) -> Figure:
    year, m = map(int, label.split("-"))
    end = date(year + (m == 12), m % 12 + 1, 1).toordinal() - 1
    return Figure("k", label, "city", date.fromordinal(end), value, more.get("num"), more.get("den"))


def one(figures: list[Figure], as_of: date, year: int = 2025, scope: str = "city", **indicator: Any) -> Verdict:
    indicator.setdefault("policy_year", min(year, 2025))
    found = [v for v in evaluate(figures, catalog(**indicator), as_of) if v.fiscal_year == year and v.scope == scope]
    assert len(found) == 1, found
    return found[0]


# direction, target, actual at March 31 → grade
@pytest.mark.parametrize("direction, target, actual, grade", [
    ("at_least", 2000, 2000, "A"),
    ("at_least", 2000, 1999, "B"),
    ("at_least", 0, 0, "A"),             # a zero target is met by zero, no division anywhere
    ("at_most", 15, 15, "A"),
    ("at_most", 15, 15.1, "B"),
    ("at_most", 0, 0, "A"),              # zero incidents
    ("at_most", 0, 1, "B"),
    ("within", {"low": 0.30, "high": 0.40}, 0.30, "A"),
    ("within", {"low": 0.30, "high": 0.40}, 0.40, "A"),
    ("within", {"low": 0.30, "high": 0.40}, 0.2999, "B"),
    ("within", {"low": 0.30, "high": 0.40}, 0.41, "B"),
])
def test_each_direction_grades_the_year_end_figure(direction: str, target: Any, actual: float, grade: str) -> None:
    v = one([fy(actual)], YEAR_END, direction=direction, targets={2025: target})
    assert (v.grade, v.status) == (grade, "achieved" if grade == "A" else "missed")
    if direction == "within":
        assert (v.target, v.target_low, v.target_high) == (None, 0.30, 0.40)
    else:
        assert v.target == target


# target relative to a baseline: (spec, published actuals, warehouse baseline figure) → target
@pytest.mark.parametrize("spec, actuals, baseline, target", [
    ({"change_share": -0.10}, {2024: 18.0}, None, 16.2),                         # 前年度比 10% 短縮
    ({"change_share": -0.10}, {}, fy(20.0, date(2025, 3, 31), 2024), 18.0),       # baseline from the warehouse
    ({"change": 5, "baseline": 2023}, {2023: 100.0, 2024: 50.0}, None, 105.0),   # a named year, absolute
    ({"change_share": -0.02}, {2024: 0.0}, None, 0.0),                           # zero baseline: zero target
    ({"change_share": 0.0}, {2024: 12.5}, None, 12.5),
])
def test_a_change_target_is_the_baseline_years_actual_moved_by_the_change(
        spec: dict[str, Any], actuals: dict[int, float], baseline: Figure | None, target: float) -> None:
    figures = [fy(target)] + ([baseline] if baseline else [])
    v = one(figures, YEAR_END, direction="at_most", targets={2025: spec}, actuals=actuals)
    assert v.target == pytest.approx(target) and v.grade == "A"
    assert "年度の実績" in v.rule
    worse = one([fy(target + 0.5)] + ([baseline] if baseline else []), YEAR_END, direction="at_most",
                targets={2025: spec}, actuals=actuals)
    assert worse.grade == "B"


@pytest.mark.parametrize("baseline", [None, fy(20.0, date(2025, 2, 28), 2024)],
                         ids=["no baseline figure", "baseline year not counted to March 31"])
def test_without_a_full_baseline_year_there_is_no_target_and_no_grade(baseline: Figure | None) -> None:
    figures = [fy(10.0)] + ([baseline] if baseline else [])
    v = one(figures, YEAR_END, direction="at_most", targets={2025: {"change_share": -0.1}})
    assert (v.target, v.grade, v.status, v.actual) == (None, None, "no_data", 10.0)
    assert "その実績がないため目標を決められません" in v.rule


# A plan of 900 over FY2023–2025: (year, earlier actuals, this year's count, interim target, grade)
PLAN = {"kind": "count_per_fy", "unit": "人", "plan": {"first": 2023, "last": 2025, "total": 900}}


@pytest.mark.parametrize("year, actuals, count, target, grade", [
    (2023, {}, 301, 300.6, "A"),                    # 33.4% of 900 after one year of three
    (2023, {}, 300, 300.6, "B"),                    # a third is not enough: the share is rounded up
    (2024, {2023: 310}, 290, 600.3, "B"),           # 66.7%: 600 accumulated misses by 0.3
    (2024, {2023: 310}, 291, 600.3, "A"),
    (2025, {2023: 310, 2024: 290}, 300, 900, "A"),  # the plan's total in its last year
    (2025, {2023: 310, 2024: 290}, 299, 900, "B"),
])
def test_a_plan_grades_the_count_accumulated_since_its_first_year(
        year: int, actuals: dict[int, float], count: float, target: float, grade: str) -> None:
    end = date(year + 1, 3, 31)
    v = one([fy(count, end, year)], end, year, actuals=actuals, **PLAN)
    assert v.target == pytest.approx(target) and v.grade == grade
    assert v.actual == count + sum(actuals.values())


def test_years_before_the_departments_first_policy_are_history_not_graded() -> None:
    verdicts = evaluate([], catalog(actuals={2023: 310, 2024: 290}, **PLAN), YEAR_END)
    assert [v.fiscal_year for v in verdicts] == [2025]


def test_a_plans_interim_target_may_be_set_and_an_unknown_earlier_year_leaves_no_grade() -> None:
    set_interim = one([fy(290, date(2025, 3, 31), 2024)], date(2025, 3, 31), 2024, actuals={2023: 310},
                      targets={2024: 600}, **PLAN)
    assert (set_interim.target, set_interim.grade) == (600, "A")
    unknown = one([fy(300)], YEAR_END, actuals={2023: 310}, **PLAN)   # FY2024 neither published nor landed
    assert (unknown.status, unknown.actual, unknown.grade) == ("no_data", None, None)


# progress_ratio: at 2025-09-30 (183 of 365 days) in the plan's third year, it asks for
# (2 + 183/365) / 3 = 83.38% → 83.4% of 900 = 750.6
@pytest.mark.parametrize("count, status", [(150, "at_risk"), (151, "on_track")])
def test_progress_ratio_asks_for_the_share_the_plans_length_gives_by_now(count: float, status: str) -> None:
    v = one([fy(count, date(2025, 9, 30))], date(2025, 9, 30), actuals={2023: 310, 2024: 290},
            pace="progress_ratio", **PLAN)
    assert v.status == status and v.actual == 600 + count and "進捗率" in v.projection_method


# A milestone due 2025-10-31: (figure's day and value or None, as of) → (grade, status)
@pytest.mark.parametrize("figure, as_of, grade, status", [
    ((date(2025, 9, 1), 1), date(2025, 9, 1), "A", "achieved"),
    ((date(2025, 10, 31), 1), date(2025, 11, 3), "A", "achieved"),     # done on the due date itself
    ((date(2025, 11, 5), 1), date(2025, 11, 5), "B", "missed"),        # done, but late
    ((date(2025, 10, 1), 0), date(2025, 11, 1), "B", "missed"),        # past due, not done: B at once
    (None, date(2025, 11, 1), "B", "missed"),                          # past due, nothing entered
    ((date(2025, 10, 1), 0), date(2025, 10, 10), None, "at_risk"),     # 21 days before the due date
    ((date(2025, 8, 1), 0), date(2025, 8, 1), None, "on_track"),
    (None, date(2025, 8, 1), None, "no_data"),
])
def test_a_milestone_with_a_due_date_is_late_when_not_done_by_it(
        figure: tuple[date, float] | None, as_of: date, grade: str | None, status: str) -> None:
    figures = [fy(figure[1], figure[0])] if figure else []
    v = one(figures, as_of, kind="milestone", unit="", due=date(2025, 10, 31))
    assert (v.grade, v.status, v.target) == (grade, status, 1.0)
    assert "期限" in v.rule


def test_a_due_date_belongs_to_its_own_fiscal_year() -> None:
    later = one([], date(2026, 5, 1), 2026, kind="milestone", unit="", due=date(2025, 10, 31), targets={2026: 1})
    assert (later.grade, later.status, later.target) == (None, "no_data", 1.0) and "期限" not in later.rule
    assert one([], date(2025, 11, 1), kind="milestone", unit="", due=date(2025, 10, 31),
               targets={2026: 1}).grade == "B"


# During the year: (kind, direction, target, figure so far, as of) → status
@pytest.mark.parametrize("kind, direction, target, value, status", [
    ("mean", "at_most", 15, 14.0, "on_track"),
    ("mean", "at_most", 15, 16.0, "at_risk"),                       # the mean so far is held to March
    ("ratio", "within", {"low": 0.30, "high": 0.40}, 0.35, "on_track"),
    ("ratio", "within", {"low": 0.30, "high": 0.40}, 0.45, "at_risk"),
    ("count_per_fy", "at_most", 100, 101, "missed"),                # a count cannot come back under it
    ("count_per_fy", "at_most", 100, 60, "at_risk"),                # 60 by Sep 30 projects to ~120
    ("count_per_fy", "at_least", 100, 101, "achieved"),
])
def test_within_the_year_each_direction_marks_what_is_at_risk(
        kind: str, direction: str, target: Any, value: float, status: str) -> None:
    v = one([fy(value, date(2025, 9, 30))], date(2025, 9, 30), kind=kind, direction=direction, targets={2025: target})
    assert (v.grade, v.status) == (None, status)


# Last year: Apr–Jan 10 each, Feb 40, Mar 60 = 200; by Sep 30 last year had 60 of 200 = 30%.
LAST_YEAR = [month(f"2024-{m:02d}", 10) for m in range(4, 13)] + [month("2025-01", 10), month("2025-02", 40),
                                                                   month("2025-03", 60)]


def test_seasonal_pace_divides_by_last_years_share_reached_by_the_same_day() -> None:
    common = {"kind": "count_per_fy", "unit": "件", "targets": {2025: 200}}
    seasonal = one([*LAST_YEAR, fy(66, date(2025, 9, 30))], date(2025, 9, 30), pace="seasonal", **common)
    linear = one([*LAST_YEAR, fy(66, date(2025, 9, 30))], date(2025, 9, 30), **common)
    assert seasonal.projected == pytest.approx(66 / 0.3) and seasonal.status == "on_track"
    assert linear.projected == pytest.approx(66 * 365 / 183) and linear.status == "at_risk"
    assert "季節" in seasonal.projection_method


def test_seasonal_pace_takes_a_ratios_numerator_and_denominator_each_and_falls_back_without_a_profile() -> None:
    # Last year: 10 of 100 a month, except March 90 of 300 (a busy month that uses the service more).
    profile = [month(f"{2024 + (m < 4)}-{m:02d}", 0.1, num=10, den=100) for m in [*range(4, 13), 1, 2]]
    profile.append(month("2025-03", 0.3, num=90, den=300))
    so_far = fy(0.1, date(2025, 9, 30), num=60, den=600)
    v = one([*profile, so_far], date(2025, 9, 30), kind="ratio", unit="%", pace="seasonal", targets={2025: 0.12})
    # numerator: 60 ÷ (60/200) = 200; denominator: 600 ÷ (600/1400) = 1400 → 1/7
    assert v.projected == pytest.approx(200 / 1400) and v.status == "on_track"
    gap = one([*profile[:-1], so_far], date(2025, 9, 30), kind="ratio", unit="%", pace="seasonal",
              targets={2025: 0.12})
    assert gap.projected == pytest.approx(0.1) and gap.status == "at_risk"
    assert gap.projection_method.startswith("前年度の月別実績がそろっていないため")


def test_targets_per_scope_are_graded_beside_the_city() -> None:
    figures = [fy(0.33), fy(0.35, scope="271021"), fy(0.25, scope="271039")]
    found = {v.scope: v for v in evaluate(figures, catalog(kind="ratio", unit="%", targets={2025: 0.3},
                                                           scope_targets={"*": {2025: 0.3},
                                                                          "271276": {2025: 0.5}}), YEAR_END)}
    assert {s: v.grade for s, v in found.items()} == {"city": "A", "271021": "A", "271039": "B", "271276": None}
    assert found["271276"].status == "no_data"     # named with a target of its own, but no figure


def test_about_targets_are_graded_as_plain_targets_and_say_so() -> None:
    v = one([fy(59.9)], YEAR_END, kind="count_per_fy", about=True, targets={2025: 60})
    assert v.grade == "B" and "程度" in v.rule


@pytest.mark.parametrize("indicator, message", [
    ({"direction": "within", "targets": {2025: 0.3}}, "範囲"),
    ({"direction": "at_least", "targets": {2025: {"low": 0.1, "high": 0.2}}}, "within"),
    ({"targets": {2025: {"low": 0.3, "high": 0.2}}, "direction": "within"}, "low"),
    ({"due": date(2025, 10, 31)}, "due"),
    ({"kind": "ratio", "plan": {"first": 2023, "last": 2025, "total": 1}}, "plan"),
    ({"pace": "progress_ratio"}, "progress_ratio"),
    ({"targets": {2025: {"change": 1, "change_share": 0.1}}}, "どちらか一方"),
    ({"kind": "count_per_fy", "plan": {"first": 2023, "last": 2025, "total": 9}, "targets": {2026: 1}}, "計画"),
    ({"kind": "milestone", "direction": "at_most"}, "マイルストーン"),
    ({"scope_targets": {"kita": {2025: 1}}}, "6 桁の団体コード"),
])
def test_a_target_that_cannot_be_graded_is_refused_when_the_catalog_is_read(indicator: dict[str, Any],
                                                                             message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        catalog(**{"targets": {2025: 1}, **indicator})


def policy(path: Path, department: str, year: int, *ids_targets: tuple[str, float]) -> Path:
    rows = "".join(f'[[indicators]]\nid = "{i}"\nchallenge = 1\nname = "{i}"\nunit = "件"\nkind = "count_per_fy"\n'
                   f'source = "manual_entries"\ntargets = {{ {year} = {t} }}\n\n' for i, t in ids_targets)
    path.write_text(f'[policy]\nid = "{department}-{year}"\ntitle = "{department} {year}"\n'
                    f'department = "{department}"\nfiscal_year = {year}\n\n[challenges]\n1 = "課題"\n\n{rows}',
                    "utf-8")
    return path


def test_policies_merge_a_continuing_indicator_and_name_both_files_on_a_clash(tmp_path: Path) -> None:
    folder = tmp_path / "policies"
    folder.mkdir()
    policy(folder / "a2025.toml", "デジタル統括室", 2025, ("x", 10), ("y", 1))
    policy(folder / "a2026.toml", "デジタル統括室", 2026, ("x", 12))
    policy(folder / "kita2025.toml", "北区役所", 2025, ("w", 5))
    merged = load_catalog(folder)
    assert merged.departments() == ["デジタル統括室", "北区役所"]
    assert merged.get("x").targets == {2025: 10, 2026: 12} and merged.get("x").policy == "デジタル統括室-2026"
    assert merged.get("w").department == "北区役所"
    assert [i.id for i in merged.of_department("北区役所").indicators] == ["w"]
    prior = [v for v in evaluate([Figure("x", "FY2025", "city", date(2026, 3, 31), 11)], merged, date(2026, 4, 1))
             if v.kpi_id == "x" and v.fiscal_year == 2026]
    assert prior[0].prior_year_actual == 11 and prior[0].target == 12
    policy(tmp_path / "other.toml", "北区役所", 2026, ("x", 3))
    with pytest.raises(ConfigError, match=r"a2026\.toml.*other\.toml"):
        load_catalog([folder, tmp_path / "other.toml"])
    policy(tmp_path / "again.toml", "北区役所", 2025, ("v", 3))
    with pytest.raises(ConfigError, match=r"kita2025\.toml と .*again\.toml"):
        load_catalog([folder, tmp_path / "again.toml"])
