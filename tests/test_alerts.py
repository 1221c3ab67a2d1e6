"""Alert delivery through Apprise to a real HTTP receiver on loopback: one digest per channel and run, of the
changes of state since the channel last took one."""
from __future__ import annotations

from datetime import date

import pytest

from jisseki.alerts import digest, store
from jisseki.alerts.deliver import channel, deliver
from jisseki.alerts.rules import Alert, Checked
from tests.support import Receiver, closed_port, write_config
from warehouse.store import connect


def checked(*subjects: str) -> Checked:
    return Checked([Alert(f"missed:{s}:FY2025", f"kpi:{s}", s, "failure", f"【目標未達成】{s}",
                          f"指標 {s}: 実績 1 / 目標 2\n対応: 確認")
                    for s in subjects], {f"kpi:{s}" for s in ("a", "b", "c")})


def step(engine, alerts: Checked, urls: list[str], run_id: str) -> tuple[int, int]:
    """A json:// channel asked for plain text (format=text): Apprise turns the digest's HTML into lines."""
    channels = {c.id: c for c in map(channel, urls)}
    store.reconcile(engine, alerts, list(channels), run_id)
    return deliver(store.pending(engine, channels), channels, lambda ids, e: store.mark(engine, ids, e),
                   lambda rows: digest.build(rows, date(2026, 3, 31), None))


TEXT = "hook?format=text"
SUBJECT = "【jisseki】2026-03-31 時点: 目標未達成 {} 件・要注意 0 件・取込失敗 0 件"


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_one_digest_per_run_of_what_changed_and_one_when_it_resolves(tmp_path, receiver) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'w.db'}")
    assert step(engine, checked("a", "b"), [receiver.url(TEXT)], "r1") == (1, 0)
    assert receiver.titles() == [SUBJECT.format(2)]
    lines = receiver.messages[0]["message"].splitlines()
    assert "- 指標 a: 実績 1 / 目標 2" in lines and "- 指標 b: 実績 1 / 目標 2" in lines and "フロー実行 ID: r1" in lines
    assert step(engine, checked("a", "b"), [receiver.url(TEXT)], "r2") == (0, 0)  # same state: nothing
    assert step(engine, checked("a"), [receiver.url(TEXT)], "r3") == (1, 0)       # b recovered
    assert receiver.titles()[-1] == SUBJECT.format(0) + "・解消 1 件"
    assert "- 【目標未達成】b: 解消しました" in receiver.messages[-1]["message"].splitlines()
    assert step(engine, checked("a"), [receiver.url(TEXT)], "r4") == (0, 0)
    assert step(engine, checked("a", "b"), [receiver.url(TEXT)], "r5") == (1, 0)  # b again: a new change
    assert len(receiver.messages) == 3 and receiver.titles()[-1] == SUBJECT.format(1)


def test_a_channel_that_is_down_does_not_hold_back_the_others_and_its_alerts_wait(tmp_path, receiver) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'w.db'}")
    port = closed_port()
    down = f"json://127.0.0.1:{port}/{TEXT}"
    assert step(engine, checked("a", "b"), [down, receiver.url(TEXT)], "r1") == (1, 1)
    assert receiver.titles() == [SUBJECT.format(2)]
    assert len(store.pending(engine, [channel(down).id])) == 2

    revived = Receiver(port)  # the channel comes back at the same address
    try:
        assert step(engine, checked("a", "b", "c"), [down, receiver.url(TEXT)], "r2") == (2, 0)
        assert revived.titles() == [SUBJECT.format(3)]             # what it missed and what is new, once
        assert receiver.titles() == [SUBJECT.format(2), SUBJECT.format(1)]
        assert {"フロー実行 ID: r1", "フロー実行 ID: r2"} <= set(revived.messages[0]["message"].splitlines())
    finally:
        revived.close()
    assert store.pending(engine, [channel(down).id]) == []


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


def test_where_sources_read_from_is_told_without_what_is_secret_and_the_ui_address_comes_from_prefects_setting(
        tmp_path) -> None:
    from jisseki.alerts.run import source_places
    from jisseki.config import load_config

    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'w.db'}", "https://u:pw@api.example.jp:8443/v1?key=k",
                          **{"sources.nocode_apps": {"base_url": "http://[fd00::5]/apps", "token_env": "X"}})
    loaded = load_config(config, {"PREFECT_UI_URL": "http://prefect.example.internal:4200/"})
    shown = {name: str(place) for name, place in source_places(loaded).items()}
    assert shown == {"online_procedures": "API https://api.example.jp:8443",
                                     "moveout_log": f"フォルダ {tmp_path / 'moveout'}",
                                     "speech_usage": f"フォルダ {tmp_path / 'speech'}",
                                     "nocode_apps": "API http://[fd00::5]"}
    assert loaded.alerts.ui_url == "http://prefect.example.internal:4200"
    assert load_config(config, {}).alerts.ui_url is None
