"""The config file (TOML, interfaces.md): one typed model, read once, secrets resolved here."""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import date, time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from jisseki.catalog import SOURCES
from jisseki.errors import ConfigError, validation_text
from jisseki.freshness import EntryDue, Freshness, NewDataDay, RecentCrawl
from jisseki.periods import iso_day
from jisseki.tomlfile import read_toml


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WarehouseConfig(_Strict):
    url: str = "sqlite:///warehouse.db"


def _days(value: Any, least: int, unit: str) -> int:
    """A count of days from the config, or a Japanese error (the location names the key)."""
    if type(value) is not int or value < least:
        message = "{least} 以上の整数（{unit}）で書いてください（指定値: {value}）"
        raise PydanticCustomError("jisseki_days", message, {"least": least, "unit": unit,
                                                            "value": repr(value)})
    return value


class SourceConfig(_Strict):
    """Keys common to every source; a source reads only the ones its contract needs."""
    max_bad_ratio: float | None = Field(default=None, ge=0, le=1)
    # A source still running this long after the night's sources started is given up on (flows/nightly.py):
    # a server that trickles bytes or a hung network mount must not hold the warehouse all night.
    deadline_seconds: float = Field(default=1800.0, gt=0)

    def freshness(self) -> Freshness:
        """When the alerts call this source late: each kind of source declares it by keys of its own."""
        raise NotImplementedError(f"{type(self).__name__} declares no freshness")


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
    stale_after_days: int = 2  # calendar days since the last successful crawl: these systems run every day
    token: SecretStr | None = Field(default=None, exclude=True)

    @field_validator("stale_after_days", mode="before")
    @classmethod
    def _stale_days(cls, value: Any) -> int:
        return _days(value, 1, "日数")

    def freshness(self) -> Freshness:
        return RecentCrawl(self.stale_after_days)

    @model_validator(mode="after")
    def _one_token_source(self) -> ApiSourceConfig:
        if (self.token_env is None) == (self.token_secret is None):
            raise ValueError("token_env（環境変数名）か token_secret（Prefect Secret ブロック名）の"
                             "どちらか一方を指定してください")
        return self


class FolderSourceConfig(SourceConfig):
    path: Path


class DailyLogSourceConfig(FolderSourceConfig):
    # Business days after the last data day (jisseki/city_calendar.py): nothing is late on a closed day.
    stale_after_business_days: int = 3

    @field_validator("stale_after_business_days", mode="before")
    @classmethod
    def _business_days(cls, value: Any) -> int:
        return _days(value, 0, "営業日数")

    def freshness(self) -> Freshness:
        return NewDataDay(self.stale_after_business_days)


class ManualSourceConfig(FolderSourceConfig):
    # A fiscal year's entries are due by this month-day of the year it ends in: FY2025 by 2026-04-30.
    entry_due: str = "04-30"

    @field_validator("entry_due", mode="before")
    @classmethod
    def _month_day(cls, value: Any) -> str:
        day = iso_day(f"2001-{value}") if isinstance(value, str) else None
        if day is None or day.month < 4:
            raise PydanticCustomError(
                "jisseki_entry_due", "年度末（3月31日）の後の月日を \"MM-DD\"（\"04-01\"〜\"12-31\"、"
                "例: \"04-30\"）で書いてください（指定値: {value}）", {"value": repr(value)})
        return value

    def freshness(self) -> Freshness:
        month, day = self.entry_due.split("-")
        return EntryDue(int(month), int(day))


class MoveoutSourceConfig(DailyLogSourceConfig):
    # The key of the fingerprints that let a night read only new files (warehouse/notification_index.py):
    # an environment variable or a Prefect Secret block; without either, a key file that the first run
    # makes in fingerprint_key_dir (default: the user's config folder, outside the data folder).
    fingerprint_key_env: str | None = None
    fingerprint_key_secret: str | None = None
    fingerprint_key_dir: Path | None = None
    fingerprint_key: SecretStr | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _one_key_source(self) -> MoveoutSourceConfig:
        if self.fingerprint_key_env and self.fingerprint_key_secret:
            raise ValueError("fingerprint_key_env と fingerprint_key_secret は一方だけ指定してください")
        return self


class DatavizSourceConfig(DailyLogSourceConfig):
    departments: Path


class SourcesConfig(_Strict):
    online_procedures: ApiSourceConfig | None = None
    moveout_log: MoveoutSourceConfig | None = None
    speech_usage: DailyLogSourceConfig | None = None
    nocode_apps: ApiSourceConfig | None = None
    dataviz_access: DatavizSourceConfig | None = None
    manual_entries: ManualSourceConfig | None = None


class AlertsConfig(_Strict):
    urls: list[str] = []  # Apprise URLs; "env:NAME" takes a secret URL from the environment
    resolved: list[SecretStr] = Field(default=[], exclude=True)
    missing_env: list[str] = Field(default=[], exclude=True)
    # The Prefect UI's address (Prefect's own setting PREFECT_UI_URL, from the environment): digests link the
    # flow run there; without it they name the flow run's id.
    ui_url: str | None = Field(default=None, exclude=True)

    def channel_urls(self) -> list[str]:
        if self.missing_env:
            raise ConfigError(f"[alerts] urls: 環境変数 {', '.join(self.missing_env)} が設定されていません")
        return [url.get_secret_value() for url in self.resolved]


class ValidationConfig(_Strict):
    max_bad_ratio: float = Field(default=0.05, ge=0, le=1)


class CatalogConfig(_Strict):
    path: Path | None = None


class ScheduleConfig(_Strict):
    """`jisseki serve`'s schedule, which `jisseki watchdog` expects; what is left out comes from prefect.yaml."""
    cron: str | None = None
    timezone: str | None = None


class WatchdogConfig(_Strict):
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


class CalendarConfig(_Strict):
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


class Config(_Strict):
    warehouse: WarehouseConfig = WarehouseConfig()
    sources: SourcesConfig = SourcesConfig()
    alerts: AlertsConfig = AlertsConfig()
    validation: ValidationConfig = ValidationConfig()
    catalog: CatalogConfig = CatalogConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    calendar: CalendarConfig = CalendarConfig()
    watchdog: WatchdogConfig = WatchdogConfig()
    base_dir: Path = Field(default=Path("."), exclude=True)

    def enabled_sources(self) -> list[str]:
        return [name for name in SOURCES if getattr(self.sources, name) is not None]

    def source(self, name: str) -> SourceConfig:
        found = getattr(self.sources, name, None)
        if found is None:
            raise ConfigError(f"ソース {name} は設定ファイルにありません（[sources.{name}] がありません）")
        return found

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


def load_config(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> Config:
    path = Path(path)
    environ = os.environ if environ is None else environ
    raw = read_toml(path, "設定ファイル")
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"設定ファイル {path}: {validation_text(exc.errors(), hidden=('SourceConfig',))}") from None
    return _resolve(config, path.resolve().parent, environ)


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
        if isinstance(source, MoveoutSourceConfig):
            if source.fingerprint_key_env:
                value = environ.get(source.fingerprint_key_env)
                source.fingerprint_key = SecretStr(value) if value else None
            source.fingerprint_key_dir = base / source.fingerprint_key_dir if source.fingerprint_key_dir \
                else default_key_dir(environ)
    return config


def default_key_dir(environ: Mapping[str, str]) -> Path:
    """Where keys that jisseki makes itself are kept: the user's config folder (XDG), not the data folder."""
    config_home = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME") or Path.home()) / ".config")
    return Path(config_home) / "jisseki" / "keys"


def _resolve_alerts(alerts: AlertsConfig, environ: Mapping[str, str]) -> None:
    alerts.resolved, alerts.missing_env = [], []
    alerts.ui_url = environ.get("PREFECT_UI_URL", "").strip().rstrip("/") or None
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
