"""Connectors on hand-made files and a real loopback API: what is repaired, what is quarantined."""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from connectors.errors import SourceConfigError, SourceFormatError
from connectors.http import HttpClient
from connectors.moveout_log import read_moveout_log
from connectors.online_procedures import read_online_procedures
from connectors.records import Bad, Lineage, Record
from connectors.speech_usage import read_speech_usage
from jisseki.demo.sample_api import Reply, SampleApi

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
