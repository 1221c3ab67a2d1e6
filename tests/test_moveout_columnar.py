"""The columnar reader of contract 2 against the row reader, which defines what a file means: on every
file it accepts, it must yield the same rows, cell for cell, in the same order. The row reader itself is
held to what each generated file was written to hold: every row written, each malformed row
quarantined at its line, every file with an untrusted header rejected with all its data rows."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jisseki.core.normalize import nfkc, parse_date, ward_code
from jisseki.core.records import Bad, FileInfo, Record
from jisseki.moveout import columnar
from jisseki.moveout.log import REQUIRED, read_file

PROFILE = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                           HealthCheck.function_scoped_fixture])
COLUMNS = ["受付日", "区コード", "区名", "受付番号", "届出経路", "取消", "備考", "ｸｸｸ"]
CELLS = {
    "受付日": st.sampled_from(["2025/04/01", "2025-04-02", "R7.4.3", "令和7年4月4日", "２０２５/０４/０５",
                             " 2025/04/06 ", "2025/13/01", "", "昨日", "R1.5.1", "平成31年4月30日",
                             "\u30002025/04/07"]),
    "区コード": st.sampled_from(["271021", "27102", "２７１０２１", "271022", "999999", "", " 271039", "27103"]),
    "区名": st.sampled_from(["都島区", "", "福島区", "a,b", 'q"q', "\u3000", "\t"]),
    "受付番号": st.sampled_from(["A1", "A2", "Ａ３", " A4", "", "B 5", "A1 ", "x,y", '"z"', "ｱ6", "A\n7", "C\r\n8",
                             'D""9', "E,\n10"]),
    "届出経路": st.sampled_from(["マイナポータル", "窓口", "郵送", "ﾏｲﾅﾎﾟｰﾀﾙ", "", "電話", " 窓口"]),
    "取消": st.sampled_from(["0", "1", "", "１", "2", " 1"]),
    # No line break here: a free-text cell that starts a line with `",` could legitimately close a
    # stray quote above it, and then the file means something else than it was generated to mean.
    "備考": st.text(st.characters(codec="utf-8", exclude_characters="\n"), max_size=6),
    "ｸｸｸ": st.sampled_from(["", "x"]),
}
# A column named again, the same after NFKC: a header that cannot say which column is meant.
REPEATS = {"受付番号": "受付番号", "区コード": "区コード ", "ｸｸｸ": "ククク", "備考": "備考"}
# Cells written so that the row is not strict CSV (a space before or after a quoted field, a quote inside
# an unquoted one, text after a closing quote, a quote that is never closed, a CR outside quotes); each
# one line long.
MALFORMED = [' "B-1"', '"B-1" ', 'B"1', '"B"1', '"B-1', "B\r1"]
BLANK_LINES = [""] * 20 + [",,,", '"",""', "\t,", "   ", "\u3000"]   # DuckDB refuses the latter (a wrong cell count)


def _quote(cell: str, always: bool = False) -> str:
    return '"' + cell.replace('"', '""') + '"' if always or any(c in cell for c in ',"\n\r') else cell


@dataclass
class Generated:
    data: bytes
    rejected: str | None              # the header's code when the file must be rejected whole
    rows: list[tuple[int, list[str] | None]]   # every data row: its line, and its cells or None if malformed
    names: list[str]


@st.composite
def generated(draw: st.DrawFn) -> Generated:
    # Mostly the four required columns and some others in any order; sometimes one is missing, or one
    # is named twice.
    names = [c for c in COLUMNS if c in REQUIRED or draw(st.booleans())]
    rejected = None
    if draw(st.integers(0, 9)) == 0:
        names.remove(draw(st.sampled_from(REQUIRED)))
        rejected = "missing_columns"
    names = list(draw(st.permutations(names)))
    repeatable = [n for n in names if n in REPEATS]
    if repeatable and draw(st.integers(0, 29)) == 7:   # (hypothesis draws the bounds more often)
        names.insert(draw(st.integers(0, len(names))), REPEATS[draw(st.sampled_from(repeatable))])
        rejected = rejected or "duplicate_columns"
    base = [next(c for c in COLUMNS if nfkc(c) == nfkc(n)) for n in names]
    irregular = draw(st.integers(0, 7)) == 3
    lines = [",".join(_quote(n, draw(st.booleans())) for n in names)]
    rows: list[tuple[int, list[str] | None]] = []
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["row"] * 24 + ["blank", "header"] + (["malformed"] * 3 if irregular else [])))
        line = 1 + sum(text.count("\n") + 1 for text in lines)
        if kind == "blank":
            lines.append(draw(st.sampled_from(BLANK_LINES)))
            continue
        if kind == "header":                       # the header again, as some joined exports have it
            cells = list(names)
        else:
            cells = [draw(CELLS[b]) for b in base]
        always = draw(st.booleans())
        if kind == "malformed":
            cells = [c.replace("\r", "").replace("\n", "") for c in cells]
            at = draw(st.integers(0, len(cells) - 1))
            written = [_quote(c, always) for c in cells]
            written[at] = draw(st.sampled_from(MALFORMED))
            lines.append(",".join(written))
            rows.append((line, None))
            continue
        lines.append(",".join(_quote(c, always) for c in cells))
        if any(c.strip() for c in cells):
            # The row reader joins a quoted field's lines with LF, whatever the file's line end.
            rows.append((line, [c.replace("\r\n", "\n") for c in cells]))
    # Trailing blank lines (a row of commas as wide as the header DuckDB reads as blank; one of another
    # width, as in BLANK_LINES, makes it refuse the file).
    lines += draw(st.sampled_from([[], [""], ["", ""], ["," * (len(names) - 1)]]))
    ends = draw(st.sampled_from(["\n", "\r\n", "mixed"]))
    text = "".join(line + ("\r\n" if ends == "\r\n" or (ends == "mixed" and i % 2) else "\n")
                   for i, line in enumerate(lines))
    encoding = draw(st.sampled_from(["cp932", "utf-8-sig", "utf-8"]))
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        data = text.encode("utf-8")
    return Generated(data, rejected, rows, names)


def files() -> st.SearchStrategy[bytes]:
    return generated().map(lambda g: g.data)


def row_reader(data: bytes) -> tuple[list[tuple], list[Bad]]:
    items = list(read_file(data, FileInfo("f.csv", len(data), 0, "0" * 64)))
    records = [(r.fields["reception_date"], r.fields["ward_code"], r.fields["route"], r.fields["withdrawn"],
                r.fields["has_receipt"], r.fields["raw_date"], r.fields["raw_ward"], r.key[1])
               for r in items if isinstance(r, Record)]
    return records, [b for b in items if isinstance(b, Bad)]


def expected_record(names: list[str], cells: list[str]) -> tuple:
    """What the row reader must make of the cells the generator wrote, by the contract's functions."""
    by_name = {nfkc(n): c for n, c in zip(names, cells)}

    def cell(name: str) -> str:
        return by_name.get(name, "")

    receipt = nfkc(cell("受付番号"))
    return (parse_date(cell("受付日")), ward_code(cell("区コード")), nfkc(cell("届出経路")), nfkc(cell("取消")),
            bool(receipt), cell("受付日").strip()[:40], cell("区コード").strip()[:20], receipt)


def columnar_reader(data: bytes, folder: Path) -> tuple[list[tuple], list[tuple]] | None:
    """What the columnar path validates per row (its shape's fields) and what it indexes per row,
    or None when it hands the file on."""
    info = FileInfo("f.csv", len(data), 0, "0" * 64)
    regular = columnar.transcode(data, info, 1, folder)
    if regular is None:
        return None
    con = duckdb.connect()
    if columnar.stage(con, [regular], {"f.csv": 1}):
        return None
    shapes = dict(columnar.normalise(con))
    validated = [(*shapes[tuple(raw)].values(), receipt) for *raw, receipt in con.execute(
        f"SELECT raw_date, raw_ward, raw_route, raw_withdrawn, {columnar.HAS_RECEIPT}, {columnar.RECEIPT} "
        f"{columnar.FROM_STAGED} ORDER BY s.rowid").fetchall()]
    indexed = con.execute(f"SELECT ward, receipt, day, myna, withdrawn FROM "
                          f"({columnar.notification_rows_sql('マイナポータル')}) ORDER BY seq",
                          {"excluded": []}).fetchall()
    return validated, indexed


@pytest.mark.e2e
@PROFILE
@given(generated())
def test_the_row_reader_reads_what_was_written_and_quarantines_each_malformed_line(g: Generated) -> None:
    items = list(read_file(g.data, info := FileInfo("f.csv", len(g.data), 0, "0" * 64)))
    assert info.rows == len(g.rows)             # every data row of the file, counted or quarantined
    if g.rejected:
        assert [(b.item, b.code, b.rows) for b in items] == [("header", g.rejected, len(g.rows))]
        return
    assert sum(1 if isinstance(i, Record) else i.rows for i in items) == len(g.rows)
    got = [(int(i.item), i.code if isinstance(i, Bad) else None) for i in items]
    assert got == [(line, None if cells is not None else "malformed_csv") for line, cells in g.rows]
    records = [r for r in items if isinstance(r, Record)]
    assert [(r.fields["reception_date"], r.fields["ward_code"], r.fields["route"], r.fields["withdrawn"],
             r.fields["has_receipt"], r.fields["raw_date"], r.fields["raw_ward"], r.key[1]) for r in records] == [
        expected_record(g.names, cells) for _, cells in g.rows if cells is not None]


@pytest.mark.e2e
@PROFILE
@given(generated())
def test_columnar_reader_agrees_with_the_row_reader(tmp_path: Path, g: Generated) -> None:
    got = columnar_reader(g.data, tmp_path)
    if got is None:
        return
    assert g.rejected is None and all(cells is not None for _, cells in g.rows)
    validated, indexed = got
    expected, bad = row_reader(g.data)
    assert bad == []
    assert validated == expected
    # Every row indexed as the row reader's record says (here before validation would divert the file).
    assert indexed == [(ward, receipt, day, route == "マイナポータル", withdrawn == "1")
                       for day, ward, route, withdrawn, _, _, _, receipt in expected]


@pytest.mark.e2e
def test_generated_files_mostly_take_the_columnar_path(tmp_path: Path) -> None:
    """The property above must not pass by handing everything on: count what it accepts."""
    accepted = 0

    @settings(max_examples=200, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(files())
    def probe(data: bytes) -> None:
        nonlocal accepted
        accepted += columnar_reader(data, tmp_path) is not None

    probe()
    assert accepted > 80, accepted


def test_irregular_files_go_to_the_row_reader(tmp_path: Path) -> None:
    header = "受付日,区コード,受付番号,届出経路\n"
    row = "2025/04/01,271021,A1,窓口\n"
    for text in ["\n" + header + row,                                   # header not on line 1
                 header + "2025/04/01,271021,A1,窓口\r\r\n",               # stray CR
                 header + "2025/04/01,271021,A1\x00,窓口\n",              # NUL
                 header + '2025/04/01,271021, "A1",窓口\n' + row,          # a space before a quoted field
                 header + '2025/04/01,271021,"A1" ,窓口\n' + row,          # a space after one
                 header + '2025/04/01,271021,"A1,窓口\n' + row * 3,       # a quote never closed
                 header + row + '"' + "x\n" * 16 + '",,,\n',                 # a quoted field too long
                 header.replace("受付番号", "受付番号,受付番号") + "2025/04/01,271021,A1,A2,窓口\n",  # repeated column
                 header.replace("区コード", '"区コード') + row]:          # a malformed header
        assert columnar.transcode(text.encode(), FileInfo("f.csv", 0, 0, ""), 1, tmp_path) is None, text
    assert columnar.transcode(b"\x81\x00" + header.encode("cp932"), FileInfo("f.csv", 0, 0, ""), 1, tmp_path) is None
    short = columnar.transcode((header + "2025/04/01,271021,A1\n").encode(), FileInfo("f.csv", 0, 0, ""), 1, tmp_path)
    assert short is not None
    assert columnar.stage(duckdb.connect(), [short], {"f.csv": 1}) == [short]   # too few cells: strict parse fails


def test_a_row_of_white_space_is_blank_to_both_readers(tmp_path: Path) -> None:
    """str.strip() takes U+3000 and tabs, DuckDB's trim() by default only spaces: both must skip the row."""
    text = "受付日,区コード,受付番号,届出経路,備考\n2025/04/01,271021,A1,窓口,\n\u3000,\t,,\u3000,\u2009\n"
    data = text.encode("utf-8")
    validated, _ = columnar_reader(data, tmp_path)
    expected, bad = row_reader(data)
    assert bad == [] and len(expected) == 1 and validated == expected
