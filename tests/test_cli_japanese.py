"""The CLI speaks Japanese only: help, usage and argparse's error lines, under LANG=C too; every option says what
it does; every --fy takes the ways people write a fiscal year; status says which years it has."""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from datetime import date

import pytest

from jisseki.catalog import load_catalog
from jisseki.cli import build_parser, main
from jisseki.core.errors import UsageError
from jisseki.core.periods import parse_fiscal_year
from jisseki.evaluate import evaluate
from tests.support import write_config
from warehouse.store import connect, save_evaluations

# argparse's English, and its headings: none of it may reach people.
ARGPARSE_ENGLISH = re.compile(r"usage|options|show this help|error:|invalid|required|argument|positional|expected"
                              r"|unrecognized|choose from|ambiguous|ignored explicit|version number", re.IGNORECASE)
COMMANDS = ("demo", "run", "serve", "status", "publish", "backfill", "report", "upgrade", "watchdog",
            "manual-template", "quarantine", "check", "preview")


def jisseki(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG"))}
    return subprocess.run([sys.executable, "-m", "jisseki.cli", *args], capture_output=True, text=True, timeout=120,
                          env={**env, "LANG": "C", "LC_ALL": "C", "PYTHONIOENCODING": "utf-8"})


def subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return {"jisseki": parser, **commands.choices}


def test_every_command_is_in_the_parser_and_the_test() -> None:
    assert set(subparsers()) == {"jisseki", *COMMANDS}


def test_every_option_of_every_command_says_what_it_does() -> None:
    missing = [f"{name} {'/'.join(action.option_strings) or action.dest}"
               for name, parser in subparsers().items() for action in parser._actions
               if not isinstance(action, argparse._SubParsersAction)
               and not (action.help and action.help.strip() and action.help != argparse.SUPPRESS)]
    assert missing == []
    # and in Japanese: each help has at least one kana or kanji
    for name, parser in subparsers().items():
        for action in parser._actions:
            assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", action.help or ""), (name, action.option_strings)


@pytest.mark.e2e
@pytest.mark.parametrize("args", [("--help",), *((command, "--help") for command in COMMANDS)])
def test_help_is_japanese(args) -> None:
    done = jisseki(*args)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("使い方: jisseki")
    assert "オプション:" in done.stdout and "この説明を表示して終了する" in done.stdout
    assert not ARGPARSE_ENGLISH.search(done.stdout), done.stdout
    if args == ("--help",):
        assert "コマンド:" in done.stdout and "jisseki の版を表示して終了する" in done.stdout
        assert all(command in done.stdout for command in COMMANDS)


@pytest.mark.e2e
@pytest.mark.parametrize(("args", "says"), [
    ((), "次の指定が必要です: コマンド"),
    (("nope",), "コマンド: 'nope' は選べません（選べるもの: 'demo', 'run'"),
    (("run", "--as-of"), "--as-of: 値を1つ指定してください"),
    (("run", "--as-of", "2026/03/31"), "--as-of: 日付 '2026/03/31' は読めません。YYYY-MM-DD の形で"),
    (("run", "--wait", "abc"), "--wait: 数値ではありません: 'abc'"),
    (("run", "--debug=1"), "--debug には値を付けられません（'1'）"),
    (("status", "--format", "xml"), "--format: 'xml' は選べません（選べるもの: 'table', 'json'）"),
    (("status", "--bogus"), "知らない指定です: --bogus"),
    (("status", "--f", "2025"), "--f は次のどれの略か決められません: --fy, --format"),
    (("status", "--fy", "R0"), "--fy: 年度 'R0' は読めません。2025・FY2025・令和7年度・令和7・R7"),
    (("backfill",), "次の指定が必要です: --from, --to"),
    (("manual-template", "--fy", "2025", "--out", "実績.csv"), "--out: 実績.csv は .xlsx のファイル名ではありません"),
    (("preview", "--config", "x.toml"), "次の指定が必要です: --source"),
    (("preview", "--source", "x", "--format", "csv"), "--format: 'csv' は選べません（選べるもの: 'table', 'json'）"),
    (("check", "--as-of", "2026/03/31"), "--as-of: 日付 '2026/03/31' は読めません。YYYY-MM-DD の形で"),
])
def test_wrong_invocations_are_refused_in_japanese(args, says) -> None:
    done = jisseki(*args)
    assert done.returncode == 2
    assert done.stdout == "" and done.stderr.startswith("使い方: jisseki")
    last = done.stderr.splitlines()[-1]
    # argparse's top parser is the one that reports an unknown command and arguments no parser took
    prog = "jisseki" if not args or args[0] == "nope" or "--bogus" in args else f"jisseki {args[0]}"
    assert last.startswith(f"{prog}: エラー: ") and says in last, done.stderr
    assert not ARGPARSE_ENGLISH.search(done.stderr), done.stderr


@pytest.mark.parametrize("text", ["2025", "FY2025", "fy2025", "Fy2025", "令和7年度", "令和7", "R7", "r7", "２０２５",
                                  "ＦＹ２０２５", "令和７年度", "Ｒ７", " 2025 "])
def test_every_way_of_writing_fy2025(text) -> None:
    assert parse_fiscal_year(text) == 2025


def test_other_years_and_the_first_of_reiwa() -> None:
    assert [parse_fiscal_year(t) for t in ("令和元年度", "令和元", "R1", "令和99年度", "1999", "FY2026", "R8")] \
        == [2019, 2019, 2019, 2117, 1999, 2026, 2026]


@pytest.mark.parametrize("text", ["R0", "r0", "令和0年度", "令和00", "令和100年度", "R100", "25", "20255", "FY25",
                                  "0999", "2200", "平成30年度", "2025年度", "R7年度", "FY 2025", "", "令和", "R-1"])
def test_what_is_not_a_fiscal_year_is_refused_in_japanese(text) -> None:
    with pytest.raises(UsageError) as refused:
        parse_fiscal_year(text)
    assert f"年度 {text!r} は読めません" in str(refused.value) and "R7" in str(refused.value)


def test_the_workbook_reads_its_forms_as_before() -> None:
    """The workbook's 年度 column shares the forms; it still does not take 令和7 without 年度 (its drop-down never
    offers it), and still reads numbers as years."""
    from connectors.manual_entries import parse_year

    assert [parse_year(v) for v in ("2025", "FY2025", "令和7年度", "R7", "２０２５", 2025, 2025.0)] == [2025] * 7
    assert [parse_year(v) for v in ("令和7", "2025年度", 2025.5, None, "")] == [None] * 5


@pytest.fixture
def warehouse(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    config = write_config(tmp_path, url, None)
    return config, connect(url)


def test_status_of_a_year_without_evaluations_names_the_years_there_are(warehouse, capsys) -> None:
    config, engine = warehouse
    catalog = load_catalog(None)
    save_evaluations(engine, evaluate([], catalog, date(2026, 3, 31)), "run-1")
    # the bundled policy is FY2025's: the same verdicts as of the year before stand for a second year landed
    save_evaluations(engine, [replace(v, fiscal_year=2024, as_of=date(2025, 3, 31))
                              for v in evaluate([], catalog, date(2026, 3, 31))], "run-0")
    assert main(["status", "--config", str(config), "--fy", "1999"]) == 0
    assert capsys.readouterr().out == "1999年度の評価はありません（倉庫にある年度: 2024年度、2025年度）\n"
    assert main(["status", "--config", str(config), "--fy", "1999", "--format", "json"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out) == [] and out.err == "1999年度の評価はありません（倉庫にある年度: 2024年度、2025年度）\n"
    assert main(["status", "--config", str(config), "--fy", "R7", "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert len(shown) == len(catalog.indicators) and {e["fiscal_year"] for e in shown} == {2025}
    assert main(["status", "--config", str(config), "--fy", "令和６年度", "--format", "json"]) == 0
    assert {e["fiscal_year"] for e in json.loads(capsys.readouterr().out)} == {2024}
    out_dir = config.parent / "report"
    assert main(["report", "--config", str(config), "--fy", "1999", "--out", str(out_dir)]) == 1
    assert capsys.readouterr().err == "1999年度の評価はありません（倉庫にある年度: 2024年度、2025年度）\n"
    assert not (out_dir / "index.html").exists()


def test_status_of_an_empty_warehouse_still_says_to_run_jisseki_run(warehouse, capsys) -> None:
    config, _ = warehouse
    assert main(["status", "--config", str(config), "--fy", "1999"]) == 0
    assert "jisseki run" in capsys.readouterr().out
