"""The nightly deployment as prefect.yaml defines it: the one definition that `prefect deploy --all` deploys
to the work pool, `jisseki serve` serves (flows/deploy.py) and `jisseki watchdog` expects on schedule.

Read without Prefect: the watchdog must work when Prefect does not. prefect.yaml sits beside the packages,
in the checkout a worker runs from anyway."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from jisseki.config import Config
from jisseki.core.errors import ConfigError

DEFINITION = Path(__file__).resolve().parent.parent / "prefect.yaml"


def definition(path: Path = DEFINITION) -> dict[str, Any]:
    """The nightly deployment of prefect.yaml."""
    try:
        spec = yaml.safe_load(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path} がありません", "jisseki はリポジトリのチェックアウトから pip install -e で"
                          "インストールしてください（prefect.yaml がデプロイメントの定義です）") from None
    (nightly,) = spec["deployments"]
    return nightly


def schedule(config: Config) -> tuple[str, str]:
    """(cron, time zone) of the nightly runs: [schedule] where the config sets it, else the definition's."""
    (defined,) = definition()["schedules"]
    return config.schedule.cron or defined["cron"], config.schedule.timezone or defined["timezone"]
