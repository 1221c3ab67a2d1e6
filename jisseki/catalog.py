"""The KPI catalog: one TOML file per operating policy, loaded into typed models."""
from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

Kind = Literal["cumulative_count", "ratio", "count_per_fy", "hours_per_month", "milestone"]
SOURCES = ("online_procedures", "moveout_log", "speech_usage",
           "nocode_apps", "dataviz_access", "manual_entries")


class Indicator(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    challenge: int
    name: str
    unit: str
    kind: Kind
    direction: Literal["at_least"]
    source: Literal[SOURCES]  # type: ignore[valid-type]
    targets: dict[int, float]
    actuals: dict[int, float] = {}
    # A year-to-date figure that can only grow through the year (a share of departments that have
    # used something at least once): projected by the elapsed share of the year, not held flat.
    accumulates: bool = False

    def target(self, fy: int) -> float | None:
        return self.targets.get(fy)

    def published_actual(self, fy: int) -> float | None:
        return self.actuals.get(fy)


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    title: str
    department: str
    fiscal_year: int


class Catalog(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    policy: Policy
    challenges: dict[int, str]
    indicators: list[Indicator]

    @model_validator(mode="after")
    def _ids_unique(self) -> Catalog:
        ids = [i.id for i in self.indicators]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate indicator ids: {', '.join(dupes)}")
        unknown = sorted({i.challenge for i in self.indicators} - set(self.challenges))
        if unknown:
            raise ValueError(f"indicators refer to undefined challenges: {unknown}")
        return self

    def get(self, kpi_id: str) -> Indicator:
        for indicator in self.indicators:
            if indicator.id == kpi_id:
                return indicator
        raise KeyError(kpi_id)

    def ids(self) -> set[str]:
        return {i.id for i in self.indicators}

    def fiscal_years(self) -> list[int]:
        return sorted({fy for i in self.indicators for fy in i.targets})


def load_catalog(path: Path | None = None) -> Catalog:
    """The bundled FY2025 policy unless a path names another catalog file."""
    if path is None:
        text = resources.files("jisseki.catalogs").joinpath("fy2025.toml").read_text("utf-8")
    else:
        text = Path(path).read_text("utf-8")
    return Catalog.model_validate(tomllib.loads(text))
