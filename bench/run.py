"""One command, one set of files: `jisseki run` on a year of contract-2 data against a hand-made
baseline (iconv to UTF-8, then one DuckDB query), plus peak RSS and the nightly increment; or, with
`--scenario declared`, on a year of a declared CSV source (two indicators: a ratio by scope and a count).

    python bench/run.py --rows 5000000 [--workdir /tmp/jisseki-bench] [--scenario declared]

Needs `pip install -e '.[bench]'` (DuckDB) and the iconv command. Prints the three ratios of issue 6, or
the declared source's ratio and peak RSS.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import generate, generate_declared  # noqa: E402

BASELINE_SQL = """
SELECT strftime(CAST(replace("受付日", '/', '-') AS DATE), '%Y-%m') AS month, "区コード" AS ward,
       count(*) AS all_filings, count(*) FILTER (WHERE "届出経路" = 'マイナポータル') AS myna
FROM (SELECT DISTINCT ON ("区コード", "受付番号") * FROM read_csv('{folder}/*.csv', header = true, all_varchar = true))
WHERE coalesce("取消", '') <> '1'
GROUP BY ALL
"""
# No fingerprint key: the first run makes one in the key folder, as at a site that configured none.
CONFIG = '[warehouse]\nurl = "sqlite:///warehouse.db"\n\n[sources.moveout_log]\npath = "inbox"\n'

# The declared source: its dates in the contracts' forms (和暦 among them), ward codes, a personal key.
DECLARED = "window_log"
DECLARED_CONFIG = """[warehouse]
url = "sqlite:///warehouse.db"

[catalog]
path = "policy.toml"

[sources.window_log]
type = "csv"
title = "区役所 窓口受付ログ"
path = "inbox"
key = ["受付番号"]
date = "受付日"
scope = "区コード"

[sources.window_log.columns]
"受付日" = { type = "date", required = true }
"区コード" = { type = "ward", required = true }
"受付番号" = { type = "text", personal = true }
"待ち時間" = { type = "number", min = 0, max = 600 }
"窓口" = { type = "text", allowed = ["住民票", "戸籍", "税"] }
"""
DECLARED_POLICY = """[policy]
id = "ward-fy2025"
title = "令和7年度 区役所運営方針"
department = "区役所"
fiscal_year = 2025

[challenges]
1 = "待たせない窓口"

[[indicators]]
id = "resident_share"
challenge = 1
name = "住民票の受付の割合"
unit = "%"
kind = "ratio"
direction = "at_least"
source = "window_log"
targets = { 2025 = 0.4 }
measure = { type = "ratio", numerator = { "窓口" = "住民票" }, by_scope = true }

[[indicators]]
id = "filings"
challenge = 1
name = "窓口の受付件数"
unit = "件"
kind = "count_per_fy"
direction = "at_least"
source = "window_log"
targets = { 2025 = 1000 }
measure = { type = "count" }
"""
# The same figures by hand: the first delivery of each receipt (files by name: re-deliveries come on later
# days), all and 住民票 filings per month and ward, and all per month.
DECLARED_BASELINE_SQL = """
WITH firsts AS (
  SELECT DISTINCT ON ("受付番号") "受付日" AS raw_day, "区コード" AS ward, "窓口" AS counter
  FROM read_csv('{folder}/*.csv', header = true, all_varchar = true, filename = true)
  ORDER BY "受付番号", filename),
dated AS (
  SELECT CASE WHEN raw_day LIKE 'R%' THEN make_date(2018 + CAST(split_part(substr(raw_day, 2), '.', 1) AS INTEGER),
                                                    CAST(split_part(raw_day, '.', 2) AS INTEGER), 1)
              ELSE CAST(replace(raw_day, '/', '-') AS DATE) END AS day, ward, counter FROM firsts)
SELECT strftime(day, '%Y-%m') AS month, ward, count(*) AS filings,
       count(*) FILTER (WHERE counter = '住民票') AS residents
FROM dated GROUP BY GROUPING SETS ((month, ward), (month))
"""


def baseline(files: list[Path], work: Path, sql: str = BASELINE_SQL) -> tuple[float, int]:
    utf8 = work / "baseline-utf8"
    shutil.rmtree(utf8, ignore_errors=True)
    utf8.mkdir(parents=True)
    import duckdb

    start = time.perf_counter()
    for path in files:
        with open(utf8 / path.name, "wb") as out:
            subprocess.run(["iconv", "-f", "CP932", "-t", "UTF-8", str(path)], stdout=out, check=True)
    rows = duckdb.sql(sql.format(folder=utf8)).fetchall()
    return time.perf_counter() - start, len(rows)


def pipeline(files: list[Path], work: Path, fresh: bool = True, source: str = "moveout_log") -> tuple[float, int]:
    """Wall time and peak RSS (MB, with the transcoding worker) of `jisseki run --source moveout_log` (or the
    declared source)."""
    inbox = work / "inbox"
    if fresh:
        shutil.rmtree(work, ignore_errors=True)
        inbox.mkdir(parents=True)
        (work / "jisseki.toml").write_text(DECLARED_CONFIG if source == DECLARED else CONFIG, "utf-8")
        (work / "policy.toml").write_text(DECLARED_POLICY, "utf-8")
    for path in files:
        target = inbox / path.name
        if not target.exists():
            os.link(path, target) if path.stat().st_dev == inbox.stat().st_dev else shutil.copy(path, target)
    command = [sys.executable, "-m", "jisseki.cli", "run", "--config", str(work / "jisseki.toml"),
               "--as-of", "2026-03-31", "--source", source]
    # One key folder for all runs: a night on a copy of the landed year finds the key its index names.
    env = {**os.environ, "XDG_CONFIG_HOME": str(work.parent / "config-home"), "DO_NOT_TRACK": "1",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "GX_ANALYTICS_ENABLED": "false"}
    # Started through a small Python that waits for it: a child's peak RSS as Linux reports it starts
    # from its parent's size at fork, and this process holds the baseline's DuckDB results.
    start = time.perf_counter()
    out = subprocess.run([sys.executable, str(Path(__file__).resolve().parent / "peak_rss.py"), *command],
                         capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"jisseki run failed ({out.returncode}) on {work}: {out.stderr[-2000:]}")
    return elapsed, int(out.stdout.split()[0])


def nightly_copy(landed: Path, target: Path) -> None:
    """A copy of the landed year to run one night on: inbox files as hard links (the same inode, size
    and mtime, as a file that sat there), the warehouse and the index as real copies."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(landed, target, copy_function=shutil.copy2, ignore=shutil.ignore_patterns("inbox"))
    (target / "inbox").mkdir()
    for path in (landed / "inbox").iterdir():
        os.link(path, target / "inbox" / path.name)


def best(times: list[float]) -> str:
    return f"{min(times):.1f} s (runs: {', '.join(f'{t:.1f}' for t in times)})"


def data_files(workdir: Path, rows: int, declared: bool) -> list[Path]:
    """The generated files (made on the first use)."""
    data = workdir / (f"declared-{rows}" if declared else f"data-{rows}")
    if not (data / ".complete").exists():
        shutil.rmtree(data, ignore_errors=True)
        (generate_declared if declared else generate)(rows, data)
        (data / ".complete").touch()
    return sorted(data.glob("*.csv"))


def declared(args: argparse.Namespace) -> None:
    """The declared CSV source: the fresh year against the baseline, as the moving-out log's year is."""
    files = data_files(args.workdir, args.rows, True)
    runs = range(args.repeat)
    bases = [baseline(files, args.workdir, DECLARED_BASELINE_SQL) for _ in runs]
    pipeline(files[:2], args.workdir / "declared-warm-up", source=DECLARED)   # not timed, as in main
    two_days = [pipeline(files[:2], args.workdir / "declared-two-day", source=DECLARED)[0] for _ in runs]
    years = [pipeline(files, args.workdir / "declared-year", source=DECLARED) for _ in runs]
    base, two_day, full = min(b for b, _ in bases), min(two_days), min(t for t, _ in years)
    rss = max(r for _, r in years)
    print(f"each time is the best of {args.repeat} runs; peak RSS is the largest of the year's runs")
    print(f"baseline (iconv + DuckDB): {best([b for b, _ in bases])}, {bases[0][1]} month×ward and month groups")
    print(f"jisseki run --source {DECLARED}, fresh two-day inbox: {best(two_days)}")
    print(f"jisseki run --source {DECLARED}, the year ({len(files)} files, {args.rows:,} rows): "
          f"{best([t for t, _ in years])}, peak RSS {rss} MB")
    print(f"ratio marginal/baseline = {(full - two_day) / base:.2f} (target <= 2)")
    print(f"peak RSS = {rss} MB (target <= 700 at 5 million rows)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/jisseki-bench"))
    parser.add_argument("--repeat", type=int, default=3, help="each timing is the best of this many runs")
    parser.add_argument("--scenario", choices=("moveout", "declared"), default="moveout")
    args = parser.parse_args()
    if args.scenario == "declared":
        declared(args)
        return
    files = data_files(args.workdir, args.rows, False)
    runs = range(args.repeat)
    bases = [baseline(files, args.workdir) for _ in runs]
    groups = bases[0][1]
    pipeline(files[:2], args.workdir / "warm-up")   # not timed: caches and compiled modules, as on any later night
    two_days = [pipeline(files[:2], args.workdir / "two-day")[0] for _ in runs]
    years = [pipeline(files, args.workdir / "year") for _ in runs]
    pipeline(files[:-1], args.workdir / "landed")
    nights, idles = [], []
    for _ in runs:
        nightly_copy(args.workdir / "landed", args.workdir / "night")
        nights.append(pipeline(files[-1:], args.workdir / "night", fresh=False)[0])
        idles.append(pipeline([], args.workdir / "night", fresh=False)[0])
    base, two_day, full, nightly = min(b for b, _ in bases), min(two_days), min(t for t, _ in years), min(nights)
    rss = max(r for _, r in years)
    print(f"each time is the best of {args.repeat} runs; peak RSS is the largest of the year's runs")
    print(f"baseline (iconv + DuckDB): {best([b for b, _ in bases])}, {groups} month×ward groups")
    print(f"jisseki run, fresh two-day inbox: {best(two_days)}")
    print(f"jisseki run, the year ({len(files)} files, {args.rows:,} rows): {best([t for t, _ in years])}, "
          f"peak RSS {rss} MB")
    print(f"jisseki run, nightly: one more day on the landed year ({len(files) - 1} files): {best(nights)}")
    print(f"jisseki run, nothing new: {best(idles)} (target <= 15)")
    print(f"ratio marginal/baseline = {(full - two_day) / base:.2f} (target <= 2)")
    print(f"peak RSS = {rss} MB (target <= 700 at 5 million rows)")
    print(f"ratio nightly/two-day = {nightly / two_day:.2f} (target <= 1.2)")


if __name__ == "__main__":
    main()
