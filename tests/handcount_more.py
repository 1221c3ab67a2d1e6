"""Hand count, part 2: an independent, deliberately simple reference for contracts 4-6.

Standard library + openpyxl, no project imports. It reads what ``tests/unseen_more.py``
writes (``root/dataviz/*.csv``, ``root/departments.csv``, ``root/manual/*.xlsx``) plus the
app records served by the app list API, and applies the project's rules literally:

* nocode_apps    -> kpi ``nocode_operations``          (scope city)
* dataviz_access -> kpi ``dataviz_department_share``   (scope city)
* manual_entries -> the ten manual KPIs of catalog.md  (scope city, FY rows only)

Figures are keyed ``(kpi_id, period, scope)`` with period ``YYYY-MM`` or ``FY{N}`` and map
to ``{"value", "numerator", "denominator", "as_of"}``; values are floats.
``expected_bad_counts_more`` gives the bad rows per source, ``source_row_counts_more`` the
rows read (the bad-share denominator), ``dataviz_bad_breakdown`` splits the dataviz bad
rows into master and access rows.

Choices made where the rules are silent (the generator avoids all of them):
app_id/business_id that are only whitespace are empty; a date field that is JSON null
or absent is "not present", an empty string is present (and bad). CSV cells are
stripped; a CSV row whose cells are all empty is a blank line; a short row's missing
cells are empty. ``accessed_at`` is whatever ``datetime.fromisoformat`` accepts, so a
bare date ``2025-04-01`` is midnight JST. The dataviz bad count is bad master rows plus
bad access rows. In the workbooks, KPI ID, 年度 and text values are NFKC+stripped; a cell
is empty when it is None or only whitespace; 令和元年度 and a lower-case ``r7`` are not
parsed; a date-time 入力日 counts by its date; 入力日 text needs 2-digit month and day and
one separator style; 入力日 later than the as-of date is not filtered out.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import openpyxl

from tests.handcount import (
    figure,
    fiscal_year,
    fy_end,
    month_end,
    months_from,
    parse_ymd,
)

JST = timezone(timedelta(hours=9))

APP_STATUSES = ("draft", "testing", "in_operation", "retired")
OPERATING = ("in_operation", "retired")
MANUAL_KPIS = (
    "backoffice_platform_started", "genai_verified_operations", "construction_dx_working_groups",
    "dx_support_departments", "external_specialists", "dx_core_training_participants",
    "infra_training_participants", "talent_plan_and_training", "data_pilot_projects", "security_strategy_revised",
)
MILESTONE_KPIS = ("backoffice_platform_started", "construction_dx_working_groups",
                  "talent_plan_and_training", "security_strategy_revised")
DONE_WORDS = ("済", "完了", "達成", "1")
NOT_DONE_WORDS = ("未", "未了", "0")
SHEET = "実績"

Figures = dict[tuple[str, str, str], dict]


# ---------------------------------------------------------------- public API


def expected_figures_more(root: Path, apps: list[dict], as_of: date) -> Figures:
    """(kpi_id, period, scope) -> {"value", "numerator", "denominator", "as_of"}."""
    figures: Figures = {}
    figures.update(nocode_figures(apps, as_of))
    figures.update(dataviz_figures(Path(root), as_of))
    figures.update(manual_figures(Path(root) / "manual"))
    return figures


def expected_bad_counts_more(root: Path, apps: list[dict]) -> dict[str, int]:
    """Source name -> number of bad rows/records (blank and template rows and duplicates are not bad)."""
    return {
        "nocode_apps": sum(1 for app in apps if app_problem(app)),
        "dataviz_access": sum(dataviz_bad_breakdown(root).values()),
        "manual_entries": sum(1 for row in manual_rows(Path(root) / "manual") if manual_row_problem(row)),
    }


def source_row_counts_more(root: Path, apps: list[dict]) -> dict[str, int]:
    """Source name -> rows/records read (blank lines, blank and template rows not counted)."""
    root = Path(root)
    return {
        "nocode_apps": len(apps),
        "dataviz_access": len(master_rows(root)) + len(access_rows(root / "dataviz")),
        "manual_entries": len(manual_rows(root / "manual")),
    }


def dataviz_bad_breakdown(root: Path) -> dict[str, int]:
    """{"master": bad master rows, "access": bad access rows}."""
    root = Path(root)
    known = {code for code, _, _ in good_master(root)}
    return {
        "master": sum(1 for row in master_rows(root) if master_problem(row)),
        "access": sum(1 for row in access_rows(root / "dataviz") if access_problem(row, known)),
    }


# ---------------------------------------------------------------- calendar








def nfkc(text: object) -> str:
    return unicodedata.normalize("NFKC", "" if text is None else str(text)).strip()


# ---------------------------------------------------------------- nocode_apps


def _non_empty_string(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def app_problem(app: object) -> str | None:
    if not isinstance(app, dict):
        return "not an object"
    if not _non_empty_string(app.get("app_id")):
        return "missing app_id"
    if not _non_empty_string(app.get("business_id")):
        return "missing business_id"
    if app.get("status") not in APP_STATUSES:
        return "unknown status"
    if app.get("operation_started_on") is not None and parse_ymd(app["operation_started_on"]) is None:
        return "bad operation_started_on"
    if app.get("retired_on") is not None and parse_ymd(app["retired_on"]) is None:
        return "bad retired_on"
    return None


def business_starts(apps: list[dict]) -> dict[str, date]:
    """business_id -> earliest operation_started_on of its operating apps (valid apps, last copy per app_id)."""
    latest: dict[str, dict] = {}
    for app in apps:
        if not app_problem(app):
            latest[app["app_id"]] = app
    starts: dict[str, date] = {}
    for app in latest.values():
        start = parse_ymd(app.get("operation_started_on"))
        if app["status"] in OPERATING and start is not None:
            business = app["business_id"]
            starts[business] = min(start, starts.get(business, start))
    return starts


def nocode_figures(apps: list[dict], as_of: date) -> Figures:
    starts = list(business_starts(apps).values())
    if not starts:
        return {}

    def started(first: date, last: date) -> float:
        return float(sum(1 for start in starts if first <= start <= last))

    figures: Figures = {}
    for fy in range(fiscal_year(min(starts)), fiscal_year(as_of) + 1):
        fy_day = min(fy_end(fy), as_of)
        figures[("nocode_operations", f"FY{fy}", "city")] = figure(started(date(fy, 4, 1), fy_day), fy_day)
        for year, month in months_from(date(fy, 4, 1), fy_day):
            day = min(month_end(year, month), as_of)
            figures[("nocode_operations", f"{year:04d}-{month:02d}", "city")] = figure(started(date(year, month, 1), day), day)
    return figures


# ---------------------------------------------------------------- dataviz_access


def csv_rows(path: Path) -> list[dict[str, str]]:
    """Non-blank data rows of a UTF-8 (optional BOM) CSV, by header name, cells stripped."""
    records = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))
    if not records:
        return []
    header = [cell.strip() for cell in records[0]]
    return [{name: cells[i].strip() if i < len(cells) else "" for i, name in enumerate(header)}
            for cells in records[1:] if any(cell.strip() for cell in cells)]


def master_rows(root: Path) -> list[dict[str, str]]:
    path = Path(root) / "departments.csv"
    return csv_rows(path) if path.exists() else []


def master_problem(row: dict[str, str]) -> str | None:
    if not row.get("department_code", ""):
        return "empty department_code"
    first = parse_ymd(row.get("valid_from", ""))
    if first is None:
        return "bad valid_from"
    last_text = row.get("valid_to", "")
    if last_text:
        last = parse_ymd(last_text)
        if last is None:
            return "bad valid_to"
        if last < first:
            return "valid_to before valid_from"
    return None


def good_master(root: Path) -> list[tuple[str, date, date | None]]:
    """(code, valid_from, valid_to or None) of every good master row."""
    return [(row["department_code"], parse_ymd(row["valid_from"]), parse_ymd(row.get("valid_to", "")))
            for row in master_rows(root) if not master_problem(row)]


def access_rows(folder: Path) -> list[dict[str, str]]:
    """Every non-blank data row of every *.csv (files by name, then line order)."""
    rows: list[dict[str, str]] = []
    for path in sorted(Path(folder).glob("*.csv"), key=lambda p: p.name):
        rows.extend(csv_rows(path))
    return rows


def parse_access_time(text: str) -> datetime | None:
    """ISO 8601 (a trailing Z = +00:00, no offset = +09:00), in JST."""
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=JST)).astimezone(JST)


def access_problem(row: dict[str, str], known_codes: set[str]) -> str | None:
    if parse_access_time(row.get("accessed_at", "")) is None:
        return "bad accessed_at"
    code = row.get("department_code", "")
    if not code:
        return "empty department_code"
    if code not in known_codes:
        return "unknown department_code"
    return None


def dataviz_figures(root: Path, as_of: date) -> Figures:
    root = Path(root)
    master = good_master(root)
    known = {code for code, _, _ in master}
    accesses = []
    for row in access_rows(root / "dataviz"):
        if not access_problem(row, known):
            day = parse_access_time(row["accessed_at"]).date()
            if day <= as_of:
                accesses.append((day, row["department_code"]))
    figures: Figures = {}

    def add(period: str, fy: int, day: date) -> None:
        valid = {code for code, first, last in master if first <= day and (last is None or day <= last)}
        if not valid:
            return
        used = {code for accessed, code in accesses if date(fy, 4, 1) <= accessed <= day}
        numerator, denominator = len(valid & used), len(valid)
        figures[("dataviz_department_share", period, "city")] = figure(
            numerator / denominator, day, float(numerator), float(denominator))

    for fy in sorted({fiscal_year(day) for day, _ in accesses}):
        fy_day = min(fy_end(fy), as_of)
        for year, month in months_from(date(fy, 4, 1), fy_day):
            add(f"{year:04d}-{month:02d}", fy, min(month_end(year, month), as_of))
        add(f"FY{fy}", fy, fy_day)
    return figures


# ---------------------------------------------------------------- manual_entries


def is_empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and nfkc(value) == "")


def manual_rows(folder: Path) -> list[dict]:
    """Rows read from every *.xlsx (by name, then row order): {"file", "row", "cells"}.

    Blank rows (KPI ID and 実績値 empty) and rows with an empty 実績値 are skipped; a workbook
    without a 実績 sheet gives one row with ``cells`` None.
    """
    rows: list[dict] = []
    for path in sorted(Path(folder).glob("*.xlsx"), key=lambda p: p.name):
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            if SHEET not in book.sheetnames:
                rows.append({"file": path.name, "row": 0, "cells": None})
                continue
            lines = book[SHEET].iter_rows(values_only=True)
            header = [nfkc(cell) for cell in next(lines, ())]
            for number, values in enumerate(lines, start=2):
                cells: dict[str, object] = {}
                for name, value in zip(header, values):
                    cells.setdefault(name, value)
                if is_empty(cells.get("実績値")):
                    continue  # blank, or not entered yet
                rows.append({"file": path.name, "row": number, "cells": cells})
        finally:
            book.close()
    return rows


def parse_fiscal_year(value: object) -> int | None:
    """2025, FY2025 (any case), 令和7年度, R7 (after NFKC), or a numeric cell 2025 / 2025.0."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 1000 <= value <= 9999 else None
    if isinstance(value, float):
        return int(value) if value.is_integer() and 1000 <= value <= 9999 else None
    if not isinstance(value, str):
        return None
    text = nfkc(value)
    match = re.fullmatch(r"(?:FY)?([0-9]{4})", text, flags=re.IGNORECASE)
    if match:
        return int(match.group(1))
    match = re.fullmatch(r"令和([0-9]{1,2})年度", text) or re.fullmatch(r"R([0-9]{1,2})", text)
    if match and int(match.group(1)) >= 1:
        return 2018 + int(match.group(1))
    return None


def parse_manual_value(kpi: str, value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if kpi in MILESTONE_KPIS:
        if isinstance(value, (int, float)):
            return float(value) if value in (0, 1) else None
        text = nfkc(value) if isinstance(value, str) else None
        return 1.0 if text in DONE_WORDS else 0.0 if text in NOT_DONE_WORDS else None
    if isinstance(value, (int, float)):
        return float(value) if value >= 0 else None
    if not isinstance(value, str):
        return None
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)([^0-9]*)", nfkc(value).replace(",", ""))
    return float(match.group(1)) if match else None


def parse_entry_date(value: object) -> date | None:
    """A date/datetime cell, or text YYYY/MM/DD or YYYY-MM-DD."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        return None
    match = re.fullmatch(r"([0-9]{4})([/-])([0-9]{2})\2([0-9]{2})", nfkc(value))
    if not match:
        return None
    try:
        return date(int(match.group(1)), int(match.group(3)), int(match.group(4)))
    except ValueError:
        return None


def parse_manual_row(row: dict) -> tuple[str, int, float, date] | str:
    """(kpi_id, fy, value, 入力日), or the reason the row is bad."""
    cells = row["cells"]
    if cells is None:
        return "no sheet 実績"
    kpi = nfkc(cells.get("KPI ID"))
    if kpi not in MANUAL_KPIS:
        return "unknown KPI ID"
    fy = parse_fiscal_year(cells.get("年度"))
    if fy is None:
        return "bad 年度"
    value = parse_manual_value(kpi, cells.get("実績値"))
    if value is None:
        return "bad 実績値"
    day = parse_entry_date(cells.get("入力日"))
    if day is None:
        return "bad 入力日"
    return kpi, fy, value, day


def manual_row_problem(row: dict) -> str | None:
    parsed = parse_manual_row(row)
    return parsed if isinstance(parsed, str) else None


def manual_figures(folder: Path) -> Figures:
    latest: dict[tuple[str, int], tuple[float, date]] = {}
    for row in manual_rows(folder):  # files by name, rows in order: ties go to the later one
        parsed = parse_manual_row(row)
        if isinstance(parsed, str):
            continue
        kpi, fy, value, day = parsed
        if (kpi, fy) not in latest or day >= latest[(kpi, fy)][1]:
            latest[(kpi, fy)] = (value, day)
    return {(kpi, f"FY{fy}", "city"): figure(value, min(day, fy_end(fy)))
            for (kpi, fy), (value, day) in latest.items()}
