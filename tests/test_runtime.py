"""What starting and stopping a server process does to the process itself."""

from __future__ import annotations

import gc
from collections.abc import Callable

from app.runtime import COLLECTOR_GC_THRESHOLDS, Runtime
from services.settings import Settings


def test_a_collecting_process_makes_full_collections_rare_until_it_stops(
    make_settings: Callable[..., Settings],
) -> None:
    before = gc.get_threshold()
    assert before != COLLECTOR_GC_THRESHOLDS  # the interpreter's defaults, or the test is moot
    runtime = Runtime.build(make_settings(tick_seconds=1.0))
    runtime.start()
    try:
        assert gc.get_threshold() == COLLECTOR_GC_THRESHOLDS
    finally:
        runtime.stop()
    assert gc.get_threshold() == before


def test_a_web_only_process_leaves_the_collector_thresholds_alone(
    make_settings: Callable[..., Settings],
) -> None:
    before = gc.get_threshold()
    runtime = Runtime.build(make_settings(), with_collector=False)
    runtime.start()
    try:
        assert gc.get_threshold() == before
    finally:
        runtime.stop()
