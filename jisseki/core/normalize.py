"""Repairs for what real exports do to dates, digits and ward codes."""
from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime

from jisseki.core.periods import JST

# Only the forms the contract lists are repaired; anything else is quarantined, not guessed at.
REIWA_FIRST_DAY = date(2019, 5, 1)
DATE_FORMS = (
    (re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})"), 0),
    (re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})"), 0),
    (re.compile(r"R(\d{1,2}|元)\.(\d{1,2})\.(\d{1,2})"), 2018),
    (re.compile(r"令和(\d{1,2}|元)年(\d{1,2})月(\d{1,2})日"), 2018),
)

# Osaka City's 24 wards: 6-digit 全国地方公共団体コード -> name
WARDS = {
    "271021": "都島区", "271039": "福島区", "271047": "此花区", "271063": "西区",
    "271071": "港区", "271080": "大正区", "271098": "天王寺区", "271110": "浪速区",
    "271136": "西淀川区", "271144": "東淀川区", "271152": "東成区", "271161": "生野区",
    "271179": "旭区", "271187": "城東区", "271195": "阿倍野区", "271209": "住吉区",
    "271217": "東住吉区", "271225": "西成区", "271233": "淀川区", "271241": "鶴見区",
    "271250": "住之江区", "271268": "平野区", "271276": "北区", "271284": "中央区",
}


def scope_name(scope: str) -> str:
    """A scope as people read it: 全市, a ward's name with its code, or the code (another 団体コード)."""
    if scope == "city":
        return "全市"
    return f"{WARDS[scope]}（{scope}）" if scope in WARDS else scope


# NUL (PostgreSQL refuses it in text) and lone surrogates (what surrogateescape makes of bytes that are not
# UTF-8, as in a file name; JSON's "\ud800"): text no database driver takes.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def nfkc(text: str | None) -> str:
    return unicodedata.normalize("NFKC", text or "").strip()


def parse_date(text: str | None) -> date | None:
    """A reception date in one of the contract's forms (full-width digits repaired), or None."""
    raw = nfkc(text)
    for pattern, era_base in DATE_FORMS:
        if m := pattern.fullmatch(raw):
            year = 1 if m[1] == "元" else int(m[1])
            day = _safe_date(era_base + year, int(m[2]), int(m[3]))
            return None if day is None or (era_base and day < REIWA_FIRST_DAY) else day
    return None


def _safe_date(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def check_digit(five: str) -> str:
    total = sum(int(ch) * weight for ch, weight in zip(five, (6, 5, 4, 3, 2)))
    return str((11 - total % 11) % 10)


def ward_code(text: str | None) -> str | None:
    """The 6-digit code of one of the 24 wards, from the 6- or 5-digit form; None otherwise."""
    raw = nfkc(text)
    if len(raw) == 5 and raw.isdigit():
        raw += check_digit(raw)
    return raw if raw in WARDS else None


def parse_timestamp(text: object) -> datetime | None:
    """ISO 8601 in Japan time; a timestamp without an offset is taken as JST."""
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(nfkc(text))
    except ValueError:
        return None
    return moment.replace(tzinfo=JST) if moment.tzinfo is None else moment.astimezone(JST)


def parse_iso_date(text: object) -> date | None:
    if not isinstance(text, str):
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return None


# What a quarantined value may show. A raw cell can hold anything when a row is shifted or a person typed
# in the wrong column (a receipt number, a user id, a name), so a value is shown only when it has the shape
# its column is meant to have, and short; otherwise only that it was text, and how long.
VALUE_SHAPES = {
    # Digits in runs of at most four between separators: a date or a timestamp, not a receipt number.
    "date": re.compile(r"(R|令和)?[0-9０-９元]{1,4}([/／\-－.．:：T+＋ 年月日][0-9０-９]{1,4})*[日Z]?"),
    "ward": re.compile(r"[0-9０-９]{1,8}"),
    "flag": re.compile(r"[0-9０-９]{1,3}"),
    # Kana only: a kanji word in the wrong column may be a name (氏名 is a column real exports carry).
    "word": re.compile(r"[\u3040-\u30ff\uff66-\uff9f・ー ]{1,16}"),
    "year": re.compile(r"[0-9０-９FYfy令和元年度R ]{1,12}"),
    "department": re.compile(r"[A-Z][0-9]{3,6}"),    # 所属コード such as D0412
    "code": re.compile(r"[A-Za-z][A-Za-z_]{0,47}"),   # catalog ids, statuses, loan types: no digits
    "key": re.compile(r"[A-Za-z0-9_\-]{1,24}"),      # a figure's period or scope (FY2025, 2025-04, 271021)
    "number": re.compile(r"[0-9０-９.,．，\-+eE ]{1,24}"),
    "none": re.compile(r"(?!)"),                     # never shown
}


def shown(value: object, shape: str) -> str:
    """The value as quarantine may keep it: itself when it fits its column's shape, else 「文字列（N文字）」."""
    if value is None:
        return ""
    text = str(value).strip()
    if not text or text in ("None", "nan"):
        return text
    return text if VALUE_SHAPES[shape].fullmatch(text) else f"文字列（{len(text)}文字）"
