"""Runs a command and prints its peak resident set size in MB (like GNU time's %M), measured from a
small process so that nothing of a large parent is counted.

    python bench/peak_rss.py COMMAND...
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile

if __name__ == "__main__":
    with tempfile.TemporaryFile() as log:
        child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=log)
        _, status, usage = os.wait4(child.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace")[-4000:])
            sys.exit(code)
    print(usage.ru_maxrss // 1024)
