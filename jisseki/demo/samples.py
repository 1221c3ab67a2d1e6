"""The demo's shipped sample data: the inbox of the four file sources and the records of the two sample APIs.

FY2024 and FY2025 as of DEMO_AS_OF, a fixed day: the data does not move with today's date, so the demo
reproduces the seed's FY2025 table on any day. The files were made once by tests/make_demo_samples.py from
the generators in tests/demo_data.py and tests/demo_data_more.py; tests/test_demo_samples.py checks that
making them again gives the same files. They are packed in one xz tarball (about 5 MB of CSV, JSON Lines and
JSON in 450-odd files, a third of a megabyte packed).
"""
from __future__ import annotations

import json
import tarfile
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

DEMO_AS_OF = date(2026, 3, 31)
ARCHIVE = "samples.tar.xz"
INBOX = "inbox"
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
