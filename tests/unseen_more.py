"""Unseen data, part 2: seeded random source data written to contracts 4-6, with every bad-input case.

Standard library + openpyxl. ``write_unseen_more(root, seed)`` writes

* ``root/dataviz/*.csv``     (contract 5 access log, one file per JST month 2025-01..2026-05)
* ``root/departments.csv``   (contract 5 department master, 所属マスタ)
* ``root/manual/*.xlsx``     (contract 6, four workbooks)

and returns the app records (contract 4 dicts) in API order, for a fake app list API.
Data covers ~2025-01-01..2026-05-31 (a few apps start earlier, from FY2023). Everything
is a pure function of ``seed``; the .xlsx files are byte-for-byte reproducible (fixed
zip timestamps and document properties).

``app_count(seed)`` is the number of app records (duplicates and bad ones included):
``seed % 4 == 0`` -> 200 (so seed 0 pages as 100 + 100 apps and then an empty page: the
last full page is exactly ``limit`` long), ``seed % 4 == 1`` -> 300, otherwise a count in
170..299 that is not a multiple of 100 (a short last page). 5 records are bad, so the
bad share stays under 3 %.

``personal_values_more(root, seed)`` returns every personal value written: access-log
``user_id``s and ``user_name``s (an extra column some files carry), and the person
names put in a workbook's 入力者 / 備考 cells (as written and NFKC-normalised).

``SUGGESTED_AS_OF_MORE`` (2026-04-20) is an as-of date the data has sharp edges around
(an app starting on it and one the day after, accesses at 23:59 JST on it and at
00:00 JST the day after written in UTC, a department abolished on it and one created
the day after). Every 入力日 in the workbooks is on or before it.

Cases written (expected figures: ``tests/handcount.py``):
apps - several apps per 業務; draft/testing apps with a date (never count, one earlier
than its 業務's first operating app); in_operation with a null date; retired apps with
and without ``retired_on``; starts on FY boundaries, on the as-of date and the day after,
after the data window; duplicate ``app_id`` copies later in the list (verbatim, status
promoted testing -> in_operation, demoted in_operation -> draft, corrected start date,
retired); bad records: unknown status (a later copy of a good app: the good copy
stands), ``operation_started_on`` not YYYY-MM-DD, missing ``app_id``, missing
``business_id`` (with the earliest start of all), ``retired_on`` not a date.
dataviz - master with abolished (mid-year, at FY end, on the as-of date), created
(mid-year, the day after the as-of date) and reorganised departments (two merged into a
new code), a code re-listed under a new row, a code with a validity gap, bad master rows
(valid_from ``2025/04/01`` or 和暦, valid_to before valid_from); access files UTF-8 with
and without BOM, CRLF and LF, shuffled columns, extra columns ``user_name``/``device``,
``+09:00``/``Z``/``+00:00``/no-offset timestamps (UTC ones crossing a JST day or FY
boundary), blank lines mid-file and trailing, accesses after the as-of date, accesses
of an abolished code after its valid_to and of a new code a week before its valid_from
(good rows: the code is in the master), bad rows (unparsable accessed_at, empty or
unknown department_code, codes only found in bad master rows).
manual - see ``_manual_files``: every 年度 form, units, full-width digits, commas,
milestone words and 1/0 cells, latest-入力日 winners with ties across files and within
a file, FY2024/2025/2026 rows, unknown and non-manual KPI ids, unparsable values, a
missing 入力日, template rows, blank rows, a memo row, a decoy ``記入例`` sheet that is the
active sheet, a workbook without a ``実績`` sheet (``99_旧様式.xlsx``: 1 bad row, and it
would otherwise win), and ``03_実績入力_年度末修正.xlsx`` whose latest entries miss the
FY2025 targets (external_specialists 3 vs 7, infra_training_participants 45 vs 60,
security_strategy_revised 未) so a test can check B grades.
"""

from __future__ import annotations

import copy
import csv
import io
import random
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from pathlib import Path

import openpyxl

from tests.unseen import write_files

JST = timezone(timedelta(hours=9))
FIRST_DAY = date(2025, 1, 1)
LAST_DAY = date(2026, 5, 31)
SUGGESTED_AS_OF_MORE = date(2026, 4, 20)
FULL_WIDTH = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)})

SURNAMES = ["山田", "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "中村", "小林", "加藤", "吉田", "松本"]
GIVEN_NAMES = ["太郎", "花子", "一郎", "直子", "健太", "美咲", "翔", "陽菜", "大輔", "由美", "誠", "恵"]


@dataclass
class BatchMore:
    files: dict[str, bytes] = field(default_factory=dict)
    apps: list[dict] = field(default_factory=list)
    personal: set[str] = field(default_factory=set)


def write_unseen_more(root: Path, seed: int) -> list[dict]:
    """Writes root/dataviz/*.csv, root/departments.csv, root/manual/*.xlsx; returns contract-4 app dicts (API order)."""
    batch = _build(seed)
    write_files(root, batch.files)
    return copy.deepcopy(batch.apps)


def personal_values_more(root: Path, seed: int) -> set[str]:
    """user_ids and person names written to the batch's files. Pure function of ``seed`` (``root`` is not read)."""
    return set(_build(seed).personal)


def app_count(seed: int) -> int:
    """Number of app records for ``seed``: 200 when seed % 4 == 0, 300 when seed % 4 == 1, else 170..299, not x100."""
    if seed % 4 == 0:
        return 200
    if seed % 4 == 1:
        return 300
    return random.Random(f"{seed}/app-count").choice([n for n in range(170, 300) if n % 100])


@lru_cache(maxsize=4)
def _build(seed: int) -> BatchMore:
    batch = BatchMore()
    batch.apps = _apps(random.Random(f"{seed}/apps"), app_count(seed))
    _add_dataviz(batch, random.Random(f"{seed}/dataviz"))
    _add_manual(batch, random.Random(f"{seed}/manual"))
    return batch


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _month_starts(first: date, last: date) -> list[date]:
    return [day for day in _days(first, last) if day.day == 1]


def _month_last_day(start: date) -> date:
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def _person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice([" ", "\u3000", ""]) + rng.choice(GIVEN_NAMES)


def _remember(personal: set[str], value: str) -> None:
    personal.update({value, unicodedata.normalize("NFKC", value).strip()})


# ---------------------------------------------------------------- nocode_apps

APP_NAMES = ["道路占用許可 進捗管理", "会議室予約", "備品貸出台帳", "問合せ対応記録", "イベント参加受付",
             "現場点検報告", "研修申込管理", "庁内アンケート集計", "公用車運行日誌", "補助金申請 進捗管理",
             "窓口混雑状況", "文書収受簿", "委託契約 進捗管理", "相談受付記録"]
D = date
AS_OF = SUGGESTED_AS_OF_MORE

# (business_id, status, operation_started_on, retired_on): fixed edge apps, one copy each
EDGE_APPS = [
    ("OPS-0901", "in_operation", AS_OF, None),                       # starts on the as-of date
    ("OPS-0902", "in_operation", AS_OF + timedelta(days=1), None),   # ... and the day after
    ("OPS-0903", "retired", D(2025, 3, 31), D(2025, 12, 26)),        # FY2024's last day; its later app
    ("OPS-0903", "in_operation", D(2025, 4, 1), None),               #   does not move it to FY2025
    ("OPS-0904", "in_operation", D(2025, 4, 1), None),               # FY2025's first day
    ("OPS-0905", "draft", D(2024, 5, 1), None),                      # a dated draft never counts:
    ("OPS-0905", "in_operation", D(2025, 7, 15), None),              #   the 業務 starts 2025-07-15
    ("OPS-0906", "in_operation", None, None),                        # in operation without a date and
    ("OPS-0906", "testing", D(2025, 8, 1), None),                    #   a dated test app: never counts
    ("OPS-0907", "retired", D(2023, 6, 1), D(2025, 1, 31)),          # retired before the data window
    ("OPS-0908", "in_operation", D(2026, 6, 1), None),               # after the data window
    ("OPS-0909", "retired", D(2025, 11, 4), None),                   # retired without retired_on
    ("OPS-0910", "in_operation", D(2026, 3, 31), None),              # FY2025's last day
    ("OPS-0911", "in_operation", D(2026, 4, 1), None),               # FY2026's first day
]
# (business_id, first copy, later copy): the later copy in list order wins
EDGE_COPIES = [
    ("OPS-0912", ("testing", D(2025, 5, 12), None), ("in_operation", D(2025, 5, 12), None)),
    ("OPS-0913", ("in_operation", D(2025, 6, 2), None), ("draft", D(2025, 6, 2), None)),
    ("OPS-0915", ("in_operation", D(2025, 10, 20), None), ("in_operation", D(2025, 8, 18), None)),
]
BAD_SHADOWED = ("OPS-0914", "in_operation", D(2025, 9, 1), None)  # its later copy has an unknown status
BAD_COUNT = 5
FIRST_PERIODS = [  # where a regular 業務's first app starts, with weights
    (D(2023, 4, 1), D(2024, 3, 31), 2), (D(2024, 4, 1), D(2025, 3, 31), 4),
    (D(2025, 4, 1), D(2026, 3, 31), 3), (D(2026, 4, 1), D(2026, 6, 30), 1),
]


def _app(rng: random.Random, business: str, status: str, start: date | None, retired: date | None) -> dict:
    return {"app_id": "", "name": rng.choice(APP_NAMES), "business_id": business, "status": status,
            "operation_started_on": start.isoformat() if start else None,
            "retired_on": retired.isoformat() if retired else None}


def _random_day(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randint(0, (last - first).days))


def _regular_app(rng: random.Random, business: str, base: date, first: bool) -> dict:
    if first:
        status = rng.choices(["in_operation", "retired", "testing", "draft"], [70, 20, 5, 5])[0]
    else:
        status = rng.choices(["in_operation", "retired", "testing", "draft", "undated"], [45, 10, 15, 20, 10])[0]
    if status == "undated":
        return _app(rng, business, "in_operation", None, None)
    if status in ("testing", "draft"):
        start = base + timedelta(days=rng.randint(-120, 300)) if rng.random() < 0.5 else None
        return _app(rng, business, status, start, None)
    start = base if first else min(base + timedelta(days=rng.randint(0, 450)), D(2026, 9, 30))
    if status == "retired" and start > D(2026, 3, 31):
        status = "in_operation"
    retired = None
    if status == "retired" and rng.random() < 0.85:
        retired = min(start + timedelta(days=rng.randint(60, 500)), LAST_DAY)
    return _app(rng, business, status, start, retired)


def _regular_apps(rng: random.Random, count: int) -> list[dict]:
    apps: list[dict] = []
    number = 100
    while len(apps) < count:
        number += 1
        business = f"OPS-{number:04d}"
        first, last, _ = rng.choices(FIRST_PERIODS, [w for _, _, w in FIRST_PERIODS])[0]
        base = _random_day(rng, first, last)
        for index in range(min(rng.choice([1, 1, 2, 2, 3, 4]), count - len(apps))):
            apps.append(_regular_app(rng, business, base, index == 0))
    return apps


def _changed_copy(rng: random.Random, app: dict) -> dict:
    copy_ = dict(app)
    kind = rng.random()
    if app["status"] in ("draft", "testing"):
        copy_.update(status="in_operation", operation_started_on=app["operation_started_on"] or "2025-10-01")
    elif kind < 0.3:
        pass  # verbatim (the page boundary moved)
    elif kind < 0.6 and app["operation_started_on"] and app["status"] == "in_operation":
        start = date.fromisoformat(app["operation_started_on"])
        copy_.update(status="retired", retired_on=max(start, D(2025, 6, 30)).isoformat())
    elif app["operation_started_on"]:
        shift = rng.choice([-40, -9, -1, 1, 12, 35])
        copy_["operation_started_on"] = (date.fromisoformat(app["operation_started_on"]) + timedelta(days=shift)).isoformat()
        if copy_["retired_on"] and copy_["retired_on"] < copy_["operation_started_on"]:
            copy_["retired_on"] = copy_["operation_started_on"]
    return copy_


def _apps(rng: random.Random, total: int) -> list[dict]:
    edge = [_app(rng, *spec) for spec in EDGE_APPS]
    firsts = [_app(rng, business, *first) for business, first, _ in EDGE_COPIES]
    shadowed = _app(rng, *BAD_SHADOWED)
    regular_copies = rng.randint(3, 6)
    regular = _regular_apps(rng, total - len(edge) - 2 * len(firsts) - 1 - regular_copies - BAD_COUNT)
    unique = regular + edge + firsts + [shadowed]
    rng.shuffle(unique)
    number = 400
    for app in unique:
        number += rng.randint(1, 6)
        app["app_id"] = str(number)
    listing = list(unique)

    def insert_after(original: dict, later: dict) -> None:
        listing.insert(rng.randint(listing.index(original) + 1, len(listing)), later)

    for (business, _, (status, start, retired)), first in zip(EDGE_COPIES, firsts):
        insert_after(first, dict(first, status=status, operation_started_on=start.isoformat(), retired_on=retired))
    for original in rng.sample(regular, regular_copies):
        insert_after(original, _changed_copy(rng, original))
    insert_after(shadowed, dict(shadowed, status="archived"))
    bad = [
        _app(rng, "OPS-0916", "in_operation", None, None) | {"operation_started_on": "2025/06/02"},
        _app(rng, "OPS-0917", "in_operation", D(2025, 4, 15), None),
        _app(rng, "OPS-0919", "in_operation", D(2023, 1, 10), None),  # the earliest start of all
        _app(rng, "OPS-0918", "retired", D(2025, 5, 1), None) | {"retired_on": "未定"},
    ]
    for app in bad:
        number += rng.randint(1, 6)
        app["app_id"] = str(number)
    del bad[1]["app_id"]
    del bad[2]["business_id"]
    for app in bad:
        listing.insert(rng.randint(0, len(listing)), app)
    assert len(listing) == total, (len(listing), total)
    return listing


# ---------------------------------------------------------------- dataviz_access

BUREAUS = ["デジタル統括室", "政策企画室", "総務局", "市民局", "財政局", "契約管財局", "都市交通局", "環境局",
           "健康局", "福祉局", "こども青少年局", "経済戦略局", "大阪港湾局", "都市整備局", "建設局", "計画調整局",
           "危機管理室", "会計室", "消防局", "水道局", "教育委員会事務局", "行政委員会事務局", "市会事務局"]
WARD_NAMES = ["都島区", "福島区", "此花区", "西区", "港区", "大正区", "天王寺区", "浪速区", "西淀川区", "東淀川区",
              "東成区", "生野区", "旭区", "城東区", "阿倍野区", "住吉区", "東住吉区", "西成区", "淀川区", "鶴見区",
              "住之江区", "平野区", "北区", "中央区"]
MASTER_COLUMNS = ["department_code", "department_name", "valid_from", "valid_to"]
ACCESS_COLUMNS = ["accessed_at", "user_id", "department_code", "content_id"]
ACCESS_EXTRAS = ["user_name", "device"]
# departments whose only accesses are these (code, timestamp as written)
EDGE_ACCESSES = [
    ("D0203", "2026-03-31T15:30:00Z"),        # JST 2026-04-01 00:30: FY2026, not FY2025
    ("D0205", "2025-03-31T23:30:00"),         # no offset = JST: FY2024
    ("D0207", "2025-03-31T15:00:00+00:00"),   # JST 2025-04-01 00:00: FY2025
    ("D0209", "2026-04-20T23:59:00+09:00"),   # on the as-of date
    ("D0211", "2026-04-20T15:00:00Z"),        # JST 2026-04-21 00:00: after the as-of date
    ("D0127", "2025-09-24T10:00:00+09:00"),   # a week before the new department's valid_from (good row)
    ("D0125", "2026-01-15T11:00:00+09:00"),   # after the abolished department's valid_to (good row)
]
EDGE_ONLY = {"D0203", "D0205", "D0207", "D0209", "D0211"}
BAD_ACCESS_CASES = (
    [("accessed_at", v) for v in ["不明", "", "2025-02-30T10:00:00+09:00", "2025-06-01T25:10:00+09:00",
                                   "2025/06/01 10:00", "yesterday", "2025-13-01T09:00:00Z"]]
    + [("department_code", v) for v in ["", "D9999", "D0190", "D0190", "X0101", "D0191"]]
)


def _master_rows() -> list[dict[str, str]]:
    def row(code: str, name: str, first: str, last: str = "") -> dict[str, str]:
        return {"department_code": code, "department_name": name, "valid_from": first, "valid_to": last}

    rows = [row(f"D01{i:02d}", name, "2014-04-01") for i, name in enumerate(BUREAUS, start=1)]
    rows += [row(f"D02{i:02d}", name + "役所", "2006-04-01") for i, name in enumerate(WARD_NAMES, start=1)]
    specials = {  # code -> replacement rows
        "D0112": [row("D0112", "経済戦略局", "2013-04-01", "2025-03-31"), row("D0112", "経済戦略局", "2025-04-01")],
        "D0114": [row("D0114", "都市整備局", "2006-04-01", "2025-06-30")],   # merged ...
        "D0116": [row("D0116", "計画調整局", "2006-04-01", "2025-06-30")],   # ... into D0130
    }
    rows = [r for r in rows if r["department_code"] not in specials] + [r for rs in specials.values() for r in rs]
    rows += [
        row("D0130", "都市計画局", "2025-07-01"),
        row("D0125", "万博推進局", "2019-04-01", "2025-12-31"),                  # abolished mid-year
        row("D0126", "IR推進局", "2019-04-01", AS_OF.isoformat()),              # abolished on the as-of date
        row("D0127", "スマートシティ推進室", "2025-10-01"),                      # created mid-year
        row("D0129", "こども家庭支援室", "2026-01-01"),
        row("D0128", "新設準備室", (AS_OF + timedelta(days=1)).isoformat()),      # created the day after
        row("D0131", "臨時給付金室", "2024-04-01", "2025-05-31"),                # valid with a gap,
        row("D0131", "臨時給付金室", "2025-10-01", "2026-03-31"),                # abolished at FY end
    ]
    return sorted(rows, key=lambda r: (r["department_code"], r["valid_from"]))


BAD_MASTER_ROWS = [
    {"department_code": "D0190", "department_name": "調査室", "valid_from": "2025/04/01", "valid_to": ""},
    {"department_code": "D0101", "department_name": "デジタル統括室", "valid_from": "令和7年4月1日", "valid_to": ""},
    {"department_code": "D0191", "department_name": "特命室", "valid_from": "2025-10-01", "valid_to": "2025-04-01"},
]


def _valid_days(rows: list[dict[str, str]], code: str, first: date, last: date) -> list[date]:
    spans = [(date.fromisoformat(r["valid_from"]), date.fromisoformat(r["valid_to"]) if r["valid_to"] else date.max)
             for r in rows if r["department_code"] == code]
    return [day for day in _days(first, last) if any(a <= day <= b for a, b in spans)]


def _timestamp(moment: datetime, zone: str) -> str:
    if zone == "z":
        return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if zone == "utc":
        return moment.astimezone(timezone.utc).isoformat()
    if zone == "naive":
        return moment.astimezone(JST).replace(tzinfo=None).isoformat()
    return moment.astimezone(JST).isoformat()


@dataclass
class AccessStyle:
    columns: list[str]
    bom: bool
    newline: str
    trailing_blanks: int
    blank_mid: bool


def _access_style(rng: random.Random, index: int) -> AccessStyle:
    columns = ACCESS_COLUMNS + [c for c in ACCESS_EXTRAS if rng.random() < 0.4]
    if rng.random() < 0.3:
        rng.shuffle(columns)
    style = AccessStyle(columns, rng.random() < 0.4, rng.choice(["\r\n", "\n"]), rng.choice([0, 0, 1, 2]),
                        rng.random() < 0.3)
    if index == 0:
        style.bom, style.newline = True, "\r\n"
    if index == 1:
        style.bom, style.newline, style.columns = False, "\n", ["department_code", "user_name", "accessed_at", "content_id", "device", "user_id"]
    return style


def _add_dataviz(batch: BatchMore, rng: random.Random) -> None:
    good = _master_rows()
    master = list(good)
    for bad in BAD_MASTER_ROWS:
        master.insert(rng.randint(1, len(master)), bad)
    codes = sorted({r["department_code"] for r in good})
    users = {code: [(f"u{rng.randrange(16 ** 7):07x}", _person(rng)) for _ in range(rng.randint(2, 6))] for code in codes + ["D0190", "D9999", "X0101", "D0191", ""]}
    propensity = {code: 0.0 if code in EDGE_ONLY else rng.choice([0, 0, 0.1, 0.25, 0.5, 0.8, 0.95]) for code in codes}
    propensity["D0127"] = max(propensity["D0127"], 0.5)
    propensity["D0125"] = max(propensity["D0125"], 0.25)
    rows: list[tuple[datetime, str, str]] = []  # (moment, code, zone)
    for month in _month_starts(FIRST_DAY, LAST_DAY):
        for code in codes:
            if rng.random() >= propensity[code]:
                continue
            days = _valid_days(good, code, month, _month_last_day(month))
            for _ in range(rng.randint(1, 8) if days else 0):
                moment = datetime.combine(rng.choice(days), time(rng.randint(8, 19), rng.randint(0, 59), rng.randint(0, 59)), JST)
                rows.append((moment, code, rng.choices(["jst", "z", "utc", "naive"], [85, 6, 5, 4])[0]))
    edge = [(datetime.fromisoformat(text.replace("Z", "+00:00")), code, text) for code, text in EDGE_ACCESSES]
    edge = [(m if m.tzinfo else m.replace(tzinfo=JST), code, text) for m, code, text in edge]
    edge += [(datetime.combine(AS_OF + timedelta(days=n), time(9, 30), JST), "D0101", "jst") for n in (0, 1, 5)]
    rows += edge

    def cells(moment: datetime, code: str, zone: str) -> dict[str, str]:
        user_id, name = rng.choice(users[code])
        text = zone if zone not in ("jst", "z", "utc", "naive") else _timestamp(moment, zone)
        return {"accessed_at": text, "user_id": user_id, "department_code": code,
                "content_id": f"C-{rng.randint(1, 120):04d}", "user_name": name,
                "device": rng.choice(["PC", "PC", "タブレット"])}

    by_file: dict[str, list[dict[str, str]]] = {}
    for moment, code, zone in sorted(rows, key=lambda r: (r[0], r[1])):
        local = moment.astimezone(JST)
        by_file.setdefault(f"access_{local:%Y%m}.csv", []).append(cells(moment, code, zone))
    names = sorted(by_file)
    for column, value in BAD_ACCESS_CASES:
        moment = datetime.combine(_random_day(rng, FIRST_DAY, D(2026, 3, 31)), time(10, 0), JST)
        code = rng.choice(codes[:20])
        row = cells(moment, code, "jst") | {column: value}
        if column == "department_code":
            row["user_id"], row["user_name"] = rng.choice(users[value])
        target = by_file[rng.choice(names[1:])]
        target.insert(rng.randint(0, len(target)), row)
    for index, name in enumerate(names):
        style = _access_style(rng, index)
        file_rows: list[dict[str, str] | None] = list(by_file[name])
        if style.blank_mid or index == 2:
            file_rows.insert(len(file_rows) // 2, None)
        for row in filter(None, file_rows):
            batch.personal.add(row["user_id"])
            if "user_name" in style.columns:
                _remember(batch.personal, row["user_name"])
        buffer = io.StringIO()
        out = csv.writer(buffer, lineterminator=style.newline)
        out.writerow(style.columns)
        for row in file_rows:
            out.writerow([] if row is None else [row[c] for c in style.columns])
        text = buffer.getvalue() + style.newline * style.trailing_blanks
        batch.files[f"dataviz/{name}"] = text.encode("utf-8-sig" if style.bom else "utf-8")
    buffer = io.StringIO()
    out = csv.DictWriter(buffer, MASTER_COLUMNS, lineterminator="\r\n")
    out.writeheader()
    out.writerows(master)
    batch.files["departments.csv"] = buffer.getvalue().encode("utf-8")


# ---------------------------------------------------------------- manual_entries

INDICATOR_NAMES = {
    "backoffice_platform_started": "バックオフィスDX統合プラットフォーム構築業務の開始",
    "genai_verified_operations": "生成AI：専門性の高い知識を要する業務の検証（業務数）",
    "construction_dx_working_groups": "建設生産プロセスDXのテーマワーキング実施",
    "dx_support_departments": "DX推進事業を所管する担当所属への支援数",
    "external_specialists": "DXの即戦力となる外部専門人材の確保（名）",
    "dx_core_training_participants": "各所属・各課のDXを主体的に推進する人材の育成 研修受講者",
    "infra_training_participants": "都市・インフラ分野 集合研修 受講者",
    "talent_plan_and_training": "人材育成計画の策定と体系的な研修の実施",
    "data_pilot_projects": "データ活用 パイロット事業の実施",
    "security_strategy_revised": "大阪市情報セキュリティ戦略の改定",
    "online_procedures": "オンラインでできる手続き数（累計）",
    "nocode_operations": "ノーコードツールを活用したアプリの運用開始（業務数）",
}
ENTERED_BY = ["デジタル統括室 企画担当", "デジタル統括室 DX推進担当", "総務局 人事部", "建設局 企画部",
              "計画調整局 計画部", "経済戦略局 総務部"]
EVIDENCE = ["https://www.city.osaka.lg.jp/ictsenryakushitsu/page/0000612345.html", "決裁文書 デ統第123号",
            "研修受講者一覧（集計値）", "契約締結一覧", "庁内掲示板 お知らせ 2026-03", "会議資料 第4回"]
DONE_WORDS = ["済", "完了", "達成", 1, "1", "１"]
NOT_DONE_WORDS = ["未", "未了", 0, "0"]
# numeric cells: openpyxl writes 2025.0 as <v>2025</v>, so a float form would read back as an int
YEAR_FORMS = ["plain", "fy", "fy-lower", "reiwa", "r", "fw-plain", "fw-fy", "fw-reiwa", "int"]
COUNT_FORMS = ["int", "text", "unit", "fw-text", "fw-unit", "space-unit"]


@dataclass
class Raw:
    """A cell written verbatim."""
    value: object


@dataclass
class Count:
    n: int
    unit: str


DONE, NOT_DONE, EMPTY = "<done>", "<not done>", Raw(None)


@dataclass
class Entry:
    kpi: str | None
    fy: int | Raw
    value: object  # Count, DONE, NOT_DONE or Raw
    day: date | Raw | None
    who: str | None = None
    note: str = ""
    group: tuple[str, int] | None = None  # rows that must keep this order within the file


def _manual_files(rng: random.Random, person: str, memo_person: str, note_person: str) -> dict[str, list[Entry]]:
    core = rng.randint(60, 75)
    a = [
        Entry("backoffice_platform_started", 2025, NOT_DONE, D(2025, 7, 10)),
        Entry("backoffice_platform_started", 2025, DONE, D(2025, 11, 4)),              # wins: 1
        Entry("genai_verified_operations", 2025, Count(1, "業務"), D(2025, 10, 1)),
        Entry("genai_verified_operations", 2025, Count(2, "業務"), D(2026, 3, 25)),     # wins: 2
        Entry("genai_verified_operations", 2025, Count(3, "業務"), None),               # bad: no 入力日
        Entry("construction_dx_working_groups", 2025, Raw(1), D(2026, 2, 2)),           # wins over B's 2025-12-12
        Entry("dx_support_departments", 2025, Count(2, "所属"), D(2026, 3, 27)),        # tie with B: B's 3 wins
        Entry("external_specialists", 2025, Count(5, "名"), D(2025, 9, 30)),
        Entry("external_specialists", 2025, Count(7, "名"), D(2026, 3, 31)),            # C's 3 (04-15) wins
        Entry("dx_core_training_participants", 2025, Count(40, "名"), D(2025, 12, 1)),
        Entry("dx_core_training_participants", 2025, Count(core, "名"), D(2026, 3, 30)),  # wins
        Entry("dx_core_training_participants", 2025, Raw("多数"), D(2026, 4, 2)),         # bad (later, ignored)
        Entry("data_pilot_projects", 2025, Raw("2件"), D(2026, 3, 16), group=("pilot", 0)),
        Entry("data_pilot_projects", 2025, Raw("3件"), D(2026, 3, 16), group=("pilot", 1)),  # same day, later row: 3
        Entry("talent_plan_and_training", 2025, Raw("達成"), D(2026, 3, 19)),                # wins (later 検討中 is bad)
        Entry("talent_plan_and_training", 2025, Raw("検討中"), D(2026, 4, 10)),              # bad
        Entry("security_strategy_revised", 2025, Raw("未了"), D(2025, 9, 1)),
        Entry("security_strategy_revised", 2025, DONE, D(2026, 3, 31)),                  # C's 未 wins
        Entry("external_specialists", 2024, Count(5, "名"), D(2025, 4, 28)),              # as_of 2025-03-31
        Entry("dx_support_departments", 2024, Count(2, "所属"), D(2025, 4, 10)),
        Entry("data_pilot_projects", 2024, Raw("3.0件"), D(2025, 5, 8)),
        Entry("dx_core_training_participants", 2024, Count(55, "名"), D(2025, 4, 15)),   # beats B's 1,200人 (04-01)
        Entry("infra_training_participants", 2024, Count(28, "名"), D(2025, 4, 15)),     # tie with B: B's 30 wins
        Entry("dx_core_training_participants", 2026, Count(12, "名"), D(2026, 4, 17)),
        Entry("external_specialists", 2026, Count(1, "名"), D(2026, 4, 16)),
        Entry("backoffice_platform_started", 2026, DONE, D(2026, 4, 16)),
        Entry("genai_verified_operations", 2026, EMPTY, None),                          # template rows: skipped
        Entry("talent_plan_and_training", 2026, EMPTY, None),
        Entry("security_strategy_revised", Raw("R8"), EMPTY, None),
        Entry("dx_trainees", 2025, Count(10, "名"), D(2026, 3, 3)),                     # bad: unknown KPI
        Entry("online_procedures", 2025, Raw("2,010件"), D(2026, 4, 1)),                # bad: not a manual KPI
        Entry("infra_training_participants", 2026, Raw("-"), D(2026, 4, 10)),           # bad value
        Entry("external_specialists", Raw("不明"), Count(2, "名"), D(2026, 4, 10)),      # bad 年度
        Entry("data_pilot_projects", 2026, Raw(-1), D(2026, 4, 10)),                    # bad: negative
    ]
    b = [
        Entry("dx_support_departments", 2025, Raw("３"), D(2026, 3, 27)),               # tie with A: 3 wins
        Entry("infra_training_participants", 2025, Count(58, "名"), D(2026, 3, 26)),     # C's 45 wins
        Entry("infra_training_participants", 2024, Raw("30"), D(2025, 4, 15)),
        Entry("construction_dx_working_groups", 2025, Raw("完了"), D(2025, 12, 12)),
        Entry("dx_core_training_participants", 2024, Raw("1,200人"), D(2025, 4, 1)),
        Entry("infra_training_participants", 2026, Raw("１，２００人"), D(2026, 4, 19)),  # wins: 1200
        Entry("data_pilot_projects", 2026, Count(1, "件"), D(2026, 4, 18), who=person),  # a person in 入力者
        Entry("genai_verified_operations", 2025, Count(2, "業務"), D(2026, 3, 10), note=f"担当: {note_person}"),
        Entry(None, 2025, EMPTY, None, note=f"確認: {memo_person}（内線1234）"),           # memo row: blank
        Entry("nocode_operations", 2025, Count(22, "業務"), D(2026, 4, 1)),              # bad: not a manual KPI
        Entry("kpi_x", 2025, Raw(1), D(2026, 4, 1)),                                     # bad: unknown KPI
        Entry(None, 2025, Count(4, "件"), D(2026, 4, 1)),                                # bad: no KPI ID
        Entry("genai_verified_operations", 2026, Raw("多数"), D(2026, 4, 12)),           # bad value
        Entry("talent_plan_and_training", 2026, Raw(0), D(2026, 4, 12)),                 # numeric 0: not done
        Entry("security_strategy_revised", 2026, EMPTY, D(2026, 4, 12)),                 # template: skipped
        Entry("dx_support_departments", 2026, Raw(1), D(2026, 4, 13)),
        Entry("external_specialists", 2025, Count(6, "名"), Raw("不明")),                # bad 入力日
        Entry("backoffice_platform_started", 2024, Raw("済み"), D(2025, 4, 3)),           # bad milestone word
    ]
    c = [  # year-end corrections: the latest entries, missing their FY2025 targets
        Entry("external_specialists", 2025, Raw(3), D(2026, 4, 15), note="年度末確定値"),
        Entry("infra_training_participants", 2025, Raw("45名"), D(2026, 4, 15), note="年度末確定値"),
        Entry("security_strategy_revised", 2025, Raw("未"), D(2026, 4, 15), note="改定は令和8年度に延期"),
    ]
    old = [Entry("external_specialists", 2025, Raw(9), D(2026, 4, 19))]  # no 実績 sheet: must not be read
    return {"01_実績入力_デジタル統括室.xlsx": a, "02_実績入力_各局.xlsx": b,
            "03_実績入力_年度末修正.xlsx": c, "99_旧様式.xlsx": old}


class CellRenderer:
    """Renders entries into cells, cycling through every 年度 and value form so each appears."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.year_forms: list[str] = []
        self.count_forms: list[str] = []

    def _next(self, pool: list[str], forms: list[str]) -> str:
        if not pool:
            pool.extend(forms)
            self.rng.shuffle(pool)
        return pool.pop()

    def year(self, fy: int | Raw) -> object:
        if isinstance(fy, Raw):
            return fy.value
        form, reiwa = self._next(self.year_forms, YEAR_FORMS), fy - 2018
        return {"plain": str(fy), "fy": f"FY{fy}", "fy-lower": f"fy{fy}", "reiwa": f"令和{reiwa}年度",
                "r": f"R{reiwa}", "fw-plain": str(fy).translate(FULL_WIDTH),
                "fw-fy": f"FY{fy}".translate(FULL_WIDTH), "fw-reiwa": f"令和{reiwa}年度".translate(FULL_WIDTH),
                "int": fy}[form]

    def value(self, value: object) -> object:
        if isinstance(value, Raw):
            return value.value
        if value == DONE:
            return self.rng.choice(DONE_WORDS)
        if value == NOT_DONE:
            return self.rng.choice(NOT_DONE_WORDS)
        assert isinstance(value, Count)
        n, unit = value.n, value.unit
        form = self._next(self.count_forms, COUNT_FORMS)
        return {"int": n, "text": str(n), "unit": f"{n}{unit}",
                "fw-text": str(n).translate(FULL_WIDTH), "fw-unit": f"{n}{unit}".translate(FULL_WIDTH),
                "space-unit": f"{n} {unit}"}[form]

    def day(self, day: date | Raw | None) -> object:
        if day is None or isinstance(day, Raw):
            return None if day is None else day.value
        form = self.rng.choices(["cell", "slash", "dash"], [60, 25, 15])[0]
        return {"cell": day, "slash": f"{day:%Y/%m/%d}", "dash": f"{day:%Y-%m-%d}"}[form]


HEADERS = {
    "01_実績入力_デジタル統括室.xlsx": ["KPI ID", "指標名", "年度", "実績値", "単位", "根拠", "入力者", "入力日", "備考"],
    "02_実績入力_各局.xlsx": ["ＫＰＩ　ＩＤ", "年度", "実績値", "根拠", "入力者", "入力日", "指標名", "備考"],
    "03_実績入力_年度末修正.xlsx": ["KPI ID", "年度", "実績値 ", "根拠", "入力者", "入力日 ", "備考"],
    "99_旧様式.xlsx": ["KPI ID", "年度", "実績値", "根拠", "入力者", "入力日"],
}


def _ordered(rng: random.Random, entries: list[Entry]) -> list[Entry]:
    """Shuffled, except that rows of a group keep their rank order."""
    rows = list(entries)
    rng.shuffle(rows)
    groups: dict[str, list[int]] = {}
    for index, entry in enumerate(rows):
        if entry.group:
            groups.setdefault(entry.group[0], []).append(index)
    for positions in groups.values():
        members = sorted((rows[i] for i in positions), key=lambda e: e.group[1])
        for position, member in zip(positions, members):
            rows[position] = member
    return rows


def _xlsx_bytes(book: openpyxl.Workbook) -> bytes:
    """The saved workbook with fixed zip timestamps and document dates, so equal content gives equal bytes."""
    raw = io.BytesIO()
    book.save(raw)
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>2026-01-01T00:00:00Z", data)
            dst.writestr(zipfile.ZipInfo(info.filename, date_time=(2026, 1, 1, 0, 0, 0)), data,
                         compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _add_manual(batch: BatchMore, rng: random.Random) -> None:
    person, memo_person, note_person = _person(rng), _person(rng), _person(rng)
    for name in (person, memo_person, note_person):
        _remember(batch.personal, name)
    renderer = CellRenderer(rng)
    for file_name, entries in _manual_files(rng, person, memo_person, note_person).items():
        header = list(HEADERS[file_name])
        if file_name.startswith("02_"):
            rng.shuffle(header)
        book = openpyxl.Workbook()
        sheet = book.active
        sheet.title = "実績" if not file_name.startswith("99_") else "Sheet1"
        sheet.append(header)
        rows: list[Entry | None] = list(_ordered(rng, entries))
        if not file_name.startswith(("03_", "99_")):
            for _ in range(rng.randint(1, 3)):
                rows.insert(rng.randint(1, len(rows)), None)
        for entry in rows:
            if entry is None:
                sheet.append([])
                continue
            cells = {
                "KPI ID": entry.kpi, "年度": renderer.year(entry.fy), "実績値": renderer.value(entry.value),
                "根拠": rng.choice(EVIDENCE) if entry.kpi else None,
                "入力者": entry.who or (rng.choice(ENTERED_BY) if entry.kpi else None),
                "入力日": renderer.day(entry.day), "指標名": INDICATOR_NAMES.get(entry.kpi or ""),
                "単位": None, "備考": entry.note or None,
            }
            sheet.append([cells[unicodedata.normalize("NFKC", h).strip()] for h in header])
        if file_name.startswith("01_"):
            example = book.create_sheet("記入例", 0)  # the decoy is the first and active sheet
            example.append(HEADERS[file_name])
            sample = {"KPI ID": "external_specialists", "年度": "2025", "実績値": "99名", "根拠": "記入例",
                      "入力者": "デジタル統括室", "入力日": D(2026, 4, 19), "備考": "この行は例です",
                      "指標名": INDICATOR_NAMES["external_specialists"], "単位": "名"}
            example.append([sample[h] for h in HEADERS[file_name]])  # would win if it were read
            book.active = 0
        batch.files[f"manual/{file_name}"] = _xlsx_bytes(book)
