"""Volume data for contract 2: N moving-out notifications over one fiscal year in daily CP932 files,
the clean common case (no bad rows, a few withdrawals, no re-deliveries).

    python bench/generate.py --rows 5000000 --out /tmp/bench-5m [--fy 2025] [--days 365]
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
            lines.append(f"{stamp},{WARDS[ward]},{NAMES[ward]},B{serial:09d},{route},{withdrawn}\r\n")
        path = out / f"tenshutsu_{day:%Y%m%d}.csv"
        path.write_bytes("".join(lines).encode("cp932"))
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--fy", type=int, default=2025)
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()
    paths = generate(args.rows, args.out, args.fy, args.days)
    print(f"{len(paths)} files, {args.rows:,} rows in {args.out}")


if __name__ == "__main__":
    main()
