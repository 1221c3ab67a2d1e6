"""Opening a delivered .xlsx that may be broken or hostile, so that it can only cost itself.

Before openpyxl opens a workbook, its zip directory is checked against the caps below; openpyxl parses its
XML through defusedxml (a dependency), which refuses entity declarations; rows and cells read are budgeted
over all its sheets. What a workbook that fails any of this is quarantined as: `Unfit` (a cap, or a reader's
own reason) or one of `UNREADABLE`, described by `problem`.
"""
from __future__ import annotations

import hashlib
import os
import zipfile
import zlib
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any
from xml.parsers.expat import ExpatError

from defusedxml import DefusedXmlException

from connectors.files import file_name
from jisseki.core.records import FileInfo

# The caps. A department's workbook is tens of rows in tens of kilobytes; these are far above that and far
# below what would hurt the nightly run. A workbook's XML compresses about 10:1; a bomb 1000:1.
MAX_UNCOMPRESSED = 50 * 2**20
MAX_RATIO, RATIO_FROM = 100, 2**20   # the ratio is checked for parts of more than a megabyte
MAX_ROWS, MAX_CELLS = 100_000, 1_000_000

# What reading one hostile workbook may raise, from zipfile, zlib, the XML parser, defusedxml
# (DefusedXmlException is a ValueError), lxml (its errors are SyntaxErrors) and openpyxl's own parsing.
UNREADABLE = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, SyntaxError, ExpatError,
              ValueError, KeyError, IndexError, TypeError, AttributeError)
ERROR_VALUES = {"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A"}


class Unfit(Exception):
    """A workbook read no further: quarantined whole, as one Bad."""

    def __init__(self, code: str, reason: str, rows: int = 1, item: str = "file") -> None:
        super().__init__(reason)
        self.code, self.reason, self.rows, self.item = code, reason, rows, item


def too_large(path: Path) -> FileInfo | None:
    """The file's FileInfo when it is over the cap on disk (compressed is never larger than expanded, bar a
    few bytes: over the cap on disk, it is over the cap expanded), hashed as a stream, not read whole."""
    if path.stat().st_size <= MAX_UNCOMPRESSED:
        return None
    with path.open("rb") as stream:
        sha256 = hashlib.file_digest(stream, "sha256").hexdigest()
        stat = os.fstat(stream.fileno())
    return FileInfo(name=file_name(path), size=stat.st_size, mtime_ns=stat.st_mtime_ns, sha256=sha256)


def too_large_reason(info: FileInfo) -> str:
    return f"ファイルのサイズが {info.size / 2**20:,.0f} MB あり、上限の {MAX_UNCOMPRESSED // 2**20} MB を超えます"


def problem(exc: BaseException) -> str:
    """What is wrong with a workbook that raised one of UNREADABLE, in Japanese."""
    while exc.__cause__ is not None:  # openpyxl re-raises what the XML parser said as a ValueError of its own
        exc = exc.__cause__
    if isinstance(exc, (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError)):
        what = "ZIPとして壊れています"
    elif isinstance(exc, DefusedXmlException):
        what = "XMLに実体宣言（DTD）があります。危険な形式のため読みません"
    elif isinstance(exc, (SyntaxError, ExpatError)):
        what = "シートのXMLが壊れています（途中で切れているなど）"
    elif isinstance(exc, KeyError):
        what = "ブックに必要な部品がありません"
    else:
        what = "ブックの内容を解釈できません"
    return f"Excelブックとして読めません: {what}（{type(exc).__name__}）"


def check_zip(data: bytes) -> None:
    """The caps that the zip's directory can tell before anything is decompressed. zipfile stops at a
    part's declared size (and fails its CRC), so a part cannot decompress to more than it declares."""
    with zipfile.ZipFile(BytesIO(data)) as archive:
        parts = archive.infolist()
    total = sum(p.file_size for p in parts)
    if total > MAX_UNCOMPRESSED:
        raise Unfit("workbook_too_large", f"展開後のサイズが {total / 2**20:,.0f} MB あり、"
                                          f"上限の {MAX_UNCOMPRESSED // 2**20} MB を超えます")
    for part in parts:
        if part.file_size > RATIO_FROM and part.file_size > MAX_RATIO * max(part.compress_size, 1):
            ratio = part.file_size // max(part.compress_size, 1)
            raise Unfit("workbook_too_compressed",
                        f"圧縮率が異常です（{ratio:,}倍、上限 {MAX_RATIO}倍）。ZIP爆弾の疑いがあるため読みません")


class Budget:
    """Rows and cells read from one workbook, over all its sheets."""

    def __init__(self) -> None:
        self.rows = self.cells = 0

    def take(self, cells: int) -> None:
        self.rows += 1
        self.cells += cells
        if self.rows > MAX_ROWS or self.cells > MAX_CELLS:
            raise Unfit("workbook_too_many_cells",
                        f"行またはセルが多すぎます（上限 {MAX_ROWS:,} 行・{MAX_CELLS:,} セル）。"
                        "不要な行や列を削除してください")

    def over(self, rows: Iterator[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
        for cells in rows:
            self.take(len(cells))
            yield cells
