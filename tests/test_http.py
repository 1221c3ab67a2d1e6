"""The shared HTTP helper against a real server on loopback: the error policy table in action."""
from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from connectors.errors import (
    SourceConfigError,
    SourceError,
    SourceFormatError,
    SourceUnavailable,
)
from connectors.http import CANCEL_POLL_SECONDS, Action, HttpClient, action_for, parse_retry_after
from tests.sample_api import Reply, SampleApi

TOKEN = "t0ken-Sekret-123"
RECORDS = [{"id": f"PROC-{i:06d}"} for i in range(5)]


@pytest.fixture
def api():
    with SampleApi(RECORDS, TOKEN) as server:
        yield server


def client(api: SampleApi, waits: list[float], **kw) -> HttpClient:
    kw.setdefault("max_retries", 3)
    return HttpClient(api.base_url, headers={"Authorization": f"Bearer {TOKEN}"}, sleep=waits.append,
                      backoff_seconds=0.5, **kw)


def get(c: HttpClient):
    return c.get_json("/v1/procedures", {"page": 1, "per_page": 2})


def test_policy_table() -> None:
    assert action_for(401) is Action.FAIL_CONFIG and action_for(403) is Action.FAIL_CONFIG
    assert action_for(429) is Action.RETRY_AFTER
    assert all(action_for(s) is Action.RETRY for s in (500, 502, 503, 504, 599))
    assert action_for(400) is Action.FAIL and action_for(418) is Action.FAIL
    assert all(action_for(s) is Action.REDIRECT for s in (300, 301, 302, 303, 307, 308))


def test_success_sends_the_token_and_decodes(api) -> None:
    body = get(client(api, []))
    assert [r["id"] for r in body["data"]] == ["PROC-000000", "PROC-000001"]
    assert api.requests[0]["authorization"] == f"Bearer {TOKEN}"
    assert api.requests[0]["query"] == {"page": "1", "per_page": "2"}


def test_401_fails_at_once_without_retry_and_without_the_token(api) -> None:
    waits: list[float] = []
    bad = HttpClient(api.base_url, headers={"Authorization": "Bearer wrong-Sekret"}, sleep=waits.append)
    with pytest.raises(SourceConfigError) as err:
        get(bad)
    assert len(api.requests) == 1 and waits == []
    assert "401" in str(err.value) and "Sekret" not in str(err.value)


def test_403_fails_at_once(api) -> None:
    api.script.append(Reply(403, b"{}"))
    with pytest.raises(SourceConfigError):
        get(client(api, []))
    assert len(api.requests) == 1


def test_429_waits_as_retry_after_says(api) -> None:
    api.script.extend([Reply(429, b"{}", {"Retry-After": "7"}), Reply(429, b"{}", {"Retry-After": "2"})])
    waits: list[float] = []
    assert get(client(api, waits))["meta"]["total"] == 5
    assert waits == [7.0, 2.0] and len(api.requests) == 3


def test_429_with_an_absurd_retry_after_fails_transiently(api) -> None:
    api.script.append(Reply(429, b"{}", {"Retry-After": "86400"}))
    with pytest.raises(SourceUnavailable, match="Retry-After"):
        get(client(api, [], max_retry_after=60))


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_backs_off_then_recovers(api, status: int) -> None:
    api.script.extend([Reply(status, b"oops"), Reply(status, b"oops")])
    waits: list[float] = []
    assert get(client(api, waits))["data"]
    assert waits == [0.5, 1.0]


def test_5xx_that_persists_fails_the_source_after_the_retries(api) -> None:
    api.script.extend([Reply(503, b"down")] * 4)
    waits: list[float] = []
    with pytest.raises(SourceUnavailable, match="503"):
        get(client(api, waits, max_retries=3))
    assert len(api.requests) == 4 and waits == [0.5, 1.0, 2.0]


def test_400_is_not_retried(api) -> None:
    api.script.append(Reply(400, b"{}"))
    with pytest.raises(SourceError):
        get(client(api, []))
    assert len(api.requests) == 1


@pytest.mark.parametrize("body", [b"<html>maintenance</html>", b'{"data": [', b"\xff\xfe\x00"])
def test_a_body_that_is_not_json_fails_clearly(api, body: bytes) -> None:
    api.script.append(Reply(200, body))
    with pytest.raises(SourceFormatError, match="JSON"):
        get(client(api, []))


def test_connection_refused_is_retried_then_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    waits: list[float] = []
    c = HttpClient(f"http://127.0.0.1:{port}", sleep=waits.append, max_retries=2, backoff_seconds=0.1)
    with pytest.raises(SourceUnavailable, match="接続できません"):
        c.get_json("/v1/procedures", {})
    assert waits == [0.1, 0.2]


def test_a_server_that_does_not_answer_times_out(api) -> None:
    api.script.extend([Reply(200, delay=1.5)])
    waits: list[float] = []
    c = client(api, waits, read_timeout=0.3, max_retries=1)
    assert get(c)["data"]  # first attempt times out, second is answered
    assert waits == [0.5]


def test_a_trickling_body_hits_the_total_deadline(api) -> None:
    api.script.extend([Reply(200, b'{"data": [], "meta": {}}' * 2, trickle=0.05)] * 2)   # 2.4 s a body
    c = client(api, [], read_timeout=2, total_timeout=0.2, max_retries=1)
    with pytest.raises(SourceUnavailable):
        get(c)


def test_retry_after_as_http_date() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("soon") is None


class Recorder:
    """A second host (another port: another origin) that records every header it is sent."""

    def __init__(self) -> None:
        recorder = self
        self.headers: list[dict[str, str]] = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                recorder.headers.append({k.lower(): v for k, v in self.headers.items()})
                body = json.dumps({"data": [{"id": "OTHER-HOST"}], "meta": {"next_page": None}}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        # Stopping waits up to one poll for shutdown: 10 ms, not the default half second.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.01,), daemon=True)

    def __enter__(self) -> Recorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class RawServer:
    """Accepts connections and runs `behave(connection)` on each: a server that misbehaves below HTTP.
    `connected` is set once a connection is accepted; `ended` when the client shut the connection down (a send
    failed or a read saw the end)."""

    def __init__(self, behave: Callable[[socket.socket, threading.Event], None]) -> None:
        self.behave, self.connected, self.ended, self.accepted = behave, threading.Event(), threading.Event(), 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._stop = threading.Event()

    def __enter__(self) -> RawServer:
        threading.Thread(target=self._serve, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.accepted += 1
            self.connected.set()
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            try:
                self.behave(conn, self._stop)
            except OSError:
                pass
            self.ended.set()


def trickle_headers(conn: socket.socket, stop: threading.Event) -> None:
    """A status line, then one header byte every 0.05 s, for ever: every read gets a byte in time."""
    conn.recv(65536)
    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    while not stop.is_set():
        conn.sendall(b"a")
        time.sleep(0.05)


def silent(conn: socket.socket, stop: threading.Event) -> None:
    """Reads the request and never answers; returns when the client shuts the connection down."""
    conn.recv(65536)
    while not stop.is_set() and conn.recv(65536):
        pass


CREDENTIALS = [("Authorization", f"Bearer {TOKEN}"), ("X-Api-Token", TOKEN)]


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("header, value", CREDENTIALS)
def test_a_redirect_to_another_origin_is_not_followed_and_sends_it_nothing(header, value, status) -> None:
    with Recorder() as other, SampleApi(RECORDS, TOKEN, auth_header=header, auth_prefix=value[:-len(TOKEN)]) as api:
        api.script.append(Reply(status, b"", {"Location": f"{other.base_url}/v1/procedures?key=q-Sekret#frag"}))
        waits: list[float] = []
        c = HttpClient(api.base_url, headers={header: value}, sleep=waits.append)
        with pytest.raises(SourceConfigError) as err:
            get(c)
    assert other.headers == []   # not a request, so not a header, reached the other host
    assert len(api.requests) == 1 and waits == []   # refused at once: retrying will not help
    message = str(err.value)
    assert f"{api.base_url}/v1/procedures" in message and f"{other.base_url}/v1/procedures " in message
    assert "別の接続先" in message and "base_url を転送先に直す" in message
    assert "Sekret" not in message and "key=" not in message and "frag" not in message


def test_a_redirect_on_the_same_origin_is_refused_too(api) -> None:
    api.script.append(Reply(302, b"", {"Location": "/v2/procedures?page=1"}))
    with pytest.raises(SourceConfigError) as err:
        get(client(api, []))
    assert len(api.requests) == 1
    assert f"同じ接続先の {api.base_url}/v2/procedures へ" in str(err.value)


@pytest.mark.parametrize("location, says", [(None, "Location）がありません"), ("http://h:port/x", "解釈できない")])
def test_a_redirect_without_a_usable_location_is_refused_clearly(api, location, says) -> None:
    api.script.append(Reply(302, b"", {"Location": location} if location else {}))
    with pytest.raises(SourceConfigError, match=says):
        get(client(api, []))


def test_user_info_in_a_redirect_target_is_not_repeated(api) -> None:
    api.script.append(Reply(307, b"", {"Location": "https://user:pw-Sekret@example.invalid:8443/v1/p?t=1"}))
    with pytest.raises(SourceConfigError) as err:
        get(client(api, []))
    assert "https://example.invalid:8443/v1/p " in str(err.value) and "Sekret" not in str(err.value)


def test_trickling_headers_are_cut_at_the_total_timeout() -> None:
    with RawServer(trickle_headers) as server:
        c = HttpClient(server.base_url, headers={"X-Api-Token": TOKEN}, read_timeout=5, total_timeout=0.3,
                       max_retries=0)
        started = time.monotonic()
        with pytest.raises(SourceUnavailable, match="0.3秒以内に応答が終わりません") as err:
            get(c)
        assert time.monotonic() - started < 0.3 + 0.5
        assert server.ended.wait(2)   # the socket was shut down: the server is not kept sending for ever
    assert TOKEN not in str(err.value)


def test_a_connect_that_stalls_is_cut_at_the_total_timeout() -> None:
    """A listener whose queue is full drops the SYN: connect waits, well past total_timeout if let."""
    with socket.socket() as listener, contextlib.ExitStack() as queued:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        try:
            for _ in range(8):
                sock = queued.enter_context(socket.socket())
                sock.settimeout(0.1)   # a loopback connect the queue takes completes in the kernel, at once
                sock.connect(("127.0.0.1", port))
            pytest.skip("this kernel does not stall a connect to a full listen queue")
        except TimeoutError:
            pass
        c = HttpClient(f"http://127.0.0.1:{port}", connect_timeout=30, total_timeout=0.3, max_retries=0)
        started = time.monotonic()
        with pytest.raises(SourceUnavailable, match="0.3秒以内"):
            get(c)
        assert time.monotonic() - started < 0.3 + 0.5


def test_a_server_that_accepts_and_never_answers_is_bounded_by_the_total_timeout_on_every_attempt() -> None:
    with RawServer(silent) as server:
        c = HttpClient(server.base_url, read_timeout=30, total_timeout=0.2, max_retries=2, backoff_seconds=0.05,
                       max_retry_after=0)
        started = time.monotonic()
        with pytest.raises(SourceUnavailable, match="3回試行"):
            get(c)
        elapsed = time.monotonic() - started
        assert server.accepted == 3 and server.ended.wait(2)
    # All attempts and waits: 3 × (0.2 + a poll) + 0.05 + 0.1, as worst_case_seconds() says.
    assert c.worst_case_seconds() == pytest.approx(3 * (0.2 + CANCEL_POLL_SECONDS) + 0.05 + 0.1)
    assert 3 * 0.2 + 0.15 <= elapsed < c.worst_case_seconds() + 1.0


def test_worst_case_counts_the_longest_retry_after_and_caps_the_backoff() -> None:
    c = HttpClient("http://127.0.0.1:9", total_timeout=10, max_retries=20, backoff_seconds=1, max_retry_after=120)
    waits = [max(min(2 ** a, 300), 120) for a in range(20)]
    assert c.worst_case_seconds() == pytest.approx(21 * (10 + CANCEL_POLL_SECONDS) + sum(waits))


def test_cancel_aborts_a_blocked_request_within_a_second() -> None:
    cancel, set_at = threading.Event(), []
    with RawServer(silent) as server:
        c = HttpClient(server.base_url, headers={"Authorization": f"Bearer {TOKEN}"}, read_timeout=60,
                       total_timeout=60, cancel=cancel)

        def cancel_while_blocked() -> None:
            server.connected.wait(5)
            time.sleep(0.1)   # the request is sent and its answer awaited
            set_at.append(time.monotonic())
            cancel.set()

        threading.Thread(target=cancel_while_blocked, daemon=True).start()
        with pytest.raises(SourceUnavailable, match="打ち切りました") as err:
            get(c)
        assert time.monotonic() - set_at[0] < 1.0
        assert server.ended.wait(1)   # the server saw its connection shut down: the worker is not left hanging
        with pytest.raises(SourceUnavailable, match="打ち切りました"):
            get(c)   # a later page is not even asked for
        assert server.accepted == 1
    assert TOKEN not in str(err.value) and "次回の実行" in str(err.value)


def test_cancel_ends_a_wait_between_attempts(api) -> None:
    api.script.append(Reply(503, b"down"))
    cancel = threading.Event()
    c = HttpClient(api.base_url, headers={"Authorization": f"Bearer {TOKEN}"}, backoff_seconds=60, cancel=cancel)
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(SourceUnavailable, match="打ち切りました"):
        get(c)
    assert time.monotonic() - started < 1.0 and len(api.requests) == 1


def test_a_body_cut_short_is_retried() -> None:
    bodies = [b'{"data": [', json.dumps({"data": RECORDS}).encode()]

    def answer(conn: socket.socket, stop: threading.Event) -> None:
        conn.recv(65536)
        body = bodies.pop(0)
        promised = 500 if bodies else len(body)   # the first answer promises more than it sends, then closes
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {promised}\r\n\r\n".encode() + body)

    waits: list[float] = []
    with RawServer(answer) as server:
        c = HttpClient(server.base_url, sleep=waits.append, backoff_seconds=0.5)
        assert len(get(c)["data"]) == 5
    assert waits == [0.5]


def test_an_answer_that_is_not_proper_http_fails_clearly() -> None:
    def answer(conn: socket.socket, stop: threading.Event) -> None:
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 9\r\n\r\n{}")

    with RawServer(answer) as server:
        with pytest.raises(SourceFormatError, match="HTTP として読めません"):
            get(HttpClient(server.base_url, headers={"X-Api-Token": TOKEN}, sleep=[].append))
        assert server.accepted == 1


@pytest.mark.parametrize("base_url", ["127.0.0.1:8081", "ftp://127.0.0.1", "http://"])
def test_a_base_url_that_is_not_an_http_url_is_a_config_error(base_url: str) -> None:
    with pytest.raises(SourceConfigError, match="base_url"):
        get(HttpClient(base_url, sleep=[].append))