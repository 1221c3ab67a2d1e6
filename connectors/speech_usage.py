"""Contract 3: speech-recognition device usage log (AI音声認識端末 利用ログ), JSON Lines."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from connectors.files import byte_lines, delivered_files, read_delivery
from connectors.records import Bad, FileInfo, Lineage, Record
from jisseki.normalize import parse_timestamp

TEXT_FIELDS = ("session_id", "device_id", "department_code", "loan_type")


def read_speech_usage(folder: Path, lineage: Lineage) -> Iterator[Record | Bad]:
    paths = delivered_files(folder, ".jsonl")
    lineage.units_total = len(paths)
    for path in paths:
        data, info = read_delivery(path)
        info.encoding = "utf-8"
        lineage.files.append(info)
        for number, raw in byte_lines(data):
            if raw.strip():
                info.rows += 1
                yield _line(number, raw, info)


def _line(number: int, raw: bytes, info: FileInfo) -> Record | Bad:
    try:
        obj = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return Bad(info.name, str(number), "undecodable", "UTF-8として読めない行です", content_hash=info.sha256)
    except json.JSONDecodeError:
        return Bad(info.name, str(number), "not_json", "JSONとして読めない行です", content_hash=info.sha256)
    if not isinstance(obj, dict):
        return Bad(info.name, str(number), "not_json", "JSONオブジェクトではない行です", content_hash=info.sha256)
    started, ended = parse_timestamp(obj.get("started_at")), parse_timestamp(obj.get("ended_at"))
    fields = {name: _text(obj.get(name)) for name in TEXT_FIELDS}
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
