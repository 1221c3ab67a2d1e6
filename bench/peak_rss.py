"""Runs a command and prints its peak resident set size in MB (like GNU time's %M), measured from a
small process so that nothing of a large parent is counted.

    python bench/peak_rss.py COMMAND...
"""
from __future__ import annotations

import os
import subprocess
import sys

if __name__ == "__main__":
    child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.stderr.write(child.stderr.read().decode(errors="replace")[-4000:])
        sys.exit(code)
    print(usage.ru_maxrss // 1024)
