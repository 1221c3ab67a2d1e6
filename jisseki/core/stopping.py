"""The stop signal of the source being collected on this thread: set when the run gives up on it (its deadline
passed, or the run was stopped), so that what it is waiting for (an HTTP request) ends instead of blocking.

A context variable, because the source's read functions take only their config: the flow sets it for the
thread that collects the source, and jisseki.sources hands it to what can be interrupted.
"""
from __future__ import annotations

import threading
from contextvars import ContextVar

_STOP: ContextVar[threading.Event | None] = ContextVar("jisseki_stop", default=None)


def current() -> threading.Event:
    """This thread's stop event, or a fresh one that nobody sets (outside a run)."""
    return _STOP.get() or threading.Event()


def install(event: threading.Event) -> None:
    """For the thread (context) that collects one source."""
    _STOP.set(event)
