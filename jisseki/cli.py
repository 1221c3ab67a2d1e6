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
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import date
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import NoReturn

from jisseki.config import load_config
from jisseki.errors import DETAILS, ConfigError, ExitCode, JissekiError, UsageError, internal_error
from jisseki.periods import as_of_day, parse_day

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
    args = _parser().parse_args(argv)
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


# argparse's own error texts (English) and how they read in Japanese; the first match wins.
ARGPARSE_ERRORS = (
    (r"the following arguments are required: (.*)", r"次の指定が必要です: \1"),
    (r"unrecognized arguments: (.*)", r"知らない指定です: \1"),
    (r"argument (\S+): invalid choice: (.*?) \(choose from (.*)\)", r"\1: \2 は選べません（選べるもの: \3）"),
    (r"argument (\S+): expected one argument", r"\1: 値を1つ指定してください"),
    (r"argument (\S+): invalid (?:float|int) value: (.*)", r"\1: 数値ではありません: \2"),
    (r"argument (\S+): (.*)", r"\1: \2"),
)


class _Parser(argparse.ArgumentParser):
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


def _version() -> str:
    try:
        return version("jisseki")
    except PackageNotFoundError:
        return "（未インストール）"


def _parser() -> argparse.ArgumentParser:
    debug = "失敗したときに Python のトレースバックと Prefect のログを端末にも出す"
    parser = _Parser(prog="jisseki", description="KPI実績の自動収集と評価")
    parser.add_argument("--debug", action="store_true", help=debug)
    # Also after the command; SUPPRESS so that a subcommand's default does not undo `jisseki --debug run`.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=debug)
    parser.add_argument("--version", action="version", version=f"jisseki {_version()}")
    sub = parser.add_subparsers(required=True, metavar="COMMAND", parser_class=_Parser)

    demo = sub.add_parser("demo", help="サンプルデータとサンプルAPIでFY2025を再現する", parents=[common])
    demo.add_argument("--workdir", type=Path, default=Path("jisseki-demo"))
    demo.set_defaults(handler=cmd_demo)

    run = sub.add_parser("run", help="夜間処理を今すぐ1回実行する", parents=[common])
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

    serve = sub.add_parser("serve", help="夜間処理のデプロイメントを提供し続ける", parents=[common])
    _config_arg(serve)
    serve.set_defaults(handler=cmd_serve)

    status = sub.add_parser("status", help="最新の評価を表示する", parents=[common])
    _config_arg(status)
    status.add_argument("--fy", type=int, help="年度 (例: 2025)")
    status.add_argument("--format", choices=("table", "json"), default="table")
    status.set_defaults(handler=cmd_status)
    backfill = sub.add_parser("backfill", help="各月末時点で評価し直し、状況の履歴を作る", parents=[common])
    _config_arg(backfill)
    backfill.add_argument("--from", dest="first", type=_day, required=True, metavar="YYYY-MM-DD")
    backfill.add_argument("--to", dest="last", type=_day, required=True, metavar="YYYY-MM-DD")
    backfill.set_defaults(handler=cmd_backfill)

    report = sub.add_parser("report", help="達成状況の報告書 (index.html と .xlsx) を作る", parents=[common])
    _config_arg(report)
    report.add_argument("--out", type=Path, required=True, help="書き出すフォルダ")
    report.add_argument("--fy", type=int, help="年度 (既定: 運営方針の年度)")
    report.set_defaults(handler=cmd_report)

    upgrade = sub.add_parser("upgrade", help="倉庫のスキーマをこの版に更新する（実行のたびにも自動で行われます）",
                             parents=[common])
    _config_arg(upgrade)
    upgrade.set_defaults(handler=cmd_upgrade)

    watchdog = sub.add_parser("watchdog", parents=[common],
                              help="夜間処理が期限（[watchdog] deadline、既定 04:00）までに終わっていなければ"
                                   "アラートを送る（systemd タイマーなどで定期的に実行）")
    _config_arg(watchdog)
    watchdog.set_defaults(handler=cmd_watchdog)

    template = sub.add_parser("manual-template", help="各所属が記入する実績入力シート (.xlsx) を作る",
                              parents=[common])
    template.add_argument("--fy", type=int, required=True, help="年度 (例: 2025)")
    template.add_argument("--out", type=Path, required=True, help="書き出す .xlsx")
    template.add_argument("--config", type=Path, default=os.environ.get("JISSEKI_CONFIG"),
                          help="設定ファイル（[catalog] を使う場合）。省略時は同梱の運営方針")
    template.set_defaults(handler=cmd_manual_template)
    return parser


def _config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=os.environ.get("JISSEKI_CONFIG"),
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
    from jisseki.report import evaluation_rows, render_table, status_json
    from warehouse.store import connect, latest_evaluations

    config = load_config(_config_path(args))
    catalog = load_catalog(config.catalog.path)
    evaluations = latest_evaluations(connect(config.warehouse.url, create=False), args.fy)
    if args.format == "json":
        print(json.dumps(status_json(evaluations, catalog), ensure_ascii=False, indent=2, allow_nan=False))
    else:
        print(render_table(evaluation_rows(evaluations, catalog), catalog), end="")
    return 0


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
    from jisseki.report_files import write_report
    from warehouse.store import connect, current_figures, evaluation_history, latest_evaluations

    if args.out.exists() and not args.out.is_dir():
        raise UsageError(f"--out {args.out} はファイルです",
                         "報告書を書き出すフォルダを指定してください（なければ作ります）")
    config = load_config(_config_path(args))
    catalog = load_catalog(config.catalog.path)
    fy = args.fy or catalog.policy.fiscal_year
    engine = connect(config.warehouse.url, create=False)
    evaluations = latest_evaluations(engine, fy)
    if not evaluations:
        print(f"{fy}年度の評価がまだありません。先に jisseki run を実行してください", file=sys.stderr)
        return 1
    html_path, xlsx_path = write_report(evaluations, current_figures(engine), catalog, fy, args.out,
                                        history=evaluation_history(engine, fy))
    print(f"{html_path}\n{xlsx_path}")
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


def cmd_manual_template(args: argparse.Namespace) -> int:
    from jisseki.catalog import load_catalog
    from jisseki.manual_template import write_template

    catalog = load_catalog(load_config(_config_path(args)).catalog.path if args.config else None)
    count = write_template(catalog, args.fy, args.out)
    if count == 0:
        print(f"{args.fy}年度に手入力の指標はありません", file=sys.stderr)
        return 1
    print(f"{args.out}: {args.fy}年度の手入力指標 {count} 行")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from jisseki.demo.run import run_demo

    return run_demo(args.workdir.resolve())


if __name__ == "__main__":
    sys.exit(main())
