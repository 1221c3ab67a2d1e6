"""One function mapped over jobs in a child process that ends with its run.

Why not multiprocessing: its forkserver and resource tracker are interpreter-wide helpers that outlive
the run that started them (in `jisseki serve`, for as long as serve runs), and a pool worker whose
parent died holds both ends of its own queue, so it waits for ever. This child reads pickled jobs on
stdin and writes pickled results on stdout, in order: when its parent ends, or is killed, its stdin
closes and it ends too. Both ends are this program, so pickle carries nothing foreign.

    python -m jisseki.worker module:function
"""
from __future__ import annotations

import importlib
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO

STOP_SECONDS = 10.0


class WorkerFailed(Exception):
    """The child process ended or reported an error before every job was answered."""


class Mapped:
    """`with Mapped(target, jobs) as results:` the results of `target(*job)` for each job, in order, computed
    ahead in a child process started here (OSError when none can be started). The child is gone when the
    block ends, however it ends; one that ends early raises WorkerFailed, so no job goes missing.
    pass_fds: descriptors the child keeps open while it lives (a lock it holds with the parent)."""

    def __init__(self, target: str, jobs: Iterable[tuple[Any, ...]], pass_fds: tuple[int, ...] = ()) -> None:
        self.jobs = list(jobs)
        self.child = subprocess.Popen([sys.executable, "-m", "jisseki.worker", target], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, env={**os.environ, "PYTHONSAFEPATH": "1"},
                                      pass_fds=pass_fds)
        self.feeder = threading.Thread(target=_feed, args=(self.child.stdin, self.jobs), daemon=True,
                                       name="worker-feed")
        self.feeder.start()

    def __enter__(self) -> Iterator[Any]:
        return _answers(self.child, len(self.jobs))

    def __exit__(self, *exc: object) -> None:
        _stop(self.child)
        self.feeder.join(timeout=STOP_SECONDS)


def _feed(stdin: BinaryIO, jobs: list[tuple[Any, ...]]) -> None:
    try:
        for job in jobs:
            pickle.dump(job, stdin)
            stdin.flush()   # the child starts on the first file while the rest are written
        stdin.close()
    except (ValueError, OSError):
        pass   # the child has gone (or is being stopped): _answers says why


def _answers(child: subprocess.Popen[bytes], expected: int) -> Iterator[Any]:
    for _ in range(expected):
        try:
            ok, value = pickle.load(child.stdout)   # type: ignore[arg-type]
        except (EOFError, pickle.UnpicklingError, OSError) as exc:
            raise WorkerFailed(f"作業プロセスが途中で終わりました（{type(exc).__name__}、終了コード {child.poll()}）"
                               ) from None
        if not ok:
            raise WorkerFailed(f"作業プロセスでエラー: {value}")
        yield value


def _stop(child: subprocess.Popen[bytes]) -> None:
    for stream in (child.stdin, child.stdout):
        try:
            stream.close()   # type: ignore[union-attr]
        except OSError:
            pass
    try:
        child.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def serve(function: Callable[..., Any], stdin: BinaryIO, stdout: BinaryIO) -> None:
    while True:
        try:
            job = pickle.load(stdin)
        except EOFError:
            return
        try:
            answer = (True, function(*job))
        except Exception as exc:   # reported to the parent, which fails the source with it
            answer = (False, f"{type(exc).__name__}: {exc}")
        pickle.dump(answer, stdout)
        stdout.flush()


def main() -> None:
    module, _, name = sys.argv[1].partition(":")
    function = getattr(importlib.import_module(module), name)
    # Results go on the real stdout alone: anything the function prints goes to stderr instead.
    results = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout = sys.stderr
    try:
        serve(function, sys.stdin.buffer, results)
    except BrokenPipeError:
        pass   # the parent stopped reading: it has what it needs, or has gone
    except KeyboardInterrupt:
        pass   # Ctrl-C reaches the whole process group; the parent reports it


if __name__ == "__main__":
    main()
