"""`jisseki serve`: the nightly deployment on a cron schedule in Japan time."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect.schedules import Cron

from jisseki.config import Config

DEPLOYMENT_NAME = "nightly"


def deployment(config_path: Path, config: Config) -> Any:
    from flows.nightly import nightly

    return nightly.to_deployment(
        name=DEPLOYMENT_NAME,
        schedules=[Cron(config.schedule.cron, timezone=config.schedule.timezone)],
        parameters={"config_path": str(config_path)},
        description="毎晩、各ソースから実績を収集・検証・格納し、目標に対して評価する",
    )


def serve(config_path: Path, config: Config) -> None:
    from prefect import serve as prefect_serve

    prefect_serve(deployment(config_path, config))
