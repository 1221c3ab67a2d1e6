"""The alert digest by mail, through Apprise's mailto:// to a real SMTP server on loopback: the nightly run of
the demo data, a source that fails, a relay that is down."""
from __future__ import annotations

import json
import re
import uuid
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa

from flows.run import run_nightly
from jisseki.demo.run import DEMO_TOKEN, NOCODE_TOKEN_ENV, TOKEN_ENV, demo_config
from jisseki.demo.samples import DEMO_AS_OF, NOCODE_APPS, PROCEDURES, load_samples
from tests.mailbox import PASSWORD, WARNING, Mailbox, mailto, parts
from tests.sample_api import SampleApi
from tests.support import TOKEN, closed_port, write_config
from tests.support import TOKEN_ENV as TOKEN_ENV_OF_TESTS

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_harness"), pytest.mark.filterwarnings(WARNING)]
UI = "http://prefect.example.internal:4200"
SPEECH = "AI音声認識技術 市全体の利用実績（月時間）（speech_hours_monthly）"


@pytest.fixture
def mailbox():
    box = Mailbox()
    yield box
    box.close()


def flow_runs(url: str) -> list[str]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        ids = [r for (r,) in conn.execute(sa.text("SELECT DISTINCT flow_run_id FROM alert_outbox ORDER BY id"))]
    engine.dispose()
    return list(dict.fromkeys(ids))


class Html(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.links: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append(tag)
        self.links += [v for k, v in attrs if k == "href"]


def assert_real_html(html: str) -> Html:
    # Everything outside the tags is escaped text, and no line is left to the mail client to join.
    outside = re.sub(r"<[^<>]*>", "", html)
    assert "<" not in outside and ">" not in outside and "\n" not in html.strip()
    assert not re.search(r"&(?!(amp|lt|gt|quot|#x27);)", html)
    return Html(html)


def test_the_first_night_of_the_demo_is_one_mail_and_the_second_is_none(tmp_path, monkeypatch, mailbox) -> None:
    samples = load_samples()   # what `jisseki demo` writes, and the records its sample APIs serve
    samples.write_inbox(tmp_path)
    monkeypatch.setenv(TOKEN_ENV, DEMO_TOKEN)
    monkeypatch.setenv(NOCODE_TOKEN_ENV, DEMO_TOKEN)
    monkeypatch.setenv("PREFECT_UI_URL", UI + "/")
    config = tmp_path / "jisseki.toml"
    with SampleApi(samples.records(PROCEDURES), DEMO_TOKEN) as procedures, \
            SampleApi.nocode(samples.records(NOCODE_APPS), DEMO_TOKEN) as nocode:
        text = demo_config(procedures.base_url, nocode.base_url)
        assert text.count("urls = []") == 1
        config.write_text(text.replace("urls = []", f"urls = [{json.dumps(mailbox.url())}]"), "utf-8")
        run_nightly(config, DEMO_AS_OF, None)
        assert len(mailbox.received) == 1
        run_nightly(config, DEMO_AS_OF, None)
    assert len(mailbox.received) == 1   # nothing changed: no mail

    assert mailbox.logins == ["user"] and PASSWORD.encode() not in mailbox.received[0]
    message = mailbox.messages()[0]
    assert message["subject"] == ("【jisseki】2026-03-31 時点: 目標未達成 1 件・月間目標未達 1 件・要注意 0 件・"
                                  "取込失敗 0 件")
    assert message["to"] == "ops@example.jp"
    plain, html = parts(message)
    [run_id] = flow_runs(f"sqlite:///{tmp_path / 'warehouse.db'}")
    link = f"{UI}/runs/flow-run/{uuid.UUID(run_id)}"
    lines = [line for line in plain.splitlines() if line.strip()]
    assert lines[1:] == [
        "■ 目標未達成（1 件）",
        f"- {SPEECH} 2025年度: 実績 月403時間 / 目標 月1,870時間 → B（未達成）（2026-03-31 時点）",
        " 対応: 所管の所属に未達成の原因と来年度の対策を確認してください",
        "■ 月間目標未達（1 件）",
        lines[5],
        " 対応: 所管の所属に利用が目標に届かなかった理由と、利用を増やす取組を確認してください",
        f"フロー実行: {link}",
    ]
    assert re.fullmatch(rf"- {re.escape(SPEECH)}: 2025年4月〜2026年3月の12か月が月間目標未達（最新 2026年3月: "
                        r"実績 月[\d,]+(\.\d)?時間 / 目標 月1,870時間以上（2025年度））", lines[5]), lines[5]
    tree = assert_real_html(html)
    assert tree.tags.count("li") == 2 and tree.tags.count("br") == 2 and tree.links == [link]
    assert f"{SPEECH} 2025年度: 実績 月403時間" in html


def test_a_source_failure_names_the_folder_and_the_host_in_japanese(tmp_path, monkeypatch, mailbox) -> None:
    monkeypatch.setenv(TOKEN_ENV_OF_TESTS, TOKEN)
    monkeypatch.delenv("PREFECT_UI_URL", raising=False)
    api = f"http://apiuser:apisecret@127.0.0.1:{closed_port()}/v1?key=zzkey"
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'w.db'}", api, moveout="missing-folder", speech="",
                          alerts={"urls": [mailbox.url()]})
    assert run_nightly(config, DEMO_AS_OF, None) == 1
    assert len(mailbox.received) == 1
    raw = mailbox.received[0]
    for secret in (PASSWORD, "apisecret", "apiuser", "zzkey"):
        assert secret.encode() not in raw, secret
    message = mailbox.messages()[0]
    assert message["subject"] == "【jisseki】2026-03-31 時点: 目標未達成 0 件・要注意 0 件・取込失敗 2 件"
    plain, html = parts(message)
    lines = plain.splitlines()
    port = api.split(":")[3].split("/")[0]
    assert "■ 取込失敗・不採用（2 件）" in lines
    assert (f"- 行政オンラインシステム 手続カタログ（online_procedures）: 取込失敗（2026-03-31 時点） "
            f"読込元: API http://127.0.0.1:{port}") in lines
    assert (f"- 転出届 受付ログ（moveout_log）: 取込失敗（2026-03-31 時点） "
            f"読込元: フォルダ {tmp_path / 'missing-folder'}") in lines
    assert [line for line in lines if line.startswith(" 理由: ")], plain   # source_run's own words
    assert "failed" not in plain and "rejected" not in plain
    [run_id] = flow_runs(f"sqlite:///{tmp_path / 'w.db'}")
    assert f"フロー実行 ID: {run_id}" in lines   # no UI address: the id
    assert_real_html(html)


def test_a_relay_that_is_down_keeps_the_digest_for_the_next_run(tmp_path) -> None:
    port = closed_port()
    url = f"sqlite:///{tmp_path / 'w.db'}"
    config = write_config(tmp_path, url, None, moveout="missing-folder", speech="", alerts={"urls": [mailto(port)]})
    assert run_nightly(config, DEMO_AS_OF, None) == 1       # the relay is down: the run goes on
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        waiting = conn.execute(sa.text("SELECT alert_key, attempts, last_error FROM alert_outbox "
                                       "WHERE delivered_at IS NULL")).all()
    assert [(k, a) for k, a, _ in waiting] == [("source_failed:moveout_log", 1)] and waiting[0][2]

    box = Mailbox(port)   # the relay is back
    try:
        config = write_config(tmp_path, url, None, moveout="missing-folder", speech="missing-speech",
                              alerts={"urls": [mailto(port)]})
        assert run_nightly(config, DEMO_AS_OF, None) == 1   # and tonight another source fails too
        assert len(box.received) == 1
        plain, _ = parts(box.messages()[0])
        assert box.messages()[0]["subject"].endswith("取込失敗 2 件")
        entries = [line for line in plain.splitlines() if line.startswith("- ")]
        assert [e.split("）: ")[0] for e in entries] == ["- 転出届 受付ログ（moveout_log", "- AI音声認識端末 利用ログ（speech_usage"]
        first, second = flow_runs(url)
        assert f"フロー実行 ID: {first}" in plain and f"フロー実行 ID: {second}" in plain
        assert run_nightly(config, DEMO_AS_OF, None) == 1   # the same failures again: nothing new to say
        assert len(box.received) == 1
    finally:
        box.close()
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM alert_outbox WHERE delivered_at IS NULL")).scalar_one() == 0
    engine.dispose()
