"""Heavy libraries, imported on first use under one process-wide lock.

Source tasks run in threads. Two threads that import the same large package at once (Great
Expectations, pandas, DuckDB, openpyxl, Apprise, Prefect's blocks) can end in a partially initialised
module or an import deadlock: GX imports itself in cycles, and Python's per-module import locks only
detect that cross-thread cycle, they do not resolve it. Importing them here, one at a time, removes
the race, and a night that never needs a library never pays for it.
"""
from __future__ import annotations

import importlib
import threading
from types import ModuleType

# Re-entrant: importing one heavy library may import another through heavy() in the same thread.
LOCK = threading.RLock()


def heavy(name: str) -> ModuleType:
    """The module `name`, imported now if it is not yet, never while another thread imports one."""
    with LOCK:
        return importlib.import_module(name)
