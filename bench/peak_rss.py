"""Runs a command and prints its peak resident set size in MB: the largest sum over the command and
every process it started (sampled every 20 ms from /proc), then the command's own peak as the
kernel counts it (like GNU time's %M). Measured from a small process, so nothing of a large parent
is counted: a child's peak as Linux reports it starts from its parent's size at fork. Prefect's
temporary API server is not counted: it is the same in every run, and in production a service of
its own.

    python bench/peak_rss.py COMMAND...
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")
SERVER = b"prefect.server.api.server"


def tree(pid: int) -> list[int]:
    """pid and its descendants (the transcoding worker among them)."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        try:
            if SERVER in Path(f"/proc/{current}/cmdline").read_bytes():
                continue
        except OSError:
            continue
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                queue.extend(int(child) for child in task.read_text().split())
            except OSError:
                pass
    return found


def resident(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            pass   # the process ended between the listing and the read
    return total


if __name__ == "__main__":
    with tempfile.TemporaryFile() as log:
        child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=log)
        peak, done = [0], threading.Event()

        def sample() -> None:
            while not done.wait(0.02):
                peak[0] = max(peak[0], resident(tree(child.pid)))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(child.pid, 0)
        done.set()
        sampler.join()
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace")[-4000:])
            sys.exit(code)
    own = usage.ru_maxrss // 1024
    print(max(peak[0] // 2**20, own), own)
