"""Contract 3: speech-recognition device usage log (AI音声認識端末 利用ログ), JSON Lines.

A data row is a line that is not blank (only white space); each is counted or quarantined exactly once.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from connectors.files import byte_lines, delivered_files, read_delivery
from jisseki.core.normalize import parse_timestamp
from jisseki.core.records import Bad, FileInfo, Lineage, Record, accounted, text_problem

TEXT_FIELDS = ("session_id", "device_id", "department_code", "loan_type")
TIME_FIELDS = ("started_at", "ended_at")


class _RepeatedKey(ValueError):
    """A key twice in one object: json.loads would keep the last one without a word."""


def read_speech_usage(folder: Path, lineage: Lineage) -> Iterator[Record | Bad]:
    paths = delivered_files(folder, ".jsonl")
    lineage.units_total = len(paths)
    for path in paths:
        data, info = read_delivery(path)
        info.encoding = "utf-8"
        lineage.files.append(info)
        lines = [(number, raw) for number, raw in byte_lines(data) if not _blank(raw)]
        yield from accounted(info, (_line(number, raw, info) for number, raw in lines), len(lines))


def _blank(raw: bytes) -> bool:
    try:
        return not raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return False


def _unique(pairs: list[tuple[str, object]]) -> dict[str, object]:
    obj: dict[str, object] = {}
    for key, value in pairs:
        if key in obj:
            raise _RepeatedKey(key)
        obj[key] = value
    return obj


def _line(number: int, raw: bytes, info: FileInfo) -> Record | Bad:
    def bad(code: str, reason: str) -> Bad:
        return Bad(info.name, str(number), code, reason, content_hash=info.sha256)

    try:
        obj = json.loads(raw.decode("utf-8"), object_pairs_hook=_unique)
    except UnicodeDecodeError:
        return bad("undecodable", "UTF-8として読めない行です")
    except _RepeatedKey as exc:
        key = exc.args[0] if exc.args[0] in (*TEXT_FIELDS, *TIME_FIELDS) else "取り決めにないキー"
        return bad("duplicate_key", f"同じキーが複数あります: {key}（どの値を読むか決められません）")
    except (ValueError, RecursionError):   # not JSON, or an integer too long or nesting too deep to read
        return bad("not_json", "JSONとして読めない行です")
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
