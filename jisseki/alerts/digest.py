"""One message per channel and run: what changed since the channel last heard from us, most severe first.

Built at delivery time from the channel's queued outbox rows, so what a channel that was down missed goes
out in its next digest. Pure: rows, the day and the Prefect UI's address in, the message out."""
from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from html import escape as html_escape
from typing import Any

from jisseki.alerts.rules import WATCHDOG_RUN, month_words

# (kind of the alert key, section heading, word in the subject), most severe first. The first three are always
# in the subject, so a digest without a missed target says so.
SECTIONS = (("missed", "目標未達成", "目標未達成"), ("month_missed", "月間目標未達", "月間目標未達"),
            ("at_risk", "要注意", "要注意"), ("night", "夜間処理の未実行", "未実行"),
            ("source_failed", "取込失敗・不採用", "取込失敗"), ("stale", "データ遅延", "データ遅延"),
            ("manual_missing", "未入力", "未入力"), ("restated", "公表値の訂正", "公表値の訂正"), ("other", "その他", "その他"), ("resolved", "解消", "解消"))
ALWAYS = ("missed", "at_risk", "source_failed")
KINDS = {"missed": "missed", "month_missed": "month_missed", "at_risk": "at_risk", "run_locked": "night",
         "night_missed": "night", "source_failed": "source_failed", "stale": "stale",
         "manual_missing": "manual_missing", "restated": "restated"}
MONTH_TAG = "【月間目標未達】"
RESOLVED_TAG = "【解消】"


@dataclass(frozen=True)
class Entry:
    headline: str               # who, figure, target, period
    lines: tuple[str, ...]      # reasons and what to do


@dataclass(frozen=True)
class Section:
    kind: str
    label: str
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class Digest:
    subject: str
    severity: str               # failure | warning | success: the worst that fired
    intro: str
    sections: tuple[Section, ...]
    runs: tuple[tuple[str, str | None], ...]   # (label, link) per flow run the rows came from

    def html(self) -> str:
        """Real HTML, every text escaped: Apprise mails it as the text/html part and derives the text/plain part
        from it (a line per <li> and <br>), and turns it into each other channel's own format."""
        parts = [f"<p>{escape(self.intro)}</p>"]
        for section in self.sections:
            parts.append(f"<h3>■ {escape(section.label)}（{len(section.entries)} 件）</h3><ul>")
            for entry in section.entries:
                # The full-width space indents the detail lines (Apprise makes it a plain space in the text part).
                details = "".join(f"<br>\u3000{escape(line)}" for line in entry.lines)
                parts.append(f"<li>{escape(entry.headline)}{details}</li>")
            parts.append("</ul>")
        for label, link in self.runs:
            # The link's text is the address itself: the plain-text part keeps only a link's text.
            shown = f'<a href="{html_escape(link)}">{escape(link)}</a>' if link else escape(label)
            parts.append(f"<p>{escape(label) + ': ' if link else ''}{shown}</p>")
        return "".join(parts)


def escape(text: str) -> str:
    """Text as HTML text: <, > and & only, so quotes in a source's message stay as written."""
    return html_escape(text, quote=False)


def build(rows: Sequence[Mapping[str, Any]], as_of: date, ui_url: str | None) -> Digest:
    """rows: one channel's queued outbox rows in the order they were queued. A key queued more than once (the
    channel was down over several changes) is told once, in its latest change."""
    latest: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        latest.pop(row["alert_key"], None)
        latest[row["alert_key"]] = row
    groups: dict[str, list[Mapping[str, Any]]] = {kind: [] for kind, _, _ in SECTIONS}
    for row in latest.values():
        groups["resolved" if row["change"] == "resolved" else _kind(row["alert_key"])].append(row)
    sections = tuple(Section(kind, label, tuple(_entries(kind, groups[kind])))
                     for kind, label, _ in SECTIONS if groups[kind])
    counts = {s.kind: len(s.entries) for s in sections}
    words = [f"{word} {counts.get(kind, 0)} 件" for kind, _, word in SECTIONS
             if kind in ALWAYS or counts.get(kind)]
    fired = {row["severity"] for row in latest.values() if row["change"] == "firing"}
    severity = "failure" if "failure" in fired else "warning" if "warning" in fired else "success"
    return Digest(f"【jisseki】{as_of} 時点: {'・'.join(words)}", severity,
                  f"{as_of} 時点の夜間処理で、前回のお知らせから変わったことです（変わらないものは知らせません）。",
                  sections, _runs(rows, ui_url))


def _kind(key: str) -> str:
    return KINDS.get(key.split(":", 1)[0], "other")


def _entries(kind: str, rows: list[Mapping[str, Any]]) -> list[Entry]:
    """An entry per row, but the months of one indicator that missed its monthly target fold into one."""
    entries: list[Entry] = []
    months: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        if row["alert_key"].startswith("month_missed:"):
            months.setdefault(row["alert_key"].split(":")[1], []).append(row)
        else:
            entries.append(_entry(row))
    for group in months.values():
        entries.append(_entry(group[0]) if len(group) == 1 else _folded(kind, group))
    return entries


def _entry(row: Mapping[str, Any]) -> Entry:
    first, *rest = row["body"].split("\n")
    return Entry(first, tuple(rest))


def _folded(kind: str, group: list[Mapping[str, Any]]) -> Entry:
    group = sorted(group, key=lambda r: r["alert_key"])
    labels = [r["alert_key"].rsplit(":", 1)[1] for r in group]
    last = group[-1]
    title = last["title"].removeprefix(RESOLVED_TAG).removeprefix(MONTH_TAG)
    who = title.rsplit(" ", 1)[0]
    span = f"{month_words(labels[0])}〜{month_words(labels[-1])}{'の' if _contiguous(labels) else 'のうち'}" \
           f"{len(labels)}か月"
    if kind == "resolved":
        return Entry(f"{MONTH_TAG}{who}: {span}分が解消しました", ())
    first, *rest = last["body"].split("\n")
    figure = first.split(": ", 1)[1]
    return Entry(f"{who}: {span}が月間目標未達（最新 {month_words(labels[-1])}: {figure}）", tuple(rest))


def _contiguous(labels: list[str]) -> bool:
    def index(label: str) -> int:
        year, month = label.split("-")
        return int(year) * 12 + int(month)
    return index(labels[-1]) - index(labels[0]) + 1 == len(labels)


def _runs(rows: Sequence[Mapping[str, Any]], ui_url: str | None) -> tuple[tuple[str, str | None], ...]:
    """The flow runs the rows came from, linked in the Prefect UI when its address is known."""
    ids = list(dict.fromkeys(r["flow_run_id"] for r in rows if r["flow_run_id"] != WATCHDOG_RUN))
    return tuple(("フロー実行", f"{ui_url}/runs/flow-run/{run_id}") if ui_url and _is_flow_run(run_id)
                 else (f"フロー実行 ID: {run_id}", None) for run_id in ids)


def _is_flow_run(run_id: str) -> bool:
    """A run outside Prefect has no flow run to link to."""
    try:
        uuid.UUID(run_id)
    except ValueError:
        return False
    return True
