"""Late-data alerts through the real nightly flow: daily logs counted in the city's business days,
APIs in days since their last crawl, each by the threshold its config section sets."""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from flows.run import run_nightly
from tests.digests import entries, sources
from tests.sample_api import SampleApi
from tests.support import TOKEN, TOKEN_ENV, Receiver, closed_port, write_config
from warehouse.schema import ingest_state

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_harness")]
LATE = "データ遅延"


def write_moveout(folder: Path) -> None:
    """One week of moving-out notifications, the last on Friday 2025-12-26, before 年末年始."""
    folder.mkdir()
    rows = ["受付日,区コード,区名,受付番号,届出経路,取消"]
    rows += [f"2025/12/{day},271021,都島区,R-{day}-{n},{route},"
             for day in (22, 23, 24, 25, 26) for n, route in enumerate(("マイナポータル", "窓口", "郵送"))]
    (folder / "tenshutsu_20251226.csv").write_bytes("\r\n".join(rows).encode("cp932"))


def late_messages(receiver: Receiver) -> list[dict]:
    """The digests that tell of late data."""
    return [m for m in receiver.messages if sources([m], LATE)]


@pytest.mark.parametrize("sections, calendar, quiet, late_on, counted", [
    # defaults: more than 3 business days; 12/27–1/4 are all closed
    ({}, "", [date(2026, 1, 4), date(2026, 1, 7)], date(2026, 1, 8), "2026-01-08（木）までに 4 営業日"),
    # an extra closed day moves it by one business day
    ({}, "\n[calendar]\nclosed_days = [2026-01-05]\n", [date(2026, 1, 8)], date(2026, 1, 9),
     "2026-01-09（金）までに 4 営業日"),
    # a threshold of 5 business days; 1/12 is 成人の日
    ({"sources.moveout_log": {"path": "moveout", "stale_after_business_days": 5}}, "", [date(2026, 1, 12)],
     date(2026, 1, 13), "2026-01-13（火）までに 6 営業日"),
], ids=["defaults", "extra-closed-day", "threshold"])
def test_a_daily_log_is_late_only_after_its_business_days(tmp_path: Path, sections: dict, calendar: str,
                                                          quiet: list[date], late_on: date, counted: str) -> None:
    write_moveout(tmp_path / "moveout")
    receiver = Receiver()
    url = f"sqlite:///{tmp_path / 'w.db'}"
    try:
        config = write_config(tmp_path, url, None, speech="", **sections, alerts={"urls": [receiver.url()]})
        config.write_text(config.read_text("utf-8") + calendar, "utf-8")
        for as_of in quiet:
            assert run_nightly(config, as_of, None) == 0
            assert late_messages(receiver) == [], as_of
        assert run_nightly(config, late_on, None) == 0
    finally:
        receiver.close()
    [message] = late_messages(receiver)
    assert sources([message], LATE) == ["moveout_log"] and "データ遅延 1 件" in message["title"]
    assert f"最新のデータ日 2025-12-26（金）から基準日 {counted}" in message["message"]
    assert f"対応: 新しいファイルが取込フォルダ（フォルダ {tmp_path / 'moveout'}）に届いているか" in message["message"]


PROCEDURES = [{"id": f"PROC-{n:06d}", "title": f"手続{n}", "department_code": "D0412", "online_since": "2021-06-01",
               "retired_on": None, "status": "active", "updated_at": "2025-04-01T09:00:00+09:00"} for n in range(3)]


def crawl_landed_days_ago(url: str, days: int) -> None:
    """The clock of the last landing is moved back: the only way to make a crawl days old within a test."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        landed = conn.execute(sa.select(ingest_state.c.landed_at)
                              .where(ingest_state.c.source == "online_procedures")).scalar_one()
        conn.execute(sa.update(ingest_state).where(ingest_state.c.source == "online_procedures")
                     .values(landed_at=landed - timedelta(days=days)))
    engine.dispose()


def procedures(base_url: str, stale_after_days: int | None = None) -> dict:
    cfg = {"base_url": base_url, "token_env": TOKEN_ENV, "max_retries": 1, "backoff_seconds": 0.05}
    return {"sources.online_procedures": cfg | ({"stale_after_days": stale_after_days} if stale_after_days else {})}


def test_an_api_is_late_by_the_days_since_its_last_crawl(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    receiver = Receiver()
    url = f"sqlite:///{tmp_path / 'w.db'}"
    as_of = date(2026, 1, 2)  # a closed day: an API that runs every day is late by calendar days all the same
    down = f"http://127.0.0.1:{closed_port()}"
    alerts = {"alerts": {"urls": [receiver.url()]}}
    try:
        with SampleApi(PROCEDURES, TOKEN) as api:
            config = write_config(tmp_path, url, None, moveout="", speech="", **procedures(api.base_url), **alerts)
            assert run_nightly(config, as_of, None) == 0
            assert late_messages(receiver) == []

            crawl_landed_days_ago(url, 3)
            write_config(tmp_path, url, None, moveout="", speech="", **procedures(down), **alerts)
            assert run_nightly(config, as_of, None) == 1
            [message] = late_messages(receiver)
            assert sources([message], LATE) == ["online_procedures"]
            assert "2 日を超えて取り込めていません" in message["message"]
            assert f"対応: API（API {down}）が応答しているか" in message["message"]
            assert sources([message], "取込失敗・不採用") == ["online_procedures"]   # the same digest

            seen = len(receiver.messages)
            write_config(tmp_path, url, None, moveout="", speech="", **procedures(api.base_url), **alerts)
            assert run_nightly(config, as_of, None) == 0  # a crawl lands again
            assert len(receiver.messages) == seen + 1
            assert sorted(sources(receiver.messages[seen:], "解消")) == ["【データ遅延】online_procedures",
                                                                       "【取込失敗】online_procedures"]

        crawl_landed_days_ago(url, 3)
        seen = len(receiver.messages)
        write_config(tmp_path, url, None, moveout="", speech="", **procedures(down, 4), **alerts)
        assert run_nightly(config, as_of, None) == 1  # down again, but 3 days is within the configured 4
        assert [s for s, _ in entries(receiver.messages[seen:])] == ["取込失敗・不採用"]
        assert sources(receiver.messages[seen:], "取込失敗・不採用") == ["online_procedures"]
    finally:
        receiver.close()
