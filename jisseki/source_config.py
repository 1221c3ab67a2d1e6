"""The config sections of the sources (`[sources.*]`): keys common to every source and each kind's own.

Below the registry (jisseki/sources.py), which names each source's model, and the config, which is made from it."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_core import PydanticCustomError

from jisseki.core.freshness import EntryDue, Freshness, NewDataDay
from jisseki.core.periods import iso_day


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _days(value: Any, least: int, unit: str) -> int:
    """A count of days from the config, or a Japanese error (the location names the key)."""
    if type(value) is not int or value < least:
        message = "{least} 以上の整数（{unit}）で書いてください（指定値: {value}）"
        raise PydanticCustomError("jisseki_days", message, {"least": least, "unit": unit,
                                                            "value": repr(value)})
    return value


class SourceConfig(Strict):
    """Keys common to every source; a source reads only the ones its contract needs."""
    max_bad_ratio: float | None = Field(default=None, ge=0, le=1)
    # A source still running this long after the night's sources started is given up on (flows/nightly.py):
    # a server that trickles bytes or a hung network mount must not hold the warehouse all night.
    deadline_seconds: float = Field(default=1800.0, gt=0)

    def freshness(self) -> Freshness:
        """When the alerts call this source late: each kind of source declares it by keys of its own."""
        raise NotImplementedError(f"{type(self).__name__} declares no freshness")


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
    # The key of the fingerprints that let a night read only new files (jisseki/moveout/index.py):
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
