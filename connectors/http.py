"""The one HTTP helper every API connector uses: timeouts, retries, Retry-After, secret-safe errors.

The error policy is a table (status -> action), as in Airbyte's CDK, so a reader sees every
decision in one place instead of in scattered ifs.

Credentials stay with their host: redirects are never followed (requests would drop Authorization on
another host but send any other header, such as X-Api-Token, to it), and a 3xx fails the source at once.

Deadlines hold: each request runs in a worker thread that the caller waits for at most total_timeout,
connect, TLS, status line, headers and body included. At the deadline, or when `cancel` is set, the
request's socket is shut down (which wakes a read blocked in the worker) and the caller goes on at once.
"""
from __future__ import annotations

import email.utils
import enum
import json
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timezone
from typing import Any

import requests
import requests.adapters
import urllib3.connection
import urllib3.connectionpool

from connectors.errors import SourceConfigError, SourceError, SourceFormatError, SourceUnavailable
from jisseki.core.periods import now_utc


class Action(enum.Enum):
    RETRY = "retry"              # transient: back off and try again
    RETRY_AFTER = "retry_after"  # transient: wait as the server says, then try again
    FAIL_CONFIG = "fail_config"  # credentials or settings: fail at once
    REDIRECT = "redirect"        # the API moved: fail at once, nothing is sent to the new address
    FAIL = "fail"                # anything else unexpected: fail at once


ERROR_POLICY: Mapping[int, Action] = {
    401: Action.FAIL_CONFIG,
    403: Action.FAIL_CONFIG,
    404: Action.FAIL_CONFIG,
    408: Action.RETRY,
    429: Action.RETRY_AFTER,
    500: Action.RETRY,
    502: Action.RETRY,
    503: Action.RETRY,
    504: Action.RETRY,
}
# What an operator does about a status that fails at once.
CONFIG_HINTS: Mapping[int, str] = {
    401: "トークンが正しいか（token_env の環境変数、または token_secret の Secret ブロック）を確認してください",
    403: "トークンにこの API を読む権限があるかを相手先に確認してください",
    404: "base_url が正しいかを確認してください",
}
LINK_HINT = ("API が返す次のページのリンクが base_url と同じ接続先（スキーム・ホスト・ポート）を指すよう、"
             "base_url か相手先の設定を確認してください")
REDIRECT_HINT = "base_url を転送先に直すか、転送の理由を相手先に確認してください"
CANCEL_HINT = "打ち切られた理由（実行の期限か停止の指示）をフローのログで確認してください。次回の実行で取り込まれます"
DEFAULT_5XX = Action.RETRY
DEFAULT_OTHER = Action.FAIL
MAX_BODY_BYTES = 50 * 1024 * 1024
# A misconfigured max_retries must not turn the exponential backoff into days of waiting.
MAX_BACKOFF_SECONDS = 300.0
# How often a waiting caller looks at `cancel`: a cancelled request ends within this.
CANCEL_POLL_SECONDS = 0.05


def action_for(status: int) -> Action:
    if status in ERROR_POLICY:
        return ERROR_POLICY[status]
    if 300 <= status < 400:
        return Action.REDIRECT
    return DEFAULT_5XX if 500 <= status < 600 else DEFAULT_OTHER


@dataclass
class HttpClient:
    """GET JSON from one API; `headers` (the credentials) go to base_url's origin only, as no redirect
    is followed, and never into a message.

    Bounds, in seconds: each attempt ends within total_timeout (connect, TLS, headers and body included);
    the whole get_json within `worst_case_seconds()` (all attempts and the waits between them).

    `cancel` is for the caller's own deadline or a stop signal: set it from any thread, and a get_json in
    flight ends within CANCEL_POLL_SECONDS (its socket shut down), as does a wait between attempts; every
    later get_json fails at once. Either ends in SourceUnavailable (the next run may succeed).
    """
    base_url: str
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    verify_tls: bool = True
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    total_timeout: float = 120.0
    max_retries: int = 4
    backoff_seconds: float = 1.0
    max_retry_after: float = 120.0
    sleep: Callable[[float], None] | None = None   # None: wait on `cancel`, so that a cancel ends the wait
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    session: requests.Session = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.session = requests.Session()
        adapter = _WatchedAdapter()
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def get_json(self, path: str, params: Mapping[str, Any]) -> Any:
        """GET base_url+path and decode JSON, retrying per ERROR_POLICY."""
        return self._get_json(self.base_url.rstrip("/") + path, params, self.describe(path, params), path)

    def get_json_at(self, url: str) -> Any:
        """GET a full URL (an API's link to its next page; relative ones against base_url) as get_json does,
        but only on base_url's own origin: the headers (the credentials) go nowhere else, so a link to another
        scheme, host or port, or one with user info, fails before anything is sent."""
        target = urllib.parse.urljoin(self.base_url, url)
        base = urllib.parse.urlsplit(self.base_url)
        try:
            parts = urllib.parse.urlsplit(target)
            same = _origin_key(parts) == _origin_key(base)
        except ValueError:   # a port that is not a number
            raise SourceConfigError(f"{self.describe('')}: 次のページのリンクを URL として解釈できません"
                                    "（辿らず、何も送っていません）", LINK_HINT) from None
        where = f"GET {origin(parts)}{parts.path}"   # its query is the API's (a signed link): not shown
        if not same:
            raise SourceConfigError(f"{where}: 次のページのリンクが base_url（{origin(base)}）と別の接続先を指しています"
                                    "（認証情報を渡さないため、辿らず何も送っていません）", LINK_HINT)
        if parts.username is not None or parts.password is not None:
            raise SourceConfigError(f"{where}: 次のページのリンクにユーザー情報が含まれています"
                                    "（辿らず、何も送っていません）", LINK_HINT)
        return self._get_json(target, {}, where, parts.path)

    def _get_json(self, url: str, params: Mapping[str, Any], where: str, path: str) -> Any:
        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            try:
                status, body, headers = self._attempt(url, params, where, path)
            except requests.exceptions.SSLError:
                # A certificate that does not verify will not verify on retry either.
                raise SourceConfigError(f"{where}: TLS証明書を検証できません",
                                        "相手の証明書を確認してください（社内の自己署名証明書なら、このソースだけ "
                                        "verify_tls = false にできます）") from None
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                    _Deadline) as exc:
                if last:
                    raise SourceUnavailable(f"{where}: {_failure(exc, self.total_timeout)}"
                                            f"（{attempt + 1}回試行）") from None
                self._pause(self._backoff(attempt), where)
                continue
            except (requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema,
                    requests.exceptions.InvalidURL):
                raise SourceConfigError(f"{where}: URL として使えません",
                                        "base_url を http:// か https:// で始まる URL にしてください") from None
            except requests.RequestException as exc:   # an answer that is not HTTP as it should be
                raise SourceFormatError(f"{where}: 応答を HTTP として読めません ({type(exc).__name__})") from None
            if status == 200:
                return _decode(body, where)
            action = action_for(status)
            if action is Action.FAIL_CONFIG:
                raise SourceConfigError(f"{where}: HTTP {status}", CONFIG_HINTS.get(status))
            if action is Action.REDIRECT:
                location = _target(url, headers.get("Location"))
                raise SourceConfigError(f"{where}: HTTP {status} で{location}", REDIRECT_HINT)
            if action is Action.FAIL:
                raise SourceError(f"{where}: HTTP {status} 想定外の応答です", "相手のシステムの担当に確認してください")
            if last:
                raise SourceUnavailable(f"{where}: HTTP {status} ({attempt + 1}回試行しても回復しません)")
            self._pause(self._wait(action, headers.get("Retry-After"), attempt, where), where)
        raise AssertionError("unreachable")

    def worst_case_seconds(self) -> float:
        """The longest a get_json can take: every attempt up to total_timeout, and between attempts the
        longer of the backoff and the longest Retry-After honoured (beyond it a 429 fails at once)."""
        waits = sum(max(self._backoff(attempt), self.max_retry_after) for attempt in range(self.max_retries))
        return (self.max_retries + 1) * (self.total_timeout + CANCEL_POLL_SECONDS) + waits

    def describe(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        """The request as an operator needs it: host and path, never user info (a password) in the URL."""
        parts = urllib.parse.urlsplit(self.base_url)
        query = "&".join(f"{k}={v}" for k, v in (params or {}).items())
        url = origin(parts) + parts.path.rstrip("/") + path
        return f"GET {url}?{query}" if query else f"GET {url}"

    def _attempt(self, url: str, params: Mapping[str, Any], where: str,
                 path: str) -> tuple[int, bytes, Mapping[str, str]]:
        """One request in a worker thread, waited for until total_timeout or a cancel, whichever is first."""
        self._check_cancel(where)
        request = _Request()
        outcome: list[Any] = []

        def run() -> None:
            _current.request = request
            try:
                outcome.append(self._get(url, params, path))
            except BaseException as exc:  # handed to the caller, who raises it
                outcome.append(exc)
            finally:
                request.done.set()

        deadline = time.monotonic() + self.total_timeout
        threading.Thread(target=run, name="jisseki-http", daemon=True).start()
        try:
            while not request.done.wait(min(CANCEL_POLL_SECONDS, max(0.0, deadline - time.monotonic()))):
                self._check_cancel(where)
                if time.monotonic() >= deadline:
                    raise _Deadline()
        finally:
            if not request.done.is_set():
                request.abort()   # the worker wakes up, fails and ends; nobody waits for it
        if isinstance(outcome[0], BaseException):
            if self._was_the_deadline(outcome[0], deadline):
                raise _Deadline() from outcome[0]
            raise outcome[0]
        return outcome[0]

    def _was_the_deadline(self, exc: BaseException, deadline: float) -> bool:
        """requests' own connect timeout is cut to total_timeout, so it and the deadline race: whichever wakes
        first, the request ran out of the time it had, and says so the same way."""
        if isinstance(exc, requests.ConnectTimeout) and self.connect_timeout >= self.total_timeout:
            return True
        return isinstance(exc, requests.Timeout) and time.monotonic() >= deadline

    def _get(self, url: str, params: Mapping[str, Any], path: str) -> tuple[int, bytes, Mapping[str, str]]:
        with self.session.get(
            url, params=params, headers=self.headers, allow_redirects=False,
            timeout=(min(self.connect_timeout, self.total_timeout), self.read_timeout), verify=self.verify_tls,
            stream=True,
        ) as response:
            return response.status_code, self._body(response, path), response.headers

    @staticmethod
    def _body(response: requests.Response, path: str) -> bytes:
        chunks, size = [], 0
        for chunk in response.iter_content(64 * 1024):
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise SourceFormatError(f"{path}: 応答が大きすぎます (>{MAX_BODY_BYTES} bytes)")
        return b"".join(chunks)

    def _check_cancel(self, where: str) -> None:
        if self.cancel.is_set():
            raise SourceUnavailable(f"{where}: 取得を打ち切りました", CANCEL_HINT)

    def _pause(self, seconds: float, where: str) -> None:
        if self.sleep is not None:
            self.sleep(seconds)
        else:
            self.cancel.wait(seconds)
        self._check_cancel(where)

    def _backoff(self, attempt: int) -> float:
        return min(self.backoff_seconds * (2 ** attempt), MAX_BACKOFF_SECONDS)

    def _wait(self, action: Action, retry_after: str | None, attempt: int, where: str) -> float:
        if action is not Action.RETRY_AFTER or retry_after is None:
            return self._backoff(attempt)
        seconds = parse_retry_after(retry_after)
        if seconds is None:
            return self._backoff(attempt)
        if seconds > self.max_retry_after:
            raise SourceUnavailable(f"{where}: HTTP 429 Retry-After {seconds:.0f}秒は"
                                    f"上限 {self.max_retry_after:.0f}秒を超えます")
        return seconds


def origin(parts: urllib.parse.SplitResult) -> str:
    """Scheme, host and port: never the user info (a password) a URL may carry."""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{f'[{host}]' if ':' in host else host}{port}"


def _origin_key(parts: urllib.parse.SplitResult) -> tuple[str, str, int | None]:
    """What makes two URLs one origin: scheme, host and port, the default port written or not."""
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or {"http": 80, "https": 443}.get(scheme)


def _target(url: str, location: str | None) -> str:
    """Where a redirect from `url` pointed, as safe to show (origin and path: a query may hold a token)."""
    if not location:
        return "転送を指示されましたが、転送先（Location）がありません（転送は辿りません）"
    try:
        source, target = urllib.parse.urlsplit(url), urllib.parse.urlsplit(urllib.parse.urljoin(url, location))
        where = origin(target) + target.path
        other = origin(source) != origin(target)
    except ValueError:   # a port that is not a number
        return "解釈できない転送先（Location）へ転送を指示されました（転送は辿りません）"
    return (f"{'別の接続先' if other else '同じ接続先'}の {where} へ転送を指示されました"
            "（転送は辿らず、転送先には何も送っていません）")


def _failure(exc: Exception, total_timeout: float) -> str:
    if isinstance(exc, _Deadline):
        return f"{total_timeout:g}秒以内に応答が終わりません"
    return f"接続できません ({type(exc).__name__})"


class _Deadline(Exception):
    """The whole request took longer than total_timeout."""


class _Request:
    """One request in flight: the socket it uses, so that another thread can end it. The socket itself is
    kept: a connection hands it over to the response (and forgets it) when the server will close it."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self._lock = threading.Lock()
        self._aborted = False
        self._sock: socket.socket | None = None

    def attach(self, sock: socket.socket) -> None:
        with self._lock:
            self._sock = sock
            aborted = self._aborted
        if aborted:   # it ended while this socket was still connecting
            _shutdown(sock)

    def abort(self) -> None:
        with self._lock:
            self._aborted = True
            sock = self._sock
        if sock is not None:
            _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    """Shut the socket down: closing it alone does not wake a read blocked in another thread. As a plain
    socket, so that a TLS socket's state is not touched from this thread."""
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


# The request the current worker thread runs (each request has a thread of its own).
_current = threading.local()


class _Watched:
    """A connection that tells the request in flight on this thread which connection (socket) it uses:
    on connecting (an HTTPS connection connects before its request is sent) and on each request (a kept-alive
    connection serves several)."""

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        self._attach()

    def request(self, *args: Any, **kwargs: Any) -> None:
        self._attach()
        super().request(*args, **kwargs)  # type: ignore[misc]

    def _attach(self) -> None:
        request, sock = getattr(_current, "request", None), getattr(self, "sock", None)
        if request is not None and sock is not None:   # before connecting (plain HTTP) there is no socket yet
            request.attach(sock)


class _HTTPConnection(_Watched, urllib3.connection.HTTPConnection):
    pass


class _HTTPSConnection(_Watched, urllib3.connection.HTTPSConnection):
    pass


class _HTTPPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _WatchedAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter with connections that a deadline or a cancel can shut down."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):   # a SOCKS proxy has pools of its own kind
            manager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
        return manager


def parse_retry_after(value: str) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date (RFC 9110)."""
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - now_utc()).total_seconds())


def _decode(body: bytes, where: str) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise SourceFormatError(f"{where}: 応答がJSONではありません ({len(body)} bytes)") from None
