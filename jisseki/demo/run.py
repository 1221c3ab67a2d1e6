"""`jisseki demo`: sample inbox + local sample API + one nightly run, offline, reproducing FY2025."""
from __future__ import annotations

import os
from pathlib import Path

from jisseki.config import to_toml
from jisseki.sources import SOURCES

TOKEN_ENV = "JISSEKI_DEMO_PROCEDURES_TOKEN"
NOCODE_TOKEN_ENV = "JISSEKI_DEMO_NOCODE_TOKEN"
DEMO_TOKEN = "demo-token-not-secret"


def demo_sections(procedures_url: str, nocode_url: str) -> dict[str, dict[str, str]]:
    """The demo's section of every source, where its sample data is (a source with none has no demo yet)."""
    return {
        "online_procedures": {"base_url": procedures_url, "token_env": TOKEN_ENV},
        "moveout_log": {"path": "inbox/tenshutsu"},
        "speech_usage": {"path": "inbox/speech"},
        "nocode_apps": {"base_url": nocode_url, "token_env": NOCODE_TOKEN_ENV},
        "dataviz_access": {"path": "inbox/dataviz", "departments": "inbox/departments.csv"},
        "manual_entries": {"path": "inbox/manual"},
    }


def demo_config(procedures_url: str, nocode_url: str) -> str:
    sections = demo_sections(procedures_url, nocode_url)
    return to_toml({
        "warehouse": {"url": "sqlite:///warehouse.db"},
        # Every registered source, in the registry's order: the demo runs them all.
        **{f"sources.{name}": sections[name] for name in SOURCES},
        "alerts": {"urls": []},
    })


def run_demo(workdir: Path) -> int:
    from flows.run import run_nightly
    from jisseki.catalog import load_catalog
    from jisseki.config import load_config
    from jisseki.demo.api import NOCODE_API, PROCEDURES_API, DemoApi
    from jisseki.demo.samples import DEMO_AS_OF, NOCODE_APPS, PROCEDURES, load_samples
    from jisseki.report import evaluation_rows, render_table
    from warehouse.store import connect, latest_evaluations

    workdir.mkdir(parents=True, exist_ok=True)
    samples = load_samples()
    samples.write_inbox(workdir)
    os.environ[TOKEN_ENV] = os.environ[NOCODE_TOKEN_ENV] = DEMO_TOKEN
    config_path = workdir / "jisseki.toml"
    with DemoApi(samples.records(PROCEDURES), DEMO_TOKEN, PROCEDURES_API) as procedures, \
            DemoApi(samples.records(NOCODE_APPS), DEMO_TOKEN, NOCODE_API) as nocode:
        config_path.write_text(demo_config(procedures.base_url, nocode.base_url), "utf-8")
        print(f"サンプルAPI: {procedures.base_url} (手続), {nocode.base_url} (ノーコード)  "
              f"設定: {config_path}  基準日: {DEMO_AS_OF}")
        code = run_nightly(config_path, DEMO_AS_OF, None)
    config = load_config(config_path)
    catalog = load_catalog(config.catalog.path)
    evaluations = latest_evaluations(connect(config.warehouse.url), DEMO_AS_OF.year - 1)
    print(render_table(evaluation_rows(evaluations, catalog), catalog), end="")
    print(f"次の操作: jisseki status --config {config_path} --fy 2025 --format json")
    return code
