"""Self-check of the test support: the hand count (the tests' one oracle) on tiny hand-computed fixtures of
every source, and the unseen generators."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

try:
    from tests import handcount, unseen, unseen_more
except ImportError:  # tests/ is not a package: pytest put tests/ itself on sys.path
    import handcount
    import unseen
    import unseen_more


def fig(value: float, as_of: date, numerator: float | None = None, denominator: float | None = None) -> dict:
    return {"value": value, "numerator": numerator, "denominator": denominator, "as_of": as_of}


def only(figures: dict, kpi_id: str) -> dict:
    return {key: value for key, value in figures.items() if key[0] == kpi_id}


# ---------------------------------------------------------------- online_procedures

PROCEDURES = [
    {"id": "P1", "online_since": "2025-02-10", "retired_on": None, "status": "active", "updated_at": "2025-01-01T00:00:00+09:00"},
    # P2: the UTC version is the later instant although its string sorts first -> retired 2025-04-30 wins
    {"id": "P2", "online_since": "2025-03-01", "retired_on": None, "status": "active", "updated_at": "2025-04-01T08:30:00+09:00"},
    {"id": "P2", "online_since": "2025-03-01", "retired_on": "2025-04-30", "status": "retired", "updated_at": "2025-03-31T23:45:00Z"},
    {"id": "P3", "online_since": "2025-04-01", "retired_on": None, "status": "suspended", "updated_at": "2025-01-01T00:00:00"},
    {"id": "P4", "online_since": "2025-05-21", "retired_on": None, "status": "active", "updated_at": "2025-01-01T00:00:00+09:00"},
    {"id": "P5", "online_since": "2025-03-31", "retired_on": "2025-03-31", "status": "retired", "updated_at": "2025-01-01T00:00:00+09:00"},
    {"id": "P10", "online_since": "2025-05-20", "retired_on": None, "status": "active", "updated_at": "2025-01-01T00:00:00+09:00"},
    # bad: not YYYY-MM-DD, missing id (and earliest date of all), bad status, retired before online, bad updated_at
    {"id": "P6", "online_since": "2025/03/01", "retired_on": None, "status": "active", "updated_at": "2025-01-01T00:00:00+09:00"},
    {"online_since": "2024-01-01", "retired_on": None, "status": "active", "updated_at": "2025-01-01T00:00:00+09:00"},
    {"id": "P7", "online_since": "2025-03-01", "retired_on": None, "status": "deleted", "updated_at": "2025-01-01T00:00:00+09:00"},
    {"id": "P8", "online_since": "2025-02-01", "retired_on": "2025-01-01", "status": "retired", "updated_at": "2025-01-01T00:00:00+09:00"},
    {"id": "P9", "online_since": "2025-03-01", "retired_on": None, "status": "active", "updated_at": "yesterday"},
]


def test_online_procedures_by_hand(tmp_path: Path) -> None:
    figures = only(handcount.expected_figures(tmp_path, PROCEDURES, [], date(2025, 5, 20)), "online_procedures")
    # valid spans: P1 02-10..; P2 03-01..04-30 (exclusive); P3 04-01..; P4 05-21..; P5 never; P10 05-20..
    assert figures == {
        ("online_procedures", "2025-02", "city"): fig(1.0, date(2025, 2, 28)),  # P1
        ("online_procedures", "2025-03", "city"): fig(2.0, date(2025, 3, 31)),  # P1 P2 (P5 retired that day)
        ("online_procedures", "2025-04", "city"): fig(2.0, date(2025, 4, 30)),  # P1 P3 (P2 retired 04-30)
        ("online_procedures", "2025-05", "city"): fig(3.0, date(2025, 5, 20)),  # P1 P3 P10 (P4 starts 05-21)
        ("online_procedures", "FY2024", "city"): fig(2.0, date(2025, 3, 31)),
        ("online_procedures", "FY2025", "city"): fig(3.0, date(2025, 5, 20)),
    }
    assert handcount.expected_bad_counts(tmp_path, PROCEDURES, [])["online_procedures"] == 5


# ---------------------------------------------------------------- moveout_log

MOVEOUT_A = "\r\n".join([
    "受付日,区コード,区名,受付番号,届出経路,取消,氏名",
    "2025/03/31,271021,都島区,A-1,マイナポータル,0,山田 太郎",
    "R7.3.31,27102,都島区,A-2,窓口,,山田 花子",
    "令和7年4月1日,271039,福島区,A-1,マイナポータル,0,佐藤 一郎",
    "２０２５/０４/０２,271039,福島区,A-2,郵送,0,佐藤 直子",
    "2025-04-03,271039,福島区,A-3,マイナポータル,1,鈴木 誠",
    "2025/04/16,271021,都島区,A-3,マイナポータル,0,鈴木 恵",
    "2025/04/07,271047,此花区,A-6,マイナポータル,0,田中 翔",
    "2025/04/05,271022,都島区,A-9,窓口,0,x",  # bad: check digit
    "2025/04/05,271021,都島区,A-10,FAX,0,x",  # bad: route
    "2025/02/30,271021,都島区,A-11,窓口,0,x",  # bad: no such day
    "",
    "2025/04/05,271021,都島区,,窓口,0,x",  # bad: empty receipt
    "2025/04/05,271021,都島区,A-12,窓口,2,x",  # bad: 取消
]) + "\r\n"

MOVEOUT_B = "\n".join([
    "取消,受付番号,届出経路,区コード,受付日",
    "0,Ａ－１,窓口,27102,2025/04/10",  # = (271021, A-1): the first row (03-31, マイナポータル) wins
    "1,A-3,窓口,27103,2025/04/03",  # (271039, A-3) withdrawn again
    "1,A-2,郵送,271039,不明",  # bad row: withdraws nothing
    ",A-4,窓口,271039,2025/04/04",
    ",A-5,マイナポータル,271047,2025/04/15",
    "１,A-6,マイナポータル,271047,2025/04/08",  # withdraws (271047, A-6)
]) + "\n\n\n"


def write_moveout(root: Path) -> None:
    folder = root / "moveout"
    folder.mkdir(parents=True)
    (folder / "a.csv").write_bytes(MOVEOUT_A.encode("cp932"))
    (folder / "b.csv").write_bytes(MOVEOUT_B.encode("utf-8-sig"))


def test_moveout_by_hand(tmp_path: Path) -> None:
    write_moveout(tmp_path)
    figures = only(handcount.expected_figures(tmp_path, [], [], date(2025, 4, 15)), "myna_moveout_share")
    # counted: 271021 A-1 03-31 myna, 271021 A-2 03-31 窓口, 271039 A-1 04-01 myna, 271039 A-2 04-02 郵送,
    # 271039 A-4 04-04 窓口, 271047 A-5 04-15 myna; withdrawn 271039 A-3, 271047 A-6; 271021 A-3 after D
    march, april = date(2025, 3, 31), date(2025, 4, 15)
    assert figures == {
        ("myna_moveout_share", "2025-03", "city"): fig(0.5, march, 1.0, 2.0),
        ("myna_moveout_share", "2025-03", "271021"): fig(0.5, march, 1.0, 2.0),
        ("myna_moveout_share", "FY2024", "city"): fig(0.5, march, 1.0, 2.0),
        ("myna_moveout_share", "FY2024", "271021"): fig(0.5, march, 1.0, 2.0),
        ("myna_moveout_share", "2025-04", "city"): fig(0.5, april, 2.0, 4.0),
        ("myna_moveout_share", "2025-04", "271039"): fig(1 / 3, april, 1.0, 3.0),
        ("myna_moveout_share", "2025-04", "271047"): fig(1.0, april, 1.0, 1.0),
        ("myna_moveout_share", "FY2025", "city"): fig(0.5, april, 2.0, 4.0),
        ("myna_moveout_share", "FY2025", "271039"): fig(1 / 3, april, 1.0, 3.0),
        ("myna_moveout_share", "FY2025", "271047"): fig(1.0, april, 1.0, 1.0),
    }
    assert handcount.expected_bad_counts(tmp_path, [], [])["moveout_log"] == 6
    assert handcount.source_row_counts(tmp_path, [], [])["moveout_log"] == 12 + 6


@pytest.mark.parametrize("text, expected", [
    ("2025/04/01", date(2025, 4, 1)), ("2025-04-01", date(2025, 4, 1)), ("R7.4.1", date(2025, 4, 1)),
    ("令和7年4月1日", date(2025, 4, 1)), ("令和元年5月1日", date(2019, 5, 1)), ("R元.5.1", date(2019, 5, 1)),
    ("２０２５－０４－０１", date(2025, 4, 1)), ("Ｒ７．４．１", date(2025, 4, 1)),
    ("2025/02/29", None), ("R7.13.1", None), ("2025.04.01", None), ("令和0年4月1日", None), ("", None),
])
def test_reception_date_forms(text: str, expected: date | None) -> None:
    assert handcount.parse_reception_date(handcount.nfkc(text)) == expected


# ---------------------------------------------------------------- speech_usage

SPEECH_1 = "\n".join([
    '{"session_id": "S1", "device_id": "SR-1", "department_code": "D1", "started_at": "2025-03-31T23:00:00+09:00", "ended_at": "2025-04-01T01:00:00+09:00", "loan_type": "annual"}',
    '{"session_id": "S2", "device_id": "SR-1", "department_code": "D1", "started_at": "2025-04-10T10:00:00+09:00", "ended_at": "2025-04-10T12:30:00+09:00", "loan_type": "annual"}',
    '{"session_id": "S3", "device_id": "SR-2", "department_code": "D1", "started_at": "2025-04-30T14:30:00Z", "ended_at": "2025-04-30T16:00:00Z", "loan_type": "short_term"}',
    '{"session_id": "S4", "device_id": "SR-2", "department_code": "D1", "started_at": "2025-05-15T23:00:00", "ended_at": "2025-05-16T02:00:00", "loan_type": "annual"}',
    '{"session_id": "S5", "device_id": "SR-2", "department_code": "D1", "started_at": "2025-05-16T09:00:00+09:00", "ended_at": "2025-05-16T10:00:00+09:00", "loan_type": "annual"}',
    '{"session_id": "S6", "device_id": "SR-3", "department_code": "D2", "started_at": "2025-04-20T00:00:00+09:00", "ended_at": "2025-04-21T00:00:00+09:00", "loan_type": "annual"}',
    "",
    '{"session_id": "B1", "device_id": "SR-3", "department_code": "D2", "started_at": "2025-04-02T10:00:00+09:00", "ended_at": "2025-04-02T09:00:00+09:00", "loan_type": "annual"}',
    '{"session_id": "B2", "device_id": "SR-3", "department_code": "D2", "started_at": "2025-04-01T00:00:00+09:00", "ended_at": "2025-04-02T00:00:01+09:00", "loan_type": "annual"}',
    '{"session_id": "B3", "department_code": "D2", "started_at": "2025-04-02T10:00:00+09:00", "ended_at": "2025-04-02T11:00:00+09:00", "loan_type": "annual"}',
    '{"session_id": "B4", "device_id": "SR-3", "department_code": "D2", "started_at": "2025-04-02T10:00:00+09:00", "ended_at": "2025-04-02T11:00:00+09:00", "loan_type": "rental"}',
    '{"session_id": "B5", "device_id": "SR-3", "department_code": "D2", "started_at": "2025-02-30T10:00:00+09:00", "ended_at": "2025-04-02T11:00:00+09:00", "loan_type": "annual"}',
    '{"session_id": "B6", "device_id": "SR-3"',
]) + "\n"

SPEECH_2 = "\r\n".join([
    '{"session_id": "S2", "device_id": "SR-1", "department_code": "D1", "started_at": "2025-04-10T10:00:00+09:00", "ended_at": "2025-04-10T13:00:00+09:00", "loan_type": "annual"}',
    SPEECH_1.split("\n")[0],
]) + "\r\n"


def test_speech_by_hand(tmp_path: Path) -> None:
    (tmp_path / "speech").mkdir()
    (tmp_path / "speech" / "a.jsonl").write_text(SPEECH_1, encoding="utf-8")
    (tmp_path / "speech" / "b.jsonl").write_bytes(SPEECH_2.encode("utf-8"))
    figures = only(handcount.expected_figures(tmp_path, [], [], date(2025, 5, 15)), "speech_hours_monthly")
    # S1 Mar 1 h + Apr 1 h; S2 corrected in b.jsonl: Apr 3 h; S3 (UTC) JST 04-30 23:30..05-01 01:00: Apr 0.5 h, May 1 h;
    # S4 naive = JST, clipped at 05-16 00:00: May 1 h; S5 after D; S6 exactly 24 h: Apr 24 h.
    # Apr = 1 + 3 + 0.5 + 24 = 28.5, May = 2, Mar 2025 = 1 (FY2024: all 12 months, zeros elsewhere)
    expected = {("speech_hours_monthly", f"2024-{m:02d}", "city"): fig(0.0, handcount.month_end(2024, m)) for m in range(4, 13)}
    expected |= {
        ("speech_hours_monthly", "2025-01", "city"): fig(0.0, date(2025, 1, 31)),
        ("speech_hours_monthly", "2025-02", "city"): fig(0.0, date(2025, 2, 28)),
        ("speech_hours_monthly", "2025-03", "city"): fig(1.0, date(2025, 3, 31)),
        ("speech_hours_monthly", "FY2024", "city"): fig(1 / 12, date(2025, 3, 31)),
        ("speech_hours_monthly", "2025-04", "city"): fig(28.5, date(2025, 4, 30)),
        ("speech_hours_monthly", "2025-05", "city"): fig(2.0, date(2025, 5, 15)),
        ("speech_hours_monthly", "FY2025", "city"): fig(28.5, date(2025, 4, 30)),
    }
    assert figures == expected
    assert handcount.expected_bad_counts(tmp_path, [], [])["speech_usage"] == 6
    assert handcount.source_row_counts(tmp_path, [], [])["speech_usage"] == 12 + 2


def test_no_fy_row_before_a_month_completes(tmp_path: Path) -> None:
    (tmp_path / "speech").mkdir()
    (tmp_path / "speech" / "a.jsonl").write_text(SPEECH_1, encoding="utf-8")
    figures = only(handcount.expected_figures(tmp_path, [], [], date(2025, 4, 10)), "speech_hours_monthly")
    # as of 04-10: S1's April hour and S2 clipped at 04-11 00:00 (2.5 h); April is running, so no FY2025 row
    assert figures[("speech_hours_monthly", "2025-04", "city")] == fig(3.5, date(2025, 4, 10))
    assert ("speech_hours_monthly", "FY2025", "city") not in figures
    assert ("speech_hours_monthly", "FY2024", "city") in figures


# ---------------------------------------------------------------- nocode_apps


def app(app_id: str | None, business: str | None, status: str, start: str | None, retired: str | None = None) -> dict:
    record = {"app_id": app_id, "name": "x", "business_id": business, "status": status,
              "operation_started_on": start, "retired_on": retired}
    return {key: value for key, value in record.items() if value is not None or key in ("operation_started_on", "retired_on")}


APPS = [
    app("1", "OPS-1", "in_operation", "2025-03-31"),
    app("2", "OPS-1", "retired", "2025-02-10", "2025-03-01"),  # OPS-1 starts 2025-02-10
    app("3", "OPS-2", "draft", "2025-01-05"),  # a dated draft never counts
    app("4", "OPS-2", "in_operation", "2025-04-01"),  # OPS-2 starts 2025-04-01
    app("5", "OPS-3", "in_operation", None),
    app("6", "OPS-3", "testing", "2025-04-10"),  # OPS-3 never counts
    app("7", "OPS-4", "testing", "2025-04-15"),
    app("8", "OPS-5", "in_operation", "2025-04-20"),
    app("7", "OPS-4", "in_operation", "2025-04-15"),  # later copy wins: OPS-4 starts 2025-04-15
    app("8", "OPS-5", "draft", "2025-04-20"),  # later copy wins: OPS-5 never counts
    app("9", "OPS-6", "in_operation", "2025-05-20"),  # on the as-of date
    app("10", "OPS-7", "in_operation", "2025-05-21"),  # the day after
    app("11", "OPS-8", "in_operation", "2025-05-01"),
    app("11", "OPS-8", "archived", "2025-04-02"),  # bad later copy: the good one stands
    app("12", "OPS-9", "retired", "2025-03-31"),  # retired without retired_on
    # bad: missing app_id (earliest of all), missing business_id, bad date, bad retired_on, empty id, int id
    app(None, "OPS-10", "in_operation", "2024-01-01"),
    app("13", None, "in_operation", "2024-01-01"),
    app("14", "OPS-11", "in_operation", "2025/05/02"),
    app("15", "OPS-12", "retired", "2025-04-01", "未定"),
    app("", "OPS-13", "in_operation", "2025-04-01"),
    app("16", "OPS-14", "in_operation", "2025-04-01") | {"app_id": 16},
]


def test_nocode_by_hand(tmp_path: Path) -> None:
    figures = only(handcount.expected_figures(tmp_path, [], APPS, date(2025, 5, 20)), "nocode_operations")
    # starts: OPS-1 02-10, OPS-9 03-31, OPS-2 04-01, OPS-4 04-15, OPS-8 05-01, OPS-6 05-20, OPS-7 05-21 (after D)
    expected = {("nocode_operations", f"2024-{m:02d}", "city"): fig(0.0, handcount.month_end(2024, m)) for m in range(4, 13)}
    expected |= {
        ("nocode_operations", "2025-01", "city"): fig(0.0, date(2025, 1, 31)),
        ("nocode_operations", "2025-02", "city"): fig(1.0, date(2025, 2, 28)),
        ("nocode_operations", "2025-03", "city"): fig(1.0, date(2025, 3, 31)),
        ("nocode_operations", "FY2024", "city"): fig(2.0, date(2025, 3, 31)),
        ("nocode_operations", "2025-04", "city"): fig(2.0, date(2025, 4, 30)),
        ("nocode_operations", "2025-05", "city"): fig(2.0, date(2025, 5, 20)),
        ("nocode_operations", "FY2025", "city"): fig(4.0, date(2025, 5, 20)),
    }
    assert figures == expected
    assert handcount.expected_bad_counts(tmp_path, [], APPS)["nocode_apps"] == 7


def test_nocode_nothing_before_the_first_start(tmp_path: Path) -> None:
    figures = handcount.expected_figures(tmp_path, [], APPS, date(2025, 2, 9))
    assert only(figures, "nocode_operations")[("nocode_operations", "FY2024", "city")] == fig(0.0, date(2025, 2, 9))
    assert only(handcount.expected_figures(tmp_path, [], APPS[2:4], date(2025, 3, 1)), "nocode_operations") == {}


# ---------------------------------------------------------------- dataviz_access

MASTER = "\n".join([
    "department_code,department_name,valid_from,valid_to",
    "D1,A局,2020-04-01,",
    "D2,B局,2020-04-01,2025-04-30",  # abolished at the end of April
    "D3,C局,2025-05-01,",  # created in May
    "D4,D局,2020-04-01,",
    "D5,E局,2024-04-01,2025-03-31",  # gap in April 2025 ...
    "D5,E局,2025-05-10,",  # ... valid again from 05-10
    "D6,F局,2025/04/01,",  # bad valid_from: D6 is unknown
    "D7,G局,2025-04-01,2025-03-01",  # bad: valid_to before valid_from
    ",H局,2020-04-01,",  # bad: empty code
    "D4,D局,令和2年4月1日,",  # bad, but D4 has a good row
]) + "\n"

ACCESS_A = "\r\n".join([
    "accessed_at,user_id,department_code,content_id",
    "2025-03-31T23:30:00+09:00,u1,D1,C1",  # FY2024
    "2025-03-31T15:30:00Z,u2,D2,C1",  # JST 04-01 00:30: FY2025
    "2025-03-15T10:00:00,u3,D5,C2",  # no offset = JST
    "",
    "2025-04-10T10:00:00+09:00,u4,D6,C1",  # bad: D6 only has a bad master row
    "不明,u5,D1,C1",  # bad
    "2025-04-11T10:00:00+09:00,u6,,C1",  # bad: empty code
    "2025-04-12T10:00:00+09:00,u7,D9,C1",  # bad: unknown
]) + "\r\n"

ACCESS_B = "\n".join([
    "department_code,user_name,accessed_at,user_id,content_id",
    "D3,山田 太郎,2025-04-25T10:00:00+09:00,u8,C3",  # before D3's valid_from: a good row
    "D4,佐藤 花子,2025-05-20T14:59:59Z,u9,C3",  # JST 05-20 23:59:59: on the as-of date
    "D1,鈴木 一郎,2025-05-20T15:00:00+00:00,u10,C3",  # JST 05-21: after the as-of date
    "D5,x,2025-04-20T10:00:00+09:00,u11,C4",  # in D5's gap: a good row
]) + "\n\n\n"


def write_dataviz(root: Path) -> None:
    (root / "dataviz").mkdir(parents=True)
    (root / "departments.csv").write_bytes(MASTER.encode("utf-8"))
    (root / "dataviz" / "a.csv").write_bytes(ACCESS_A.encode("utf-8-sig"))
    (root / "dataviz" / "b.csv").write_bytes(ACCESS_B.encode("utf-8"))


def test_dataviz_by_hand(tmp_path: Path) -> None:
    write_dataviz(tmp_path)
    figures = only(handcount.expected_figures(tmp_path, [], [], date(2025, 5, 20)), "dataviz_department_share")
    # FY2024: valid D1 D2 D4 D5 all year; accessed D1 (03-31), D5 (03-15).
    # April 2025 (D 04-30): valid D1 D2 D4; accessed D2, D3, D5 -> D2.
    # May (D 05-20): valid D1 D3 D4 D5; accessed D2 D3 D5 D4 -> D3 D4 D5.
    expected = {("dataviz_department_share", f"2024-{m:02d}", "city"): fig(0.0, handcount.month_end(2024, m), 0.0, 4.0)
                for m in range(4, 13)}
    expected |= {
        ("dataviz_department_share", "2025-01", "city"): fig(0.0, date(2025, 1, 31), 0.0, 4.0),
        ("dataviz_department_share", "2025-02", "city"): fig(0.0, date(2025, 2, 28), 0.0, 4.0),
        ("dataviz_department_share", "2025-03", "city"): fig(0.5, date(2025, 3, 31), 2.0, 4.0),
        ("dataviz_department_share", "FY2024", "city"): fig(0.5, date(2025, 3, 31), 2.0, 4.0),
        ("dataviz_department_share", "2025-04", "city"): fig(1 / 3, date(2025, 4, 30), 1.0, 3.0),
        ("dataviz_department_share", "2025-05", "city"): fig(0.75, date(2025, 5, 20), 3.0, 4.0),
        ("dataviz_department_share", "FY2025", "city"): fig(0.75, date(2025, 5, 20), 3.0, 4.0),
    }
    assert figures == expected
    assert handcount.dataviz_bad_breakdown(tmp_path) == {"master": 4, "access": 4}
    assert handcount.expected_bad_counts(tmp_path, [], [])["dataviz_access"] == 8
    assert handcount.source_row_counts(tmp_path, [], [])["dataviz_access"] == 10 + 11


def test_dataviz_no_fy_row_without_an_access(tmp_path: Path) -> None:
    write_dataviz(tmp_path)
    figures = only(handcount.expected_figures(tmp_path, [], [], date(2025, 3, 14)), "dataviz_department_share")
    assert figures == {}  # the first good access is on 2025-03-15


@pytest.mark.parametrize("text, expected", [
    ("2025-04-01T10:00:00+09:00", datetime(2025, 4, 1, 10, 0, tzinfo=handcount.JST)),
    ("2025-03-31T15:00:00Z", datetime(2025, 4, 1, 0, 0, tzinfo=handcount.JST)),
    ("2025-03-31T15:00:00+00:00", datetime(2025, 4, 1, 0, 0, tzinfo=handcount.JST)),
    ("2025-03-31T23:59:59", datetime(2025, 3, 31, 23, 59, 59, tzinfo=handcount.JST)),
    ("2025-02-30T10:00:00+09:00", None), ("2025/04/01 10:00", None), ("不明", None), ("", None),
])
def test_access_time_forms(text: str, expected: datetime | None) -> None:
    assert handcount.parse_access_time(text) == expected


# ---------------------------------------------------------------- manual_entries

HEADER = ["KPI ID", "年度", "実績値", "根拠", "入力者", "入力日", "備考"]
MANUAL_A = [
    ["external_specialists", "FY2025", "５名", "契約一覧", "デジタル統括室", date(2025, 9, 30), None],
    ["external_specialists", "令和7年度", 7, "契約一覧", "デジタル統括室", "2026/03/31", None],
    ["external_specialists", "R7", "多数", "x", "デジタル統括室", "2026/04/05", None],  # bad (and later)
    ["dx_core_training_participants", 2025, "1,200人", "名簿", "総務局", datetime(2026, 3, 1), None],
    [],
    ["backoffice_platform_started", "２０２５", "済", "決裁", "デジタル統括室", "2025-11-04", None],
    ["security_strategy_revised", 2025.0, 0, "x", "総務局", date(2026, 3, 31), None],
    ["data_pilot_projects", "fy2024", "3件", "x", "デジタル統括室", date(2025, 5, 8), None],  # as_of capped
    ["genai_verified_operations", "2025", None, None, None, None, None],  # template: skipped
    [None, None, None, None, None, None, "メモ"],  # blank: skipped
    ["online_procedures", "2025", "2010", "x", "x", date(2026, 4, 1), None],  # bad: not a manual KPI
    ["dx_support_departments", "2025", "2", "x", "x", None, None],  # bad: no 入力日
    ["talent_plan_and_training", "2025", "済み", "x", "x", date(2026, 3, 1), None],  # bad value
    ["infra_training_participants", "来年度", "30", "x", "x", date(2026, 3, 1), None],  # bad 年度
    ["dx_support_departments", "2025", -1, "x", "x", date(2026, 3, 2), None],  # bad: negative
    ["data_pilot_projects", "2025", "2件", "x", "x", date(2026, 3, 16), None],
    ["data_pilot_projects", "2025", "3件", "x", "x", date(2026, 3, 16), None],  # same day, later row wins
]
HEADER_B = ["入力日", "実績値", "ＫＰＩ　ＩＤ", "入力者", " 年度 "]
MANUAL_B = [
    [date(2026, 3, 31), "3", "external_specialists", "x", "2025"],  # ties with a.xlsx's 7: the later file wins
    [date(2026, 3, 30), "完了", "security_strategy_revised", "x", "R7"],  # older than a.xlsx's 0
    [date(2026, 4, 17), "12.5名", "dx_core_training_participants", "x", "FY2026"],
    [date(2026, 3, 19), 1, "talent_plan_and_training", "x", "2025"],
]


def write_book(path: Path, sheets: dict[str, list[list]]) -> None:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)


def write_manual(root: Path) -> None:
    folder = root / "manual"
    write_book(folder / "a.xlsx", {"説明": [["KPI ID"], ["external_specialists", "2025", 99, "", "", date(2030, 1, 1)]],
                                   "実績": [HEADER] + MANUAL_A})
    write_book(folder / "b.xlsx", {"実績": [HEADER_B] + MANUAL_B})
    write_book(folder / "c.xlsx", {"Sheet1": [HEADER, ["external_specialists", "2025", 9, "", "", date(2026, 4, 1)]]})


def test_manual_by_hand(tmp_path: Path) -> None:
    write_manual(tmp_path)
    figures = handcount.expected_figures(tmp_path, [], [], date(2026, 4, 20))
    assert figures == {
        ("external_specialists", "FY2025", "city"): fig(3.0, date(2026, 3, 31)),
        ("dx_core_training_participants", "FY2025", "city"): fig(1200.0, date(2026, 3, 1)),
        ("dx_core_training_participants", "FY2026", "city"): fig(12.5, date(2026, 4, 17)),
        ("backoffice_platform_started", "FY2025", "city"): fig(1.0, date(2025, 11, 4)),
        ("security_strategy_revised", "FY2025", "city"): fig(0.0, date(2026, 3, 31)),
        ("data_pilot_projects", "FY2024", "city"): fig(3.0, date(2025, 3, 31)),
        ("data_pilot_projects", "FY2025", "city"): fig(3.0, date(2026, 3, 16)),
        ("talent_plan_and_training", "FY2025", "city"): fig(1.0, date(2026, 3, 19)),
    }
    assert handcount.expected_bad_counts(tmp_path, [], [])["manual_entries"] == 6 + 1
    assert handcount.source_row_counts(tmp_path, [], [])["manual_entries"] == 14 + 4 + 1


@pytest.mark.parametrize("value, expected", [
    ("2025", 2025), ("FY2025", 2025), ("fy2025", 2025), ("令和7年度", 2025), ("R7", 2025), ("２０２５", 2025),
    ("ＦＹ２０２５", 2025), ("令和８年度", 2026), ("Ｒ６", 2024), (2025, 2025), (2025.0, 2025), (" 2025 ", 2025),
    ("2025年度", None), ("令和7年", None), ("FY25", None), ("R0", None), ("不明", None), (2025.5, None), (None, None),
    (True, None), (datetime(2025, 4, 1), None),
])
def test_fiscal_year_forms(value: object, expected: int | None) -> None:
    assert handcount.parse_fiscal_year(value) == expected


@pytest.mark.parametrize("kpi, value, expected", [
    ("external_specialists", "69名", 69.0), ("external_specialists", "６９", 69.0), ("external_specialists", 69, 69.0),
    ("external_specialists", 69.0, 69.0), ("data_pilot_projects", "3件", 3.0), ("genai_verified_operations", "2業務", 2.0),
    ("dx_core_training_participants", "1,200人", 1200.0), ("dx_core_training_participants", "１，２００人", 1200.0),
    ("dx_core_training_participants", "12.5 名", 12.5), ("external_specialists", 0, 0.0),
    ("external_specialists", "多数", None), ("external_specialists", "-", None), ("external_specialists", -1, None),
    ("external_specialists", "-3", None), ("external_specialists", "3名2", None), ("external_specialists", "済", None),
    ("backoffice_platform_started", "済", 1.0), ("backoffice_platform_started", "完了", 1.0),
    ("backoffice_platform_started", "達成", 1.0), ("backoffice_platform_started", "1", 1.0),
    ("backoffice_platform_started", "１", 1.0), ("backoffice_platform_started", 1, 1.0),
    ("backoffice_platform_started", 1.0, 1.0), ("security_strategy_revised", "未", 0.0),
    ("security_strategy_revised", "未了", 0.0), ("security_strategy_revised", "0", 0.0), ("security_strategy_revised", 0, 0.0),
    ("security_strategy_revised", "済み", None), ("security_strategy_revised", 2, None), ("security_strategy_revised", "検討中", None),
    ("external_specialists", True, None),
])
def test_manual_value_forms(kpi: str, value: object, expected: float | None) -> None:
    assert handcount.parse_manual_value(kpi, value) == expected


@pytest.mark.parametrize("value, expected", [
    (date(2026, 4, 1), date(2026, 4, 1)), (datetime(2026, 4, 1, 0, 0), date(2026, 4, 1)),
    ("2026/04/01", date(2026, 4, 1)), ("2026-04-01", date(2026, 4, 1)),
    ("2026/02/30", None), ("2026/4/1", None), ("2026-04/01", None), ("不明", None), (None, None), (46113, None),
])
def test_entry_date_forms(value: object, expected: date | None) -> None:
    assert handcount.parse_entry_date(value) == expected


# ---------------------------------------------------------------- unseen generator


def file_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_unseen_is_deterministic_per_seed(tmp_path: Path) -> None:
    first, second = unseen._build.__wrapped__(11), unseen._build.__wrapped__(11)
    assert first.files == second.files and first.procedures == second.procedures and first.personal == second.personal
    assert unseen._build.__wrapped__(12).files != first.files
    procedures = unseen.write_unseen(tmp_path / "a", 11)
    assert procedures == first.procedures and file_bytes(tmp_path / "a") == first.files


def test_unseen_batch_shape_and_bad_share(tmp_path: Path) -> None:
    procedures = unseen.write_unseen(tmp_path, 5)
    bad = handcount.expected_bad_counts(tmp_path, procedures, [])
    rows = handcount.source_row_counts(tmp_path, procedures, [])
    assert all(0 < bad[name] < 0.03 * rows[name] for name in ("online_procedures", "moveout_log", "speech_usage")), (bad, rows)
    assert 20 <= len(list((tmp_path / "moveout").glob("*.csv"))) <= 40
    assert len(list((tmp_path / "speech").glob("*.jsonl"))) >= 3
    assert 300 <= len(procedures) <= 400
    reasons = {handcount.row_problem(row) for row in handcount.moveout_rows(tmp_path / "moveout")}
    assert reasons == {None, "bad 受付日", "unknown 区コード", "unknown 届出経路", "empty 受付番号", "bad 取消"}
    reasons = {handcount.procedure_problem(record) for record in procedures}
    assert reasons == {None, "missing id", "bad online_since", "bad retired_on", "bad status", "bad updated_at", "retired before online"}


def test_unseen_personal_values_are_in_the_files(tmp_path: Path) -> None:
    unseen.write_unseen(tmp_path, 5)
    values = unseen.personal_values(tmp_path, 5)
    text = "".join(handcount.decode_csv(p.read_bytes()) for p in (tmp_path / "moveout").glob("*.csv"))
    text += "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "speech").glob("*.jsonl"))
    normalised = unicodedata.normalize("NFKC", text)
    assert len(values) > 1000 and "" not in values
    sample = sorted(values)[::len(values) // 200]
    assert all(value in text or value in normalised for value in sample)
    assert any(value.startswith("U") and value in text for value in values)


def test_unseen_figures_cover_every_period_kind(tmp_path: Path) -> None:
    procedures = unseen.write_unseen(tmp_path, 5)
    figures = handcount.expected_figures(tmp_path, procedures, [], unseen.SUGGESTED_AS_OF)
    periods = {(kpi, period) for kpi, period, _ in figures}
    for kpi in ("online_procedures", "myna_moveout_share", "speech_hours_monthly"):
        assert {(kpi, "FY2024"), (kpi, "FY2025"), (kpi, "2026-03")} <= periods
    assert {scope for _, _, scope in figures} == {"city", *handcount.WARD_CODES}
    assert ("speech_hours_monthly", "FY2026", "city") not in figures  # April 2026 is still running


# ---------------------------------------------------------------- unseen_more generator


def test_unseen_more_is_deterministic_per_seed(tmp_path: Path) -> None:
    first, second = unseen_more._build.__wrapped__(11), unseen_more._build.__wrapped__(11)
    assert first.files == second.files and first.apps == second.apps and first.personal == second.personal
    other = unseen_more._build.__wrapped__(12)
    assert other.apps != first.apps
    assert all(other.files[name] != first.files[name] for name in ("departments.csv", "dataviz/access_202506.csv"))
    assert other.files["manual/02_実績入力_各局.xlsx"] != first.files["manual/02_実績入力_各局.xlsx"]
    apps = unseen_more.write_unseen_more(tmp_path / "a", 11)
    assert apps == first.apps and file_bytes(tmp_path / "a") == first.files


def test_app_counts_and_paging() -> None:
    apps = unseen_more._build(0).apps
    assert len(apps) == unseen_more.app_count(0) == 200
    assert [len(apps[offset:offset + 100]) for offset in (0, 100, 200)] == [100, 100, 0]
    counts = [unseen_more.app_count(seed) for seed in range(12)]
    assert all(170 <= n <= 300 for n in counts)
    assert 300 in counts and any(n % 100 for n in counts)


def test_unseen_more_shape_and_bad_share(tmp_path: Path) -> None:
    apps = unseen_more.write_unseen_more(tmp_path, 5)
    bad = handcount.expected_bad_counts(tmp_path, [], apps)
    rows = handcount.source_row_counts(tmp_path, [], apps)
    assert all(0 < bad[name] < 0.03 * rows[name] for name in ("nocode_apps", "dataviz_access")), (bad, rows)
    assert bad["manual_entries"] > 0
    assert len(list((tmp_path / "dataviz").glob("*.csv"))) == 17
    assert [p.name for p in sorted((tmp_path / "manual").glob("*.xlsx"))][-1] == "99_旧様式.xlsx"
    assert {handcount.app_problem(a) for a in apps} == {
        None, "missing app_id", "missing business_id", "unknown status", "bad operation_started_on", "bad retired_on"}
    known = {code for code, _, _ in handcount.good_master(tmp_path)}
    assert {handcount.master_problem(r) for r in handcount.master_rows(tmp_path)} == {
        None, "bad valid_from", "valid_to before valid_from"}
    assert {handcount.access_problem(r, known) for r in handcount.access_rows(tmp_path / "dataviz")} == {
        None, "bad accessed_at", "empty department_code", "unknown department_code"}
    assert {handcount.manual_row_problem(r) for r in handcount.manual_rows(tmp_path / "manual")} == {
        None, "unknown KPI ID", "bad 年度", "bad 実績値", "bad 入力日", "no sheet 実績"}
    raw = b"".join((tmp_path / "dataviz" / name).read_bytes() for name in ("access_202501.csv", "access_202502.csv"))
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw and b"user_name" in raw


def test_unseen_more_app_edges() -> None:
    starts = handcount.business_starts(unseen_more._build(0).apps)
    as_of = unseen_more.SUGGESTED_AS_OF_MORE
    assert starts["OPS-0901"] == as_of and starts["OPS-0902"] == date(2026, 4, 21)
    assert starts["OPS-0903"] == date(2025, 3, 31) and starts["OPS-0905"] == date(2025, 7, 15)
    assert starts["OPS-0912"] == date(2025, 5, 12) and starts["OPS-0914"] == date(2025, 9, 1)
    assert starts["OPS-0915"] == date(2025, 8, 18)
    assert not {"OPS-0906", "OPS-0913", "OPS-0916", "OPS-0917", "OPS-0918"} & set(starts)
    assert min(starts.values()) >= date(2023, 4, 1)  # the bad app with the earliest start does not count


def test_unseen_more_figures(tmp_path: Path) -> None:
    apps = unseen_more.write_unseen_more(tmp_path, 0)
    figures = handcount.expected_figures(tmp_path, [], apps, unseen_more.SUGGESTED_AS_OF_MORE)
    periods = {(kpi, period) for kpi, period, _ in figures}
    for kpi in ("nocode_operations", "dataviz_department_share"):
        assert {(kpi, "FY2024"), (kpi, "FY2025"), (kpi, "FY2026"), (kpi, "2026-03"), (kpi, "2026-04")} <= periods
    assert {kpi for kpi, _, _ in figures} == {"nocode_operations", "dataviz_department_share", *handcount.MANUAL_KPIS}
    assert {scope for _, _, scope in figures} == {"city"}

    def value(kpi: str, fy: int) -> float:
        return figures[(kpi, f"FY{fy}", "city")]["value"]

    # B grades: the year-end corrections miss their targets
    assert value("external_specialists", 2025) == 3.0
    assert value("infra_training_participants", 2025) == 45.0
    assert value("security_strategy_revised", 2025) == 0.0
    # targets met
    assert value("dx_support_departments", 2025) == 3.0 and value("data_pilot_projects", 2025) == 3.0
    assert value("genai_verified_operations", 2025) == 2.0 and 60 <= value("dx_core_training_participants", 2025) <= 75
    assert value("backoffice_platform_started", 2025) == value("talent_plan_and_training", 2025) == 1.0
    assert figures[("external_specialists", "FY2024", "city")]["as_of"] == date(2025, 3, 31)
    assert value("infra_training_participants", 2026) == 1200.0 and value("infra_training_participants", 2024) == 30.0
    share = figures[("dataviz_department_share", "FY2025", "city")]
    assert 0 < share["numerator"] < share["denominator"] and share["as_of"] == date(2026, 3, 31)


def test_unseen_more_personal_values_are_in_the_files(tmp_path: Path) -> None:
    unseen_more.write_unseen_more(tmp_path, 5)
    values = unseen_more.personal_values_more(tmp_path, 5)
    text = "".join(p.read_bytes().decode("utf-8-sig") for p in (tmp_path / "dataviz").glob("*.csv"))
    for path in (tmp_path / "manual").glob("*.xlsx"):
        book = openpyxl.load_workbook(path, read_only=True)
        text += "".join(str(cell) for sheet in book for row in sheet.iter_rows(values_only=True) for cell in row)
        book.close()
    normalised = unicodedata.normalize("NFKC", text)
    assert len(values) > 100 and "" not in values
    assert all(value in text or value in normalised for value in values)
    assert any(value.startswith("u") for value in values) and any(not value.isascii() for value in values)
    entered_by = set()
    for path in (tmp_path / "manual").glob("0*.xlsx"):
        book = openpyxl.load_workbook(path, read_only=True)
        rows = list(book["実績"].iter_rows(values_only=True))
        column = [unicodedata.normalize("NFKC", str(h)).strip() for h in rows[0]].index("入力者")
        entered_by |= {row[column] for row in rows[1:] if column < len(row)}
        book.close()
    assert entered_by & values  # one 入力者 is a person


def test_unseen_more_workbook_traps(tmp_path: Path) -> None:
    unseen_more.write_unseen_more(tmp_path, 0)
    book = openpyxl.load_workbook(tmp_path / "manual" / "01_実績入力_デジタル統括室.xlsx")
    assert book.sheetnames == ["記入例", "実績"] and book.active.title == "記入例"
    assert "実績" not in openpyxl.load_workbook(tmp_path / "manual" / "99_旧様式.xlsx").sheetnames
