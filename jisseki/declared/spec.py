"""Declared sources: the `[sources.<name>]` sections with a `type`, and the `measure` of a catalog indicator.

A declaration says what to read (folder and files, a query, an API), which columns (every other column is
never read), each column's type and rules, how rows are deduplicated and placed in a day and a scope; the
catalog's indicators say what to count. From these alone a source runs through the same validation,
quarantine, revision, lineage and alert path as the built-in ones (jisseki/declared/collect.py).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from jisseki.core.freshness import Freshness, NewDataDay, RecentCrawl
from jisseki.source_config import SourceConfig

ColumnType = Literal["text", "integer", "number", "date", "datetime", "ward", "lg_code", "boolean"]
# What a type is called in a reason people read.
TYPE_WORDS: dict[str, str] = {
    "text": "文字列", "integer": "整数", "number": "数値", "date": "日付", "datetime": "日時",
    "ward": "大阪市の区コード", "lg_code": "団体コード（検査数字つき6桁）", "boolean": "はい・いいえ",
}
TRUE_WORDS = ("1", "true", "yes", "y", "はい", "有", "あり", "済", "○")
FALSE_WORDS = ("0", "false", "no", "n", "いいえ", "無", "なし", "未", "×")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Column(Strict):
    """One column read from the source, with its type and the rules a row must keep."""
    type: ColumnType = "text"
    # Where the value is in the source when that is not the column's name: a CSV header or a worksheet's
    # column heading, a SQL result column, a dotted path into a JSON record ("meta.updated_at").
    source: str | None = None
    required: bool = False
    # date: "contract" takes the contracts' forms (2025/04/01, 2025-04-01, R7.4.1, 令和7年4月1日, full-width
    # digits); "iso" only YYYY-MM-DD, as an API's JSON writes it (anything else there is a broken record).
    format: Literal["contract", "iso"] = "contract"
    allowed: list[str | int] | None = None   # after normalisation (NFKC, stripped); text and integer columns
    min: float | None = None
    max: float | None = None
    pattern: str | None = None                # a regular expression the whole text must match
    not_before: str | None = None             # another date or datetime column this one must not precede
    true: list[str] | None = None             # boolean words (NFKC, case-folded); defaults TRUE_WORDS
    false: list[str] | None = None
    empty: bool | None = None                 # what an empty boolean cell means (None: missing)
    # A column that may identify a person (a receipt number, a user id): read for the dedupe key or a
    # distinct count only, held in memory, never validated by value, shown, or stored.
    personal: bool = False

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"pattern が正規表現として正しくありません（{exc}）") from None
        return value

    @model_validator(mode="after")
    def _fits_type(self) -> Column:
        numeric = self.type in ("integer", "number")
        if (self.min is not None or self.max is not None) and not numeric:
            raise ValueError("min・max は integer・number の列にだけ書けます")
        if self.format != "contract" and self.type != "date":
            raise ValueError("format は date の列にだけ書けます")
        if self.pattern is not None and self.type != "text":
            raise ValueError("pattern は text の列にだけ書けます")
        if self.not_before is not None and self.type not in ("date", "datetime"):
            raise ValueError("not_before は date・datetime の列にだけ書けます")
        if (self.true or self.false or self.empty is not None) and self.type != "boolean":
            raise ValueError("true・false・empty は boolean の列にだけ書けます")
        if self.personal and (self.allowed or self.pattern or self.min is not None or self.max is not None):
            raise ValueError("personal の列には値の規則（allowed・pattern・min・max）を書けません（値を見ないため）")
        return self

    def where(self, name: str) -> str:
        return self.source or name


def _column(value: Any) -> Any:
    """`受付日 = "date"` is short for `受付日 = { type = "date" }`."""
    return {"type": value} if isinstance(value, str) else value


class Declared(SourceConfig):
    """What every declared source has: its Japanese name, its columns, and how rows are kept and placed."""
    type: str
    title: str                                # what people call it (alerts, listings, the report)
    columns: dict[str, Column]
    key: list[str] = []                       # the dedupe key: rows with equal keys are one row
    # Which of the rows with one key is kept: the first read (files by name, then line: as contract 2),
    # the last read, or the one with the latest value of a column (ties: the last read).
    keep: Literal["first", "last"] = "first"
    latest: str | None = None
    date: str | None = None                   # the column that places a row in its day
    scope: str | None = None                  # a column (a ward, a 団体コード, a department) for per-scope figures

    @field_validator("columns", mode="before")
    @classmethod
    def _short_forms(cls, value: Any) -> Any:
        return {k: _column(v) for k, v in value.items()} if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _columns_known(self) -> Declared:
        if not self.columns:
            raise ValueError("columns に読む列を 1 つ以上書いてください")
        named = {"key": self.key, "latest": [self.latest] if self.latest else [],
                 "date": [self.date] if self.date else [], "scope": [self.scope] if self.scope else [],
                 "not_before": [c.not_before for c in self.columns.values() if c.not_before]}
        for what, names in named.items():
            unknown = [n for n in names if n not in self.columns]
            if unknown:
                raise ValueError(f"{what} の列 {'、'.join(unknown)} が columns にありません")
        if self.date and self.columns[self.date].type not in ("date", "datetime"):
            raise ValueError(f"date の列 {self.date} は date か datetime の型にしてください")
        if self.scope and self.columns[self.scope].personal:
            raise ValueError(f"scope の列 {self.scope} は personal にできません（集計の範囲として保存されます）")
        if self.latest and self.columns[self.latest].personal:
            raise ValueError(f"latest の列 {self.latest} は personal にできません")
        return self

    def required(self) -> set[str]:
        """Columns a row cannot do without: declared required, and those that key, place or scope it."""
        needed = {n for n, c in self.columns.items() if c.required}
        return needed | set(self.key) | {n for n in (self.date, self.scope, self.latest) if n}


class Files(Declared):
    path: Path
    pattern: str = ""                         # default by type: *.csv, *.xlsx, *.jsonl
    # Business days after the last data day (jisseki/city_calendar.py) before the source is late.
    stale_after_business_days: int = Field(default=3, ge=0)

    def freshness(self) -> Freshness:
        return NewDataDay(self.stale_after_business_days)

    def glob(self) -> str:
        return self.pattern or {"csv": "*.csv", "excel": "*.xlsx", "jsonl": "*.jsonl"}[self.type]


class CsvSource(Files):
    type: Literal["csv"]
    encoding: Literal["cp932", "utf-8"] = "cp932"   # UTF-8 with or without a BOM; a BOM is always honoured
    header_row: int = Field(default=1, ge=1)


class ExcelSource(Files):
    type: Literal["excel"]
    sheet: str | None = None                  # default: the first sheet
    header_row: int = Field(default=1, ge=1)


class JsonlSource(Files):
    type: Literal["jsonl"]


class Remote(Declared):
    """A source read whole each night from a system that runs every day."""
    stale_after_days: int = Field(default=2, ge=1)

    def freshness(self) -> Freshness:
        return RecentCrawl(self.stale_after_days)


class SqlSource(Remote):
    type: Literal["sql"]
    # The SQLAlchemy URL (with its password) is a secret: the name of the environment variable or Prefect
    # Secret block that holds it, never the URL itself.
    url_env: str | None = None
    url_secret: str | None = None
    # A read-only query; :start and :end are the fiscal year so far (its first day and the as-of date).
    query: str
    timeout_seconds: float = Field(default=300.0, gt=0)
    url: SecretStr | None = Field(default=None, exclude=True)   # resolved from url_env when the config is read

    @model_validator(mode="after")
    def _one_url_source(self) -> SqlSource:
        if (self.url_env is None) == (self.url_secret is None):
            raise ValueError("url_env（環境変数名）か url_secret（Prefect Secret ブロック名）のどちらか一方を"
                             "指定してください")
        return self


class Paginator(Strict):
    """How the API's pages follow each other (the shapes dlt's REST client and the Meltano SDK know)."""
    type: Literal["page_number", "offset", "cursor", "next_link", "single"] = "single"
    page_param: str = "page"                  # page_number
    first_page: int = 1
    size_param: str | None = None             # page_number: per_page; offset: limit
    size: int = Field(default=100, ge=1)
    offset_param: str = "offset"              # offset
    total_path: str | None = None             # page_number, offset: the record count, when the API says
    next_path: str | None = None              # page_number: the next page's number; cursor: the cursor;
    #                                            next_link: the next page's URL (null or absent on the last)
    cursor_param: str = "cursor"              # cursor

    @model_validator(mode="after")
    def _says_where_the_next_page_is(self) -> Paginator:
        if self.type in ("cursor", "next_link") and not self.next_path:
            raise ValueError(f"paginator {self.type} には next_path（次のページの{'カーソル' if self.type == 'cursor' else 'URL'}"
                             "がある JSON のパス）を書いてください")
        return self


class RestSource(Remote):
    type: Literal["rest"]
    base_url: str
    path: str = "/"
    params: dict[str, str | int] = {}
    # "token": the API takes a token (token_env or token_secret names where it is kept); "none": a public API.
    auth: Literal["token", "none"] = "token"
    auth_header: str = "Authorization"        # the header the token goes in
    auth_scheme: str = "Bearer"               # "Bearer <token>"; "" sends the token alone (as X-Api-Token takes it)
    token_env: str | None = None
    token_secret: str | None = None
    records_path: str = ""                    # the JSON path of the records in a page ("" = the page itself)
    paginator: Paginator = Paginator()
    allow_empty: bool = False                 # an API that returns no record at all is taken as broken
    verify_tls: bool = True
    connect_timeout: float = Field(default=5.0, gt=0)
    read_timeout: float = Field(default=30.0, gt=0)
    total_timeout: float = Field(default=120.0, gt=0)
    max_retries: int = Field(default=4, ge=0)
    backoff_seconds: float = Field(default=1.0, ge=0)
    max_retry_after: float = Field(default=120.0, ge=0)
    max_pages: int = Field(default=10_000, ge=1)
    token: SecretStr | None = Field(default=None, exclude=True)   # resolved from token_env

    @model_validator(mode="after")
    def _one_token_source(self) -> RestSource:
        if self.auth == "none" and (self.token_env or self.token_secret):
            raise ValueError("auth = \"none\" の API に token_env・token_secret は書けません")
        if self.auth == "token" and (self.token_env is None) == (self.token_secret is None):
            raise ValueError("token_env（環境変数名）か token_secret（Prefect Secret ブロック名）のどちらか一方を"
                             "指定してください（トークンの要らない API なら auth = \"none\"）")
        return self


DECLARED_TYPES: dict[str, type[Declared]] = {
    "csv": CsvSource, "excel": ExcelSource, "jsonl": JsonlSource, "sql": SqlSource, "rest": RestSource}

# -- measures (catalog indicators) -------------------------------------------------------------------------------

Scalar = str | int | float | bool


class Range(Strict):
    min: float | None = None
    max: float | None = None


# A filter: column → a value (equality), a list (membership) or { min, max } (a range, both ends included).
Filter = dict[str, Scalar | list[Scalar] | Range]


class MeasureSpec(Strict):
    """What an indicator counts in its source's rows (after deduplication), per month and fiscal year to date,
    city-wide and, with `by_scope`, per scope."""
    type: Literal["count", "distinct", "sum", "mean", "ratio", "active", "first", "latest"]
    column: str | None = None        # distinct, sum, mean, latest: the column; first: the key counted once
    where: Filter = {}               # rows counted at all (ratio: the denominator)
    numerator: Filter = {}           # ratio: rows of the denominator that also count above the line
    valid_from: str | None = None    # active: counted on day D when valid_from <= D and (valid_to empty or > D)
    valid_to: str | None = None
    date: str | None = None          # the day a row belongs to, when not the source's `date`
    by_scope: bool = False
    # The fiscal-year figure: the measure over the year to date, or the mean of the complete months' figures.
    fiscal_year: Literal["to_date", "mean_of_months"] = "to_date"

    @model_validator(mode="after")
    def _complete(self) -> MeasureSpec:
        if self.type in ("distinct", "sum", "mean", "latest", "first") and not self.column:
            raise ValueError(f"measure {self.type} には column を書いてください")
        if self.type == "ratio" and not self.numerator:
            raise ValueError("measure ratio には numerator（分子の条件）を書いてください")
        if self.type == "active" and not self.valid_from:
            raise ValueError("measure active には valid_from を書いてください")
        if self.type != "ratio" and self.numerator:
            raise ValueError("numerator は measure ratio にだけ書けます")
        return self

    def columns(self) -> set[str]:
        """Every column the measure reads."""
        used = set(self.where) | set(self.numerator)
        return used | {c for c in (self.column, self.valid_from, self.valid_to, self.date) if c}
