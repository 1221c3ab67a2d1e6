"""The generator of `jisseki demo`'s sample inputs for 北区役所 (jisseki/catalogs/kita-fy2025.toml), deterministic.

Like tests/demo_data_more.py it ran once, for the files the demo ships; the figures land exactly on WARD_FY2025:

- kita_window_wait: the mean of 待ち時間 over the FY2025 tickets = 16.8 分 (target: FY2024's 18.0 less 10% =
  16.2, so B). A day re-exported in a second file counts once (key 受付日 + 受付番号); one ticket left open
  overnight (720 分, over the declared max 600) is set aside.
- kita_konbini_share: コンビニ of the FY2025 certificates of ward 271276 = 630 / 1,500 = 42% (band 35〜50%).
  The city-wide table also holds another ward's rows and FY2024's March, which the query leaves out.
- kita_visitor_satisfaction: 満足 or やや満足 in 408 of 480 answers = 85% (target 80%), two half-year workbooks.
- the manual workbook: the cashless milestone done on 2025-10-20 (due 2025-10-31), 104 disaster supporters in
  the plan's first year (interim target 33.4% of 300 = 100.2).
"""
from __future__ import annotations

import csv
import io
import random
from datetime import date, datetime, timedelta
from pathlib import Path

from openpyxl import Workbook

from tests.demo_data import is_business_day, month_days, year_months
from tests.demo_data_more import write_fixed_workbook, write_manual_workbook

SEED = 20260331 + 70   # far from the other generators' seeds
KITA = "271276"
MIYAKOJIMA = "271039"
# (kpi id, FY2025 actual, grade, prior-year actual): the ward's table as the demo prints it.
WARD_FY2025 = {
    "kita_window_wait": (16.8, "B", 18.0),
    "kita_konbini_share": (0.42, "A", 0.33),
    "kita_visitor_satisfaction": (0.85, "A", 0.78),
    "kita_cashless_counter": (1, "A", None),
    "kita_disaster_supporters": (104, "A", None),
}
QUEUE_DIR = "inbox/kita/queue"
SURVEY_DIR = "inbox/kita/survey"
CERTIFICATES = "db/certificate_issue.csv"   # the demo loads it into a SQLite table of that name
MANUAL_FILE = "inbox/manual/実績入力_北区役所_FY2025.xlsx"
QUEUE_HEADER = ("受付日", "受付番号", "窓口", "待ち時間")
COUNTERS = ("住民票", "戸籍", "転入・転出", "印鑑登録")
TICKETS_PER_DAY = 10
WAIT_MEAN_TENTHS = 168          # 16.8 分
REEXPORTED_DAY = date(2025, 10, 15)
OPEN_OVERNIGHT = (date(2026, 1, 21), "9001", "住民票", "720")


def write_demo_ward(root: Path) -> None:
    """Writes the window-queue CSVs, the survey workbooks, the certificate table's CSV and the ward's manual
    workbook under root."""
    rng = random.Random(SEED)
    _write_queue(rng, root / QUEUE_DIR)
    _write_certificates(rng, root / CERTIFICATES)
    _write_survey(rng, root / SURVEY_DIR)
    _write_manual(root / MANUAL_FILE)


def _fy2025_business_days() -> list[date]:
    return [d for y, m in year_months(2025) for d in month_days(y, m) if is_business_day(d)]


def _write_queue(rng: random.Random, folder: Path) -> None:
    days = _fy2025_business_days()
    tickets = [(d, f"{n:04d}", rng.choice(COUNTERS)) for d in days for n in range(1, TICKETS_PER_DAY + 1)]
    # Longer queues in the moving season (March, April), shorter in summer.
    waits = [max(1, round(rng.gauss({3: 26, 4: 24, 7: 12, 8: 11}.get(d.month, 16), 5))) for d, _, _ in tickets]
    _settle(rng, waits, len(waits) * WAIT_MEAN_TENTHS // 10, 1, 90)   # ten tickets a day: a whole sum
    rows = [(d, n, c, str(w)) for (d, n, c), w in zip(tickets, waits)]
    by_month: dict[tuple[int, int], list[tuple[date, str, str, str]]] = {}
    for row in rows:
        by_month.setdefault((row[0].year, row[0].month), []).append(row)
    by_month[(2026, 1)].append(OPEN_OVERNIGHT)
    folder.mkdir(parents=True, exist_ok=True)
    for (year, month), month_rows in by_month.items():
        _queue_csv(folder / f"窓口受付_{year}{month:02d}.csv", month_rows)
    _queue_csv(folder / f"窓口受付_{REEXPORTED_DAY:%Y%m%d}_再出力.csv", [r for r in rows if r[0] == REEXPORTED_DAY])


def _settle(rng: random.Random, values: list[int], total: int, low: int, high: int) -> None:
    """Moves values by one at random places, within low..high, until they add up to total."""
    while (gap := total - sum(values)) != 0:
        i = rng.randrange(len(values))
        step = 1 if gap > 0 else -1
        if low <= values[i] + step <= high:
            values[i] += step


def _queue_csv(path: Path, rows: list[tuple[date, str, str, str]]) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(QUEUE_HEADER)
    writer.writerows((f"{d:%Y/%m/%d}", n, c, w) for d, n, c, w in rows)
    path.write_bytes(out.getvalue().encode("cp932"))


def _write_certificates(rng: random.Random, path: Path) -> None:
    days = _fy2025_business_days()
    channels = ["コンビニ"] * 630 + ["オンライン"] * 120 + ["窓口"] * 750
    rng.shuffle(channels)
    rows = [(days[i * len(days) // len(channels)], KITA, channel) for i, channel in enumerate(channels)]
    # Not counted: the same system's rows of another ward, and FY2024's last month.
    rows += [(rng.choice(days), MIYAKOJIMA, rng.choice(["コンビニ", "窓口"])) for _ in range(200)]
    rows += [(date(2025, 3, 3) + timedelta(days=i % 28), KITA, "コンビニ" if i % 3 == 0 else "窓口")
             for i in range(100)]
    rows.sort(key=lambda r: r[0])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("issued_on", "ward_code", "channel"))
    writer.writerows((d.isoformat(), ward, channel) for d, ward, channel in rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(out.getvalue(), "utf-8")


SURVEY_HEADER = ("回答日", "窓口", "満足度")


def _write_survey(rng: random.Random, folder: Path) -> None:
    days = _fy2025_business_days()
    answers = ["満足"] * 250 + ["やや満足"] * 158 + ["ふつう"] * 48 + ["やや不満"] * 16 + ["不満"] * 8
    rng.shuffle(answers)
    rows = [(days[i * len(days) // len(answers)], rng.choice(COUNTERS), a) for i, a in enumerate(answers)]
    halves = {"上期": [r for r in rows if r[0] < date(2025, 10, 1)], "下期": [r for r in rows if r[0] >= date(2025, 10, 1)]}
    for half, half_rows in halves.items():
        wb = Workbook()
        ws = wb.active
        ws.title = "回答"
        ws.append(SURVEY_HEADER)
        for day, counter, answer in half_rows:
            ws.append((datetime.combine(day, datetime.min.time()), counter, answer))
        for cell in ws["A"][1:]:
            cell.number_format = "yyyy/mm/dd"
        wb.properties.creator = "北区役所 総務課"
        write_fixed_workbook(wb, folder / f"来庁者アンケート_令和7年度{half}.xlsx", datetime(2026, 4, 1, 9, 0))


MANUAL_HEADER = ("KPI ID", "年度", "実績値", "根拠", "入力者", "入力日", "指標名", "単位", "目標（参考）")
MANUAL_ROWS = (
    ("kita_cashless_counter", "2025", "済", "窓口手数料キャッシュレス決済 運用開始のお知らせ（令和7年10月20日）",
     "北区役所 窓口サービス課", datetime(2025, 10, 20, 16, 30), "窓口手数料のキャッシュレス決済の導入", "", "完了"),
    ("kita_disaster_supporters", "令和7年度", "104人", "地域防災サポーター養成講座 実施報告（全4回）",
     "北区役所 地域課", datetime(2026, 4, 6, 10, 0), "地域防災サポーターの養成（令和7〜9年度で300人）", "人", 100),
)


def _write_manual(path: Path) -> None:
    write_manual_workbook(path, MANUAL_HEADER, MANUAL_ROWS, "北区役所 総務課", datetime(2026, 4, 6, 10, 5))
