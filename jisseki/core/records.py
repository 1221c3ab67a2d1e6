"""What connectors yield: typed records, quarantine entries, and the lineage of what they read."""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from jisseki.core.normalize import UNSTORABLE


@dataclass(slots=True)
class Record:
    """One source row, normalised. `fields` are validated and may be shown in quarantine reasons;
    `key` identifies the row for deduplication and may be personal: it lives in memory only."""
    fields: dict[str, Any]
    key: Any
    location: str
    item: str
    content_hash: str


@dataclass(frozen=True, slots=True)
class Bad:
    """A row (or a whole file) that cannot be counted, and why. Never holds personal data."""
    location: str
    item: str
    code: str
    reason: str
    value: str = ""
    content_hash: str = ""
    rows: int = 1


@dataclass(slots=True)
class FileInfo:
    name: str
    size: int
    mtime_ns: int
    sha256: str
    rows: int = 0
    encoding: str = ""
    # What a writer cannot set back (as in git's index): a copy with its mtime kept still moves these.
    # None for a file landed before they were kept (then the file is hashed again once).
    ctime_ns: int | None = None
    inode: int | None = None


@dataclass
class Lineage:
    """Filled in by a connector while it reads; summarised onto every figure it yields."""
    files: list[FileInfo] = field(default_factory=list)
    crawl: dict[str, Any] = field(default_factory=dict)
    units_total: int | None = None   # files to read, when known up front (for progress)
    pages_read: int = 0

    def units_read(self) -> int:
        return self.pages_read or len(self.files)

    def detail(self) -> dict[str, Any]:
        if self.crawl:
            return {"crawl": self.crawl}
        return {"files": [[f.name, f.sha256, f.size, f.rows] for f in self.files]}

    def lineage_id(self) -> str:
        # A crawl is identified by what it returned, not when, so an unchanged crawl adds nothing.
        basis = {k: v for k, v in self.crawl.items() if k != "crawled_at"} if self.crawl else self.detail()
        return hashlib.sha256(json.dumps(basis, sort_keys=True).encode()).hexdigest()[:32]

    def summary(self) -> dict[str, Any]:
        head: dict[str, Any] = {"lineage_id": self.lineage_id()}
        if self.crawl:
            head.update({k: self.crawl[k] for k in ("crawled_at", "records", "pages") if k in self.crawl})
        else:
            head.update({"files": len(self.files), "records": sum(f.rows for f in self.files)})
        return head


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def text_problem(values: Mapping[str, object]) -> str | None:
    """Why the row's values cannot be recorded (naming the column), or None when every text is storable
    (jisseki.core.normalize.UNSTORABLE)."""
    for name, value in values.items():
        if isinstance(value, str) and UNSTORABLE.search(value):
            return f"{name} に NUL 文字か不正な文字（対のないサロゲート）があります"
    return None


Item = TypeVar("Item")   # what a reader yields for a row it read: a Record, or a declared source's Row


def accounted(info: FileInfo, items: Iterable[Item | Bad], data_rows: int) -> Iterator[Item | Bad]:
    """The file's items (a Bad for its rows, anything else one row read), checked to account for each of its
    `data_rows` exactly once: a shortfall becomes a Bad for the difference, so no row is lost in silence;
    more is a reader's bug. Sets info.rows to the data rows."""
    counted = 0
    for item in items:
        counted += item.rows if isinstance(item, Bad) else 1
        yield item
    if counted > data_rows:
        raise RuntimeError(f"内部エラー: {info.name} のデータ行 {data_rows} 行に対して {counted} 行を数えました")
    if counted < data_rows:
        yield Bad(info.name, "file", "unaccounted_rows",
                  f"データ行 {data_rows} 行のうち {data_rows - counted} 行が数えられていません（読み取りの不具合です）",
                  content_hash=info.sha256, rows=data_rows - counted)
    info.rows = data_rows


# A quarantine entry names an API record by its id (the entry lands) only when the id looks like a catalog id
# (PROC-000123, 412): whatever else stands in the field is not shown.
CATALOG_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,47}")


def raw(value: object) -> str:
    """A field as the API sent it, truncated, for quarantine to show in its column's shape (normalize.shown):
    "" for null or absent, the JSON text of anything that is not a string."""
    text = value if isinstance(value, str) else "" if value is None else json.dumps(value, ensure_ascii=False)
    return text[:40]


def named(position: str, catalog_id: str | None) -> str:
    """A record's place in its page, with its id when that is a catalog id."""
    return f"{position} {catalog_id}" if catalog_id and CATALOG_ID.fullmatch(catalog_id) else position
