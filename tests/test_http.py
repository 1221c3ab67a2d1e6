"""The shared HTTP helper against a real server on loopback: the error policy table in action."""
from __future__ import annotations

import socket

import pytest

from connectors.errors import (
    SourceConfigError,
    SourceError,
    SourceFormatError,
    SourceUnavailable,
)
from connectors.http import Action, HttpClient, action_for, parse_retry_after
from jisseki.demo.sample_api import Reply, SampleApi

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
    api.script.extend([Reply(200, b'{"data": [], "meta": {}}' * 2, trickle=0.05)] * 2)
    c = client(api, [], read_timeout=2, total_timeout=0.5, max_retries=1)
    with pytest.raises(SourceUnavailable):
        get(c)


def test_retry_after_as_http_date() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("soon") is None
