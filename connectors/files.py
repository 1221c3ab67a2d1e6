"""Reading a folder of delivered files: stable order, content hashes, robust decoding."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from connectors.errors import SourceConfigError
from connectors.records import FileInfo, digest

BOM = b"\xef\xbb\xbf"


def delivered_files(folder: Path, suffix: str) -> list[Path]:
    if not folder.is_dir():
        raise SourceConfigError(f"フォルダがありません: {folder}",
                                "設定の path を確認するか、ファイルを置くフォルダを作成してください")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(suffix))


def read_delivery(path: Path) -> tuple[bytes, FileInfo]:
    data = path.read_bytes()
    stat = path.stat()
    return data, FileInfo(name=path.name, size=len(data), mtime_ns=stat.st_mtime_ns, sha256=digest(data),
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
