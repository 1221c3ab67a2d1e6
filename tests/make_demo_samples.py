"""Makes jisseki/demo/samples.tar.xz, the sample data `jisseki demo` ships, from the generators in tests/.

    .venv/bin/python -m tests.make_demo_samples

Run it after changing tests/demo_data.py, tests/demo_data_more.py or tests/demo_data_ward.py
(tests/test_demo_samples.py fails until then). The tarball is the same bytes each time on one machine (fixed names, order, times and owners); across
xz builds only its packing may differ, so the test compares the files inside it.
"""
from __future__ import annotations

import io
import json
import tarfile
import tempfile
from pathlib import Path

from jisseki.demo.samples import ARCHIVE, NOCODE_APPS, PROCEDURES
from tests.demo_data import write_demo_inbox
from tests.demo_data_more import demo_nocode_apps, write_demo_more
from tests.demo_data_ward import write_demo_ward

OUT = Path(__file__).resolve().parent.parent / "jisseki" / "demo" / ARCHIVE


def records_json(records: list[dict]) -> bytes:
    """One record a line, so the list stays readable once unpacked."""
    lines = ",\n".join(json.dumps(record, ensure_ascii=False) for record in records)
    return f"[\n{lines}\n]\n".encode("utf-8")


def sample_files() -> dict[str, bytes]:
    """Every file of the samples by its path in the tarball, in path order."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        procedures = write_demo_inbox(root)
        write_demo_more(root)
        write_demo_ward(root)
        files = {path.relative_to(root).as_posix(): path.read_bytes()
                 for path in root.rglob("*") if path.is_file()}
    files[PROCEDURES] = records_json(procedures)
    files[NOCODE_APPS] = records_json(demo_nocode_apps())
    return dict(sorted(files.items()))


def pack(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:xz", preset=9, format=tarfile.PAX_FORMAT, encoding="utf-8") as archive:
        for name, data in files.items():
            member = tarfile.TarInfo(name)
            member.size, member.mode, member.mtime = len(data), 0o644, 0
            archive.addfile(member, io.BytesIO(data))
    return out.getvalue()


def main() -> None:
    files = sample_files()
    OUT.write_bytes(pack(files))
    print(f"{OUT}: {len(files)} files, {sum(map(len, files.values())):,} bytes, {OUT.stat().st_size:,} packed")


if __name__ == "__main__":
    main()
