"""The nightly flow under a real (test-harness) Prefect server."""
from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from flows.run import run_nightly
from jisseki.cli import main
from jisseki.demo.samples import NOCODE_APPS, PROCEDURES, load_samples
from tests import handcount_ward
from tests.demo_data_ward import WARD_FY2025
from tests.sample_api import SampleApi
from tests.support import SEED_FY2025, TOKEN, TOKEN_ENV, every_cell, table_counts, write_config

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_harness")]
AS_OF = date(2026, 3, 31)


@pytest.fixture(scope="module")
def demo_inbox(tmp_path_factory) -> tuple[Path, list[dict]]:
    root = tmp_path_factory.mktemp("demo")
    samples = load_samples()
    samples.write_inbox(root)
    return root / "inbox", samples.records(PROCEDURES)


def source_runs(url: str) -> dict[str, tuple[str, str]]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        out = {s: (st, m) for s, st, m in conn.execute(sa.text("SELECT source, status, message FROM source_run"))}
    engine.dispose()
    return out


def current_figures(url: str, kpis: Iterable[str]) -> dict[tuple[str, str, str], tuple]:
    """The current revision of every figure of these KPIs: (kpi, period, scope) → (value, numerator,
    denominator, as_of)."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT kpi_id, period, scope, value, numerator, denominator, as_of "
                                    "FROM kpi_actual WHERE is_current")).all()
    engine.dispose()
    return {(k, p, s): (v, n, d, date.fromisoformat(str(a))) for k, p, s, v, n, d, a in rows if k in set(kpis)}


def landed_sources(url: str) -> set[str]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        out = {s for (s,) in conn.execute(sa.text("SELECT DISTINCT source FROM kpi_actual"))}
    engine.dispose()
    return out


def test_a_failing_source_does_not_stop_the_others(tmp_path, monkeypatch, capsys, demo_inbox) -> None:
    inbox, records = demo_inbox
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    url = f"sqlite:///{tmp_path / 'w.db'}"
    with SampleApi(records, TOKEN) as api:
        config = write_config(tmp_path, url, api.base_url, moveout="missing-folder", speech=str(inbox / "speech"))
        assert run_nightly(config, AS_OF, None) == 1
    runs = source_runs(url)
    assert runs["moveout_log"][0] == "failed" and "missing-folder" in runs["moveout_log"][1]
    assert runs["online_procedures"][0] == runs["speech_usage"][0] == "landed"
    assert landed_sources(url) == {"online_procedures", "speech_usage"}
    assert table_counts(url)["kpi_evaluation"] == 15
    assert "moveout_log" in capsys.readouterr().err


def test_a_source_with_too_many_bad_rows_is_rejected_whole(tmp_path, capsys) -> None:
    folder = tmp_path / "moveout"
    folder.mkdir()
    rows = ["受付日,区コード,区名,受付番号,届出経路,取消"]
    rows += [f"2025/04/0{1 + n % 9},271021,都島区,N-{n},窓口," for n in range(90)]
    rows += [f"2025/04/01,271021,都島区,M-{n},電話," for n in range(10)]  # 10% unknown route
    (folder / "a.csv").write_bytes("\r\n".join(rows).encode("cp932"))
    url = f"sqlite:///{tmp_path / 'w.db'}"
    config = write_config(tmp_path, url, None, speech="")
    assert run_nightly(config, AS_OF, None) == 1
    status, message = source_runs(url)["moveout_log"]
    assert status == "rejected" and "10/100" in message and "unknown_route" in message
    assert table_counts(url)["kpi_actual"] == 0 and table_counts(url)["quarantine"] == 10
    assert "不採用" in capsys.readouterr().out

    config.write_text(config.read_text("utf-8") + "\n[validation]\nmax_bad_ratio = 0.2\n", "utf-8")
    assert run_nightly(config, AS_OF, None) == 0  # the threshold is configurable
    assert table_counts(url)["kpi_actual"] > 0


def test_a_wrong_token_fails_that_source_and_is_never_shown_or_stored(tmp_path, monkeypatch, capsys,
                                                                     demo_inbox) -> None:
    inbox, records = demo_inbox
    monkeypatch.setenv(TOKEN_ENV, "wrong-Sekret-Token")
    url = f"sqlite:///{tmp_path / 'w.db'}"
    with SampleApi(records, TOKEN) as api:
        config = write_config(tmp_path, url, api.base_url, moveout="", speech=str(inbox / "speech"))
        assert run_nightly(config, AS_OF, None) == 1
    out = capsys.readouterr()
    assert source_runs(url)["online_procedures"][0] == "failed"
    assert "401" in source_runs(url)["online_procedures"][1]
    assert "wrong-Sekret-Token" not in out.out + out.err and "wrong-Sekret-Token" not in every_cell(url)


def test_only_the_named_sources_run_and_the_config_is_read_once(tmp_path, monkeypatch, demo_inbox) -> None:
    import jisseki.config

    inbox, _ = demo_inbox
    url = f"sqlite:///{tmp_path / 'w.db'}"
    config = write_config(tmp_path, url, None, moveout=str(inbox / "tenshutsu"), speech=str(inbox / "speech"))
    reads: list[Path] = []
    read_toml = jisseki.config.read_toml
    monkeypatch.setattr(jisseki.config, "read_toml", lambda path, what: reads.append(path) or read_toml(path, what))
    assert run_nightly(config, AS_OF, ["speech_usage"]) == 0
    assert landed_sources(url) == {"speech_usage"}
    # `jisseki run` checks the config before Prefect starts; the flow takes what it read.
    assert reads == [Path(config)]


def test_demo_then_status_matches_the_seeds_whole_fy2025_table(tmp_path, capsys) -> None:
    workdir = tmp_path / "demo"
    assert main(["demo", "--workdir", str(workdir)]) == 0
    table = capsys.readouterr().out
    office, ward = table.split("令和7年度 北区役所")
    assert "2,180件" in office and "A（達成） 14 件 / B（未達成） 1 件" in office
    assert "A（達成） 4 件 / B（未達成） 1 件" in ward and "目標は 2024年度の実績 18 から -10%" in ward
    assert main(["status", "--config", str(workdir / "jisseki.toml"), "--fy", "2025", "--format", "json"]) == 0
    rows = {r["kpi_id"]: r for r in json.loads(capsys.readouterr().out)}
    assert all(r["fiscal_year"] == 2025 and r["as_of"] == "2026-03-31" for r in rows.values())
    got = {k: (round(r["actual"], 2), r["grade"], r["prior_year_actual"]) for k, r in rows.items()}
    assert got == {**SEED_FY2025, **WARD_FY2025}
    # The ward's figures, every month and the year, are its hand count's exactly.
    samples = load_samples()
    (workdir / "db" / "certificate_issue.csv").write_bytes(samples.files["db/certificate_issue.csv"])
    expected = handcount_ward.ward_figures(workdir, AS_OF)
    landed = current_figures(f"sqlite:///{workdir / 'warehouse.db'}", WARD_FY2025)
    assert landed.keys() == expected.keys()
    for key, want in expected.items():
        assert landed[key] == pytest.approx((want["value"], want["numerator"], want["denominator"], want["as_of"]),
                                            abs=1e-9), key
    assert rows["speech_hours_monthly"]["target"] == 1870 and rows["myna_moveout_share"]["target"] == 0.25

    from openpyxl import load_workbook

    assert main(["report", "--config", str(workdir / "jisseki.toml"), "--out", str(tmp_path / "report")]) == 0
    out = tmp_path / "report"   # two departments: an index, and a page and a workbook each
    assert "月403時間" in (out / "osaka-digital-office-fy2025.html").read_text("utf-8")
    index = (out / "index.html").read_text("utf-8")
    assert 'href="osaka-digital-office-fy2025.html"' in index and 'href="osaka-kita-ward-fy2025.html"' in index
    grades: dict[str, str] = {}
    for stem, title in (("osaka-digital-office-fy2025", "令和7年度 デジタル統括室運営方針"),
                        ("osaka-kita-ward-fy2025", "令和7年度 北区役所運営方針")):
        sheet = load_workbook(out / f"{stem}.xlsx")["達成状況"]
        grades |= {row[7]: row[3] for row in sheet.iter_rows(values_only=True)}   # KPI ID → 達成状況
        assert sheet["A2"].value.startswith(title)   # not FY2026's, already in the folder
    assert [grades[k] for k in SEED_FY2025].count("A") == 14 and [grades[k] for k in WARD_FY2025].count("A") == 4

    before = table_counts(f"sqlite:///{workdir / 'warehouse.db'}")
    assert main(["demo", "--workdir", str(workdir)]) == 0  # a second demo run lands nothing new
    after = table_counts(f"sqlite:///{workdir / 'warehouse.db'}")
    for table_name in ("kpi_actual", "quarantine", "lineage"):
        assert after[table_name] == before[table_name], table_name


def test_a_missing_config_or_unknown_source_is_a_clear_error(tmp_path, capsys) -> None:
    assert main(["run", "--config", str(tmp_path / "none.toml")]) == 2
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'w.db'}", None, speech="")
    assert main(["run", "--config", str(config), "--source", "speech_usage"]) == 2
    assert "speech_usage" in capsys.readouterr().err


def test_an_unreachable_warehouse_is_a_clear_error_without_the_password(tmp_path, capsys) -> None:
    url = "postgresql://jisseki:Pa55word@127.0.0.1:1/nowhere"
    config = write_config(tmp_path, url, None, speech="")
    assert main(["run", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "倉庫に接続できません" in err and "Pa55word" not in err and "***" in err


def speech_file(folder: Path, rows: int, bad: dict[int, dict]) -> None:
    """One month of speech-recognition sessions (contract 3), 45 minutes each; row i replaced by bad[i]."""
    folder.mkdir()
    lines = []
    for i in range(rows):
        day = 1 + i % 28
        row = {"session_id": f"S-202603{day:02d}-{i:04d}", "device_id": f"SR-{i % 7:04d}", "department_code": "D0528",
               "started_at": f"2026-03-{day:02d}T08:30:00+09:00", "ended_at": f"2026-03-{day:02d}T09:15:00+09:00",
               "loan_type": "annual"}
        lines.append(json.dumps({**row, **bad.get(i, {})}))
    (folder / "speech_202603.jsonl").write_text("\n".join(lines) + "\n", "utf-8")


def test_flow_run_artifacts_japanese_progress_of_every_source_and_failed_expectations(tmp_path, monkeypatch) -> None:
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    # 100 sessions; row 4 lasts 25 hours, rows 11 and 29 have a loan type the contract does not know
    bad = {4: {"ended_at": "2026-03-06T09:30:00+09:00"}, 11: {"loan_type": "weekly"}, 29: {"loan_type": "weekly"}}
    speech_file(tmp_path / "speech", 100, bad)
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    url = f"sqlite:///{tmp_path / 'w.db'}"
    with SampleApi.nocode(load_samples().records(NOCODE_APPS), TOKEN) as nocode:
        config = write_config(tmp_path, url, None, moveout="missing-folder", speech="speech",
                              **{"sources.nocode_apps": {"base_url": nocode.base_url, "token_env": TOKEN_ENV}})
        assert run_nightly(config, AS_OF, None) == 1   # moveout_log fails: its folder is not there
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        runs = {r.source: r for r in conn.execute(sa.text("SELECT * FROM source_run"))}
    engine.dispose()
    assert {name: r.status for name, r in runs.items()} == \
        {"moveout_log": "failed", "speech_usage": "landed", "nocode_apps": "landed"}
    with get_client(sync_client=True) as client:
        artifacts = {a.key: a for a in client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[UUID(runs["speech_usage"].flow_run_id)])))}
    data = {key: json.loads(a.data) if a.type == "table" and isinstance(a.data, str) else a.data
            for key, a in artifacts.items()}

    table = data["kpi-evaluation"]
    assert artifacts["kpi-evaluation"].type == "table" and len(table) == 15
    assert {"経営課題", "年度", "指標", "目標", "実績", "達成状況", "状況", "前年度実績"} <= set(table[0])

    # progress-<source> for every source of the run, the API without a page total and the failed one included
    for name, status in (("speech_usage", "取込済"), ("nocode_apps", "取込済"), ("moveout_log", "失敗")):
        progress = artifacts[f"progress-{name.replace('_', '-')}"]
        assert progress.type == "progress" and progress.data == 100.0
        assert progress.description == f"{name} の読込状況: 終了（{status}）"

    summary = {row["ソース"]: row for row in data["source-summary"]}
    speech = runs["speech_usage"]
    assert summary["speech_usage"] == {
        "ソース": "speech_usage", "状態": "取込済", "読込": "100 行", "隔離": "3 行",
        "隔離の理由": "24時間を超えるセッションです 1 行、loan_type が annual・short_term のいずれでもありません 2 行", "集計値": f"{speech.figures:,} 件",
        "新しい版": f"{speech.revisions_added:,} 件", "メッセージ": "—"}
    assert speech.figures > 0 and summary["moveout_log"]["状態"] == "失敗"
    assert "missing-folder" in summary["moveout_log"]["メッセージ"]
    english = re.compile(r"\b(figures?|revisions?|rows?|new|landed|failed|rejected|quarantined?)\b", re.IGNORECASE)
    assert not any(english.search(value) for row in summary.values() for key, value in row.items()
                   if key != "ソース"), summary

    # the failed expectations, from the flow run page: reason, column, count, share and row positions, no values
    validation = artifacts["validation-speech-usage"]
    assert validation.type == "markdown"
    text = validation.data
    assert "### speech_usage.records（行の検証）" in text and "検証 1 回、100 件。失敗した期待 2 件。" in text
    assert "| 24時間を超えるセッションです | duration_hours | 1 | 1.00% | 1回目: 4 |" in text
    assert "| loan_type が annual・short_term のいずれでもありません | loan_type | 2 | 2.00% | 1回目: 11, 29 |" in text
    assert "### speech_usage.figures（集計値の検証）" in text
    assert "weekly" not in text and "S-2026" not in text and "2026-03-06" not in text
    assert "検証していません" in data["validation-moveout-log"]
    assert "### nocode_apps.records（行の検証）" in data["validation-nocode-apps"]

    # Data Docs: a path to open on the machine, not a file:// link the UI's page cannot open
    docs = tmp_path / "gx-data" / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    assert artifacts["gx-data-docs"].type == "markdown" and docs.is_file()
    assert f"`{docs}`" in artifacts["gx-data-docs"].data and "file://" not in artifacts["gx-data-docs"].data


def test_failed_expectations_are_tallied_over_the_validations_of_a_run() -> None:
    from expectations.runner import MAX_POSITIONS, take_tallies, validate
    from flows.tasks import validation_markdown

    good = {"session_id": "s", "device_id": "d", "department_code": "x", "loan_type": "annual", "started_at": 1,
            "ended_at": 2, "started_epoch": 1.0, "ended_epoch": 2.0, "duration_hours": 1.0, "raw_started": "",
            "raw_ended": ""}
    # two chunks of one run: 30 rows of which 15 have an unknown loan type, then 10 of which 10, one ending early
    first = [{**good, "loan_type": "weekly"} if i % 2 else good for i in range(30)]
    second = [{**good, "loan_type": "weekly"} for _ in range(10)]
    second[3] = {**second[3], "ended_epoch": 0.5}
    assert len(validate("speech_usage.records", first, None, "run-t-speech")) == 15
    assert len(validate("speech_usage.records", second, None, "run-t-speech")) == 11
    (tally,) = take_tallies("run-t-speech")
    assert take_tallies("run-t-speech") == []   # taken once
    assert (tally.suite, tally.validations, tally.rows) == ("speech_usage.records", 2, 40)
    by_code = {f.code: f for f in tally.failed.values()}
    assert set(by_code) == {"unknown_loan_type", "ended_before_started"}
    loan = by_code["unknown_loan_type"]
    assert loan.unexpected == 25 and loan.column == "loan_type"
    assert loan.positions == [(1, i) for i in range(1, 30, 2)] + [(2, i) for i in range(MAX_POSITIONS - 15)]
    assert by_code["ended_before_started"].positions == [(2, 3)]
    assert by_code["ended_before_started"].column == "ended_epoch, started_epoch"
    text = validation_markdown("speech_usage", [tally])
    assert "検証 2 回、40 件。失敗した期待 2 件。" in text
    assert (f"| loan_type が annual・short_term のいずれでもありません | loan_type | 25 | 62.50% | 1回目: "
            f"{', '.join(str(i) for i in range(1, 30, 2))} / 2回目: 0, 1, 2, 3, 4（先頭 20 件） |") in text
    assert "| ended_epoch, started_epoch | 1 | 2.50% | 2回目: 3 |" in text and "weekly" not in text


def test_old_validation_results_are_pruned(tmp_path) -> None:
    from expectations.runner import _context, build_data_docs, validate

    rows = [{"session_id": "s", "device_id": "d", "department_code": "x", "loan_type": "annual", "started_at": 1,
             "ended_at": 2, "started_epoch": 1.0, "ended_epoch": 2.0, "duration_hours": 1.0, "raw_started": "",
             "raw_ended": ""}]
    for n in range(4):
        validate("speech_usage.records", rows, tmp_path, f"run-{n}")
    build_data_docs(tmp_path, keep=2)
    assert len(_context(tmp_path).validation_results_store.list_keys()) == 2


def test_a_file_name_that_is_not_utf8_is_stored_escaped_and_the_good_rows_land(
        tmp_path, monkeypatch, demo_inbox, warehouse_url) -> None:
    import os
    import shutil

    inbox, records = demo_inbox
    speech = tmp_path / "speech"
    shutil.copytree(inbox / "speech", speech)
    odd = os.fsencode(speech) + b"/speech_\x82\xa0.jsonl"   # a name in CP932, as a Windows share delivers it
    with open(odd, "wb") as f:
        f.write(b'{"session_id": "S-odd-1", "device_id": "SR-0001", "department_code": "D0633", '
                b'"started_at": "2026-03-02T09:00:00+09:00", "ended_at": "2026-03-02T10:00:00+09:00", '
                b'"loan_type": "annual"}\nnot json\n')
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with SampleApi(records, TOKEN) as api:
        config = write_config(tmp_path, warehouse_url, api.base_url, moveout="", speech="speech")
        assert run_nightly(config, AS_OF, None) == 0
        assert run_nightly(config, AS_OF, None) == 0   # the same entries, known as stored: none added twice
    engine = sa.create_engine(warehouse_url)
    with engine.connect() as conn:
        quarantined = conn.execute(sa.text("SELECT location, item, reason_code FROM quarantine")).all()
        detail = conn.execute(sa.text("SELECT detail FROM lineage WHERE source = 'speech_usage'")).scalars().all()
        landed = dict(conn.execute(sa.text("SELECT source, COUNT(*) FROM kpi_actual GROUP BY source")).all())
        notes = conn.execute(sa.text("SELECT message FROM source_run WHERE source = 'speech_usage'")).scalars().all()
    engine.dispose()
    assert notes and not [n for n in notes if "ありません" in n]   # the file is known by its stored name
    assert ("speech_\\x82\\xa0.jsonl", "2", "not_json") in quarantined
    assert len(quarantined) == len(set(quarantined))
    assert detail and all("speech_\\x82\\xa0.jsonl" in [f[0] for f in json.loads(d)["files"]] for d in detail)
    assert landed.get("speech_usage") and landed.get("online_procedures")


def test_every_text_landed_is_cleaned_of_nul_and_lone_surrogates(warehouse_url) -> None:
    """At the warehouse boundary, whatever a connector lets through: PostgreSQL refuses NUL, no driver takes a
    lone surrogate (what surrogateescape makes of a byte that is not UTF-8)."""
    from jisseki.batch import Batch
    from jisseki.core.records import Bad, FileInfo, Lineage
    from warehouse.store import connect, land, record_failure

    name = b"a\x82\xa0.csv".decode("utf-8", "surrogateescape")
    lineage = Lineage(files=[FileInfo(name, 1, 1, "h" * 64, 1)])
    bad = Bad(name, "1\x00", "not_json", "理由\x00", value="a\x00b\udcff", content_hash="h")
    batch = Batch("speech_usage", ("speech_hours_monthly",), AS_OF, lineage, bad=[bad], rows_read=1,
                  notes=[f"{name} \x00"])
    engine = connect(warehouse_url)
    land(engine, batch, "run-1")
    land(engine, batch, "run-2")   # the same entry, known by its stored text: not quarantined twice
    record_failure(engine, "moveout_log", AS_OF, f"{name}\x00", "run-1")
    with engine.connect() as conn:
        quarantined = conn.execute(sa.text("SELECT location, item, reason, value FROM quarantine")).all()
        messages = conn.execute(sa.text("SELECT message FROM source_run ORDER BY id")).scalars().all()
        detail = conn.execute(sa.text("SELECT detail FROM lineage")).scalar_one()
    engine.dispose()
    assert quarantined == [("a\\x82\\xa0.csv", "1\\x00", "理由\\x00", "a\\x00b\\xff")]
    assert messages == ["a\\x82\\xa0.csv \\x00"] * 2 + ["a\\x82\\xa0.csv\\x00"]
    assert json.loads(detail)["files"][0][0] == "a\\x82\\xa0.csv"
