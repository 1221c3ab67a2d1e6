"""Connectors on hand-made files and a real loopback API: what is repaired, what is quarantined."""
from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import pytest

from connectors.errors import SourceConfigError, SourceFormatError
from connectors.http import HttpClient
from connectors.online_procedures import read_online_procedures
from connectors.speech_usage import read_speech_usage
from jisseki.core.records import Bad, FileInfo, Lineage, Record, accounted
from jisseki.moveout.log import read_moveout_log
from tests.sample_api import Reply, SampleApi

HEADER = "受付日,区コード,区名,受付番号,届出経路,取消"


def write(folder: Path, name: str, text: str, encoding: str = "cp932") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(text.encode(encoding))


def split(items) -> tuple[list[Record], list[Bad]]:
    items = list(items)
    return [i for i in items if isinstance(i, Record)], [i for i in items if isinstance(i, Bad)]


def test_moveout_repairs_digits_eras_and_ward_codes_and_drops_extra_columns(tmp_path: Path) -> None:
    write(tmp_path, "a.csv", "氏名,取消,届出経路,受付番号,区名,区コード,受付日\r\n"
          "大阪 太郎,,マイナポータル,A-1,都島区,27102,２０２５/０４/０１\r\n"
          "大阪 花子,０,窓口,A-2,福島区,271039,R7.4.2\r\n"
          "\r\n\r\n")
    lineage = Lineage()
    records, bad = split(read_moveout_log(tmp_path, lineage))
    assert bad == []
    assert [(r.fields["reception_date"], r.fields["ward_code"], r.fields["route"], r.fields["withdrawn"])
            for r in records] == [(date(2025, 4, 1), "271021", "マイナポータル", ""),
                                  (date(2025, 4, 2), "271039", "窓口", "0")]
    assert all("大阪" not in json.dumps(r.fields, default=str, ensure_ascii=False) for r in records)
    assert lineage.files[0].rows == 2 and lineage.files[0].encoding == "cp932" and len(lineage.files[0].sha256) == 64


def test_moveout_reads_utf8_with_bom_and_lf(tmp_path: Path) -> None:
    write(tmp_path, "b.csv", f"{HEADER}\n令和7年4月1日,271021,都島区,B-1,郵送,1\n", "utf-8-sig")
    records, bad = split(read_moveout_log(tmp_path, Lineage()))
    assert bad == [] and records[0].fields["reception_date"] == date(2025, 4, 1)
    assert records[0].fields["withdrawn"] == "1"


def test_moveout_quarantines_a_file_without_the_contract_columns_and_undecodable_lines(tmp_path: Path) -> None:
    write(tmp_path, "c.csv", "date,ward\r\n2025/04/01,271021\r\n2025/04/02,271021\r\n")
    (tmp_path / "d.csv").write_bytes(f"{HEADER}\r\n".encode("cp932") + b"2025/04/01,271021,\x82,X-1,\x81\r\n"
                                     + "2025/04/01,271021,都島区,X-2,窓口,\r\n".encode("cp932"))
    records, bad = split(read_moveout_log(tmp_path, Lineage()))
    assert [(b.location, b.item, b.code, b.rows) for b in bad] == [
        ("c.csv", "header", "missing_columns", 2), ("d.csv", "2", "undecodable", 1)]
    assert [r.item for r in records] == ["3"]


def test_moveout_keeps_quoted_newlines_inside_a_row(tmp_path: Path) -> None:
    write(tmp_path, "e.csv", f"{HEADER},備考\r\n2025/04/01,271021,都島区,E-1,窓口,,\"二行\r\nの備考\"\r\n"
          "2025/04/02,271021,都島区,E-2,窓口,,\r\n")
    records, bad = split(read_moveout_log(tmp_path, Lineage()))
    assert bad == [] and [r.item for r in records] == ["2", "4"]


def test_moveout_missing_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(SourceConfigError, match="フォルダ"):
        list(read_moveout_log(tmp_path / "nope", Lineage()))


def test_speech_lines(tmp_path: Path) -> None:
    good = {"session_id": "S-1", "device_id": "SR-1", "department_code": "D1",
            "started_at": "2025-04-30T23:00:00+09:00", "ended_at": "2025-05-01T01:00:00+09:00", "loan_type": "annual"}
    lines = [json.dumps(good), "", "{not json", "[1, 2]", json.dumps({**good, "device_id": None})]
    write(tmp_path, "s.jsonl", "\n".join(lines) + "\n", "utf-8")
    records, bad = split(read_speech_usage(tmp_path, Lineage()))
    assert [b.code for b in bad] == ["not_json", "not_json"]
    assert records[0].fields["duration_hours"] == 2.0 and records[1].fields["device_id"] is None


def procedures(n: int) -> list[dict]:
    return [{"id": f"PROC-{i:06d}", "title": "t", "department_code": "D1", "online_since": "2021-06-01",
             "retired_on": None, "status": "active", "updated_at": "2025-04-01T09:00:00+09:00"} for i in range(n)]


def crawl(api: SampleApi, per_page: int = 100) -> tuple[list[Record], list[Bad], Lineage]:
    lineage = Lineage()
    client = HttpClient(api.base_url, headers={"Authorization": "Bearer k"}, sleep=lambda s: None)
    records, bad = split(read_online_procedures(client, lineage, per_page=per_page))
    return records, bad, lineage


def test_procedures_follow_next_page_to_the_end(tmp_path: Path) -> None:
    with SampleApi(procedures(250), "k") as api:
        records, bad, lineage = crawl(api)
    assert len(records) == 250 and bad == []
    assert [r["query"]["page"] for r in api.requests] == ["1", "2", "3"]
    assert lineage.crawl["pages"] == 3 and lineage.crawl["records"] == 250


def test_procedures_empty_catalog_fails_the_source() -> None:
    with SampleApi([], "k") as api, pytest.raises(SourceFormatError, match="空"):
        crawl(api)


@pytest.mark.parametrize("body", [b'{"items": []}', b'{"data": {}, "meta": {}}', b'[]',
                                  b'{"data": [], "meta": {"next_page": "2"}}'])
def test_procedures_body_not_in_the_contract_fails_clearly(body: bytes) -> None:
    with SampleApi(procedures(3), "k") as api, pytest.raises(SourceFormatError):
        api.script.append(Reply(200, body))
        crawl(api)


def test_procedures_a_next_page_that_loops_is_an_error() -> None:
    looping = json.dumps({"data": procedures(1), "meta": {"next_page": 1}}).encode()
    with SampleApi(procedures(3), "k") as api, pytest.raises(SourceFormatError, match="next_page"):
        api.script.extend([Reply(200, looping)] * 3)
        crawl(api)


# ---------------------------------------------------------------- strict reading of every row

ROWS = [f"2025/04/{1 + n % 28:02d},271021,都島区,B-{n:05d},{'マイナポータル' if n % 3 else '窓口'},\r\n"
        for n in range(72)]


def counted(items, lineage: Lineage) -> tuple[list[Record], list[Bad]]:
    """The records and quarantine of a read, checked to account for every data row of each file."""
    records, bad = split(items)
    assert len(records) + sum(b.rows for b in bad) == sum(f.rows for f in lineage.files)
    return records, bad


@pytest.mark.parametrize("broken, code", [
    ('2025/04/05,271021,"都島区,B-90000,窓口,', "malformed_csv"),      # a stray quote, never closed
    ('2025/04/05,271021,都島区, "B-90000",窓口,', "malformed_csv"),     # a space before a quoted field
    ('2025/04/05,271021,都島区,"B-90000" ,窓口,', "malformed_csv"),     # a space after one
    ('2025/04/05,271021,都島区,B-9"0000,窓口,', "malformed_csv"),       # a quote inside an unquoted field
    ('2025/04/05,271021,都島区,"B-90000"0,窓口,', "malformed_csv"),     # text after the closing quote
    ("2025/04/05,271021,都島区,B-9\r0000,窓口,", "malformed_csv"),      # a CR outside quotes
    ('2025/04/05,271021,都島区,B-90000\x00,窓口,', "bad_text"),         # a NUL, which PostgreSQL refuses
])
def test_moveout_a_broken_row_is_quarantined_at_its_line_and_every_other_row_counts(tmp_path: Path, broken: str,
                                                                                     code: str) -> None:
    write(tmp_path, "a.csv", HEADER + "\r\n" + "".join(ROWS[:30]) + broken + "\r\n" + "".join(ROWS[30:]))
    lineage = Lineage()
    records, bad = counted(read_moveout_log(tmp_path, lineage), lineage)
    assert [(b.location, b.item, b.code, b.rows, b.value) for b in bad] == [("a.csv", "32", code, 1, "")]
    assert "B-90000" not in bad[0].reason
    assert [r.key[1] for r in records] == [f"B-{n:05d}" for n in range(72)]
    assert [r.item for r in records][29:31] == ["31", "33"] and lineage.files[0].rows == 73


def test_moveout_a_quoted_field_may_span_a_few_lines_but_not_the_rest_of_the_file(tmp_path: Path) -> None:
    def note(lines: int) -> str:
        return "\r\n".join(f"備考{i}" for i in range(lines))

    # 16 lines are as many as a quoted field may take; 17 are one too many.
    write(tmp_path, "a.csv", f"{HEADER},備考\r\n" + ROWS[0].rstrip() + ',"三\r\n行の\r\n""備考"""\r\n'
          + ROWS[1].rstrip() + f',"{note(16)}"\r\n' + ROWS[2].rstrip() + f',"{note(17)}"\r\n' + "".join(ROWS[3:]))
    lineage = Lineage()
    records, bad = counted(read_moveout_log(tmp_path, lineage), lineage)
    assert [r.item for r in records[:3]] == ["2", "5", "22"]
    # The field that is too long is quarantined by its first line, and so is its last, whose quote is never
    # closed; the lines between are read as rows of their own (for validation to quarantine).
    assert [(b.item, b.code) for b in bad] == [("21", "malformed_csv"), ("37", "malformed_csv")]
    assert [r.key[1] for r in records if r.fields["reception_date"]] == [f"B-{n:05d}" for n in (0, 1, *range(3, 72))]
    assert len(records) == 2 + 15 + 69 and lineage.files[0].rows == len(records) + 2


@pytest.mark.parametrize("first, again", [("受付番号", "受付番号"), ("区コード", "区コード\u3000"), ("取消", "取消")])
def test_moveout_a_column_named_twice_rejects_the_file_with_all_its_rows(tmp_path: Path, first: str,
                                                                         again: str) -> None:
    write(tmp_path, "a.csv", HEADER + "\r\n" + "".join(ROWS[:5]))
    rows = "".join(f"{r.rstrip()},X-{i}\r\n" for i, r in enumerate(ROWS[:40]))
    write(tmp_path, "b.csv", HEADER + f",{again}\r\n" + rows + "\r\n,,,,,,,\r\n")
    lineage = Lineage()
    records, bad = counted(read_moveout_log(tmp_path, lineage), lineage)
    assert [(b.location, b.item, b.code, b.rows) for b in bad] == [("b.csv", "header", "duplicate_columns", 40)]
    assert first in bad[0].reason and len(records) == 5


def test_moveout_a_malformed_header_rejects_the_file(tmp_path: Path) -> None:
    write(tmp_path, "a.csv", HEADER.replace("区コード", '"区コード') + "\r\n" + "".join(ROWS[:7]) + "\r\n")
    lineage = Lineage()
    records, bad = counted(read_moveout_log(tmp_path, lineage), lineage)
    assert records == [] and [(b.item, b.code, b.rows) for b in bad] == [("header", "malformed_header", 7)]


def test_moveout_data_rows_of_a_rejected_file_are_its_non_blank_records(tmp_path: Path) -> None:
    # A quoted line break joins two lines into one row; blank and white-space lines are no rows.
    write(tmp_path, "a.csv", '受付日,区コード\r\n\r\n2025/04/01,"27\r\n1021"\r\n\u3000\r\n,,\r\n"x\r\n'
          "2025/04/02,271021\r\n", "utf-8")
    lineage = Lineage()
    _, bad = counted(read_moveout_log(tmp_path, lineage), lineage)
    assert [(b.code, b.rows) for b in bad] == [("missing_columns", 3)] and lineage.files[0].rows == 3


def test_moveout_file_names_that_are_not_utf8_are_reported_by_their_bytes(tmp_path: Path) -> None:
    raw = "転出".encode("cp932") + b"\xff.csv"
    (tmp_path / os.fsdecode(raw)).write_bytes((HEADER + "\r\n" + ROWS[0] + "x,271021,都島区,B-1,窓口,\r\n")
                                              .encode("cp932"))
    lineage = Lineage()
    records, bad = counted(read_moveout_log(tmp_path, lineage), lineage)
    assert lineage.files[0].name == r"\x93]\x8fo\xff.csv" == records[0].location
    assert json.dumps(lineage.detail(), ensure_ascii=False).encode("utf-8")
    with pytest.raises(SourceConfigError, match=r"\\xff") as error:
        list(read_moveout_log(tmp_path / os.fsdecode(b"in\xffbox"), Lineage()))
    assert str(error.value).encode("utf-8")


def test_speech_a_non_utf8_file_name_is_reported_escaped(tmp_path: Path) -> None:
    good = json.dumps(SESSION)
    (tmp_path / os.fsdecode(b"\xffb.jsonl")).write_bytes(f"{good}\n{{bad\n".encode())
    (tmp_path / "a\\b.jsonl").write_bytes(f"{good}\n".encode())
    lineage = Lineage()
    records, bad = counted(read_speech_usage(tmp_path, lineage), lineage)
    # In the order of the reported names, which the warehouse and the notification index sort by too.
    assert [f.name for f in lineage.files] == ["\\xffb.jsonl", "a\\\\b.jsonl"]
    assert [(b.location, b.item, b.code) for b in bad] == [("\\xffb.jsonl", "2", "not_json")]
    assert all(r.location.encode("utf-8") for r in records)


SESSION = {"session_id": "S-1", "device_id": "SR-1", "department_code": "D1",
           "started_at": "2025-04-30T23:00:00+09:00", "ended_at": "2025-05-01T01:00:00+09:00", "loan_type": "annual"}


@pytest.mark.parametrize("line, code", [
    ('{"session_id": "S-9", "session_id": "S-8", "device_id": "SR-1"}', "duplicate_key"),
    ('{"S-9": 1, "device_id": "SR-1", "S-9": 2}', "duplicate_key"),   # a key not of the contract is not named
    ('{"session_id": "S-\\u0000", "device_id": "SR-1"}', "bad_text"),
    ('{"session_id": "S-9", "department_code": "D\\ud800"}', "bad_text"),
    ('{"session_id": "S-9", "started_at": "2025-04-01T00:00:00\\u0000"}', "bad_text"),
    ("[" * 100_000 + "]" * 100_000, "not_json"),
    ('{"session_id": ' + "9" * 5000 + "}", "not_json"),
    ('{"session_id": "S-9"\x00}', "not_json"),
])
def test_speech_a_line_that_cannot_be_recorded_is_quarantined_and_the_rest_counts(tmp_path: Path, line: str,
                                                                                  code: str) -> None:
    lines = [json.dumps({**SESSION, "session_id": f"S-{i}"}) for i in range(5)]
    write(tmp_path, "s.jsonl", "\n".join(lines[:2] + ["", "\u3000", line] + lines[2:]) + "\n", "utf-8")
    lineage = Lineage()
    records, bad = counted(read_speech_usage(tmp_path, lineage), lineage)
    assert [(b.item, b.code, b.rows) for b in bad] == [("5", code, 1)]
    assert "S-9" not in bad[0].reason and "S-8" not in bad[0].reason
    assert [r.key for r in records] == [f"S-{i}" for i in range(5)] and lineage.files[0].rows == 6


def test_a_reader_that_loses_a_row_is_caught_by_its_file_count() -> None:
    info = FileInfo("f.csv", 0, 0, "0" * 64)
    rows = [Record({}, None, "f.csv", str(n), "") for n in range(3)]
    items = list(accounted(info, rows[:2], 3))
    assert [(i.item, i.code, i.rows) for i in items if isinstance(i, Bad)] == [("file", "unaccounted_rows", 1)]
    assert info.rows == 3
    with pytest.raises(RuntimeError, match="f.csv"):
        list(accounted(info, rows + [Bad("f.csv", "9", "x", "x", rows=2)], 4))
