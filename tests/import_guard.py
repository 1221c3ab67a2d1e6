"""`python tests/import_guard.py REPORT jisseki-args...`: runs the jisseki CLI in this fresh interpreter and
writes to REPORT every heavy library module that a thread other than the main one began to import without
holding jisseki.core.imports.LOCK: each is a race two source tasks can lose (a partially initialised module or an
import deadlock), whether or not the timing of this run happened to expose it."""
from __future__ import annotations

import importlib.abc
import json
import sys
import threading

HEAVY = ("great_expectations", "pandas", "numpy", "duckdb", "openpyxl", "apprise", "prefect.blocks")


class Guard(importlib.abc.MetaPathFinder):
    def __init__(self) -> None:
        self.unguarded: list[dict[str, str]] = []

    def find_spec(self, name, path, target=None):  # noqa: ANN001, ANN201 - the MetaPathFinder protocol
        from jisseki.core.imports import LOCK

        if threading.current_thread() is not threading.main_thread() and name.startswith(HEAVY) \
                and not LOCK._is_owned():  # noqa: SLF001 - the only way to ask an RLock who holds it
            self.unguarded.append({"module": name, "thread": threading.current_thread().name})
        return None  # the normal finders import it


def main() -> int:
    report, argv = sys.argv[1], sys.argv[2:]
    import jisseki.core.imports  # noqa: F401 - before the guard, which asks its lock

    guard = Guard()
    sys.meta_path.insert(0, guard)
    from jisseki.cli import main as cli

    try:
        return cli(argv)
    finally:
        with open(report, "w", encoding="utf-8") as out:
            json.dump(guard.unguarded, out, ensure_ascii=False)


if __name__ == "__main__":
    sys.exit(main())
