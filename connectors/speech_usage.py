"""Contract 3: speech-recognition device usage log (AI音声認識端末 利用ログ), JSON Lines.

A data row is a line that is not blank (only white space); each is counted or quarantined exactly once.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from connectors.files import LineProblem, delivered_files, json_line, json_lines, read_delivery
from jisseki.core.normalize import parse_timestamp
from jisseki.core.records import Bad, FileInfo, Lineage, Record, accounted, text_problem

TEXT_FIELDS = ("session_id", "device_id", "department_code", "loan_type")
TIME_FIELDS = ("started_at", "ended_at")


def read_speech_usage(folder: Path, lineage: Lineage) -> Iterator[Record | Bad]:
    paths = delivered_files(folder, ".jsonl")
    lineage.units_total = len(paths)
    for path in paths:
        data, info = read_delivery(path)
        info.encoding = "utf-8"
        lineage.files.append(info)
        lines = json_lines(data)
        yield from accounted(info, (_line(number, raw, info) for number, raw in lines), len(lines))


def _line(number: int, raw: bytes, info: FileInfo) -> Record | Bad:
    def bad(code: str, reason: str) -> Bad:
        return Bad(info.name, str(number), code, reason, content_hash=info.sha256)

    try:
        obj = json_line(raw, (*TEXT_FIELDS, *TIME_FIELDS))
    except LineProblem as unread:
        return bad(unread.code, unread.reason)
    if not isinstance(obj, dict):
        return bad("not_json", "JSONオブジェクトではない行です")
    if problem := text_problem({name: obj.get(name) for name in (*TEXT_FIELDS, *TIME_FIELDS)}):
        return bad("bad_text", problem)
    started, ended = parse_timestamp(obj.get("started_at")), parse_timestamp(obj.get("ended_at"))
    fields: dict[str, Any] = {name: _text(obj.get(name)) for name in TEXT_FIELDS}
    fields.update(
        started_at=started,
        ended_at=ended,
        started_epoch=started.timestamp() if started else None,
        ended_epoch=ended.timestamp() if ended else None,
        duration_hours=(ended - started).total_seconds() / 3600 if started and ended else None,
        raw_started=str(obj.get("started_at"))[:40],
        raw_ended=str(obj.get("ended_at"))[:40],
    )
    return Record(fields, fields["session_id"], info.name, str(number), info.sha256)


def _text(value: object) -> str | None:
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    text = str(value).strip()
    return text or None
