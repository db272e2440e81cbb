"""The collector's garbage-collector thresholds: held while collectors run, then put back."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable

from app.runtime import Runtime
from services.core.settings import Settings
from services.live.gc_tuning import COLLECTOR_GC_THRESHOLDS, collector_gc_thresholds
from tests.waiting import wait_until


def test_the_last_holder_to_leave_puts_back_what_the_first_found() -> None:
    found = gc.get_threshold()
    assert found != COLLECTOR_GC_THRESHOLDS  # the interpreter's defaults, or the test is moot
    with collector_gc_thresholds():
        with collector_gc_thresholds():
            assert gc.get_threshold() == COLLECTOR_GC_THRESHOLDS
        assert gc.get_threshold() == COLLECTOR_GC_THRESHOLDS  # the first holder still runs
    assert gc.get_threshold() == found


def test_holders_on_several_threads_leave_the_thresholds_as_found() -> None:
    found = gc.get_threshold()
    inside, release = threading.Barrier(9), threading.Event()

    def hold() -> None:
        with collector_gc_thresholds():
            inside.wait()
            release.wait()

    threads = [threading.Thread(target=hold) for _ in range(8)]
    for thread in threads:
        thread.start()
    inside.wait()
    assert gc.get_threshold() == COLLECTOR_GC_THRESHOLDS
    release.set()
    for thread in threads:
        thread.join()
    assert gc.get_threshold() == found


def test_a_running_collector_holds_them_and_a_stopped_one_puts_them_back(
    make_settings: Callable[..., Settings],
) -> None:
    found = gc.get_threshold()
    runtime = Runtime.build(make_settings(tick_seconds=1.0))
    runtime.start()
    try:
        wait_until(lambda: gc.get_threshold() == COLLECTOR_GC_THRESHOLDS, what="the collector")
    finally:
        runtime.stop()
    assert gc.get_threshold() == found
