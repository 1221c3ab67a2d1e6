"""The demo's shipped sample data: the inbox of the file sources, the records of the two sample APIs and the
tables of the SQL source.

FY2024 and FY2025 as of DEMO_AS_OF, a fixed day: the data does not move with today's date, so the demo
reproduces the seed's FY2025 table on any day. The files were made once by tests/make_demo_samples.py from
the generators in tests/demo_data.py, tests/demo_data_more.py and tests/demo_data_ward.py;
tests/test_demo_samples.py checks that making them again gives the same files. They are packed in one xz
tarball (about 5 MB of CSV, JSON Lines, JSON and workbooks in 500-odd files, under 400 KB packed).
"""
from __future__ import annotations

import csv
import io
import json
import sqlite3
import tarfile
from contextlib import closing
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

DEMO_AS_OF = date(2026, 3, 31)
ARCHIVE = "samples.tar.xz"
INBOX = "inbox"
DB = "db"                             # tables of the demo's SQL source, as CSV: Samples.write_database
DATABASE = "db/samples.sqlite"
PROCEDURES = "api/procedures.json"    # contract 1: the online procedures catalog
NOCODE_APPS = "api/nocode_apps.json"  # contract 4: the no-code platform's app list


@dataclass(frozen=True)
class Samples:
    files: dict[str, bytes]  # path inside the archive -> content

    def write_inbox(self, root: Path) -> None:
        """Writes root/inbox/... as shipped (the same bytes on every run, so a second run is no new delivery)."""
        for name, data in self.files.items():
            parts = PurePosixPath(name).parts
            if parts[0] == INBOX and ".." not in parts:
                path = root.joinpath(*parts)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)

    def write_database(self, root: Path) -> Path:
        """Writes root/DATABASE, a SQLite file with one table per shipped db/<table>.csv (every column text, as
        an export holds it), made anew each run from the same rows. The demo's declared SQL source reads it."""
        path = root / DATABASE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        with closing(sqlite3.connect(path)) as conn, conn:
            for name, data in self.files.items():
                folder, _, file = name.partition("/")
                if folder != DB or not file.endswith(".csv"):
                    continue
                header, *rows = csv.reader(io.StringIO(data.decode("utf-8")))
                table = file.removesuffix(".csv")
                columns = ", ".join(f'"{column}" TEXT' for column in header)
                conn.execute(f'CREATE TABLE "{table}" ({columns})')
                marks = ", ".join("?" * len(header))
                conn.executemany(f'INSERT INTO "{table}" VALUES ({marks})', rows)
        return path

    def records(self, name: str) -> list[dict[str, Any]]:
        """The records a sample API serves, in list order: PROCEDURES or NOCODE_APPS."""
        return json.loads(self.files[name])


def load_samples() -> Samples:
    files = {}
    with resources.files(__package__).joinpath(ARCHIVE).open("rb") as raw, \
            tarfile.open(fileobj=raw, mode="r:xz", encoding="utf-8") as archive:
        for member in archive.getmembers():
            content = archive.extractfile(member) if member.isfile() else None
            if content is not None:
                files[member.name] = content.read()
    return Samples(files)
