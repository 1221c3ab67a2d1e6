"""The KPI catalog: one TOML file per operating policy (a department's, for one fiscal year), loaded into
typed models and merged into one catalog. An indicator that continues from one year's policy to the next
keeps its id: its definition comes from the newest policy, its targets from the policy of each year."""
from __future__ import annotations

import tomllib
from collections.abc import Sequence
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from jisseki.core.errors import ConfigError, validation_text
from jisseki.core.model import CITY
from jisseki.core.periods import fiscal_year
from jisseki.declared.spec import MeasureSpec
from jisseki.sources import SOURCES
from jisseki.tomlfile import read_toml

Kind = Literal["cumulative_count", "ratio", "count_per_fy", "hours_per_month", "mean", "milestone"]
Direction = Literal["at_least", "at_most", "within"]
# How the year-end value is projected: the kind's own rule, last year's monthly profile, or (for a multi-year
# plan) the progress the plan's length asks for by now.
Pace = Literal["linear", "seasonal", "progress_ratio"]
ALL_SCOPES = "*"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Band(_Strict):
    """A share or level to be kept between two bounds, both included."""
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Band:
        if self.low > self.high:
            raise ValueError(f"low（{self.low}）が high（{self.high}）より大きい範囲です")
        return self


class Change(_Strict):
    """A target relative to a baseline year's actual: `change` in the indicator's unit, or `change_share` as a
    share of the baseline (前年度比 ▲2% is change_share = -0.02). The baseline defaults to the previous year."""
    change: float | None = None
    change_share: float | None = None
    baseline: int | None = None

    @model_validator(mode="after")
    def _one(self) -> Change:
        if (self.change is None) == (self.change_share is None):
            raise ValueError("change（増減の量）と change_share（基準年度に対する割合）のどちらか一方を書いてください")
        return self

    def baseline_year(self, fy: int) -> int:
        return self.baseline if self.baseline is not None else fy - 1

    def applied(self, base: float) -> float:
        return base + self.change if self.change is not None else base * (1 + (self.change_share or 0.0))


Target = float | Band | Change


class Plan(_Strict):
    """A multi-year programme (令和5〜7年度で…): the count accumulates over the years first..last towards
    total. A plan year without its own interim target gets the share of total the years so far are of the
    plan, rounded up to 0.1% as 市政改革プラン does (33.4% after one year of three, 66.7% after two)."""
    first: int
    last: int
    total: float

    @model_validator(mode="after")
    def _ordered(self) -> Plan:
        if self.first > self.last:
            raise ValueError(f"計画の first（{self.first}）が last（{self.last}）より後です")
        return self

    @property
    def years(self) -> int:
        return self.last - self.first + 1

    def share_by(self, years_done: float) -> float:
        """The share of the plan that should be done after `years_done` years, rounded up to 0.1%."""
        raw = min(1.0, max(0.0, years_done / self.years))
        return min(1.0, -(-round(raw * 1e6) // 1000) / 1000)


class Indicator(_Strict):
    id: str
    challenge: int
    name: str
    unit: str
    kind: Kind
    direction: Direction = "at_least"
    # 程度 (about) targets are graded as plain targets, as the catalog contract documents; kept for display.
    about: bool = False
    # A built-in source, or one declared in the config: then `measure` says what the indicator counts there.
    source: str
    measure: MeasureSpec | None = None
    targets: dict[int, Target] = {}
    actuals: dict[int, float] = {}
    # A year-to-date figure that can only grow through the year (a share of departments that have
    # used something at least once): projected by the elapsed share of the year, not held flat.
    accumulates: bool = False
    plan: Plan | None = None
    due: date | None = None          # a milestone's due date: not done by then (or done later) is B
    pace: Pace = "linear"
    # Targets per ward or 団体コード, graded beside the city-wide one; "*" sets one for every scope.
    scope_targets: dict[str, dict[int, Target]] = {}
    # Set by the loader from the policy file: who owns the indicator, and the newest policy it is in.
    department: str = ""
    policy: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> Indicator:
        if self.source not in SOURCES and self.measure is None:
            raise ValueError(f"source {self.source!r} は組み込みのソース（{', '.join(SOURCES)}）ではありません。"
                             "設定ファイルで宣言したソースなら measure（何を数えるか）を書いてください")
        odd = [s for s in self.scope_targets if s != ALL_SCOPES and not (len(s) == 6 and s.isascii() and s.isdigit())]
        if odd:
            raise ValueError(f"scope_targets の範囲は 6 桁の団体コード（区のコードなど）か \"*\" で書いてください: {', '.join(odd)}")
        every = [*self.targets.values(), *(t for by in self.scope_targets.values() for t in by.values())]
        if self.direction == "within" and not all(isinstance(t, Band) for t in every):
            raise ValueError("direction = \"within\" の目標は範囲 { low = …, high = … } で書いてください")
        if self.direction != "within" and any(isinstance(t, Band) for t in every):
            raise ValueError("範囲 { low, high } の目標は direction = \"within\" の指標にだけ書けます")
        if self.kind == "milestone" and (self.direction != "at_least" or not all(t == 1 for t in every)):
            raise ValueError("マイルストーンの目標は 1（完了）で、direction は at_least です")
        if self.due is not None and self.kind != "milestone":
            raise ValueError("due（期限）はマイルストーン（kind = \"milestone\"）にだけ書けます")
        if self.plan is not None and self.kind != "count_per_fy":
            raise ValueError("plan（複数年度の計画）は年度ごとの件数（kind = \"count_per_fy\"）を積み上げる指標に書けます")
        if self.pace == "progress_ratio" and self.plan is None:
            raise ValueError("pace = \"progress_ratio\" は plan（複数年度の計画）のある指標に使えます")
        if self.pace == "seasonal" and not (self.kind == "count_per_fy" or (self.kind == "ratio" and not self.accumulates)):
            raise ValueError("pace = \"seasonal\"（前年度の月別の傾向）は年度ごとの件数か、月ごとに足し合わせる比率"
                             "（accumulates でないもの）の指標に使えます")
        if self.plan is not None:
            outside = sorted(set(self.targets) - set(range(self.plan.first, self.plan.last + 1)))
            if outside:
                raise ValueError(f"計画（{self.plan.first}〜{self.plan.last}年度）の外の年度に目標があります: "
                                 f"{', '.join(map(str, outside))}")
        return self

    def target_years(self) -> list[int]:
        """The fiscal years graded: those with a target, every year of a plan, a milestone's due year."""
        years = set(self.targets)
        if self.plan is not None:
            years |= set(range(self.plan.first, self.plan.last + 1))
        if self.due is not None:
            years.add(fiscal_year(self.due))
        return sorted(years)

    def target_spec(self, fy: int, scope: str = CITY) -> Target | None:
        if scope != CITY:
            by = self.scope_targets.get(scope) or self.scope_targets.get(ALL_SCOPES) or {}
            return by.get(fy)
        if fy in self.targets:
            return self.targets[fy]
        if self.plan is not None and self.plan.first <= fy <= self.plan.last:
            return self.plan.total * self.plan.share_by(fy - self.plan.first + 1)
        if self.kind == "milestone" and self.due is not None and fiscal_year(self.due) == fy:
            return 1.0
        return None

    def target(self, fy: int) -> float | None:
        """The target as one number where it is one (a band or a change has no single number here)."""
        spec = self.target_spec(fy)
        return float(spec) if isinstance(spec, (int, float)) else None

    def published_actual(self, fy: int) -> float | None:
        return self.actuals.get(fy)


class Policy(_Strict):
    id: str
    title: str
    department: str
    fiscal_year: int
    challenges: dict[int, str] = {}
    file: str = ""          # where it was read from, for messages


class PolicyFile(_Strict):
    policy: Policy
    challenges: dict[int, str]
    indicators: list[Indicator]

    @model_validator(mode="after")
    def _ids_unique(self) -> PolicyFile:
        ids = [i.id for i in self.indicators]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"指標の id が重複しています: {', '.join(dupes)}")
        unknown = sorted({i.challenge for i in self.indicators} - set(self.challenges))
        if unknown:
            raise ValueError(f"[challenges] にない経営課題の番号を指標が使っています: {', '.join(map(str, unknown))}")
        return self


class Catalog(_Strict):
    """Every policy read, and one indicator per id over them, in the order the files and their indicators
    came (departments in the order first seen)."""
    policies: list[Policy]
    indicators: list[Indicator]

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

    def departments(self) -> list[str]:
        return list(dict.fromkeys(p.department for p in self.policies))

    def of_department(self, department: str) -> Catalog:
        if department not in self.departments():
            raise ConfigError(f"所属「{department}」の運営方針はありません（あるのは {'、'.join(self.departments())}）")
        return Catalog(policies=[p for p in self.policies if p.department == department],
                       indicators=[i for i in self.indicators if i.department == department])

    def of_year(self, fy: int) -> Catalog:
        """The catalog as a view of fiscal year fy shows it: the policies up to that year (so policy_for and the
        challenge titles are that year's, not next year's already in the folder) and the indicators graded by
        then; a later policy's definition of a continuing indicator stays, as it does for every year."""
        policies = [p for p in self.policies if p.fiscal_year <= fy]
        if not policies:
            raise ConfigError(f"{fy}年度以前の運営方針はありません（あるのは "
                              f"{'、'.join(f'{y}年度' for y in self.fiscal_years())}）")
        return Catalog(policies=policies, indicators=[i for i in self.indicators
                                                      if i.target_years() and min(i.target_years()) <= fy])

    def latest_fy(self) -> int:
        return max(p.fiscal_year for p in self.policies)

    def fiscal_years(self) -> list[int]:
        return sorted({p.fiscal_year for p in self.policies})

    def policy_for(self, department: str, fy: int) -> Policy:
        """The department's policy of that fiscal year, else its newest one before it, else its first."""
        own = sorted((p for p in self.policies if p.department == department), key=lambda p: p.fiscal_year)
        if not own:
            raise KeyError(department)
        earlier = [p for p in own if p.fiscal_year <= fy]
        return earlier[-1] if earlier else own[0]



def load_catalog(path: Path | Sequence[Path] | None = None) -> Catalog:
    """The bundled FY2025 policy unless `path` names a policy file, a folder of them (every *.toml in it) or a
    list of files and folders."""
    if path is None:
        return parse_catalog(tomllib.loads(resources.files("jisseki.catalogs").joinpath("fy2025.toml")
                                           .read_text("utf-8")))
    return merge([_policy_file(read_toml(file, "運営方針（カタログ）ファイル"), file) for file in policy_files(path)])


def parse_catalog(raw: dict[str, Any]) -> Catalog:
    """A catalog of one policy, from its parsed TOML (the bundled one, or one made in memory)."""
    return merge([_policy_file(raw, None)])


def policy_files(path: Path | Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for entry in [Path(path)] if isinstance(path, (str, Path)) else [Path(p) for p in path]:
        if entry.is_dir():
            found = sorted(entry.glob("*.toml"))
            if not found:
                raise ConfigError(f"運営方針（カタログ）のフォルダ {entry} に .toml ファイルがありません")
            files += found
        else:
            files.append(entry)
    return files


def _policy_file(raw: dict[str, Any], path: Path | None) -> PolicyFile:
    try:
        parsed = PolicyFile.model_validate(raw)
    except ValidationError as exc:
        where = path or "同梱の運営方針"
        raise ConfigError(f"運営方針（カタログ）ファイル {where}: "
                          f"{validation_text(_named(exc.errors(), raw))}") from None
    policy = parsed.policy.model_copy(update={"challenges": parsed.challenges,
                                              "file": str(path) if path else "同梱の運営方針"})
    owned = [i.model_copy(update={"department": policy.department, "policy": policy.id}) for i in parsed.indicators]
    return parsed.model_copy(update={"policy": policy, "indicators": owned})


def merge(files: list[PolicyFile]) -> Catalog:
    """One catalog over the policy files. A department has one policy per fiscal year; an id belongs to one
    department; the same id in the same department's later policy continues the indicator: its definition
    is the newest policy's, and each year's target the one set by the newest policy that sets it."""
    seen: dict[tuple[str, int], str] = {}
    for f in files:
        key = (f.policy.department, f.policy.fiscal_year)
        if key in seen:
            raise ConfigError(f"{f.policy.department} の {f.policy.fiscal_year}年度の運営方針が二つあります: "
                              f"{seen[key]} と {f.policy.file}")
        seen[key] = f.policy.file
    ordered = sorted(files, key=lambda f: f.policy.fiscal_year)
    merged: dict[str, Indicator] = {}
    owner: dict[str, Policy] = {}
    for f in ordered:
        for ind in f.indicators:
            before = merged.get(ind.id)
            if before is None:
                merged[ind.id], owner[ind.id] = ind, f.policy
                continue
            if before.department != ind.department:
                raise ConfigError(f"指標の id {ind.id} が二つの運営方針にあります: {owner[ind.id].file}"
                                  f"（{before.department}）と {f.policy.file}（{ind.department}）。"
                                  "id は所属をまたいで一意にしてください")
            scopes = {s: {**before.scope_targets.get(s, {}), **ind.scope_targets.get(s, {})}
                      for s in {**before.scope_targets, **ind.scope_targets}}
            merged[ind.id] = ind.model_copy(update={"targets": {**before.targets, **ind.targets},
                                                    "actuals": {**before.actuals, **ind.actuals},
                                                    "scope_targets": scopes})
            owner[ind.id] = f.policy
    # Files in the order given, each id where it was first seen: the catalog reads as its files do.
    order = list(dict.fromkeys(i.id for f in files for i in f.indicators))
    return Catalog(policies=[f.policy for f in files], indicators=[merged[i] for i in order])


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
