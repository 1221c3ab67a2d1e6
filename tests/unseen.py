"""Unseen data: seeded random source data written to contracts 1-3, with every bad-input case.

Standard library only. ``write_unseen(root, seed)`` writes

* ``root/moveout/*.csv``   (contract 2, ~30 files, a few hundred rows each)
* ``root/speech/*.jsonl``  (contract 3, 7 files)

and returns the procedure records (contract 1 dicts) for a fake catalog API:
duplicate ids with different ``updated_at`` and a few bad records, in random
order. Data covers 2025-01-01..2026-05-31. Everything is a pure function of
``seed``.

``personal_values(root, seed)`` returns every personal value the batch holds
(receipt numbers as written and normalised, names, phone numbers, speech
``user_id``s) so a test can prove none of them reaches the warehouse.

``SUGGESTED_AS_OF`` is an as-of date the data has sharp edges around
(notifications on it and the day after, a session crossing its midnight, a
procedure going online on it and one the day after); any as-of works.

Bad-input cases written (expected figures: ``tests/handcount.py``):
moveout - cp932 and UTF-8-with-BOM, CRLF and LF, shuffled column order, extra
columns 氏名/電話番号/備考 (quoted commas, quotes, an embedded newline), all
date forms and full-width digits, 5- and 6-digit ward codes, full-width
receipt numbers, duplicates across files (some with a different 届出経路 or
受付日: the first row wins) and verbatim within a file, withdrawals (取消=1,
full-width １ too) with valid copies before and after, unknown ward codes,
unknown 届出経路, unparsable/invalid dates, empty 受付番号, bad 取消, a bad
withdrawal row (which withdraws nothing), blank lines mid-file and trailing,
multi-day files.
speech - duplicate sessions across and within files (verbatim, plus two
corrections in the last file), midnight crossings at month and fiscal-year
ends and elsewhere, a session written in UTC that crosses a JST month end,
``Z``/``+00:00``/no-offset timestamps, an exactly-24 h session, sessions after
the as-of date, bad lines of every kind, blank lines, a CRLF file, an extra
personal ``user_id`` key.
procedures - ids repeated with later ``updated_at`` (including a newer one
written in UTC whose string sorts earlier), retired, suspended, retired
status without a date, retired_on == online_since, future online_since, bad
records (bad online_since, bad status, missing/empty id, bad retired_on, bad
updated_at, retired before online; one of these is the earliest date of all).
"""

from __future__ import annotations

import copy
import csv
import io
import json
import random
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from pathlib import Path

JST = timezone(timedelta(hours=9))
FIRST_DAY = date(2025, 1, 1)
LAST_DAY = date(2026, 5, 31)
SUGGESTED_AS_OF = date(2026, 4, 15)

WARDS = {
    "271021": "都島区", "271039": "福島区", "271047": "此花区", "271063": "西区",
    "271071": "港区", "271080": "大正区", "271098": "天王寺区", "271110": "浪速区",
    "271136": "西淀川区", "271144": "東淀川区", "271152": "東成区", "271161": "生野区",
    "271179": "旭区", "271187": "城東区", "271195": "阿倍野区", "271209": "住吉区",
    "271217": "東住吉区", "271225": "西成区", "271233": "淀川区", "271241": "鶴見区",
    "271250": "住之江区", "271268": "平野区", "271276": "北区", "271284": "中央区",
}
WARD_LIST = list(WARDS)
CONTRACT_COLUMNS = ["受付日", "区コード", "区名", "受付番号", "届出経路", "取消"]
EXTRA_COLUMNS = ["氏名", "電話番号", "備考"]
SURNAMES = ["山田", "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "中村", "小林", "加藤", "吉田", "松本"]
GIVEN_NAMES = ["太郎", "花子", "一郎", "直子", "健太", "美咲", "翔", "陽菜", "大輔", "由美", "誠", "恵"]
NOTES = ["", "", "", "転居先：東京都", "本人確認済, 代理人なし", '連絡先 "要確認"', "郵送分\n再送"]
TITLES = ["住民票の写しの交付申請", "印鑑登録証明書の交付申請", "児童手当認定請求", "道路占用許可申請",
          "犬の登録申請", "粗大ごみ収集申込", "保育施設利用申込", "固定資産税証明交付申請"]
FULL_WIDTH = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)})


@dataclass
class Batch:
    files: dict[str, bytes] = field(default_factory=dict)
    procedures: list[dict] = field(default_factory=list)
    personal: set[str] = field(default_factory=set)


def write_unseen(root: Path, seed: int) -> list[dict]:
    """Writes root/moveout/*.csv, root/speech/*.jsonl; returns procedure records (contract 1 dicts)."""
    batch = _build(seed)
    write_files(root, batch.files)
    return copy.deepcopy(batch.procedures)


def write_files(root: Path, files: dict[str, bytes]) -> None:
    for relative, content in files.items():
        path = Path(root) / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def personal_values(root: Path, seed: int) -> set[str]:
    """Every personal value written to the batch's files.

    Receipt numbers, names and phone numbers as written and NFKC-normalised,
    and speech ``user_id``s. Pure function of ``seed`` (``root`` is not read).
    """
    return set(_build(seed).personal)


@lru_cache(maxsize=4)
def _build(seed: int) -> Batch:
    batch = Batch()
    _add_moveout(batch, random.Random(f"{seed}/moveout"))
    _add_speech(batch, random.Random(f"{seed}/speech"))
    batch.procedures = _procedures(random.Random(f"{seed}/procedures"))
    return batch


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _business_days(first: date, last: date) -> list[date]:
    return [day for day in _days(first, last) if day.weekday() < 5]


def _month_starts() -> list[date]:
    return [day for day in _days(FIRST_DAY, LAST_DAY) if day.day == 1]


def _month_last_day(start: date) -> date:
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


# ---------------------------------------------------------------- moveout_log


@dataclass
class CsvStyle:
    columns: list[str]
    date_form: str
    five_digit_share: float
    cancel_zero: str
    encoding: str
    newline: str
    trailing_blanks: int


BAD_ROW_CASES = (
    [("受付日", v) for v in ["不明", "2025/13/01", "2025-02-30", "R7.2.29", "令和7年4月31日", "", "2025.04.01", "令和0年4月1日"]]
    + [("区コード", v) for v in ["271292", "27130", "271022", "999999"]]
    + [("届出経路", v) for v in ["電子申請", "FAX", "", "コンビニ"]]
    + [("受付番号", v) for v in ["", "\u3000"]]
    + [("取消", v) for v in ["2", "済", "取消", "-1"]]
    + [("bad withdrawal", "不明")] * 3
)


def _moveout_plan(rng: random.Random) -> list[tuple[str, list[date]]]:
    business = _business_days(FIRST_DAY, LAST_DAY)
    fixed = [date(2025, 3, 31), date(2025, 4, 1), date(2026, 3, 31), date(2026, 4, 1), date(2026, 4, 15), date(2026, 4, 16)]
    monthly = [rng.choice([d for d in business if (d.year, d.month) == (m.year, m.month)]) for m in _month_starts()]
    singles = sorted(set(fixed + monthly + rng.sample(business, 5)))
    plan = [(f"tenshutsu_{day:%Y%m%d}.csv", [day]) for day in singles]
    for start in rng.sample(business[:-10], 3):
        span = _days(start, start + timedelta(days=rng.randint(2, 5)))
        plan.append((f"tenshutsu_{span[0]:%Y%m%d}-{span[-1]:%Y%m%d}.csv", span))
    return sorted(plan)


def _csv_style(rng: random.Random) -> CsvStyle:
    columns = CONTRACT_COLUMNS + [c for c in EXTRA_COLUMNS if rng.random() < 0.7]
    rng.shuffle(columns)
    return CsvStyle(
        columns=columns,
        date_form=rng.choice(["slash", "slash", "dash", "r", "kanji"]),
        five_digit_share=rng.choice([0.0, 0.0, 0.1, 1.0]),
        cancel_zero=rng.choice(["", "0"]),
        encoding="utf-8-sig" if rng.random() < 0.2 else "cp932",
        newline=rng.choice(["\r\n", "\r\n", "\n"]),
        trailing_blanks=rng.choice([0, 0, 1, 3]),
    )


def _format_date(day: date, form: str) -> str:
    if form == "slash":
        return f"{day:%Y/%m/%d}"
    if form == "dash":
        return f"{day:%Y-%m-%d}"
    if form == "r":
        return f"R{day.year - 2018}.{day.month}.{day.day}"
    return f"令和{day.year - 2018}年{day.month}月{day.day}日"


class MoveoutWriter:
    """Keeps the receipt counters, the rows written so far and the personal values."""

    def __init__(self, rng: random.Random, personal: set[str]) -> None:
        self.rng, self.personal = rng, personal
        self.counters: dict[tuple[str, str], int] = {}
        self.pool: list[dict] = []

    def new_row(self, day: date) -> dict:
        rng = self.rng
        ward, yymm = rng.choice(WARD_LIST), f"{day:%y%m}"
        serial = self.counters[(ward, yymm)] = self.counters.get((ward, yymm), 0) + 1
        months = (day.year - 2025) * 12 + day.month
        myna_share = 0.12 + 0.015 * months + (int(ward[-3:-1]) % 5) * 0.02
        route = "マイナポータル" if rng.random() < myna_share else rng.choice(["窓口", "窓口", "窓口", "郵送"])
        name = rng.choice(SURNAMES) + rng.choice([" ", "\u3000"]) + rng.choice(GIVEN_NAMES)
        phone = f"{rng.choice(['06', '090', '080'])}-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}"
        note = rng.choice(NOTES)
        return {"day": day, "ward": ward, "receipt": f"TN{yymm}-{serial:05d}", "route": route,
                "cancel": rng.random() < 0.015, "name": name, "phone": phone, "note": note}

    def render(self, row: dict, style: CsvStyle) -> dict[str, str]:
        rng = self.rng
        day_text = _format_date(row["day"], style.date_form if rng.random() < 0.85 else rng.choice(["slash", "dash", "r", "kanji"]))
        receipt = row["receipt"].translate(FULL_WIDTH) if rng.random() < 0.03 else row["receipt"]
        cancel = ("１" if rng.random() < 0.2 else "1") if row["cancel"] else style.cancel_zero
        return {
            "受付日": day_text.translate(FULL_WIDTH) if rng.random() < 0.05 else day_text,
            "区コード": row["ward"][:5] if rng.random() < style.five_digit_share else row["ward"],
            "区名": WARDS.get(row["ward"], ""), "受付番号": receipt, "届出経路": row["route"], "取消": cancel,
            "氏名": row["name"], "電話番号": row["phone"], "備考": row["note"],
        }

    def register(self, cells: dict[str, str], columns: list[str]) -> None:
        """Remembers the personal values a written row holds."""
        for column in ("受付番号", "氏名", "電話番号"):
            value = cells[column]
            if column in columns and value.strip():
                self.personal.update({value, unicodedata.normalize("NFKC", value).strip()})

    def repeats(self, count: int) -> list[dict]:
        """Rows of earlier files delivered again: copies, corrections (the first row wins) and withdrawals."""
        rows = []
        for _ in range(min(count, len(self.pool))):
            row = dict(self.rng.choice(self.pool))
            kind = self.rng.random()
            if kind < 0.15:
                row["route"] = "窓口" if row["route"] == "マイナポータル" else "マイナポータル"
            elif kind < 0.25:
                row["day"] += timedelta(days=1)
            elif kind < 0.45:
                row["cancel"] = not row["cancel"]
            rows.append(row)
        return rows

    def bad_row(self, case: tuple[str, str], day: date, style: CsvStyle) -> dict[str, str]:
        column, value = case
        if column == "bad withdrawal" and self.pool:
            row = dict(self.rng.choice(self.pool), cancel=True)
            return self.render(row, style) | {"受付日": value}
        return self.render(dict(self.new_row(day), cancel=False), style) | {column: value}


def _file_rows(writer: MoveoutWriter, days: list[date], style: CsvStyle, bad_cases: list) -> list[dict | None]:
    rng = writer.rng
    logical = [writer.new_row(rng.choice(days)) for _ in range(rng.randint(150, 330))]
    logical.sort(key=lambda row: row["day"])
    logical += writer.repeats(max(1, len(logical) // 60))
    rows: list[dict | None] = [writer.render(row, style) for row in logical]
    for _ in range(rng.randint(0, 3)):
        rows.insert(rng.randint(len(rows) // 2, len(rows)), dict(rng.choice(rows)))
    for case in bad_cases:
        rows.insert(rng.randint(0, len(rows)), writer.bad_row(case, rng.choice(days), style))
    if rng.random() < 0.1:
        rows.insert(rng.randint(1, len(rows)), None)
    writer.pool.extend(logical)
    for row in filter(None, rows):
        writer.register(row, style.columns)
    return rows


def _csv_bytes(rows: list[dict | None], style: CsvStyle) -> bytes:
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator=style.newline)
    out.writerow(style.columns)
    for row in rows:
        out.writerow([] if row is None else [row[column] for column in style.columns])
    return (buffer.getvalue() + style.newline * style.trailing_blanks).encode(style.encoding)


def _add_moveout(batch: Batch, rng: random.Random) -> None:
    plan = _moveout_plan(rng)
    bad_by_file: dict[int, list] = {}
    for case in BAD_ROW_CASES:
        bad_by_file.setdefault(rng.randint(1, len(plan) - 1), []).append(case)
    writer = MoveoutWriter(rng, batch.personal)
    blank_file = rng.randint(0, len(plan) - 1)
    for index, (name, days) in enumerate(plan):
        style = _csv_style(rng)
        if index == 1:
            style.encoding, style.newline = "utf-8-sig", "\n"
        rows = _file_rows(writer, days, style, bad_by_file.get(index, []))
        if index == blank_file:
            rows.insert(len(rows) // 2, None)
        batch.files[f"moveout/{name}"] = _csv_bytes(rows, style)


# ---------------------------------------------------------------- speech_usage

SPEECH_FIELDS = ("session_id", "device_id", "department_code", "started_at", "ended_at", "loan_type")


def _jst(day: date, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute, second), JST)


def _session(rng: random.Random, sid: str, start: datetime, end: datetime) -> dict:
    return {"session_id": sid, "device_id": f"SR-{rng.randint(1, 40):04d}",
            "department_code": f"D{rng.randint(100, 999):04d}", "start": start, "end": end,
            "loan_type": rng.choice(["annual", "annual", "short_term"]),
            "user_id": f"U{rng.randint(1000000, 9999999)}" if rng.random() < 0.3 else None,
            "zone": rng.choices(["jst", "z", "utc", "naive"], [85, 8, 4, 3])[0]}


def _daily_sessions(rng: random.Random) -> list[dict]:
    sessions = []
    for day in _business_days(FIRST_DAY, LAST_DAY):
        for seq in range(1, rng.randint(1, 5) + 1):
            start = _jst(day, rng.randint(9, 17), rng.randint(0, 59), rng.randint(0, 59))
            end = start + timedelta(seconds=rng.randint(300, 3 * 3600))
            sessions.append(_session(rng, f"S-{day:%Y%m%d}-{seq:04d}", start, end))
    return sessions


def _edge_sessions(rng: random.Random) -> list[dict]:
    ends = [_month_last_day(m) for m in _month_starts()]
    spans = [(_jst(d, rng.randint(22, 23), rng.randint(0, 59)), rng.randint(20, 240)) for d in rng.sample(ends, 7)]
    spans += [(_jst(d, 23, 15), 105) for d in (date(2025, 3, 31), date(2026, 3, 31))]
    spans += [(_jst(d, 21, rng.randint(0, 59)), rng.randint(120, 400)) for d in rng.sample(_days(FIRST_DAY, LAST_DAY), 10)]
    spans += [(_jst(SUGGESTED_AS_OF, 23, 10), 100), (_jst(SUGGESTED_AS_OF, 23, 0), 60),
              (_jst(SUGGESTED_AS_OF + timedelta(days=1), 0, 0), 30), (_jst(date(2025, 8, 10), 9, 0), 24 * 60)]
    sessions = [_session(rng, f"S-{s:%Y%m%d}-9{i:03d}", s, s + timedelta(minutes=m)) for i, (s, m) in enumerate(spans)]
    utc_start = datetime(2025, 5, 31, 14, 30, tzinfo=timezone.utc)
    sessions.append(_session(rng, "S-20250531-8000", utc_start, utc_start + timedelta(minutes=90)) | {"zone": "z"})
    return sessions


def _timestamp(moment: datetime, zone: str) -> str:
    if zone == "z":
        return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if zone == "utc":
        return moment.astimezone(timezone.utc).isoformat()
    if zone == "naive":
        return moment.astimezone(JST).replace(tzinfo=None).isoformat()
    return moment.astimezone(JST).isoformat()


def _session_line(session: dict) -> str:
    obj = {"session_id": session["session_id"], "device_id": session["device_id"],
           "department_code": session["department_code"],
           "started_at": _timestamp(session["start"], session["zone"]),
           "ended_at": _timestamp(session["end"], session["zone"]), "loan_type": session["loan_type"]}
    if session["user_id"]:
        obj["user_id"] = session["user_id"]
    return json.dumps(obj, ensure_ascii=False)


def _bad_speech_lines(rng: random.Random) -> list[str]:
    base = _session(rng, "S-BAD-0000", _jst(date(2025, 6, 2), 10, 0), _jst(date(2025, 6, 2), 11, 0)) | {"user_id": None}

    def variant(n: int, **changes: object) -> str:
        obj = json.loads(_session_line(base | {"session_id": f"S-BAD-{n:04d}"}))
        obj.update(changes)
        return json.dumps({k: v for k, v in obj.items() if v != "<drop>"}, ensure_ascii=False)

    good = _session_line(base)
    return [
        variant(1, ended_at="2025-06-02T09:00:00+09:00"),
        variant(2, ended_at="2025-06-03T10:00:01+09:00"),
        variant(3, ended_at="2025-06-03T16:00:00+09:00"),
        variant(4, device_id="<drop>"), variant(5, department_code="<drop>"), variant(6, ended_at="<drop>"),
        variant(7, loan_type=None), variant(8, device_id=""), variant(9, session_id="<drop>"),
        variant(10, started_at="2025-06-31T10:00:00+09:00"), variant(11, ended_at="not a time"),
        variant(12, started_at="2025-13-01T10:00:00+09:00"), variant(13, loan_type="rental"),
        good[: len(good) // 2], '["S-BAD-0015", "SR-0001"]', "null",
    ]


def _speech_files(rng: random.Random, sessions: list[dict]) -> dict[str, list[str]]:
    files: dict[str, list[str]] = {}
    for session in sorted(sessions, key=lambda s: s["start"]):
        start = session["start"].astimezone(JST)
        name = f"sr_usage_{start.year}q{(start.month - 1) // 3 + 1}.jsonl"
        files.setdefault(name, []).append(_session_line(session))
    for lines in files.values():
        for _ in range(rng.randint(1, 3)):
            lines.insert(rng.randint(0, len(lines)), rng.choice(lines))
    resend = [_session_line(s) for s in rng.sample(sessions, len(sessions) // 40)]
    fixed = rng.sample([s for s in sessions if s["end"] - s["start"] < timedelta(hours=12)], 2)
    resend += [_session_line(s | {"end": s["end"] + timedelta(minutes=17)}) for s in fixed]
    files["sr_usage_resend.jsonl"] = resend
    return files


def _add_speech(batch: Batch, rng: random.Random) -> None:
    sessions = _daily_sessions(rng) + _edge_sessions(rng)
    batch.personal.update(s["user_id"] for s in sessions if s["user_id"])
    files = _speech_files(rng, sessions)
    names = sorted(files)
    for line in _bad_speech_lines(rng):
        lines = files[rng.choice(names)]
        lines.insert(rng.randint(0, len(lines)), line)
    files[names[1]][len(files[names[1]]) // 3:len(files[names[1]]) // 3] = ["", ""]
    crlf = rng.choice(names)
    for name in names:
        newline = "\r\n" if name == crlf else "\n"
        text = newline.join(files[name]) + newline * rng.choice([1, 1, 2])
        batch.files[f"speech/{name}"] = text.encode("utf-8")


# ---------------------------------------------------------------- online_procedures


def _updated_at(rng: random.Random) -> datetime:
    day = FIRST_DAY + timedelta(days=rng.randint(0, (LAST_DAY - FIRST_DAY).days))
    return _jst(day, rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59))


def _procedure(rng: random.Random, number: int, since: date) -> dict:
    retired = since + timedelta(days=rng.randint(30, 1500)) if rng.random() < 0.1 else None
    status = "suspended" if rng.random() < 0.05 else "active"
    if retired and retired <= LAST_DAY:
        status = "retired"
    return {"id": f"PROC-{number:06d}", "title": rng.choice(TITLES), "department_code": f"D{rng.randint(100, 999):04d}",
            "online_since": since.isoformat(), "retired_on": retired.isoformat() if retired else None,
            "status": status, "updated_at": _updated_at(rng).isoformat()}


def _base_procedures(rng: random.Random) -> list[dict]:
    days = _days(date(2019, 5, 1), date(2026, 9, 30))
    records = [_procedure(rng, 1, date(2019, 4, 1))]
    records += [_procedure(rng, n, rng.choice(days[len(days) // 3:] if rng.random() < 0.6 else days)) for n in range(2, 321)]
    edges = [("2026-04-15", None), ("2026-04-16", None), ("2025-03-31", None), ("2025-04-01", None),
             ("2024-01-10", "2025-06-30"), ("2025-09-01", "2025-09-01"), ("2023-02-01", "2026-04-16"),
             ("2023-02-01", "2026-04-15"), ("2026-08-01", None)]
    for record, (since, retired) in zip(records[1:], edges):
        record.update(online_since=since, retired_on=retired)
    records[20].update(status="retired", retired_on=None)
    return records


def _new_version(rng: random.Random, record: dict) -> dict:
    newer = dict(record, updated_at=(datetime.fromisoformat(record["updated_at"]) + timedelta(hours=rng.randint(1, 2000))).isoformat())
    change = rng.random()
    if change < 0.4:
        retired = max(date.fromisoformat(record["online_since"]), date(2025, 1, 1)) + timedelta(days=rng.randint(0, 500))
        newer.update(retired_on=retired.isoformat(), status="retired")
    elif change < 0.6:
        newer.update(retired_on=None, status="active")
    elif change < 0.8:
        newer.update(online_since=(date.fromisoformat(record["online_since"]) + timedelta(days=rng.randint(1, 90))).isoformat())
    else:
        newer.update(title=record["title"] + "（電子）", status="suspended")
    if newer["retired_on"] and newer["retired_on"] < newer["online_since"]:
        newer["retired_on"] = newer["online_since"]
    return newer


def _utc_trap(record: dict) -> tuple[dict, dict]:
    """The newer version is written in UTC, so its updated_at string sorts before the older one's."""
    older = dict(record, updated_at="2025-04-01T08:30:00+09:00", retired_on=None, status="active")
    newer = dict(record, updated_at="2025-03-31T23:45:00Z", retired_on="2025-04-01", status="retired")
    if newer["online_since"] > "2025-04-01":
        newer["online_since"] = older["online_since"] = "2024-10-01"
    return older, newer


def _bad_procedures(rng: random.Random) -> list[dict]:
    bad = [_procedure(rng, 900000 + n, date(2022, 4, 1) + timedelta(days=30 * n)) for n in range(8)]
    bad[0]["online_since"] = "2021/06/01"
    bad[1]["online_since"] = "令和3年6月1日"
    bad[2]["status"] = "deleted"
    del bad[3]["id"]
    bad[4]["id"] = ""
    bad[5].update(retired_on="未定", status="active")
    bad[6]["updated_at"] = "yesterday"
    bad[7].update(online_since="2018-10-01", retired_on="2018-04-01", status="retired")
    return bad


def _procedures(rng: random.Random) -> list[dict]:
    records = _base_procedures(rng)
    chosen = rng.sample(records[30:], 28)
    versions = [_new_version(rng, record) for record in chosen[:25]]
    versions += [_new_version(rng, version) for version in versions[:5]]
    for record in chosen[25:]:
        older, newer = _utc_trap(record)
        record.update(older)
        versions.append(newer)
    records += versions + _bad_procedures(rng)
    rng.shuffle(records)
    return records
