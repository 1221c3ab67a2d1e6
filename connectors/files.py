"""Reading a folder of delivered files: stable order, content hashes, robust decoding, strict CSV.

A file is known by `file_name`: its name's bytes as text, with every byte that is not UTF-8 (and every
control character) escaped, so that a name the file system allows but no database or terminal takes
(bytes that decode only with surrogateescape) is still reported, in lineage, quarantine and messages.
"""
from __future__ import annotations

import json
import os
import re
import unicodedata
from collections.abc import Container, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from connectors.errors import SourceConfigError
from jisseki.core.records import FileInfo, digest

BOM = b"\xef\xbb\xbf"
MAX_NAME = 255   # warehouse.schema: ingest_file.name, quarantine.location
# A quoted field may carry line breaks onto at most this many further lines (and this many characters
# in all). A stray quote therefore costs its own line only: the reader tries the next lines, finds no
# strict record within the bound, quarantines the line and starts again at the next one.
MAX_CONTINUATION_LINES = 15
MAX_RECORD_CHARS = 16 * 1024 * 1024

# RFC 4180 with `""` inside quotes: a quote may only open a field, be doubled inside it, or close it
# right before a comma or the end, and a line break (CR too) is only inside quotes. Anything else
# (` "x"`, `"x" `, `x"y`, `"x"y`, `x<CR>y`) is malformed, not guessed at: readers differ on it (DuckDB
# trims a space before a quote, Python keeps it in the cell).
_QUOTED = r'"[^"]*(?:""[^"]*)*"'
_FIELD = rf'(?:{_QUOTED}|[^",\r\n]*)'
_RECORD = re.compile(rf"{_FIELD}(?:,{_FIELD})*")
_QUOTED_AT = re.compile(_QUOTED)
UNCLOSED = ("CSVとして読めない行です（引用符が閉じていません。"
            f"続く{MAX_CONTINUATION_LINES}行以内にも閉じる引用符がありません）")
MISPLACED = "CSVとして読めない行です（引用符の前後に空白や文字があるか、引用符の外に改行文字（CR）があります）"


def file_name(path: Path) -> str:
    r"""The file's name as it is reported: undecodable bytes as \xNN, a backslash doubled (so that no
    two names read alike), control characters as \xNN or \uNNNN. Escapes make a name longer than the
    255 characters lineage and quarantine keep only when most of its bytes are not UTF-8: then it ends
    in a hash of its bytes instead, so it is still one name for one file."""
    raw = os.fsencode(path.name)
    name = escaped(raw)
    return name if len(name) <= MAX_NAME else f"{name[:MAX_NAME - 17]}…{digest(raw)[:16]}"


def shown_path(path: Path) -> str:
    """A folder or file path for a message, escaped as file_name escapes a name."""
    return escaped(os.fsencode(str(path)))


def escaped(raw: bytes) -> str:
    out = []
    for ch in raw.decode("utf-8", "surrogateescape"):
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch == "\\":
            out.append("\\\\")
        elif unicodedata.category(ch) == "Cc":
            out.append(f"\\x{code:02x}" if code < 0x80 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def delivered_files(folder: Path, suffix: str) -> list[Path]:
    """The folder's files with the suffix, in the order of their reported names (which the
    notification index also orders by)."""
    if not folder.is_dir():
        raise SourceConfigError(f"フォルダがありません: {shown_path(folder)}",
                                "設定の path を確認するか、ファイルを置くフォルダを作成してください")
    return sorted((p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(suffix)), key=file_name)


def read_delivery(path: Path) -> tuple[bytes, FileInfo]:
    data = path.read_bytes()
    stat = path.stat()
    return data, FileInfo(name=file_name(path), size=len(data), mtime_ns=stat.st_mtime_ns, sha256=digest(data),
                          ctime_ns=stat.st_ctime_ns, inode=signed_inode(stat.st_ino))


def signed_inode(number: int) -> int:
    """The inode as the signed 64 bits a BIGINT column holds (some file systems use all 64 bits)."""
    return number - (1 << 64) if number >= 1 << 63 else number


def byte_lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(line number, line without its end). Splitting bytes on LF is safe for CP932 and UTF-8:
    neither uses 0x0A inside a multi-byte character."""
    if data.startswith(BOM):
        data = data[len(BOM):]
    for number, line in enumerate(data.split(b"\n"), start=1):
        yield number, line.rstrip(b"\r")


def header_and_body(data: bytes) -> tuple[bytes | None, list[tuple[int, bytes]]]:
    """A CSV file's header line (its first non-blank line; None when it has none) and the lines after it."""
    lines = list(byte_lines(data))
    at = next((i for i, (_, raw) in enumerate(lines) if raw.strip()), None)
    return (None, []) if at is None else (lines[at][1], lines[at + 1:])


@dataclass(frozen=True, slots=True)
class CsvRow:
    """One data row of a CSV file: its cells, or why it could not be read (code and Japanese reason).
    `line` is the physical line it starts on (a quoted field may have joined the next lines into it)."""
    line: int
    cells: list[str] | None
    code: str = ""
    reason: str = ""


def split_cells(text: str) -> list[str] | None:
    """The cells of one record (physical lines joined by LF), or None when it is not strict CSV."""
    if '"' not in text:
        return None if "\n" in text or "\r" in text else text.split(",")
    if _RECORD.fullmatch(text) is None:
        return None
    cells, at = [], 0
    while True:
        if text.startswith('"', at):
            quoted = _QUOTED_AT.match(text, at)
            assert quoted is not None   # _RECORD matched the whole text, so a quoted field starts here
            end = quoted.end()
            cells.append(text[at + 1:end - 1].replace('""', '"'))
        else:
            comma = text.find(",", at)
            end = len(text) if comma < 0 else comma
            cells.append(text[at:end])
        if end == len(text):
            return cells
        at = end + 1


def csv_rows(lines: Iterable[tuple[int, bytes]], encoding: str | None) -> Iterator[CsvRow]:
    """The data rows of CSV lines (after the header): every record that is not blank (a blank one has
    only empty or white-space cells), each malformed or undecodable line as a row of its own.

    A line with an odd number of quotes opens a quoted field; the next lines join it while the count
    stays odd, within the bounds above, and the joined record must then be strict CSV. If it is not,
    only the first line is malformed and reading starts again on the line after it. With no encoding,
    a line is read as UTF-8 if it is that, else as CP932 with replacement (data_rows)."""
    pending = list(lines)
    i = 0
    while i < len(pending):
        number, raw = pending[i]
        i += 1
        try:
            text = _decoded(raw, encoding)
        except UnicodeDecodeError:
            yield CsvRow(number, None, "undecodable", f"{encoding}として読めない行です")
            continue
        joined, quotes, more = text, text.count('"'), 0
        while quotes % 2 and more < MAX_CONTINUATION_LINES and i + more < len(pending) \
                and len(joined) <= MAX_RECORD_CHARS:
            try:
                following = _decoded(pending[i + more][1], encoding)
            except UnicodeDecodeError:
                break
            joined += "\n" + following
            quotes += following.count('"')
            more += 1
        cells = None if quotes % 2 else split_cells(joined)
        if cells is None:
            yield CsvRow(number, None, "malformed_csv", UNCLOSED if quotes % 2 else MISPLACED)
            more = 0
        elif any(cell.strip() for cell in cells):
            yield CsvRow(number, cells)
        i += more


def data_rows(lines: Iterable[tuple[int, bytes]]) -> int:
    """How many data rows the lines hold, by csv_rows, for a file that is rejected as a whole (so its
    encoding may be unknown): quotes, commas and line ends are ASCII in CP932 and UTF-8 alike, and a
    line is blank if it is under either."""
    return sum(1 for _ in csv_rows(lines, None))


def _decoded(raw: bytes, encoding: str | None) -> str:
    if encoding is not None:
        return raw.decode(encoding)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp932", "replace")


def header_problem(names: list[str], required: tuple[str, ...], known: tuple[str, ...]) -> tuple[str, str] | None:
    """Why a header (NFKC names) cannot be trusted, as (code, Japanese reason), or None. A repeated name
    leaves open which column is meant, so the file is rejected rather than one of them taken. Only the
    contract's column names (`known`) are named: a header line may be a stray row of personal data."""
    missing = [c for c in required if c not in names]
    if missing:
        return "missing_columns", f"必須列がありません: {'、'.join(missing)}"
    repeated = dict.fromkeys(n if n in known else "取り決めにない列"
                             for i, n in enumerate(names) if n and n in names[:i])
    if repeated:
        return ("duplicate_columns",
                f"見出しに同じ列名が複数あります: {'、'.join(repeated)}（どの列を読むか決められません）")
    return None


class LineProblem(ValueError):
    """A JSON Lines line that cannot be read: its quarantine code and Japanese reason."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(code, reason)
        self.code, self.reason = code, reason


class _RepeatedKey(ValueError):
    """A key twice in one object: json.loads would keep the last one without a word."""


def _unique(pairs: list[tuple[str, object]]) -> dict[str, object]:
    obj: dict[str, object] = {}
    for key, value in pairs:
        if key in obj:
            raise _RepeatedKey(key)
        obj[key] = value
    return obj


def json_lines(data: bytes) -> list[tuple[int, bytes]]:
    """The data rows of a JSON Lines file: every line that is not blank (only white space); a line that is not
    UTF-8 is not blank, and is read (and quarantined) as a row."""
    def blank(raw: bytes) -> bool:
        try:
            return not raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            return False

    return [(number, raw) for number, raw in byte_lines(data) if not blank(raw)]


def json_line(raw: bytes, named: Container[str]) -> object:
    """The line's JSON value, or LineProblem when it is not UTF-8, not JSON, or repeats a key in an object (which
    value to read cannot be decided). A repeated key is named only when it is in `named`: another key may be
    data (a user id)."""
    try:
        return json.loads(raw.decode("utf-8"), object_pairs_hook=_unique)
    except UnicodeDecodeError:
        raise LineProblem("undecodable", "UTF-8として読めない行です") from None
    except _RepeatedKey as exc:
        key = exc.args[0] if exc.args[0] in named else "取り決めにないキー"
        raise LineProblem("duplicate_key", f"同じキーが複数あります: {key}（どの値を読むか決められません）") from None
    except (ValueError, RecursionError):   # not JSON, or an integer too long or nesting too deep to read
        raise LineProblem("not_json", "JSONとして読めない行です") from None
