"""A declared JSON Lines source: every file of its folder that matches its pattern, UTF-8 (a BOM before the
first line is tolerated), each line that is not blank one JSON object. Each such line is counted, as a Row
or a Bad, exactly once (jisseki.core.records.accounted). A declared column's value is found by its dotted
path (`meta.updated_at`) into the object; a JSON value is passed on as it is (typing is values.typed's)."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connectors.files import LineProblem, json_line, json_lines, read_delivery
from jisseki.core.records import Bad, FileInfo, Lineage, accounted, digest, text_problem
from jisseki.declared.delivered import source_files
from jisseki.declared.spec import JsonlSource
from jisseki.declared.values import Row, Window


def read_jsonl(cfg: JsonlSource, lineage: Lineage, window: Window, secret: str | None) -> Iterator[Row | Bad]:
    paths = source_files(cfg)
    lineage.units_total = len(paths)
    paths_of = {name: column.where(name).split(".") for name, column in cfg.columns.items()}
    # Keys a reason may name: those the declaration names (a key elsewhere may be data, a user id say).
    named = {key for path in paths_of.values() for key in path}
    for path in paths:
        data, info = read_delivery(path)
        info.encoding = "utf-8"
        lineage.files.append(info)
        lines = json_lines(data)
        yield from accounted(info, (_line(number, raw, info, paths_of, named) for number, raw in lines), len(lines))


def at_path(obj: Any, path: list[str]) -> Any:
    """The value at a dotted path, None when a step is absent or not an object."""
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _line(number: int, raw: bytes, info: FileInfo, paths: dict[str, list[str]], named: set[str]) -> Row | Bad:
    content_hash = digest(raw)

    def bad(code: str, reason: str) -> Bad:
        return Bad(info.name, f"line {number}", code, reason, content_hash=content_hash)

    try:
        obj = json_line(raw, named)
    except LineProblem as unread:
        return bad(unread.code, unread.reason)
    if not isinstance(obj, dict):
        return bad("not_object", "JSONオブジェクトではない行です")
    values = {name: at_path(obj, path) for name, path in paths.items()}
    if problem := text_problem(values):
        return bad("bad_text", problem)
    return Row(values, info.name, f"line {number}", content_hash)
