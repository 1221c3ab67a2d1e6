"""`jisseki check` and `jisseki preview`, the tools of the person writing a declaration: a CSV, a SQLite and a
REST declaration tried without landing, each problem said with what to do (exit 1), the figures a preview
prints equal to a hand count, and nothing written anywhere (the folder listed before and after)."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from jisseki.cli import main
from tests.test_declared_collect import CONFIG, HEADER, POLICY, ROWS

AS_OF = "2025-05-31"
LENIENT = "\n[validation]\nmax_bad_ratio = 1.0\n"   # the sample rows are half bad on purpose
DB_ENV = "JISSEKI_TEST_WINDOW_DB"

QUERY = "SELECT day, ward, wait, counter FROM visits WHERE day BETWEEN :start AND :end"
SQL_CONFIG = """
[catalog]
path = "policy.toml"

[sources.window_queue]
type = "sql"
title = "窓口DB"
url_env = "{env}"
query = "{query}"
date = "受付日"
scope = "区コード"

[sources.window_queue.columns]
"受付日" = {{ type = "date", source = "day", required = true }}
"区コード" = {{ type = "ward", source = "ward", required = true }}
"待ち時間" = {{ type = "number", source = "wait", min = 0, max = 600 }}
"窓口" = {{ type = "text", source = "counter", allowed = ["住民票", "戸籍", "税"] }}
"""

REST_CONFIG = """
[catalog]
path = "policy.toml"

[sources.window_queue]
type = "rest"
title = "窓口API"
base_url = "{base_url}"
path = "/visits"
auth = "none"
records_path = "{records_path}"
paginator = {{ type = "page_number", size_param = "per_page", size = 2 }}
max_retries = 0
date = "受付日"
scope = "区コード"

[sources.window_queue.columns]
"受付日" = {{ type = "date", format = "iso", source = "day", required = true }}
"区コード" = {{ type = "ward", source = "meta.ward", required = true }}
"待ち時間" = {{ type = "number", source = "wait" }}
"窓口" = {{ type = "text", source = "counter" }}
"""

# A second declaration over the same folder, which no indicator uses.
SPARE = """
[sources.spare]
type = "csv"
title = "予備の受付ログ"
path = "inbox/queue"
date = "受付日"

[sources.spare.columns]
"受付日" = { type = "date", required = true }
"""

VISITS = [("2025-04-01", "271021", 10, "住民票"), ("2025-04-02", "271021", 20, "戸籍"),
          ("2025-05-01", "271039", 30, "住民票"), ("2025-05-02", "271039", 40, "税")]


def listing(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under root, with its size and modification time."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}


def csv_source(root: Path, config: str = CONFIG, policy: str = POLICY, header: str = HEADER,
               rows: list[str] = ROWS) -> Path:
    (root / "jisseki.toml").write_text(config, "utf-8")
    (root / "policy.toml").write_text(policy, "utf-8")
    inbox = root / "inbox" / "queue"
    inbox.mkdir(parents=True)
    (inbox / "queue_2025.csv").write_bytes((header + "\r\n".join(rows) + "\r\n").encode("cp932"))
    return root / "jisseki.toml"


def sql_source(root: Path, query: str = QUERY) -> tuple[Path, dict[str, str]]:
    (root / "jisseki.toml").write_text(SQL_CONFIG.format(env=DB_ENV, query=query), "utf-8")
    (root / "policy.toml").write_text(POLICY, "utf-8")
    with sqlite3.connect(root / "窓口.db") as conn:
        conn.execute("CREATE TABLE visits (day TEXT, ward TEXT, wait REAL, counter TEXT)")
        conn.executemany("INSERT INTO visits VALUES (?, ?, ?, ?)", VISITS)
    conn.close()
    return root / "jisseki.toml", {DB_ENV: f"sqlite:///{root / '窓口.db'}"}


class Api:
    """The visits as a JSON API on loopback, pages of `per_page` under `data`; every request's query is kept."""

    def __init__(self, page: Callable[[list[dict[str, Any]]], Any] = lambda records: {"data": records}) -> None:
        api, self.queries = self, []
        records = [{"day": d, "meta": {"ward": w}, "wait": t, "counter": c} for d, w, t, c in VISITS]

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                query = dict(parse_qsl(urlsplit(self.path).query))
                api.queries.append(query)
                number, size = int(query.get("page", 1)), int(query.get("per_page", 100))
                data = json.dumps(page(records[(number - 1) * size:number * size]), ensure_ascii=False).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def api() -> Iterator[Api]:
    server = Api()
    yield server
    server.close()


def rest_source(root: Path, base_url: str, records_path: str = "data") -> Path:
    (root / "jisseki.toml").write_text(REST_CONFIG.format(base_url=base_url, records_path=records_path), "utf-8")
    (root / "policy.toml").write_text(POLICY, "utf-8")
    return root / "jisseki.toml"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def check(capsys: pytest.CaptureFixture[str], config: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    before = listing(config.parent)
    with pytest.MonkeyPatch.context() as mp:
        for key, value in (env or {}).items():
            mp.setenv(key, value)
        code, out, err = run(capsys, "check", "--config", str(config), "--as-of", AS_OF)
    assert listing(config.parent) == before and not err, err
    return code, out


# -- check ---------------------------------------------------------------------------------------------------------

def test_a_sound_csv_declaration_checks_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = check(capsys, csv_source(tmp_path, rows=ROWS[:4]))
    assert code == 0
    assert "✓ 区役所 窓口受付ログ（window_queue）: 問題なし — 確かめたこと: 指標 2 件の measure、ファイル 1 件（最初の " \
           "queue_2025.csv の見出しと先頭 4 行）" in out
    assert "問題:" not in out and "注意:" not in out and out.endswith("運営方針とソース 1 件を確かめました: 問題はありません\n")


def test_bad_rows_are_a_warning_and_too_many_a_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = check(capsys, csv_source(tmp_path, config=CONFIG + LENIENT))
    assert code == 0
    assert ("注意: 先頭 9 行のうち 5 行は除外されます（受付日 を日付として解釈できません 1 行、区コード を大阪市の区コードとして"
            "解釈できません 1 行、待ち時間 が 0〜600 の範囲外です 1 行、窓口 が 住民票・戸籍・税 のいずれでもありません 1 行、"
            "受付日 がありません 1 行）") in out
    strict = tmp_path / "strict"
    strict.mkdir()
    code, out = check(capsys, csv_source(strict))
    assert code == 1 and "✗ 区役所 窓口受付ログ（window_queue）: 問題あり" in out
    assert "問題: 先頭 9 行では取り込まれません: 不正な行が 5/9 行 (55.6%) あり、上限 5.0% を超えたため" in out
    assert "→ 除外の理由を見て、列の type・format・規則" in out
    assert not any(word in out for word in ("A-1", "太郎", "重複"))   # nothing personal, no raw row


def test_a_header_without_a_declared_column_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    header = HEADER.replace(",窓口", ",窓口名")
    code, out = check(capsys, csv_source(tmp_path, header=header, rows=ROWS[:4]))
    assert code == 1
    assert "問題: queue_2025.csv: 必須列がありません: 窓口" in out
    assert "→ ファイルの見出しの列名と [sources.window_queue.columns] を合わせてください" in out
    assert "先頭" not in out.split("問題: ")[1]   # the file's rows are not reported again as quarantined


def test_a_measure_on_an_unknown_column_is_named_and_the_file_still_tried(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    policy = POLICY.replace('column = "待ち時間"', 'column = "待ち時間2"')
    code, out = check(capsys, csv_source(tmp_path, policy=policy, rows=ROWS[:4]))
    assert code == 1
    assert "問題: 指標 window_wait_minutes の measure が使う列 待ち時間2 がソースの columns にありません" in out
    assert "→ 運営方針（カタログ）の measure と設定ファイルの [sources.window_queue] の columns を合わせてください" in out
    assert "ファイル 1 件（最初の queue_2025.csv の見出しと先頭 4 行）" in out


def test_catalog_and_config_that_do_not_meet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An indicator of a declared source the config does not have is a problem; a declared source no indicator
    uses, a warning."""
    policy = POLICY.replace('source = "window_queue"\ntargets = { 2025 = 100 }',
                            'source = "window_db"\ntargets = { 2025 = 100 }')
    config = CONFIG + SPARE
    code, out = check(capsys, csv_source(tmp_path, config=config, policy=policy, rows=ROWS[:4]))
    assert code == 1
    assert "問題: 指標 window_residents の source window_db は組み込みのソースでも、設定ファイルで宣言したソースでも" \
           "ありません" in out
    assert "→ 設定ファイルに [sources.window_db] を宣言するか、指標の source を直してください" in out
    spare = out.split("（spare）: ")[1].split("\n✓")[0].split("\n✗")[0]
    assert spare.startswith("問題なし") and "注意: 運営方針にこのソースを使う指標がありません" in spare
    assert "運営方針とソース 2 件を確かめました: 1 件に問題があります" in out


def test_a_missing_folder_is_a_problem_and_an_empty_one_a_warning(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    config = csv_source(tmp_path, rows=ROWS[:4])
    (tmp_path / "inbox" / "queue" / "queue_2025.csv").unlink()
    code, out = check(capsys, config)
    assert code == 0 and "注意: フォルダ" in out and "に *.csv に合うファイルがありません" in out
    (tmp_path / "inbox" / "queue").rmdir()
    code, out = check(capsys, config)
    assert code == 1 and "問題: フォルダがありません:" in out and "ファイルを置くフォルダを作成してください" in out


def test_a_sqlite_declaration_runs_its_query_read_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, env = sql_source(tmp_path)
    code, out = check(capsys, config, env)
    assert code == 0 and "✓ 窓口DB（window_queue）: 問題なし — 確かめたこと: 指標 2 件の measure、query の実行（先頭 4 行）" in out


@pytest.mark.parametrize("query, said", [
    ("SELECT day, ward, wait, counter FROM no_such_table", "問合せを実行できません（OperationalError、SQLITE_ERROR）"),
    ("SELECT day, ward, wait FROM visits", "counter"),
])
def test_a_query_that_fails_is_a_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str], query: str,
                                         said: str) -> None:
    config, env = sql_source(tmp_path, query)
    code, out = check(capsys, config, env)
    assert code == 1 and "✗ 窓口DB（window_queue）: 問題あり" in out
    problem = out.split("問題: ")[1]
    assert said in problem and "→ " in problem


def test_a_sql_source_without_its_url_says_which_variable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, _ = sql_source(tmp_path)
    code, out = check(capsys, config)
    assert code == 1 and f"問題: 環境変数 {DB_ENV} が設定されていません" in out


def test_a_rest_declaration_fetches_its_first_page_only(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         api: Api) -> None:
    code, out = check(capsys, rest_source(tmp_path, api.base_url))
    assert code == 0
    assert "✓ 窓口API（window_queue）: 問題なし — 確かめたこと: 指標 2 件の measure、最初のページ（2 件）の records_path と列、" \
           "先頭 2 行" in out
    # The first page twice (its shape, then its rows through the nightly path), never the second.
    assert api.queries == [{"page": "1", "per_page": "2"}] * 2


def test_a_page_without_records_path_names_what_the_page_has(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    server = Api(lambda records: {"items": records, "total": 4})
    try:
        code, out = check(capsys, rest_source(tmp_path, server.base_url))
    finally:
        server.close()
    assert code == 1
    assert "/visits?page=1&per_page=2: records_path の data がレコードの配列ではありません（応答の最上位のキー: items、total）" in out
    assert "→ records_path に、レコードの配列がある JSON のパス" in out


def test_a_first_record_without_a_declared_column_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server = Api(lambda records: {"data": [{k: v for k, v in r.items() if k != "meta"} for r in records]})
    try:
        code, out = check(capsys, rest_source(tmp_path, server.base_url))
    finally:
        server.close()
    assert code == 1 and "最初のレコードに宣言の列 区コード（meta.ward） がありません" in out


# -- preview -------------------------------------------------------------------------------------------------------

def preview(capsys: pytest.CaptureFixture[str], config: Path, *more: str) -> tuple[int, str, str]:
    before = listing(config.parent)
    code, out, err = run(capsys, "preview", "--config", str(config), "--source", "window_queue", "--as-of", AS_OF,
                         *more)
    assert listing(config.parent) == before
    return code, out, err


# By hand from ROWS: the valid rows are A-1 (4/1, 都島区, 10 分, 住民票), A-2 (4/2, 都島区, 20, 戸籍) and A-3 (5/1,
# 福島区, 30, 住民票); the second A-1 is the same receipt (the first counts); five rows are set aside.
HAND_COUNT = {
    ("window_wait_minutes", "2025-04", "city"): 15.0, ("window_wait_minutes", "2025-04", "271021"): 15.0,
    ("window_wait_minutes", "2025-05", "city"): 30.0, ("window_wait_minutes", "2025-05", "271039"): 30.0,
    ("window_wait_minutes", "FY2025", "city"): 20.0, ("window_wait_minutes", "FY2025", "271021"): 15.0,
    ("window_wait_minutes", "FY2025", "271039"): 30.0,
    ("window_residents", "2025-04", "city"): 1.0, ("window_residents", "2025-05", "city"): 1.0,
    ("window_residents", "FY2025", "city"): 2.0,
}


def test_preview_prints_the_figures_that_would_land(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = preview(capsys, csv_source(tmp_path, config=CONFIG + LENIENT), "--format", "json")
    assert code == 0 and not err
    shown = json.loads(out)
    assert {(f["kpi_id"], f["period"], f["scope"]): f["value"] for f in shown["figures"]} == HAND_COUNT
    assert (shown["rows_read"], shown["quarantined_rows"], shown["rejected"]) == (9, 5, None)
    assert [(r["code"], r["rows"]) for r in shown["reasons"]] == [
        ("invalid_value", 2), ("missing_value", 1), ("not_allowed", 1), ("out_of_range", 1)]
    assert shown["quarantine"][0] == {"location": "queue_2025.csv", "item": "line 6", "code": "invalid_value",
                                      "reason": "受付日 を日付として解釈できません", "value": "2025/13/01"}


def test_preview_table_and_a_rejected_batch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = preview(capsys, csv_source(tmp_path))
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == "区役所 窓口受付ログ（window_queue）: 基準日 2025-05-31 の夜間処理で取り込まれる内容（プレビュー。" \
                       "何も書き込んでいません）"
    assert lines[1] == "読んだ行: 9 行（ファイル 1 件）、除外: 5 行"
    assert lines[2].startswith("取り込み: されません — 不正な行が 5/9 行 (55.6%) あり")
    assert "window_wait_minutes  窓口の平均待ち時間（分）  2025-05  福島区（271039）  30分" in out
    assert "invalid_value  2     値が列の型（日付・数値・区コードなど）として解釈できません" in out
    assert "queue_2025.csv  line 9   窓口 が 住民票・戸籍・税 のいずれでもありません  文字列（2文字）" in out
    assert not any(word in out for word in ("A-1", "太郎", "年金"))   # values only as quarantine keeps them


def test_preview_of_a_sql_source_counts_its_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, env = sql_source(tmp_path)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(DB_ENV, env[DB_ENV])
        code, out, _ = preview(capsys, config, "--format", "json")
    figures = {(f["kpi_id"], f["period"], f["scope"]): f["value"] for f in json.loads(out)["figures"]}
    # VISITS by hand: April 10 and 20 (都島区), May 30 and 40 (福島区); 住民票 on 4/1 and 5/1.
    assert code == 0 and figures[("window_wait_minutes", "FY2025", "city")] == 25.0
    assert figures[("window_wait_minutes", "2025-05", "271039")] == 35.0
    assert figures[("window_residents", "FY2025", "city")] == 2.0


def test_preview_of_an_unknown_source_says_which_there_are(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = csv_source(tmp_path)
    code, out, err = run(capsys, "preview", "--config", str(config), "--source", "window")
    assert code == 2 and not out
    assert err == "--source window というソースは設定ファイルにありません。選べるもの: window_queue\n"


# -- as an operator meets them, in fresh processes -----------------------------------------------------------------

def jisseki(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jisseki.cli", *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd, env={**os.environ, "HOME": str(cwd / "home"), **(env or {})})


@pytest.mark.e2e
def test_check_and_preview_as_commands_write_nothing(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    config = csv_source(tmp_path, config=CONFIG + LENIENT, header=HEADER.replace(",窓口", ",窓口名"))
    before = listing(tmp_path)
    checked = jisseki("check", "--config", str(config), cwd=tmp_path)
    assert checked.returncode == 1 and not checked.stderr, checked.stderr
    assert "✗ 区役所 窓口受付ログ（window_queue）: 問題あり" in checked.stdout and "必須列がありません: 窓口" in checked.stdout
    (tmp_path / "inbox" / "queue" / "queue_2025.csv").write_bytes((HEADER + "\r\n".join(ROWS) + "\r\n").encode("cp932"))
    before = listing(tmp_path)
    shown = jisseki("preview", "--config", str(config), "--source", "window_queue", "--as-of", AS_OF,
                    "--format", "json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert {(f["kpi_id"], f["period"], f["scope"]): f["value"] for f in json.loads(shown.stdout)["figures"]} \
        == HAND_COUNT
    # No warehouse file, no gx-data, no state folder, nothing in the source folder, nothing in HOME.
    assert listing(tmp_path) == before

