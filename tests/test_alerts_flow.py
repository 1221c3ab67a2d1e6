"""Alerts from a real run on unseen data: every missed target named, none that was met, once, in one digest a run."""
from __future__ import annotations

import re
from datetime import datetime

import pytest

from flows.run import run_nightly
from jisseki.catalog import load_catalog
from tests.handcount import expected_figures
from tests.sample_api import SampleApi
from tests.support import TOKEN, TOKEN_ENV, Receiver, every_cell, write_config
from tests.test_exactness_all import NOCODE_ENV, expected_grades, six_source_config
from tests.unseen import write_unseen
from tests.unseen_more import SUGGESTED_AS_OF_MORE as AS_OF
from tests.unseen_more import write_unseen_more

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_harness")]


def named(messages: list[dict], kpi: str) -> bool:
    pattern = re.compile(rf"(?<![a-z_]){re.escape(kpi)}(?![a-z_])")
    return any(pattern.search(m["title"] + m["message"]) for m in messages)


def resolved(kpi: str) -> str:
    return f"【目標未達成】{load_catalog().get(kpi).name}（{kpi}） 2025年度: 解消しました"


def add_entry(folder, kpi: str, value: int) -> None:
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = "実績"
    book.active.append(["KPI ID", "年度", "実績値", "根拠", "入力者", "入力日"])
    book.active.append([kpi, "2025", value, "訂正", "デジタル統括室", datetime(2026, 4, 19, 18)])
    book.save(folder / f"zz_{kpi}.xlsx")


def test_alerts_name_every_missed_target_once_and_resolve_once(tmp_path, monkeypatch) -> None:
    seed = 0
    procedures, apps = write_unseen(tmp_path, seed), write_unseen_more(tmp_path, seed)
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.setenv(NOCODE_ENV, TOKEN)
    receiver = Receiver()
    port = receiver.port
    url = f"sqlite:///{tmp_path / 'w.db'}"
    with SampleApi(procedures, TOKEN) as api, SampleApi.nocode(apps, TOKEN) as nocode:
        config = six_source_config(tmp_path, url, api, nocode, alerts={"urls": [receiver.url()]})
        try:
            assert run_nightly(config, AS_OF, None) == 0
            grades = expected_grades(expected_figures(tmp_path, procedures, apps, AS_OF), load_catalog())
            missed = {k for k, g in grades.items() if g == "B"}
            met = {k for k, g in grades.items() if g == "A"}
            assert missed and met
            first = list(receiver.messages)
            assert len(first) == 1 and first[0]["title"].startswith(f"【jisseki】{AS_OF} 時点: 目標未達成 {len(missed)} 件・")
            assert all(named(first, k) for k in missed)
            assert not [k for k in met if named(first, k)]

            assert run_nightly(config, AS_OF, None) == 0
            assert len(receiver.messages) == len(first)  # same state: nothing sent

            add_entry(tmp_path / "manual", "external_specialists", 8)  # the department corrects its entry
            assert run_nightly(config, AS_OF, None) == 0
            [news] = receiver.messages[len(first):]
            assert news["title"] == f"【jisseki】{AS_OF} 時点: 目標未達成 0 件・要注意 0 件・取込失敗 0 件・解消 1 件"
            assert resolved("external_specialists") in news["message"]

            receiver.close()  # the channel goes down; the next change must wait, not fail the run
            add_entry(tmp_path / "manual", "infra_training_participants", 61)
            assert run_nightly(config, AS_OF, None) == 0
            receiver = Receiver(port)
            assert run_nightly(config, AS_OF, None) == 0
            [later] = receiver.messages
            assert later["title"].endswith("・解消 1 件") and resolved("infra_training_participants") in later["message"]
        finally:
            receiver.close()
    assert f"127.0.0.1:{port}" not in every_cell(url)  # channels are stored as hashes only


REFUSAL = "refused-Sekret-Value-77"   # what the database says: it must reach nobody


def refuse_speech_figures(url: str) -> None:
    """The warehouse itself refuses speech_usage's figures, as it would a value it cannot store."""
    import sqlalchemy as sa

    from warehouse.store import connect

    connect(url).dispose()   # the schema first
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        if url.startswith("sqlite"):
            conn.execute(sa.text("CREATE TRIGGER refuse BEFORE INSERT ON kpi_actual WHEN NEW.source = 'speech_usage' "
                                 f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"))
        else:
            conn.execute(sa.text("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                                 f"IF NEW.source = 'speech_usage' THEN RAISE EXCEPTION '{REFUSAL} %', NEW.value; "
                                 "END IF; RETURN NEW; END $$"))
            conn.execute(sa.text("CREATE TRIGGER refuse BEFORE INSERT ON kpi_actual FOR EACH ROW "
                                 "EXECUTE FUNCTION refuse()"))
    engine.dispose()


def test_a_failure_while_landing_is_recorded_summarised_and_alerted(tmp_path, warehouse_url, capsys) -> None:
    import sqlalchemy as sa

    write_unseen(tmp_path, 5)
    refuse_speech_figures(warehouse_url)
    receiver = Receiver()
    try:
        config = write_config(tmp_path, warehouse_url, None, alerts={"urls": [receiver.url()]})
        assert run_nightly(config, AS_OF, None) == 1
    finally:
        receiver.close()
    out = capsys.readouterr()
    engine = sa.create_engine(warehouse_url)
    with engine.connect() as conn:
        runs = {s: (st, m) for s, st, m in conn.execute(sa.text("SELECT source, status, message FROM source_run"))}
        speech_rows = conn.execute(sa.text("SELECT (SELECT COUNT(*) FROM quarantine WHERE source = 'speech_usage') + "
                                           "(SELECT COUNT(*) FROM lineage WHERE source = 'speech_usage')")).scalar_one()
    engine.dispose()
    status, message = runs["speech_usage"]
    assert status == "failed" and message.startswith("倉庫への書き込みに失敗しました（")
    assert runs["moveout_log"][0] == "landed"
    assert speech_rows == 0   # the landing rolled back whole
    assert f"speech_usage: 失敗 — {message}" in out.out
    [digest] = receiver.messages
    assert "取込失敗 1 件" in digest["title"]
    assert "AI音声認識端末 利用ログ（speech_usage）: 取込失敗" in digest["message"] and message in digest["message"]
    assert REFUSAL not in out.out + out.err + every_cell(warehouse_url)
    assert not [m for m in receiver.messages if REFUSAL in m["title"] + m["message"]]
