"""The `jisseki` command (interfaces.md). Prefect and the pipeline load only for commands that run flows."""
from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date
from pathlib import Path

from jisseki.config import ConfigError, load_config
from warehouse.errors import WarehouseError

QUIET_DEFAULTS = {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "GX_ANALYTICS_ENABLED": "false",
}


def main(argv: list[str] | None = None) -> int:
    for key, value in QUIET_DEFAULTS.items():
        os.environ.setdefault(key, value)
    args = _parser().parse_args(argv)
    try:
        return args.handler(args)
    except ConfigError as exc:
        print(f"設定エラー: {exc}", file=sys.stderr)
        return 2
    except WarehouseError as exc:
        print(str(exc), file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jisseki", description="KPI実績の自動収集と評価")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="サンプルデータとサンプルAPIでFY2025を再現する")
    demo.add_argument("--workdir", type=Path, default=Path("jisseki-demo"))
    demo.set_defaults(handler=cmd_demo)

    run = sub.add_parser("run", help="夜間処理を今すぐ1回実行する")
    _config_arg(run)
    run.add_argument("--as-of", type=date.fromisoformat, help="集計の基準日 (既定: 日本時間の昨日)")
    run.add_argument("--source", action="append", dest="sources", metavar="NAME", help="このソースだけ収集する（複数可）")
    run.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                     help="別の実行が倉庫を使用中なら最大この秒数待つ (既定: 待たずに終了)")
    run.set_defaults(handler=cmd_run)

    serve = sub.add_parser("serve", help="夜間処理のデプロイメントを提供し続ける")
    _config_arg(serve)
    serve.set_defaults(handler=cmd_serve)

    status = sub.add_parser("status", help="最新の評価を表示する")
    _config_arg(status)
    status.add_argument("--fy", type=int, help="年度 (例: 2025)")
    status.add_argument("--format", choices=("table", "json"), default="table")
    status.set_defaults(handler=cmd_status)
    backfill = sub.add_parser("backfill", help="各月末時点で評価し直し、状況の履歴を作る")
    _config_arg(backfill)
    backfill.add_argument("--from", dest="first", type=date.fromisoformat, required=True, metavar="YYYY-MM-DD")
    backfill.add_argument("--to", dest="last", type=date.fromisoformat, required=True, metavar="YYYY-MM-DD")
    backfill.set_defaults(handler=cmd_backfill)

    report = sub.add_parser("report", help="達成状況の報告書 (index.html と .xlsx) を作る")
    _config_arg(report)
    report.add_argument("--out", type=Path, required=True, help="書き出すフォルダ")
    report.add_argument("--fy", type=int, help="年度 (既定: 運営方針の年度)")
    report.set_defaults(handler=cmd_report)

    upgrade = sub.add_parser("upgrade", help="倉庫のスキーマをこの版に更新する（実行のたびにも自動で行われます）")
    _config_arg(upgrade)
    upgrade.set_defaults(handler=cmd_upgrade)

    template = sub.add_parser("manual-template", help="各所属が記入する実績入力シート (.xlsx) を作る")
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

    return run_nightly(_config_path(args), args.as_of, args.sources, args.wait)


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
        print(json.dumps(status_json(evaluations, catalog), ensure_ascii=False, indent=2))
    else:
        print(render_table(evaluation_rows(evaluations, catalog), catalog), end="")
    return 0


def cmd_backfill(args: argparse.Namespace) -> int:
    import uuid

    from jisseki.backfill import backfill, history_table
    from jisseki.catalog import load_catalog
    from warehouse.store import connect, current_figures, save_evaluations

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
    from warehouse.store import connect, current_figures, latest_evaluations

    config = load_config(_config_path(args))
    catalog = load_catalog(config.catalog.path)
    fy = args.fy or catalog.policy.fiscal_year
    engine = connect(config.warehouse.url, create=False)
    evaluations = latest_evaluations(engine, fy)
    if not evaluations:
        print(f"{fy}年度の評価がまだありません。先に jisseki run を実行してください", file=sys.stderr)
        return 1
    html_path, xlsx_path = write_report(evaluations, current_figures(engine), catalog, fy, args.out)
    print(f"{html_path}\n{xlsx_path}")
    return 0


def cmd_upgrade(args: argparse.Namespace) -> int:
    from warehouse.store import upgrade

    print("\n".join(upgrade(load_config(_config_path(args)).warehouse.url).lines()))
    return 0


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
