"""The hand count: the tests' one oracle, an independent, deliberately simple count of every KPI.

Standard library + openpyxl, no project imports: it shares no code with jisseki's connectors or measures.
It reads what ``tests/unseen.py`` and ``tests/unseen_more.py`` write under one root (``moveout/*.csv``,
``speech/*.jsonl``, ``dataviz/*.csv``, ``departments.csv``, ``manual/*.xlsx``) plus the records the two
APIs serve (the procedure catalog, the app list), and applies the project's rules literally:

* online_procedures -> kpi ``online_procedures``          (scope city)
* moveout_log       -> kpi ``myna_moveout_share``         (scope city and 6-digit ward codes)
* speech_usage      -> kpi ``speech_hours_monthly``       (scope city)
* nocode_apps       -> kpi ``nocode_operations``          (scope city)
* dataviz_access    -> kpi ``dataviz_department_share``   (scope city)
* manual_entries    -> the ten manual KPIs of catalog.md  (scope city, FY rows only)

A source with nothing under the root (or no records) has no figures, no bad rows and no rows read.
``expected_bad_counts`` gives the bad rows per source, ``source_row_counts`` the rows read (the bad-share
denominator), ``dataviz_bad_breakdown`` splits the dataviz bad rows into master and access rows. Figures are
keyed ``(kpi_id, period, scope)`` with period ``YYYY-MM`` or ``FY{N}`` and map to
``{"value", "numerator", "denominator", "as_of"}``; values are floats.

Choices made where the rules are silent (the generators avoid all of them):

* moveout: every cell is NFKC-normalised and stripped before it is checked; a CSV row whose cells are all
  empty counts as a blank line; western dates may have 1- or 2-digit month/day.
* speech: a line that is only whitespace is blank; a zero-length session has no part in any month.
* nocode: app_id/business_id that are only whitespace are empty; a date field that is JSON null or absent
  is "not present", an empty string is present (and bad).
* dataviz: CSV cells are stripped; a CSV row whose cells are all empty is a blank line; a short row's
  missing cells are empty. ``accessed_at`` is whatever ``datetime.fromisoformat`` accepts, so a bare date
  ``2025-04-01`` is midnight JST. The dataviz bad count is bad master rows plus bad access rows.
* manual: KPI ID, 年度 and text values are NFKC+stripped; a cell is empty when it is None or only
  whitespace; 令和元年度 and a lower-case ``r7`` are not parsed; a date-time 入力日 counts by its date;
  入力日 text needs 2-digit month and day and one separator style; 入力日 later than the as-of date is
  not filtered out.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import openpyxl

JST = timezone(timedelta(hours=9))

WARD_CODES = (
    "271021", "271039", "271047", "271063", "271071", "271080", "271098",
    "271110", "271136", "271144", "271152", "271161", "271179", "271187",
    "271195", "271209", "271217", "271225", "271233", "271241", "271250",
    "271268", "271276", "271284",
)
WARD_BY_CODE = {code: code for code in WARD_CODES} | {code[:5]: code for code in WARD_CODES}
ROUTES = ("マイナポータル", "窓口", "郵送")
MYNA = "マイナポータル"
CANCEL_VALUES = ("", "0", "1")
STATUSES = ("active", "suspended", "retired")
LOAN_TYPES = ("annual", "short_term")
SPEECH_FIELDS = ("session_id", "device_id", "department_code", "started_at", "ended_at", "loan_type")
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


def expected_figures(root: Path, procedures: list[dict], apps: list[dict], as_of: date) -> Figures:
    """(kpi_id, period, scope) -> {"value", "numerator", "denominator", "as_of"} of every KPI."""
    root = Path(root)
    figures: Figures = {}
    figures.update(procedure_figures(procedures, as_of))
    figures.update(moveout_figures(root / "moveout", as_of))
    figures.update(speech_figures(root / "speech", as_of))
    figures.update(nocode_figures(apps, as_of))
    figures.update(dataviz_figures(root, as_of))
    figures.update(manual_figures(root / "manual"))
    return figures


def expected_bad_counts(root: Path, procedures: list[dict], apps: list[dict]) -> dict[str, int]:
    """Source name -> number of bad rows/records (blank lines, blank and template rows and duplicates are not bad)."""
    root = Path(root)
    return {
        "online_procedures": sum(1 for rec in procedures if procedure_problem(rec)),
        "moveout_log": sum(1 for row in moveout_rows(root / "moveout") if row_problem(row)),
        "speech_usage": sum(1 for line in speech_lines(root / "speech") if parse_session(line) is None),
        "nocode_apps": sum(1 for app in apps if app_problem(app)),
        "dataviz_access": sum(dataviz_bad_breakdown(root).values()),
        "manual_entries": sum(1 for row in manual_rows(root / "manual") if manual_row_problem(row)),
    }


def source_row_counts(root: Path, procedures: list[dict], apps: list[dict]) -> dict[str, int]:
    """Source name -> rows/records read (blank lines, blank and template rows not counted): the bad-share base."""
    root = Path(root)
    return {
        "online_procedures": len(procedures),
        "moveout_log": len(moveout_rows(root / "moveout")),
        "speech_usage": len(speech_lines(root / "speech")),
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


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def month_end(year: int, month: int) -> date:
    return next_month_start(year, month) - timedelta(days=1)


def next_month_start(year: int, month: int) -> date:
    return date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)


def fiscal_year(day: date) -> int:
    return day.year if day.month >= 4 else day.year - 1


def fy_end(fy: int) -> date:
    return date(fy + 1, 3, 31)


def months_from(first: date, last: date) -> list[tuple[int, int]]:
    """(year, month) for every month from first's month to last's month, inclusive."""
    months, year, month = [], first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def figure(value: float, as_of: date, numerator: float | None = None, denominator: float | None = None) -> dict:
    return {"value": value, "numerator": numerator, "denominator": denominator, "as_of": as_of}


# ---------------------------------------------------------------- online_procedures


def parse_ymd(value: object) -> date | None:
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def parse_instant(value: object) -> datetime | None:
    """ISO 8601 date-time; no offset means Japan time."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=JST)


def procedure_problem(rec: object) -> str | None:
    if not isinstance(rec, dict):
        return "not an object"
    if not isinstance(rec.get("id"), str) or not rec["id"].strip():
        return "missing id"
    since = parse_ymd(rec.get("online_since"))
    if since is None:
        return "bad online_since"
    retired = rec.get("retired_on")
    if retired is not None and parse_ymd(retired) is None:
        return "bad retired_on"
    if rec.get("status") not in STATUSES:
        return "bad status"
    if parse_instant(rec.get("updated_at")) is None:
        return "bad updated_at"
    if retired is not None and parse_ymd(retired) < since:
        return "retired before online"
    return None


def valid_procedures(records: list[dict]) -> list[tuple[date, date | None]]:
    """(online_since, retired_on) of the latest valid version of every id."""
    latest: dict[str, dict] = {}
    for rec in records:
        if procedure_problem(rec):
            continue
        kept = latest.get(rec["id"])
        if kept is None or parse_instant(rec["updated_at"]) >= parse_instant(kept["updated_at"]):
            latest[rec["id"]] = rec
    return [(parse_ymd(r["online_since"]), parse_ymd(r.get("retired_on"))) for r in latest.values()]


def count_online(spans: list[tuple[date, date | None]], day: date) -> int:
    return sum(1 for since, retired in spans if since <= day and (retired is None or retired > day))


def procedure_figures(records: list[dict], as_of: date) -> Figures:
    spans = valid_procedures(records)
    if not spans:
        return {}
    first = min(since for since, _ in spans)
    figures: Figures = {}
    for year, month in months_from(first, as_of):
        day = min(month_end(year, month), as_of)
        figures[("online_procedures", f"{year:04d}-{month:02d}", "city")] = figure(float(count_online(spans, day)), day)
    for fy in range(fiscal_year(first), fiscal_year(as_of) + 1):
        day = min(fy_end(fy), as_of)
        figures[("online_procedures", f"FY{fy}", "city")] = figure(float(count_online(spans, day)), day)
    return figures


# ---------------------------------------------------------------- moveout_log


def nfkc(text: object) -> str:
    return unicodedata.normalize("NFKC", "" if text is None else str(text)).strip()


def decode_csv(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data.decode("utf-8-sig")
    return data.decode("cp932")


def moveout_rows(folder: Path) -> list[dict[str, str]]:
    """Every non-blank data row of every *.csv (files by name, then line order), cells NFKC+strip."""
    rows: list[dict[str, str]] = []
    for path in sorted(Path(folder).glob("*.csv"), key=lambda p: p.name):
        records = list(csv.reader(io.StringIO(decode_csv(path.read_bytes()), newline="")))
        if not records:
            continue
        header = [nfkc(name) for name in records[0]]
        for cells in records[1:]:
            if any(nfkc(cell) for cell in cells):
                rows.append({name: nfkc(cells[i]) if i < len(cells) else "" for i, name in enumerate(header)})
    return rows


def _era_year(text: str) -> int:
    return 1 if text == "元" else int(text)


DATE_FORMS = (
    (re.compile(r"([0-9]{4})/([0-9]{1,2})/([0-9]{1,2})"), False),
    (re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})"), False),
    (re.compile(r"R([0-9]{1,2}|元)\.([0-9]{1,2})\.([0-9]{1,2})"), True),
    (re.compile(r"令和([0-9]{1,2}|元)年([0-9]{1,2})月([0-9]{1,2})日"), True),
)


def parse_reception_date(text: str) -> date | None:
    """YYYY/MM/DD, YYYY-MM-DD, R{y}.{m}.{d}, 令和{y}年{m}月{d}日 (元 = 1); text already NFKC."""
    for pattern, reiwa in DATE_FORMS:
        match = pattern.fullmatch(text)
        if match:
            year = 2018 + _era_year(match.group(1)) if reiwa else int(match.group(1))
            if reiwa and year < 2019:
                return None
            try:
                return date(year, int(match.group(2)), int(match.group(3)))
            except ValueError:
                return None
    return None


def row_problem(row: dict[str, str]) -> str | None:
    if parse_reception_date(row.get("受付日", "")) is None:
        return "bad 受付日"
    if row.get("区コード", "") not in WARD_BY_CODE:
        return "unknown 区コード"
    if row.get("届出経路", "") not in ROUTES:
        return "unknown 届出経路"
    if not row.get("受付番号", ""):
        return "empty 受付番号"
    if row.get("取消", "") not in CANCEL_VALUES:
        return "bad 取消"
    return None


def moveout_notifications(folder: Path) -> list[tuple[date, str, str]]:
    """(受付日, ward, 届出経路) of every notification that is not withdrawn, from its first valid row."""
    first: dict[tuple[str, str], tuple[date, str, str]] = {}
    withdrawn: set[tuple[str, str]] = set()
    for row in moveout_rows(folder):
        if row_problem(row):
            continue
        ward = WARD_BY_CODE[row["区コード"]]
        key = (ward, row["受付番号"])
        first.setdefault(key, (parse_reception_date(row["受付日"]), ward, row["届出経路"]))
        if row.get("取消", "") == "1":
            withdrawn.add(key)
    return [note for key, note in first.items() if key not in withdrawn]


def moveout_figures(folder: Path, as_of: date) -> Figures:
    tallies: dict[tuple[str, str], list] = {}
    for day, ward, route in moveout_notifications(folder):
        if day > as_of:
            continue
        month_as_of = min(month_end(day.year, day.month), as_of)
        fy_as_of = min(fy_end(fiscal_year(day)), as_of)
        for period, period_as_of in ((month_key(day), month_as_of), (f"FY{fiscal_year(day)}", fy_as_of)):
            for scope in ("city", ward):
                tally = tallies.setdefault((period, scope), [0, 0, period_as_of])
                tally[0] += route == MYNA
                tally[1] += 1
    return {
        ("myna_moveout_share", period, scope): figure(myna / total, day, float(myna), float(total))
        for (period, scope), (myna, total, day) in tallies.items()
    }


# ---------------------------------------------------------------- speech_usage


def speech_lines(folder: Path) -> list[str]:
    """Every non-blank line of every *.jsonl (files by name, then line order)."""
    lines: list[str] = []
    for path in sorted(Path(folder).glob("*.jsonl"), key=lambda p: p.name):
        text = path.read_bytes().decode("utf-8-sig")
        lines.extend(line for line in text.split("\n") if line.strip())
    return lines


def parse_session(line: str) -> tuple[str, datetime, datetime] | None:
    """(session_id, start, end) in JST, or None when the line is bad."""
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if not isinstance(obj, dict) or any(obj.get(name) in (None, "") for name in SPEECH_FIELDS):
        return None
    start, end = parse_instant(obj["started_at"]), parse_instant(obj["ended_at"])
    if start is None or end is None or end < start or end - start > timedelta(hours=24):
        return None
    if obj["loan_type"] not in LOAN_TYPES:
        return None
    return str(obj["session_id"]), start.astimezone(JST), end.astimezone(JST)


def speech_sessions(folder: Path) -> dict[str, tuple[datetime, datetime]]:
    sessions: dict[str, tuple[datetime, datetime]] = {}
    for line in speech_lines(folder):
        parsed = parse_session(line)
        if parsed:
            sessions[parsed[0]] = (parsed[1], parsed[2])
    return sessions


def split_by_month(start: datetime, end: datetime) -> list[tuple[tuple[int, int], timedelta]]:
    parts = []
    while start < end:
        boundary = datetime.combine(next_month_start(start.year, start.month), time(), JST)
        part_end = min(end, boundary)
        parts.append(((start.year, start.month), part_end - start))
        start = part_end
    return parts


def monthly_speech_totals(folder: Path, as_of: date) -> dict[tuple[int, int], timedelta]:
    clip = datetime.combine(as_of + timedelta(days=1), time(), JST)
    totals: dict[tuple[int, int], timedelta] = {}
    for start, end in speech_sessions(folder).values():
        for month, length in split_by_month(start, min(end, clip)):
            totals[month] = totals.get(month, timedelta()) + length
    return totals


def fy_months(fy: int, as_of: date) -> list[tuple[int, int]]:
    return months_from(date(fy, 4, 1), min(fy_end(fy), as_of))


def speech_figures(folder: Path, as_of: date) -> Figures:
    totals = monthly_speech_totals(folder, as_of)
    figures: Figures = {}
    for fy in sorted({fiscal_year(date(y, m, 1)) for y, m in totals}):
        complete: list[tuple[float, date]] = []
        for year, month in fy_months(fy, as_of):
            hours = totals.get((year, month), timedelta()).total_seconds() / 3600
            end = month_end(year, month)
            figures[("speech_hours_monthly", f"{year:04d}-{month:02d}", "city")] = figure(hours, min(end, as_of))
            if end <= as_of:
                complete.append((hours, end))
        if complete:
            mean = sum(hours for hours, _ in complete) / len(complete)
            figures[("speech_hours_monthly", f"FY{fy}", "city")] = figure(mean, complete[-1][1])
    return figures


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


def parse_manual_value(kpi: str, value: object, milestones: tuple[str, ...] = MILESTONE_KPIS) -> float | None:
    if isinstance(value, bool):
        return None
    if kpi in milestones:
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


def parse_manual_row(row: dict, kpis: tuple[str, ...] = MANUAL_KPIS,
                     milestones: tuple[str, ...] = MILESTONE_KPIS) -> tuple[str, int, float, date] | str:
    """(kpi_id, fy, value, 入力日), or the reason the row is bad."""
    cells = row["cells"]
    if cells is None:
        return "no sheet 実績"
    kpi = nfkc(cells.get("KPI ID"))
    if kpi not in kpis:
        return "unknown KPI ID"
    fy = parse_fiscal_year(cells.get("年度"))
    if fy is None:
        return "bad 年度"
    value = parse_manual_value(kpi, cells.get("実績値"), milestones)
    if value is None:
        return "bad 実績値"
    day = parse_entry_date(cells.get("入力日"))
    if day is None:
        return "bad 入力日"
    return kpi, fy, value, day


def manual_row_problem(row: dict) -> str | None:
    parsed = parse_manual_row(row)
    return parsed if isinstance(parsed, str) else None


def manual_figures(folder: Path, kpis: tuple[str, ...] = MANUAL_KPIS,
                   milestones: tuple[str, ...] = MILESTONE_KPIS) -> Figures:
    """The manual KPIs' figures; `kpis` and `milestones` another catalog's (the demo's ward), rows of other
    ids being unknown to it."""
    latest: dict[tuple[str, int], tuple[float, date]] = {}
    for row in manual_rows(folder):  # files by name, rows in order: ties go to the later one
        parsed = parse_manual_row(row, kpis, milestones)
        if isinstance(parsed, str):
            continue
        kpi, fy, value, day = parsed
        if (kpi, fy) not in latest or day >= latest[(kpi, fy)][1]:
            latest[(kpi, fy)] = (value, day)
    return {(kpi, f"FY{fy}", "city"): figure(value, min(day, fy_end(fy)))
            for (kpi, fy), (value, day) in latest.items()}
