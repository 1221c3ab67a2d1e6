"""The KPI catalog: one TOML file per operating policy, loaded into typed models."""
from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from jisseki.core.errors import ConfigError, validation_text
from jisseki.declared.spec import MeasureSpec
from jisseki.sources import SOURCES
from jisseki.tomlfile import read_toml

Kind = Literal["cumulative_count", "ratio", "count_per_fy", "hours_per_month", "milestone"]
class Indicator(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    challenge: int
    name: str
    unit: str
    kind: Kind
    direction: Literal["at_least"]
    # A built-in source, or one declared in the config: then `measure` says what the indicator counts there.
    source: str
    measure: MeasureSpec | None = None
    targets: dict[int, float]
    actuals: dict[int, float] = {}
    # A year-to-date figure that can only grow through the year (a share of departments that have
    # used something at least once): projected by the elapsed share of the year, not held flat.
    accumulates: bool = False

    @model_validator(mode="after")
    def _source_known(self) -> Indicator:
        if self.source not in SOURCES and self.measure is None:
            raise ValueError(f"source {self.source!r} は組み込みのソース（{', '.join(SOURCES)}）ではありません。"
                             "設定ファイルで宣言したソースなら measure（何を数えるか）を書いてください")
        return self

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
            raise ValueError(f"指標の id が重複しています: {', '.join(dupes)}")
        unknown = sorted({i.challenge for i in self.indicators} - set(self.challenges))
        if unknown:
            raise ValueError(f"[challenges] にない経営課題の番号を指標が使っています: {', '.join(map(str, unknown))}")
        return self

    def get(self, kpi_id: str) -> Indicator:
        for indicator in self.indicators:
            if indicator.id == kpi_id:
                return indicator
        raise KeyError(kpi_id)

    def kinds(self, source: str) -> dict[str, str]:
        """The source's indicators, id → kind, in catalog order."""
        return {i.id: i.kind for i in self.indicators if i.source == source}

    def measures(self, source: str) -> dict[str, MeasureSpec]:
        """The source's indicators that declare what they count, id → measure."""
        return {i.id: i.measure for i in self.indicators if i.source == source and i.measure is not None}

    def kpis(self, source: str) -> tuple[str, ...]:
        return tuple(self.kinds(source))

    def ids(self) -> set[str]:
        return {i.id for i in self.indicators}


def load_catalog(path: Path | None = None) -> Catalog:
    """The bundled FY2025 policy unless a path names another catalog file."""
    if path is None:
        raw = tomllib.loads(resources.files("jisseki.catalogs").joinpath("fy2025.toml").read_text("utf-8"))
    else:
        raw = read_toml(Path(path), "運営方針（カタログ）ファイル")
    try:
        return Catalog.model_validate(raw)
    except ValidationError as exc:
        where = path or "同梱の運営方針"
        raise ConfigError(f"運営方針（カタログ）ファイル {where}: "
                          f"{validation_text(_named(exc.errors(), raw))}") from None


def _named(errors: list[Any], raw: dict[str, Any]) -> list[Any]:
    """An indicator is named by its id, not by its position in the file."""
    indicators = raw.get("indicators") if isinstance(raw, dict) else None
    out = []
    for err in errors:
        loc = list(err["loc"])
        if len(loc) > 1 and loc[0] == "indicators" and isinstance(loc[1], int) and isinstance(indicators, list) \
                and loc[1] < len(indicators) and isinstance(indicators[loc[1]], dict) and "id" in indicators[loc[1]]:
            loc[1] = str(indicators[loc[1]]["id"])
        out.append({**err, "loc": tuple(loc)})
    return out
