"""The generator of `jisseki demo`'s sample inputs for source contracts 1, 2 and 3 (deterministic).

It ran once: the demo ships what it made (jisseki/demo/samples.tar.xz, written by
tests/make_demo_samples.py), and tests/test_demo_samples.py checks that it still makes exactly that.

The figures are built to land exactly on fixed KPI values, so the demo can
show a known-good result:

- online_procedures: 1674 at 2025-03-31, 2180 at 2026-03-31
- myna_moveout_share: FY2024 rounds to 0.24, FY2025 to 0.34
- speech_hours_monthly: FY2024 mean 276.0 h, FY2025 mean 403.0 h

Every dirty-input case the contracts name is present, but kept rare (at most
one bad row per file, and only in files of 400+ rows) so that it is
quarantined without tripping any per-file failure threshold.
"""

from __future__ import annotations

import calendar
import json
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from jisseki.demo.samples import DEMO_AS_OF

SEED = 20260331
FISCAL_YEARS = (2024, 2025)

# --- online procedures (contract 1) ----------------------------------------

PROCEDURE_TARGETS = {2024: 1674, 2025: 2180}  # count at the end of the FY
RETIRED_BY_FY2024 = 40  # retired on or before 2025-03-31
RETIRED_IN_FY2025 = 30  # online before FY2025, retired within it
SHORT_LIVED = 3  # opened and retired within FY2025
NOT_YET_ONLINE = 5  # online_since after DEMO_AS_OF
DUPLICATED_IDS = 20

SUBJECTS = (
    "住民票の写し", "印鑑登録証明書", "戸籍証明書", "税証明書", "児童手当",
    "保育施設利用", "放課後児童クラブ", "就学援助", "介護保険", "国民健康保険",
    "後期高齢者医療", "国民年金", "障がい福祉サービス", "ひとり親家庭医療費助成",
    "こども医療費助成", "妊婦健康診査", "予防接種", "がん検診", "市営住宅",
    "粗大ごみ収集", "道路占用許可", "屋外広告物許可", "犬の登録", "飲食店営業許可",
    "建築計画概要書", "水道使用", "図書館利用カード", "市民農園", "スポーツ施設利用",
    "公園占用許可", "自転車駐車場定期利用", "補助金交付", "市民講座受講",
    "消防用設備等設置", "火災予防条例に基づく届出", "危険物取扱", "入札参加資格",
    "契約保証", "固定資産課税台帳閲覧", "軽自動車税", "市民税・府民税",
    "事業所税", "留守家庭児童対策", "生活保護", "成年後見制度利用支援",
    "施設見学", "広報紙送付", "防災行政無線戸別受信機", "住居表示", "地籍調査",
)
ACTIONS = (
    "の交付申請", "の届出", "の変更届", "の申込み", "の認定申請", "の再交付申請",
    "の廃止届", "の予約", "に関する相談申込み", "の更新申請", "の取下げ", "の閲覧申請",
)
TITLE_VARIANTS = ("", "（法人）", "（代理人）", "（再申請）")

# --- moving-out notifications (contract 2) ---------------------------------

WARDS: tuple[tuple[str, str, int], ...] = (
    # (6-digit code, name, weight ~ population in thousands)
    ("271021", "都島区", 107), ("271039", "福島区", 79), ("271047", "此花区", 65),
    ("271063", "西区", 105), ("271071", "港区", 80), ("271080", "大正区", 62),
    ("271098", "天王寺区", 84), ("271110", "浪速区", 76), ("271136", "西淀川区", 95),
    ("271144", "東淀川区", 176), ("271152", "東成区", 85), ("271161", "生野区", 127),
    ("271179", "旭区", 89), ("271187", "城東区", 168), ("271195", "阿倍野区", 110),
    ("271209", "住吉区", 151), ("271217", "東住吉区", 126), ("271225", "西成区", 105),
    ("271233", "淀川区", 184), ("271241", "鶴見区", 111), ("271250", "住之江区", 118),
    ("271268", "平野区", 190), ("271276", "北区", 141), ("271284", "中央区", 107),
)
MYNA, COUNTER, POST = "マイナポータル", "窓口", "郵送"
MYNA_SHARE = {2024: 0.24, 2025: 0.34}  # exact FY ratio the data is tuned to
MYNA_FIRST_MONTH, MYNA_MONTHLY_RISE = 0.195, 0.0083  # drift over the 24 months
POST_SHARE = 0.07
WITHDRAWN_SHARE = 0.01
DAILY_BASE = {2024: 44, 2025: 46}
MONTH_FACTOR = {4: 1.35, 5: 0.95, 6: 0.85, 7: 0.9, 8: 0.9, 9: 0.95, 10: 0.95,
                11: 0.85, 12: 0.9, 1: 0.9, 2: 1.0, 3: 1.6}
BATCH_MONTHS = (4, 7, 10)  # FY month indexes (Aug, Nov, Feb) of multi-day files
MIN_ROWS_FOR_BAD = 450  # one bad row in 450 stays well under 0.5 %
BAD_MOVEOUT_KINDS = ("unknown_ward", "unknown_route", "bad_date")
BASE_COLUMNS = ("受付日", "区コード", "区名", "受付番号", "届出経路", "取消")
SURNAMES = ("大阪", "難波", "梅田", "天満", "住吉", "堺", "中之島", "淀川", "平野", "森ノ宮")
GIVEN_NAMES = ("太郎", "花子", "一郎", "美咲", "健太", "陽子", "翔", "葵", "大輔", "結衣")
REMARKS = ("", "", "", "転出先：東京都", "代理人による届出", "証明書郵送希望", "住所確認済み")
FULL_WIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")

# --- speech-recognition devices (contract 3) -------------------------------

SPEECH_MEAN_HOURS = {2024: 276, 2025: 403}  # exact mean of the 12 month totals
SPEECH_MONTHLY_RISE = 5.0  # hours per month within a FY
QUARTER = timedelta(minutes=15)
DURATION_WEIGHTS = (6, 10, 9, 7, 4, 3, 2, 2)  # 15 min .. 2 h
MIN_LINES_FOR_BAD = 400
BAD_SPEECH_KINDS = ("reversed", "too_long", "missing_field", "bad_timestamp",
                    "not_json", "reversed", "not_json")
# Night sessions that run past midnight at a month end: (start, minutes).
MONTH_END_SESSIONS = (
    (datetime(2024, 6, 30, 23, 0), 105),
    (datetime(2024, 11, 30, 22, 30), 150),
    (datetime(2025, 3, 31, 23, 15), 75),  # also crosses the fiscal year
    (datetime(2025, 9, 30, 23, 30), 120),
    (datetime(2026, 1, 31, 23, 45), 30),
)


def write_demo_inbox(root: Path) -> list[dict]:
    """Writes root/inbox/tenshutsu/*.csv and root/inbox/speech/*.jsonl; returns the procedure catalog records (contract 1 dicts) that the sample API will serve."""
    root = Path(root)
    # One generator per source so that tuning one never reshuffles another.
    departments = _department_codes(random.Random(SEED))
    records = _procedure_catalog(random.Random(SEED + 1), departments)
    _write_moveout(random.Random(SEED + 2), root / "inbox" / "tenshutsu")
    _write_speech(random.Random(SEED + 3), root / "inbox" / "speech", departments)
    return records


# --- shared helpers ----------------------------------------------------------


def _department_codes(rng: random.Random) -> list[str]:
    return [f"D{n:04d}" for n in sorted(rng.sample(range(100, 1000), 48))]


def year_months(fy: int) -> list[tuple[int, int]]:
    return [(fy + (m < 4), m) for m in (*range(4, 13), 1, 2, 3)]


def month_days(year: int, month: int) -> list[date]:
    return [date(year, month, d) for d in range(1, calendar.monthrange(year, month)[1] + 1)]


def is_business_day(d: date) -> bool:
    year_end = (d.month == 12 and d.day >= 29) or (d.month == 1 and d.day <= 3)
    return d.weekday() < 5 and not year_end


def _spread(total: int, weights: list[float]) -> list[int]:
    """Largest-remainder split of total in proportion to weights."""
    scale = total / sum(weights)
    shares = [w * scale for w in weights]
    counts = [int(s) for s in shares]
    by_remainder = sorted(range(len(shares)), key=lambda i: counts[i] - shares[i])
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _nudge(counts: list[int], diff: int) -> None:
    """Add diff to counts one unit at a time, cycling over the entries."""
    step = 1 if diff > 0 else -1
    for i in range(abs(diff)):
        counts[i % len(counts)] += step


# --- online procedures -------------------------------------------------------


@dataclass
class _Procedure:
    online_since: date
    retired_on: date | None = None
    status: str = "active"
    id: str = ""
    title: str = ""
    department_code: str = ""
    updated_at: str = ""


def _procedure_catalog(rng: random.Random, departments: list[str]) -> list[dict]:
    procedures = _opening_dates(rng)
    _retire(rng, procedures)
    _describe(rng, procedures, departments)
    records = [_procedure_record(p) for p in procedures]
    return _with_stale_copies(rng, procedures, records)


def _opening_dates(rng: random.Random) -> list[_Procedure]:
    kept = PROCEDURE_TARGETS[2024] - RETIRED_IN_FY2025
    before = kept + RETIRED_BY_FY2024 + RETIRED_IN_FY2025
    during = PROCEDURE_TARGETS[2025] - kept + SHORT_LIVED
    months_before = [(y, m) for y in range(2019, 2026) for m in range(1, 13)
                     if (y, m) <= (2025, 3)]
    first = len(months_before)
    # Linear growth in openings per month, continued across both segments.
    early = _dates_by_month(rng, months_before, before, [i + 15 for i in range(first)])
    late = _dates_by_month(rng, year_months(2025), during, [i + 15 for i in range(first, first + 12)])
    # Boundary dates make the "<= D" rule observable.
    early[-1], late[0], late[-1] = date(2025, 3, 31), date(2025, 4, 1), date(2026, 3, 31)
    future = sorted(DEMO_AS_OF + timedelta(days=rng.randint(1, 90)) for _ in range(NOT_YET_ONLINE))
    return [_Procedure(d) for d in early + late + future]


def _dates_by_month(rng: random.Random, months: list[tuple[int, int]], total: int,
                    weights: list[float]) -> list[date]:
    dates = []
    for (year, month), count in zip(months, _spread(total, weights)):
        dates += sorted(rng.choice(month_days(year, month)) for _ in range(count))
    return dates


def _retire(rng: random.Random, procedures: list[_Procedure]) -> None:
    fy2024_end, fy2025_start = date(2025, 3, 31), date(2025, 4, 1)
    old = [p for p in procedures if p.online_since <= date(2024, 6, 30)]
    for i, p in enumerate(rng.sample(old, RETIRED_BY_FY2024 + RETIRED_IN_FY2025)):
        if i < RETIRED_BY_FY2024:
            p.retired_on = fy2024_end if i == 0 else _date_between(
                rng, p.online_since + timedelta(days=60), fy2024_end)
        else:
            p.retired_on = DEMO_AS_OF if i == RETIRED_BY_FY2024 else _date_between(
                rng, fy2025_start, DEMO_AS_OF)
        p.status = "retired"
    fresh = [p for p in procedures if fy2025_start < p.online_since <= date(2025, 12, 31)]
    for p in rng.sample(fresh, SHORT_LIVED):
        p.retired_on = _date_between(rng, p.online_since + timedelta(days=14), DEMO_AS_OF)
        p.status = "retired"
    for p in procedures:
        if p.status == "active" and p.online_since <= DEMO_AS_OF and rng.random() < 0.03:
            p.status = "suspended"


def _date_between(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randint(0, (last - first).days))


def _describe(rng: random.Random, procedures: list[_Procedure], departments: list[str]) -> None:
    titles = [s + a + v for v in TITLE_VARIANTS for s in SUBJECTS for a in ACTIONS]
    rng.shuffle(titles)
    number = 0
    for i, p in enumerate(procedures):
        number += rng.choice((1, 1, 1, 2))  # drafts that never opened leave gaps
        p.id = f"PROC-{number:06d}"
        p.title = titles[i % len(titles)]
        p.department_code = rng.choice(departments)
        p.updated_at = _timestamp(rng, _last_change(rng, p))


def _last_change(rng: random.Random, p: _Procedure) -> date:
    if p.retired_on is not None:
        return p.retired_on
    if p.online_since > DEMO_AS_OF:
        return DEMO_AS_OF - timedelta(days=rng.randint(0, 60))
    return _date_between(rng, p.online_since, DEMO_AS_OF)


def _timestamp(rng: random.Random, day: date) -> str:
    return f"{day.isoformat()}T{rng.randint(8, 19):02d}:{rng.randrange(0, 60, 5):02d}:00+09:00"


def _procedure_record(p: _Procedure) -> dict:
    return {
        "id": p.id,
        "title": p.title,
        "department_code": p.department_code,
        "online_since": p.online_since.isoformat(),
        "retired_on": p.retired_on.isoformat() if p.retired_on else None,
        "status": p.status,
        "updated_at": p.updated_at,
    }


def _with_stale_copies(rng: random.Random, procedures: list[_Procedure],
                       records: list[dict]) -> list[dict]:
    """Adds a second copy of some ids at the end, as if the catalog changed mid-crawl.

    Copies differ only in status and updated_at, so the count never depends on
    which copy wins; only the status shows whether "latest updated_at" was kept.
    """
    candidates = [i for i, p in enumerate(procedures[:2000])
                  if p.retired_on is None and p.online_since <= DEMO_AS_OF]
    extra = []
    for i in sorted(rng.sample(candidates, DUPLICATED_IDS)):
        stale = dict(records[i])
        stale["status"] = "suspended" if stale["status"] == "active" else "active"
        newer = datetime.fromisoformat(stale["updated_at"])
        stale["updated_at"] = (newer - timedelta(days=rng.randint(1, 90))).isoformat()
        if rng.random() < 0.5:
            extra.append(stale)
        else:  # the newer copy is served last, the stale one in place
            extra.append(records[i])
            records[i] = stale
    return records + extra


# --- moving-out notifications ------------------------------------------------


@dataclass
class _Notice:
    day: date
    ward: int
    route: str
    withdrawn: bool = False
    number: str = ""


@dataclass
class _CsvFile:
    name: str
    days: list[date]
    rows: list[dict] = field(default_factory=list)
    valid_rows: list[dict] = field(default_factory=list)
    columns: tuple[str, ...] = BASE_COLUMNS
    date_style: str = "slash"
    five_digit: bool = False
    cancel_empty: bool = False
    bom: bool = False
    blank_lines: int = 0


def _write_moveout(rng: random.Random, folder: Path) -> None:
    files: list[_CsvFile] = []
    for fy in FISCAL_YEARS:
        notices = _moveout_notices(rng, fy)
        files += _moveout_files(rng, fy, notices)
    _redeliver(rng, files)
    for bom_file in rng.sample([f for f in files if "-" not in f.name], 2):
        bom_file.bom = True
    folder.mkdir(parents=True, exist_ok=True)
    for f in files:
        _write_csv(folder / f.name, f)


def _moveout_notices(rng: random.Random, fy: int) -> list[_Notice]:
    months = year_months(fy)
    day_counts = [_daily_counts(rng, fy, y, m) for y, m in months]
    totals = [sum(c for _, c in days) for days in day_counts]
    offset = 12 * FISCAL_YEARS.index(fy)
    myna = [round(n * (MYNA_FIRST_MONTH + MYNA_MONTHLY_RISE * (offset + k) + rng.uniform(-0.006, 0.006)))
            for k, n in enumerate(totals)]
    _nudge(myna, round(sum(totals) * MYNA_SHARE[fy]) - sum(myna))
    notices = []
    for days, n, m in zip(day_counts, totals, myna):
        notices += _month_notices(rng, days, n, m)
    notices.sort(key=lambda x: x.day)
    _number(notices, f"R{fy - 2018}")
    return notices


def _daily_counts(rng: random.Random, fy: int, year: int, month: int) -> list[tuple[date, int]]:
    mean = DAILY_BASE[fy] * MONTH_FACTOR[month]
    return [(d, round(mean * rng.uniform(0.8, 1.2)))
            for d in month_days(year, month) if is_business_day(d)]


def _month_notices(rng: random.Random, days: list[tuple[date, int]], n: int,
                   myna: int) -> list[_Notice]:
    weights = [w for _, _, w in WARDS]
    # Every ward at least once a month, so per-ward monthly ratios always exist.
    wards = list(range(len(WARDS))) + rng.choices(range(len(WARDS)), weights, k=n - len(WARDS))
    post = round(n * POST_SHARE)
    routes = [MYNA] * myna + [POST] * post + [COUNTER] * (n - myna - post)
    rng.shuffle(wards)
    rng.shuffle(routes)
    dates = [d for d, count in days for _ in range(count)]
    notices = [_Notice(d, w, r) for d, w, r in zip(dates, wards, routes)]
    for _ in range(max(1, round(n * WITHDRAWN_SHARE))):
        ward = rng.choices(range(len(WARDS)), weights)[0]
        notices.append(_Notice(rng.choice(dates), ward, rng.choice(routes), withdrawn=True))
    return notices


def _number(notices: list[_Notice], prefix: str) -> None:
    counters = [0] * len(WARDS)
    for notice in notices:
        counters[notice.ward] += 1
        notice.number = f"{prefix}-{counters[notice.ward]:07d}"


def _moveout_files(rng: random.Random, fy: int, notices: list[_Notice]) -> list[_CsvFile]:
    by_day: dict[date, list[_Notice]] = {}
    for notice in notices:
        by_day.setdefault(notice.day, []).append(notice)
    groups = _day_groups(rng, fy, by_day)
    files = []
    for group in groups:
        rows = sorted((n for d in group for n in by_day[d]), key=lambda n: (n.ward, n.number))
        f = _styled_file(rng, group)
        for notice in rows:
            _add_row(rng, f, notice)
        files.append(f)
    batches = [f for f in files if "-" in f.name]
    for f, kind in zip(batches, BAD_MOVEOUT_KINDS):
        _add_bad_row(rng, f, kind, fy)
    return files


def _day_groups(rng: random.Random, fy: int, by_day: dict[date, list[_Notice]]) -> list[list[date]]:
    """One group per day, except a few batches of consecutive days (catch-up deliveries)."""
    days = sorted(by_day)
    batch_starts = set()
    for k in BATCH_MONTHS:
        year, month = year_months(fy)[k]
        in_month = [d for d in days if (d.year, d.month) == (year, month)]
        batch_starts.add(in_month[rng.randint(0, 3)])
    groups, i = [], 0
    while i < len(days):
        group = [days[i]]
        if days[i] in batch_starts:
            rows = len(by_day[days[i]])
            while rows < MIN_ROWS_FOR_BAD:
                i += 1
                group.append(days[i])
                rows += len(by_day[days[i]])
        groups.append(group)
        i += 1
    return groups


def _styled_file(rng: random.Random, group: list[date]) -> _CsvFile:
    name = f"tenshutsu_{group[0]:%Y%m%d}.csv"
    if len(group) > 1:
        name = f"tenshutsu_{group[0]:%Y%m%d}-{group[-1]:%Y%m%d}.csv"
    f = _CsvFile(name, group)
    f.date_style = rng.choices(("slash", "dash", "era_short", "era_kanji"), (72, 12, 9, 7))[0]
    f.five_digit = rng.random() < 0.08
    f.cancel_empty = rng.random() < 0.15
    f.blank_lines = rng.choice((1, 2)) if rng.random() < 0.05 else 0
    extra = rng.random()
    if extra < 0.07:
        f.columns = ("受付日", "区コード", "区名", "受付番号", "氏名", "届出経路", "取消")
    elif extra < 0.12:
        columns = [*BASE_COLUMNS, "備考"]
        rng.shuffle(columns)
        f.columns = tuple(columns)
    return f


def _add_row(rng: random.Random, f: _CsvFile, notice: _Notice) -> None:
    code, name, _ = WARDS[notice.ward]
    received = _format_date(notice.day, f.date_style)
    if f.date_style == "slash" and rng.random() < 0.004:
        received = received.translate(FULL_WIDTH_DIGITS)
    row = {
        "受付日": received,
        "区コード": code[:5] if f.five_digit else code,
        "区名": name,
        "受付番号": notice.number,
        "届出経路": notice.route,
        "取消": "1" if notice.withdrawn else ("" if f.cancel_empty else "0"),
    }
    _fill_extras(rng, f, row)
    f.rows.append(row)
    if not notice.withdrawn:
        f.valid_rows.append(row)


def _fill_extras(rng: random.Random, f: _CsvFile, row: dict) -> None:
    if "氏名" in f.columns and "氏名" not in row:
        row["氏名"] = f"{rng.choice(SURNAMES)} {rng.choice(GIVEN_NAMES)}"
    if "備考" in f.columns and "備考" not in row:
        row["備考"] = rng.choice(REMARKS)


def _format_date(d: date, style: str) -> str:
    reiwa = d.year - 2018
    if style == "slash":
        return f"{d.year}/{d.month:02d}/{d.day:02d}"
    if style == "dash":
        return d.isoformat()
    if style == "era_short":
        return f"R{reiwa}.{d.month}.{d.day}"
    return f"令和{reiwa}年{d.month}月{d.day}日"


def _add_bad_row(rng: random.Random, f: _CsvFile, kind: str, fy: int) -> None:
    code, name, _ = rng.choice(WARDS)
    row = {
        "受付日": f"{fy}/13/45" if kind == "bad_date" else _format_date(rng.choice(f.days), f.date_style),
        "区コード": "271999" if kind == "unknown_ward" else code,
        "区名": "不明" if kind == "unknown_ward" else name,
        # 9xxxxxx numbers are never reached by the real counters.
        "受付番号": f"R{fy - 2018}-9{BAD_MOVEOUT_KINDS.index(kind):06d}",
        "届出経路": "電話" if kind == "unknown_route" else MYNA,
        "取消": "0",
    }
    _fill_extras(rng, f, row)
    f.rows.insert(rng.randint(1, len(f.rows) - 1), row)


def _redeliver(rng: random.Random, files: list[_CsvFile]) -> None:
    """Copies a few valid rows verbatim into a later file (a re-delivery)."""
    for i in range(1, len(files)):
        if rng.random() >= 0.06:
            continue
        source = files[rng.randint(max(0, i - 5), i - 1)]
        for row in rng.sample(source.valid_rows, rng.randint(1, 3)):
            copy = dict(row)
            _fill_extras(rng, files[i], copy)
            files[i].rows.append(copy)
            files[i].valid_rows.append(copy)


def _write_csv(path: Path, f: _CsvFile) -> None:
    # The BOM files also use LF endings: both are allowed by the contract.
    newline = "\n" if f.bom else "\r\n"
    lines = [",".join(f.columns)] + [",".join(row[c] for c in f.columns) for row in f.rows]
    text = newline.join(lines + [""] * f.blank_lines) + newline
    path.write_bytes(text.encode("utf-8-sig" if f.bom else "cp932"))


# --- speech-recognition devices ----------------------------------------------


@dataclass
class _Device:
    id: str
    department_code: str
    loan_type: str
    months: range  # indexes into the 24 demo months


@dataclass
class _Session:
    start: datetime
    minutes: int
    device: _Device
    id: str = ""


def _write_speech(rng: random.Random, folder: Path, departments: list[str]) -> None:
    months = [ym for fy in FISCAL_YEARS for ym in year_months(fy)]
    devices = _devices(rng, departments)
    night = [_Session(start, minutes, devices[0]) for start, minutes in MONTH_END_SESSIONS]
    quarters = _monthly_quarters(rng)
    for s in night:
        for ym, minutes in _split_by_month(s.start, s.minutes).items():
            quarters[months.index(ym)] -= minutes // 15
    by_month = {ym: [s for s in night if (s.start.year, s.start.month) == ym] for ym in months}
    for k, ym in enumerate(months):
        active = [d for d in devices if k in d.months]
        by_month[ym] += _month_sessions(rng, ym, quarters[k], active)
    lines = {ym: _session_lines(sessions) for ym, sessions in by_month.items()}
    _repeat_sessions(rng, by_month, lines)
    _add_bad_lines(rng, months, lines)
    folder.mkdir(parents=True, exist_ok=True)
    for (year, month), file_lines in lines.items():
        text = "".join(line + "\n" for line in file_lines)
        (folder / f"speech_{year}{month:02d}.jsonl").write_bytes(text.encode("utf-8"))


def _devices(rng: random.Random, departments: list[str]) -> list[_Device]:
    numbers = sorted(rng.sample(range(1, 60), 19))
    loan_types = ["annual"] * 14 + ["short_term"] * 5
    rng.shuffle(loan_types)
    # The first annual device runs the whole period: it hosts the night sessions.
    loan_types.remove("annual")
    loan_types.insert(0, "annual")
    annual_starts = [0] * 10 + [6] + [12] * 3
    devices = []
    for number, loan_type in zip(numbers, loan_types):
        if loan_type == "annual":
            months = range(annual_starts.pop(0), 24)
        else:
            first = rng.randint(0, 20)
            months = range(first, first + rng.randint(2, 4))
        devices.append(_Device(f"SR-{number:04d}", rng.choice(departments), loan_type, months))
    return devices


def _monthly_quarters(rng: random.Random) -> list[int]:
    """Quarter-hours per month: an upward drift whose FY means are exact."""
    quarters = []
    for fy in FISCAL_YEARS:
        noise = [rng.uniform(-8, 8) for _ in range(12)]
        centre = sum(noise) / 12
        hours = [SPEECH_MEAN_HOURS[fy] + SPEECH_MONTHLY_RISE * (k - 5.5) + noise[k] - centre
                 for k in range(12)]
        fy_quarters = [round(4 * h) for h in hours]
        _nudge(fy_quarters, 48 * SPEECH_MEAN_HOURS[fy] - sum(fy_quarters))
        quarters += fy_quarters
    return quarters


def _split_by_month(start: datetime, minutes: int) -> dict[tuple[int, int], int]:
    parts: dict[tuple[int, int], int] = {}
    end = start + timedelta(minutes=minutes)
    while start < end:
        year, month = start.year + (start.month == 12), start.month % 12 + 1
        piece_end = min(end, datetime(year, month, 1))
        parts[(start.year, start.month)] = int((piece_end - start).total_seconds()) // 60
        start = piece_end
    return parts


def _month_sessions(rng: random.Random, ym: tuple[int, int], quarters: int,
                    devices: list[_Device]) -> list[_Session]:
    days = [d for d in month_days(*ym) if is_business_day(d)]
    sessions = []
    while quarters > 0:
        length = min(quarters, rng.choices(range(1, 9), DURATION_WEIGHTS)[0])
        quarters -= length
        # Starts 08:30..17:30 and lasts at most 2 h: never crosses midnight.
        start = datetime.combine(rng.choice(days), datetime.min.time()) + QUARTER * rng.randint(34, 70)
        sessions.append(_Session(start, 15 * length, rng.choice(devices)))
    return sessions


def _session_lines(sessions: list[_Session]) -> list[str]:
    sessions.sort(key=lambda s: (s.start, s.device.id))
    per_day: dict[date, int] = {}
    lines = []
    for s in sessions:
        per_day[s.start.date()] = per_day.get(s.start.date(), 0) + 1
        s.id = f"S-{s.start:%Y%m%d}-{per_day[s.start.date()]:04d}"
        lines.append(_session_json(s.id, s.device, s.start, s.start + timedelta(minutes=s.minutes)))
    return lines


def _session_json(session_id: str, device: _Device, start: datetime, end: datetime | str) -> str:
    return json.dumps({
        "session_id": session_id,
        "device_id": device.id,
        "department_code": device.department_code,
        "started_at": _iso(start),
        "ended_at": end if isinstance(end, str) else _iso(end),
        "loan_type": device.loan_type,
    }, ensure_ascii=False)


def _iso(moment: datetime) -> str:
    return moment.isoformat() + "+09:00"


def _repeat_sessions(rng: random.Random,
                     by_month: dict[tuple[int, int], list[_Session]],
                     lines: dict[tuple[int, int], list[str]]) -> None:
    """The log exporter writes a month-end session into both months' files, and once re-sent a day."""
    night = next(s for s in by_month[(2025, 9)] if s.minutes == 120 and s.start.hour == 23)
    lines[(2025, 10)].insert(0, lines[(2025, 9)][by_month[(2025, 9)].index(night)])
    resent = rng.choice(lines[(2024, 11)][-20:])
    lines[(2024, 12)].insert(rng.randint(0, 10), resent)


def _add_bad_lines(rng: random.Random, months: list[tuple[int, int]],
                   lines: dict[tuple[int, int], list[str]]) -> None:
    eligible = [ym for ym in months if len(lines[ym]) >= MIN_LINES_FOR_BAD]
    for i, kind in enumerate(BAD_SPEECH_KINDS):
        ym = eligible[i * len(eligible) // len(BAD_SPEECH_KINDS)]
        file_lines = lines[ym]
        file_lines.insert(rng.randint(1, len(file_lines) - 1), _bad_line(rng, kind, ym, i))


def _bad_line(rng: random.Random, kind: str, ym: tuple[int, int], serial: int) -> str:
    start = datetime(*ym, 10 + serial, 10, 0)
    session_id = f"S-{start:%Y%m%d}-{9000 + serial:04d}"  # never used by real sessions
    device = _Device("SR-0099", "D0999", "annual", range(0))
    if kind == "reversed":
        return _session_json(session_id, device, start, start - timedelta(hours=1))
    if kind == "too_long":
        return _session_json(session_id, device, start, start + timedelta(hours=25))
    if kind == "bad_timestamp":
        return _session_json(session_id, device, start, f"{ym[0]}-{ym[1]:02d}-32T25:00:00+09:00")
    if kind == "missing_field":
        record = json.loads(_session_json(session_id, device, start, start + timedelta(hours=1)))
        del record["ended_at"]
        return json.dumps(record, ensure_ascii=False)
    return _session_json(session_id, device, start, start + timedelta(hours=1))[:70]
