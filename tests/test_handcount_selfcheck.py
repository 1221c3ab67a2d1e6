"""Self-check of the test support: the hand count on tiny hand-computed fixtures, and the unseen generator."""

from __future__ import annotations

import unicodedata
from datetime import date
from pathlib import Path

import pytest

try:
    from tests import handcount, unseen
except ImportError:  # tests/ is not a package: pytest put tests/ itself on sys.path
    import handcount
    import unseen


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
    figures = only(handcount.expected_figures(tmp_path, PROCEDURES, date(2025, 5, 20)), "online_procedures")
    # valid spans: P1 02-10..; P2 03-01..04-30 (exclusive); P3 04-01..; P4 05-21..; P5 never; P10 05-20..
    assert figures == {
        ("online_procedures", "2025-02", "city"): fig(1.0, date(2025, 2, 28)),  # P1
        ("online_procedures", "2025-03", "city"): fig(2.0, date(2025, 3, 31)),  # P1 P2 (P5 retired that day)
        ("online_procedures", "2025-04", "city"): fig(2.0, date(2025, 4, 30)),  # P1 P3 (P2 retired 04-30)
        ("online_procedures", "2025-05", "city"): fig(3.0, date(2025, 5, 20)),  # P1 P3 P10 (P4 starts 05-21)
        ("online_procedures", "FY2024", "city"): fig(2.0, date(2025, 3, 31)),
        ("online_procedures", "FY2025", "city"): fig(3.0, date(2025, 5, 20)),
    }
    assert handcount.expected_bad_counts(tmp_path, PROCEDURES)["online_procedures"] == 5


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
    figures = only(handcount.expected_figures(tmp_path, [], date(2025, 4, 15)), "myna_moveout_share")
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
    assert handcount.expected_bad_counts(tmp_path, [])["moveout_log"] == 6
    assert handcount.source_row_counts(tmp_path, [])["moveout_log"] == 12 + 6


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
    figures = only(handcount.expected_figures(tmp_path, [], date(2025, 5, 15)), "speech_hours_monthly")
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
    assert handcount.expected_bad_counts(tmp_path, [])["speech_usage"] == 6
    assert handcount.source_row_counts(tmp_path, [])["speech_usage"] == 12 + 2


def test_no_fy_row_before_a_month_completes(tmp_path: Path) -> None:
    (tmp_path / "speech").mkdir()
    (tmp_path / "speech" / "a.jsonl").write_text(SPEECH_1, encoding="utf-8")
    figures = only(handcount.expected_figures(tmp_path, [], date(2025, 4, 10)), "speech_hours_monthly")
    # as of 04-10: S1's April hour and S2 clipped at 04-11 00:00 (2.5 h); April is running, so no FY2025 row
    assert figures[("speech_hours_monthly", "2025-04", "city")] == fig(3.5, date(2025, 4, 10))
    assert ("speech_hours_monthly", "FY2025", "city") not in figures
    assert ("speech_hours_monthly", "FY2024", "city") in figures


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
    bad = handcount.expected_bad_counts(tmp_path, procedures)
    rows = handcount.source_row_counts(tmp_path, procedures)
    assert all(0 < bad[name] < 0.03 * rows[name] for name in rows), (bad, rows)
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
    figures = handcount.expected_figures(tmp_path, procedures, unseen.SUGGESTED_AS_OF)
    periods = {(kpi, period) for kpi, period, _ in figures}
    for kpi in ("online_procedures", "myna_moveout_share", "speech_hours_monthly"):
        assert {(kpi, "FY2024"), (kpi, "FY2025"), (kpi, "2026-03")} <= periods
    assert {scope for _, _, scope in figures} == {"city", *handcount.WARD_CODES}
    assert ("speech_hours_monthly", "FY2026", "city") not in figures  # April 2026 is still running
