"""What the file readers of declared sources share: which files a declaration reads, and where its columns
are in a header."""
from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import Path

from connectors.files import delivered_files, header_problem
from jisseki.core.normalize import nfkc
from jisseki.declared.spec import Files


def source_files(cfg: Files) -> list[Path]:
    """The folder's files whose name matches the declaration's pattern, in delivered_files' order. Case is
    ignored, as delivered_files ignores it: a system that writes .CSV still delivers CSV files."""
    pattern = cfg.glob().lower()
    return [p for p in delivered_files(cfg.path, "") if fnmatchcase(p.name.lower(), pattern)]


def header_columns(names: list[str], cfg: Files) -> dict[str, int] | tuple[str, str]:
    """Each declared column's position in a header of NFKC names, or why the header cannot be trusted as
    (code, Japanese reason). Only declared columns are checked and named: another column may repeat, or
    be a stray row of personal data, without being read."""
    sources = {name: nfkc(column.where(name)) for name, column in cfg.columns.items()}
    wanted = tuple(dict.fromkeys(sources.values()))
    if problem := header_problem([n for n in names if n in wanted], wanted, wanted):
        return problem
    at = {n: i for i, n in enumerate(names) if n in wanted}
    return {name: at[source] for name, source in sources.items()}
