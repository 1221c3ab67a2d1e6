"""Declared sources of every type, written only as TOML, on seeded city data the code never saw, through
`jisseki run` as a separate process: every figure lands exactly as a hand count of the data makes it, the
quarantine holds exactly the rows the data broke (per reason code), a second run adds nothing, a corrected
input revises exactly the figures it changes, and a missed target and a failed source reach an alert receiver.

The hand count below is plain Python over what the generators know they wrote (each raw row's typed values,
or the reason it must be quarantined for); it imports nothing of jisseki's declared code.
"""
from __future__ import annotations

import json
import math
import os
import random
import shutil
import subprocess
import sys
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import sqlalchemy as sa

from tests.support import Receiver, every_cell
from tests.test_exactness import assert_matches, landed
from tests.unseen import FULL_WIDTH, WARDS
from warehouse.quarantine import reason_counts
from warehouse.store import connect

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_harness")]

AS_OF = date(2026, 4, 20)            # FY2025 is over (its targets are graded); FY2026 has begun
FIRST_DAY, LAST_DAY = date(2025, 4, 1), date(2026, 5, 10)   # some rows after the as-of date
JST = timezone(timedelta(hours=9))
TOKEN_ENV, TOKEN = "JISSEKI_TEST_DECLARED_TOKEN", "decl-T0ken-never-stored"
PG_ENV, MARIA_ENV = "JISSEKI_TEST_DECLARED_PG", "JISSEKI_TEST_DECLARED_MARIA"
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MARIADB = "mysql+pymysql://root@127.0.0.1:3306/test"
WARD_CODES = sorted(WARDS)
SURNAMES = ["山田", "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "中村"]
GIVEN = ["太郎", "花子", "一郎", "直子", "翔", "恵"]
BAD = "bad"   # the truth of a row that must be quarantined: (BAD, reason code)


# -- what a generator knows it wrote, and the hand count over it ---------------------------------------------------

@dataclass
class Truth:
    """One declared source as the hand count sees it: its valid rows in reading order (typed values), and
    how many quarantine entries of each reason code it must make."""
    key: list[str]
    date: str
    scope: str | None
    keep: str = "first"               # "first", "last", or a column: the latest by it
    rows: list[dict[str, Any]] = field(default_factory=list)
    bad: Counter = field(default_factory=Counter)


def kept(truth: Truth) -> list[tuple[int, dict[str, Any]]]:
    """(reading position, row) of the rows that remain after re-deliveries: one per key."""
    rows = list(enumerate(truth.rows))
    if not truth.key:
        return rows
    groups: dict[tuple, list[tuple[int, dict]]] = {}
    for at, row in rows:
        groups.setdefault(tuple(row[k] for k in truth.key), []).append((at, row))
    out = []
    for copies in groups.values():
        if truth.keep == "first":
            out.append(copies[0])
        elif truth.keep == "last":
            out.append(copies[-1])
        else:
            out.append(max(copies, key=lambda c: (c[1][truth.keep] is not None, c[1][truth.keep] or 0, c[0])))
    return sorted(out, key=lambda c: c[0])


def matches(row: dict[str, Any], wanted: dict[str, Any]) -> bool:
    for column, want in wanted.items():
        value = row[column]
        if isinstance(want, dict):
            if value is None or not want.get("min", -math.inf) <= value <= want.get("max", math.inf):
                return False
        elif isinstance(want, list):
            if value not in want:
                return False
        elif value is None or value != want:
            return False
    return True


def fy_of(day: date) -> int:
    return day.year if day.month >= 4 else day.year - 1


def month_end(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def months_from(first: date, last: date) -> list[date]:
    out, month = [], first.replace(day=1)
    while month <= last:
        out.append(month)
        month = month_end(month) + timedelta(days=1)
    return out


def periods(first: date, stock: bool) -> list[tuple[str, date, date, bool]]:
    """(label, start, end, fiscal) of every period a measure has a figure for, as of AS_OF."""
    fys = range(fy_of(first), fy_of(AS_OF) + 1)
    months = months_from(first, AS_OF) if stock else [
        m for fy in fys for m in months_from(date(fy, 4, 1), date(fy + 1, 3, 1)) if m <= AS_OF]
    out = [(f"{m.year}-{m.month:02d}", m, min(month_end(m), AS_OF), False) for m in months]
    return out + [(f"FY{fy}", date(fy, 4, 1), min(date(fy + 1, 3, 31), AS_OF), True) for fy in fys]


def value_of(m: dict[str, Any], rows: list[tuple[int, dict]], day: str, start: date, end: date,
             firsts: dict[Any, date]) -> tuple[float, float | None, float | None] | None:
    """One figure (value, numerator, denominator) of rows already filtered by `where` and scope, or None."""
    if m["type"] == "active":
        until = m.get("valid_to")
        live = [r for _, r in rows if r[m["valid_from"]] is not None and r[m["valid_from"]] <= end
                and (until is None or r[until] is None or r[until] > end)]
        return float(len(live)), None, None
    if m["type"] == "first":
        return float(sum(1 for d in firsts.values() if start <= d <= end)), None, None
    inside = [(at, r) for at, r in rows if start <= r[day] <= end]
    values = [r[m["column"]] for _, r in inside if m.get("column") and r[m["column"]] is not None]
    if m["type"] == "count":
        return float(len(inside)), None, None
    if m["type"] == "distinct":
        return float(len(set(values))), None, None
    if m["type"] == "sum":
        return float(sum(values)), None, None
    if m["type"] == "mean":
        return (sum(values) / len(values), None, None) if values else None
    if m["type"] == "ratio":
        top = sum(1 for _, r in inside if matches(r, m["numerator"]))
        return (top / len(inside), float(top), float(len(inside))) if inside else None
    if m["type"] == "latest":
        placed = [(r[day], at, r[m["column"]]) for at, r in inside if r[m["column"]] is not None]
        return (float(max(placed)[2]), None, None) if placed else None
    raise AssertionError(m["type"])


def hand_count(kpi: str, m: dict[str, Any], truth: Truth) -> dict[tuple[str, str, str], dict[str, Any]]:
    rows = kept(truth)
    if not rows:
        return {}
    day = m.get("date") or truth.date
    counted = [(at, r) for at, r in rows if matches(r, m.get("where", {}))]
    starts = [r[m["valid_from"] if m["type"] == "active" else day] for _, r in counted]
    starts = [d for d in starts if d is not None and d <= AS_OF]
    first = min(starts) if starts else date(fy_of(AS_OF), 4, 1)
    spans = periods(first, stock=m["type"] in ("active", "latest"))
    scopes: list[str | None] = [None]
    if m.get("by_scope"):
        scopes += sorted({r[truth.scope] for _, r in rows if r[truth.scope] is not None})
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for scope in scopes:
        mine = [(at, r) for at, r in counted if scope is None or r[truth.scope] == scope]
        firsts: dict[Any, date] = {}
        for _, r in mine:
            if m["type"] == "first" and r[m["column"]] is not None:
                firsts[r[m["column"]]] = min(firsts.get(r[m["column"]], r[day]), r[day])
        got = {label: value_of(m, mine, day, start, end, firsts) for label, start, end, _ in spans}
        for label, start, end, fiscal in spans:
            made = got[label]
            if fiscal and m.get("fiscal_year") == "mean_of_months":
                monthly = [got[lb][0] for lb, s, e, f in spans
                           if not f and fy_of(s) == fy_of(start) and month_end(s) <= AS_OF and got[lb] is not None]
                made = (sum(monthly) / len(monthly), None, None) if monthly else None
            if made is not None:
                out[(kpi, label, scope or "city")] = {
                    "value": made[0], "numerator": made[1], "denominator": made[2], "as_of": end}
    return out


# -- raw forms people and systems write ---------------------------------------------------------------------------

def some_day(rng: random.Random, first: date = FIRST_DAY, last: date = LAST_DAY) -> date:
    return first + timedelta(days=rng.randrange((last - first).days + 1))


def date_text(day: date, rng: random.Random) -> str:
    era = day.year - 2018
    return rng.choice([
        f"{day:%Y/%m/%d}", f"{day:%Y-%m-%d}", f"{day.year}/{day.month}/{day.day}",
        f"R{era}.{day.month}.{day.day}", f"令和{era}年{day.month}月{day.day}日", f"{day:%Y/%m/%d}".translate(FULL_WIDTH)])


def ward_text(code: str, rng: random.Random) -> str:
    return rng.choice([code, code, code[:5], code.translate(FULL_WIDTH)])


BAD_DATES = ["2025/13/01", "2025/02/30", "R7.2.30", "令和7年13月1日", "昨日", "2025.04.01"]
BAD_WARDS = ["999999", "27100", "北区", "271022"]


def breakage(rng: random.Random, n: int, kinds: list[str]) -> dict[int, str]:
    """Which of n rows are broken and how: every kind at least once, some more often, at random places."""
    planted = kinds + [rng.choice(kinds) for _ in range(rng.randrange(len(kinds), 2 * len(kinds)))]
    return dict(zip(rng.sample(range(n), len(planted)), planted))


def person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + " " + rng.choice(GIVEN)


# -- CSV (CP932): 区役所 窓口受付ログ ---------------------------------------------------------------------------------

CSV_HEADER = ["受付日", "区コード", "区名", "受付番号", "待ち時間", "窓口", "氏名"]
WINDOWS = ["住民票", "戸籍", "税"]


@dataclass
class CsvData:
    files: dict[str, list[tuple[list[str] | str, Any]]]   # file → (cells, or a raw line) and its truth


def csv_data(rng: random.Random) -> CsvData:
    """Reception rows over four files by quarter, with every breakage a window's export has."""
    files: dict[str, list] = {f"queue_{n}.csv": [] for n in ("2025q1", "2025q2", "2025q3", "2026q1")}
    names = list(files)
    receipts: list[tuple[str, dict]] = []
    count = rng.randrange(160, 220)
    breaks = breakage(rng, count, ["date", "ward", "window", "wait", "missing", "key", "malformed"])
    for i in range(count):
        day = some_day(rng)
        code, window = rng.choice(WARD_CODES), rng.choice(WINDOWS)
        wait = rng.choice([None, rng.randrange(0, 120), rng.randrange(0, 600) + 0.5])
        number = f"U{rng.randrange(10**6):06d}-{i}"
        cells = [date_text(day, rng), ward_text(code, rng), WARDS[code], number,
                 "" if wait is None else rng.choice([str(wait), str(wait).translate(FULL_WIDTH)]), window, person(rng)]
        truth: Any = {"受付日": day, "区コード": code, "受付番号": number, "待ち時間": wait, "窓口": window}
        broken = breaks.get(i)
        if broken == "date":
            cells[0], truth = rng.choice(BAD_DATES), (BAD, "invalid_value")
        elif broken == "ward":
            cells[1], truth = rng.choice(BAD_WARDS), (BAD, "invalid_value")
        elif broken == "window":
            cells[5], truth = rng.choice(["年金", "住民票 写し", "国保"]), (BAD, "not_allowed")
        elif broken == "wait":
            cells[4], truth = rng.choice(["-5", "601", "９００"]), (BAD, "out_of_range")
        elif broken == "missing":
            cells[rng.choice([0, 1])], truth = rng.choice(["", " "]), (BAD, "missing_value")
        elif broken == "key":   # no receipt number: not one row with every other row without one
            cells[3], truth = "", (BAD, "missing_value")
        elif broken == "malformed":
            cells, truth = ",".join(cells) + ",余分な列", (BAD, "malformed_csv")
        place = names[min(3, (day - FIRST_DAY).days * 4 // ((LAST_DAY - FIRST_DAY).days + 1))]
        files[place].append((cells, truth))
        if isinstance(truth, dict):
            receipts.append((place, truth))
    # Re-deliveries: a later file repeats a receipt, some with another 窓口 or day (the first row read counts).
    for place, truth in rng.sample(receipts, 8):
        later = names[min(3, names.index(place) + rng.randrange(0, 2))]
        again = dict(truth, 窓口=rng.choice(WINDOWS)) if rng.random() < 0.5 else dict(truth)
        cells = [date_text(again["受付日"], rng), again["区コード"], WARDS[again["区コード"]], again["受付番号"],
                 "" if again["待ち時間"] is None else str(again["待ち時間"]), again["窓口"], person(rng)]
        files[later].append((cells, again))
    return CsvData(files)


def settle(truth: Truth, items: list[Any]) -> Truth:
    for item in items:
        if isinstance(item, tuple):
            truth.bad[item[1]] += 1
        else:
            truth.rows.append(item)
    return truth


def write_csv(data: CsvData, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.csv"):
        old.unlink()
    for name, items in data.files.items():
        lines = [",".join(CSV_HEADER)] + [item if isinstance(item, str) else ",".join(item) for item, _ in items]
        (folder / name).write_bytes(("\r\n".join(lines) + "\r\n").encode("cp932"))


def csv_truth(data: CsvData) -> Truth:
    return settle(Truth(["受付番号"], "受付日", "区コード"), [t for n in sorted(data.files) for _, t in data.files[n]])


# -- Excel: 職員研修 受講記録 ---------------------------------------------------------------------------------------

EXCEL_HEADER = ["受講日", "所属", "職員番号", "氏名", "研修", "時間", "修了"]
COURSES = ["DX基礎", "データ活用", "情報セキュリティ", "生成AI"]
DEPARTMENTS = ["デジタル統括室", "市民局", "財政局", "こども青少年局", "建設局"]
YES, NO = ["済", "はい", True, "○"], ["未", "いいえ", False]


@dataclass
class ExcelData:
    books: dict[str, list[tuple[list[Any], Any]]]


def excel_data(rng: random.Random) -> ExcelData:
    books: dict[str, list] = {"研修記録_上期.xlsx": [], "研修記録_下期.xlsx": []}
    staff = [f"S{rng.randrange(10**5):05d}" for _ in range(40)]
    valid: list[dict] = []
    count = rng.randrange(120, 160)
    breaks = breakage(rng, count, ["date", "department", "key", "course", "hours", "done", "formula"])
    for i in range(count):
        day = some_day(rng)
        number, course, dept = rng.choice(staff), rng.choice(COURSES), rng.choice(DEPARTMENTS)
        hours = rng.choice([1, 1.5, 2, 3, 0.5, None])
        done = rng.choice([True, True, False, None])
        cells = [rng.choice([datetime(day.year, day.month, day.day), date_text(day, rng)]), dept, number,
                 person(rng), course,
                 None if hours is None else rng.choice([hours, str(hours).translate(FULL_WIDTH)]),
                 None if done is None else rng.choice(YES if done else NO)]
        truth: Any = {"受講日": day, "所属": dept, "職員番号": number, "研修": course,
                      "時間": None if hours is None else float(hours), "修了": done}
        broken = breaks.get(i)
        if broken == "date":
            cells[0], truth = rng.choice(BAD_DATES), (BAD, "invalid_value")
        elif broken == "department":
            cells[1], truth = rng.choice([None, " "]), (BAD, "missing_value")
        elif broken == "key":
            cells[2], truth = None, (BAD, "missing_value")
        elif broken == "course":
            cells[4], truth = "Excel講座", (BAD, "not_allowed")
        elif broken == "hours":
            cells[5], truth = rng.choice([12, -1, "９"]), (BAD, "out_of_range")
        elif broken == "done":
            cells[6], truth = "たぶん", (BAD, "invalid_value")
        elif broken == "formula":
            cells[5], truth = "=F1*2", (BAD, "formula_without_value")   # openpyxl saves no result for it
        book = "研修記録_上期.xlsx" if day < date(2025, 10, 1) else "研修記録_下期.xlsx"
        books[book].append((cells, truth))
        if isinstance(truth, dict):
            valid.append(truth)
    # A course recorded again later (corrected hours or completion): the last row read counts.
    for truth in rng.sample(valid, 6):
        again = dict(truth, 修了=True, 時間=2.0)
        cells = [datetime(again["受講日"].year, again["受講日"].month, again["受講日"].day), again["所属"],
                 again["職員番号"], person(rng), again["研修"], 2, "済"]
        books["研修記録_下期.xlsx"].append((cells, again))
    return ExcelData(books)


def write_excel(data: ExcelData, folder: Path) -> None:
    from openpyxl import Workbook

    folder.mkdir(parents=True, exist_ok=True)
    for name, items in data.books.items():
        book = Workbook()
        sheet = book.active
        sheet.title = "受講記録"
        sheet.append(EXCEL_HEADER)
        for cells, _ in items:
            sheet.append(cells)
        book.save(folder / name)


def excel_truth(data: ExcelData) -> Truth:
    return settle(Truth(["職員番号", "研修"], "受講日", "所属", keep="last"),
                  [t for n in sorted(data.books) for _, t in data.books[n]])


# -- JSON Lines: 市民利用施設 予約データ ------------------------------------------------------------------------------

FACILITIES = ["中央体育館", "市民プール", "区民ホール", "青少年会館"]


@dataclass
class JsonlData:
    files: dict[str, list[tuple[str, Any]]]


def jsonl_data(rng: random.Random) -> JsonlData:
    files: dict[str, list] = {"bookings_1.jsonl": [], "bookings_2.jsonl": [], "bookings_3.jsonl": []}
    names = list(files)
    users = [f"user-{rng.randrange(10**6):06d}" for _ in range(60)]
    valid: list[tuple[str, dict, dict]] = []
    count = rng.randrange(150, 200)
    breaks = breakage(rng, count, ["json", "object", "people", "use", "facility", "type", "user"])
    for i in range(count):
        day = some_day(rng)
        stamp = datetime.combine(day - timedelta(days=rng.randrange(1, 30)), datetime.min.time(), JST) \
            + timedelta(minutes=rng.randrange(1440))
        code, people = rng.choice(WARD_CODES), rng.randrange(1, 200)
        user = rng.choice(users + [None])
        record: dict[str, Any] = {
            "booking_id": f"B-{i:05d}", "facility": rng.choice(FACILITIES), "use": {"date": date_text(day, rng)},
            "people": rng.choice([people, str(people), str(people).translate(FULL_WIDTH)]),
            "updated_at": rng.choice([stamp.isoformat(), stamp.astimezone(timezone.utc).isoformat()]),
            "ward": ward_text(code, rng), "user": user, "memo": person(rng)}
        truth: Any = {"予約ID": record["booking_id"], "施設": record["facility"], "利用日": day, "人数": people,
                      "更新": stamp, "区": code, "利用者": user}
        line = json.dumps(record, ensure_ascii=False)
        broken = breaks.get(i)
        if broken == "json":
            line, truth = rng.choice(['{"booking_id": "B-x", "people": ', "予約データ", "{'a': 1}"]), (BAD, "not_json")
        elif broken == "object":
            line, truth = rng.choice(["[1, 2, 3]", '"B-00001"', "42", "null"]), (BAD, "not_object")
        elif broken == "people":
            record["people"] = rng.choice([0, 201, "０"])
            line, truth = json.dumps(record, ensure_ascii=False), (BAD, "out_of_range")
        elif broken == "use":
            record["use"] = rng.choice([{}, {"date": ""}, None])
            line, truth = json.dumps(record, ensure_ascii=False), (BAD, "missing_value")
        elif broken == "facility":
            record["facility"] = "市民農園"
            line, truth = json.dumps(record, ensure_ascii=False), (BAD, "not_allowed")
        elif broken == "type":
            record[rng.choice(["ward", "people"])] = rng.choice(["不明", 12.5, True])
            line, truth = json.dumps(record, ensure_ascii=False), (BAD, "invalid_value")
        elif broken == "user":   # a user id as a number: not read as text, and never shown
            record["user"] = rng.randrange(10**6)
            line, truth = json.dumps(record, ensure_ascii=False), (BAD, "invalid_value")
        place = rng.choice(names)
        files[place].append((line, truth))
        if isinstance(truth, dict):
            valid.append((place, record, truth))
    # A booking sent again: with a later update (it counts, even from an earlier file) or an older one (not).
    for place, record, truth in rng.sample(valid, 10):
        shift = timedelta(hours=rng.choice([-30, 5, 48]))
        again_record = dict(record, people=rng.randrange(1, 200), updated_at=(truth["更新"] + shift).isoformat())
        again = dict(truth, 人数=again_record["people"], 更新=truth["更新"] + shift)
        files[rng.choice(names)].append((json.dumps(again_record, ensure_ascii=False), again))
    for name in names:
        rng.shuffle(files[name])
    return JsonlData(files)


def write_jsonl(data: JsonlData, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, items in data.files.items():
        # A blank line and LF/CRLF as systems write them; blank lines are not rows.
        newline = "\r\n" if name.endswith("2.jsonl") else "\n"
        text = newline.join(line for line, _ in items[:5]) + newline + newline + newline.join(l for l, _ in items[5:])
        (folder / name).write_text(text + newline, "utf-8")


def jsonl_truth(data: JsonlData) -> Truth:
    return settle(Truth(["予約ID"], "利用日", "区", keep="更新"),
                  [t for n in sorted(data.files) for _, t in data.files[n]])


# -- SQL: 証明書の発行 (PostgreSQL), 施設の指定管理契約 (MariaDB) -------------------------------------------------------

KINDS = ["住民票", "印鑑証明", "課税証明"]
CHANNELS = ["窓口", "コンビニ", "オンライン"]


def pg_rows(rng: random.Random) -> list[dict[str, Any]]:
    """id, issued_on (DATE), ward, kind, fee, channel; with the truth of each."""
    out = []
    count = rng.randrange(150, 200)
    breaks = breakage(rng, count, ["day", "ward", "kind", "fee", "channel"])
    for i in range(1, count):
        day, code = some_day(rng), rng.choice(WARD_CODES)
        row = {"id": i, "issued_on": day, "ward": rng.choice([code, code[:5]]), "kind": rng.choice(KINDS),
               "fee": rng.choice([0, 200, 300, 350]), "channel": rng.choice(CHANNELS)}
        truth: Any = {"発行日": day, "区": code, "種類": row["kind"], "手数料": row["fee"], "経路": row["channel"]}
        broken = breaks.get(i - 1)
        if broken == "day":
            row["issued_on"], truth = None, (BAD, "missing_value")
        elif broken == "ward":
            row["ward"], truth = rng.choice(BAD_WARDS), (BAD, "invalid_value")
        elif broken == "kind":
            row["kind"], truth = "戸籍謄本", (BAD, "not_allowed")
        elif broken == "fee":
            row["fee"], truth = rng.choice([-100, 5000]), (BAD, "out_of_range")
        elif broken == "channel":
            row["channel"], truth = None, (BAD, "missing_value")
        row["truth"] = truth
        out.append(row)
    return out


def pg_truth(rows: list[dict[str, Any]]) -> Truth:
    # The query reads the days up to :end only (and the rows without a day, to quarantine them).
    return settle(Truth([], "発行日", "区"), [r["truth"] for r in rows
                                            if r["issued_on"] is None or r["issued_on"] <= AS_OF])


def maria_rows(rng: random.Random) -> list[dict[str, Any]]:
    """id, contract_no, ward, starts, ends (text, as the old system keeps them), monthly (DECIMAL)."""
    out: list[dict[str, Any]] = []
    count = rng.randrange(90, 130)
    breaks = breakage(rng, count, ["start", "order", "fee", "no_start", "no_key"])
    for i in range(1, count):
        start = some_day(rng, date(2024, 10, 1), LAST_DAY)
        end = rng.choice([None, None, start + timedelta(days=rng.randrange(20, 400))])
        code = rng.choice(WARD_CODES)
        monthly = rng.randrange(50, 4000) / 2
        row = {"id": i, "contract_no": f"K{i:04d}", "ward": ward_text(code, rng), "starts": date_text(start, rng),
               "ends": rng.choice([None, ""]) if end is None else date_text(end, rng), "monthly": monthly}
        truth: Any = {"契約番号": row["contract_no"], "区": code, "開始日": start, "終了日": end, "月額": monthly}
        broken = breaks.get(i - 1)
        if broken == "start":
            row["starts"], truth = rng.choice(BAD_DATES), (BAD, "invalid_value")
        elif broken == "order":
            row["ends"], truth = date_text(start - timedelta(days=rng.randrange(1, 40)), rng), (BAD, "before_other")
        elif broken == "fee":
            row["monthly"], truth = -rng.randrange(1, 50), (BAD, "out_of_range")
        elif broken == "no_start":
            row["starts"], truth = None, (BAD, "missing_value")
        elif broken == "no_key":
            row["contract_no"], truth = None, (BAD, "missing_value")
        row["truth"] = truth
        out.append(row)
    # A contract entered twice (the second with another fee): the first row read counts.
    for row in rng.sample([r for r in out if isinstance(r["truth"], dict)], 5):
        again = dict(row, id=len(out) + 1, monthly=row["monthly"] + 100)
        again["truth"] = dict(row["truth"], 月額=again["monthly"])
        out.append(again)
    return out


def maria_truth(rows: list[dict[str, Any]]) -> Truth:
    return settle(Truth(["契約番号"], "開始日", "区"), [r["truth"] for r in sorted(rows, key=lambda r: r["id"])])


class Tables:
    """The two tables on the machine's PostgreSQL and MariaDB, each with a name of its own, dropped after."""

    def __init__(self) -> None:
        suffix = uuid.uuid4().hex[:10]
        self.pg_table, self.maria_table = f"decl_certs_{suffix}", f"decl_contracts_{suffix}"
        self.pg, self.maria = sa.create_engine(POSTGRES), sa.create_engine(MARIADB)

    def fill(self, pg: list[dict], maria: list[dict]) -> None:
        with self.pg.begin() as conn:
            conn.execute(sa.text(f"CREATE TABLE {self.pg_table} (id integer PRIMARY KEY, issued_on date, "
                                 "ward varchar(10), kind varchar(20), fee integer, channel varchar(20))"))
            conn.execute(sa.text(f"INSERT INTO {self.pg_table} VALUES (:id, :issued_on, :ward, :kind, :fee, :channel)"),
                         [{k: v for k, v in r.items() if k != "truth"} for r in pg])
        with self.maria.begin() as conn:
            conn.execute(sa.text(f"CREATE TABLE {self.maria_table} (id int PRIMARY KEY, contract_no varchar(10), "
                                 "ward varchar(10), starts varchar(20), ends varchar(20), monthly decimal(10, 1)) "
                                 "CHARACTER SET utf8mb4"))
            conn.execute(sa.text(f"INSERT INTO {self.maria_table} VALUES (:id, :contract_no, :ward, :starts, :ends, "
                                 ":monthly)"), [{k: v for k, v in r.items() if k != "truth"} for r in maria])

    def set_channel(self, row_id: int, channel: str) -> None:
        with self.pg.begin() as conn:
            conn.execute(sa.text(f"UPDATE {self.pg_table} SET channel = :c WHERE id = :id"), {"c": channel, "id": row_id})

    def drop(self) -> None:
        with self.pg.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {self.pg_table}"))
        with self.maria.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {self.maria_table}"))
        self.pg.dispose()
        self.maria.dispose()


@pytest.fixture
def tables():
    made = Tables()
    try:
        with made.pg.connect(), made.maria.connect():
            pass
    except sa.exc.OperationalError as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL or MariaDB not reachable: {exc.__class__.__name__}")
    yield made
    made.drop()


# -- REST: 電子申請 (one API, four ways of paging) -----------------------------------------------------------------

STATUSES = ["受付", "審査中", "完了", "却下"]
PAGING = {"page": "page_number", "offset": "offset", "cursor": "cursor", "link": "next_link"}
RECORDS_PATH = {"page": "data", "offset": "items", "cursor": "results", "link": "data"}


def api_records(rng: random.Random, prefix: str) -> list[tuple[Any, Any]]:
    """(record, truth) in the API's order: ids re-sent later with a new status (the last one read counts)."""
    out: list[tuple[Any, Any]] = []
    count = rng.randrange(90, 140)
    breaks = breakage(rng, count, ["object", "date", "status", "amount", "missing", "type"])
    for i in range(count):
        day, code = some_day(rng), rng.choice(WARD_CODES)
        amount = rng.choice([0, 500, 1000, 2500, 4000, 5000, 8000])
        record: dict[str, Any] = {"id": f"{prefix}-{i:04d}", "received_on": day.isoformat(),
                                  "ward": {"code": rng.choice([code, code[:5], int(code)])},
                                  "status": rng.choice(STATUSES), "amount": rng.choice([amount, f"{amount:,}"]),
                                  "applicant": {"name": person(rng)}}
        truth: Any = {"申請ID": record["id"], "受付日": day, "区": code, "状態": record["status"], "金額": amount}
        broken = breaks.get(i)
        if broken == "object":
            record, truth = rng.choice([record["id"], [record["id"]], 7]), (BAD, "not_object")
        elif broken == "date":
            record["received_on"], truth = rng.choice([f"{day:%Y/%m/%d}", date_text(day, rng) + "x"]), \
                (BAD, "invalid_value")
        elif broken == "status":
            record["status"], truth = "保留", (BAD, "not_allowed")
        elif broken == "amount":
            record["amount"], truth = rng.choice([-500, 100001]), (BAD, "out_of_range")
        elif broken == "missing":
            del record[rng.choice(["id", "status"])]
            truth = (BAD, "missing_value")
        elif broken == "type":
            record["amount"], truth = rng.choice([12.5, "五百"]), (BAD, "invalid_value")
        out.append((record, truth))
    for record, truth in rng.sample([(r, t) for r, t in out if isinstance(t, dict)], 6):
        status = rng.choice(STATUSES)
        out.insert(rng.randrange(out.index((record, truth)) + 1, len(out) + 1),
                   (dict(record, status=status), dict(truth, 状態=status)))
    return out


def api_truth(items: list[tuple[Any, Any]]) -> Truth:
    return settle(Truth(["申請ID"], "受付日", "区", keep="last"), [t for _, t in items])


class Api:
    """The API on loopback: four endpoints over their own records, each paging its own way; the token is
    checked on every request (a wrong one is 401)."""

    def __init__(self, records: dict[str, list[tuple[Any, Any]]], token: str = TOKEN) -> None:
        api = self
        self.records, self.requests = records, Counter()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                kind = url.path.strip("/")
                api.requests[kind] += 1
                if self.headers.get("Authorization") != f"Bearer {token}":
                    self.reply(401, {"error": "unauthorized"})
                    return
                self.reply(200, api.page(kind, dict(parse_qsl(url.query))))

            def reply(self, status: int, body: Any) -> None:
                data = json.dumps(body, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def page(self, kind: str, q: dict[str, str]) -> Any:
        recs = [r for r, _ in self.records[kind]]
        if kind == "page":
            page, size = int(q["page"]), int(q["per_page"])
            chunk = recs[(page - 1) * size:page * size]
            return {"data": chunk, "total": len(recs), "next_page": page + 1 if page * size < len(recs) else None}
        if kind == "offset":
            offset, limit = int(q["offset"]), int(q["limit"])
            return {"items": recs[offset:offset + limit], "meta": {"total": len(recs)}}
        if kind == "cursor":
            at, size = int(q.get("cursor", "c0")[1:]), int(q["limit"])
            following = f"c{at + size}" if at + size < len(recs) else None
            return {"results": recs[at:at + size], "next_cursor": following}
        after, size = int(q.get("after", 0)), int(q["per_page"])
        link = f"/link?{urlencode({'after': after + size, 'per_page': size})}" if after + size < len(recs) else None
        return {"data": recs[after:after + size], "links": {"next": link}}

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# -- the declarations and the policy, TOML only -------------------------------------------------------------------

def config_toml(root: Path, api: str, tables: Tables, alerts: str) -> str:
    rest = "\n".join(f"""
[sources.apply_{kind}]
type = "rest"
title = "電子申請 受付データ（{label}）"
base_url = "{api}"
path = "/{kind}"
token_env = "{TOKEN_ENV}"
records_path = "{RECORDS_PATH[kind]}"
key = ["申請ID"]
keep = "last"
date = "受付日"
scope = "区"
max_retries = 0
paginator = {pager}

[sources.apply_{kind}.columns]
"申請ID" = {{ type = "text", source = "id" }}
"受付日" = {{ type = "date", format = "iso", source = "received_on", required = true }}
"区" = {{ type = "ward", source = "ward.code" }}
"状態" = {{ type = "text", source = "status", required = true, allowed = ["受付", "審査中", "完了", "却下"] }}
"金額" = {{ type = "integer", source = "amount", min = 0, max = 100000 }}
""" for kind, label, pager in [
        ("page", "ページ番号", '{ type = "page_number", size_param = "per_page", size = 25, next_path = "next_page", '
                              'total_path = "total" }'),
        ("offset", "オフセット", '{ type = "offset", size_param = "limit", size = 20, total_path = "meta.total" }'),
        ("cursor", "カーソル", '{ type = "cursor", size_param = "limit", size = 30, next_path = "next_cursor" }'),
        ("link", "次ページのリンク", '{ type = "next_link", size_param = "per_page", size = 40, next_path = "links.next" }'),
    ])
    return f"""
[warehouse]
url = "sqlite:///{root / 'warehouse.db'}"

[catalog]
path = "policy.toml"

[validation]
max_bad_ratio = 0.3

[alerts]
urls = ["{alerts}"]

[sources.window_queue]
type = "csv"
title = "区役所 窓口受付ログ"
path = "inbox/queue"
key = ["受付番号"]
date = "受付日"
scope = "区コード"

[sources.window_queue.columns]
"受付日" = {{ type = "date", required = true }}
"区コード" = {{ type = "ward", required = true }}
"受付番号" = {{ type = "text", personal = true }}
"待ち時間" = {{ type = "number", min = 0, max = 600 }}
"窓口" = {{ type = "text", allowed = ["住民票", "戸籍", "税"] }}

[sources.staff_training]
type = "excel"
title = "職員研修 受講記録"
path = "inbox/training"
sheet = "受講記録"
key = ["職員番号", "研修"]
keep = "last"
date = "受講日"
scope = "所属"

[sources.staff_training.columns]
"受講日" = {{ type = "date", required = true }}
"所属" = {{ type = "text", required = true }}
"職員番号" = {{ type = "text", personal = true }}
"研修" = {{ type = "text", allowed = ["DX基礎", "データ活用", "情報セキュリティ", "生成AI"] }}
"時間" = {{ type = "number", min = 0, max = 8 }}
"修了" = "boolean"

[sources.facility_bookings]
type = "jsonl"
title = "市民利用施設 予約データ"
path = "inbox/bookings"
key = ["予約ID"]
latest = "更新"
date = "利用日"
scope = "区"

[sources.facility_bookings.columns]
"予約ID" = {{ type = "text", source = "booking_id" }}
"施設" = {{ type = "text", source = "facility", allowed = ["中央体育館", "市民プール", "区民ホール", "青少年会館"] }}
"利用日" = {{ type = "date", source = "use.date", required = true }}
"人数" = {{ type = "integer", source = "people", required = true, min = 1, max = 200 }}
"更新" = {{ type = "datetime", source = "updated_at" }}
"区" = {{ type = "ward", source = "ward", required = true }}
"利用者" = {{ type = "text", source = "user", personal = true }}

[sources.certificates]
type = "sql"
title = "証明書 発行記録（PostgreSQL）"
url_env = "{PG_ENV}"
query = "SELECT issued_on, ward, kind, fee, channel FROM {tables.pg_table} WHERE issued_on IS NULL OR issued_on <= :end ORDER BY id"
date = "発行日"
scope = "区"

[sources.certificates.columns]
"発行日" = {{ type = "date", source = "issued_on", required = true }}
"区" = {{ type = "ward", source = "ward", required = true }}
"種類" = {{ type = "text", source = "kind", allowed = ["住民票", "印鑑証明", "課税証明"] }}
"手数料" = {{ type = "integer", source = "fee", min = 0, max = 1000 }}
"経路" = {{ type = "text", source = "channel", required = true, allowed = ["窓口", "コンビニ", "オンライン"] }}

[sources.contracts]
type = "sql"
title = "指定管理 契約台帳（MariaDB）"
url_env = "{MARIA_ENV}"
query = "SELECT contract_no, ward, starts, ends, monthly FROM {tables.maria_table} ORDER BY id"
key = ["契約番号"]
date = "開始日"
scope = "区"

[sources.contracts.columns]
"契約番号" = {{ type = "text", source = "contract_no" }}
"区" = {{ type = "ward", source = "ward", required = true }}
"開始日" = {{ type = "date", source = "starts", required = true }}
"終了日" = {{ type = "date", source = "ends", not_before = "開始日" }}
"月額" = {{ type = "number", source = "monthly", min = 0 }}
{rest}"""


# Each declared source's title, as the quarantine listing must name it.
TITLES = ["区役所 窓口受付ログ", "職員研修 受講記録", "市民利用施設 予約データ", "証明書 発行記録（PostgreSQL）",
          "指定管理 契約台帳（MariaDB）", "電子申請 受付データ（ページ番号）", "電子申請 受付データ（オフセット）",
          "電子申請 受付データ（カーソル）", "電子申請 受付データ（次ページのリンク）"]

# (id, source, kind, FY2025 target, measure): every kind of measure across the types.
INDICATORS: list[tuple[str, str, str, float, dict[str, Any]]] = [
    ("queue_residents", "window_queue", "count_per_fy", 10**6, {"type": "count", "where": {"窓口": "住民票"}}),
    ("queue_wait", "window_queue", "count_per_fy", 0, {"type": "mean", "column": "待ち時間", "by_scope": True}),
    ("training_staff", "staff_training", "count_per_fy", 0,
     {"type": "distinct", "column": "職員番号", "where": {"修了": True}}),
    ("training_completion", "staff_training", "ratio", 0,
     {"type": "ratio", "numerator": {"修了": True}, "by_scope": True}),
    ("booking_people", "facility_bookings", "count_per_fy", 0, {"type": "sum", "column": "人数", "by_scope": True}),
    ("booking_new_users", "facility_bookings", "count_per_fy", 0, {"type": "first", "column": "利用者"}),
    ("booking_latest_people", "facility_bookings", "count_per_fy", 0, {"type": "latest", "column": "人数"}),
    ("cert_online_share", "certificates", "ratio", 0,
     {"type": "ratio", "numerator": {"経路": "オンライン"}, "by_scope": True}),
    ("cert_fees", "certificates", "count_per_fy", 0,
     {"type": "sum", "column": "手数料", "where": {"種類": ["住民票", "印鑑証明"]}}),
    ("contracts_active", "contracts", "cumulative_count", 0,
     {"type": "active", "valid_from": "開始日", "valid_to": "終了日", "by_scope": True}),
    ("contracts_monthly_fee", "contracts", "count_per_fy", 0,
     {"type": "mean", "column": "月額", "fiscal_year": "mean_of_months"}),
    ("apply_done", "apply_page", "count_per_fy", 0, {"type": "count", "where": {"状態": ["完了"]}}),
    ("apply_done_share", "apply_offset", "ratio", 0,
     {"type": "ratio", "where": {"状態": ["完了", "却下"]}, "numerator": {"状態": "完了"},
      "fiscal_year": "mean_of_months"}),
    ("apply_wards", "apply_cursor", "count_per_fy", 0, {"type": "distinct", "column": "区"}),
    ("apply_mid_amount", "apply_link", "count_per_fy", 0,
     {"type": "count", "where": {"金額": {"min": 1000, "max": 5000}}, "by_scope": True}),
]


def toml_value(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f'"{k}" = {toml_value(v)}' for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False)


def policy_toml() -> str:
    parts = ['[policy]\nid = "city-declared-fy2025"\ntitle = "令和7年度 区政運営方針（宣言ソース）"\n'
             'department = "市政改革室"\nfiscal_year = 2025\n\n[challenges]\n1 = "手続きと施設を使いやすく"\n']
    for kpi, source, kind, target, measure in INDICATORS:
        parts.append(f'[[indicators]]\nid = "{kpi}"\nchallenge = 1\nname = "{kpi} の実績"\nunit = "件"\n'
                     f'kind = "{kind}"\ndirection = "at_least"\nsource = "{source}"\ntargets = {{ 2025 = {target} }}\n'
                     f"measure = {toml_value(measure)}\n")
    return "\n".join(parts)


# -- one city's night ----------------------------------------------------------------------------------------------

@dataclass
class City:
    """Everything written for one seed, and what the hand count knows of it."""
    root: Path
    csv: CsvData
    excel: ExcelData
    jsonl: JsonlData
    pg: list[dict]
    maria: list[dict]
    api: dict[str, list[tuple[Any, Any]]]

    def truths(self) -> dict[str, Truth]:
        return {"window_queue": csv_truth(self.csv), "staff_training": excel_truth(self.excel),
                "facility_bookings": jsonl_truth(self.jsonl), "certificates": pg_truth(self.pg),
                "contracts": maria_truth(self.maria),
                **{f"apply_{kind}": api_truth(items) for kind, items in self.api.items()}}

    def expected(self) -> dict[tuple[str, str, str], dict[str, Any]]:
        truths = self.truths()
        out: dict[tuple[str, str, str], dict[str, Any]] = {}
        for kpi, source, _, _, measure in INDICATORS:
            out.update(hand_count(kpi, measure, truths[source]))
        return out

    def bad(self) -> dict[tuple[str, str], int]:
        return {(name, code): n for name, truth in self.truths().items() for code, n in truth.bad.items() if n}


def make_city(root: Path, seed: int) -> City:
    rng = random.Random(f"declared-{seed}")
    city = City(root, csv_data(rng), excel_data(rng), jsonl_data(rng), pg_rows(rng), maria_rows(rng),
                {kind: api_records(rng, f"{kind.upper()}{seed}") for kind in PAGING})
    write_csv(city.csv, root / "inbox" / "queue")
    write_excel(city.excel, root / "inbox" / "training")
    write_jsonl(city.jsonl, root / "inbox" / "bookings")
    (root / "policy.toml").write_text(policy_toml(), "utf-8")
    return city


def jisseki(*args: str, check: int | None = 0) -> subprocess.CompletedProcess[str]:
    """`jisseki` as people run it: a process of its own, against the session's Prefect test server."""
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), TOKEN_ENV: TOKEN, PG_ENV: POSTGRES,
           MARIA_ENV: MARIADB}
    env.pop("JISSEKI_CONFIG", None)
    done = subprocess.run([sys.executable, "-m", "jisseki.cli", *args], capture_output=True, text=True,
                          encoding="utf-8", timeout=600, env=env)
    if check is not None:
        assert done.returncode == check, done.stdout + done.stderr
    return done


def run(config: Path, check: int | None = 0) -> subprocess.CompletedProcess[str]:
    return jisseki("run", "--config", str(config), "--as-of", AS_OF.isoformat(), check=check)


def revisions(url: str) -> dict[tuple[str, str, str], int]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT kpi_id, period, scope, revision FROM kpi_actual WHERE is_current")).all()
        added = conn.execute(sa.text("SELECT COUNT(*) FROM kpi_actual")).scalar_one()
    engine.dispose()
    assert added == len(rows) + sum(r - 1 for *_, r in rows)   # one row per revision, none current twice
    return {(k, p, s): r for k, p, s, r in rows}


def quarantine_counts(url: str) -> dict[tuple[str, str], int]:
    engine = connect(url)
    try:
        return reason_counts(engine)
    finally:
        engine.dispose()


def personal(city: City) -> set[str]:
    """What identifies a person in the data: receipt and staff numbers, user ids, names."""
    out = {(cells.split(",") if isinstance(cells, str) else cells)[3]
           for items in city.csv.files.values() for cells, _ in items} - {""}
    out |= {cells[2] for items in city.excel.books.values() for cells, _ in items if cells[2]}
    out |= {r["利用者"] for r in city.truths()["facility_bookings"].rows if r["利用者"]}
    return out | {s + " " + g for s in SURNAMES for g in GIVEN}


def correct(city: City, tables: Tables) -> None:
    """One corrected input of each kind: a re-sent CSV file, a changed database row, a changed API record."""
    truths = city.truths()
    # The CSV: a kept 戸籍 reception (read once, on or before the as-of date) was a 住民票 one.
    once = Counter(r["受付番号"] for r in truths["window_queue"].rows)
    for items in city.csv.files.values():
        for i, (cells, truth) in enumerate(items):
            if isinstance(truth, dict) and truth["窓口"] == "戸籍" and once[truth["受付番号"]] == 1 \
                    and truth["受付日"] <= AS_OF and not isinstance(cells, str):
                items[i] = ([*cells[:5], "住民票", cells[6]], dict(truth, 窓口="住民票"))
                break
        else:
            continue
        break
    else:
        raise AssertionError("no CSV row to correct")
    write_csv(city.csv, city.root / "inbox" / "queue")
    # The database: a certificate issued at the window was in fact issued online.
    row = next(r for r in city.pg if isinstance(r["truth"], dict) and r["channel"] == "窓口" and r["issued_on"] <= AS_OF)
    row["channel"], row["truth"] = "オンライン", dict(row["truth"], 経路="オンライン")
    tables.set_channel(row["id"], "オンライン")
    # The API: an application whose only record said 審査中 is now 完了.
    items = city.api["page"]
    ids = Counter(t["申請ID"] for _, t in items if isinstance(t, dict))
    at = next(i for i, (_, t) in enumerate(items) if isinstance(t, dict) and t["状態"] == "審査中"
              and ids[t["申請ID"]] == 1 and t["受付日"] <= AS_OF)
    record, truth = items[at]
    items[at] = (dict(record, status="完了"), dict(truth, 状態="完了"))


@pytest.mark.parametrize("seed", [1, 2])
def test_declared_sources_of_every_type_land_exactly_and_revise_only_what_changed(tmp_path, tables, seed) -> None:
    city = make_city(tmp_path, seed)
    tables.fill(city.pg, city.maria)
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    receiver = Receiver()
    api = Api(city.api)
    try:
        config = tmp_path / "jisseki.toml"
        config.write_text(config_toml(tmp_path, api.base_url, tables, receiver.url()), "utf-8")
        run(config)
        expected = city.expected()
        assert_matches(landed(url), expected)
        assert quarantine_counts(url) == city.bad()
        assert all(api.requests[kind] >= 3 for kind in PAGING)   # every paginator read several pages
        first = revisions(url)
        assert set(first.values()) == {1}

        # The missed target is alerted, once, by its indicator.
        [digest] = receiver.messages
        assert "目標未達成 1 件" in digest["title"] and "取込失敗 0 件" in digest["title"], digest["title"]
        assert "queue_residents の実績（queue_residents） 2025年度" in digest["message"]

        listing = jisseki("quarantine", "--config", str(config)).stdout
        assert sorted(v for v in personal(city) if v in listing) == []
        for title in TITLES:
            assert title in listing, title

        run(config)   # the same inputs: nothing new
        assert revisions(url) == first
        assert quarantine_counts(url) == city.bad()

        correct(city, tables)
        run(config)
        after = city.expected()
        assert_matches(landed(url), after)
        changed = {k for k in after if after[k] != expected[k]}
        assert {k[0] for k in changed} == {"queue_residents", "cert_online_share", "apply_done"}
        assert revisions(url) == {k: 2 if k in changed else 1 for k in first}
        assert quarantine_counts(url) == city.bad()
    finally:
        api.close()
        receiver.close()
    stored = every_cell(url)
    assert sorted(v for v in personal(city) if v in stored) == []
    assert TOKEN not in stored


def test_a_declared_source_that_fails_is_alerted_by_its_title(tmp_path, tables) -> None:
    """The API refuses the token (401) and the workbooks' folder is not there: each is a failed source, named in
    the alert by the title its declaration gives it; the others land."""
    city = make_city(tmp_path, 3)
    tables.fill(city.pg, city.maria)
    shutil.rmtree(tmp_path / "inbox" / "training")   # the share the workbooks are put on is not mounted
    receiver = Receiver()
    api = Api(city.api, token="another-token")
    try:
        config = tmp_path / "jisseki.toml"
        config.write_text(config_toml(tmp_path, api.base_url, tables, receiver.url()), "utf-8")
        done = run(config, check=None)
        assert done.returncode != 0
        [digest] = receiver.messages
    finally:
        api.close()
        receiver.close()
    assert "取込失敗 5 件" in digest["title"], digest["title"]
    for title in ("電子申請 受付データ（ページ番号）（apply_page）", "電子申請 受付データ（次ページのリンク）（apply_link）",
                  "職員研修 受講記録（staff_training）"):
        assert f"{title}: 取込失敗（{AS_OF} 時点）" in digest["message"], title
    assert TOKEN not in digest["message"]
    figures = landed(f"sqlite:///{tmp_path / 'warehouse.db'}")
    assert {k[0] for k in figures} == {"queue_residents", "queue_wait", "booking_people", "booking_new_users",
                                       "booking_latest_people", "cert_online_share", "cert_fees",
                                       "contracts_active", "contracts_monthly_fee"}
