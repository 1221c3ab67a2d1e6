"""Hand count: an independent, deliberately simple reference for the expected figures.

Standard library only, no project imports. It reads what ``tests/unseen.py``
writes (``root/moveout/*.csv``, ``root/speech/*.jsonl``) plus the procedure
records served by the catalog API, and applies the project's rules literally:

* online_procedures  -> kpi ``online_procedures``    (scope city)
* moveout_log        -> kpi ``myna_moveout_share``   (scope city and 6-digit ward codes)
* speech_usage       -> kpi ``speech_hours_monthly`` (scope city)

``source_row_counts`` gives the rows read per source (the bad-share
denominator). Figures are keyed ``(kpi_id, period, scope)`` with period ``YYYY-MM`` or
``FY{N}`` and map to ``{"value", "numerator", "denominator", "as_of"}``.

Choices made where the rules are silent (the generator avoids all of them):
every moveout cell is NFKC-normalised and stripped before it is checked; a
CSV row whose cells are all empty counts as a blank line; western dates may
have 1- or 2-digit month/day; a speech line that is only whitespace is blank;
a zero-length speech session has no part in any month.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

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

Figures = dict[tuple[str, str, str], dict]


# ---------------------------------------------------------------- public API


def expected_figures(root: Path, procedures: list[dict], as_of: date) -> Figures:
    """(kpi_id, period, scope) -> {"value", "numerator", "denominator", "as_of"}."""
    figures: Figures = {}
    figures.update(procedure_figures(procedures, as_of))
    figures.update(moveout_figures(Path(root) / "moveout", as_of))
    figures.update(speech_figures(Path(root) / "speech", as_of))
    return figures


def expected_bad_counts(root: Path, procedures: list[dict]) -> dict[str, int]:
    """Source name -> number of bad rows/records (blank lines and duplicates are not bad)."""
    return {
        "online_procedures": sum(1 for rec in procedures if procedure_problem(rec)),
        "moveout_log": sum(1 for row in moveout_rows(Path(root) / "moveout") if row_problem(row)),
        "speech_usage": sum(1 for line in speech_lines(Path(root) / "speech") if parse_session(line) is None),
    }


def source_row_counts(root: Path, procedures: list[dict]) -> dict[str, int]:
    """Source name -> rows/records read (blank lines not counted): the bad-share denominator."""
    return {
        "online_procedures": len(procedures),
        "moveout_log": len(moveout_rows(Path(root) / "moveout")),
        "speech_usage": len(speech_lines(Path(root) / "speech")),
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


def nfkc(text: str | None) -> str:
    return unicodedata.normalize("NFKC", text or "").strip()


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
