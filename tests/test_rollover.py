"""Fiscal-year rollover: FY2026's policy files beside FY2025's (both departments, as the demo ships them). FY2025
stays graded as it was, FY2026 is graded from April 2026 and not before, a continuing indicator keeps its
history and last year's actual, and the manual template of FY2026 has FY2026's rows."""
from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path

import pytest

from jisseki.catalog import load_catalog
from jisseki.cli import main
from jisseki.core.errors import ConfigError
from jisseki.core.model import Figure
from jisseki.demo.run import write_policies
from jisseki.demo.samples import DEMO_AS_OF, NOCODE_APPS, PROCEDURES, load_samples
from jisseki.evaluate import Verdict, evaluate
from tests import handcount, handcount_ward
from tests.demo_data_ward import WARD_FY2025
from tests.support import SEED_FY2025

APRIL = date(2026, 4, 30)
CONTINUING = {"online_procedures", "myna_moveout_share", "nocode_operations", "speech_hours_monthly",
              "external_specialists", "dx_core_training_participants", "dataviz_department_share",
              "kita_window_wait", "kita_konbini_share", "kita_visitor_satisfaction", "kita_disaster_supporters"}
NEW_IN_FY2026 = {"genai_staff_users", "kita_writing_free_counter"}


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_policies(tmp_path_factory.mktemp("policies"))


@pytest.fixture(scope="module")
def figures(tmp_path_factory: pytest.TempPathFactory) -> list[Figure]:
    """The demo's figures by the hand counts (both departments), as the warehouse would hold them."""
    root = tmp_path_factory.mktemp("samples")
    samples = load_samples()
    samples.write_inbox(root)
    (root / "db").mkdir()
    (root / "db" / "certificate_issue.csv").write_bytes(samples.files["db/certificate_issue.csv"])
    inbox = root / "inbox"
    counted = {**handcount.procedure_figures(samples.records(PROCEDURES), DEMO_AS_OF),
               **handcount.moveout_figures(inbox / "tenshutsu", DEMO_AS_OF),
               **handcount.speech_figures(inbox / "speech", DEMO_AS_OF),
               **handcount.nocode_figures(samples.records(NOCODE_APPS), DEMO_AS_OF),
               **handcount.dataviz_figures(inbox, DEMO_AS_OF),
               **handcount.manual_figures(inbox / "manual"),
               **handcount_ward.ward_figures(root, DEMO_AS_OF)}
    return [Figure(kpi, period, scope, f["as_of"], f["value"], f["numerator"], f["denominator"])
            for (kpi, period, scope), f in counted.items()]


def graded(verdicts: list[Verdict], fy: int) -> dict[str, dict]:
    return {v.kpi_id: asdict(v) for v in verdicts if v.fiscal_year == fy and v.scope == "city"}


def test_the_folder_holds_both_departments_and_both_years(policies: list[Path]) -> None:
    catalog = load_catalog(policies[0].parent)
    assert catalog.departments() == ["デジタル統括室", "北区役所"]
    assert [(p.department, p.fiscal_year) for p in catalog.policies] == [
        ("デジタル統括室", 2025), ("デジタル統括室", 2026), ("北区役所", 2025), ("北区役所", 2026)]
    assert {i.id for i in catalog.indicators if 2026 in i.target_years()} == CONTINUING | NEW_IN_FY2026
    # The view of FY2025 is FY2025's policies, without the indicators FY2026 adds.
    fy2025 = catalog.of_year(2025)
    assert [fy2025.policy_for(d, fy2025.latest_fy()).title for d in fy2025.departments()] == [
        "令和7年度 デジタル統括室運営方針", "令和7年度 北区役所運営方針"]
    assert fy2025.ids() == set(SEED_FY2025) | set(WARD_FY2025)
    with pytest.raises(ConfigError, match="2024年度以前の運営方針はありません（あるのは 2025年度、2026年度）"):
        catalog.of_year(2024)


def test_fy2025_is_graded_as_before_the_fy2026_files(policies: list[Path], figures: list[Figure]) -> None:
    both = load_catalog(policies[0].parent)
    fy2025_only = load_catalog([p for p in policies if "2026" not in p.name])
    for as_of in (date(2025, 12, 31), DEMO_AS_OF, APRIL):
        assert graded(evaluate(figures, both, as_of), 2025) == graded(evaluate(figures, fy2025_only, as_of), 2025)
    verdicts = graded(evaluate(figures, both, DEMO_AS_OF), 2025)
    assert {k: (round(v["actual"], 2), v["grade"], v["prior_year_actual"]) for k, v in verdicts.items()} == \
        {**SEED_FY2025, **WARD_FY2025}


def test_fy2026_is_graded_from_april_and_not_before(policies: list[Path], figures: list[Figure]) -> None:
    catalog = load_catalog(policies[0].parent)
    assert not graded(evaluate(figures, catalog, DEMO_AS_OF), 2026)
    assert not graded(evaluate(figures, catalog, date(2026, 3, 31)), 2026)
    first = graded(evaluate(figures, catalog, date(2026, 4, 1)), 2026)
    assert set(first) == CONTINUING | NEW_IN_FY2026
    assert all(v["status"] == "no_data" for v in first.values())   # no FY2026 figure yet


def test_a_continuing_indicator_keeps_its_history_and_last_years_actual(policies: list[Path],
                                                                        figures: list[Figure]) -> None:
    catalog = load_catalog(policies[0].parent)
    april = [Figure("dataviz_department_share", "FY2026", "city", APRIL, 0.31, 31, 100),
             Figure("kita_window_wait", "FY2026", "city", APRIL, 17.5),
             Figure("kita_disaster_supporters", "FY2026", "city", APRIL, 12)]
    fy2026 = graded(evaluate([*figures, *april], catalog, APRIL), 2026)
    # Last year's actual is the FY2025 figure (no policy publishes it yet).
    assert fy2026["dataviz_department_share"]["prior_year_actual"] == 0.64
    assert fy2026["dataviz_department_share"]["target"] == 0.70
    assert fy2026["kita_window_wait"]["prior_year_actual"] == pytest.approx(16.8)
    # 前年度比10%短縮 again, now from FY2025's actual (16.8 分): 15.12 分, and 17.5 分 so far is at risk.
    assert fy2026["kita_window_wait"]["target"] == pytest.approx(15.12)
    assert "2025年度の実績 16.8 から -10%" in fy2026["kita_window_wait"]["rule"]
    assert fy2026["kita_window_wait"]["status"] == "at_risk"
    # The plan's second year counts on from its first: 104 + 12 against 66.7% of 300.
    assert fy2026["kita_disaster_supporters"]["actual"] == 116
    assert fy2026["kita_disaster_supporters"]["target"] == pytest.approx(200.1)
    # The FY2026 policy drops the cashless milestone (done): FY2025's grade stays, no FY2026 row.
    assert "kita_cashless_counter" not in fy2026
    due = graded(evaluate(figures, catalog, APRIL), 2025)["kita_cashless_counter"]
    assert due["grade"] == "A" and due["rule"].startswith("期限までに完了すれば達成（A）")


def manual_rows(path: Path) -> list[tuple]:
    from openpyxl import load_workbook

    return [r for r in load_workbook(path)["実績"].iter_rows(values_only=True)][1:]


def test_the_fy2026_template_has_every_departments_fy2026_rows(policies: list[Path], tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "jisseki.toml"
    config.write_text(f'[catalog]\npath = "{policies[0].parent.as_posix()}"\n', "utf-8")
    out = tmp_path / "fy2026.xlsx"
    assert main(["manual-template", "--fy", "2026", "--config", str(config), "--out", str(out)]) == 0
    rows = manual_rows(out)
    assert [(r[0], r[1]) for r in rows] == [("external_specialists", "2026"), ("dx_core_training_participants", "2026"),
                                            ("genai_staff_users", "2026"), ("kita_disaster_supporters", "2026"),
                                            ("kita_writing_free_counter", "2026")]
    assert [r[9] for r in rows] == ["7名", "60名", "3,000名", "200.1人", "完了"]   # a plan's interim target
    ward = tmp_path / "kita.xlsx"
    assert main(["manual-template", "--fy", "令和8年度", "--config", str(config), "--department", "北区役所",
                 "--out", str(ward)]) == 0
    assert [r[0] for r in manual_rows(ward)] == ["kita_disaster_supporters", "kita_writing_free_counter"]
    # FY2025's template is FY2025's rows: the ward's milestone by its due year, the plan's first year.
    fy2025 = tmp_path / "kita2025.xlsx"
    assert main(["manual-template", "--fy", "2025", "--config", str(config), "--department", "北区役所",
                 "--out", str(fy2025)]) == 0
    assert [r[0] for r in manual_rows(fy2025)] == ["kita_cashless_counter", "kita_disaster_supporters"]
    capsys.readouterr()
    assert main(["manual-template", "--fy", "2026", "--config", str(config), "--department", "中央区役所",
                 "--out", str(tmp_path / "none.xlsx")]) == 2
    assert "所属「中央区役所」の運営方針はありません（あるのは デジタル統括室、北区役所）" in capsys.readouterr().err


@pytest.mark.e2e
@pytest.mark.usefixtures("prefect_harness")
def test_the_demo_rolls_over_into_fy2026_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The demo (FY2025), then April 2026: the FY2026 template filled in and landed, FY2026 graded beside FY2025."""
    from openpyxl import load_workbook

    workdir = tmp_path / "demo"
    assert main(["demo", "--workdir", str(workdir)]) == 0
    config = str(workdir / "jisseki.toml")
    template = workdir / "inbox" / "manual" / "実績入力_FY2026.xlsx"
    assert main(["manual-template", "--fy", "2026", "--config", config, "--out", str(template)]) == 0
    book = load_workbook(template)
    sheet = book["実績"]
    answers = {"genai_staff_users": ("1,250名", datetime(2026, 4, 24)),
               "kita_writing_free_counter": ("済", datetime(2026, 4, 27))}
    for row in range(2, sheet.max_row + 1):
        if (kpi := sheet[f"A{row}"].value) in answers:
            sheet[f"C{row}"], sheet[f"F{row}"] = answers[kpi]
            sheet[f"D{row}"], sheet[f"E{row}"] = "令和8年度 4月 実績報告", "北区役所" if kpi.startswith("kita") else "デジタル統括室"
    book.save(template)
    capsys.readouterr()
    assert main(["run", "--config", config, "--as-of", APRIL.isoformat(), "--source", "manual_entries"]) == 0
    capsys.readouterr()

    assert main(["status", "--config", config, "--fy", "2026", "--format", "json"]) == 0
    fy2026 = {r["kpi_id"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(fy2026) == CONTINUING | NEW_IN_FY2026 and all(r["as_of"] == APRIL.isoformat() for r in fy2026.values())
    assert fy2026["genai_staff_users"]["actual"] == 1250 and fy2026["genai_staff_users"]["prior_year_actual"] is None
    assert fy2026["kita_writing_free_counter"]["grade"] == "A"          # done before 2026-09-30
    assert fy2026["dataviz_department_share"]["prior_year_actual"] == 0.64
    assert fy2026["kita_window_wait"]["prior_year_actual"] == pytest.approx(16.8)
    assert fy2026["kita_window_wait"]["target"] == pytest.approx(15.12)

    assert main(["status", "--config", config, "--fy", "2025", "--format", "json"]) == 0
    fy2025 = {r["kpi_id"]: r for r in json.loads(capsys.readouterr().out)}
    assert {k: (round(r["actual"], 2), r["grade"], r["prior_year_actual"]) for k, r in fy2025.items()} == \
        {**SEED_FY2025, **WARD_FY2025}
