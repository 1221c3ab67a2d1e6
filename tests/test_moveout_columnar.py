"""The columnar reader of contract 2 against the row reader, which defines what a file means: on every
file it accepts, it must yield the same rows, cell for cell, in the same order."""
from __future__ import annotations

from pathlib import Path

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors import moveout_columnar as columnar
from connectors.moveout_log import REQUIRED, _read_file
from connectors.records import Bad, FileInfo, Record

PROFILE = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                           HealthCheck.function_scoped_fixture])
COLUMNS = ["受付日", "区コード", "区名", "受付番号", "届出経路", "取消", "備考", "ｸｸｸ"]
CELLS = {
    "受付日": st.sampled_from(["2025/04/01", "2025-04-02", "R7.4.3", "令和7年4月4日", "２０２５/０４/０５", " 2025/04/06 ",
                             "2025/13/01", "", "昨日", "R1.5.1", "平成31年4月30日"]),
    "区コード": st.sampled_from(["271021", "27102", "２７１０２１", "271022", "999999", "", " 271039", "27103"]),
    "区名": st.sampled_from(["都島区", "", "福島区", "a,b", 'q"q']),
    "受付番号": st.sampled_from(["A1", "A2", "Ａ３", " A4", "", "B 5", "A1 ", "x,y", '"z"', "ｱ6", "A\n7", "C\r\n8"]),
    "届出経路": st.sampled_from(["マイナポータル", "窓口", "郵送", "ﾏｲﾅﾎﾟｰﾀﾙ", "", "電話", " 窓口"]),
    "取消": st.sampled_from(["0", "1", "", "１", "2", " 1"]),
    "備考": st.text(max_size=6),
    "ｸｸｸ": st.sampled_from(["", "x"]),
}


def _quote(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"' if any(c in cell for c in ',"\n\r') else cell


@st.composite
def files(draw: st.DrawFn) -> bytes:
    # Mostly the four required columns and some others in any order; sometimes one is missing.
    names = [c for c in COLUMNS if c in REQUIRED or draw(st.booleans())]
    if draw(st.integers(0, 9)) == 0:
        names.remove(draw(st.sampled_from(REQUIRED)))
    names = draw(st.permutations(names))
    rows = draw(st.lists(st.tuples(*(CELLS[n] for n in names)), max_size=12))
    ends = draw(st.sampled_from(["\n", "\r\n", "mixed"]))
    lines = [",".join(names)] + [",".join(_quote(c) for c in row) for row in rows]
    lines += draw(st.sampled_from([[], [""], ["", ""], [",,,"]]))
    text = "".join(line + ("\r\n" if ends == "\r\n" or (ends == "mixed" and i % 2) else "\n")
                   for i, line in enumerate(lines))
    encoding = draw(st.sampled_from(["cp932", "utf-8-sig", "utf-8"]))
    try:
        return text.encode(encoding)
    except UnicodeEncodeError:
        return text.encode("utf-8")


def row_reader(data: bytes) -> tuple[list[tuple], list[Bad]]:
    items = list(_read_file(data, FileInfo("f.csv", len(data), 0, "0" * 64)))
    records = [(r.fields["reception_date"], r.fields["ward_code"], r.fields["route"], r.fields["withdrawn"],
                r.fields["has_receipt"], r.fields["raw_date"], r.fields["raw_ward"], r.key[1])
               for r in items if isinstance(r, Record)]
    return records, [b for b in items if isinstance(b, Bad)]


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
                          f"({columnar.notification_rows_sql('マイナポータル')}) ORDER BY seq", {"excluded": []}).fetchall()
    return validated, indexed


@PROFILE
@given(files())
def test_columnar_reader_agrees_with_the_row_reader(tmp_path: Path, data: bytes) -> None:
    got = columnar_reader(data, tmp_path)
    if got is None:
        return
    validated, indexed = got
    expected, bad = row_reader(data)
    assert bad == []
    assert validated == expected
    # Every row indexed as the row reader's record says (here before validation would divert the file).
    assert indexed == [(ward, receipt, day, route == "マイナポータル", withdrawn == "1")
                       for day, ward, route, withdrawn, _, _, _, receipt in expected]


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
    for text in ["\n" + header + "2025/04/01,271021,A1,窓口\n",          # header not on line 1
                 header + "2025/04/01,271021,A1,窓口\r\r\n",               # stray CR
                 header + "2025/04/01,271021,A1\x00,窓口\n"]:             # NUL
        assert columnar.transcode(text.encode(), FileInfo("f.csv", 0, 0, ""), 1, tmp_path) is None
    assert columnar.transcode(b"\x81\x00" + header.encode("cp932"), FileInfo("f.csv", 0, 0, ""), 1, tmp_path) is None
    short = columnar.transcode((header + "2025/04/01,271021,A1\n").encode(), FileInfo("f.csv", 0, 0, ""), 1, tmp_path)
    assert short is not None
    assert columnar.stage(duckdb.connect(), [short], {"f.csv": 1}) == [short]   # too few cells: strict parse fails
