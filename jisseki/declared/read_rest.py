"""A declared REST source: a JSON API read page by page through the one HTTP helper (connectors/http.py),
with the ways of paging dlt's REST client and the Meltano SDK know (spec.Paginator).

A paginator is one small class: the first page to ask for, and from each page's body and records the next one
or None. The reader around them keeps what every API source keeps: a page asked for twice or more than
max_pages pages mean the paging never ends, a body not in the declared shape and an API with no record at all
fail the source, and the token goes only to base_url's origin, in the declared header, never into a message.
"""
from __future__ import annotations

import hashlib
import json
import urllib.parse
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from connectors.errors import SourceFormatError
from connectors.http import HttpClient
from jisseki.core import stopping
from jisseki.core.periods import now_utc
from jisseki.core.records import Bad, Lineage
from jisseki.declared.spec import Column, Paginator, RestSource
from jisseki.declared.values import Row, Window

ABSENT = object()   # a dotted path that leads nowhere in the JSON (JSON null is None)


@dataclass(frozen=True)
class Request:
    """One page to ask for: its query parameters besides the declared constant ones, or for a next link its
    full URL; where its records are ("page 3", "offset 200"); and what identifies it, which must not come
    back (None: nothing to compare, as the first page of a cursor or a link)."""
    params: dict[str, Any]
    location: str
    key: Any = None
    url: str | None = None


def dig(value: Any, path: str) -> Any:
    """The value at a dotted path ("result.items"; "" is the value itself), or ABSENT."""
    if not path:
        return value
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return ABSENT
        value = value[part]
    return value


def counted(value: Any, path: str, where: str) -> int | None:
    """A count the API states at a declared path: a whole number, not negative; None when a page does not say
    (progress then shows no total, and paging goes by the pages themselves)."""
    if value is ABSENT or value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SourceFormatError(f"{where}: {path} が 0 以上の整数ではありません")
    return value


class Pages(ABC):
    """How one API's pages follow each other."""

    def __init__(self, spec: Paginator) -> None:
        self.spec = spec

    @abstractmethod
    def first(self) -> Request:
        """The first page to ask for."""

    @abstractmethod
    def next(self, body: Any, records: list[Any], where: str) -> Request | None:
        """The page after the one just read (its body and records), or None when it was the last."""

    def pages_total(self, body: Any, where: str) -> int | None:
        """How many pages there are, when the API states its record count (for progress)."""
        if not self.spec.total_path:
            return None
        total = counted(dig(body, self.spec.total_path), self.spec.total_path, where)
        return None if total is None else -(-total // self.spec.size)


class Single(Pages):
    def first(self) -> Request:
        return Request({}, "page 1", key=1)

    def next(self, body: Any, records: list[Any], where: str) -> Request | None:
        return None

    def pages_total(self, body: Any, where: str) -> int | None:
        return 1


class PageNumber(Pages):
    """page=1, 2, …: the next number from next_path when the API gives it, else until a page comes short."""

    def first(self) -> Request:
        return self.at(self.spec.first_page)

    def at(self, page: int) -> Request:
        self.page = page
        size = {self.spec.size_param: self.spec.size} if self.spec.size_param else {}
        return Request({self.spec.page_param: page, **size}, f"page {page}", key=page)

    def next(self, body: Any, records: list[Any], where: str) -> Request | None:
        if self.spec.next_path:
            page = dig(body, self.spec.next_path)
            if page is ABSENT or page is None:
                return None
            if isinstance(page, bool) or not isinstance(page, int):
                raise SourceFormatError(f"{where}: {self.spec.next_path} が整数でも null でもありません")
            return self.at(page)
        return None if len(records) < self.spec.size else self.at(self.page + 1)


class Offset(Pages):
    """offset=0, size, 2·size, …: until the first page shorter than size, or the stated total."""

    def first(self) -> Request:
        return self.at(0)

    def at(self, offset: int) -> Request:
        self.offset = offset
        params = {self.spec.offset_param: offset, self.spec.size_param or "limit": self.spec.size}
        return Request(params, f"offset {offset}", key=offset)

    def next(self, body: Any, records: list[Any], where: str) -> Request | None:
        if len(records) < self.spec.size:
            return None
        offset = self.offset + len(records)
        total = counted(dig(body, self.spec.total_path), self.spec.total_path, where) if self.spec.total_path else None
        if total is not None and offset >= total:
            return None
        return self.at(offset)


class Cursor(Pages):
    """The body names the next page by a cursor at next_path (null, absent or "" on the last), sent back as
    cursor_param."""

    def first(self) -> Request:
        self.page = 1
        return Request(self.size(), "page 1")

    def size(self) -> dict[str, Any]:
        return {self.spec.size_param: self.spec.size} if self.spec.size_param else {}

    def next(self, body: Any, records: list[Any], where: str) -> Request | None:
        cursor = dig(body, self.spec.next_path or "")
        if cursor is ABSENT or cursor is None or cursor == "":
            return None
        if isinstance(cursor, bool) or not isinstance(cursor, (str, int)):
            raise SourceFormatError(f"{where}: {self.spec.next_path} が文字列・整数・null のどれでもありません")
        self.page += 1
        return Request({self.spec.cursor_param: cursor, **self.size()}, f"page {self.page}", key=cursor)


class NextLink(Pages):
    """The body holds the next page's URL at next_path (absolute, or relative to the page it is in), which
    says all the next page needs: the declared params go with the first request only. The HTTP client follows
    it only on base_url's origin."""

    def __init__(self, spec: Paginator, start: str) -> None:
        super().__init__(spec)
        self.url = start

    def first(self) -> Request:
        self.page = 1
        return Request({self.spec.size_param: self.spec.size} if self.spec.size_param else {}, "page 1")

    def next(self, body: Any, records: list[Any], where: str) -> Request | None:
        link = dig(body, self.spec.next_path or "")
        if link is ABSENT or link is None or link == "":
            return None
        if not isinstance(link, str):
            raise SourceFormatError(f"{where}: {self.spec.next_path} が URL の文字列でも null でもありません")
        self.url = urllib.parse.urljoin(self.url, link)
        self.page += 1
        return Request({}, f"page {self.page}", key=self.url, url=self.url)


PAGES: dict[str, type[Pages]] = {"single": Single, "page_number": PageNumber, "offset": Offset, "cursor": Cursor}


def paginator(cfg: RestSource, client: HttpClient) -> Pages:
    spec = cfg.paginator   # cursor and next_link have a next_path: the declaration is refused without it
    if spec.type == "next_link":
        return NextLink(spec, client.base_url.rstrip("/") + cfg.path)
    return PAGES[spec.type](spec)


def client_for(cfg: RestSource, secret: str | None) -> HttpClient:
    """The HTTP client for the API; the token in the declared header, or no credentials when there is none."""
    headers = {} if secret is None else {
        cfg.auth_header: f"{cfg.auth_scheme} {secret}" if cfg.auth_scheme else secret}
    return HttpClient(
        base_url=cfg.base_url, headers=headers, verify_tls=cfg.verify_tls, connect_timeout=cfg.connect_timeout,
        read_timeout=cfg.read_timeout, total_timeout=cfg.total_timeout, max_retries=cfg.max_retries,
        backoff_seconds=cfg.backoff_seconds, max_retry_after=cfg.max_retry_after,
        cancel=stopping.current(),   # the run giving up on the source ends a request in flight
    )


def read_rest(cfg: RestSource, lineage: Lineage, window: Window, secret: str | None) -> Iterator[Row | Bad]:
    """Every record of every page as a Row of the declared columns (a record that is not a JSON object as a
    Bad); the window is not used (the API is read whole)."""
    client = client_for(cfg, secret)
    pages = paginator(cfg, client)
    crawled_at = now_utc().isoformat(timespec="seconds")
    identity, seen, read, records = hashlib.sha256(), set(), 0, 0
    request: Request | None = pages.first()
    while request is not None:
        params = {**cfg.params, **request.params}
        if request.url is None:
            where = client.describe(cfg.path, params)
            body = client.get_json(cfg.path, params)
        else:
            where = f"{client.describe(cfg.path)} の {request.location}（前のページのリンク先）"
            body = client.get_json_at(request.url)
        items = dig(body, cfg.records_path)
        if not isinstance(items, list):
            shape = f"{cfg.records_path} がレコードの配列" if cfg.records_path else "応答そのものがレコードの配列"
            raise SourceFormatError(f"{where}: 応答が宣言の形式（{shape}）ではありません")
        read += 1
        lineage.pages_read = read
        total = pages.pages_total(body, where)
        if total is not None:
            lineage.units_total = max(read, total)
        seen.add(request.key)
        following = pages.next(body, items, where)   # before its rows go out: a broken page yields nothing
        if following is not None:
            if following.key is not None and following.key in seen:
                raise SourceFormatError(f"{where}: 次のページに、もう読んだページが指定されています"
                                        "（ページ送りが終わりません）")
            if read >= cfg.max_pages:
                raise SourceFormatError(f"{where}: max_pages の {cfg.max_pages} ページを読んでもページ送りが終わりません",
                                        "ページ送りが正しいかを相手先に確認するか、max_pages を見直してください")
        for index, item in enumerate(items):
            blob = json.dumps(item, sort_keys=True, ensure_ascii=False).encode()
            identity.update(blob)
            yield row(item, cfg.columns, request.location, index, hashlib.sha256(blob).hexdigest())
        records += len(items)
        request = following
    if records == 0 and not cfg.allow_empty:
        raise SourceFormatError(f"{client.describe(cfg.path)}: レコードが 0 件です。API の異常として扱い、取り込みません",
                                "0 件が正しいこともある API なら、このソースに allow_empty = true を書いてください")
    lineage.crawl = {"endpoint": cfg.path, "crawled_at": crawled_at, "pages": read, "records": records,
                     "content_sha256": identity.hexdigest()}


def row(item: Any, columns: dict[str, Column], location: str, index: int, content_hash: str) -> Row | Bad:
    position = f"#{index + 1}"
    if not isinstance(item, dict):
        return Bad(location, position, "not_object", "レコードがJSONオブジェクトではありません",
                   content_hash=content_hash)
    values = {name: dig(item, column.where(name)) for name, column in columns.items()}
    return Row({name: None if value is ABSENT else value for name, value in values.items()}, location, position,
               content_hash)
