"""Property-based tests of every parser: any input yields records or quarantine reasons, never an
unhandled exception; normalisation of dates, eras, digits and ward codes round-trips."""
from __future__ import annotations

import json
import unicodedata
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.dataviz_access import DepartmentMaster, _access_file
from connectors.manual_entries import parse_value, parse_year
from connectors.speech_usage import _line
from jisseki.core.normalize import WARDS, parse_date, parse_timestamp, ward_code
from jisseki.core.records import Bad, FileInfo, Record
from jisseki.moveout.log import read_file

PROFILE = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FULL_WIDTH = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)})
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
                           max_leaves=8)
contract_like = st.fixed_dictionaries({}, optional={
    k: json_values | st.dates().map(str) for k in
    ("id", "app_id", "business_id", "online_since", "retired_on", "status", "updated_at", "operation_started_on")})


def info() -> FileInfo:
    return FileInfo("f.csv", 0, 0, "0" * 64)


def only_items(items) -> list:
    items = list(items)
    assert all(isinstance(i, (Record, Bad)) for i in items)
    return items


@PROFILE
@given(st.binary(max_size=2048))
def test_moveout_parser_takes_any_bytes(data: bytes) -> None:
    only_items(read_file(data, info()))


@PROFILE
@given(st.lists(st.lists(st.text(max_size=12), max_size=8), max_size=8))
def test_moveout_parser_takes_any_rows_under_the_contract_header(rows: list[list[str]]) -> None:
    text = "受付日,区コード,区名,受付番号,届出経路,取消\n" + "\n".join(",".join(r) for r in rows)
    for encoding in ("utf-8-sig", "cp932"):
        try:
            data = text.encode(encoding)
        except UnicodeEncodeError:
            continue
        only_items(read_file(data, info()))


@PROFILE
@given(st.binary(max_size=512) | st.builds(lambda d: json.dumps(d).encode(), contract_like))
def test_speech_line_parser_takes_any_line(raw: bytes) -> None:
    assert isinstance(_line(1, raw, info()), (Record, Bad))


@PROFILE
@given(st.binary(max_size=1024))
def test_access_log_parser_takes_any_bytes(data: bytes) -> None:
    only_items(_access_file(data, info(), DepartmentMaster()))


@PROFILE
@given(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(), st.dates()),
       st.sampled_from(["milestone", "count_per_fy", None]))
def test_workbook_cell_parsers_take_any_cell(cell, kind) -> None:
    year, value = parse_year(cell), parse_value(cell, kind)
    assert year is None or 1900 < year < 2200
    assert value is None or isinstance(value, float)


@PROFILE
@given(st.text(max_size=40))
def test_date_and_timestamp_parsers_take_any_text(text: str) -> None:
    assert parse_date(text) is None or isinstance(parse_date(text), date)
    parse_timestamp(text)


def forms(day: date) -> list[str]:
    reiwa = day.year - 2018
    era = "元" if reiwa == 1 else str(reiwa)
    return [f"{day:%Y/%m/%d}", f"{day:%Y-%m-%d}", f"{day.year}/{day.month}/{day.day}",
            f"R{era}.{day.month}.{day.day}", f"令和{era}年{day.month}月{day.day}日"]


@PROFILE
@given(st.dates(min_value=date(2019, 5, 1), max_value=date(2099, 12, 31)), st.booleans())
def test_every_contract_date_form_round_trips(day: date, full_width: bool) -> None:
    for text in forms(day):
        assert parse_date(text.translate(FULL_WIDTH) if full_width else text) == day


@PROFILE
@given(st.dates(min_value=date(2019, 1, 1), max_value=date(2019, 4, 30)))
def test_reiwa_dates_before_the_era_began_are_refused(day: date) -> None:
    assert parse_date(f"R1.{day.month}.{day.day}") is None
    assert parse_date(f"令和元年{day.month}月{day.day}日") is None


@PROFILE
@given(st.sampled_from(sorted(WARDS)), st.booleans(), st.booleans())
def test_ward_codes_round_trip_from_either_form(code: str, five: bool, full_width: bool) -> None:
    text = code[:5] if five else code
    assert ward_code(text.translate(FULL_WIDTH) if full_width else text) == code


@PROFILE
@given(st.text(alphabet="0123456789", min_size=5, max_size=6))
def test_only_the_24_wards_are_accepted(text: str) -> None:
    assert ward_code(text) in WARDS or ward_code(text) is None
    if len(text) == 6 and text not in WARDS:
        assert ward_code(text) is None


@PROFILE
@given(st.integers(min_value=0, max_value=10**7))
def test_full_width_digits_round_trip(n: int) -> None:
    assert unicodedata.normalize("NFKC", str(n).translate(FULL_WIDTH)) == str(n)
    assert parse_value(f"{n:,}名".translate(FULL_WIDTH), "count_per_fy") == float(n)
