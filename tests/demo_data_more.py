"""The generator of `jisseki demo`'s sample inputs for source contracts 4, 5 and 6 (deterministic).

Like tests/demo_data.py it ran once, for the files the demo ships; the figures are built to land exactly on fixed KPI
values under the rules of /work/shared/contracts/sources.md:

- nocode_operations: FY2024 = 59, FY2025 = 50 業務 (distinct business_id by the
  fiscal year of its earliest in-operation app)
- dataviz_department_share: FY2024 at 2025-03-31 = 55/100 = 0.55,
  FY2025 at 2026-03-31 = 64/100 = 0.64
- the manual workbook carries the ten FY2025 values nobody's system records

The edge cases each rule has to get right are present and each one changes the
result when it is mishandled (see the comments on the constants below).
"""

from __future__ import annotations

import calendar
import csv
import io
import itertools
import random
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from openpyxl import Workbook
from openpyxl.writer.excel import ExcelWriter

from jisseki.demo.samples import DEMO_AS_OF
from tests.demo_data import is_business_day, month_days, year_months

SEED = 20260331 + 40  # far from the seeds of tests/demo_data.py


def write_demo_more(root: Path) -> None:
    """Writes root/inbox/dataviz/access_YYYYMM.csv, root/inbox/departments.csv and root/inbox/manual/実績入力_FY2025.xlsx."""
    root = Path(root)
    _write_dataviz(random.Random(SEED + 5), root / "inbox")
    _write_manual(root / "inbox" / "manual" / MANUAL_FILE)


def _fy_start(fy: int) -> date:
    return date(fy, 4, 1)


def _fy_end(fy: int) -> date:
    return date(fy + 1, 3, 31)


# --- no-code platform apps (contract 4) -------------------------------------

# Businesses (業務) by the fiscal year of their first in-operation app.
NOCODE_BUSINESSES = {2022: 24, 2023: 38, 2024: 59, 2025: 50}
NOCODE_FUTURE_BUSINESSES = 3  # first app goes live after DEMO_AS_OF (FY2026)
NOCODE_UNSTARTED_BUSINESSES = 12  # only draft / testing apps
NOCODE_NULL_ONLY_BUSINESSES = 2  # only an in_operation app with no start date
NOCODE_KINDS = ("進捗管理", "受付管理", "台帳", "集計", "点検記録", "予約管理",
                "問合せ管理", "実績報告", "日程調整", "申請審査")
NOCODE_SUBJECTS = (
    "道路占用許可", "屋外広告物許可", "公園占用許可", "市営住宅修繕", "粗大ごみ収集",
    "放置自転車対策", "街路樹管理", "河川巡視", "橋梁点検", "下水道台帳", "水道メーター交換",
    "学校施設修繕", "給食物資", "就学援助", "放課後児童クラブ", "保育施設入所", "児童手当",
    "子育て相談", "妊婦健康診査", "予防接種", "がん検診", "食品衛生監視", "犬猫の譲渡",
    "介護認定", "障がい福祉サービス", "生活保護ケース", "成年後見", "地域見守り",
    "防災備蓄品", "避難所運営", "消防用設備点検", "危険物施設", "救急搬送統計",
    "職員研修", "庁舎会議室", "公用車", "物品購入", "契約事務", "議会答弁", "広報紙配布",
    "市民相談", "区政会議", "住民票交付", "戸籍届出", "税務証明", "固定資産評価",
    "軽自動車税", "補助金交付", "イベント後援", "市民農園", "スポーツ施設", "図書館資料",
    "文化財調査", "観光案内", "企業立地相談", "中小企業融資", "商店街支援", "港湾施設使用",
)


@dataclass
class _App:
    business: int  # index into the business list
    status: str
    started: date | None
    created: date
    retired: date | None = None


def demo_nocode_apps() -> list[dict]:
    """The contract 4 app records the demo's second sample API serves, in list order."""
    rng = random.Random(SEED + 4)
    apps, n_businesses = _nocode_app_plan(rng)
    names = _business_names(rng, n_businesses)
    numbers = sorted(rng.sample(range(1, 700), n_businesses))
    apps.sort(key=lambda a: a.created)  # the platform lists apps by app_id = creation order
    app_id = 100
    used_kinds: dict[int, set[str]] = {}
    records = []
    for app in apps:
        app_id += rng.choice((1, 1, 1, 2, 3))  # deleted apps leave gaps
        subject, kind = names[app.business]
        kinds = used_kinds.setdefault(app.business, set())
        if kinds:  # a further app of the same 業務 gets another purpose
            kind = rng.choice([k for k in NOCODE_KINDS if k not in kinds])
        kinds.add(kind)
        records.append({
            "app_id": str(app_id),
            "name": f"{subject} {kind}",
            "business_id": f"OPS-{numbers[app.business]:04d}",
            "status": app.status,
            "operation_started_on": app.started.isoformat() if app.started else None,
            "retired_on": app.retired.isoformat() if app.retired else None,
        })
    assert len(records) % 100 != 0  # the last API page must be a short one
    return records


def _nocode_app_plan(rng: random.Random) -> tuple[list[_App], int]:
    """All apps, with the business index each serves; returns (apps, number of businesses)."""
    first: dict[int, list[int]] = {}  # FY -> business indexes started in it
    starts: list[date] = []
    for fy, n in NOCODE_BUSINESSES.items():
        days = _start_days(rng, fy, n)
        first[fy] = list(range(len(starts), len(starts) + n))
        starts += days
    apps = [_App(b, "in_operation", d, _created_before(rng, d)) for b, d in enumerate(starts)]

    def later(b: int, first_day: date, last_day: date) -> date:
        return _between(rng, max(starts[b] + timedelta(days=30), first_day), last_day)

    fy24, fy25 = first[2024], first[2025]
    older = first[2022] + first[2023]
    picked = rng.sample(fy24, 20)
    mixed = rng.sample(older, 18)  # disjoint groups of FY2022/23 業務
    # FY2024 業務 that got a second app in FY2025: they must not count again.
    for b in picked[:12]:
        day = later(b, _fy_start(2025), DEMO_AS_OF - timedelta(days=10))
        apps.append(_App(b, "in_operation", day, _created_before(rng, day)))
    # One more goes live exactly on 2025-04-01, the first day of FY2025.
    apps.append(_App(picked[12], "in_operation", _fy_start(2025), date(2025, 2, 10)))
    # Older 業務 add apps in FY2024 / FY2025.
    for b in mixed[:10]:
        day = later(b, date(2024, 4, 1), DEMO_AS_OF)
        apps.append(_App(b, "in_operation", day, _created_before(rng, day)))
    # FY2025 業務 with a second app later in the same year: still one 業務.
    for b in rng.sample(fy25[:35], 4):
        day = later(b, _fy_start(2025), DEMO_AS_OF)
        apps.append(_App(b, "in_operation", day, _created_before(rng, day)))
    # Retired first apps, replaced by a newer app of the same 業務.
    for b in mixed[10:13] + picked[13:16]:
        retired = later(b, date(2024, 1, 1), date(2025, 9, 30))
        apps[b].status, apps[b].retired = "retired", retired
        day = retired + timedelta(days=1)
        apps.append(_App(b, "in_operation", day, _created_before(rng, day)))
    # Retired without a successor: the 業務 still counts in its first year.
    for b in [*mixed[13:15], picked[16], fy25[25]]:
        apps[b].status = "retired"
        apps[b].retired = _between(rng, max(starts[b] + timedelta(days=7), date(2024, 6, 1)), DEMO_AS_OF)
    # A FY2024 業務 whose earliest app was registered on the platform late
    # (a migrated legacy app): its FY2025 app comes first in the list.
    b = picked[17]
    migrated = apps[b]
    migrated.created = date(2025, 11, 4)
    day = _between(rng, date(2025, 5, 1), date(2025, 9, 30))
    apps.append(_App(b, "in_operation", day, _created_before(rng, day)))
    # Testing / draft apps of started 業務 that carry a date earlier than the
    # real start: they must not move the 業務 to FY2024 or FY2023.
    apps.append(_App(fy25[10], "testing", date(2024, 11, 1), date(2024, 9, 2)))
    apps.append(_App(fy24[5], "draft", date(2023, 10, 2), date(2023, 7, 3)))
    # in_operation but no start date: never counts, neither alone nor as a later app.
    apps.append(_App(fy25[20], "in_operation", None, date(2025, 12, 1)))
    apps.append(_App(fy24[30], "in_operation", None, date(2024, 8, 19)))
    n = len(starts)
    # Brand-new 業務 that are not in operation by DEMO_AS_OF.
    for i in range(NOCODE_NULL_ONLY_BUSINESSES):
        apps.append(_App(n, "in_operation", None, _between(rng, date(2025, 1, 6), date(2026, 2, 27))))
        n += 1
    for i in range(NOCODE_UNSTARTED_BUSINESSES):
        status = "testing" if i % 2 else "draft"
        created = _between(rng, date(2025, 6, 2), date(2026, 3, 13))
        # Half of them already have a (planned or copied) start date.
        started = _between(rng, date(2025, 7, 1), DEMO_AS_OF) if i < 6 else None
        apps.append(_App(n, status, started, created))
        n += 1
    for i in range(NOCODE_FUTURE_BUSINESSES):
        day = _between(rng, date(2026, 4, 1), date(2026, 5, 29))
        apps.append(_App(n, "in_operation", day, _created_before(rng, day)))
        n += 1
    # Existing 業務 with another app going live after DEMO_AS_OF.
    for b in (fy25[3], mixed[15]):
        day = _between(rng, date(2026, 4, 1), date(2026, 4, 30))
        apps.append(_App(b, "in_operation", day, _created_before(rng, day)))
    return apps, n


def _start_days(rng: random.Random, fy: int, n: int) -> list[date]:
    """n go-live days within the fiscal year, both boundary days included for FY2024/25."""
    days = [d for ym in year_months(fy) for d in month_days(*ym) if is_business_day(d)]
    chosen = sorted(rng.choice(days) for _ in range(n))
    if fy in (2024, 2025):
        chosen[0], chosen[-1] = _fy_start(fy), _fy_end(fy)
    return chosen


def _created_before(rng: random.Random, day: date) -> date:
    return day - timedelta(days=rng.randint(14, 120))


def _between(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randint(0, max(0, (last - first).days)))


def _business_names(rng: random.Random, n: int) -> list[tuple[str, str]]:
    pairs = [(s, k) for s in NOCODE_SUBJECTS for k in NOCODE_KINDS]
    return rng.sample(pairs, n)


# --- data-visualization access log (contract 5) ------------------------------

DATAVIZ_FILE_MONTHS = [ym for fy in (2024, 2025) for ym in year_months(fy)]
DATAVIZ_MONTH_ROWS = (380, 1820)  # rows in the first and last month (linear rise)
DATAVIZ_UNKNOWN_CODES = ("D9990", "D0013", "D9991", "X0417", "D9990")
DATAVIZ_UNKNOWN_MONTHS = (3, 8, 13, 17, 22)  # file indexes (all 400+ rows)
DATAVIZ_UTC_SHARE = 0.003  # rows written in UTC (Z / +00:00) instead of +09:00
BUREAUS = (
    "デジタル統括室", "政策企画室", "危機管理室", "経済戦略局", "総務局", "市民局", "財政局",
    "契約管財局", "都市交通局", "福祉局", "健康局", "こども青少年局", "教育委員会事務局",
    "環境局", "都市整備局", "建設局", "港湾局", "会計室", "消防局", "水道局", "計画調整局",
)
SECTIONS = ("総務課", "企画課", "経理課", "人事課", "施設課", "事業推進課", "管理課",
            "調整課", "監理課", "保全課")


@dataclass
class _Dept:
    code: str
    name: str
    valid_from: date
    valid_to: date | None = None
    windows: dict[int, tuple[date, date]] = field(default_factory=dict)  # FY -> access days
    weight: float = 1.0
    users: list[str] = field(default_factory=list)

    def valid_at(self, d: date) -> bool:
        return self.valid_from <= d and (self.valid_to is None or d <= self.valid_to)

    @property
    def last_day(self) -> date:
        """The last valid day of an abolished department."""
        if self.valid_to is None:
            raise ValueError(f"{self.code} has no last valid day")
        return self.valid_to


def _write_dataviz(rng: random.Random, inbox: Path) -> None:
    depts, x_dept = _departments(rng)
    rows = _accesses(rng, depts)
    # The only access dept X has around the year end is 2025-04-01 00:30 JST,
    # written in UTC as 2025-03-31T15:30:00Z and delivered in the March file:
    # it is a FY2025 access, not a FY2024 one.
    rows[(2025, 3)].append((datetime(2025, 4, 1, 0, 30), rng.choice(x_dept.users), x_dept.code,
                            "CNT-001", "Z"))
    _add_unknown(rng, rows)
    inbox.mkdir(parents=True, exist_ok=True)
    _write_master(inbox / "departments.csv", depts)
    folder = inbox / "dataviz"
    folder.mkdir(parents=True, exist_ok=True)
    bom = set(rng.sample(DATAVIZ_FILE_MONTHS, 2))
    for ym in DATAVIZ_FILE_MONTHS:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n" if ym in bom else "\n")
        writer.writerow(("accessed_at", "user_id", "department_code", "content_id"))
        for moment, user, code, content, zone in rows[ym]:
            writer.writerow((_stamp(moment, zone), user, code, content))
        encoding = "utf-8-sig" if ym in bom else "utf-8"
        (folder / f"access_{ym[0]}{ym[1]:02d}.csv").write_bytes(out.getvalue().encode(encoding))


def _departments(rng: random.Random) -> tuple[list[_Dept], _Dept]:
    """The master, with each department's access windows per fiscal year.

    Valid at 2025-03-31: 94 stable + 1 abolished that day + 3 abolished in
    FY2025 + 2 created in FY2024 = 100, of which 50 + 1 + 3 + 1 = 55 used.
    Valid at 2026-03-31: 94 stable + 2 created in FY2024 + 4 created in
    FY2025 = 100, of which 59 + 2 + 3 = 64 used.
    """
    names = rng.sample([f"{b} {s}" for b in BUREAUS for s in SECTIONS], 106)
    codes = [f"D{n:04d}" for n in sorted(rng.sample(range(100, 1000), 108))]
    rng.shuffle(codes)
    since = (date(2012, 4, 1), date(2015, 4, 1), date(2018, 4, 1), date(2021, 4, 1))
    stable = [_Dept(codes[i], names[i], rng.choice(since)) for i in range(94)]
    stable[7].valid_to = DEMO_AS_OF  # last valid day is D itself: still valid at D
    old_reorg = _Dept(codes[94], "経済戦略局 産業振興課", date(2015, 4, 1), date(2025, 9, 30))
    new_reorg = _Dept(codes[95], "経済戦略局 産業振興・スタートアップ推進課", date(2025, 10, 1))
    ended_fy24 = _Dept(codes[96], names[94], date(2016, 4, 1), date(2025, 3, 31))
    abolished_fy25 = [old_reorg,
                      _Dept(codes[97], names[95], date(2012, 4, 1), date(2025, 6, 30)),
                      _Dept(codes[98], names[96], date(2018, 4, 1), date(2025, 12, 31))]
    created_fy24 = [_Dept(codes[99], names[97], date(2024, 10, 1)),
                    _Dept(codes[100], names[98], date(2025, 1, 1))]
    created_fy25 = [_Dept(codes[101], names[99], date(2025, 4, 1)), new_reorg,
                    _Dept(codes[102], names[100], date(2025, 10, 1)),
                    _Dept(codes[103], names[101], date(2026, 1, 1))]
    abolished_fy24 = [_Dept(codes[104], names[102], date(2012, 4, 1), date(2024, 9, 30)),
                      _Dept(codes[105], names[103], date(2015, 4, 1), date(2024, 12, 31))]
    gone = _Dept(codes[106], names[104], date(2012, 4, 1), date(2023, 3, 31))
    future = _Dept(codes[107], names[105], date(2026, 4, 1))

    x_dept, late = stable[3], stable[11]
    used25 = {x_dept.code, late.code, stable[7].code}
    used25 |= {d.code for d in rng.sample([d for d in stable if d.code not in used25], 56)}
    used24 = {d.code for d in rng.sample([d for d in stable if d is not x_dept], 50)}
    for d in stable:
        if d.code in used24:
            d.windows[2024] = (_fy_start(2024), _fy_end(2024))
        if d.code in used25:
            d.windows[2025] = (_fy_start(2025), DEMO_AS_OF)
    # The only FY2025 access of `late` is on D itself, in the evening.
    late.windows[2025] = (DEMO_AS_OF, DEMO_AS_OF)
    ended_fy24.windows[2024] = (_fy_start(2024), _fy_end(2024))
    for d in abolished_fy25:  # used in both years, gone by D
        d.windows[2024] = (_fy_start(2024), _fy_end(2024))
        d.windows[2025] = (_fy_start(2025), d.last_day)
    created_fy24[0].windows[2024] = (created_fy24[0].valid_from, _fy_end(2024))
    for d in created_fy24:
        d.windows[2025] = (_fy_start(2025), DEMO_AS_OF)
    for d in (created_fy25[0], created_fy25[1], created_fy25[3]):  # created_fy25[2] never used
        d.windows[2025] = (d.valid_from, DEMO_AS_OF)
    for d in abolished_fy24:  # used in FY2024 until abolished: valid at neither D
        d.windows[2024] = (_fy_start(2024), d.last_day)

    depts = [*stable, old_reorg, new_reorg, ended_fy24, *abolished_fy25[1:], *created_fy24,
             created_fy25[0], *created_fy25[2:], *abolished_fy24, gone, future]
    user = 0
    for d in depts:
        d.weight = rng.lognormvariate(0, 0.9)
        for _ in range(rng.randint(2, 14)):
            user += rng.randint(1, 40)
            d.users.append(f"u{user:05d}")
    return depts, x_dept


def _accesses(rng: random.Random, depts: list[_Dept]) -> dict[tuple[int, int], list[tuple]]:
    """Access rows (JST naive datetime, user, code, content, zone) by file month."""
    contents = [f"CNT-{n:03d}" for n in range(1, 61)]
    content_weights = list(itertools.accumulate(1 / (k + 3) for k in range(len(contents))))
    first, last = DATAVIZ_MONTH_ROWS
    rows: dict[tuple[int, int], list[tuple]] = {ym: [] for ym in DATAVIZ_FILE_MONTHS}

    def access(d: _Dept, day: date) -> None:
        moment = datetime.combine(day, datetime.min.time()) + timedelta(
            seconds=rng.randint(8 * 3600 + 1800, 20 * 3600))
        zone = "+09:00"
        if rng.random() < DATAVIZ_UTC_SHARE:
            zone = rng.choice(("Z", "+00:00"))
        content = rng.choices(contents, cum_weights=content_weights)[0]
        rows[(day.year, day.month)].append((moment, rng.choice(d.users), d.code, content, zone))

    cache: dict[tuple, list[date]] = {}

    def days_in(d: _Dept, fy: int, ym: tuple[int, int] | None = None) -> list[date]:
        key = (d.code, fy, ym)
        if key not in cache:
            cache[key] = _window_days(d, fy, ym)
        return cache[key]

    for fy in (2024, 2025):
        users = [d for d in depts if fy in d.windows]
        for d in users:  # every used department at least once in the year
            access(d, rng.choice(days_in(d, fy)))
        for ym in year_months(fy):
            k = DATAVIZ_FILE_MONTHS.index(ym)
            target = round((first + (last - first) * k / 23) * rng.uniform(0.9, 1.1))
            active = [d for d in users if days_in(d, fy, ym) and d.windows[fy][0] != d.windows[fy][1]]
            weights = list(itertools.accumulate(d.weight for d in active))
            for _ in range(max(0, target - len(rows[ym]))):
                d = rng.choices(active, cum_weights=weights)[0]
                access(d, rng.choice(days_in(d, fy, ym)))
    for file_rows in rows.values():
        file_rows.sort(key=lambda r: (r[0], r[2], r[1]))
    return rows


def _window_days(d: _Dept, fy: int, ym: tuple[int, int] | None) -> list[date]:
    """Days of d's access window in fy (within month ym), business days when there are any."""
    lo, hi = d.windows[fy]
    if ym is not None:
        lo = max(lo, date(*ym, 1))
        hi = min(hi, date(*ym, calendar.monthrange(*ym)[1]))
    days = [lo + timedelta(days=i) for i in range((hi - lo).days + 1)]
    return [x for x in days if is_business_day(x)] or days


def _add_unknown(rng: random.Random, rows: dict[tuple[int, int], list[tuple]]) -> None:
    """A handful of accesses from codes that are not in the master (to be quarantined)."""
    for k, code in zip(DATAVIZ_UNKNOWN_MONTHS, DATAVIZ_UNKNOWN_CODES):
        ym = DATAVIZ_FILE_MONTHS[k]
        file_rows = rows[ym]
        assert len(file_rows) >= 400
        i = rng.randint(1, len(file_rows) - 1)
        moment = file_rows[i][0]
        file_rows.insert(i, (moment, f"u{rng.randint(90000, 99999):05d}", code, "CNT-002", "+09:00"))


def _stamp(moment: datetime, zone: str) -> str:
    if zone == "+09:00":
        return moment.isoformat() + zone
    utc = moment - timedelta(hours=9)
    return utc.isoformat() + zone


def _write_master(path: Path, depts: list[_Dept]) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("department_code", "department_name", "valid_from", "valid_to"))
    for d in sorted(depts, key=lambda d: d.code):
        writer.writerow((d.code, d.name, d.valid_from.isoformat(),
                         d.valid_to.isoformat() if d.valid_to else ""))
    path.write_bytes(out.getvalue().encode("utf-8"))


# --- manual entry workbook (contract 6) ----------------------------------------

MANUAL_FILE = "実績入力_FY2025.xlsx"
MANUAL_HEADER = ("KPI ID", "年度", "実績値", "根拠", "入力者", "入力日", "指標名", "単位", "目標")
ENTERED_BY = "デジタル統括室 DX推進担当"
# (KPI ID, 年度, 実績値, 根拠, 入力者, 入力日, 指標名, 単位, 目標), in sheet order.
# The superseded dx_core_training_participants row (65名) comes first; the later
# 入力日 (69名) wins. Plain numbers are typed as numbers, as people do in Excel.
MANUAL_ROWS: tuple[tuple, ...] = (
    ("backoffice_platform_started", "2025", "済", "構築業務委託契約 締結（令和7年6月）",
     "デジタル統括室 基盤担当", datetime(2026, 4, 1, 10, 12), "バックオフィスDX統合プラットフォーム構築業務の開始", "", "開始"),
    ("dx_core_training_participants", "令和7年度", "65名", "研修受講者名簿（第3回まで）",
     ENTERED_BY, datetime(2026, 4, 2, 9, 40), "DX推進人材の育成 研修受講者", "名", 60),
    ("genai_verified_operations", "FY2025", "2業務", "生成AI検証報告書（法務・税務）",
     ENTERED_BY, datetime(2026, 4, 3, 15, 5), "生成AI 専門性の高い業務の検証", "業務", 2),
    ("construction_dx_working_groups", "R7", "完了", "https://www.city.osaka.lg.jp/kensetsu/page/0000000001.html",
     "建設局 企画部 DX推進担当", datetime(2026, 4, 6, 11, 30), "建設生産プロセスDXのテーマワーキング実施", "", "実施"),
    ("dx_support_departments", 2025, 2, "伴走支援実施報告（2所属）",
     ENTERED_BY, datetime(2026, 4, 7, 14, 0), "DX推進事業の担当所属への支援数", "所属", 2),
    ("external_specialists", "令和7年度", "７名", "任期付職員・業務委託 採用実績",
     "デジタル統括室 人材担当", datetime(2026, 4, 7, 16, 20), "外部専門人材の確保", "名", 7),
    ("infra_training_participants", "R7", 60, "都市・インフラ分野 集合研修 出席簿",
     "計画調整局 DX推進担当", datetime(2026, 4, 8, 9, 15), "都市・インフラ分野 集合研修 受講者", "名", 60),
    ("dx_core_training_participants", "令和7年度", "69名", "研修受講者名簿（全4回 確定）",
     ENTERED_BY, datetime(2026, 4, 9, 17, 45), "DX推進人材の育成 研修受講者", "名", 60),
    ("talent_plan_and_training", "FY2025", "達成", "DX人材育成計画（令和7年度版）",
     "デジタル統括室 人材担当", datetime(2026, 4, 10, 10, 0), "人材育成計画の策定と体系的な研修の実施", "", "策定・実施"),
    ("data_pilot_projects", "2025", "3件", "データ活用パイロット事業 実施報告",
     "デジタル統括室 データ活用担当", datetime(2026, 4, 13, 13, 30), "データ活用 パイロット事業の実施", "件", 3),
    ("security_strategy_revised", "R7", 1, "https://www.city.osaka.lg.jp/ictsenryakushitsu/page/0000000002.html",
     "デジタル統括室 セキュリティ担当", datetime(2026, 4, 14, 11, 0), "大阪市情報セキュリティ戦略の改定", "", "改定"),
)


def _write_manual(path: Path) -> None:
    write_manual_workbook(path, MANUAL_HEADER, MANUAL_ROWS, ENTERED_BY, datetime(2026, 4, 14, 11, 5))


def write_manual_workbook(path: Path, header: tuple[str, ...], rows: tuple[tuple, ...], creator: str,
                          stamp: datetime) -> None:
    """A filled-in manual workbook (contract 6) with 入力日 in column F, the same bytes on every machine."""
    wb = Workbook()
    ws = wb.active
    ws.title = "実績"
    ws.append(header)
    for row in rows:
        ws.append(row)
    for cell in ws["F"][1:]:
        cell.number_format = "yyyy/mm/dd hh:mm"
    for column, width in zip("ABCDEFGHI", (32, 11, 9, 40, 28, 17, 40, 6, 10)):
        ws.column_dimensions[column].width = width
    wb.properties.creator = creator
    write_fixed_workbook(wb, path, stamp)


def write_fixed_workbook(wb: Workbook, path: Path, stamp: datetime) -> None:
    """Saves `wb` as the same bytes on every machine: created and modified at `stamp`, entries repacked."""
    wb.properties.created = wb.properties.modified = stamp
    saved = io.BytesIO()
    with zipfile.ZipFile(saved, "w") as archive:
        ExcelWriter(wb, archive).save()  # not wb.save(): it sets properties.modified to the time of saving
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_repacked(saved.getvalue(), stamp))


def _repacked(workbook: bytes, stamp: datetime) -> bytes:
    """The workbook with every zip entry stamped `stamp` and stored, not deflated: the same bytes on every machine.

    openpyxl stamps the entries with the time of saving, and zlib builds may deflate differently: the shipped
    sample must come out the same when it is made again (tests/test_demo_samples.py).
    """
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(workbook)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as target:
        for entry in source.infolist():
            fixed = zipfile.ZipInfo(entry.filename, stamp.timetuple()[:6])
            fixed.create_system = 3  # else the platform's: 0 on Windows
            target.writestr(fixed, source.read(entry))
    return out.getvalue()
