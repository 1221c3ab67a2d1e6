"""`jisseki quarantine`: the rows two sources set aside on real reads, listed for their owners (as a separate
process, as people run it), and every reason code the code base can emit has its Japanese words."""
from __future__ import annotations

import ast
import csv
import io
import json
import os
import re
import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from jisseki.catalog import load_catalog
from jisseki.config import to_toml
from jisseki.pipeline import collect
from jisseki.rejections import MAX_SHOWN, REASONS, Rejections, rejections_html
from jisseki.report_files import write_report
from jisseki.source_config import FolderSourceConfig, MoveoutSourceConfig
from jisseki.sources import SOURCE_DEFS, SOURCE_NAMES
from tests.support import table_counts
from warehouse.quarantine import quarantined, reason_counts
from warehouse.store import connect, land

ROOT = Path(__file__).resolve().parent.parent
JISSEKI = str(Path(sys.executable).with_name("jisseki"))
CATALOG = load_catalog()
NAMES = ("山田花子", "佐藤一郎")
HEADER = "受付日,区コード,区名,受付番号,届出経路,取消"
EARLIER = datetime(2026, 3, 1, 0, 30, tzinfo=timezone.utc)   # 2026-03-01 09:30 in Japan


def receipt(n: int) -> str:
    return f"R7-{5550000 + n:07d}"


PERSONAL = {*NAMES, *(receipt(n) for n in range(200))}


def moveout_inbox(folder: Path) -> None:
    folder.mkdir()
    good = [f"2025/04/{1 + n % 28:02d},271021,都島区,{receipt(n)},窓口,0" for n in range(100, 140)]
    planted = [f"{NAMES[0]},271021,都島区,{receipt(1)},窓口,0",              # line 12: a name as the date
               f"2025/04/02,{receipt(2)},都島区,{receipt(3)},窓口,0",        # line 13: a receipt as the ward
               f'2025/04/02,271021,都島区,"{receipt(4)},窓口,0']             # line 14: a stray quote
    lines = [HEADER, *good[:10], *planted, *good[10:]]
    (folder / "2025-04.csv").write_bytes(("\r\n".join(lines) + "\r\n").encode("cp932"))
    (folder / "twice.csv").write_bytes(("受付日,区コード,区名,受付番号,受付番号,届出経路,取消\r\n"
                                        f"2025/04/05,271021,都島区,{receipt(5)},{receipt(6)},窓口,0\r\n")
                                       .encode("cp932"))


def manual_inbox(folder: Path) -> None:
    from openpyxl import Workbook

    folder.mkdir()
    book = Workbook()
    sheet = book.active
    sheet.title = "実績"
    sheet.append(["KPI ID", "年度", "実績値", "根拠", "入力者", "入力日"])
    sheet.append(["external_specialists", "2025", "7名", "名簿", "デジタル統括室", "2026-04-10"])
    sheet.append([NAMES[1], "2025", "3", "記録", "デジタル統括室", "2026-04-10"])                  # row 3
    sheet.append(["infra_training_participants", "2025", NAMES[0], "記録", "デジタル統括室", "2026-04-10"])  # 4
    sheet.append(["dx_core_training_participants", "R7", "12人", "記録", "デジタル統括室", "2026-04-10"])
    sheet.append(["data_pilot_projects", "来年", "3", "記録", "デジタル統括室", "2026-04-10"])       # row 6
    book.save(folder / "実績入力.xlsx")


def run_cli(*args: str, check: int | None = 0) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "GX_ANALYTICS_ENABLED": "false"}
    env.pop("JISSEKI_CONFIG", None)
    done = subprocess.run([JISSEKI, *args], capture_output=True, text=True, encoding="utf-8", env=env,
                          timeout=120)
    if check is not None:
        assert done.returncode == check, done.stderr
    return done


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse on which the moving-out log was read an earlier night and the workbook tonight."""
    root = tmp_path_factory.mktemp("quarantine")
    moveout_inbox(root / "moveout")
    manual_inbox(root / "manual")
    url = f"sqlite:///{root / 'warehouse.db'}"
    engine = connect(url)
    night = collect(SOURCE_DEFS["moveout_log"], MoveoutSourceConfig(path=root / "moveout"), CATALOG,
                    date(2025, 4, 30), 0.9)
    land(engine, night, "run-earlier")
    assert table_counts(url)["quarantine"] == 4
    # The night it was read: what `jisseki run` stamps is now(), so an earlier night is dated back.
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE quarantine SET detected_at = :at"), {"at": EARLIER.replace(tzinfo=None)})
    night = collect(SOURCE_DEFS["manual_entries"], FolderSourceConfig(path=root / "manual"), CATALOG,
                    date(2026, 4, 30), 1.0)
    land(engine, night, "run-tonight")
    assert table_counts(url)["quarantine"] == 4 + 3
    engine.dispose()
    (root / "jisseki.toml").write_text(to_toml({
        "warehouse": {"url": "sqlite:///warehouse.db"},
        "sources.moveout_log": {"path": "moveout"},
        "sources.manual_entries": {"path": "manual"},
    }), "utf-8")
    return root


MOVEOUT = [  # (file, line, column, reason code, value) as planted above
    ("2025-04.csv", "12", "受付日", "bad_date", "文字列（4文字）"),
    ("2025-04.csv", "13", "区コード", "unknown_ward", "文字列（10文字）"),
    ("2025-04.csv", "14", "", "malformed_csv", ""),
    ("twice.csv", "見出し行", "見出し", "duplicate_columns", ""),
]
MANUAL = [
    ("実績入力.xlsx", "3", "KPI ID", "unknown_kpi", "文字列（4文字）"),
    ("実績入力.xlsx", "4", "実績値", "bad_value", "文字列（4文字）"),
    ("実績入力.xlsx", "6", "年度", "bad_fiscal_year", "文字列（2文字）"),
]


def japan_today() -> str:
    from jisseki.core.periods import JST

    return datetime.now(JST).date().isoformat()


def parsed(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def expected(source: str, planted: list[tuple[str, str, str, str, str]], day: str) -> list[tuple[str, ...]]:
    label = f"{SOURCE_NAMES[source]}（{source}）"
    return [(label, file, line, column, value, REASONS[code].text, day) for file, line, column, code, value in planted]


def listed(rows: list[dict[str, str]]) -> list[tuple[str, ...]]:
    return [(r["ソース"], r["ファイル"], r["行"], r["列"], r["値"], r["理由"], r["除外日"]) for r in rows]


@pytest.mark.e2e
def test_csv_lists_exactly_the_planted_rows_of_both_sources(inbox: Path) -> None:
    done = run_cli("quarantine", "--config", str(inbox / "jisseki.toml"), "--format", "csv")
    rows = parsed(done.stdout)
    assert listed(rows) == (expected("manual_entries", MANUAL, japan_today())
                            + expected("moveout_log", MOVEOUT, "2026-03-01"))
    details = {(r["ファイル"], r["行"]): r["詳細"] for r in rows}
    # What a reader said of one row stays with it; a row the suite alone set aside needs none.
    assert details[("twice.csv", "見出し行")] == "見出しに同じ列名が複数あります: 受付番号（どの列を読むか決められません）"
    assert details[("2025-04.csv", "12")] == "" and details[("実績入力.xlsx", "3")] == ""
    assert {r["行数"] for r in rows} == {"1"}
    assert not done.stdout.startswith("\ufeff")    # stdout is plain UTF-8; --out writes the BOM


@pytest.mark.e2e
def test_the_table_is_aligned_by_display_width_and_counts(inbox: Path) -> None:
    out = run_cli("quarantine", "--config", str(inbox / "jisseki.toml")).stdout
    lines = out.splitlines()
    assert lines[0].split() == ["ソース", "ファイル", "行", "列", "値", "理由", "詳細", "行数", "除外日"]
    assert lines[-1] == "7 件（7 行）"
    width = lambda text: sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)  # noqa: E731
    starts = {width(line[:line.index(day)]) for line in lines[1:8] for day in ("2026-03-01", japan_today())
              if day in line}
    assert len(starts) == 1   # the day column starts at one display column on every row
    assert sum("転出届 受付ログ（moveout_log）" in line for line in lines) == 4


@pytest.mark.e2e
def test_source_and_since_restrict_the_list(inbox: Path) -> None:
    config = str(inbox / "jisseki.toml")
    only = parsed(run_cli("quarantine", "--config", config, "--source", "moveout_log", "--format", "csv").stdout)
    assert listed(only) == expected("moveout_log", MOVEOUT, "2026-03-01")
    since = parsed(run_cli("quarantine", "--config", config, "--since", "2026-03-02", "--format", "csv").stdout)
    assert listed(since) == expected("manual_entries", MANUAL, japan_today())
    # 2026-03-01 in Japan began at 15:00 UTC the day before: that night counts from then.
    same_day = parsed(run_cli("quarantine", "--config", config, "--since", "2026-03-01", "--format", "csv").stdout)
    assert len(same_day) == 7
    none = run_cli("quarantine", "--config", config, "--source", "speech_usage")
    assert none.stdout == "除外した行はありません\n"


@pytest.mark.e2e
def test_an_unknown_source_or_a_bad_option_is_a_usage_error(inbox: Path, tmp_path: Path) -> None:
    config = str(inbox / "jisseki.toml")
    done = run_cli("quarantine", "--config", config, "--source", "moveout", check=2)
    assert "--source moveout というソースはありません" in done.stderr and "moveout_log" in done.stderr
    done = run_cli("quarantine", "--config", config, "--out", str(tmp_path / "除外.xlsx"), check=2)
    assert "は .csv のファイル名ではありません" in done.stderr and not (tmp_path / "除外.xlsx").exists()
    done = run_cli("quarantine", "--config", config, "--since", "2026/3/1x", check=2)
    assert "--since" in done.stderr
    assert "除外した行" in run_cli("quarantine", "--help").stdout


@pytest.mark.e2e
def test_out_writes_csv_with_a_bom_for_excel(inbox: Path, tmp_path: Path) -> None:
    out = tmp_path / "除外.csv"
    done = run_cli("quarantine", "--config", str(inbox / "jisseki.toml"), "--source", "manual_entries",
                   "--out", str(out))
    assert done.stdout == f"{out}: 除外した行 3 件\n"
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert listed(parsed(data.decode("utf-8-sig"))) == expected("manual_entries", MANUAL, japan_today())


@pytest.mark.e2e
def test_nothing_personal_that_was_planted_is_shown(inbox: Path, tmp_path: Path) -> None:
    config = str(inbox / "jisseki.toml")
    out = tmp_path / "all.csv"
    texts = [run_cli("quarantine", "--config", config, *extra).stdout
             for extra in ((), ("--format", "csv"), ("--out", str(out)))]
    engine = connect(f"sqlite:///{inbox / 'warehouse.db'}", create=False)
    html = rejections_html(quarantined(engine), reason_counts(engine))
    engine.dispose()
    blob = "".join(texts) + out.read_text("utf-8-sig") + html
    assert [v for v in sorted(PERSONAL) if v in blob] == []
    assert str(Path.home()) not in blob and str(inbox) not in "".join(texts[:2])


@pytest.mark.e2e
def test_a_missing_warehouse_is_said_and_not_made_and_an_empty_one_lists_nothing(tmp_path: Path) -> None:
    config = tmp_path / "jisseki.toml"
    config.write_text(to_toml({"warehouse": {"url": "sqlite:///none.db"}}), "utf-8")
    done = run_cli("quarantine", "--config", str(config), check=1)
    assert "倉庫がありません" in done.stderr and not (tmp_path / "none.db").exists()
    connect(f"sqlite:///{tmp_path / 'none.db'}").dispose()
    done = run_cli("quarantine", "--config", str(config))
    assert done.stdout == "除外した行はありません\n"


def test_the_query_orders_limits_and_filters_alike_on_every_database(warehouse_url: str, tmp_path: Path) -> None:
    moveout_inbox(tmp_path / "moveout")
    engine = connect(warehouse_url)
    night = collect(SOURCE_DEFS["moveout_log"], MoveoutSourceConfig(path=tmp_path / "moveout"), CATALOG,
                    date(2025, 4, 30), 0.9)
    land(engine, night, "run-1")
    with engine.begin() as conn:   # the header's file an earlier night (2026-03-01 in Japan)
        conn.execute(sa.text("UPDATE quarantine SET detected_at = :at WHERE location = 'twice.csv'"),
                     {"at": EARLIER if warehouse_url.startswith("postgresql") else EARLIER.replace(tzinfo=None)})
    everything = quarantined(engine)
    assert [(r["location"], r["item"]) for r in everything] == [
        ("2025-04.csv", "12"), ("2025-04.csv", "13"), ("2025-04.csv", "14"), ("twice.csv", "header")]
    assert everything[-1]["detected_at"] == EARLIER
    assert [r["item"] for r in quarantined(engine, limit_per_source=2)] == ["12", "13"]
    assert [r["item"] for r in quarantined(engine, since=date(2026, 3, 2))] == ["12", "13", "14"]
    assert len(quarantined(engine, since=date(2026, 3, 1))) == 4
    assert quarantined(engine, source="speech_usage") == []
    assert reason_counts(engine, since=date(2026, 3, 2)) == {("moveout_log", "bad_date"): 1,
                                                             ("moveout_log", "unknown_ward"): 1,
                                                             ("moveout_log", "malformed_csv"): 1}
    engine.dispose()


# --- the report's sections ----------------------------------------------------------------------------------

def row(source: str, item: str, code: str, value: str = "", location: str = "a.csv") -> dict:
    return {"source": source, "location": location, "item": item, "reason_code": code,
            "reason": REASONS[code].text, "value": value, "rows": 1, "detected_at": EARLIER}


def test_rejections_html_has_a_section_per_source_with_counts_escaped_and_capped() -> None:
    rows = [row("moveout_log", str(n), "bad_date", location="<b>x</b>.csv") for n in range(2, 2 + MAX_SHOWN + 5)]
    rows += [row("moveout_log", "9", "unknown_ward"), row("manual_entries", "3", "unknown_kpi", "R&D")]
    whole = rejections_html(rows, sources={n: SOURCE_NAMES[n] for n in ("moveout_log", "manual_entries", "speech_usage")})
    assert whole.startswith('<section class="rejected"><h2>除外した行</h2>') and whole.endswith("</section></section>")
    sections = ['<section class="rejections">' + part for part in whole.split('<section class="rejections">')[1:]]
    assert len(sections) == 3
    moveout, manual, speech = sections
    assert '<h3 title="moveout_log">転出届 受付ログ</h3>' in moveout
    assert "<td>受付日を解釈できません</td><td class=\"num\">205</td>" in moveout
    assert "<td>区コードが大阪市の24区にありません</td><td class=\"num\">1</td>" in moveout
    assert moveout.count('<td data-label="ファイル">&lt;b&gt;x&lt;/b&gt;.csv</td>') == MAX_SHOWN and "<b>x</b>" not in moveout
    assert "ほか 6 件は表示していません" in moveout
    assert '<td data-label="値">R&amp;D</td>' in manual and '<td data-label="列">KPI ID</td>' in manual
    assert "除外した行はありません" in speech and "<table>" not in speech
    assert rejections_html([]) == '<section class="rejected"><h2>除外した行</h2><p>除外した行はありません</p></section>'


def test_csv_keeps_a_formula_like_value_as_text_and_a_negative_number_as_it_is() -> None:
    from jisseki.rejections import write_csv

    out = io.StringIO()
    values = ("=HYPERLINK(1)", "-5", "-1+2")
    write_csv([row("manual_entries", str(n), "bad_value", value) for n, value in enumerate(values, start=3)], out)
    assert [r["値"] for r in parsed(out.getvalue())] == ["'=HYPERLINK(1)", "-5", "'-1+2"]


def test_the_report_page_ends_with_the_sections(inbox: Path, tmp_path: Path) -> None:
    engine = connect(f"sqlite:///{inbox / 'warehouse.db'}", create=False)
    rejections = Rejections(quarantined(engine, limit_per_source=2), reason_counts(engine), {"moveout_log": "転出届 受付ログ"})
    engine.dispose()
    assert [r["item"] for r in rejections.rows] == ["3", "4", "12", "13"]   # the first two of each source
    html_path, _ = write_report([], [], CATALOG, 2025, tmp_path, rejections=rejections)
    page = html_path.read_text("utf-8")
    sections = page[page.index('<section class="rejections">'):]
    assert page.index('<section class="rejections">') > page.rfind('id="challenge-')   # after the indicators
    assert sections.count('<section class="rejections">') == 2
    assert "ほか 2 件は表示していません" in page and "ほか 1 件は表示していません" in page


# --- every reason code has its words --------------------------------------------------------------------------

# Calls that take a reason code as a literal, and at which position (after a leading *starred argument).
EMITTERS = {"Bad": 2, "Unfit": 0, "CsvRow": 2, "Header": 2, "bad": 0, "rejected": 1, "expect": 2, "LineProblem": 0}
# What else a Bad may be given as its code: a code made by one of the emitters above, passed on.
PASSED_ON = {"row.code", "header.code", "failures[0].code", "unfit.code", "code", "*problem"}
CODE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")


def emitted_codes() -> dict[str, str]:
    """Every code literal the connectors, the pipeline and the suites can give, with where it is."""
    found: dict[str, str] = {}
    sources = [*(ROOT / "connectors").glob("*.py"), *(ROOT / "jisseki").rglob("*.py"), *(ROOT / "flows").glob("*.py")]
    for path in sorted(sources):
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", getattr(node.func, "attr", None))
                if name not in EMITTERS:
                    continue
                args = node.args
                at = EMITTERS[name] - (1 if args and isinstance(args[0], ast.Starred) else 0)
                if len(args) <= at:
                    continue
                arg = args[at]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.setdefault(arg.value, f"{path.name}:{node.lineno}")
                elif name == "Bad":
                    assert ast.unparse(arg) in PASSED_ON, f"{path.name}:{node.lineno} gives a code this test cannot see"
            elif isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple) and len(node.value.elts) > 1:
                first, second = node.value.elts[:2]   # header_problem's (code, reason): a reason in Japanese
                reason = isinstance(second, ast.JoinedStr) or (
                    isinstance(second, ast.Constant) and isinstance(second.value, str)
                    and re.search(r"[ぁ-んァ-ヶ一-龠]", second.value))
                if isinstance(first, ast.Constant) and isinstance(first.value, str) and CODE.fullmatch(first.value) \
                        and reason:
                    found.setdefault(first.value, f"{path.name}:{node.lineno}")
    for name, suite in suites():
        for entry in suite["expectations"]:
            found.setdefault(entry["meta"]["code"], name)
    return found


def suites() -> list[tuple[str, dict]]:
    """Every suite: the files in expectations/, and those the shipped declarations make."""
    from jisseki.declared import rules
    from jisseki.sources import SOURCE_DEFS

    out = [(path.name, json.loads(path.read_text("utf-8"))) for path in sorted((ROOT / "expectations").glob("*.json"))]
    for name, source in SOURCE_DEFS.items():
        if source.declaration is not None:
            decl = source.config.model_validate({**source.declaration, "base_url": "http://x", "token_env": "T"})
            out.append((f"{name} (declared records)", rules.records_suite(name, decl)))
            out.append((f"{name} (declared figures)", rules.figures_suite(name, dict(source.measures), False)))
    return out


def test_every_code_the_code_base_can_emit_has_japanese_words() -> None:
    codes = emitted_codes()
    # The scan sees the kinds of site there are: a reader's, a header's, the workbook's, a suite's.
    assert {"malformed_csv", "duplicate_columns", "missing_columns", "workbook_too_large", "not_json",
            "unaccounted_rows", "bad_date", "unknown_kpi"} <= set(codes)
    missing = {code: where for code, where in codes.items() if code not in REASONS}
    assert missing == {}
    assert set(REASONS) - set(codes) == set()    # no words for a code nothing gives
    assert all(re.search(r"[ぁ-んァ-ヶ一-龠]", r.text) for r in REASONS.values())


def test_a_suite_code_with_one_reason_has_the_suites_words() -> None:
    said: dict[str, set[str]] = {}
    # A declared rule's reason names its column, which differs from declaration to declaration.
    for _, suite in (s for s in suites() if not s[0].endswith("(declared records)")):
        for entry in suite["expectations"]:
            said.setdefault(entry["meta"]["code"], set()).add(entry["meta"]["reason"])
    differ = {code: (REASONS[code].text, texts) for code, texts in said.items()
              if len(texts) == 1 and REASONS[code].text not in texts}
    assert differ == {}


def test_a_missing_value_reads_as_empty_not_as_pythons_none() -> None:
    from jisseki.rejections import rejected

    assert [rejected(row("speech_usage", "3", "bad_timestamp", v)).value for v in ("None", "nan", "", "25.0")] \
        == ["（空）", "（空）", "", "25.0"]


@pytest.mark.e2e
def test_a_reader_that_stops_reading_is_not_an_error(inbox: Path) -> None:
    """`jisseki quarantine … | head -1`: the reader goes away, and that is what the user asked for. `true` reads
    nothing and is gone long before jisseki has started, so every write meets a closed pipe."""
    env = {**os.environ, "DO_NOT_TRACK": "1", "GX_ANALYTICS_ENABLED": "false"}
    env.pop("JISSEKI_CONFIG", None)
    done = subprocess.run(f"'{JISSEKI}' quarantine --config '{inbox / 'jisseki.toml'}' | true; "
                          'exit "${PIPESTATUS[0]}"', shell=True, executable="/bin/bash", capture_output=True,
                          text=True, encoding="utf-8", env=env, timeout=120)
    assert done.returncode == 0 and done.stderr == "", done
