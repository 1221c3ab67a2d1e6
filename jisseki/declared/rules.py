"""A declaration's row rules as GX expectations with Japanese reasons, the fields each row is validated by,
and the figure rules its measures imply: the suites a declared source is validated by are made here, not
written by hand (expectations/runner.register_suite takes them).

Per column `c` (a personal column is never validated by value or shown: it has only `c__ok` and `c__has`, as
rows whose key cannot be read or is not there would otherwise all be taken for one row):
    c       the typed value (None when empty or unreadable)
    c__ok   False when a value is there but is not of the column's type
    c__has  whether a value is there at all
    c__raw  the raw value, for quarantine to show in the column type's shape
    c__ord  dates and date-times as a number, for not_before
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from jisseki.core.normalize import nfkc
from jisseki.declared.spec import TYPE_WORDS, Declared, MeasureSpec
from jisseki.declared.values import MISSING, SHAPES, raw_text

COUNTS = ("count", "distinct", "active", "first")   # measures that are counts: never negative


def fields(decl: Declared, typed: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    """The row's fields for its records suite, from its typed and raw values."""
    out: dict[str, Any] = {}
    for name, column in decl.columns.items():
        if column.personal:
            out[f"{name}__ok"] = typed[name] is not None
            out[f"{name}__has"] = typed[name] is not MISSING
            continue
        value = typed[name]
        out[name] = None if value is MISSING or value is None else _plain(value)
        out[f"{name}__ok"] = value is not None
        out[f"{name}__has"] = value is not MISSING
        out[f"{name}__raw"] = raw_text(raw.get(name))
        if column.type in ("date", "datetime"):
            out[f"{name}__ord"] = _ordinal(value)
    return out


def _plain(value: Any) -> Any:
    """Dates and date-times as ISO text for pandas and GX, which would otherwise coerce them per column."""
    return value.isoformat() if isinstance(value, (date, datetime)) else value


def _ordinal(value: Any) -> float | None:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, date):
        return float(value.toordinal())
    return None


def records_suite(name: str, decl: Declared) -> dict[str, Any]:
    """The records suite of a declared source, one expectation per rule, in the order a reader reads them."""
    required = decl.required()
    out: list[dict[str, Any]] = []

    def expect(kind: str, kwargs: dict[str, Any], code: str, reason: str, column: str | None) -> None:
        meta: dict[str, Any] = {"code": code, "reason": reason}
        if column is not None:
            meta.update(value_column=f"{column}__raw", value_shape=SHAPES[decl.columns[column].type])
        out.append({"type": kind, "kwargs": kwargs, "meta": meta})

    for c, column in decl.columns.items():
        word = TYPE_WORDS[column.type]
        if column.personal:
            # Whether it is there and of its type is all that is checked, and its value is never shown: rows
            # whose (personal) key cannot be read or is missing would otherwise be taken for one row.
            expect("expect_column_values_to_be_in_set", {"column": f"{c}__ok", "value_set": [True]},
                   "invalid_value", f"{c} を{word}として解釈できません", None)
            if c in required:
                expect("expect_column_values_to_be_in_set", {"column": f"{c}__has", "value_set": [True]},
                       "missing_value", f"{c} がありません", None)
            continue
        expect("expect_column_values_to_be_in_set", {"column": f"{c}__ok", "value_set": [True]},
               "invalid_value", f"{c} を{word}として解釈できません", c)
        if c in required:
            expect("expect_column_values_to_be_in_set", {"column": f"{c}__has", "value_set": [True]},
                   "missing_value", f"{c} がありません", None)
        if column.allowed is not None:
            shown = "・".join(str(v) for v in column.allowed)
            # Compared with the typed value, which is NFKC text: the declaration's words are taken the same way.
            allowed = [nfkc(v) if isinstance(v, str) else v for v in column.allowed]
            expect("expect_column_values_to_be_in_set", {"column": c, "value_set": allowed},
                   "not_allowed", f"{c} が {shown} のいずれでもありません", c)
        if column.min is not None or column.max is not None:
            bounds = {k: v for k, v in (("min_value", column.min), ("max_value", column.max)) if v is not None}
            expect("expect_column_values_to_be_between", {"column": c, **bounds},
                   "out_of_range", f"{c} が{_range_words(column.min, column.max)}", c)
        if column.pattern is not None:
            expect("expect_column_values_to_match_regex", {"column": c, "regex": f"^(?:{column.pattern})$"},
                   "pattern_mismatch", f"{c} が決められた形式に合いません", c)
        if column.not_before is not None:
            expect("expect_column_pair_values_a_to_be_greater_than_b",
                   {"column_A": f"{c}__ord", "column_B": f"{column.not_before}__ord", "or_equal": True,
                    "ignore_row_if": "either_value_is_missing"},
                   "before_other", f"{c} が {column.not_before} より前です", c)
    return {"name": f"{name}.records", "expectations": out}


def _range_words(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f" {low:g}〜{high:g} の範囲外です"
    if low is not None:
        return f" {low:g} 未満です"
    return f" {high:g} を超えています"


def figures_suite(name: str, measures: dict[str, MeasureSpec], scoped: bool) -> dict[str, Any]:
    """What every figure of the source's measures must be: counts never negative, ratios within 0..1 with a
    positive denominator and a numerator no larger, the scope city-wide unless a measure is per scope."""
    out: list[dict[str, Any]] = [
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "count_value", "min_value": 0},
         "meta": {"code": "negative_count", "reason": "件数が負です", "value_column": "value", "value_shape": "number"}},
        {"type": "expect_column_values_to_be_between",
         "kwargs": {"column": "ratio_value", "min_value": 0, "max_value": 1},
         "meta": {"code": "ratio_out_of_range", "reason": "割合が0〜1の範囲外です", "value_column": "value",
                  "value_shape": "number"}},
        {"type": "expect_column_values_to_be_between",
         "kwargs": {"column": "ratio_denominator", "min_value": 0, "strict_min": True},
         "meta": {"code": "empty_denominator", "reason": "割合の分母が0以下です"}},
        {"type": "expect_column_pair_values_a_to_be_greater_than_b",
         "kwargs": {"column_A": "ratio_denominator", "column_B": "ratio_numerator", "or_equal": True,
                    "ignore_row_if": "either_value_is_missing"},
         "meta": {"code": "numerator_exceeds_denominator", "reason": "分子が分母を超えています"}},
    ]
    if not (scoped and any(m.by_scope for m in measures.values())):
        out.append({"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "scope", "value_set": ["city"]},
                    "meta": {"code": "bad_scope", "reason": "範囲が city ではありません", "value_column": "scope",
                             "value_shape": "key"}})
    return {"name": f"{name}.figures", "expectations": out}


def figure_checks(measure: MeasureSpec, value: float, numerator: float | None,
                  denominator: float | None) -> dict[str, Any]:
    """The columns of a figure only its suite reads (Figure.checks), by what its measure counts."""
    counted = measure.type in COUNTS
    ratio = measure.type == "ratio"
    return {"count_value": value if counted else None, "ratio_value": value if ratio else None,
            "ratio_numerator": numerator if ratio else None, "ratio_denominator": denominator if ratio else None}
