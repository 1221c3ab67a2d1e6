"""Progress: a live line on a terminal, quiet plain lines otherwise."""
from __future__ import annotations

import io

from jisseki.batch import Progress
from jisseki.progress import ProgressSink, TerminalSink, install


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def feed(sink) -> None:
    for done in range(1, 9):
        sink(Progress("moveout_log", "ファイル", done, 8, done * 100, 0))
    sink(Progress("moveout_log", "ファイル", 8, 8, 800, 3, finished=True))


def test_not_a_terminal_gets_a_few_plain_lines() -> None:
    out = io.StringIO()
    sink = install(out)
    assert type(sink) is ProgressSink
    feed(sink)
    lines = out.getvalue().splitlines()
    assert len(lines) == 5 and "\r" not in out.getvalue()
    assert lines[-1] == "moveout_log: 完了 ファイル 8/8 / 800 行 / 隔離 3 行"


def test_a_terminal_gets_a_line_rewritten_in_place() -> None:
    out = Tty()
    sink = install(out)
    assert isinstance(sink, TerminalSink)
    feed(sink)
    text = out.getvalue()
    assert text.count("\r\033[K") == 9 and "moveout_log 7/8ファイル 700行" in text
    assert text.rstrip("\r\033[K").endswith("moveout_log: 完了 ファイル 8/8 / 800 行 / 隔離 3 行\n")
