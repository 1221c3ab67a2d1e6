"""`jisseki demo`: sample inbox + local sample API + one nightly run, offline, reproducing FY2025 for two
departments: the Digital Office (the seed's table) and 北区役所, whose sources are declared."""
from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from jisseki.config import to_toml
from jisseki.sources import SOURCES

TOKEN_ENV = "JISSEKI_DEMO_PROCEDURES_TOKEN"
NOCODE_TOKEN_ENV = "JISSEKI_DEMO_NOCODE_TOKEN"
DEMO_TOKEN = "demo-token-not-secret"
CERTIFICATES_DB_ENV = "JISSEKI_DEMO_CERTIFICATES_DB_URL"   # named by ward_sources.toml's url_env
POLICIES = "policies"
WARD_SOURCES = "ward_sources.toml"


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


def write_policies(folder: Path) -> list[Path]:
    """Every shipped policy file (both departments, FY2025 and FY2026) into `folder`, the demo's [catalog]."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for item in resources.files("jisseki.catalogs").iterdir():
        if item.name.endswith(".toml"):
            written.append(folder / item.name)
            written[-1].write_text(item.read_text("utf-8"), "utf-8")
    return sorted(written)


def ward_config() -> str:
    """The demo's config beyond the built-in sources: the policy folder and 北区役所's declared sources."""
    declared = resources.files(__package__).joinpath(WARD_SOURCES).read_text("utf-8")
    return f'[catalog]\npath = "{POLICIES}"\n\n{declared}'


def run_demo(workdir: Path) -> int:
    from flows.run import run_nightly
    from jisseki.catalog import load_catalog
    from jisseki.config import load_config
    from jisseki.demo.api import NOCODE_API, PROCEDURES_API, DemoApi
    from jisseki.demo.samples import DEMO_AS_OF, NOCODE_APPS, PROCEDURES, load_samples
    from jisseki.report import change_rule, evaluation_rows, render_table, target_words
    from warehouse.store import connect, latest_evaluations

    workdir.mkdir(parents=True, exist_ok=True)
    samples = load_samples()
    samples.write_inbox(workdir)
    write_policies(workdir / POLICIES)
    os.environ[CERTIFICATES_DB_ENV] = f"sqlite:///{samples.write_database(workdir)}"
    os.environ[TOKEN_ENV] = os.environ[NOCODE_TOKEN_ENV] = DEMO_TOKEN
    config_path = workdir / "jisseki.toml"
    with DemoApi(samples.records(PROCEDURES), DEMO_TOKEN, PROCEDURES_API) as procedures, \
            DemoApi(samples.records(NOCODE_APPS), DEMO_TOKEN, NOCODE_API) as nocode:
        config_path.write_text(demo_config(procedures.base_url, nocode.base_url) + ward_config(), "utf-8")
        print(f"サンプルAPI: {procedures.base_url} (手続), {nocode.base_url} (ノーコード)  "
              f"設定: {config_path}  基準日: {DEMO_AS_OF}")
        code = run_nightly(config_path, DEMO_AS_OF, None)
    config = load_config(config_path)
    fy = DEMO_AS_OF.year - 1
    catalog = load_catalog(config.catalog.path).of_year(fy)   # FY2026's policies are in the folder already
    evaluations = latest_evaluations(connect(config.warehouse.url), fy)
    for department in catalog.departments():
        own = catalog.of_department(department)
        verdicts = [e for e in evaluations if e["kpi_id"] in own.ids()]
        print(render_table(evaluation_rows(verdicts, own), own), end="")
        # The rule of each target that is no plain number, and of each B: why the grade is what it is (a target
        # moved from a baseline has its rule under the table already).
        for e in verdicts:
            ind = own.get(e["kpi_id"])
            if (e["grade"] == "B" or ind.direction != "at_least" or ind.plan or ind.due) \
                    and not change_rule(ind, fy, e["rule"]):
                target = target_words(ind, e["target"], e["target_low"], e["target_high"])
                print(f"  {e['grade'] or '—'} {ind.name}（目標 {target}）: {e['rule']}")
        print()
    print(f"次の操作: jisseki status --config {config_path} --fy 2025 --format json")
    return code
