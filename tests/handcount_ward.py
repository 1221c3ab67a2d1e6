"""The hand count of the demo's second department, 北区役所: an independent, deliberately simple count of its
five KPIs from the sample files, as tests/handcount.py is of the Digital Office's (standard library +
openpyxl and that module's manual-workbook reading, no project imports).

* window_queue   -> ``kita_window_wait``: mean 待ち時間 of the tickets (受付日 + 受付番号 once, the first file by
  name wins), per month and fiscal year to date; a ticket whose 待ち時間 is not a number in 0..600, whose
  受付日 is not YYYY/MM/DD or whose 窓口 is not one of the four is left out.
* certificates   -> ``kita_konbini_share``: コンビニ ÷ all of ward 271276's rows of the as-of's fiscal year up to
  the as-of (what the declared query selects), per month and fiscal year.
* visitor_survey -> ``kita_visitor_satisfaction``: 満足 or やや満足 ÷ all answers, per month and fiscal year.
* manual_entries -> ``kita_cashless_counter`` (a milestone) and ``kita_disaster_supporters``.

Figures are keyed and shaped as tests/handcount.py's (scope city only).
"""
from __future__ import annotations

import csv
import io
from datetime import date, datetime
from pathlib import Path

import openpyxl

from tests import handcount
from tests.handcount import Figures, figure, fiscal_year, fy_end, month_end, month_key

KITA = "271276"
COUNTERS = ("住民票", "戸籍", "転入・転出", "印鑑登録")
ANSWERS = ("満足", "やや満足", "ふつう", "やや不満", "不満")
SATISFIED = ("満足", "やや満足")
MANUAL_KPIS = ("kita_cashless_counter", "kita_disaster_supporters")
MILESTONE_KPIS = ("kita_cashless_counter",)


def ward_figures(root: Path, as_of: date) -> Figures:
    """Every figure of the ward from the demo's unpacked samples under root (inbox/…, db/…)."""
    return {**queue_figures(root / "inbox" / "kita" / "queue", as_of),
            **certificate_figures(root / "db" / "certificate_issue.csv", as_of),
            **survey_figures(root / "inbox" / "kita" / "survey", as_of),
            **handcount.manual_figures(root / "inbox" / "manual", MANUAL_KPIS, MILESTONE_KPIS)}


def queue_figures(folder: Path, as_of: date) -> Figures:
    tickets: dict[tuple[date, str], float] = {}
    for path in sorted(folder.glob("*.csv"), key=lambda p: p.name):
        for row in csv.DictReader(io.StringIO(path.read_bytes().decode("cp932"))):
            day, wait = _slash_date(row["受付日"]), _number(row["待ち時間"])
            if day is None or wait is None or not 0 <= wait <= 600 or row["窓口"].strip() not in ("", *COUNTERS):
                continue
            tickets.setdefault((day, row["受付番号"].strip()), wait)
    return _means("kita_window_wait", [(day, wait) for (day, _), wait in tickets.items() if day <= as_of], as_of)


def certificate_figures(path: Path, as_of: date) -> Figures:
    fy = fiscal_year(as_of)
    rows = [(date.fromisoformat(r["issued_on"]), r["channel"] == "コンビニ")
            for r in csv.DictReader(io.StringIO(path.read_text("utf-8")))
            if r["ward_code"] == KITA and fiscal_year(date.fromisoformat(r["issued_on"])) == fy
            and date.fromisoformat(r["issued_on"]) <= as_of]
    return _ratios("kita_konbini_share", rows, as_of)


def survey_figures(folder: Path, as_of: date) -> Figures:
    rows: list[tuple[date, bool]] = []
    for path in sorted(folder.glob("*.xlsx"), key=lambda p: p.name):
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            lines = book["回答"].iter_rows(values_only=True)
            header = list(next(lines))
            for values in lines:
                cells = dict(zip(header, values))
                day, answer = cells["回答日"], cells["満足度"]
                if isinstance(day, datetime) and answer in ANSWERS and day.date() <= as_of:
                    rows.append((day.date(), answer in SATISFIED))
        finally:
            book.close()
    return _ratios("kita_visitor_satisfaction", rows, as_of)


def _means(kpi: str, rows: list[tuple[date, float]], as_of: date) -> Figures:
    out: Figures = {}
    for label, values, end in _periods(rows, as_of):
        out[(kpi, label, "city")] = figure(sum(values) / len(values), end)
    return out


def _ratios(kpi: str, rows: list[tuple[date, bool]], as_of: date) -> Figures:
    out: Figures = {}
    for label, flags, end in _periods(rows, as_of):
        out[(kpi, label, "city")] = figure(sum(flags) / len(flags), end, float(sum(flags)), float(len(flags)))
    return out


def _periods(rows: list, as_of: date) -> list[tuple[str, list, date]]:
    """(period label, the values of its rows, its as-of) for every month and fiscal year with rows."""
    groups: dict[tuple[str, date], list] = {}
    for day, value in rows:
        month = (month_key(day), min(month_end(day.year, day.month), as_of))
        year = (f"FY{fiscal_year(day)}", min(fy_end(fiscal_year(day)), as_of))
        for key in (month, year):
            groups.setdefault(key, []).append(value)
    return [(label, values, end) for (label, end), values in groups.items()]


def _slash_date(text: str) -> date | None:
    try:
        return datetime.strptime(text.strip(), "%Y/%m/%d").date()
    except ValueError:
        return None


def _number(text: str) -> float | None:
    try:
        return float(text.strip())
    except ValueError:
        return None
