"""Contract 1: online procedures catalog API (行政オンラインシステム 手続カタログAPI)."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from connectors.errors import SourceFormatError
from connectors.http import HttpClient
from jisseki.core.normalize import parse_iso_date, parse_timestamp
from jisseki.core.periods import now_utc
from jisseki.core.records import Bad, Lineage, Record, named, raw

PATH = "/v1/procedures"
MAX_PAGES = 10_000


def read_online_procedures(client: HttpClient, lineage: Lineage, per_page: int = 100) -> Iterator[Record | Bad]:
    crawled_at = now_utc().isoformat(timespec="seconds")
    page: int | None = 1
    seen: set[int] = set()
    identity = hashlib.sha256()
    records = 0
    while page is not None:
        if page in seen or len(seen) >= MAX_PAGES:
            raise SourceFormatError(f"{client.describe(PATH)}: next_page {page} が繰り返されています"
                                    "（ページ送りが終わりません）")
        seen.add(page)
        body = client.get_json(PATH, {"page": page, "per_page": per_page})
        data, next_page = _page(body, client.describe(PATH, {"page": page}))
        lineage.pages_read += 1
        total = body["meta"].get("total")
        if isinstance(total, int) and total >= 0:
            lineage.units_total = max(lineage.pages_read, -(-total // per_page))
        for index, item in enumerate(data):
            blob = json.dumps(item, sort_keys=True, ensure_ascii=False).encode()
            identity.update(blob)
            records += 1
            yield _record(item, page, index, hashlib.sha256(blob).hexdigest())
        page = next_page
    if records == 0:
        raise SourceFormatError(f"{client.describe(PATH)}: カタログが空です（0件）。"
                                "APIの異常として扱い、取り込みません")
    lineage.crawl = {"endpoint": PATH, "crawled_at": crawled_at, "pages": len(seen),
                     "records": records, "content_sha256": identity.hexdigest()}


def _page(body: Any, where: str) -> tuple[list[Any], int | None]:
    if not isinstance(body, dict) or not isinstance(body.get("data"), list) or not isinstance(body.get("meta"), dict):
        raise SourceFormatError(f"{where}: 応答が契約の形式（data と meta）ではありません")
    next_page = body["meta"].get("next_page")
    if next_page is not None and (not isinstance(next_page, int) or isinstance(next_page, bool)):
        raise SourceFormatError(f"{where}: meta.next_page が整数でも null でもありません")
    return body["data"], next_page


def _record(item: Any, page: int, index: int, content_hash: str) -> Record | Bad:
    location, position = f"page {page}", f"#{index + 1}"
    if not isinstance(item, dict):
        return Bad(location, position, "not_object", "手続がJSONオブジェクトではありません", content_hash=content_hash)
    raw_id = item.get("id")
    proc_id = raw_id if isinstance(raw_id, str) and raw_id.strip() else None
    since, retired_raw = parse_iso_date(item.get("online_since")), item.get("retired_on")
    retired = parse_iso_date(retired_raw)
    fields = {
        "id": proc_id,
        "online_since": since,
        "retired_on": retired,
        "retired_on_valid": retired_raw is None or retired is not None,
        "since_ord": since.toordinal() if since else None,
        "retired_ord": retired.toordinal() if retired else None,
        "status": item.get("status") if isinstance(item.get("status"), str) else None,
        "updated_at": parse_timestamp(item.get("updated_at")),
        "raw_online_since": raw(item.get("online_since")),
        "raw_retired_on": raw(retired_raw),
    }
    return Record(fields, proc_id, location, named(position, proc_id), content_hash)

