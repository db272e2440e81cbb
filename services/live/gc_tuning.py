"""Garbage-collector thresholds for a process that collects live sessions.

A collector holding thousands of live sessions' windows keeps millions of objects alive. At the
interpreter's default thresholds a full collection walked them all every 4th tick or so, adding
0.5-0.7 s to a 10,000-session tick (docs/benchmarks.md). Rarer young collections let short-lived
objects die by reference count before they are promoted, so full collections become rare.

Thresholds belong to the process, and a process may run more than one collector (the tests do),
so holders are counted: the first to start raises them, the last to stop restores what it found.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

COLLECTOR_GC_THRESHOLDS = (50_000, 20, 100)

_lock = threading.Lock()
_holders = 0
_found: tuple[int, int, int] | None = None


@contextmanager
def collector_gc_thresholds() -> Iterator[None]:
    """Hold the collector's thresholds for the duration of the block."""
    global _holders, _found
    with _lock:
        if _holders == 0:
            _found = gc.get_threshold()
            gc.set_threshold(*COLLECTOR_GC_THRESHOLDS)
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _found is not None:
                gc.set_threshold(*_found)
                _found = None
