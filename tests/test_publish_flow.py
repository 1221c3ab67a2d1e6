"""Publishing FY2025, then correcting a moving-out file of February 2026, through real nightly runs on unseen
data: the published grade and value stay, the latest value appears beside them in status and the report, and
one alert, once, says a published figure was restated."""
from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest

from flows.run import run_nightly
from jisseki.cli import main
from tests.sample_api import SampleApi
from tests.support import TOKEN, TOKEN_ENV, Receiver
from tests.test_exactness_all import NOCODE_ENV, six_source_config
from tests.test_publish import entry_book
from tests.test_workbooks import HEADER
from tests.unseen import write_unseen
from tests.unseen_more import SUGGESTED_AS_OF_MORE as AS_OF
from tests.unseen_more import write_unseen_more
from warehouse.store import connect, published_grades

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_harness")]
KPI = "myna_moveout_share"
NOTE = "窓口での案内を強化し、目標を達成した"
UNENTERED = {"genai_verified_operations": 2, "dx_support_departments": 1, "dx_core_training_participants": 64,
             "data_pilot_projects": 3}


def correct_february(folder: Path) -> Path:
    """A corrected delivery of a February 2026 file: rows first recorded as 窓口 were マイナポータル."""
    path = sorted(folder.glob("tenshutsu_202602*.csv"))[0]
    data = path.read_bytes()
    encoding = "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "cp932"
    text = data.decode(encoding)
    assert text.count("窓口") > 40
    path.write_bytes(re.sub("窓口", "マイナポータル", text, count=40).encode(encoding))
    return path


def status(config: Path, capsys) -> list[dict]:
    capsys.readouterr()
    assert main(["status", "--config", str(config), "--fy", "2025", "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_published_year_stays_published_when_a_moving_out_file_is_corrected(tmp_path, monkeypatch, capsys) -> None:
    seed = 0
    procedures, apps = write_unseen(tmp_path, seed), write_unseen_more(tmp_path, seed)
    entry_book(tmp_path / "manual" / "zz_所見.xlsx", [*HEADER, "所見"],
               [["external_specialists", "2025", 8, "登用実績", "デジタル統括室", datetime(2026, 4, 19, 18), NOTE]])
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.setenv(NOCODE_ENV, TOKEN)
    receiver = Receiver()
    url = f"sqlite:///{tmp_path / 'w.db'}"
    with SampleApi(procedures, TOKEN) as api, SampleApi.nocode(apps, TOKEN) as nocode:
        config = six_source_config(tmp_path, url, api, nocode, alerts={"urls": [receiver.url()]})
        try:
            assert run_nightly(config, AS_OF, None) == 0
            capsys.readouterr()
            assert main(["publish", "--config", str(config), "--fy", "2025"]) == 1
            refusal = capsys.readouterr().err
            assert "評価（A・B）がない指標があるため公表できません" in refusal
            assert published_grades(connect(url)) == []
            missing = [kpi for kpi in UNENTERED if f"（{kpi}）" in refusal]
            assert missing == list(UNENTERED)   # the unseen workbooks leave these without a year's entry
            entry_book(tmp_path / "manual" / "zz_残り.xlsx", HEADER,
                       [[kpi, "2025", value, "年度末集計", "デジタル統括室", datetime(2026, 4, 19, 18)]
                        for kpi, value in UNENTERED.items()])
            assert run_nightly(config, AS_OF, None) == 0
            before = len(receiver.messages)
            assert main(["publish", "--config", str(config), "--fy", "2025"]) == 0
            assert "令和7年度（2025年度）を公表しました" in capsys.readouterr().out
            published = published_grades(connect(url), 2025)
            kept = {r["kpi_id"]: r for r in published}
            assert kept["external_specialists"]["commentary"] == NOTE
            assert all(r["flow_run_id"] == published[0]["flow_run_id"] and r["grade"] in ("A", "B") for r in published)
            first = {e["kpi_id"]: e for e in status(config, capsys)}
            assert first[KPI]["published_actual"] == first[KPI]["actual"] == kept[KPI]["actual"]

            assert run_nightly(config, AS_OF, None) == 0
            assert len(receiver.messages) == before     # nothing changed, nothing said

            correct_february(tmp_path / "moveout")
            assert run_nightly(config, AS_OF, None) == 0
            latest = {e["kpi_id"]: e for e in status(config, capsys)}
            assert published_grades(connect(url), 2025) == published   # the published table is as it was
            assert latest[KPI]["actual"] > kept[KPI]["actual"]
            assert latest[KPI]["published_actual"] == kept[KPI]["actual"]
            assert latest[KPI]["published_grade"] == kept[KPI]["grade"]
            assert latest[KPI]["published_at"] is not None
            [news] = receiver.messages[before:]
            assert "公表値の訂正 1 件" in news["title"]
            shown = lambda v: f"{v * 100:.1f}%"  # noqa: E731
            assert "公表値の訂正（1 件）" in news["message"] and KPI in news["message"]
            assert f"公表値 {shown(kept[KPI]['actual'])} / 最新値 {shown(latest[KPI]['actual'])}" in news["message"]
            change = ("評価は変わりません" if latest[KPI]["grade"] == kept[KPI]["grade"]
                      else f"評価が {kept[KPI]['grade']} から {latest[KPI]['grade']} に変わります")
            assert change in news["message"]
            others = [k for k in latest if k != KPI and latest[k]["actual"] != latest[k]["published_actual"]]
            assert others == []

            assert run_nightly(config, AS_OF, None) == 0
            assert len(receiver.messages) == before + 1   # once per change of state
        finally:
            receiver.close()

    assert main(["status", "--config", str(config), "--fy", "2025"]) == 0
    table = capsys.readouterr().out
    assert re.search(r"令和7年度: 公表済（\d{4}-\d{2}-\d{2} 公表、2026-04-20 時点の評価）", table)
    assert "公表値" in table and "最新値" in table
    assert main(["report", "--config", str(config), "--fy", "2025", "--out", str(tmp_path / "out")]) == 0
    page = (tmp_path / "out" / "index.html").read_text("utf-8")
    assert "<th>公表値</th><th>公表評価</th><th>最新値</th>" in page and NOTE in page
    assert "令和7年度: 公表済" in page
    capsys.readouterr()
    assert main(["publish", "--config", str(config), "--fy", "2025"]) == 1   # not rewritten by the correction
    assert "公表済みです" in capsys.readouterr().err
    assert published_grades(connect(url), 2025) == published
