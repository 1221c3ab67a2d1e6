"""prefect.yaml deploys the nightly flow as it is: entrypoint, parameters, schedule."""
from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_prefect_yaml_points_at_the_nightly_flow_on_a_process_pool() -> None:
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text("utf-8"))
    (deployment,) = spec["deployments"]
    path, name = deployment["entrypoint"].split(":")
    assert (ROOT / path).is_file()
    flow = getattr(importlib.import_module(path.removesuffix(".py").replace("/", ".")), name)
    assert flow.name == "jisseki-nightly"
    assert set(deployment["parameters"]) <= set(inspect.signature(flow.fn).parameters)
    assert deployment["work_pool"]["name"] == "jisseki-process"
    assert deployment["schedules"][0]["cron"] == "0 2 * * *"
    assert deployment["schedules"][0]["timezone"] == "Asia/Tokyo"
