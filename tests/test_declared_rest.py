"""The declared REST reader against real HTTP servers on loopback: each paginator end to end with the records
counted by hand, the paging that never ends, a next link to another origin, the HTTP policy, the declared
shape, and the token that goes only where it is declared."""
from __future__ import annotations

import contextvars
import hashlib
import json
import threading
from collections.abc import Callable
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from pydantic import ValidationError

from connectors.errors import SourceConfigError, SourceError, SourceFormatError, SourceUnavailable
from jisseki.core import stopping
from jisseki.core.records import Bad, Lineage
from jisseki.declared.read_rest import read_rest
from jisseki.declared.spec import RestSource
from jisseki.declared.values import Row, Window

TOKEN = "rest-T0ken-never-shown"
WINDOW = Window(date(2026, 4, 1), date(2026, 12, 1))
Answer = Callable[[str, dict[str, str]], tuple[int, Any]]


class Api:
    """A JSON API on loopback: `answer(path, query)` gives (status, body); every request is recorded."""

    def __init__(self, answer: Answer) -> None:
        api = self
        self.answer, self.requests = answer, []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = dict(parse_qsl(url.query))
                api.requests.append({"path": url.path, "query": query,
                                     "headers": {k.lower(): v for k, v in self.headers.items()}})
                status, body = api.answer(url.path, query)
                data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> Api:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def records(n: int) -> list[dict[str, Any]]:
    return [{"番号": f"A-{i:03d}", "meta": {"ward": "27102", "updated_at": f"2026-11-{i + 1:02d}"},
             "氏名": "大阪 太郎", "extra": i} for i in range(n)]


def source(base_url: str, **kw: Any) -> RestSource:
    values = {"type": "rest", "title": "テストAPI", "base_url": base_url, "path": "/items", "records_path": "data",
              "columns": {"番号": "text", "区": {"type": "ward", "source": "meta.ward"}, "更新日": "date"},
              "max_retries": 2, "backoff_seconds": 0, "token_env": "T", **kw}
    return RestSource.model_validate(values)


def read(cfg: RestSource, secret: str | None = TOKEN) -> tuple[list[Row | Bad], Lineage]:
    lineage = Lineage()
    return list(read_rest(cfg, lineage, WINDOW, secret)), lineage


def numbers(items: list[Row | Bad]) -> list[str]:
    return [r.values["番号"] for r in items if isinstance(r, Row)]


def hashed(recs: list[Any]) -> str:
    identity = hashlib.sha256()
    for rec in recs:
        identity.update(json.dumps(rec, sort_keys=True, ensure_ascii=False).encode())
    return identity.hexdigest()


def failing(cfg: RestSource, error: type[SourceError], secret: str | None = TOKEN) -> SourceError:
    with pytest.raises(error) as caught:
        read(cfg, secret)
    assert TOKEN not in f"{caught.value} {caught.value.hint}"
    return caught.value


# -- each paginator end to end ------------------------------------------------------------------------------------

def test_page_number_without_next_ends_at_the_first_short_page() -> None:
    recs = records(7)

    def answer(path: str, q: dict[str, str]) -> tuple[int, Any]:
        page, size = int(q["p"]), int(q["per_page"])
        return 200, {"data": recs[(page - 1) * size:page * size]}

    with Api(answer) as api:
        cfg = source(api.base_url, params={"status": "active"},
                     paginator={"type": "page_number", "page_param": "p", "size_param": "per_page", "size": 3})
        items, lineage = read(cfg)
    # 7 records in pages of 3: 3 + 3 + 1, the third page is short and the last.
    assert numbers(items) == [f"A-{i:03d}" for i in range(7)]
    assert [r["query"] for r in api.requests] == [
        {"status": "active", "p": str(p), "per_page": "3"} for p in (1, 2, 3)]
    assert [(r.location, r.item) for r in items][2:4] == [("page 1", "#3"), ("page 2", "#1")]
    assert lineage.pages_read == 3
    assert lineage.crawl["pages"] == 3 and lineage.crawl["records"] == 7 and lineage.crawl["endpoint"] == "/items"
    assert lineage.crawl["content_sha256"] == hashed(recs)
    assert set(lineage.crawl) == {"endpoint", "crawled_at", "pages", "records", "content_sha256"}


def test_page_number_with_a_full_last_page_reads_one_empty_page_more() -> None:
    recs = records(6)
    with Api(lambda path, q: (200, {"data": recs[(int(q["page"]) - 1) * 3:int(q["page"]) * 3]})) as api:
        items, lineage = read(source(api.base_url, paginator={"type": "page_number", "size": 3}))
    # No size_param: the server pages by 3 as declared; pages 1 and 2 are full, page 3 is empty.
    assert len(numbers(items)) == 6 and lineage.crawl["pages"] == 3
    assert [r["query"] for r in api.requests] == [{"page": "1"}, {"page": "2"}, {"page": "3"}]


def test_page_number_follows_next_page_and_takes_the_total_for_progress() -> None:
    recs = records(5)

    def answer(path: str, q: dict[str, str]) -> tuple[int, Any]:
        page = int(q["page"])
        following = page + 1 if (page + 1) * 2 < len(recs) else None
        return 200, {"data": recs[page * 2:page * 2 + 2], "meta": {"next_page": following, "total": 5}}

    with Api(answer) as api:
        cfg = source(api.base_url, paginator={"type": "page_number", "first_page": 0, "size": 2,
                                              "next_path": "meta.next_page", "total_path": "meta.total"})
        items, lineage = read(cfg)
    # Pages 0, 1, 2 hold 2 + 2 + 1 records; the total 5 in pages of 2 is 3 pages.
    assert len(numbers(items)) == 5 and [r["query"]["page"] for r in api.requests] == ["0", "1", "2"]
    assert lineage.units_total == 3 and lineage.crawl["pages"] == 3
    assert items[-1].location == "page 2"


def test_offset_ends_at_the_first_short_page() -> None:
    recs = records(5)

    def answer(path: str, q: dict[str, str]) -> tuple[int, Any]:
        offset, limit = int(q["offset"]), int(q["limit"])
        return 200, {"data": recs[offset:offset + limit]}

    with Api(answer) as api:
        items, lineage = read(source(api.base_url, paginator={"type": "offset", "size": 2}))
    # 5 records by 2: offsets 0, 2, 4, the last holding 1.
    assert numbers(items) == [f"A-{i:03d}" for i in range(5)]
    assert [r["query"] for r in api.requests] == [{"offset": str(o), "limit": "2"} for o in (0, 2, 4)]
    assert [r.location for r in items] == ["offset 0", "offset 0", "offset 2", "offset 2", "offset 4"]
    assert lineage.crawl["pages"] == 3 and lineage.crawl["records"] == 5


def test_offset_stops_at_the_stated_total() -> None:
    recs = records(4)

    def answer(path: str, q: dict[str, str]) -> tuple[int, Any]:
        start, size = int(q["skip"]), int(q["top"])
        return 200, {"data": recs[start:start + size], "count": 4}

    with Api(answer) as api:
        cfg = source(api.base_url, paginator={"type": "offset", "offset_param": "skip", "size_param": "top",
                                              "size": 2, "total_path": "count"})
        items, lineage = read(cfg)
    # Two full pages reach the total of 4: no third request for an empty page.
    assert len(numbers(items)) == 4 and len(api.requests) == 2 and lineage.units_total == 2


def test_cursor_follows_the_cursor_until_null() -> None:
    recs = records(5)
    pages = {"": (recs[0:2], "c2"), "c2": (recs[2:4], "c3"), "c3": (recs[4:], None)}

    def answer(path: str, q: dict[str, str]) -> tuple[int, Any]:
        data, cursor = pages[q.get("after", "")]
        return 200, {"result": {"items": data}, "paging": {"next": cursor}}

    with Api(answer) as api:
        cfg = source(api.base_url, records_path="result.items",
                     paginator={"type": "cursor", "next_path": "paging.next", "cursor_param": "after"})
        items, lineage = read(cfg)
    assert numbers(items) == [f"A-{i:03d}" for i in range(5)]
    assert [r["query"] for r in api.requests] == [{}, {"after": "c2"}, {"after": "c3"}]
    assert [r.location for r in items][::2] == ["page 1", "page 2", "page 3"]
    assert lineage.crawl["pages"] == 3 and lineage.units_total is None


@pytest.mark.parametrize("last", [None, "", "absent"])
def test_cursor_ends_on_null_empty_or_absent(last: Any) -> None:
    def answer(path: str, q: dict[str, str]) -> tuple[int, Any]:
        if "cursor" not in q:
            return 200, {"data": records(1), "next": "x"}
        return 200, {"data": records(1)} if last == "absent" else {"data": records(1), "next": last}

    with Api(answer) as api:
        items, _ = read(source(api.base_url, paginator={"type": "cursor", "next_path": "next"}))
    assert len(items) == 2 and len(api.requests) == 2


def test_next_link_follows_relative_and_absolute_links_on_the_same_origin() -> None:
    recs = records(5)
    links: dict[str, Any] = {}

    def answer(path: str, q: dict[str, str]) -> tuple[int, Any]:
        page = int(q.get("page", "1"))
        return 200, {"data": recs[(page - 1) * 2:page * 2], "links": {"next": links.get(page)}}

    with Api(answer) as api:
        links.update({1: "?page=2", 2: f"{api.base_url}/items?page=3", 3: None})
        items, lineage = read(source(api.base_url, paginator={"type": "next_link", "next_path": "links.next"}))
    assert numbers(items) == [f"A-{i:03d}" for i in range(5)]
    assert [(r["path"], r["query"]) for r in api.requests] == [
        ("/items", {}), ("/items", {"page": "2"}), ("/items", {"page": "3"})]
    assert all(r["headers"]["authorization"] == f"Bearer {TOKEN}" for r in api.requests)
    assert lineage.crawl["pages"] == 3 and items[-1].location == "page 3"


def test_single_reads_one_page_whose_body_is_the_list() -> None:
    body = records(2) + [["not", "an", "object"]]
    with Api(lambda path, q: (200, body)) as api:
        items, lineage = read(source(api.base_url, records_path=""))
    assert len(api.requests) == 1 and lineage.units_total == 1 and lineage.crawl["records"] == 3
    bad = items[2]
    assert isinstance(bad, Bad) and (bad.location, bad.item, bad.code, bad.rows) == ("page 1", "#3", "not_object", 1)
    assert bad.reason == "レコードがJSONオブジェクトではありません" and bad.value == ""
    assert bad.content_hash == hashlib.sha256(json.dumps(body[2]).encode()).hexdigest()


def test_rows_keep_only_the_declared_columns_by_their_paths() -> None:
    recs = [{"番号": "A-1", "meta": {"ward": "27102", "updated_at": "2026-11-01"}, "氏名": "大阪 太郎",
             "更新日": {"y": 2026}},
            {"meta": "flat", "氏名": "大阪 花子"}]
    with Api(lambda path, q: (200, {"data": recs})) as api:
        items, _ = read(source(api.base_url))
    first, second = items
    # Every declared column and nothing else; a dict is passed as it is (typing is not the reader's job).
    assert first.values == {"番号": "A-1", "区": "27102", "更新日": {"y": 2026}}
    assert second.values == {"番号": None, "区": None, "更新日": None}
    assert "大阪" not in repr(items)
    assert first.content_hash == hashlib.sha256(
        json.dumps(recs[0], sort_keys=True, ensure_ascii=False).encode()).hexdigest()


# -- paging that never ends ---------------------------------------------------------------------------------------

def test_a_looping_cursor_fails_the_source() -> None:
    following = {"": "a", "a": "b", "b": "a"}
    with Api(lambda path, q: (200, {"data": records(1), "next": following[q.get("cursor", "")]})) as api:
        error = failing(source(api.base_url, paginator={"type": "cursor", "next_path": "next"}), SourceFormatError)
    assert "ページ送りが終わりません" in str(error) and f"{api.base_url}/items?cursor=b" in str(error)
    assert len(api.requests) == 3


def test_a_cursor_repeating_itself_fails_at_once() -> None:
    with Api(lambda path, q: (200, {"data": records(1), "next": "same"})) as api:
        failing(source(api.base_url, paginator={"type": "cursor", "next_path": "next"}), SourceFormatError)
    assert len(api.requests) == 2


def test_a_next_page_already_read_fails_the_source() -> None:
    with Api(lambda path, q: (200, {"data": records(1), "meta": {"next_page": 1}})) as api:
        cfg = source(api.base_url, paginator={"type": "page_number", "next_path": "meta.next_page"})
        error = failing(cfg, SourceFormatError)
    assert f"{api.base_url}/items?page=1" in str(error) and len(api.requests) == 1


def test_a_next_link_to_the_page_itself_fails_the_source() -> None:
    with Api(lambda path, q: (200, {"data": records(1), "next": "/items?page=2"})) as api:
        failing(source(api.base_url, paginator={"type": "next_link", "next_path": "next"}), SourceFormatError)
    assert len(api.requests) == 2


def test_max_pages_bounds_the_paging() -> None:
    with Api(lambda path, q: (200, {"data": records(2)})) as api:
        error = failing(source(api.base_url, max_pages=3, paginator={"type": "page_number", "size": 2}),
                        SourceFormatError)
    assert "max_pages の 3 ページ" in str(error) and len(api.requests) == 3


# -- the token stays with its origin ------------------------------------------------------------------------------

def test_a_next_link_to_another_origin_is_refused_and_never_contacted() -> None:
    with Api(lambda path, q: (200, {"data": records(1)})) as other:
        with Api(lambda path, q: (200, {"data": records(1), "next": f"{other.base_url}/items?page=2"})) as api:
            error = failing(source(api.base_url, paginator={"type": "next_link", "next_path": "next"}),
                            SourceConfigError)
    assert other.requests == [] and len(api.requests) == 1
    assert f"GET {other.base_url}/items:" in str(error) and "別の接続先" in str(error)


@pytest.mark.parametrize("link", ["https://127.0.0.1:{port}/items?page=2", "//localhost:{port}/items",
                                  "http://user:pw@127.0.0.1:{port}/items"])
def test_a_next_link_to_another_scheme_or_host_or_with_user_info_is_refused(link: str) -> None:
    port: list[int] = []
    with Api(lambda path, q: (200, {"data": records(1), "next": link.format(port=port[0])})) as api:
        port.append(int(api.base_url.rsplit(":", 1)[1]))
        error = failing(source(api.base_url, paginator={"type": "next_link", "next_path": "next"}),
                        SourceConfigError)
    assert len(api.requests) == 1 and "pw" not in str(error)


def test_the_token_goes_only_in_the_declared_header() -> None:
    with Api(lambda path, q: (200, {"data": records(1)})) as api:
        read(source(api.base_url, auth_header="X-Api-Token", auth_scheme=""))
        read(source(api.base_url))
        read(source(api.base_url, auth="none", token_env=None), secret=None)
    alone, bearer, none = (r["headers"] for r in api.requests)
    assert alone["x-api-token"] == TOKEN and "authorization" not in alone
    assert bearer["authorization"] == f"Bearer {TOKEN}" and "x-api-token" not in bearer
    assert "authorization" not in none and TOKEN not in json.dumps(none)
    assert all(TOKEN not in json.dumps(r["query"]) for r in api.requests)


# -- the HTTP policy ----------------------------------------------------------------------------------------------

def test_401_fails_at_once() -> None:
    with Api(lambda path, q: (401, {"error": "unauthorized"})) as api:
        error = failing(source(api.base_url), SourceConfigError)
    assert len(api.requests) == 1 and "HTTP 401" in str(error) and f"{api.base_url}/items" in str(error)


def test_503_then_200_is_retried() -> None:
    answers = iter([(503, b"busy"), (200, {"data": records(2)})])
    with Api(lambda path, q: next(answers)) as api:
        items, lineage = read(source(api.base_url))
    assert len(api.requests) == 2 and len(numbers(items)) == 2 and lineage.crawl["pages"] == 1


def test_the_run_giving_up_on_the_source_ends_the_read() -> None:
    stop = threading.Event()
    stop.set()

    def stopped() -> None:   # in a context of its own, as the flow runs each source
        stopping.install(stop)
        failing(source(api.base_url), SourceUnavailable)

    with Api(lambda path, q: (200, {"data": records(1)})) as api:
        contextvars.copy_context().run(stopped)
    assert api.requests == []


# -- the declared shape -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [{"items": []}, [{"番号": "A"}], {"data": {"番号": "A"}}, b"<html>"])
def test_a_body_not_in_the_declared_shape_fails_naming_the_request(body: Any) -> None:
    with Api(lambda path, q: (200, body)) as api:
        error = failing(source(api.base_url, params={"kind": "x"}), SourceFormatError)
    assert f"GET {api.base_url}/items?kind=x" in str(error)


def test_a_next_page_that_is_not_a_number_fails() -> None:
    with Api(lambda path, q: (200, {"data": records(1), "meta": {"next_page": "2"}})) as api:
        cfg = source(api.base_url, paginator={"type": "page_number", "next_path": "meta.next_page"})
        items: list[Row | Bad] = []
        with pytest.raises(SourceFormatError, match="meta.next_page"):
            items.extend(read_rest(cfg, Lineage(), WINDOW, TOKEN))
    assert items == []   # the broken page's rows never went out


def test_a_stated_total_that_is_not_a_count_fails() -> None:
    with Api(lambda path, q: (200, {"data": records(2), "total": "many"})) as api:
        cfg = source(api.base_url, paginator={"type": "offset", "size": 2, "total_path": "total"})
        failing(cfg, SourceFormatError)


def test_no_record_at_all_fails_unless_allowed() -> None:
    with Api(lambda path, q: (200, {"data": []})) as api:
        error = failing(source(api.base_url), SourceFormatError)
        items, lineage = read(source(api.base_url, allow_empty=True))
    assert "0 件" in str(error) and "allow_empty" in error.hint
    assert items == [] and lineage.crawl["records"] == 0 and lineage.crawl["pages"] == 1


def test_a_token_is_named_unless_the_api_needs_none() -> None:
    with pytest.raises(ValidationError, match="auth = \"none\""):
        source("http://127.0.0.1:9", token_env=None)
    with pytest.raises(ValidationError, match="書けません"):
        source("http://127.0.0.1:9", auth="none")
    assert source("http://127.0.0.1:9", auth="none", token_env=None).token_env is None


@pytest.mark.parametrize("kind", ["cursor", "next_link"])
def test_a_cursor_or_next_link_without_next_path_is_refused_when_the_config_is_read(kind: str) -> None:
    with pytest.raises(ValidationError, match="next_path"):
        source("http://127.0.0.1:9", paginator={"type": kind})
