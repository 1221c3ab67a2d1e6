"""Contract 4: no-code platform app list API (ノーコードツール アプリ一覧API), offset paging."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from connectors.errors import SourceFormatError
from connectors.http import HttpClient
from jisseki.core.normalize import parse_iso_date
from jisseki.core.periods import now_utc
from jisseki.core.records import Bad, Lineage, Record, named, raw

PATH = "/v1/apps"
MAX_PAGES = 10_000


def read_nocode_apps(client: HttpClient, lineage: Lineage, limit: int = 100) -> Iterator[Record | Bad]:
    """There is no total: the list ends with the first page shorter than `limit` (possibly empty)."""
    crawled_at = now_utc().isoformat(timespec="seconds")
    identity, offset, pages, records = hashlib.sha256(), 0, 0, 0
    while True:
        if pages >= MAX_PAGES:
            raise SourceFormatError(f"{client.describe(PATH)}: {MAX_PAGES} ページを超えても終わりません")
        params = {"offset": offset, "limit": limit}
        apps = _page(client.get_json(PATH, params), client.describe(PATH, params))
        pages += 1
        lineage.pages_read = pages
        for index, item in enumerate(apps):
            blob = json.dumps(item, sort_keys=True, ensure_ascii=False).encode()
            identity.update(blob)
            yield _record(item, offset, index, hashlib.sha256(blob).hexdigest())
        records += len(apps)
        if len(apps) < limit:
            break
        offset += len(apps)
    if records == 0:
        raise SourceFormatError(f"{client.describe(PATH)}: アプリ一覧が空です（0件）。"
                                "APIの異常として扱い、取り込みません")
    lineage.crawl = {"endpoint": PATH, "crawled_at": crawled_at, "pages": pages, "records": records,
                     "content_sha256": identity.hexdigest()}


def _page(body: Any, where: str) -> list[Any]:
    if not isinstance(body, dict) or not isinstance(body.get("apps"), list):
        raise SourceFormatError(f"{where}: 応答が契約の形式（apps の配列）ではありません")
    return body["apps"]


def _record(item: Any, offset: int, index: int, content_hash: str) -> Record | Bad:
    location, position = f"offset {offset}", f"#{index + 1}"
    if not isinstance(item, dict):
        return Bad(location, position, "not_object", "アプリがJSONオブジェクトではありません",
                   content_hash=content_hash)
    app_id = _text(item.get("app_id"))
    started_raw, retired_raw = item.get("operation_started_on"), item.get("retired_on")
    started = parse_iso_date(started_raw)
    fields = {
        "app_id": app_id,
        "business_id": _text(item.get("business_id")),
        "status": item.get("status") if isinstance(item.get("status"), str) else None,
        "operation_started_on": started,
        "started_valid": started_raw is None or started is not None,
        "retired_valid": retired_raw is None or parse_iso_date(retired_raw) is not None,
        "raw_started": raw(started_raw),
        "raw_retired": raw(retired_raw),
    }
    return Record(fields, app_id, location, named(position, app_id), content_hash)


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None
