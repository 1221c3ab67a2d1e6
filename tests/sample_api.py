"""A local catalog API for tests, speaking contract 1 or 4 (real HTTP on loopback, HTTPS on request).

Tests script faults (status codes, Retry-After, slow or broken bodies) ahead of the normal answers and read
the requests it got. The demo's own sample API, which only answers, is jisseki/demo/api.py.
"""
from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

HOST = "127.0.0.1"   # loopback only: the demo and the tests reach it from this machine


@dataclass
class Reply:
    status: int = 200
    body: bytes | None = None          # None: the normal page
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0                 # seconds before answering
    trickle: float = 0.0               # seconds between bytes of the body


class SampleApi:
    """Contract 1 by default (page/per_page, Bearer token); `SampleApi.nocode(...)` speaks contract 4."""

    def __init__(self, records: list[dict[str, Any]], token: str, path: str = "/v1/procedures",
                 paging: str = "page", auth_header: str = "Authorization", auth_prefix: str = "Bearer ",
                 tls: tuple[str, str] | None = None) -> None:
        self.records, self.token, self.path = records, token, path
        self.paging, self.auth_header, self.auth_prefix = paging, auth_header, auth_prefix
        self.script: deque[Reply] = deque()
        self.requests: list[dict[str, Any]] = []
        self._server = ThreadingHTTPServer((HOST, 0), self._handler())
        self._server.daemon_threads = True
        self._server.block_on_close = False  # a test that gave up on a slow reply must not wait for it
        self.scheme = "http"
        if tls is not None:  # (certificate file, key file): serve HTTPS
            import ssl

            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        # Polls for shutdown every 10 ms: stopping waits up to one poll, and the tests stop hundreds of these.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.01,), daemon=True)

    @classmethod
    def nocode(cls, records: list[dict[str, Any]], token: str) -> SampleApi:
        return cls(records, token, path="/v1/apps", paging="offset", auth_header="X-Api-Token", auth_prefix="")

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{HOST}:{self._server.server_port}"

    def __enter__(self) -> SampleApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def offset_page(self, offset: int, limit: int) -> dict[str, Any]:
        return {"apps": self.records[offset:offset + limit]}

    def page(self, page: int, per_page: int) -> dict[str, Any]:
        start = (page - 1) * per_page
        data = self.records[start:start + per_page]
        more = start + per_page < len(self.records)
        return {"data": data, "meta": {"page": page, "per_page": per_page, "total": len(self.records),
                                       "next_page": page + 1 if more else None}}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                api.requests.append({"path": url.path, "query": query,
                                     "authorization": self.headers.get(api.auth_header)})
                reply = api.script.popleft() if api.script else Reply()
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.status == 200 and reply.body is None:
                    reply = api._normal(url.path, query, self.headers.get(api.auth_header))
                self._send(reply)

            def _send(self, reply: Reply) -> None:
                body = reply.body if reply.body is not None else b""
                self.send_response(reply.status)
                for name, value in {"Content-Type": "application/json", **reply.headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    if reply.trickle:
                        for i in range(len(body)):
                            self.wfile.write(body[i:i + 1])
                            self.wfile.flush()
                            time.sleep(reply.trickle)
                    else:
                        self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler

    def _normal(self, path: str, query: dict[str, str], credential: str | None) -> Reply:
        if credential != f"{self.auth_prefix}{self.token}":
            return Reply(401, json.dumps({"error": "unauthorized"}).encode())
        if path != self.path:
            return Reply(404, b'{"error": "not found"}')
        names = ("page", "per_page") if self.paging == "page" else ("offset", "limit")
        try:
            first, size = (int(query.get(names[0], "1" if self.paging == "page" else "0")),
                           int(query.get(names[1], "100")))
        except ValueError:
            return Reply(400, b'{"error": "bad paging"}')
        if first < (1 if self.paging == "page" else 0) or not 1 <= size <= 100:
            return Reply(400, b'{"error": "bad paging"}')
        body = self.page(first, size) if self.paging == "page" else self.offset_page(first, size)
        return Reply(200, json.dumps(body, ensure_ascii=False).encode())
