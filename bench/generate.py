"""Volume data: N moving-out notifications (contract 2) over one fiscal year in daily CP932 files, the clean
common case (no bad rows, a few withdrawals, no re-deliveries); or, with --declared, N rows of a declared CSV
source (a ward office's window log: date, ward, ward name, personal receipt number, minutes waited, window),
daily CP932 files with about 1% of receipt numbers delivered again on a later day.

    python bench/generate.py --rows 5000000 --out /tmp/bench-5m [--fy 2025] [--days 365] [--declared]
"""
from __future__ import annotations

import argparse
import random
from datetime import date, timedelta
from pathlib import Path

WARDS = ["271021", "271039", "271047", "271063", "271071", "271080", "271098", "271110", "271136", "271144",
         "271152", "271161", "271179", "271187", "271195", "271209", "271217", "271225", "271233", "271241",
         "271250", "271268", "271276", "271284"]
NAMES = ["都島区", "福島区", "此花区", "西区", "港区", "大正区", "天王寺区", "浪速区", "西淀川区", "東淀川区", "東成区",
         "生野区", "旭区", "城東区", "阿倍野区", "住吉区", "東住吉区", "西成区", "淀川区", "鶴見区", "住之江区", "平野区",
         "北区", "中央区"]
ROUTES = ["マイナポータル", "窓口", "郵送"]
HEADER = "受付日,区コード,区名,受付番号,届出経路,取消\r\n"
WINDOWS = ["住民票", "戸籍", "税"]
DECLARED_HEADER = "受付日,区コード,区名,受付番号,待ち時間,窓口\r\n"


def moveout_row(stamp: str, ward: int, serial: int, route: str, withdrawn: str = "0") -> str:
    """One line of contract 2 (ward by its index in WARDS)."""
    return f"{stamp},{WARDS[ward]},{NAMES[ward]},B{serial:09d},{route},{withdrawn}\r\n"


def window_row(stamp: str, ward: int, receipt: int, minutes: int, window: str) -> str:
    """One line of the window log."""
    return f"{stamp},{WARDS[ward]},{NAMES[ward]},K{receipt:09d},{minutes},{window}\r\n"


def generate(rows: int, out: Path, fy: int = 2025, days: int = 365, seed: int = 7) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    first = date(fy, 4, 1)
    per_day, extra = divmod(rows, days)
    paths, serial = [], 0
    for n in range(days):
        day = first + timedelta(days=n)
        count = per_day + (1 if n < extra else 0)
        stamp = f"{day:%Y/%m/%d}"
        lines = [HEADER]
        for _ in range(count):
            ward = rng.randrange(24)
            serial += 1
            route = ROUTES[0] if rng.random() < 0.34 else ROUTES[1 + (serial & 1)]
            withdrawn = "1" if serial % 97 == 0 else "0"
            lines.append(moveout_row(stamp, ward, serial, route, withdrawn))
        path = out / f"tenshutsu_{day:%Y%m%d}.csv"
        path.write_bytes("".join(lines).encode("cp932"))
        paths.append(path)
    return paths


def generate_declared(rows: int, out: Path, fy: int = 2025, days: int = 365, seed: int = 11) -> list[Path]:
    """The window log: dates written as the contracts do (one in twenty as 和暦), wards by code."""
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    first = date(fy, 4, 1)
    per_day, extra = divmod(rows, days)
    paths, serial = [], 0
    for n in range(days):
        day = first + timedelta(days=n)
        count = per_day + (1 if n < extra else 0)
        stamps = (f"{day:%Y/%m/%d}", f"R{day.year - 2018}.{day.month}.{day.day}")
        lines = [DECLARED_HEADER]
        earlier = serial   # the receipts of the days before
        for i in range(count):
            ward = rng.randrange(24)
            serial += 1
            # A re-delivery: a receipt of an earlier day again (the first read counts).
            receipt = rng.randrange(1, earlier + 1) if earlier and rng.random() < 0.01 else serial
            window = WINDOWS[0] if rng.random() < 0.45 else WINDOWS[1 + (serial & 1)]
            lines.append(window_row(stamps[i % 20 == 0], ward, receipt, rng.randrange(121), window))
        path = out / f"madoguchi_{day:%Y%m%d}.csv"
        path.write_bytes("".join(lines).encode("cp932"))
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--fy", type=int, default=2025)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--declared", action="store_true", help="the declared CSV source's window log")
    args = parser.parse_args()
    paths = (generate_declared if args.declared else generate)(args.rows, args.out, args.fy, args.days)
    print(f"{len(paths)} files, {args.rows:,} rows in {args.out}")


if __name__ == "__main__":
    main()
