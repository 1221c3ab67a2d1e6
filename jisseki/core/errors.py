"""The root of every error jisseki expects, and the exit codes the CLI ends with.

Depends on nothing, so connectors/, warehouse/ and the CLI can all use it."""
from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from typing import Any

# Where the traceback of an unexpected error went: it is not printed for people.
DETAILS = "（詳しくは Prefect のフロー実行ログを見るか、--debug を付けて実行し直してください）"
# Python puts the values it failed on in quotes (int('R7-0000001'), KeyError('山田')): an unexpected error's
# text keeps its words, not those values, and digit runs long enough to be an id.
_QUOTED = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"|\d{5,}")


def internal_error(exc: BaseException, limit: int = 400) -> str:
    """An unexpected error as one line people can pass on: its type and message, without the values in it."""
    return f"内部エラー {type(exc).__name__}: {_QUOTED.sub('…', str(exc))}"[:limit]


class ExitCode(enum.IntEnum):
    OK = 0          # everything landed (or the command did what it says)
    FAILED = 1      # a source failed or was rejected (the others landed), or the command could not do its work
    USAGE = 2       # a usage or config error: nothing was started
    LOCKED = 3      # another run holds the warehouse: nothing was started
    INTERRUPTED = 130


class JissekiError(Exception):
    """An error that people read: Japanese, safe to show (no secret, no personal data), saying what failed
    and where; `hint` says what to do about it, and is shown after the message."""

    exit_code = ExitCode.FAILED
    hint = ""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint

    def __str__(self) -> str:
        message = super().__str__()
        if not self.hint:
            return message
        return f"{message}{'' if message.endswith('。') else '。'}{self.hint}"


class UsageError(JissekiError):
    """What was asked cannot be done as asked (an argument, the config): nothing was started."""

    exit_code = ExitCode.USAGE


class ConfigError(UsageError):
    """The config (or a file it names, such as a catalog) cannot be used; the message names the file and key."""


# Japanese for the pydantic error types a config or catalog file can run into; {…} are the error's context.
_VALIDATION_TEXT: Mapping[str, str] = {
    "missing": "必須の項目がありません",
    "extra_forbidden": "不明なキーです（綴りを確認してください）",
    "string_type": "文字列で指定してください",
    "bool_type": "true か false で指定してください",
    "bool_parsing": "true か false で指定してください",
    "int_type": "整数で指定してください",
    "int_parsing": "整数で指定してください",
    "int_from_float": "整数で指定してください",
    "float_type": "数値で指定してください",
    "float_parsing": "数値で指定してください",
    "greater_than": "{gt} より大きい値にしてください",
    "greater_than_equal": "{ge} 以上にしてください",
    "less_than": "{lt} より小さい値にしてください",
    "less_than_equal": "{le} 以下にしてください",
    "list_type": "配列（[ … ]）で指定してください",
    "dict_type": "表（[セクション] または { … }）で指定してください",
    "model_type": "表（[セクション] または { … }）で指定してください",
    "model_attributes_type": "表（[セクション] または { … }）で指定してください",
    "literal_error": "次のいずれかにしてください: {expected}",
    "date_type": "日付（YYYY-MM-DD）で指定してください",
    "date_parsing": "日付（YYYY-MM-DD）で指定してください",
    "date_from_datetime_parsing": "日付（YYYY-MM-DD）で指定してください",
    "path_type": "パス（文字列）で指定してください",
    "string_too_short": "空にはできません",
    # A [sources.*] section that is not a built-in source is a declaration, told apart by its type.
    "union_tag_not_found": "組み込みのソースではありません。新しいソースを宣言するなら type（\"csv\"・\"excel\"・"
                           "\"jsonl\"・\"sql\"・\"rest\" のいずれか）を書いてください",
    "union_tag_invalid": "type は次のいずれかにしてください: {expected_tags}",
}


def validation_text(errors: Iterable[Mapping[str, Any]], hidden: tuple[str, ...] = ()) -> str:
    """pydantic's ValidationError.errors() in Japanese, one clause per error, each naming its key as TOML
    writes it ([section] key). Location parts ending in `hidden` (model class names) are left out. Values
    are never repeated back: a config may sit next to secrets."""
    # An error about a whole table (an unknown section, a rule across its keys) names it as [section];
    # for a missing key, the input is the table that lacks it.
    return "; ".join(f"{_where(err['loc'], hidden, _is_table(err))}: {_what(err)}" for err in errors)


def _is_table(err: Mapping[str, Any]) -> bool:
    return isinstance(err.get("input"), Mapping) and err["type"] != "missing"


def _where(loc: Iterable[Any], hidden: tuple[str, ...], table: bool) -> str:
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            if parts:
                parts[-1] += f"（{part + 1}番目）"
        elif not (hidden and str(part).endswith(hidden)):
            parts.append(str(part))
    if not parts:
        return "（ファイル全体）"
    if table or len(parts) == 1:
        return f"[{'.'.join(parts)}]"
    return f"[{'.'.join(parts[:-1])}] {parts[-1]}"


def _what(err: Mapping[str, Any]) -> str:
    ctx = err.get("ctx") or {}
    if err["type"] == "value_error" and "error" in ctx:
        return str(ctx["error"])   # our own validators: already Japanese
    if err["type"].startswith("jisseki_"):
        return str(err["msg"])     # our own PydanticCustomError: already Japanese
    template = _VALIDATION_TEXT.get(err["type"])
    if template is None:
        return f"値が正しくありません（{err['type']}）"
    if "expected" in ctx:   # pydantic's list of allowed values ends in an English "or"
        ctx = {**ctx, "expected": str(ctx["expected"]).replace(" or ", ", ")}
    try:
        return template.format(**ctx)
    except (KeyError, IndexError):
        return template
