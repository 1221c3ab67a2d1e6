from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from jisseki.core.normalize import WARDS, check_digit, parse_date, parse_timestamp, ward_code


@pytest.mark.parametrize("text, expected", [
    ("2025/04/01", date(2025, 4, 1)),
    ("2025-04-01", date(2025, 4, 1)),
    ("R7.4.1", date(2025, 4, 1)),
    ("令和7年4月1日", date(2025, 4, 1)),
    ("令和元年5月1日", date(2019, 5, 1)),
    ("R1.5.1", date(2019, 5, 1)),
    ("２０２５/０４/０１", date(2025, 4, 1)),
    ("Ｒ７．４．１", date(2025, 4, 1)),
    (" 2025/4/1 ", date(2025, 4, 1)),
    ("R元.5.1", date(2019, 5, 1)),
])
def test_dates_in_every_contract_form(text: str, expected: date) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", ["2025/13/45", "2025/02/30", "令和元年4月30日", "令和0年4月1日", "R7.2.29", "R7", "", "昨日",
                                  "2025/04", "2025.04.01", "2025年4月1日", "H31.4.1"])
def test_unparsable_or_impossible_dates_are_none(text: str) -> None:
    assert parse_date(text) is None


def test_check_digit_matches_every_ward_code() -> None:
    assert all(check_digit(code[:5]) == code[5] for code in WARDS)
    assert len(WARDS) == 24


@pytest.mark.parametrize("text, expected", [
    ("271021", "271021"), ("27102", "271021"), ("２７１０２", "271021"), ("27108", "271080"),
    ("271022", None), ("271999", None), ("27999", None), ("", None), ("都島区", None),
])
def test_ward_codes(text: str, expected: str | None) -> None:
    assert ward_code(text) == expected


def test_timestamps_are_japan_time() -> None:
    jst = timezone(timedelta(hours=9))
    assert parse_timestamp("2025-04-03T10:00:00+09:00") == datetime(2025, 4, 3, 10, tzinfo=jst)
    assert parse_timestamp("2025-04-03T01:00:00Z") == datetime(2025, 4, 3, 10, tzinfo=jst)
    assert parse_timestamp("2025-04-03T10:00:00") == datetime(2025, 4, 3, 10, tzinfo=jst)
    assert parse_timestamp("2025-09-32T25:00:00+09:00") is None
    assert parse_timestamp(12345) is None


def test_a_quarantined_value_is_shown_only_in_its_columns_shape() -> None:
    from jisseki.core.normalize import shown

    assert shown("2025/13/45", "date") == "2025/13/45"
    assert shown("271999", "ward") == "271999"
    assert shown("マイナポータル", "word") == "マイナポータル"
    assert shown("山田花子", "word") == "文字列（4文字）"
    # A shifted row puts a whole row, a receipt number or a name where a date, ward or route was expected.
    assert shown("2025/04/01,271047,此花区,R7-0000002,窓口,0", "date") == "文字列（37文字）"
    assert shown("R7-0000002", "ward") == "文字列（10文字）"
    assert shown("R7-0000002", "word") == "文字列（10文字）"
    assert shown("山田太郎です", "number") == "文字列（6文字）"
    assert shown(None, "date") == ""


def test_every_suite_value_column_declares_its_shape() -> None:
    import json
    from pathlib import Path

    from jisseki.core.normalize import VALUE_SHAPES

    suites = sorted((Path(__file__).parents[1] / "expectations").glob("*.json"))
    assert suites
    for path in suites:
        for entry in json.loads(path.read_text("utf-8"))["expectations"]:
            meta = entry["meta"]
            if "value_column" in meta:
                assert meta.get("value_shape") in VALUE_SHAPES, (path.name, meta["code"])


@pytest.mark.parametrize("value, shape", [("2025-04-02T10:00:00+09:00", "date"), ("令和7年4月1日", "date"),
                                          ("R7.4.1", "date"), ("２０２５/０４/０１", "date"), ("FY2025", "year"),
                                          ("in_operation", "code"), ("FY2025", "key"), ("D0412", "department")])
def test_values_in_their_shape_are_shown(value: str, shape: str) -> None:
    from jisseki.core.normalize import shown

    assert shown(value, shape) == value


@pytest.mark.parametrize("value, shape", [("R7-5550020", "date"), ("usr-445560", "code"), ("山田花子", "department"),
                                          ("S-20250402-7001", "date"), ("usr-445568", "date")])
def test_ids_are_not_shown_in_any_shape_they_could_pass_for(value: str, shape: str) -> None:
    from jisseki.core.normalize import shown

    assert shown(value, shape) == f"文字列（{len(value)}文字）"
