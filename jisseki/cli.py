"""The `jisseki` command (interfaces.md). Prefect and the pipeline load only for commands that run flows."""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import date
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, NoReturn

from jisseki.config import load_config
from jisseki.core.errors import DETAILS, ConfigError, ExitCode, JissekiError, UsageError, internal_error
from jisseki.core.periods import as_of_day, parse_day, parse_fiscal_year

QUIET_DEFAULTS = {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "GX_ANALYTICS_ENABLED": "false",
    # Without PREFECT_API_URL a run starts a temporary Prefect server and waits 20 s for it by default: on a
    # busy machine that is not enough, and the night fails before it reads anything.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
}
# Prefect's own console lines (task tracebacks among them) are for the Prefect logs, where they still go:
# people at the terminal read one Japanese line per source. --debug lets Prefect print as usual.
QUIET_CONSOLE = {"PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "CRITICAL"}


def main(argv: list[str] | None = None) -> int:
    for key, value in QUIET_DEFAULTS.items():
        os.environ.setdefault(key, value)
    args = build_parser().parse_args(argv)
    runs_flow = args.handler in (cmd_run, cmd_demo)
    quiet = not args.debug and runs_flow
    try:
        # read when Prefect is imported, which is later
        with _environ(QUIET_CONSOLE if quiet else {}), _stoppable(runs_flow):
            return int(args.handler(args))
    except JissekiError as exc:
        _debug_traceback(args)
        print(f"{'設定エラー: ' if isinstance(exc, ConfigError) else ''}{exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        print(f"中断しました{f'（{exc.args[0]}）' if exc.args else ''}", file=sys.stderr)
        if runs_flow:
            # The run closed every source's gate and recorded them before this came up; what is left are
            # threads blocked in I/O, which nothing can stop, and which must not keep the process.
            _exit_now(ExitCode.INTERRUPTED)
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        # The reader of the output went away (`jisseki quarantine … | head`): not an error to report. Python
        # would still try to flush stdout at exit and complain; point it at /dev/null first.
        with suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.FAILED if runs_flow else ExitCode.OK
    except OSError as exc:
        _debug_traceback(args)
        print(f"ファイルを扱えません: {exc.filename or ''} ({type(exc).__name__}: {exc.strerror or exc})",
              file=sys.stderr)
        return ExitCode.FAILED
    except Exception as exc:  # the one place an unexpected error becomes a line people can pass on
        _debug_traceback(args)
        print(f"{internal_error(exc)}{'' if args.debug else DETAILS}", file=sys.stderr)
        return ExitCode.FAILED


@contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    """Variables set for one command (and the processes it starts) where the caller has not set them; put
    back afterwards, so a caller that runs main() in its own process keeps its environment."""
    added = [key for key in values if key not in os.environ]
    os.environ.update({key: values[key] for key in added})
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


@contextmanager
def _stoppable(enabled: bool) -> Iterator[None]:
    """SIGTERM stops a run as Ctrl-C (SIGINT) does: KeyboardInterrupt, naming the signal. Inside the flow Prefect
    answers SIGTERM itself (TerminationSignal) and hands it back here once the flow has stopped. Either way the
    run first closes the gates of its unfinished sources (nothing of them can land), records them as failed and
    lets go of the warehouse lock; main() then exits. A second signal, while that is under way, exits at once:
    the gates closed first, and a lock left behind is taken over by the next run (its process is gone)."""
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def stop(signum: int, _frame: object) -> None:
        if received:
            _exit_now(ExitCode.INTERRUPTED)
        received.append(signum)
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _exit_now(code: int) -> None:
    """Ends the process without waiting for threads (a source blocked in I/O never returns). os._exit runs no
    atexit handler, so the processes this one started (Prefect's temporary server, a transcoding worker) are
    ended here: nothing of a run outlives it, nor holds its stdout open."""
    _end_children()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(int(code))


def _end_children(grace: float = 5.0) -> None:
    """SIGTERM to this process's children, SIGKILL to those still there after `grace` seconds (Linux /proc)."""
    children: set[int] = set()
    for listing in Path("/proc/self/task").glob("*/children"):
        try:
            children.update(int(pid) for pid in listing.read_text().split())
        except OSError:
            continue
    for pid in children:
        with suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while children and time.monotonic() < deadline:
        for pid in list(children):
            with suppress(ChildProcessError, OSError):
                if os.waitpid(pid, os.WNOHANG)[0] == 0:
                    continue
            children.discard(pid)
        time.sleep(0.05)
    for pid in children:
        with suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _debug_traceback(args: argparse.Namespace) -> None:
    if args.debug:
        traceback.print_exc()


# argparse's own error texts (English, Python 3.11) and how they read in Japanese; the first match wins. A text
# argparse has that is not here is shown as it is, after the Japanese 「エラー」.
ARGPARSE_ERRORS = (
    (r"the following arguments are required: (.*)", r"次の指定が必要です: \1"),
    (r"unrecognized arguments: (.*)", r"知らない指定です: \1"),
    (r"ambiguous option: (\S+) could match (.*)", r"\1 は次のどれの略か決められません: \2"),
    (r"argument (\S+): invalid choice: (.*?) \(choose from (.*)\)", r"\1: \2 は選べません（選べるもの: \3）"),
    (r"argument (\S+): expected one argument", r"\1: 値を1つ指定してください"),
    (r"argument (\S+): ignored explicit argument (.*)", r"\1 には値を付けられません（\2）"),
    (r"argument (\S+): invalid (?:float|int) value: (.*)", r"\1: 数値ではありません: \2"),
    (r"argument (\S+): invalid \S+ value: (.*)", r"\1: 読めない値です: \2"),
    (r"argument (\S+): (.*)", r"\1: \2"),
)
HELP = "この説明を表示して終了する"


class _Formatter(argparse.HelpFormatter):
    """argparse's layout with a Japanese heading for the usage line (its own is English, from gettext)."""

    def add_usage(self, usage: str | None, actions: Any, groups: Any, prefix: str | None = None) -> None:
        super().add_usage(usage, actions, groups, "使い方: " if prefix is None else prefix)


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose every text people read is Japanese: headings, -h, and its error lines."""

    def __init__(self, *, add_help: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(add_help=False, **kwargs)
        self._positionals.title = "引数"
        self._optionals.title = "オプション"
        if add_help:
            self.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS, help=HELP)

    def error(self, message: str) -> NoReturn:
        for pattern, japanese in ARGPARSE_ERRORS:
            if re.fullmatch(pattern, message):
                message = re.sub(pattern, japanese, message)
                break
        self.print_usage(sys.stderr)
        self.exit(ExitCode.USAGE, f"{self.prog}: エラー: {message}\n")


def _day(text: str) -> date:
    try:
        return parse_day(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _fiscal_year(text: str) -> int:
    try:
        return parse_fiscal_year(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _output_path(suffix: str) -> Callable[[str], Path]:
    """An --out that names a file: its name must end in `suffix` (any case), so a typo does not write a
    workbook under a name nothing opens it by, nor over a file of another kind."""
    def output(text: str) -> Path:
        path = Path(text)
        if path.suffix.lower() != suffix:
            raise argparse.ArgumentTypeError(f"{text} は {suffix} のファイル名ではありません"
                                             f"（例: 実績入力_2025{suffix}）")
        return path

    return output


def _version() -> str:
    try:
        return version("jisseki")
    except PackageNotFoundError:
        return "（未インストール）"


def build_parser() -> argparse.ArgumentParser:
    debug = "失敗したときに Python のトレースバックと Prefect のログを端末にも出す"
    parser = _Parser(prog="jisseki", description="KPI実績の自動収集と評価")
    parser.add_argument("--debug", action="store_true", help=debug)
    # Also after the command; SUPPRESS so that a subcommand's default does not undo `jisseki --debug run`. A plain
    # ArgumentParser: argparse merges a parent's options into the group of the same title, and a subcommand's
    # groups still have argparse's titles when its parents are merged (_Parser renames them afterwards).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=debug)
    parser.add_argument("--version", action="version", version=f"jisseki {_version()}",
                        help="jisseki の版を表示して終了する")
    sub = parser.add_subparsers(required=True, title="コマンド", metavar="コマンド", parser_class=_Parser,
                                help="各コマンドの説明は jisseki コマンド --help")

    def command(name: str, **kwargs: Any) -> _Parser:
        # typeshed types add_parser's parents as the subparsers' own class (_Parser); argparse, like
        # ArgumentParser's own parents, takes any ArgumentParser, and `common` must stay a plain one.
        return sub.add_parser(name, parents=[common], **kwargs)  # type: ignore[list-item]

    demo = command("demo", help="サンプルデータとサンプルAPIでFY2025を再現する")
    demo.add_argument("--workdir", type=Path, default=Path("jisseki-demo"), metavar="DIR",
                      help="サンプルデータ・設定・倉庫を置くフォルダ（既定: ./jisseki-demo）")
    demo.set_defaults(handler=cmd_demo)

    run = command("run", help="夜間処理を今すぐ1回実行する")
    _config_arg(run)
    run.add_argument("--as-of", type=_day, metavar="YYYY-MM-DD",
                     help="集計の基準日（既定: 日本時間の昨日。今日より後と、取り込み済みの基準日より前は"
                          "指定できません）")
    run.add_argument("--source", action="append", dest="sources", metavar="NAME",
                     help="このソースだけ収集する（複数可）")
    run.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                     help="別の実行が倉庫を使用中なら最大この秒数待つ (既定: 待たずに終了)")
    run.add_argument("--restate", action="store_true",
                     help="取り込み済みより前の --as-of でも実行し、その日より後の集計値と評価を取り下げる"
                          "（意図して前の時点に戻すときだけ）")
    run.set_defaults(handler=cmd_run)

    serve = command("serve", help="夜間処理のデプロイメントを提供し続ける")
    _config_arg(serve)
    serve.set_defaults(handler=cmd_serve)

    status = command("status", help="最新の評価を表示する")
    _config_arg(status)
    _fy_arg(status, "表示する年度（既定: 倉庫にあるすべての年度）")
    status.add_argument("--format", choices=("table", "json"), default="table",
                        help="table: 経営課題ごとの達成状況の表（既定）、json: 評価の一覧（JSON）")
    status.add_argument("--department", metavar="NAME",
                        help="この所属の指標だけ（運営方針の department、例: デジタル統括室。既定: すべての所属）")
    status.set_defaults(handler=cmd_status)
    publish = command("publish", help="年度の達成状況を公表値として確定する（後の訂正は最新値として並べて表示）")
    _config_arg(publish)
    _fy_arg(publish, "公表する年度（年度末の3月31日以降の評価が必要です）", required=True)
    publish.add_argument("--department", metavar="NAME", help="この所属の指標だけ公表する（既定: すべての所属）")
    publish.set_defaults(handler=cmd_publish)

    backfill = command("backfill", help="各月末時点で評価し直し、状況の履歴を作る")
    _config_arg(backfill)
    backfill.add_argument("--from", dest="first", type=_day, required=True, metavar="YYYY-MM-DD",
                          help="評価し直す期間の初日（この日以降の月末ごとに評価します）")
    backfill.add_argument("--to", dest="last", type=_day, required=True, metavar="YYYY-MM-DD",
                          help="評価し直す期間の最終日（今日より後は指定できません）")
    backfill.set_defaults(handler=cmd_backfill)

    report = command("report", help="達成状況の報告書 (index.html と .xlsx、所属が複数なら所属ごとにも) を作る")
    _config_arg(report)
    report.add_argument("--out", type=Path, required=True, metavar="DIR", help="書き出すフォルダ（なければ作ります）")
    _fy_arg(report, "報告する年度（既定: 運営方針のいちばん新しい年度）")
    report.set_defaults(handler=cmd_report)

    upgrade = command("upgrade", help="倉庫のスキーマをこの版に更新する（実行のたびにも自動で行われます）")
    _config_arg(upgrade)
    upgrade.set_defaults(handler=cmd_upgrade)

    watchdog = command("watchdog", help="夜間処理が期限（[watchdog] deadline、既定 04:00）までに終わっていなければ"
                                        "アラートを送る（systemd タイマーなどで定期的に実行）")
    _config_arg(watchdog)
    watchdog.set_defaults(handler=cmd_watchdog)

    rejected = command("quarantine", help="取り込まずに除外した行（ファイル・行・理由）を一覧する")
    _config_arg(rejected)
    rejected.add_argument("--source", metavar="NAME", help="このソースの行だけ (例: manual_entries)")
    rejected.add_argument("--since", type=_day, metavar="YYYY-MM-DD", help="この日（日本時間）以降に除外した行だけ")
    rejected.add_argument("--format", choices=("table", "csv"), default="table",
                          help="table: 端末で読む表（既定）、csv: CSV (UTF-8)")
    rejected.add_argument("--out", type=_output_path(".csv"), metavar="FILE.csv",
                          help="CSV をこのファイルに書き出す（Excel で開けるよう BOM 付き UTF-8）")
    rejected.set_defaults(handler=cmd_quarantine)

    check = command("check", help="宣言したソースを取り込まずに確かめる（列・問合せ・APIの最初のページ、指標の measure）")
    _config_arg(check)
    check.add_argument("--as-of", type=_day, metavar="YYYY-MM-DD",
                       help="試すときの基準日（問合せの :start・:end など。既定: 日本時間の昨日）")
    check.set_defaults(handler=cmd_check)

    preview = command("preview", help="1つのソースを夜間処理と同じに集計し、取り込まれる集計値と除外する行を表示する"
                                      "（何も書き込みません）")
    _config_arg(preview)
    preview.add_argument("--source", required=True, metavar="NAME", help="集計するソース (例: window_queue)")
    preview.add_argument("--as-of", type=_day, metavar="YYYY-MM-DD",
                         help="集計の基準日（既定: 日本時間の昨日。今日より後は指定できません）")
    preview.add_argument("--format", choices=("table", "json"), default="table",
                         help="table: 端末で読む表（既定）、json: 集計値と除外の内訳（JSON）")
    preview.set_defaults(handler=cmd_preview)

    template = command("manual-template", help="各所属が記入する実績入力シート (.xlsx) を作る")
    _fy_arg(template, "入力シートの年度", required=True)
    template.add_argument("--out", type=_output_path(".xlsx"), required=True, metavar="FILE.xlsx",
                          help="書き出す .xlsx")
    template.add_argument("--config", type=Path, default=os.environ.get("JISSEKI_CONFIG"), metavar="FILE",
                          help="設定ファイル（[catalog] を使う場合）。省略時は同梱の運営方針")
    template.add_argument("--department", metavar="所属",
                          help="この所属の指標だけ（例: 北区役所）。省略時は運営方針のすべての所属")
    template.set_defaults(handler=cmd_manual_template)
    return parser


def _fy_arg(parser: argparse.ArgumentParser, what: str, required: bool = False) -> None:
    parser.add_argument("--fy", type=_fiscal_year, required=required, metavar="FY",
                        help=f"{what}。2025・FY2025・令和7年度・令和7・R7 のどの書き方でも（全角数字も可）")


def _config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=os.environ.get("JISSEKI_CONFIG"), metavar="FILE",
                        help="設定ファイル (TOML)。環境変数 JISSEKI_CONFIG でも指定できます")


def _config_path(args: argparse.Namespace) -> Path:
    if args.config is None:
        raise ConfigError("--config か環境変数 JISSEKI_CONFIG で設定ファイルを指定してください")
    return Path(args.config).resolve()


def cmd_run(args: argparse.Namespace) -> int:
    from flows.run import run_nightly

    return run_nightly(_config_path(args), args.as_of, args.sources, args.wait, args.restate)


def cmd_serve(args: argparse.Namespace) -> int:
    from flows.deploy import serve

    path = _config_path(args)
    serve(path, load_config(path))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from jisseki.catalog import load_catalog
    from jisseki.publish import by_key, published_lines
    from jisseki.report import evaluation_rows, render_table, scope_misses, status_json
    from warehouse.store import connect, latest_evaluations, published_grades

    config = load_config(_config_path(args))
    catalog = load_catalog(config.catalog.path)
    if args.department is not None:
        if args.department not in catalog.departments():
            raise UsageError(f"--department {args.department} という所属の運営方針はありません",
                             f"選べるもの: {'、'.join(catalog.departments())}")
        catalog = catalog.of_department(args.department)
    engine = connect(config.warehouse.url, create=False)
    evaluations = latest_evaluations(engine, args.fy, scopes=True)
    if args.department is not None:
        evaluations = [e for e in evaluations if e["kpi_id"] in catalog.ids()]
    kept = published_grades(engine, args.fy)
    if not evaluations and args.fy is not None:
        missing = _other_years(engine, args.fy)
        if missing:   # with none at all, the table's hint to run `jisseki run` is what helps
            print(missing, file=sys.stderr if args.format == "json" else sys.stdout)
            if args.format != "json":
                return 0
    if args.format == "json":
        print(json.dumps(status_json(evaluations, catalog, by_key(kept)), ensure_ascii=False, indent=2,
                         allow_nan=False))
    else:
        notes = published_lines(kept)
        print(render_table(evaluation_rows(evaluations, catalog, by_key(kept)), catalog, scope_misses(evaluations),
                           notes), end="")
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from jisseki.catalog import load_catalog
    from jisseki.publish import PublishRefused, already_text, published_rows
    from jisseki.report import reiwa
    from warehouse.store import connect, publish

    config = load_config(_config_path(args))
    catalog = load_catalog(config.catalog.path)
    if args.department is not None:
        catalog = catalog.of_department(args.department)
    done = publish(connect(config.warehouse.url, create=False), args.fy,
                   lambda evaluations, notes: published_rows(evaluations, notes, catalog, args.fy))
    if done.already:
        raise PublishRefused(already_text(args.fy, done.already))
    print(f"令和{reiwa(args.fy)}年度（{args.fy}年度）を公表しました: {done.rows} 件"
          f"（{done.published_at:%Y-%m-%d %H:%M} UTC）")
    return 0


def _evaluated_years(engine: Any) -> list[int]:
    from warehouse.store import latest_evaluations

    return sorted({e["fiscal_year"] for e in latest_evaluations(engine)})


def _other_years(engine: Any, fy: int) -> str | None:
    """For a fiscal year the warehouse has no evaluations of: the years it has, or None when it has none."""
    years = _evaluated_years(engine)
    if not years:
        return None
    return f"{fy}年度の評価はありません（倉庫にある年度: {'、'.join(f'{year}年度' for year in years)}）"


def cmd_backfill(args: argparse.Namespace) -> int:
    import uuid

    from jisseki.backfill import backfill, history_table
    from jisseki.catalog import load_catalog
    from warehouse.store import connect, current_figures, save_evaluations

    as_of_day(args.last, option="--to")   # an evaluation of a month end that has not come would stand as latest
    config = load_config(_config_path(args))
    catalog = load_catalog(config.catalog.path)
    engine = connect(config.warehouse.url, create=False)
    verdicts = backfill(current_figures(engine), catalog, args.first, args.last)
    if not verdicts:
        print(f"{args.first}〜{args.last} に月末がありません", file=sys.stderr)
        return 1
    run_id = f"backfill-{uuid.uuid4()}"
    save_evaluations(engine, verdicts, run_id)
    print(history_table(verdicts), end="")
    print(f"{len(verdicts)} 件の評価を保存しました（{run_id}）")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from jisseki.catalog import load_catalog
    from jisseki.publish import by_key, published_lines
    from jisseki.rejections import MAX_SHOWN, Rejections
    from jisseki.report_files import write_report
    from warehouse.quarantine import quarantined, reason_counts
    from warehouse.store import (
        commentaries,
        connect,
        current_figures,
        evaluation_history,
        latest_evaluations,
        published_grades,
    )

    if args.out.exists() and not args.out.is_dir():
        raise UsageError(f"--out {args.out} はファイルです",
                         "報告書を書き出すフォルダを指定してください（なければ作ります）")
    config = load_config(_config_path(args))
    catalog = load_catalog(config.catalog.path)
    engine = connect(config.warehouse.url, create=False)
    # Not the newest policy's year: FY2026's policy is in the catalog before FY2026 has a single evaluation.
    fy = args.fy or max(_evaluated_years(engine), default=catalog.latest_fy())
    evaluations = latest_evaluations(engine, fy, scopes=True)
    if not evaluations:
        print(_other_years(engine, fy) or f"{fy}年度の評価がまだありません。先に jisseki run を実行してください",
              file=sys.stderr)
        return 1
    catalog = catalog.of_year(fy)
    rejections = Rejections(quarantined(engine, limit_per_source=MAX_SHOWN), reason_counts(engine),
                            {name: config.source_def(name).japanese for name in config.enabled_sources()})
    kept = published_grades(engine, fy)
    written = write_report(evaluations, current_figures(engine), catalog, fy, args.out,
                           history=evaluation_history(engine, fy), rejections=rejections,
                           published=by_key(kept), commentary=commentaries(engine, fy),
                           published_lines=published_lines(kept))
    print("\n".join(map(str, written)))
    return 0


def cmd_upgrade(args: argparse.Namespace) -> int:
    from warehouse.store import upgrade

    print("\n".join(upgrade(load_config(_config_path(args)).warehouse.url).lines()))
    return 0


def cmd_watchdog(args: argparse.Namespace) -> int:
    from jisseki.alerts.run import process_watchdog
    from warehouse.store import connect

    config = load_config(_config_path(args))
    summary = process_watchdog(connect(config.warehouse.url, create=False), config)
    if not summary.missed:
        print("夜間処理: 期限までに終わっています")
        return ExitCode.OK
    print(f"夜間処理が期限までに終わっていません: {', '.join(summary.missed)}"
          f"（今回送ったアラート {summary.sent} 通、送れなかった {summary.failed} 通）", file=sys.stderr)
    return ExitCode.FAILED


def cmd_quarantine(args: argparse.Namespace) -> int:
    from jisseki.rejections import render_table, write_csv
    from jisseki.sources import SOURCES
    from warehouse.quarantine import quarantined
    from warehouse.store import connect

    config = load_config(_config_path(args))
    known = [*SOURCES, *config.declared]
    if args.source is not None and args.source not in known:
        raise UsageError(f"--source {args.source} というソースはありません", f"選べるもの: {', '.join(known)}")
    labels = config.labels()
    rows = quarantined(connect(config.warehouse.url, create=False), args.source, args.since)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("w", encoding="utf-8-sig", newline="") as stream:   # the BOM: Excel reads it as UTF-8
            write_csv(rows, stream, labels)
        print(f"{args.out}: 除外した行 {len(rows)} 件" if rows else f"{args.out}: 除外した行はありません")
    elif args.format == "csv":
        write_csv(rows, sys.stdout, labels)
        if not rows:
            print("除外した行はありません", file=sys.stderr)
    else:
        print(render_table(rows, labels), end="")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from jisseki.catalog import load_catalog
    from jisseki.check import check, render

    as_of = as_of_day(args.as_of)
    config = load_config(_config_path(args))
    lines = check(config, load_catalog(config.catalog.path), as_of)
    print(render(lines), end="")
    return ExitCode.OK if all(line.ok for line in lines) else ExitCode.FAILED


def cmd_preview(args: argparse.Namespace) -> int:
    from jisseki.catalog import load_catalog
    from jisseki.preview import as_json, preview, render

    as_of = as_of_day(args.as_of)
    config = load_config(_config_path(args))
    catalog = load_catalog(config.catalog.path)
    batch = preview(config, catalog, args.source, as_of)
    source = config.source_def(args.source)
    if args.format == "json":
        print(json.dumps(as_json(batch, catalog, source.japanese), ensure_ascii=False, indent=2))
    else:
        print(render(batch, catalog, source.label), end="")
    return ExitCode.FAILED if batch.rejected else ExitCode.OK


def cmd_manual_template(args: argparse.Namespace) -> int:
    from jisseki.catalog import load_catalog
    from jisseki.manual_template import write_template

    catalog = load_catalog(load_config(_config_path(args)).catalog.path if args.config else None)
    if args.department:
        catalog = catalog.of_department(args.department)
    count = write_template(catalog, args.fy, args.out)
    if count == 0:
        whose = f"{args.department}の" if args.department else ""
        print(f"{args.fy}年度に{whose}手入力の指標はありません", file=sys.stderr)
        return 1
    print(f"{args.out}: {args.fy}年度の手入力指標 {count} 行")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from jisseki.demo.run import run_demo

    return run_demo(args.workdir.resolve())


if __name__ == "__main__":
    sys.exit(main())
