"""Nothing personal at rest or in output, whatever arrives: personal values are seeded into every kind of
malformed row of every source, one `jisseki run` (a fresh process with its own Prefect database and temporary
folder) reads them, and every file the run wrote and everything it printed or sent is scanned for them.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jisseki.config import to_toml
from tests.sample_api import SampleApi
from tests.support import Receiver

TOKEN = "scan-Tok3n-never-stored"
AS_OF = "2025-04-30"
NAMES = ("山田花子", "佐藤一郎")
USERS = tuple(f"usr-{n:06d}" for n in range(445560, 445600))
HEADER = "受付日,区コード,区名,受付番号,届出経路,取消"


def receipt(n: int) -> str:
    return f"R7-{5550000 + n:07d}"


def sessions(n: int) -> str:
    return f"S-20250402-{7000 + n:04d}"


# Every personal value the inbox holds: receipts of good and bad rows, session ids, user ids, names.
PERSONAL = ({receipt(n) for n in range(400)} | {sessions(n) for n in range(200)} | set(USERS) | set(NAMES)
            | {TOKEN})


def moveout_files(folder: Path) -> None:
    folder.mkdir()
    good = [f"2025/04/{1 + n % 28:02d},271021,都島区,{receipt(n)},{'マイナポータル' if n % 3 else '窓口'},0"
            for n in range(100, 300)]
    hostile = [
        f'2025/04/02,271021,都島区,"{receipt(1)},窓口,0',                      # a stray quote
        f"2025/04/02,271021,都島区,都島区,{receipt(2)},窓口,0",               # shifted: the receipt in 届出経路
        f"2025/04/02,271021,都島区,{receipt(3)},{receipt(4)},0",             # a receipt as the route
        f"2025/04/02,271021,都島区,{receipt(5)},窓\x00口,0",                  # a NUL in a cell
        f"{receipt(6)},271021,都島区,{receipt(7)},窓口,0",                   # a receipt as the date
        f"2025/04/02,{receipt(8)},都島区,{receipt(9)},窓口,0",               # a receipt as the ward
        f"2025/04/02,271021,都島区,{receipt(10)},窓口,{receipt(11)}",        # a receipt as 取消
        f'2025/04/02,271021,都島区, "{receipt(12)}",窓口,0',                 # a space before a quote
        f"{NAMES[0]},271021,都島区,{receipt(13)},窓口,0",                    # a name as the date
        f"2025/04/02,271021,都島区,{receipt(14)},{NAMES[1]},0",              # a name as the route
        f'2025/04/02,271021,都島区,{receipt(15)},"窓口"x",0',                # text after a closing quote
    ]
    lines = [HEADER, *good[:100], *hostile, *good[100:]]
    data = ("\r\n".join(lines) + "\r\n").encode("cp932")
    data += f"2025/04/03,271021,都島区,{receipt(16)},".encode() + b"\xff\xfe\r\n"   # undecodable
    (folder / "2025-04.csv").write_bytes(data)
    # Files whose structure cannot be trusted: a repeated column, a missing column.
    (folder / "repeated.csv").write_bytes(("受付日,区コード,区名,受付番号,受付番号,届出経路,取消\r\n"
                                           f"2025/04/05,271021,都島区,{receipt(17)},{receipt(18)},窓口,0\r\n")
                                          .encode("cp932"))
    (folder / "missing.csv").write_bytes(("受付日,区コード,区名,受付番号\r\n"
                                          f"2025/04/05,271021,都島区,{receipt(19)}\r\n").encode("cp932"))


def speech_files(folder: Path) -> None:
    folder.mkdir()

    def line(n: int, **changes: object) -> str:
        session = {"session_id": sessions(n), "device_id": "SR-0012", "department_code": "D0412",
                   "started_at": "2025-04-02T10:00:00+09:00", "ended_at": "2025-04-02T11:00:00+09:00",
                   "loan_type": "annual"}
        session.update(changes)
        return json.dumps({k: v for k, v in session.items() if v is not None}, ensure_ascii=False)

    lines = [line(n) for n in range(100, 150)] + [
        f'{{"session_id": "{sessions(1)}", "device_id": ',                    # not JSON
        line(2, started_at=NAMES[0]),                                         # a name as a timestamp
        line(3, ended_at=sessions(4)),
        line(5, loan_type=USERS[0]),                                          # a user id as the loan type
        line(6, device_id=None),                                              # a missing field
        line(7, ended_at="2025-04-02T09:00:00+09:00"),                        # ended before started
        line(8, ended_at="2025-04-04T11:00:00+09:00"),                        # longer than a day
        json.dumps([sessions(9), NAMES[1]], ensure_ascii=False),              # JSON, not an object
    ]
    data = ("\n".join(lines) + "\n").encode()
    data += f'{{"session_id": "{sessions(10)}", "x": "'.encode() + b'\xff"}\n'    # not UTF-8
    (folder / "speech_202504.jsonl").write_bytes(data)


def dataviz_files(root: Path) -> None:
    folder = root / "dataviz"
    folder.mkdir()
    good = [f"2025-04-{1 + n % 28:02d}T10:00:00+09:00,{USERS[10 + n % 20]},D{1 + n % 3:04d},C-{n}" for n in range(60)]
    hostile = [
        f'2025-04-02T10:00:00+09:00,"{USERS[1]},D0001,C-1',                  # a stray quote
        f"2025-04-02T10:00:00+09:00,extra,{USERS[2]},D0001,C-1",             # shifted: a user id as the code
        f"{USERS[3]},{USERS[4]},D0001,C-1",                                  # a user id as the time
        f"2025-04-02T10:00:00+09:00,{USERS[5]},{NAMES[0]},C-1",              # a name as the code
        f"2025-04-02T10:00:00+09:00,{USERS[6]},D0001\x00,C-1",               # a NUL
    ]
    text = "accessed_at,user_id,department_code,content_id\n" + "\n".join([*good[:30], *hostile, *good[30:]]) + "\n"
    (folder / "access_202504.csv").write_text(text, "utf-8")
    (folder / "repeated.csv").write_text("accessed_at,user_id,department_code,department_code,content_id\n"
                                         f"2025-04-03T10:00:00+09:00,{USERS[7]},D0001,D0002,C-2\n", "utf-8")
    (root / "departments.csv").write_text(
        "department_code,department_name,valid_from,valid_to\n"
        "D0001,デジタル統括室,2020-04-01,\nD0002,総務局,2020-04-01,\nD0003,財政局,2020-04-01,\n"
        f"{NAMES[1]},{NAMES[0]},{USERS[8]},\n", "utf-8")


def manual_files(folder: Path) -> None:
    from openpyxl import Workbook

    folder.mkdir()
    book = Workbook()
    sheet = book.active
    sheet.title = "実績"
    sheet.append(["KPI ID", "年度", "実績値", "根拠", "入力者", "入力日"])
    sheet.append(["external_specialists", "2025", "60名", "委嘱名簿", NAMES[0], "2026-04-10"])
    sheet.append(["infra_training_participants", "2025", NAMES[1], "研修記録", NAMES[0], "2026-04-10"])
    sheet.append([NAMES[0], "2025", "3", "記録", "デジタル統括室", "2026-04-10"])
    sheet.append(["ict_training_participants", NAMES[1], "3", "記録", "デジタル統括室", "2026-04-10"])
    sheet.append(["security_strategy_revised", "2025", "済", "記録", "デジタル統括室", NAMES[0]])
    sheet.append(["external_specialists", "2025", "=1+1", "記録", "デジタル統括室", "2026-04-11"])  # no cached value
    sheet.append(["external_specialists", "2025", "1E+309", "記録", USERS[9], "2026-04-12"])
    other = book.create_sheet("メモ")
    other.append(["KPI ID", "年度", "実績値", "根拠", "入力者", "入力日"])
    other.append(["external_specialists", "2025", NAMES[0], "記録", NAMES[1], "2026-04-10"])
    book.save(folder / "実績入力.xlsx")
    # Not a workbook at all, with a name in it.
    (folder / "broken.xlsx").write_bytes(f"PK\x03\x04{NAMES[0]}{USERS[9]}".encode())


def procedures() -> list[dict]:
    base = {"title": "手続", "department_code": "D0412", "online_since": "2021-06-01", "retired_on": None,
            "status": "active", "updated_at": "2025-04-01T09:00:00+09:00"}
    good = [{**base, "id": f"PROC-{n:06d}"} for n in range(50)]
    bad = [{**base, "id": "PROC-900001", "status": NAMES[0]},
           {**base, "id": "PROC-900002", "online_since": USERS[11]},
           {**base, "id": "PROC-900003", "retired_on": receipt(20)},
           {**base, "id": "PROC-900004", "updated_at": NAMES[1]}]
    return good + bad


def apps() -> list[dict]:
    base = {"name": "アプリ", "status": "in_operation", "operation_started_on": "2025-04-02", "retired_on": None}
    good = [{**base, "app_id": str(n), "business_id": f"OPS-{n:04d}"} for n in range(20)]
    bad = [{**base, "app_id": "901", "business_id": "OPS-0901", "status": NAMES[1]},
           {**base, "app_id": "902", "business_id": "OPS-0902", "operation_started_on": receipt(21)},
           {**base, "app_id": "903", "business_id": "OPS-0903", "retired_on": USERS[12]}]
    return good + bad


def forms(value: str) -> set[bytes]:
    """How a value can appear in a file: UTF-8, CP932, JSON-escaped and UTF-16 (SQLite may store either)."""
    out = {value.encode(), json.dumps(value)[1:-1].encode(), value.encode("utf-16-le")}
    try:
        out.add(value.encode("cp932"))
    except UnicodeEncodeError:
        pass
    return out


def leaks(blob: bytes, values: set[str]) -> list[str]:
    return sorted(v for v in values if any(form in blob for form in forms(v)))


def files_under(folder: Path) -> dict[str, bytes]:
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.e2e
def test_no_personal_value_of_any_malformed_row_is_written_anywhere(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    moveout_files(inbox / "moveout")
    speech_files(inbox / "speech")
    dataviz_files(inbox)
    manual_files(inbox / "manual")
    temp, home = tmp_path / "tmp", tmp_path / "prefect-home"
    temp.mkdir()
    receiver = Receiver()
    try:
        with SampleApi(procedures(), TOKEN) as catalog_api, SampleApi.nocode(apps(), TOKEN) as nocode_api:
            lenient = {"max_bad_ratio": 1.0}
            config = inbox / "jisseki.toml"
            config.write_text(to_toml({
                "warehouse": {"url": f"sqlite:///{inbox / 'warehouse.db'}"},
                "alerts": {"urls": [receiver.url()]},
                "sources.online_procedures": {"base_url": catalog_api.base_url, "token_env": "SCAN_TOKEN",
                                              "max_retries": 1, **lenient},
                "sources.nocode_apps": {"base_url": nocode_api.base_url, "token_env": "SCAN_TOKEN",
                                        "max_retries": 1, **lenient},
                "sources.moveout_log": {"path": "moveout", **lenient},
                "sources.speech_usage": {"path": "speech", **lenient},
                "sources.dataviz_access": {"path": "dataviz", "departments": "departments.csv", **lenient},
                "sources.manual_entries": {"path": "manual"},
            }), "utf-8")
            env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_API")}
            env.update(SCAN_TOKEN=TOKEN, TMPDIR=str(temp), PREFECT_HOME=str(home), PYTHONUNBUFFERED="1",
                       PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="300")   # a busy machine
            outputs = []
            for args in (["run", "--as-of", AS_OF], ["status", "--format", "json"], ["status"],
                         ["report", "--fy", "2025", "--out", str(tmp_path / "report")]):
                done = subprocess.run([sys.executable, "-m", "jisseki.cli", *args, "--config", str(config)],
                                      capture_output=True, timeout=900, env=env, cwd=tmp_path)
                outputs.append((args[0], done))
    finally:
        receiver.close()
    run = outputs[0][1]
    assert run.returncode in (0, 1), run.stderr.decode(errors="replace")
    for name, done in outputs[1:]:
        assert done.returncode == 0, (name, done.stderr.decode(errors="replace"), run.stdout.decode(errors="replace"),
                                      run.stderr.decode(errors="replace"))

    written = {
        "warehouse": {p.name: p.read_bytes() for p in inbox.glob("warehouse.db*")},
        "gx-data": files_under(inbox / "gx-data"),
        "state": files_under(inbox / "state"),
        "temporary folder": files_under(temp),
        "Prefect": files_under(home),
        "report": files_under(tmp_path / "report"),
        "keys": files_under(Path(os.environ["XDG_CONFIG_HOME"])),
    }
    assert written["gx-data"] and written["Prefect"] and written["report"], "the scan must see what the run wrote"
    found = {}
    for place, files in written.items():
        for name, blob in files.items():
            if hit := leaks(blob, PERSONAL):
                found[f"{place}/{name}"] = hit[:5]
    for name, done in outputs:
        for stream in ("stdout", "stderr"):
            if hit := leaks(getattr(done, stream), PERSONAL):
                found[f"{name} {stream}"] = hit[:5]
    if hit := leaks(json.dumps(receiver.messages, ensure_ascii=False).encode(), PERSONAL):
        found["alerts"] = hit[:5]
    assert not found, "\n".join(f"{where}: {values}" for where, values in sorted(found.items()))
    # The temporary folder holds nothing of the run after it.
    assert written["temporary folder"] == {}
