"""The config file (TOML, interfaces.md): one typed model, read once, secrets resolved here."""
from __future__ import annotations

import contextlib
import contextvars
import os
import re
from collections.abc import Iterator, Mapping
from datetime import date, time
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError, create_model, field_validator, model_validator
from pydantic_core import PydanticCustomError

from jisseki.batch import Source
from jisseki.core.errors import ConfigError, validation_text
from jisseki.core.freshness import Freshness
from jisseki.core.periods import iso_day
from jisseki.declared.source import declared_source
from jisseki.declared.spec import (
    DECLARED_TYPES,
    CsvSource,
    ExcelSource,
    Files,
    JsonlSource,
    RestSource,
    SqlSource,
)
from jisseki.source_config import (
    DatavizSourceConfig,
    FolderSourceConfig,
    MoveoutSourceConfig,
    SourceConfig,
    Strict,
)
from jisseki.sources import SOURCE_DEFS
from jisseki.tomlfile import read_toml


class WarehouseConfig(Strict):
    url: str = "sqlite:///warehouse.db"


class AlertsConfig(Strict):
    urls: list[str] = []  # Apprise URLs; "env:NAME" takes a secret URL from the environment
    resolved: list[SecretStr] = Field(default=[], exclude=True)
    missing_env: list[str] = Field(default=[], exclude=True)
    # The Prefect UI's address (Prefect's own setting PREFECT_UI_URL, from the environment): digests link the
    # flow run there; without it they name the flow run's id.
    ui_url: str | None = Field(default=None, exclude=True)

    # A department's own channels (department name as its policy writes it → Apprise URLs, env:NAME as in
    # urls): its indicators' alerts, and those of the sources its indicators read, go there too.
    routes: dict[str, list[str]] = {}
    resolved_routes: dict[str, list[SecretStr]] = Field(default={}, exclude=True)

    def channel_urls(self) -> list[str]:
        """The city-wide channels: they receive every alert."""
        self._no_missing_env()
        return [url.get_secret_value() for url in self.resolved]

    def route_urls(self) -> dict[str, list[str]]:
        """Each department's own channels."""
        self._no_missing_env()
        return {dept: [url.get_secret_value() for url in urls] for dept, urls in self.resolved_routes.items()}

    def _no_missing_env(self) -> None:
        if self.missing_env:
            raise ConfigError(f"[alerts] urls: 環境変数 {', '.join(self.missing_env)} が設定されていません")

    def route_problem(self, departments: list[str]) -> str | None:
        """A route must name a department the catalog has: the config is read before the catalog is, so this
        is asked where both are known (before a run starts, and by `jisseki check`)."""
        unknown = [d for d in self.routes if d not in departments]
        if not unknown:
            return None
        return (f"[alerts.routes] 所属「{'」「'.join(unknown)}」の運営方針はありません"
                f"（運営方針にある所属: {'、'.join(departments)}）")

    def check_routes(self, departments: list[str]) -> None:
        problem = self.route_problem(departments)
        if problem:
            raise ConfigError(problem)


class ValidationConfig(Strict):
    max_bad_ratio: float = Field(default=0.05, ge=0, le=1)


class CatalogConfig(Strict):
    # A policy file, a folder of them (one per department and fiscal year), or a list of files and folders.
    path: Path | list[Path] | None = None


class ScheduleConfig(Strict):
    """`jisseki serve`'s schedule, which `jisseki watchdog` expects; what is left out comes from prefect.yaml."""
    cron: str | None = None
    timezone: str | None = None


class WatchdogConfig(Strict):
    # By this time (the schedule's time zone) a night's run must have finished, or `jisseki watchdog` alerts.
    deadline: time = time(4, 0)

    @field_validator("deadline", mode="before")
    @classmethod
    def _hh_mm(cls, value: Any) -> time:
        if isinstance(value, time):
            return value
        if isinstance(value, str) and re.fullmatch(r"\d{2}:\d{2}", value):
            try:
                return time.fromisoformat(value)
            except ValueError:
                pass
        raise PydanticCustomError("jisseki_deadline",
                                  "時刻を \"HH:MM\"（例: \"04:00\"）で書いてください（指定値: {value}）",
                                  {"value": repr(value)})


class CalendarConfig(Strict):
    closed_days: list[date] = []  # closed besides weekends, national holidays and 12/29–1/3

    @field_validator("closed_days", mode="before")
    @classmethod
    def _dates(cls, value: Any) -> list[date]:
        if not isinstance(value, list):
            raise PydanticCustomError("jisseki_closed_days", "日付の配列で書いてください"
                                      "（例: closed_days = [2026-01-05]、指定値: {value}）", {"value": repr(value)})
        return [_closed_day(n, item) for n, item in enumerate(value, 1)]


def _closed_day(n: int, item: Any) -> date:
    """A TOML date, or the same written as a string; a date-time is refused rather than cut to its day."""
    day = iso_day(item) if isinstance(item, str) else item
    if type(day) is date:
        return day
    shown = item.isoformat() if isinstance(item, date) else repr(item)
    raise PydanticCustomError("jisseki_closed_days", "{n} 番目が日付（例: 2026-01-05、時刻なし）では"
                              "ありません（指定値: {value}）", {"n": n, "value": shown})


# One optional section per source of the registry, of that source's own model: a new source brings its section.
_SECTIONS: dict[str, Any] = {name: (source.config | None, None) for name, source in SOURCE_DEFS.items()}
SourcesConfig = create_model("SourcesConfig", __base__=Strict, **_SECTIONS)


# A [sources.<name>] section whose name is no built-in source declares one (jisseki/declared/spec.py).
DeclaredSection = Annotated[CsvSource | ExcelSource | JsonlSource | SqlSource | RestSource, Field(discriminator="type")]


def _shipped(name: str, section: Any) -> Any:
    """A built-in source defined by a shipped declaration: the config's section is laid over it (base_url and
    the token, and whatever else it sets). `page_size` is the contracts' name for the paginator's size."""
    declaration = SOURCE_DEFS[name].declaration
    if declaration is None or not isinstance(section, dict):
        return section
    merged = {**declaration, **{k: v for k, v in section.items() if k != "page_size"}}
    if "page_size" in section:
        merged["paginator"] = {**declaration.get("paginator", {}), "size": section["page_size"]}
    return merged


class Config(Strict):
    warehouse: WarehouseConfig = WarehouseConfig()
    sources: SourcesConfig = SourcesConfig()  # type: ignore[valid-type]  # made from the registry
    declared: dict[str, DeclaredSection] = Field(default={}, exclude=True)   # the rest of [sources.*]
    alerts: AlertsConfig = AlertsConfig()
    validation: ValidationConfig = ValidationConfig()
    catalog: CatalogConfig = CatalogConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    calendar: CalendarConfig = CalendarConfig()
    watchdog: WatchdogConfig = WatchdogConfig()
    base_dir: Path = Field(default=Path("."), exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _split_sources(cls, raw: Any) -> Any:
        """[sources.*] holds the built-in sources' sections and the declared ones: each to its own model."""
        if not isinstance(raw, dict) or not isinstance(raw.get("sources"), dict) or "declared" in raw:
            return raw
        sources = raw["sources"]
        return {**raw, "sources": {k: _shipped(k, v) for k, v in sources.items() if k in SOURCE_DEFS},
                "declared": {k: v for k, v in sources.items() if k not in SOURCE_DEFS}}

    def enabled_sources(self) -> list[str]:
        return [name for name in SOURCE_DEFS if getattr(self.sources, name) is not None] + list(self.declared)

    def source(self, name: str) -> SourceConfig:
        found = getattr(self.sources, name, None) if name in SOURCE_DEFS else self.declared.get(name)
        if found is None:
            raise ConfigError(f"ソース {name} は設定ファイルにありません（[sources.{name}] がありません）")
        return found

    def source_def(self, name: str) -> Source:
        """The source's definition: a built-in one, or made from its declaration."""
        if name in SOURCE_DEFS:
            return SOURCE_DEFS[name]
        decl = self.declared.get(name)
        if decl is None:
            raise ConfigError(f"ソース {name} は設定ファイルにありません（[sources.{name}] がありません）")
        return declared_source(name, type(decl), decl.title)

    def labels(self) -> dict[str, str]:
        """What people call every configured source, with the name the config and `--source` use."""
        return {name: self.source_def(name).label for name in self.enabled_sources()}

    def freshness(self) -> dict[str, Freshness]:
        """Every configured source's rule for late data, from its own section: the alert rules take it as data."""
        return {name: self.source(name).freshness() for name in self.enabled_sources()}

    def max_bad_ratio(self, name: str, source_default: float | None = None) -> float:
        """The source's own setting, else the source kind's default, else [validation]'s."""
        for value in (self.source(name).max_bad_ratio, source_default):
            if value is not None:
                return value
        return self.validation.max_bad_ratio


CONFIG_ENV = "JISSEKI_CONFIG"


def config_file(given: str | os.PathLike[str] | None, environ: Mapping[str, str] | None = None) -> Path:
    """The config a flow run reads: its parameter, else JISSEKI_CONFIG of the process running it (a worker's
    environment or the work pool's job variables), so no site's path has to be written into prefect.yaml."""
    environ = os.environ if environ is None else environ
    chosen = given or environ.get(CONFIG_ENV)
    if not chosen:
        raise ConfigError(f"設定ファイルが指定されていません。パラメータ config_path か、実行するプロセスの環境変数 "
                          f"{CONFIG_ENV} で設定ファイルのパスを指定してください")
    return Path(chosen)


# The config this process has read for a run about to start (`jisseki run` reads it to check it before Prefect
# starts): the flow takes it instead of reading the file again, so one run has one config.
_read: contextvars.ContextVar[tuple[Path, Config] | None] = contextvars.ContextVar("jisseki_config", default=None)


@contextlib.contextmanager
def reading_once(path: Path, config: Config) -> Iterator[None]:
    """Within it, config_for(path) is `config`."""
    token = _read.set((Path(path).resolve(), config))
    try:
        yield
    finally:
        _read.reset(token)


def config_for(path: str | os.PathLike[str]) -> Config:
    """The config of the run: the one this run has read already, else the file's."""
    held = _read.get()
    if held is not None and held[0] == Path(path).resolve():
        return held[1]
    return load_config(path)


def load_config(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> Config:
    path = Path(path)
    environ = os.environ if environ is None else environ
    raw = read_toml(path, "設定ファイル")
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"設定ファイル {path}: "
                          f"{validation_text(_declared_named(exc.errors()), hidden=('SourceConfig',))}") from None
    return _resolve(config, path.resolve().parent, environ)


def _declared_named(errors: list[Any]) -> list[Any]:
    """A declared section's errors are located as the file writes it: [sources.<name>], without the type
    pydantic's union adds to the location."""
    out = []
    for err in errors:
        loc = list(err["loc"])
        if loc[:1] == ["declared"]:
            loc[0] = "sources"
            if len(loc) > 2 and loc[2] in DECLARED_TYPES:
                del loc[2]
        out.append({**err, "loc": tuple(loc)})
    return out


def _resolve(config: Config, base: Path, environ: Mapping[str, str]) -> Config:
    config.base_dir = base
    _resolve_alerts(config.alerts, environ)
    config.warehouse.url = _warehouse_url(environ.get("JISSEKI_WAREHOUSE_URL") or config.warehouse.url, base)
    if isinstance(config.catalog.path, list):
        config.catalog.path = [base / p for p in config.catalog.path]
    elif config.catalog.path is not None:
        config.catalog.path = base / config.catalog.path
    for name in config.enabled_sources():
        source = config.source(name)
        if isinstance(source, (FolderSourceConfig, Files)):
            source.path = base / source.path
        if isinstance(source, DatavizSourceConfig):
            source.departments = base / source.departments
        # Secrets named by environment variable are read now, once; a Prefect Secret block when the source runs.
        if isinstance(source, RestSource) and source.token_env:
            source.token = _secret(environ, source.token_env)
        if isinstance(source, SqlSource) and source.url_env:
            source.url = _secret(environ, source.url_env)
        if isinstance(source, MoveoutSourceConfig):
            if source.fingerprint_key_env:
                source.fingerprint_key = _secret(environ, source.fingerprint_key_env)
            source.fingerprint_key_dir = base / source.fingerprint_key_dir if source.fingerprint_key_dir \
                else default_key_dir(environ)
    return config


def _secret(environ: Mapping[str, str], name: str) -> SecretStr | None:
    value = environ.get(name)
    return SecretStr(value) if value else None


def default_key_dir(environ: Mapping[str, str]) -> Path:
    """Where keys that jisseki makes itself are kept: the user's config folder (XDG), not the data folder."""
    config_home = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME") or Path.home()) / ".config")
    return Path(config_home) / "jisseki" / "keys"


def _resolve_alerts(alerts: AlertsConfig, environ: Mapping[str, str]) -> None:
    alerts.missing_env = []
    alerts.ui_url = environ.get("PREFECT_UI_URL", "").strip().rstrip("/") or None
    alerts.resolved = _resolve_urls(alerts.urls, environ, alerts.missing_env)
    alerts.resolved_routes = {}
    for dept, urls in alerts.routes.items():
        missing: list[str] = []
        alerts.resolved_routes[dept] = _resolve_urls(urls, environ, missing)
        alerts.missing_env += [f"{name}（[alerts.routes] {dept}）" for name in missing]


def _resolve_urls(urls: list[str], environ: Mapping[str, str], missing: list[str]) -> list[SecretStr]:
    """The URLs with every env:NAME read from the environment; the names not set are added to `missing`."""
    resolved = []
    for url in urls:
        if url.startswith("env:"):
            value = environ.get(url[4:])
            if value:
                resolved.append(SecretStr(value))
            else:
                missing.append(url[4:])
        else:
            resolved.append(SecretStr(url))
    return resolved


def _warehouse_url(url: str, base: Path) -> str:
    """A relative SQLite path is relative to the config file's folder."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        return prefix + str(base / url[len(prefix):])
    return url


def to_toml(values: dict[str, Any]) -> str:
    """TOML text for a small config (used by the demo); values are strings, lists or tables."""
    lines: list[str] = []
    for section, table in values.items():
        lines.append(f"[{section}]")
        for key, value in table.items():
            lines.append(f"{key} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
