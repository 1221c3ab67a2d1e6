"""The demo's shipped inputs for contracts 4, 5 and 6 reproduce the published figures under the contract rules.

As in test_demo_data.py, the readers here are small re-implementations of the
rules in /work/shared/contracts/sources.md (and the project's decisions on
them), independent of the connectors and of the generator.
"""

from __future__ import annotations

import csv
import functools
import re
import unicodedata
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import openpyxl
import pytest

from jisseki.demo.samples import DEMO_AS_OF as AS_OF
from jisseki.demo.samples import NOCODE_APPS, load_samples

JST = timezone(timedelta(hours=9))
APP_KEYS = {"app_id", "name", "business_id", "status", "operation_started_on", "retired_on"}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo_more")
    load_samples().write_inbox(path)
    return path


@functools.cache
def demo_nocode_apps() -> list[dict]:
    return load_samples().records(NOCODE_APPS)


def fiscal_year(d: date) -> int:
    return d.year if d.month >= 4 else d.year - 1


# --- no-code apps (contract 4) ----------------------------------------------------


def business_starts(apps: list[dict]) -> dict[str, date]:
    starts: dict[str, date] = {}
    for app in apps:
        if app["status"] in {"in_operation", "retired"} and app["operation_started_on"]:
            day = date.fromisoformat(app["operation_started_on"])
            if app["business_id"] not in starts or day < starts[app["business_id"]]:
                starts[app["business_id"]] = day
    return starts


def nocode_count(apps: list[dict], fy: int, as_of: date = AS_OF) -> int:
    return sum(fiscal_year(d) == fy and d <= as_of for d in business_starts(apps).values())


def test_nocode_operations_counts() -> None:
    apps = demo_nocode_apps()
    assert nocode_count(apps, 2025) == 50
    assert nocode_count(apps, 2024) == 59
    assert nocode_count(apps, 2024, date(2025, 3, 31)) == 59


def test_nocode_apps_shape_and_paging() -> None:
    apps = demo_nocode_apps()
    assert 180 <= len(apps) <= 250 and len(apps) % 100 != 0
    assert len({a["app_id"] for a in apps}) == len(apps)
    assert [int(a["app_id"]) for a in apps] == sorted(int(a["app_id"]) for a in apps)
    for a in apps:
        assert set(a) == APP_KEYS
        assert re.fullmatch(r"\d+", a["app_id"]) and re.fullmatch(r"OPS-\d{4}", a["business_id"])
        assert a["status"] in {"draft", "testing", "in_operation", "retired"}
        assert (a["status"] == "retired") == (a["retired_on"] is not None)
        assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", a["name"])
        if a["retired_on"]:
            assert a["operation_started_on"] <= a["retired_on"] <= AS_OF.isoformat()


def test_nocode_apps_have_the_edge_cases() -> None:
    apps = demo_nocode_apps()
    starts = business_starts(apps)
    by_business = defaultdict(list)
    for a in apps:
        by_business[a["business_id"]].append(a)
    counted = [a for a in apps if a["status"] in {"in_operation", "retired"} and a["operation_started_on"]]
    app_fy = Counter(fiscal_year(date.fromisoformat(a["operation_started_on"])) for a in counted
                     if a["operation_started_on"] <= AS_OF.isoformat())
    assert app_fy[2025] > 50  # counting apps instead of 業務 gives a different answer
    assert min(starts.values()) < date(2022, 10, 1)
    # FY2024 業務 with another app in FY2025 (must not count again).
    again = [b for b, d in starts.items() if fiscal_year(d) == 2024 and any(
        a["operation_started_on"] and fiscal_year(date.fromisoformat(a["operation_started_on"])) == 2025
        for a in by_business[b])]
    assert len(again) >= 10
    # A 業務 whose earliest app is not its first in list order.
    assert any(date.fromisoformat(next(a for a in by_business[b] if a in counted)["operation_started_on"]) != d
               for b, d in starts.items())
    drafts = [a for a in apps if a["status"] in {"draft", "testing"}]
    assert {a["status"] for a in drafts} == {"draft", "testing"}
    assert sum(a["operation_started_on"] is not None for a in drafts) >= 4
    assert any(a["operation_started_on"] and date.fromisoformat(a["operation_started_on"]) < starts.get(
        a["business_id"], date.max) for a in drafts)
    assert sum(a["status"] == "in_operation" and a["operation_started_on"] is None for a in apps) >= 3
    assert sum(a["status"] == "retired" for a in apps) >= 8
    assert sum(d > AS_OF for d in starts.values()) >= 3
    assert {d for d in starts.values()} >= {date(2024, 4, 1), date(2025, 3, 31),
                                              date(2025, 4, 1), date(2026, 3, 31)}


# --- data-visualization access log (contract 5) -------------------------------------


def read_master(path: Path) -> dict[str, tuple[date, date | None]]:
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["department_code", "department_name", "valid_from", "valid_to"]
    return {r["department_code"]: (date.fromisoformat(r["valid_from"]),
                                   date.fromisoformat(r["valid_to"]) if r["valid_to"] else None)
            for r in rows}


def read_accesses(folder: Path) -> dict[str, list[dict]]:
    files = {}
    for path in sorted(folder.glob("*.csv")):
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            assert reader.fieldnames == ["accessed_at", "user_id", "department_code", "content_id"]
            files[path.name] = list(reader)
    return files


def valid(period: tuple[date, date | None], d: date) -> bool:
    start, end = period
    return start <= d and (end is None or d <= end)


def share(master: dict, accesses: list[tuple[str, date]], fy: int, d: date) -> tuple[int, int]:
    valid_codes = {code for code, period in master.items() if valid(period, d)}
    used = {code for code, day in accesses if date(fy, 4, 1) <= day <= d}
    return len(valid_codes & used), len(valid_codes)


@pytest.fixture(scope="module")
def dataviz(root: Path) -> tuple[dict, dict[str, list[dict]], list[tuple[str, date]]]:
    master = read_master(root / "inbox" / "departments.csv")
    files = read_accesses(root / "inbox" / "dataviz")
    accesses = [(r["department_code"], datetime.fromisoformat(r["accessed_at"]).astimezone(JST).date())
                for rows in files.values() for r in rows if r["department_code"] in master]
    return master, files, accesses


def test_dataviz_department_share(dataviz: tuple) -> None:
    master, _, accesses = dataviz
    assert share(master, accesses, 2025, AS_OF) == (64, 100)
    assert share(master, accesses, 2024, date(2025, 3, 31)) == (55, 100)
    used, total = share(master, accesses, 2025, AS_OF)
    assert used / total == 0.64
    used, total = share(master, accesses, 2024, date(2025, 3, 31))
    assert used / total == 0.55


def test_dataviz_has_the_edge_cases(root: Path, dataviz: tuple) -> None:
    master, files, accesses = dataviz
    fy25, d25, d24 = date(2025, 4, 1), AS_OF, date(2025, 3, 31)
    used25 = {code for code, day in accesses if fy25 <= day <= d25}
    # Abolished within FY2025 after being used in it: out of both sides at D.
    abolished = [c for c, (_, end) in master.items() if end and fy25 <= end < d25]
    assert len(abolished) >= 2 and set(abolished) <= used25
    # Created within FY2025 (one of them on its first day), and used.
    created = [c for c, (start, _) in master.items() if fy25 <= start <= d25]
    assert len(created) >= 3 and len(set(created) & used25) >= 2
    assert any(start == fy25 for start, _ in master.values())
    # valid_to is inclusive: a department whose last day is D is counted at D.
    assert any(end in (d24, d25) for _, end in master.values())
    assert any(start > d25 for start, _ in master.values())
    # A reorganisation: a section's code ends mid-year and a renamed successor starts the next day.
    with (root / "inbox" / "departments.csv").open(encoding="utf-8", newline="") as f:
        names = {r["department_code"]: r["department_name"] for r in csv.DictReader(f)}
    assert any(end and fy25 < end < d25 and master[new][0] == end + timedelta(days=1)
               and names[old].split()[0] == names[new].split()[0]
               and names[old].split()[1][:2] == names[new].split()[1][:2] and old in used25 and new in used25
               for old, (_, end) in master.items() for new in master if new != old)
    # Reading the date in the written offset instead of Japan time changes FY2024.
    naive = [(r["department_code"], date.fromisoformat(r["accessed_at"][:10]))
             for rows in files.values() for r in rows if r["department_code"] in master]
    assert share(master, naive, 2024, d24) != (55, 100)
    stamps = [r["accessed_at"] for rows in files.values() for r in rows]
    assert all(s.endswith(("+09:00", "Z", "+00:00")) for s in stamps)
    assert 3 <= sum(not s.endswith("+09:00") for s in stamps) < 0.01 * len(stamps)
    # Unknown codes: a handful, well under 1 % of any file.
    for name, rows in files.items():
        unknown = sum(r["department_code"] not in master for r in rows)
        assert unknown / len(rows) < 0.005, name
        assert 300 <= len(rows) <= 2200, name
        assert all(re.fullmatch(r"u\d{5}", r["user_id"]) for r in rows)
    assert 3 <= sum(r["department_code"] not in master for rows in files.values() for r in rows) <= 10
    assert sorted(files) == [f"access_{y}{m:02d}.csv" for y in (2024, 2025, 2026) for m in range(1, 13)
                             if (2024, 4) <= (y, m) <= (2026, 3)]
    raw = [p.read_bytes() for p in sorted((root / "inbox" / "dataviz").glob("*.csv"))]
    assert sum(b.startswith(b"\xef\xbb\xbf") for b in raw) == 2
    assert not (root / "inbox" / "departments.csv").read_bytes().startswith(b"\xef\xbb\xbf")


# --- manual workbook (contract 6) ----------------------------------------------------

MANUAL_EXPECTED = {
    "backoffice_platform_started": 1, "genai_verified_operations": 2,
    "construction_dx_working_groups": 1, "dx_support_departments": 2, "external_specialists": 7,
    "dx_core_training_participants": 69, "infra_training_participants": 60,
    "talent_plan_and_training": 1, "data_pilot_projects": 3, "security_strategy_revised": 1,
}
DONE, NOT_DONE = {"済", "完了", "達成"}, {"未", "未了"}


def manual_values(path: Path) -> list[tuple]:
    wb = openpyxl.load_workbook(path)
    return [tuple(row) for row in wb["実績"].iter_rows(values_only=True)]


def parse_year(value: object) -> int | None:
    text = unicodedata.normalize("NFKC", str(value)).strip()
    m = re.fullmatch(r"(?:FY)?(\d{4})", text) or re.fullmatch(r"(?:令和|R)(\d+|元)(?:年度)?", text)
    if not m:
        return None
    year = 1 if m[1] == "元" else int(m[1])
    return year if year > 1000 else year + 2018


def parse_value(value: object) -> float | None:
    text = unicodedata.normalize("NFKC", str(value)).strip()
    if text in DONE:
        return 1
    if text in NOT_DONE:
        return 0
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(名|件|業務|所属)?", text)
    return float(m[1]) if m else None


def test_manual_workbook_values(root: Path) -> None:
    rows = manual_values(root / "inbox" / "manual" / "実績入力_FY2025.xlsx")
    assert rows[0][:6] == ("KPI ID", "年度", "実績値", "根拠", "入力者", "入力日")
    latest: dict[tuple[str, int], tuple[datetime, float]] = {}
    forms = set()
    for kpi, year, value, evidence, by, entered, *_ in rows[1:]:
        assert isinstance(entered, datetime) and (entered.year, entered.month) == (2026, 4)
        assert evidence and by
        forms.add(re.sub(r"\d", "9", str(year)) if isinstance(year, str) else "int")
        fy, parsed = parse_year(year), parse_value(value)
        assert fy == 2025 and parsed is not None and kpi in MANUAL_EXPECTED
        if (kpi, fy) not in latest or entered > latest[(kpi, fy)][0]:
            latest[(kpi, fy)] = (entered, parsed)
    assert {kpi: v for (kpi, _), (_, v) in latest.items()} == MANUAL_EXPECTED
    assert len(rows) - 1 == len(MANUAL_EXPECTED) + 1  # one superseded entry
    assert {"9999", "FY9999", "令和9年度", "R9"} <= forms
    superseded = [r for r in rows[1:] if r[0] == "dx_core_training_participants"]
    assert [r[2] for r in superseded] == ["65名", "69名"]
    assert superseded[0][5].date() == date(2026, 4, 2) < superseded[1][5].date()
    assert any("７" in str(r[2]) for r in rows[1:])

