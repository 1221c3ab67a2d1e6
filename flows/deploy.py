"""`jisseki serve`: the nightly deployment as prefect.yaml defines it, served from this process.

prefect.yaml is the one definition (name, entrypoint, description, schedule, parameters, concurrency); `prefect deploy
--all` reads it for the work pool, and this module reads it beside the flows package, in the checkout a worker runs
from anyway. The served deployment gets its own name, so serving never takes over the work pool's deployment and
stopping serve (which pauses what it served) never pauses it."""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from prefect.client.schemas.objects import ConcurrencyLimitConfig
from prefect.schedules import Cron
from prefect.types.entrypoint import EntrypointType

from jisseki.config import Config
from jisseki.deployment import definition, schedule

SERVE_SUFFIX = "-serve"


def deployment(config_path: Path, config: Config) -> Any:
    spec = definition()
    cron, zone = schedule(config)
    file, name = spec["entrypoint"].split(":")
    flow = getattr(importlib.import_module(file.removesuffix(".py").replace("/", ".")), name)
    return flow.to_deployment(
        name=spec["name"] + SERVE_SUFFIX,
        description=spec["description"],
        schedules=[Cron(cron, timezone=zone)],
        parameters={**spec.get("parameters", {}), "config_path": str(config_path)},
        concurrency_limit=ConcurrencyLimitConfig(**spec["concurrency_limit"]),
        # The module, not a file path relative to wherever serve was started.
        entrypoint_type=EntrypointType.MODULE_PATH,
    )


def serve(config_path: Path, config: Config) -> None:
    from prefect import serve as prefect_serve

    prefect_serve(deployment(config_path, config))
