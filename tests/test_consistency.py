"""Figures that never contradict each other: archived files take their figures with them in every file source
(months and fiscal years agree with a hand count of what is left), and an as-of before the landed one is
refused unless restated on purpose."""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from flows.run import run_nightly
from jisseki.catalog import load_catalog
from jisseki.core.errors import UsageError
from tests.handcount import expected_figures
from tests.sample_api import SampleApi
from tests.support import TOKEN, TOKEN_ENV, table_counts, write_config
from tests.test_exactness import assert_matches, landed
from tests.test_exactness_all import NOCODE_ENV
from tests.test_moveout_incremental import day_rows, write
from tests.unseen import write_unseen
from tests.unseen_more import SUGGESTED_AS_OF_MORE, write_unseen_more

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_harness")]
REPO = Path(__file__).resolve().parents[1]
CATALOG = load_catalog()
AS_OF = SUGGESTED_AS_OF_MORE
# One month of moving-out files, a quarter of speech sessions, a month of access log and a workbook.
ARCHIVED = {"moveout": "tenshutsu_202505*.csv", "speech": "sr_usage_2025q2.jsonl", "dataviz": "access_202506.csv",
            "manual": "02_実績入力_各局.xlsx"}
SOURCE_OF = {"moveout": "moveout_log", "speech": "speech_usage", "dataviz": "dataviz_access",
             "manual": "manual_entries"}


def messages(url: str, run: int) -> dict[str, str]:
    """source -> message of the run-th nightly run (1 = the first) that landed it."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        ids = [r[0] for r in conn.execute(sa.text("SELECT flow_run_id FROM source_run GROUP BY flow_run_id "
                                                  "ORDER BY MIN(id)"))]
        rows = conn.execute(sa.text("SELECT source, message FROM source_run WHERE flow_run_id = :run"),
                            {"run": ids[run - 1]}).all()
    engine.dispose()
    return dict(rows)


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jisseki.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300)


def test_archived_files_leave_every_file_source_whole_and_said(tmp_path: Path, monkeypatch, warehouse_url) -> None:
    procedures, apps = write_unseen(tmp_path, 0), write_unseen_more(tmp_path, 0)
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.setenv(NOCODE_ENV, TOKEN)
    with SampleApi(procedures, TOKEN) as api, SampleApi.nocode(apps, TOKEN) as nocode:
        config = write_config(tmp_path, warehouse_url, api.base_url, **{
            "sources.nocode_apps": {"base_url": nocode.base_url, "token_env": NOCODE_ENV, "max_retries": 1},
            "sources.dataviz_access": {"path": "dataviz", "departments": "departments.csv"},
            "sources.manual_entries": {"path": "manual"}})
        assert run_nightly(config, AS_OF, None) == 0
        before = landed(warehouse_url)
        moved: dict[str, list[str]] = {}
        for folder, pattern in ARCHIVED.items():
            (tmp_path / "archive" / folder).mkdir(parents=True)
            moved[folder] = sorted(p.name for p in (tmp_path / folder).glob(pattern))
            assert moved[folder], pattern
            for name in moved[folder]:
                shutil.move(tmp_path / folder / name, tmp_path / "archive" / folder / name)
        assert run_nightly(config, AS_OF, None) == 0

    # The hand count reads the folders as they are now: what is left, months and years alike.
    expected = expected_figures(tmp_path, procedures, apps, AS_OF)
    after = landed(warehouse_url)
    assert_matches(after, expected)
    for folder in ARCHIVED:   # each archive made a difference (else the hand count proves nothing of it)
        kpis = {i.id for i in CATALOG.indicators if i.source == SOURCE_OF[folder]}
        assert {k: v for k, v in before.items() if k[0] in kpis} != {k: v for k, v in after.items() if k[0] in kpis}
    notes = messages(warehouse_url, 2)
    for folder, names in moved.items():
        note = notes[SOURCE_OF[folder]]
        assert f"前回取り込んだファイル {len(names)} 件が受信フォルダにありません" in note, note
        assert all(name in note for name in names[:5]) and "月・年度の集計から外れました" in note
    assert "受信フォルダにありません" not in notes["online_procedures"] + notes["nocode_apps"]

    # Back in the inbox, the files count again, exactly as the first night.
    for folder, names in moved.items():
        for name in names:
            shutil.move(tmp_path / "archive" / folder / name, tmp_path / folder / name)
    with SampleApi(procedures, TOKEN) as api, SampleApi.nocode(apps, TOKEN) as nocode:
        config = write_config(tmp_path, warehouse_url, api.base_url, **{
            "sources.nocode_apps": {"base_url": nocode.base_url, "token_env": NOCODE_ENV, "max_retries": 1},
            "sources.dataviz_access": {"path": "dataviz", "departments": "departments.csv"},
            "sources.manual_entries": {"path": "manual"}})
        assert run_nightly(config, AS_OF, None) == 0
    assert landed(warehouse_url) == before


def moveout_config(tmp_path: Path, url: str) -> Path:
    return write_config(tmp_path, url, None, moveout="moveout", speech="")


def status_digest(config: Path) -> str:
    done = cli("status", "--config", str(config), "--format", "json")
    assert done.returncode == 0, done.stderr
    return hashlib.md5(done.stdout.encode()).hexdigest()


def test_an_earlier_as_of_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    # Imported here, not at the top: Prefect would cost every collection of the fast tier a second.
    from flows.nightly import nightly

    url = f"sqlite:///{tmp_path / 'wh.db'}"
    write(tmp_path / "moveout", "d1.csv", day_rows("2025/04/01", 10))
    write(tmp_path / "moveout", "d2.csv", day_rows("2025/05/02", 4, 100, "マイナポータル"))
    config = moveout_config(tmp_path, url)
    assert run_nightly(config, date(2025, 5, 31), None) == 0
    status, counts = status_digest(config), table_counts(url)

    done = cli("run", "--config", str(config), "--as-of", "2025-04-30")
    assert done.returncode == 2, done.stderr
    assert "基準日 2025-04-30 は取り込み済みの基準日 2025-05-31（moveout_log）より前です" in done.stderr
    assert "--restate" in done.stderr and "Traceback" not in done.stderr
    # The deployment's way in (the flow's as_of parameter) refuses the same way, before anything is saved.
    with pytest.raises(UsageError, match="restate=true"):
        nightly.fn(str(config), "2025-04-30")
    assert status_digest(config) == status and table_counts(url) == counts

    # The same day, or a later one, runs as usual.
    assert run_nightly(config, date(2025, 5, 31), None) == 0


def test_a_restated_as_of_withdraws_what_is_later_so_status_and_figures_agree(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wh.db'}"
    write(tmp_path / "moveout", "d1.csv", day_rows("2025/04/01", 10))
    write(tmp_path / "moveout", "d2.csv", day_rows("2025/05/02", 4, 100, "マイナポータル"))
    config = moveout_config(tmp_path, url)
    assert run_nightly(config, date(2025, 5, 31), None) == 0
    assert run_nightly(config, date(2025, 4, 30), None, restate=True) == 0
    figures = landed(url)
    assert max(as_of for *_, as_of in figures.values()) == date(2025, 4, 30)
    assert ("myna_moveout_share", "2025-05", "city") not in figures
    assert figures[("myna_moveout_share", "2025-04", "city")][1:3] == (0.0, 10.0)
    assert figures[("myna_moveout_share", "FY2025", "city")][1:3] == (0.0, 10.0)   # the year is its months
    done = cli("status", "--config", str(config), "--format", "json")
    assert done.returncode == 0 and "2025-05-31" not in done.stdout and "2025-04-30" in done.stdout
    # From the restated day the nights go on as usual; the earlier day is now the latest landed one.
    assert run_nightly(config, date(2025, 5, 31), None) == 0
    assert landed(url)[("myna_moveout_share", "FY2025", "city")][1:3] == (4.0, 14.0)


def test_an_inbox_left_empty_is_rejected_rather_than_withdrawing_every_figure(tmp_path: Path) -> None:
    """An unmounted share or a wrong path looks like a folder whose files were all archived."""
    url = f"sqlite:///{tmp_path / 'wh.db'}"
    write(tmp_path / "moveout", "d1.csv", day_rows("2025/04/01", 10))
    config = moveout_config(tmp_path, url)
    assert run_nightly(config, date(2025, 4, 30), None) == 0
    before = landed(url)
    (tmp_path / "moveout" / "d1.csv").rename(tmp_path / "d1.csv")
    assert run_nightly(config, date(2025, 4, 30), None) == 1
    assert landed(url) == before
    assert "受信フォルダにファイルが 1 件もないため取り込みません" in messages(url, 2)["moveout_log"]
