"""NAB adapter for the detector's core: `run_detector.py bench/nab_detector.py:make`.

    cd /work/shared/nab && python run_detector.py /work/main/bench/nab_detector.py:make \
        --split dev --restamp 5 [--arg horizon=300 ...]

`make(**kwargs)` returns a fresh `MultiScaleScorer` (two `CoreScorer`s at level-shift windows 5
and 51 plus a re-alarm hold); keyword arguments `long_window`, `hold`, `hold_threshold` go to it,
the rest override `CoreSettings` fields. `make_core` is a single `CoreScorer`. The core is
two-sided already (every measure uses |z|), so it is scored as is.
`make_seed` is the seed system's hybrid (bench/seed_detector.py) on the same harness.
"""

from __future__ import annotations

import os
import sys
from typing import Any

# run_detector.py loads this file by path; make the project importable from anywhere.
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from services.anomaly_core import CoreScorer, CoreSettings, MultiScaleScorer  # noqa: E402

_OWN = ("long_window", "hold", "hold_threshold")


def make(**kwargs: Any) -> MultiScaleScorer:
    own = {k: kwargs.pop(k) for k in _OWN if k in kwargs}
    return MultiScaleScorer(CoreSettings(**kwargs), **own)


def make_core(**kwargs: Any) -> CoreScorer:
    return CoreScorer(CoreSettings(**kwargs))


def make_seed(**kwargs: Any) -> Any:
    from bench.seed_detector import SeedNabAdapter

    return SeedNabAdapter(**kwargs)
