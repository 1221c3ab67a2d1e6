"""The demo's two sample APIs on loopback: a fixed list of records, paged as contract 1 or contract 4 says.

Plain on purpose: it answers every good request and refuses a wrong token, path or paging. The tests' API
that scripts faults (status codes, Retry-After, slow or broken bodies, TLS) is tests/sample_api.py.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


@dataclass(frozen=True)
class Contract:
    path: str
    paging: str          # "page": page/per_page from 1 with meta (contract 1); "offset": offset/limit from 0 (contract 4)
    auth_header: str
    auth_prefix: str


PROCEDURES_API = Contract("/v1/procedures", "page", "Authorization", "Bearer ")
NOCODE_API = Contract("/v1/apps", "offset", "X-Api-Token", "")
MAX_PAGE = 100
HOST = "127.0.0.1"   # loopback only: the demo serves nobody else


class DemoApi:
    def __init__(self, records: list[dict[str, Any]], token: str, contract: Contract) -> None:
        self.records, self.token, self.contract = records, token, contract
        self._server = ThreadingHTTPServer((HOST, 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self._server.server_port}"

    def __enter__(self) -> DemoApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, path: str, query: dict[str, str], credential: str | None) -> tuple[int, dict[str, Any]]:
        """(status, JSON body) for one GET."""
        contract = self.contract
        if credential != f"{contract.auth_prefix}{self.token}":
            return 401, {"error": "unauthorized"}
        if path != contract.path:
            return 404, {"error": "not found"}
        by_page = contract.paging == "page"
        first_name, size_name, lowest = ("page", "per_page", 1) if by_page else ("offset", "limit", 0)
        try:
            first, size = int(query.get(first_name, lowest)), int(query.get(size_name, MAX_PAGE))
        except ValueError:
            return 400, {"error": "bad paging"}
        if first < lowest or not 1 <= size <= MAX_PAGE:
            return 400, {"error": "bad paging"}
        if not by_page:
            return 200, {"apps": self.records[first:first + size]}
        start = (first - 1) * size
        more = start + size < len(self.records)
        return 200, {"data": self.records[start:start + size],
                     "meta": {"page": first, "per_page": size, "total": len(self.records),
                              "next_page": first + 1 if more else None}}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep the demo's output to its table
                pass

            def do_GET(self) -> None:
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                status, body = api.answer(url.path, query, self.headers.get(api.contract.auth_header))
                data = json.dumps(body, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
