"""The config file (TOML, interfaces.md): one typed model, read once, secrets resolved here."""
from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from jisseki.catalog import SOURCES


class ConfigError(Exception):
    """The config cannot be used; the message names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WarehouseConfig(_Strict):
    url: str = "sqlite:///warehouse.db"


class SourceConfig(_Strict):
    """Keys common to every source; a source reads only the ones its contract needs."""
    max_bad_ratio: float | None = Field(default=None, ge=0, le=1)


class ApiSourceConfig(SourceConfig):
    base_url: str
    token_env: str | None = None        # the environment variable that holds the token
    token_secret: str | None = None     # or the name of a Prefect Secret block that does
    verify_tls: bool = True
    connect_timeout: float = Field(default=5.0, gt=0)
    read_timeout: float = Field(default=30.0, gt=0)
    total_timeout: float = Field(default=120.0, gt=0)
    max_retries: int = Field(default=4, ge=0)
    backoff_seconds: float = Field(default=1.0, ge=0)
    max_retry_after: float = Field(default=120.0, ge=0)
    page_size: int = Field(default=100, ge=1, le=100)
    token: SecretStr | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _one_token_source(self) -> ApiSourceConfig:
        if (self.token_env is None) == (self.token_secret is None):
            raise ValueError("give exactly one of token_env or token_secret")
        return self


class FolderSourceConfig(SourceConfig):
    path: Path


class MoveoutSourceConfig(FolderSourceConfig):
    # The key of the fingerprints that let a night read only new files (warehouse/notification_index.py):
    # an environment variable or a Prefect Secret block. Without one, every run reads every file.
    fingerprint_key_env: str | None = None
    fingerprint_key_secret: str | None = None
    fingerprint_key: SecretStr | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _one_key_source(self) -> MoveoutSourceConfig:
        if self.fingerprint_key_env and self.fingerprint_key_secret:
            raise ValueError("give at most one of fingerprint_key_env or fingerprint_key_secret")
        return self


class DatavizSourceConfig(FolderSourceConfig):
    departments: Path


class SourcesConfig(_Strict):
    online_procedures: ApiSourceConfig | None = None
    moveout_log: MoveoutSourceConfig | None = None
    speech_usage: FolderSourceConfig | None = None
    nocode_apps: ApiSourceConfig | None = None
    dataviz_access: DatavizSourceConfig | None = None
    manual_entries: FolderSourceConfig | None = None


class AlertsConfig(_Strict):
    urls: list[str] = []  # Apprise URLs; "env:NAME" takes a secret URL from the environment
    resolved: list[SecretStr] = Field(default=[], exclude=True)
    missing_env: list[str] = Field(default=[], exclude=True)

    def channel_urls(self) -> list[str]:
        if self.missing_env:
            raise ConfigError(f"[alerts] urls: 環境変数 {', '.join(self.missing_env)} が設定されていません")
        return [url.get_secret_value() for url in self.resolved]


class ValidationConfig(_Strict):
    max_bad_ratio: float = Field(default=0.05, ge=0, le=1)


class CatalogConfig(_Strict):
    path: Path | None = None


class ScheduleConfig(_Strict):
    """`jisseki serve`'s schedule; what is left out comes from the deployment definition (prefect.yaml)."""
    cron: str | None = None
    timezone: str | None = None


class Config(_Strict):
    warehouse: WarehouseConfig = WarehouseConfig()
    sources: SourcesConfig = SourcesConfig()
    alerts: AlertsConfig = AlertsConfig()
    validation: ValidationConfig = ValidationConfig()
    catalog: CatalogConfig = CatalogConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    base_dir: Path = Field(default=Path("."), exclude=True)

    def enabled_sources(self) -> list[str]:
        return [name for name in SOURCES if getattr(self.sources, name) is not None]

    def source(self, name: str) -> SourceConfig:
        found = getattr(self.sources, name, None)
        if found is None:
            raise ConfigError(f"source {name!r} is not configured")
        return found

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


def load_config(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> Config:
    path = Path(path)
    environ = os.environ if environ is None else environ
    try:
        raw = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_describe(exc)}") from None
    return _resolve(config, path.resolve().parent, environ)


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"] if not str(p).endswith("SourceConfig"))
        if err["type"] == "extra_forbidden":
            parts.append(f"unknown key '{where}'")
        else:
            parts.append(f"'{where}': {err['msg']}")
    return "; ".join(parts)


def _resolve(config: Config, base: Path, environ: Mapping[str, str]) -> Config:
    config.base_dir = base
    _resolve_alerts(config.alerts, environ)
    config.warehouse.url = _warehouse_url(environ.get("JISSEKI_WAREHOUSE_URL") or config.warehouse.url, base)
    if config.catalog.path is not None:
        config.catalog.path = base / config.catalog.path
    for name in config.enabled_sources():
        source = config.source(name)
        for field in ("path", "departments"):
            if hasattr(source, field):
                setattr(source, field, base / getattr(source, field))
        if isinstance(source, ApiSourceConfig) and source.token_env:
            value = environ.get(source.token_env)
            source.token = SecretStr(value) if value else None
        if isinstance(source, MoveoutSourceConfig) and source.fingerprint_key_env:
            value = environ.get(source.fingerprint_key_env)
            source.fingerprint_key = SecretStr(value) if value else None
    return config


def _resolve_alerts(alerts: AlertsConfig, environ: Mapping[str, str]) -> None:
    alerts.resolved, alerts.missing_env = [], []
    for url in alerts.urls:
        if url.startswith("env:"):
            value = environ.get(url[4:])
            if value:
                alerts.resolved.append(SecretStr(value))
            else:
                alerts.missing_env.append(url[4:])
        else:
            alerts.resolved.append(SecretStr(url))


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
