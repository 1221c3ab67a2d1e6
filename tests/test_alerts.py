"""Alert delivery through Apprise to a real HTTP receiver on loopback: one message per change of state."""
from __future__ import annotations

import pytest

from jisseki.alerts.deliver import channel, deliver
from jisseki.alerts.rules import Alert, Checked
from tests.support import Receiver, closed_port, write_config
from warehouse import alerts as store
from warehouse.store import connect


def checked(*subjects: str) -> Checked:
    return Checked([Alert(f"missed:{s}:FY2025", f"kpi:{s}", s, "failure", f"【目標未達成】{s}", f"指標 {s}\n実績: 1\n目標: 2")
                    for s in subjects], {f"kpi:{s}" for s in ("a", "b", "c")})


def step(engine, alerts: Checked, urls: list[str], run_id: str) -> tuple[int, int]:
    channels = {c.id: c for c in map(channel, urls)}
    store.reconcile(engine, alerts, list(channels), run_id)
    return deliver(store.pending(engine, channels), channels, lambda i, e: store.mark(engine, i, e))


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_one_message_per_change_and_one_when_it_resolves(tmp_path, receiver) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'w.db'}")
    assert step(engine, checked("a", "b"), [receiver.url()], "r1") == (2, 0)
    assert sorted(receiver.titles()) == ["【目標未達成】a", "【目標未達成】b"]
    assert step(engine, checked("a", "b"), [receiver.url()], "r2") == (0, 0)  # same state: nothing
    assert step(engine, checked("a"), [receiver.url()], "r3") == (1, 0)       # b recovered
    assert receiver.titles()[-1] == "【解消】【目標未達成】b" and "r3" in receiver.messages[-1]["message"]
    assert step(engine, checked("a"), [receiver.url()], "r4") == (0, 0)
    assert step(engine, checked("a", "b"), [receiver.url()], "r5") == (1, 0)  # b again: a new change
    assert len(receiver.messages) == 4


def test_a_channel_that_is_down_does_not_hold_back_the_others_and_its_alerts_wait(tmp_path, receiver) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'w.db'}")
    port = closed_port()
    down = f"json://127.0.0.1:{port}/hook"
    assert step(engine, checked("a", "b"), [down, receiver.url()], "r1") == (2, 1)
    assert len(receiver.messages) == 2
    assert len(store.pending(engine, [channel(down).id])) == 2  # after one failure the channel is skipped

    revived = Receiver(port)  # the channel comes back at the same address
    try:
        assert step(engine, checked("a", "b"), [down, receiver.url()], "r2") == (2, 0)
        assert sorted(revived.titles()) == ["【目標未達成】a", "【目標未達成】b"]
    finally:
        revived.close()
    assert store.pending(engine, [channel(down).id]) == [] and len(receiver.messages) == 2


def test_secret_urls_come_from_the_environment_and_are_never_stored(tmp_path, monkeypatch, receiver) -> None:
    from jisseki.config import ConfigError, load_config

    secret = receiver.url("hook-Sekret-Path")
    monkeypatch.setenv("JISSEKI_TEST_ALERT_URL", secret)
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'w.db'}", None, speech="",
                          alerts={"urls": ["env:JISSEKI_TEST_ALERT_URL"]})
    assert load_config(config).alerts.channel_urls() == [secret]
    monkeypatch.delenv("JISSEKI_TEST_ALERT_URL")
    with pytest.raises(ConfigError, match="JISSEKI_TEST_ALERT_URL"):
        load_config(config).alerts.channel_urls()
