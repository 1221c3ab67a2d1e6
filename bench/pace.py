"""The pace study: which projection (linear, seasonal, progress_ratio) flags a year that will end B early,
and how often it cries wolf on a year that ends A, on seeded unseen data of eight fiscal years.

    python bench/pace.py [--seeds 1 2 3 4 5] [--workdir /tmp/jisseki-pace] [--out PACE-table.md] [--each-year]

Per seed it writes FY2018-FY2025 (FY2025 is the last year that has ended on the machine's date; `jisseki run`
refuses an as-of date that has not come) of two sources, each month's rows in one CP932 file:
- the moving-out log (contract 2): volume peaking in March and April, the MyNa Portal share growing through
  the year but lower in the two peak months, so the year's pooled share depends on how heavy the peak was;
- the window log (the declared CSV source of bench/run.py): filings peaking in March and April, and the tax
  window's filings peaking in February-March and June.
Indicators: the moving-out share (ratio), the window filings (count per year), and the tax window filings
under two multi-year plans (FY2019-2021, FY2022-2025). Each year's target is set near the generated year's
actual, above it (the year ends B) or below it (A), by the seed. One `jisseki run --as-of 2026-03-31` lands the
eight years (with --each-year, a run at each year's March 31); the warehouse is then copied once per method and
`jisseki backfill` evaluates every month end FY2019-FY2025 with a catalog that differs only in `pace` (the month
ends are the nights). The year-end grades are checked against the generated counts. About 40 s a seed on
the 2-core machine (five minutes with --each-year).
"""
from __future__ import annotations

import argparse
import calendar
import math
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import DECLARED_HEADER, HEADER, ROUTES, WINDOWS, moveout_row, window_row  # noqa: E402
from run import DECLARED_CONFIG  # noqa: E402

from jisseki.catalog import Plan  # noqa: E402
from jisseki.core.periods import fy_end, fy_months  # noqa: E402

FIRST_FY, LAST_FY = 2018, 2025           # generated; the first year only gives the second its profile
GRADED = range(FIRST_FY + 1, LAST_FY + 1)
PLANS = {"tax_plan_a": (2019, 2021), "tax_plan_b": (2022, 2025)}
METHODS = ("linear", "seasonal", "progress_ratio")
FLAGGED = ("at_risk", "missed")
# April ... March: the moving-out peak in March and April; the windows' in the same months; the tax window's
# in February-March (確定申告) and June (住民税の通知).
MOVEOUT_SEASON = [1.7, 0.9, 0.8, 0.8, 0.8, 0.7, 0.8, 0.8, 0.8, 0.9, 1.1, 2.2]
WINDOW_SEASON = [1.5, 1.0, 0.9, 0.9, 0.8, 0.8, 0.9, 0.9, 0.8, 1.0, 1.2, 1.6]
TAX_SHARE = [0.12, 0.15, 0.35, 0.15, 0.12, 0.12, 0.12, 0.12, 0.12, 0.15, 0.45, 0.45]
MOVEOUT_PER_YEAR, WINDOW_PER_YEAR = 24_000, 12_000
CONFIG = DECLARED_CONFIG + '\n[sources.moveout_log]\npath = "moveout"\n'


@dataclass
class Year:
    """A generated fiscal year's exact counts per month (April first)."""
    notifications: list[int] = field(default_factory=list)
    myna: list[int] = field(default_factory=list)
    filings: list[int] = field(default_factory=list)
    tax: list[int] = field(default_factory=list)

    @property
    def share(self) -> float:
        return sum(self.myna) / sum(self.notifications)


def _spread(total: int, weights: list[float]) -> list[int]:
    """Whole counts in proportion to the weights, summing to total."""
    raw = [total * w / sum(weights) for w in weights]
    counts = [math.floor(r) for r in raw]
    for i in sorted(range(len(raw)), key=lambda i: counts[i] - raw[i])[:total - sum(counts)]:
        counts[i] += 1
    return counts


def generate_year(rng: random.Random, fy: int) -> Year:
    year = Year()
    moveout = _spread(round(MOVEOUT_PER_YEAR * rng.uniform(0.95, 1.05)),
                      [w * rng.uniform(0.8, 1.2) for w in MOVEOUT_SEASON])
    base = 0.25 + 0.03 * (fy - FIRST_FY) + rng.uniform(-0.02, 0.02)
    for i, n in enumerate(moveout):
        dip = 0.06 if i in (0, 11) else 0.0   # the peak months go more to the window
        year.notifications.append(n)
        year.myna.append(round(n * (base + 0.006 * i - dip + rng.gauss(0, 0.005))))
    filings = _spread(round(WINDOW_PER_YEAR * rng.uniform(0.92, 1.08)),
                      [w * rng.uniform(0.85, 1.15) for w in WINDOW_SEASON])
    year.filings = filings
    year.tax = [round(n * s * rng.uniform(0.9, 1.1)) for n, s in zip(filings, TAX_SHARE)]
    return year


def write_year(rng: random.Random, fy: int, year: Year, moveout: Path, window: Path, serial: list[int]) -> None:
    """The year's rows, one file per month and source, spread over the month's days."""
    for i, start in enumerate(fy_months(fy)):
        days = calendar.monthrange(start.year, start.month)[1]
        routes = [ROUTES[0]] * year.myna[i] + [ROUTES[1 + k % 2] for k in range(year.notifications[i] - year.myna[i])]
        rng.shuffle(routes)
        lines = [HEADER]
        for k, route in enumerate(routes):
            serial[0] += 1
            stamp = f"{start.replace(day=1 + k * days // len(routes)):%Y/%m/%d}"
            lines.append(moveout_row(stamp, rng.randrange(24), serial[0], route))
        (moveout / f"tenshutsu_{start:%Y%m}.csv").write_bytes("".join(lines).encode("cp932"))
        counters = ["税"] * year.tax[i] + [WINDOWS[k % 2] for k in range(year.filings[i] - year.tax[i])]
        rng.shuffle(counters)
        lines = [DECLARED_HEADER]
        for k, counter in enumerate(counters):
            serial[0] += 1
            stamp = f"{start.replace(day=1 + k * days // len(counters)):%Y/%m/%d}"
            lines.append(window_row(stamp, rng.randrange(24), serial[0], rng.randrange(121), counter))
        (window / f"madoguchi_{start:%Y%m}.csv").write_bytes("".join(lines).encode("cp932"))


def near_targets(rng: random.Random, actuals: dict[int, float], ratio: bool) -> dict[int, float]:
    """A target per graded year just above (ends B) or just below (ends A) its actual: three of each and
    one either way, in the seed's order."""
    ends_b = [True, True, True, False, False, False, rng.random() < 0.5]
    rng.shuffle(ends_b)
    targets = {}
    for fy, b in zip(GRADED, ends_b):
        if ratio:
            gap = rng.uniform(0.002, 0.012)
            targets[fy] = math.ceil((actuals[fy] + gap) * 1e4) / 1e4 if b else \
                math.floor((actuals[fy] - gap) * 1e4) / 1e4
        else:
            gap = rng.uniform(0.005, 0.03)
            targets[fy] = math.ceil(actuals[fy] * (1 + gap)) if b else math.floor(actuals[fy] * (1 - gap))
    return targets


def plan_total(first: int, last: int, yearly: dict[int, float]) -> int:
    """A total between the middle two of the totals each plan year would just meet: some years end A,
    some B, each close to its interim target."""
    plan = Plan(first=first, last=last, total=1)
    running, met_by = 0.0, []
    for k, fy in enumerate(range(first, last + 1), start=1):
        running += yearly[fy]
        met_by.append(running / plan.share_by(k))
    met_by.sort()
    middle = len(met_by) // 2
    return round((met_by[middle - 1] + met_by[middle]) / 2)


def policy(method: str, share: dict[int, float], filings: dict[int, float],
           plans: dict[str, int]) -> str:
    head = ('[policy]\nid = "pace-study"\ntitle = "進捗の見通しの比較"\ndepartment = "デジタル統括室"\n'
            f'fiscal_year = {GRADED[0]}\n\n[challenges]\n1 = "見通しの比較"\n')

    def years(values: dict[int, float]) -> str:
        return "{ " + ", ".join(f"{fy} = {v:g}" for fy, v in values.items()) + " }"

    def indicator(kpi: str, name: str, unit: str, kind: str, source: str, body: str) -> str:
        return (f'\n[[indicators]]\nid = "{kpi}"\nchallenge = 1\nname = "{name}"\nunit = "{unit}"\nkind = "{kind}"\n'
                f'source = "{source}"\npace = "{method}"\n{body}')

    out = head
    if method != "progress_ratio":    # a pace for multi-year plans only
        out += indicator("myna_moveout_share", "転出届のマイナポータル経由の割合", "%", "ratio", "moveout_log",
                         f"targets = {years(share)}\n")
        out += indicator("window_filings", "窓口の受付件数", "件", "count_per_fy", "window_log",
                         f'targets = {years(filings)}\nmeasure = {{ type = "count" }}\n')
    for kpi, (first, last) in PLANS.items():
        out += indicator(kpi, f"税の窓口の受付件数（{first}〜{last}年度の計画）", "件", "count_per_fy", "window_log",
                         f'plan = {{ first = {first}, last = {last}, total = {plans[kpi]} }}\n'
                         'measure = { type = "count", where = { "窓口" = "税" } }\n')
    return out


def jisseki(args: Sequence[str], env: dict[str, str]) -> None:
    out = subprocess.run([sys.executable, "-m", "jisseki.cli", *args], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise SystemExit(f"jisseki {' '.join(args)} failed ({out.returncode}): {out.stderr[-2000:]}")


def study(seed: int, work: Path, env: dict[str, str], each_year: bool = False) -> list[dict]:
    """Generate, land and backfill one seed; the backfill's city-wide evaluations of every method."""
    shutil.rmtree(work, ignore_errors=True)
    land = work / "land"
    data = {"moveout": work / "data" / "moveout", "inbox": work / "data" / "inbox"}
    for folder in [*data.values(), land / "moveout", land / "inbox"]:
        folder.mkdir(parents=True)
    rng = random.Random(seed)
    years, serial = {}, [0]
    for fy in range(FIRST_FY, LAST_FY + 1):
        years[fy] = generate_year(rng, fy)
        write_year(rng, fy, years[fy], data["moveout"], data["inbox"], serial)
    share = near_targets(rng, {fy: years[fy].share for fy in GRADED}, ratio=True)
    filings = near_targets(rng, {fy: sum(years[fy].filings) for fy in GRADED}, ratio=False)
    plans = {kpi: plan_total(first, last, {fy: sum(years[fy].tax) for fy in years})
             for kpi, (first, last) in PLANS.items()}
    (land / "jisseki.toml").write_text(CONFIG, "utf-8")
    (land / "policy.toml").write_text(policy("linear", share, filings, plans), "utf-8")
    # One run lands the eight years: each month's figure is counted to its month end and each year's to its
    # March 31, as a run at each year's end leaves them (--each-year does that: a run re-reads the declared
    # source whole, ~35 s here, so eight of them per seed take the study past five minutes).
    for fy in range(FIRST_FY, LAST_FY + 1):
        for name, folder in data.items():
            for month in fy_months(fy):
                for path in folder.glob(f"*_{month:%Y%m}.csv"):
                    os.link(path, land / name / path.name)
        if each_year or fy == LAST_FY:
            jisseki(["run", "--config", str(land / "jisseki.toml"), "--as-of", f"{fy_end(fy)}"], env)
    from sqlalchemy import select

    from warehouse.schema import kpi_evaluation
    from warehouse.store import connect

    expected = expected_grades(years, share, filings, plans)
    rows = []
    for method in METHODS:
        folder = work / method
        (folder / "moveout").mkdir(parents=True)
        (folder / "inbox").mkdir()
        shutil.copy(land / "warehouse.db", folder / "warehouse.db")
        (folder / "jisseki.toml").write_text(CONFIG, "utf-8")
        (folder / "policy.toml").write_text(policy(method, share, filings, plans), "utf-8")
        jisseki(["backfill", "--config", str(folder / "jisseki.toml"), "--from", f"{GRADED[0]}-04-01",
                 "--to", f"{fy_end(LAST_FY)}"], env)
        e = kpi_evaluation.c
        engine = connect(f"sqlite:///{folder / 'warehouse.db'}", create=False)
        with engine.connect() as conn:
            found = conn.execute(select(e.kpi_id, e.fiscal_year, e.as_of, e.status, e.grade)
                                 .where(e.flow_run_id.like("backfill-%"), e.scope == "city"))
            mine = [dict(r._mapping, method=method, seed=seed) for r in found]
        engine.dispose()
        graded = {(r["kpi_id"], r["fiscal_year"]): r["grade"] for r in mine if r["as_of"] == fy_end(r["fiscal_year"])}
        wanted = {key: grade for key, grade in expected.items() if key[0] in {k for k, _ in graded}}
        if graded != wanted:
            raise SystemExit(f"seed {seed}, {method}: the year-end grades are not the generated data's: "
                             f"{sorted(set(graded.items()) ^ set(wanted.items()))}")
        rows += mine
    return rows


def expected_grades(years: dict[int, Year], share: dict[int, float], filings: dict[int, float],
                    plans: dict[str, int]) -> dict[tuple[str, int], str]:
    """Each graded year's grade from the generated counts: what the pipeline must arrive at on March 31."""
    grades = {}
    for fy in GRADED:
        grades[("myna_moveout_share", fy)] = "A" if years[fy].share >= share[fy] else "B"
        grades[("window_filings", fy)] = "A" if sum(years[fy].filings) >= filings[fy] else "B"
    for kpi, (first, last) in PLANS.items():
        plan = Plan(first=first, last=last, total=plans[kpi])
        for fy in range(first, last + 1):
            done = sum(sum(years[y].tax) for y in range(first, fy + 1))
            grades[(kpi, fy)] = "A" if done >= plan.total * plan.share_by(fy - first + 1) else "B"
    return grades


@dataclass(frozen=True)
class Outcome:
    """One indicator's year under one method: how it ended and what the nights before March 31 said."""
    kpi_id: str
    method: str
    seed: int
    fiscal_year: int
    grade: str | None
    nights: int                      # month ends evaluated before March 31
    first_flag: date | None          # the first of them at risk (a B year)
    stayed: bool                     # flagged on every night from the first flag on
    false_alarms: int                # nights at risk (an A year)

    @property
    def days_early(self) -> int | None:
        return (fy_end(self.fiscal_year) - self.first_flag).days if self.first_flag else None


def outcome(kpi_id: str, method: str, seed: int, fy: int, history: list[tuple[date, str, str | None]]) -> Outcome:
    """From one year's evaluations (as-of, status, grade), any order: the grade of March 31, and the
    nights before it."""
    ordered = sorted(history)
    final = [grade for day, _, grade in ordered if day >= fy_end(fy)]
    before = [(day, status) for day, status, _ in ordered if day < fy_end(fy)]
    flags = [i for i, (_, status) in enumerate(before) if status in FLAGGED]
    grade = final[0] if final else None
    first = before[flags[0]][0] if flags and grade == "B" else None
    stayed = bool(flags) and all(status in FLAGGED for _, status in before[flags[0]:])
    alarms = sum(1 for _, status in before if status in FLAGGED) if grade == "A" else 0
    return Outcome(kpi_id, method, seed, fy, grade, len(before), first, stayed and grade == "B", alarms)


def outcomes(rows: list[dict]) -> list[Outcome]:
    years: dict[tuple[str, str, int, int], list[tuple[date, str, str | None]]] = {}
    for r in rows:
        years.setdefault((r["kpi_id"], r["method"], r["seed"], r["fiscal_year"]), []).append(
            (r["as_of"], r["status"], r["grade"]))
    return [outcome(*key, history) for key, history in sorted(years.items())]


def table(results: list[Outcome]) -> str:
    """Per indicator and method: the B years flagged before March 31, how early the first flag came (days
    before March 31: median, and the range), how many stayed flagged; the A years' nights at risk."""
    lines = ["| 指標 | 方法 | B の年 | 警告した | 最初の警告: 3月31日の何日前（中央値、最短〜最長） | 警告が続いた | "
             "A の年 | 誤警報の夜 / 評価した夜 | 誤警報のあった A の年 |",
             "|---|---|---:|---:|---|---:|---:|---:|---:|"]
    for kpi in dict.fromkeys(o.kpi_id for o in results):
        for method in METHODS:
            mine = [o for o in results if o.kpi_id == kpi and o.method == method]
            if not mine:
                continue
            b = [o for o in mine if o.grade == "B"]
            a = [o for o in mine if o.grade == "A"]
            early = sorted(o.days_early for o in b if o.days_early is not None)
            when = f"{early[(len(early) - 1) // 2]}（{early[0]}〜{early[-1]}）" if early else "－"
            lines.append(f"| {kpi} | {method} | {len(b)} | {len(early)} | {when} | {sum(o.stayed for o in b)} | "
                         f"{len(a)} | {sum(o.false_alarms for o in a)} / {sum(o.nights for o in a)} | "
                         f"{sum(1 for o in a if o.false_alarms)} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/jisseki-pace"))
    parser.add_argument("--out", type=Path, help="also write the table (and each year's outcome) here")
    parser.add_argument("--each-year", action="store_true", help="land each year by its own run at its March 31")
    args = parser.parse_args()
    env = {**os.environ, "XDG_CONFIG_HOME": str(args.workdir / "config-home"), "DO_NOT_TRACK": "1",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "GX_ANALYTICS_ENABLED": "false"}
    start = time.perf_counter()
    rows = [r for seed in args.seeds for r in study(seed, args.workdir / f"seed-{seed}", env, args.each_year)]
    results = [o for o in outcomes(rows) if o.fiscal_year in GRADED]
    text = table(results)
    detail = "\n".join(f"{o.kpi_id} {o.method} seed {o.seed} FY{o.fiscal_year}: {o.grade}, "
                       + (f"first flag {o.first_flag} ({o.days_early} days early), stayed {o.stayed}"
                          if o.grade == "B" else f"{o.false_alarms} false alarms in {o.nights} nights")
                       for o in results)
    print(text)
    print(f"seeds {', '.join(map(str, args.seeds))}; {time.perf_counter() - start:.0f} s")
    if args.out:
        args.out.write_text(text + "\n" + detail + "\n", "utf-8")


if __name__ == "__main__":
    main()
