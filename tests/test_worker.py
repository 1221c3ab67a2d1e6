"""The worker process: results in order, no job lost when it dies, and it never outlives its parent."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from jisseki import worker


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:   # a zombie has ended; only its exit status is left
        return stat.read().split(") ", 1)[1][0] != "Z"


def test_results_come_back_in_order_and_the_child_is_gone_after() -> None:
    with worker.Mapped("operator:mul", [(n, n) for n in range(50)]) as results:
        assert list(results) == [n * n for n in range(50)]
    children = subprocess.run(["pgrep", "-P", str(os.getpid()), "-f", "jisseki.worker"], capture_output=True)
    assert children.stdout == b""


def test_an_error_in_a_job_is_raised_and_a_child_that_dies_loses_no_job_silently() -> None:
    with pytest.raises(worker.WorkerFailed, match="ZeroDivisionError"):
        with worker.Mapped("operator:truediv", [(1, 1), (1, 0), (2, 1)]) as results:
            list(results)
    with pytest.raises(worker.WorkerFailed, match="途中で終わりました"):
        with worker.Mapped("os:_exit", [(3,), (4,)]) as results:   # the child ends on its first job
            list(results)


PARENT = textwrap.dedent("""
    import sys, time
    from jisseki import worker
    with worker.Mapped("time:sleep", [(2,)] * 30) as results:
        print("started", flush=True)
        next(results)
""")


@pytest.mark.e2e
def test_a_child_whose_parent_is_killed_ends_too() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    assert parent.stdout.readline().strip() == "started"
    found = subprocess.run(["pgrep", "-P", str(parent.pid)], capture_output=True, text=True).stdout.split()
    assert len(found) == 1
    child = int(found[0])
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    # Its stdin closed with its parent: it ends after the job it is in (2 s), not after all 30 (60 s).
    deadline = time.monotonic() + 15
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(child)
