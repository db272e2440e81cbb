"""NAB adapter for the detector's core: `run_detector.py bench/nab_detector.py:make`.

    cd ../shared/nab && python run_detector.py "$OLDPWD/bench/nab_detector.py:make" \
        --split dev --restamp 5 [--arg learn=288 ...]

`make(**kwargs)` returns `NoveltyScorer(NoveltySettings(**kwargs))` (services/detection/novelty.py);
with no arguments that is exactly the default core the live detector runs, so the score printed is
the product's. It is two-sided by construction (it quantises the value itself), so it is scored as
is. `make_multiscale` is the previous core, `MultiScaleScorer` (two `CoreScorer`s at level-shift
windows 5 and 51 plus a re-alarm hold); its keyword arguments `long_window`, `hold`,
`hold_threshold` go to it, the rest override `CoreSettings` fields. `make_core` is a single
`CoreScorer`. `make_seed` is the seed system's hybrid (bench/seed_detector.py) on the same harness.
`make_context`, `make_entropy` and `make_combo` are the NAB experiments of bench/nab_detectors.py;
`rest` / `rest_threshold` set their `RestPeriod`, the rest go to the scorer.
"""

from __future__ import annotations

import os
import sys
from typing import Any

# run_detector.py loads this file by path; make the project importable from anywhere.
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from bench.multiscale_core import CoreScorer, CoreSettings, MultiScaleScorer  # noqa: E402
from services.detection.novelty import NoveltyScorer, NoveltySettings  # noqa: E402

_OWN = ("long_window", "hold", "hold_threshold")


def make(**kwargs: Any) -> NoveltyScorer:
    return NoveltyScorer(NoveltySettings(**kwargs))


def make_multiscale(**kwargs: Any) -> MultiScaleScorer:
    own = {k: kwargs.pop(k) for k in _OWN if k in kwargs}
    return MultiScaleScorer(CoreSettings(**kwargs), **own)


def make_core(**kwargs: Any) -> CoreScorer:
    return CoreScorer(CoreSettings(**kwargs))


def make_seed(**kwargs: Any) -> Any:
    from bench.seed_detector import SeedNabAdapter

    return SeedNabAdapter(**kwargs)


def _rest(det: Any, kwargs: dict[str, Any]) -> Any:
    from bench.nab_detectors import RestPeriod

    rest = kwargs.pop("rest", 0)
    thr = kwargs.pop("rest_threshold", 0.5)
    return RestPeriod(det, rest, thr) if rest else det


def make_entropy(**kwargs: Any) -> Any:
    from bench.nab_detectors import RelativeEntropyScorer

    rest = {k: kwargs.pop(k) for k in ("rest", "rest_threshold") if k in kwargs}
    return _rest(RelativeEntropyScorer(**kwargs), rest)


def make_context(**kwargs: Any) -> Any:
    from bench.nab_detectors import ContextScorer

    rest = {"rest": 400, **{k: kwargs.pop(k) for k in ("rest", "rest_threshold") if k in kwargs}}
    return _rest(ContextScorer(**kwargs), rest)


def make_combo(**kwargs: Any) -> Any:
    """Context scorer and the core (`MultiScaleScorer` without its hold), combined, then a rest."""
    from bench.nab_detectors import Combined, ContextScorer, RestPeriod

    rest = kwargs.pop("rest", 400)
    thr = kwargs.pop("rest_threshold", 0.5)
    how = kwargs.pop("how", "max")
    w_core = kwargs.pop("w_core", 1.0)
    ctx = ContextScorer(**kwargs)
    core = MultiScaleScorer(CoreSettings(), hold=0)
    return RestPeriod(Combined([ctx, core], [1.0, w_core], how), rest, thr)
