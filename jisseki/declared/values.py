"""A declared column's raw value as its type: the one set of functions the row readers and the columnar path
share, so a value means the same whichever way it was read. Only the contracts' forms are accepted (dates
incl. 和暦 and full-width digits, ISO date-times, ward and 団体コード with check digit); anything else is
invalid, not guessed at."""
from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from jisseki.core.normalize import check_digit, nfkc, parse_date, parse_timestamp, ward_code
from jisseki.core.periods import JST
from jisseki.core.records import Bad, Lineage
from jisseki.declared.spec import FALSE_WORDS, TRUE_WORDS, Column

MISSING = object()   # an empty value: not invalid, absent
NUMBER = re.compile(r"[+-]?(\d+(,\d{3})*|\d*)(\.\d+)?([eE][+-]?\d+)?")
INTEGER = re.compile(r"[+-]?\d+(,\d{3})*")
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True, slots=True)
class Row:
    """One row as a reader found it: each declared column's raw value (a string from a file, a JSON value,
    a database value; None when absent), where it is, and a hash of its raw content for quarantine."""
    values: Mapping[str, Any]
    location: str       # a file name, "page 3", "offset 200", "query"
    item: str           # "line 12", "row 5", "#3"
    content_hash: str


def typed(value: Any, column: Column) -> Any:
    """The value as its column's type, MISSING when empty, or None when it cannot be read as that type."""
    if value is None or (isinstance(value, str) and not nfkc(value)):
        if column.type == "boolean" and column.empty is not None:
            return column.empty
        return MISSING
    return _CONVERT[column.type](value, column)


def _text(value: Any, column: Column) -> Any:
    # Only text is text: a number or an object where a JSON record should have a string is a broken record.
    return nfkc(value) if isinstance(value, str) else None


def _integer(value: Any, column: Column) -> Any:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    text = nfkc(str(value))
    return int(text.replace(",", "")) if INTEGER.fullmatch(text) else None


def _number(value: Any, column: Column) -> Any:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) or type(value).__name__ == "Decimal":
        number = float(value)
    else:
        text = nfkc(str(value))
        if not NUMBER.fullmatch(text) or not any(ch.isdigit() for ch in text):
            return None
        number = float(text.replace(",", ""))
    return number if math.isfinite(number) else None


def _date(value: Any, column: Column) -> Any:
    if isinstance(value, datetime):
        return (value.replace(tzinfo=JST) if value.tzinfo is None else value.astimezone(JST)).date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        return None
    if column.format == "iso":
        return date.fromisoformat(value) if ISO_DATE.fullmatch(value) and _valid_iso(value) else None
    return parse_date(value)


def _valid_iso(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _datetime(value: Any, column: Column) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=JST) if value.tzinfo is None else value.astimezone(JST)
    return parse_timestamp(value) if isinstance(value, str) else None


def _ward(value: Any, column: Column) -> Any:
    return ward_code(str(value)) if isinstance(value, (str, int)) and not isinstance(value, bool) else None


def _lg_code(value: Any, column: Column) -> Any:
    """A 全国地方公共団体コード: 6 digits whose last is the check digit, or the 5-digit form without it."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    text = nfkc(str(value))
    if len(text) == 5 and text.isascii() and text.isdigit():
        return text + check_digit(text)
    if len(text) == 6 and text.isascii() and text.isdigit() and check_digit(text[:5]) == text[5]:
        return text
    return None


def _boolean(value: Any, column: Column) -> Any:
    if isinstance(value, bool):
        return value
    word = unicodedata.normalize("NFKC", str(value)).strip().casefold()
    if word in {w.casefold() for w in (column.true or TRUE_WORDS)}:
        return True
    if word in {w.casefold() for w in (column.false or FALSE_WORDS)}:
        return False
    return None


_CONVERT = {"text": _text, "integer": _integer, "number": _number, "date": _date, "datetime": _datetime,
            "ward": _ward, "lg_code": _lg_code, "boolean": _boolean}

# The shape a quarantined raw value may show in (jisseki.core.normalize.shown): a text may be anything a
# person typed in the wrong column, so only ASCII words; a personal column never.
SHAPES = {"text": "code", "integer": "number", "number": "number", "date": "date", "datetime": "date",
          "ward": "ward", "lg_code": "ward", "boolean": "flag"}


def day_of(value: Any) -> date | None:
    """The day a typed date or date-time (in Japan time) places its row in; None for anything else."""
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else None


def raw_text(value: Any) -> str:
    """A raw value as quarantine may hold it before its shape is checked: text, at most 40 characters."""
    if value is None:
        return ""
    return (value.isoformat() if isinstance(value, (date, datetime)) else str(value)).strip()[:40]


@dataclass(frozen=True, slots=True)
class Window:
    """The days a run reads: a SQL query's :start and :end, the fiscal year so far."""
    start: date
    end: date


# A reader: the declaration, the lineage it fills (files read, or the crawl: endpoint, time, pages, records,
# content hash), the run's window, and the secret the declaration names (an API token, a database URL), resolved
# by the caller. It yields every row it read (only the declared columns) and every row or file it could not read.
Reader = Callable[[Any, Lineage, Window, str | None], Iterator[Row | Bad]]
