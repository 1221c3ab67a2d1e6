"""The rows a night set aside (quarantine), as their owners read them: which file, which line, which column,
why (in Japanese), and when. One table says what every reason code means; `jisseki quarantine` lists the rows,
the report shows them per source. Works on the warehouse's rows as warehouse.quarantine returns them."""
from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Any, TextIO

from jisseki.core.periods import JST
from jisseki.report import aligned
from jisseki.sources import SOURCE_NAMES, source_label


@dataclass(frozen=True)
class Reason:
    text: str
    column: str = ""   # the column (as the contract names it) the code is about, when it is about one


# Every code a connector (connectors/) or a suite (expectations/*.json) can give a row or file it sets aside; a
# suite's code with one reason has that reason's words, so a row the suite alone set aside needs no 詳細.
# tests/test_quarantine_cli.py checks both, and that the code base emits no code missing here.
REASONS: Mapping[str, Reason] = {
    # Files and lines that cannot be read
    "undecodable": Reason("文字コードが取り決めと違うため読めません"),
    "malformed_csv": Reason("CSVとして読めない行です（引用符の位置や対応、列の数が不正）"),
    "malformed_header": Reason("見出し行をCSVとして読めません（ファイル全体を除外）", "見出し"),
    "missing_columns": Reason("必須の列がありません（ファイル全体を除外）", "見出し"),
    "duplicate_columns": Reason("同じ名前の列が複数あります（ファイル全体を除外）", "見出し"),
    "bad_text": Reason("NUL文字などの記録できない文字があります"),
    "unaccounted_rows": Reason("読み取りの不具合で数えられなかった行です（システム担当に連絡してください）"),
    "not_json": Reason("JSONとして読めない行です"),
    "duplicate_key": Reason("同じキーが1行に複数あります"),
    "not_object": Reason("JSONオブジェクトではないレコードです"),
    "sheet_not_found": Reason("設定で指定したシートがブックにありません（ファイル全体を除外）"),
    # 転出届 受付ログ
    "bad_date": Reason("受付日を解釈できません", "受付日"),
    "unknown_ward": Reason("区コードが大阪市の24区にありません", "区コード"),
    "unknown_route": Reason("届出経路が不明です（マイナポータル・窓口・郵送のいずれでもありません）", "届出経路"),
    "bad_withdrawn": Reason("取消の値が 1・0・空欄 のいずれでもありません", "取消"),
    "missing_receipt": Reason("受付番号がありません（重複を判定できません）", "受付番号"),
    # AI音声認識端末 利用ログ
    "missing_field": Reason("必須の項目がありません"),
    "bad_timestamp": Reason("開始・終了の日時を読めません"),
    "ended_before_started": Reason("ended_at が started_at より前です", "ended_at"),
    "too_long": Reason("24時間を超えるセッションです", "ended_at"),
    "unknown_loan_type": Reason("loan_type が annual・short_term のいずれでもありません", "loan_type"),
    # データ可視化環境 利用ログ
    "bad_accessed_at": Reason("accessed_at を解釈できません", "accessed_at"),
    "missing_department": Reason("department_code がありません", "department_code"),
    "unknown_department": Reason("department_code が所属マスタにありません", "department_code"),
    "bad_department": Reason("所属マスタの行を読めません（コードまたは有効期間）"),
    # 実績入力シート
    "workbook_too_large": Reason("ブックが大きすぎるため読みません（ファイル全体を除外）"),
    "workbook_too_compressed": Reason("ブックの圧縮率が異常なため読みません（ファイル全体を除外）"),
    "workbook_too_many_cells": Reason("ブックのセルが多すぎるため読みません（ファイル全体を除外）"),
    "unreadable_workbook": Reason("Excelのブックとして開けません（ファイル全体を除外）"),
    "missing_sheet": Reason("シート「実績」がありません"),
    "entries_on_other_sheet": Reason("「実績」以外のシートに入力があります（読みません）"),
    "formula_without_value": Reason("数式の結果が保存されていません（Excelで開いて保存し直してください）", "実績値"),
    "formula_error": Reason("数式がエラーになっています"),
    "implausible_value": Reason("実績値が大きすぎます（1兆を超える）", "実績値"),
    "unknown_kpi": Reason("KPI ID がカタログの手入力指標にありません", "KPI ID"),
    "bad_fiscal_year": Reason("年度を解釈できません（2025・FY2025・令和7年度・R7）", "年度"),
    "bad_value": Reason("実績値を解釈できません", "実績値"),
    "negative_value": Reason("実績値が負です", "実績値"),
    "bad_entered_on": Reason("入力日がないか日付として解釈できません", "入力日"),
    # Declared sources (jisseki/declared/rules.py): the reason names the column and what it must be
    "invalid_value": Reason("値が列の型（日付・数値・区コードなど）として解釈できません"),
    "missing_value": Reason("必須の列に値がありません"),
    "not_allowed": Reason("値が決められた値のどれでもありません"),
    "out_of_range": Reason("値が決められた範囲の外です"),
    "pattern_mismatch": Reason("値が決められた形式に合いません"),
    "before_other": Reason("日付が、その前にあるべき日付より前です"),
    # Figures (a batch whose figures fail is rejected whole; the codes are listed for completeness)
    "ratio_out_of_range": Reason("割合が0〜1の範囲外です"),
    "empty_denominator": Reason("割合の分母が0以下です"),
    "negative_numerator": Reason("分子が負です"),
    "numerator_exceeds_denominator": Reason("分子が分母を超えています"),
    "bad_scope": Reason("集計の範囲（市全体・区）が不正です"),
    "negative_count": Reason("件数が負です"),
    "negative_hours": Reason("利用時間が負です"),
    "hours_exceed_devices": Reason("利用時間が 24時間×日数×その月の端末数 を超えています"),
    "bad_period": Reason("期間が年度（FY）ではありません"),
}

MAX_SHOWN = 200   # rows per source on the report page; the rest are counted
HEADER = ("ソース", "ファイル", "行", "列", "値", "理由", "詳細", "行数", "除外日")
NUMBER = re.compile(r"[+-]?[0-9][0-9,]*(\.[0-9]+)?")
ITEMS = {"file": "（ファイル全体）", "header": "見出し行"}


@dataclass(frozen=True)
class Rejected:
    """One entry as its owner reads it."""
    source: str
    file: str
    line: str
    column: str
    value: str
    reason: str
    detail: str
    rows: int
    day: str

    def cells(self, labels: Mapping[str, str] | None = None) -> tuple[str, ...]:
        label = (labels or {}).get(self.source) or source_label(self.source)
        return (label, self.file, self.line, self.column, self.value, self.reason, self.detail, str(self.rows),
                self.day)


def reason_text(code: str, stored: str | None = None) -> str:
    """The table's text; an entry landed by a version that had other codes keeps the reason it was stored with
    (without one, the code itself)."""
    known = REASONS.get(code)
    return known.text if known else stored or code


def rejected(row: Mapping[str, Any]) -> Rejected:
    code, stored = row["reason_code"], row["reason"]
    reason = reason_text(code, stored)
    moment: datetime = row["detected_at"]
    return Rejected(
        source=row["source"], file=row["location"], line=ITEMS.get(row["item"], row["item"]),
        column=REASONS[code].column if code in REASONS else "", value=_value(row["value"]), reason=reason,
        detail="" if stored == reason else stored, rows=int(row["rows"]),
        day=moment.astimezone(JST).date().isoformat())


# A field that was missing or null reaches quarantine as Python's or pandas' word for nothing.
NOTHING = ("None", "nan", "NaN", "NaT", "<NA>")


def _value(stored: str | None) -> str:
    return "（空）" if stored is None or stored in NOTHING else stored


def render_table(rows: Sequence[Mapping[str, Any]], labels: Mapping[str, str] | None = None) -> str:
    """`jisseki quarantine`'s table, aligned by display width, then the count. `labels` name the sources the
    config declares (Config.labels)."""
    if not rows:
        return "除外した行はありません\n"
    items = [rejected(r) for r in rows]
    lines = aligned([dict(zip(HEADER, item.cells(labels), strict=True)) for item in items], list(HEADER))
    lines.append("")
    lines.append(f"{len(items)} 件（{sum(i.rows for i in items)} 行）")
    return "\n".join(line.rstrip() for line in lines) + "\n"


def write_csv(rows: Sequence[Mapping[str, Any]], stream: TextIO, labels: Mapping[str, str] | None = None) -> None:
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(HEADER)
    for row in rows:
        writer.writerow([_inert(cell) for cell in rejected(row).cells(labels)])


def _inert(cell: str) -> str:
    """Excel runs a cell that starts like a formula; a stored value (from someone's file) must stay text. A
    signed number (a negative 実績値) is no formula and stays as it is."""
    formula = cell.startswith(("=", "@", "\t", "\r")) or (cell.startswith(("+", "-")) and not NUMBER.fullmatch(cell))
    return "'" + cell if formula else cell


@dataclass(frozen=True)
class Rejections:
    """What the report shows of quarantine: the first rows of each source, the count of all per (source, reason
    code), and the sources configured with what people call them (each gets a section, saying so when it set
    nothing aside)."""
    rows: Sequence[Mapping[str, Any]]
    counts: Mapping[tuple[str, str], int]
    sources: Mapping[str, str] = field(default_factory=dict)


def rejections_html(rows: Sequence[Mapping[str, Any]], counts: Mapping[tuple[str, str], int] | None = None,
                    sources: Mapping[str, str] | None = None) -> str:
    """The report's 「除外した行」: one section holding a <section> per source (those in `sources` even without
    rows) with its rows (the first MAX_SHOWN) and the count per reason. `counts` per (source, reason code) are
    of all entries when `rows` are only the first of each source (warehouse.quarantine.quarantined's limit);
    left out, they are counted from `rows`."""
    if counts is None:
        counts = Counter((r["source"], r["reason_code"]) for r in rows)
    names = dict(sources or {})
    by_source: dict[str, list[Rejected]] = {name: [] for name in names}
    for row in rows:
        by_source.setdefault(row["source"], []).append(rejected(row))
    for source, _code in counts:
        by_source.setdefault(source, [])
    head = '<section class="rejected"><h2>除外した行</h2>'
    if not by_source:
        return f"{head}<p>除外した行はありません</p></section>"
    parts = [_section(source, names.get(source) or SOURCE_NAMES.get(source, source), items,
                      {code: n for (s, code), n in counts.items() if s == source})
             for source, items in by_source.items()]
    return (f'{head}<p class="note">取り込まずに除外した行とその理由です（所管の所属で元のファイルを確認してください）。'
            f"すべては jisseki quarantine で一覧できます</p>{''.join(parts)}</section>")


ROW_HEADINGS = ("ファイル", "行", "列", "理由", "値", "除外日")


def _section(source: str, japanese: str, items: list[Rejected], counts: Mapping[str, int]) -> str:
    # The heading reads in Japanese; the source's name, which `--source` takes, is in its tooltip and the note.
    parts = [f'<section class="rejections"><h3 title="{escape(source)}">{escape(japanese)}</h3>']
    total = sum(counts.values())
    if not total:
        parts.append("<p>除外した行はありません</p></section>")
        return "".join(parts)
    parts.append('<div class="scroll"><table><tr><th>理由</th><th>件数</th></tr>')
    for code, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        parts.append(f'<tr><td>{escape(reason_text(code))}</td><td class="num">{n:,}</td></tr>')
    parts.append("</table></div>")
    shown = items[:MAX_SHOWN]
    # The rows fold away (a bad night sets hundreds aside): the counts above are what a reader of the report needs
    # first; the department opens the list.
    parts.append(f"<details><summary>除外した行の一覧（{len(shown):,} 件を表示）</summary>"
                 '<div class="scroll"><table class="rows"><tr>'
                 + "".join(f"<th>{h}</th>" for h in ROW_HEADINGS)
                 + "</tr>")
    for item in shown:
        reason = item.reason + (f"（{item.detail}）" if item.detail else "")
        cells = zip(ROW_HEADINGS, (item.file, item.line, item.column, reason, item.value, item.day))
        parts.append("<tr>" + "".join(f'<td data-label="{h}">{escape(cell)}</td>' for h, cell in cells) + "</tr>")
    parts.append("</table></div></details>")
    if total > len(shown):
        parts.append(f'<p class="note">ほか {total - len(shown):,} 件は表示していません'
                     f"（jisseki quarantine --source {escape(source)} で一覧できます）</p>")
    parts.append("</section>")
    return "".join(parts)
