"""Progress of each source: a live line on a terminal, a few plain lines otherwise."""
from __future__ import annotations

import shutil
import sys
import threading
from typing import TextIO

from jisseki.batch import Progress

_sink: ProgressSink | None = None


class ProgressSink:
    """Plain lines for logs and pipes: one per quarter of the files read, and one at the end."""

    def __init__(self, stream: TextIO) -> None:
        self.stream, self.lock = stream, threading.Lock()
        self.quarters: dict[str, int] = {}

    def __call__(self, p: Progress) -> None:
        quarter = 4 * p.done // p.total if p.total else 0
        with self.lock:
            if p.finished or quarter > self.quarters.get(p.source, 0):
                self.quarters[p.source] = quarter
                self.stream.write(describe(p) + "\n")
                self.stream.flush()


class TerminalSink(ProgressSink):
    """One line rewritten in place while sources run; a permanent line as each one finishes."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self.live: dict[str, Progress] = {}

    def __call__(self, p: Progress) -> None:
        with self.lock:
            width = shutil.get_terminal_size((100, 20)).columns - 1
            self.stream.write("\r\033[K")
            if p.finished:
                self.live.pop(p.source, None)
                self.stream.write(describe(p) + "\n")
            else:
                self.live[p.source] = p
            self.stream.write(" | ".join(describe(x, short=True) for x in self.live.values())[:width])
            self.stream.flush()


def describe(p: Progress, short: bool = False) -> str:
    of = f"/{p.total}" if p.total else ""
    state = "完了" if p.finished else "読込中"
    if short:
        return f"{p.source} {p.done}{of}{p.unit} {p.rows:,}行"
    return f"{p.source}: {state} {p.unit} {p.done}{of} / {p.rows:,} 行 / 隔離 {p.quarantined:,} 行"


def install(stream: TextIO | None = None) -> ProgressSink:
    global _sink
    stream = stream or sys.stderr
    _sink = TerminalSink(stream) if stream.isatty() else ProgressSink(stream)
    return _sink


def current() -> ProgressSink | None:
    return _sink
