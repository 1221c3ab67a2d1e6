"""`jisseki demo`: sample inbox + local sample API + one nightly run, offline, reproducing FY2025."""
from __future__ import annotations

import os
from pathlib import Path

from jisseki.config import dump_example

TOKEN_ENV = "JISSEKI_DEMO_PROCEDURES_TOKEN"
DEMO_TOKEN = "demo-token-not-secret"


def demo_config(base_url: str) -> str:
    return dump_example({
        "warehouse": {"url": "sqlite:///warehouse.db"},
        "sources.online_procedures": {"base_url": base_url, "token_env": TOKEN_ENV},
        "sources.moveout_log": {"path": "inbox/tenshutsu"},
        "sources.speech_usage": {"path": "inbox/speech"},
        "alerts": {"urls": []},
    })


def run_demo(workdir: Path) -> int:
    from flows.run import run_nightly
    from jisseki.catalog import load_catalog
    from jisseki.config import load_config
    from jisseki.demo.data import DEMO_AS_OF, write_demo_inbox
    from jisseki.demo.sample_api import SampleApi
    from jisseki.report import evaluation_rows, render_table
    from warehouse.store import connect, latest_evaluations

    workdir.mkdir(parents=True, exist_ok=True)
    records = write_demo_inbox(workdir)
    os.environ[TOKEN_ENV] = DEMO_TOKEN
    config_path = workdir / "jisseki.toml"
    with SampleApi(records, DEMO_TOKEN) as api:
        config_path.write_text(demo_config(api.base_url), "utf-8")
        print(f"サンプルAPI: {api.base_url}  設定: {config_path}  基準日: {DEMO_AS_OF}")
        code = run_nightly(config_path, DEMO_AS_OF, None)
    config = load_config(config_path)
    catalog = load_catalog(config.catalog.path)
    evaluations = latest_evaluations(connect(config.warehouse.url), DEMO_AS_OF.year - 1)
    print(render_table(evaluation_rows(evaluations, catalog), catalog), end="")
    print(f"次の操作: jisseki status --config {config_path} --fy 2025 --format json")
    return code
