"""What connectors yield: typed records, quarantine entries, and the lineage of what they read."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any


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
