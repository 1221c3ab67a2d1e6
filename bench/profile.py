"""Where the moving-out year's (or the declared source's) time goes: the source's collect step in-process
(no Prefect, no landing), on the files bench/run.py generated, under pyinstrument when it is installed.

    python bench/profile.py --rows 5000000 [--workdir /tmp/jisseki-bench] [--html profile.html] [--scenario declared]
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import CONFIG, DECLARED, DECLARED_CONFIG, DECLARED_POLICY  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/jisseki-bench"))
    parser.add_argument("--html", type=Path, help="also write pyinstrument's HTML report here")
    parser.add_argument("--scenario", choices=("moveout", "declared"), default="moveout")
    args = parser.parse_args()
    declared = args.scenario == "declared"
    data = args.workdir / (f"declared-{args.rows}" if declared else f"data-{args.rows}")
    if not (data / ".complete").exists():
        raise SystemExit(f"{data} is missing: run bench/run.py --rows {args.rows} --scenario {args.scenario} first")
    work = args.workdir / "profile"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "jisseki.toml").write_text((DECLARED_CONFIG if declared else CONFIG).replace('"inbox"', f'"{data}"'),
                                       "utf-8")
    (work / "policy.toml").write_text(DECLARED_POLICY, "utf-8")
    os.environ["XDG_CONFIG_HOME"] = str(work / "config-home")   # the key the first run makes, not the user's

    from jisseki.batch import Incremental
    from jisseki.catalog import load_catalog
    from jisseki.config import load_config
    from jisseki.pipeline import collect
    from jisseki.sources import SOURCE_DEFS

    config = load_config(work / "jisseki.toml")
    if declared:
        source, cfg, catalog = config.source_def(DECLARED), config.source(DECLARED), load_catalog(config.catalog.path)
    else:
        source, cfg, catalog = SOURCE_DEFS["moveout_log"], config.sources.moveout_log, load_catalog()
    incremental = Incremental({}, work / "state")

    def run() -> None:
        batch = collect(source, cfg, catalog, date(2026, 3, 31), 0.05, work / "gx-data", "profile", None, incremental)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        print(f"{batch.rows_read:,} rows, {len(batch.figures)} figures, rejected: {batch.rejected}, "
              f"peak RSS so far {peak} MB")

    try:
        from pyinstrument import Profiler
    except ImportError:
        start = time.perf_counter()
        run()
        print(f"{time.perf_counter() - start:.1f} s (pip install pyinstrument for the breakdown)")
        return
    with Profiler(interval=0.005) as profiler:
        run()
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    if args.html:
        args.html.write_text(profiler.output_html(), "utf-8")


if __name__ == "__main__":
    main()
