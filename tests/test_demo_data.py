"""The demo's shipped inbox and catalog reproduce the published sample figures under the contract rules.

The readers here are deliberately independent of the connectors: they
re-implement the counting rules of /work/shared/contracts/sources.md in a few
lines, so a connector bug and a generator bug cannot hide each other.
"""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from jisseki.demo.samples import DEMO_AS_OF, PROCEDURES, load_samples

JST = timezone(timedelta(hours=9))
WARD_CODES = {
    "271021", "271039", "271047", "271063", "271071", "271080", "271098", "271110",
    "271136", "271144", "271152", "271161", "271179", "271187", "271195", "271209",
    "271217", "271225", "271233", "271241", "271250", "271268", "271276", "271284",
}
ROUTES = {"マイナポータル", "窓口", "郵送"}
SESSION_KEYS = {"session_id", "device_id", "department_code", "started_at", "ended_at", "loan_type"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    root = tmp_path_factory.mktemp("demo")
    samples = load_samples()
    samples.write_inbox(root)
    return root, samples.records(PROCEDURES)


def fiscal_year(d: date) -> int:
    return d.year if d.month >= 4 else d.year - 1


# --- online procedures ------------------------------------------------------


def latest_per_id(records: list[dict]) -> dict[str, dict]:
    latest: dict[str, dict] = {}
    for r in records:
        seen = latest.get(r["id"])
        updated = datetime.fromisoformat(r["updated_at"])
        if seen is None or updated > datetime.fromisoformat(seen["updated_at"]):
            latest[r["id"]] = r
    return latest


def online_count(records: list[dict], day: date) -> int:
    def counts(r: dict) -> bool:
        retired = r["retired_on"]
        return date.fromisoformat(r["online_since"]) <= day and (
            retired is None or date.fromisoformat(retired) > day)

    return sum(counts(r) for r in latest_per_id(records).values())


def test_online_procedures_counts(demo: tuple[Path, list[dict]]) -> None:
    _, records = demo
    assert online_count(records, DEMO_AS_OF) == 2180
    assert online_count(records, date(2025, 3, 31)) == 1674


def test_procedure_catalog_has_the_edge_cases(demo: tuple[Path, list[dict]]) -> None:
    _, records = demo
    latest = latest_per_id(records)
    statuses = Counter(r["status"] for r in latest.values())
    assert statuses["retired"] > 0 and statuses["suspended"] > 0
    assert any(date.fromisoformat(r["online_since"]) > DEMO_AS_OF for r in latest.values())
    assert len(records) - len(latest) == 20
    for r in records:
        assert re.fullmatch(r"PROC-\d{6}", r["id"]) and re.fullmatch(r"D\d{4}", r["department_code"])
        assert r["status"] in {"active", "suspended", "retired"}
        assert (r["status"] == "retired") == (r["retired_on"] is not None)
    by_id = defaultdict(list)
    for r in records:
        by_id[r["id"]].append(r)
    for copies in (c for c in by_id.values() if len(c) > 1):
        assert len({(c["online_since"], c["retired_on"]) for c in copies}) == 1
        assert len({c["updated_at"] for c in copies}) == 2


def test_online_since_grows_every_month(demo: tuple[Path, list[dict]]) -> None:
    _, records = demo
    months = Counter(r["online_since"][:7] for r in latest_per_id(records).values())
    span = [f"{y}-{m:02d}" for y in range(2019, 2027) for m in range(1, 13) if (y, m) <= (2026, 3)]
    assert min(months) == "2019-01"
    assert all(months[m] > 0 for m in span)


# --- moving-out notifications ---------------------------------------------------


def parse_received(text: str) -> date | None:
    text = unicodedata.normalize("NFKC", text).strip()
    patterns = (
        (r"(\d{4})[/-](\d{1,2})[/-](\d{1,2})", 0),
        (r"R(\d+)\.(\d+)\.(\d+)", 2018),
        (r"令和(\d+|元)年(\d+)月(\d+)日", 2018),
    )
    for pattern, era in patterns:
        m = re.fullmatch(pattern, text)
        if m:
            year = 1 if m[1] == "元" else int(m[1])
            try:
                return date(year + era, int(m[2]), int(m[3]))
            except ValueError:
                return None
    return None


def ward_code(text: str) -> str | None:
    text = unicodedata.normalize("NFKC", text).strip()
    matches = [c for c in WARD_CODES if c == text or c[:5] == text]
    return matches[0] if matches else None


def read_csv_rows(path: Path) -> list[dict]:
    raw = path.read_bytes()
    text = raw.decode("utf-8-sig") if raw.startswith(b"\xef\xbb\xbf") else raw.decode("cp932")
    lines = [line for line in text.splitlines() if line.strip()]
    return list(csv.DictReader(lines))


def check_row(row: dict) -> tuple[str, date, str, bool] | None:
    """(ward, date, route, withdrawn) or None for a row that must be quarantined."""
    received, ward = parse_received(row["受付日"]), ward_code(row["区コード"])
    cancel = row["取消"].strip()
    if received is None or ward is None or row["届出経路"] not in ROUTES or cancel not in {"", "0", "1"}:
        return None
    return ward, received, row["届出経路"], cancel == "1"


def read_moveout(folder: Path) -> tuple[dict, dict[str, tuple[int, int]]]:
    notices: dict[tuple[str, str], dict] = {}
    per_file: dict[str, tuple[int, int]] = {}  # name -> (bad rows, all rows)
    for path in sorted(folder.glob("*.csv")):
        rows = read_csv_rows(path)
        bad = 0
        for row in rows:
            checked = check_row(row)
            if checked is None:
                bad += 1
                continue
            ward, received, route, withdrawn = checked
            key = (ward, row["受付番号"])
            if key not in notices:
                notices[key] = {"date": received, "route": route, "ward": ward, "withdrawn": False, "rows": 0}
            notices[key]["withdrawn"] |= withdrawn
            notices[key]["rows"] += 1
        per_file[path.name] = (bad, len(rows))
    return notices, per_file


@pytest.fixture(scope="module")
def moveout(demo: tuple[Path, list[dict]]) -> tuple[dict, dict[str, tuple[int, int]]]:
    root, _ = demo
    return read_moveout(root / "inbox" / "tenshutsu")


def myna_share(notices: dict, months: set[tuple[int, int]] | None = None, fy: int | None = None) -> float:
    valid = [n for n in notices.values() if not n["withdrawn"]
             and (fy is None or fiscal_year(n["date"]) == fy)
             and (months is None or (n["date"].year, n["date"].month) in months)]
    return sum(n["route"] == "マイナポータル" for n in valid) / len(valid)


def test_myna_share_per_fiscal_year(moveout: tuple[dict, dict]) -> None:
    notices, _ = moveout
    assert round(myna_share(notices, fy=2024), 2) == 0.24
    assert round(myna_share(notices, fy=2025), 2) == 0.34


def test_moveout_months_drift_up_and_cover_all_wards(moveout: tuple[dict, dict]) -> None:
    notices, _ = moveout
    valid = [n for n in notices.values() if not n["withdrawn"]]
    wards_by_month = defaultdict(set)
    for n in valid:
        wards_by_month[(n["date"].year, n["date"].month)].add(n["ward"])
    assert len(wards_by_month) == 24
    assert all(wards == WARD_CODES for wards in wards_by_month.values())
    first, last = {(2024, 4), (2024, 5), (2024, 6)}, {(2026, 1), (2026, 2), (2026, 3)}
    assert myna_share(notices, months=first) + 0.1 < myna_share(notices, months=last)
    for fy in (2024, 2025):
        assert 8000 <= sum(fiscal_year(n["date"]) == fy for n in valid) <= 15000


def test_moveout_dirty_input_is_present_but_rare(
    demo: tuple[Path, list[dict]], moveout: tuple[dict, dict]
) -> None:
    root, _ = demo
    notices, per_file = moveout
    folder = root / "inbox" / "tenshutsu"
    assert sum(bad for bad, _ in per_file.values()) >= 6
    assert all(bad / rows < 0.005 for bad, rows in per_file.values())
    assert any(n["rows"] > 1 for n in notices.values())  # re-deliveries
    withdrawn = sum(n["withdrawn"] for n in notices.values()) / len(notices)
    assert 0.005 < withdrawn < 0.02
    raw = b"".join(p.read_bytes() for p in sorted(folder.glob("*.csv")))
    text = "".join(row for p in sorted(folder.glob("*.csv")) for row in map(str, read_csv_rows(p)))
    for marker in ("271999", "電話", "/13/45", "２０", "R7.", "令和6年", "氏名", "備考", "'27102'"):
        assert marker in text, marker
    assert raw.count(b"\xef\xbb\xbf") >= 2 and b"\r\n\r\n" in raw
    assert any("-" in name for name in per_file)  # multi-day files


# --- speech-recognition devices ----------------------------------------------------


def parse_session(line: str) -> tuple[str, datetime, datetime] | None:
    try:
        record = json.loads(line)
        start = datetime.fromisoformat(record["started_at"]).astimezone(JST)
        end = datetime.fromisoformat(record["ended_at"]).astimezone(JST)
    except (ValueError, KeyError):
        return None
    if not SESSION_KEYS <= record.keys() or not start < end <= start + timedelta(hours=24):
        return None
    return record["session_id"], start, end


def month_start_after(moment: datetime) -> datetime:
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return datetime(year, month, 1, tzinfo=JST)


def read_speech(folder: Path) -> tuple[dict[tuple[int, int], float], int, int, list[float]]:
    sessions: dict[str, tuple[datetime, datetime]] = {}
    bad = repeated = 0
    bad_shares = []
    for path in sorted(folder.glob("*.jsonl")):
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        file_bad = 0
        for line in lines:
            parsed = parse_session(line)
            if parsed is None:
                file_bad += 1
            elif parsed[0] in sessions:
                repeated += 1
            else:
                sessions[parsed[0]] = parsed[1:]
        bad += file_bad
        bad_shares.append(file_bad / len(lines))
    hours: dict[tuple[int, int], float] = defaultdict(float)
    for start, end in sessions.values():
        while start < end:
            piece_end = min(end, month_start_after(start))
            hours[(start.year, start.month)] += (piece_end - start).total_seconds() / 3600
            start = piece_end
    return hours, bad, repeated, bad_shares


def test_speech_hours_fiscal_year_means(demo: tuple[Path, list[dict]]) -> None:
    root, _ = demo
    hours, bad, repeated, bad_shares = read_speech(root / "inbox" / "speech")
    assert set(hours) == {(fy + (m < 4), m) for fy in (2024, 2025) for m in range(1, 13)}
    for fy, mean in ((2024, 276.0), (2025, 403.0)):
        totals = [h for (y, m), h in hours.items() if fiscal_year(date(y, m, 1)) == fy]
        assert sum(totals) / 12 == mean
    assert bad >= 5 and max(bad_shares) < 0.005
    assert repeated >= 1


def test_speech_sessions_cross_month_ends(demo: tuple[Path, list[dict]]) -> None:
    root, _ = demo
    good = [json.loads(line)
            for path in sorted((root / "inbox" / "speech").glob("*.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines()
            if parse_session(line) is not None]
    crossing = [r for r in good if r["started_at"][:7] != r["ended_at"][:7]]
    assert len({r["session_id"] for r in crossing}) >= 3
    devices = {r["device_id"] for r in good}
    assert 15 <= len(devices) <= 25
    assert {r["loan_type"] for r in good} == {"annual", "short_term"}

