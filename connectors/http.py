"""The one HTTP helper every API connector uses: timeouts, retries, Retry-After, secret-safe errors.

The error policy is a table (status -> action), as in Airbyte's CDK, so a reader sees every
decision in one place instead of in scattered ifs.
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
from datetime import datetime, timezone
from typing import Any

import requests

from connectors.errors import SourceConfigError, SourceError, SourceFormatError, SourceUnavailable


class Action(enum.Enum):
    RETRY = "retry"              # transient: back off and try again
    RETRY_AFTER = "retry_after"  # transient: wait as the server says, then try again
    FAIL_CONFIG = "fail_config"  # credentials or settings: fail at once
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
DEFAULT_5XX = Action.RETRY
DEFAULT_OTHER = Action.FAIL
MAX_BODY_BYTES = 50 * 1024 * 1024


def action_for(status: int) -> Action:
    if status in ERROR_POLICY:
        return ERROR_POLICY[status]
    return DEFAULT_5XX if 500 <= status < 600 else DEFAULT_OTHER


@dataclass
class HttpClient:
    base_url: str
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    verify_tls: bool = True
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    total_timeout: float = 120.0
    max_retries: int = 4
    backoff_seconds: float = 1.0
    max_retry_after: float = 120.0
    sleep: Callable[[float], None] = time.sleep
    session: requests.Session = field(default_factory=requests.Session, repr=False)

    def get_json(self, path: str, params: Mapping[str, Any]) -> Any:
        """GET base_url+path and decode JSON, retrying per ERROR_POLICY."""
        where = self.describe(path, params)
        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            try:
                status, body, retry_after = self._get(path, params)
            except requests.exceptions.SSLError:
                # A certificate that does not verify will not verify on retry either.
                raise SourceConfigError(f"{where}: TLS証明書を検証できません",
                                        "相手の証明書を確認してください（社内の自己署名証明書なら、このソースだけ "
                                        "verify_tls = false にできます）") from None
            except (requests.ConnectionError, requests.Timeout, _Deadline) as exc:
                if last:
                    raise SourceUnavailable(f"{where}: 接続できません ({type(exc).__name__}、{attempt + 1}回試行)") from None
                self.sleep(self._backoff(attempt))
                continue
            if status == 200:
                return _decode(body, where)
            action = action_for(status)
            if action is Action.FAIL_CONFIG:
                raise SourceConfigError(f"{where}: HTTP {status}", CONFIG_HINTS.get(status))
            if action is Action.FAIL:
                raise SourceError(f"{where}: HTTP {status} 想定外の応答です", "相手のシステムの担当に確認してください")
            if last:
                raise SourceUnavailable(f"{where}: HTTP {status} ({attempt + 1}回試行しても回復しません)")
            self.sleep(self._wait(action, retry_after, attempt, where))
        raise AssertionError("unreachable")

    def describe(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        """The request as an operator needs it: host and path, never user info (a password) in the URL."""
        parts = urllib.parse.urlsplit(self.base_url)
        origin = f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"
        query = "&".join(f"{k}={v}" for k, v in (params or {}).items())
        url = origin + parts.path.rstrip("/") + path
        return f"GET {url}?{query}" if query else f"GET {url}"

    def _get(self, path: str, params: Mapping[str, Any]) -> tuple[int, bytes, str | None]:
        with self.session.get(
            self.base_url.rstrip("/") + path, params=params, headers=self.headers,
            timeout=(self.connect_timeout, self.read_timeout), verify=self.verify_tls, stream=True,
        ) as response:
            # The read timeout is per socket read: a server trickling bytes would never hit it.
            # A watchdog closes the response at the total deadline, which ends the blocked read.
            expired = threading.Event()
            watchdog = threading.Timer(self.total_timeout, lambda: (expired.set(), _abort(response)))
            watchdog.daemon = True
            watchdog.start()
            try:
                body = self._body(response, path)
            except Exception:
                if expired.is_set():
                    raise _Deadline() from None
                raise
            finally:
                watchdog.cancel()
            if expired.is_set():
                raise _Deadline()
            return response.status_code, body, response.headers.get("Retry-After")

    @staticmethod
    def _body(response: requests.Response, path: str) -> bytes:
        chunks, size = [], 0
        for chunk in response.iter_content(64 * 1024):
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise SourceFormatError(f"{path}: 応答が大きすぎます (>{MAX_BODY_BYTES} bytes)")
        return b"".join(chunks)

    def _backoff(self, attempt: int) -> float:
        return self.backoff_seconds * (2 ** attempt)

    def _wait(self, action: Action, retry_after: str | None, attempt: int, where: str) -> float:
        if action is not Action.RETRY_AFTER or retry_after is None:
            return self._backoff(attempt)
        seconds = parse_retry_after(retry_after)
        if seconds is None:
            return self._backoff(attempt)
        if seconds > self.max_retry_after:
            raise SourceUnavailable(f"{where}: HTTP 429 Retry-After {seconds:.0f}秒は上限 {self.max_retry_after:.0f}秒を超えます")
        return seconds


def _abort(response: requests.Response) -> None:
    """Shut the socket down: closing it alone does not wake a read blocked in another thread."""
    # urllib3 hands the socket to http.client's response once headers are read.
    fp = getattr(getattr(response.raw, "_fp", None), "fp", None)
    sock = getattr(getattr(fp, "raw", None), "_sock", None)
    try:
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    response.close()


class _Deadline(Exception):
    """The whole response took longer than total_timeout."""


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
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _decode(body: bytes, where: str) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise SourceFormatError(f"{where}: 応答がJSONではありません ({len(body)} bytes)") from None
