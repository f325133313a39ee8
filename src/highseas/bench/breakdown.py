"""Where a set-based run (a sweep, an assignment run) spends its time: one more run under
``cProfile``, its self time summed by layer (the database driver and engine, Django's ORM, the
HighSeas services and engine, …; ``profile.LAYERS``) and its costliest functions. Run beside
the measured runs, never inside them: the profiler slows Python code, not the database, so the
shares lean towards Python."""

from __future__ import annotations

import cProfile
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any, TypeVar

from highseas.bench.profile import SQLITE, _label, _layer

T = TypeVar("T")
TOP = 10


def layer_of(code: Any) -> str:
    """``profile._layer``, and the SQLite backend's gated cursor (``config.sqlite``), whose
    C-level ``execute`` is the sqlite3 driver's time, as the database's."""
    if isinstance(code, str) and "GatedCursor" in code:
        return SQLITE
    return _layer(code)


def profiled(action: Callable[[], T]) -> tuple[T, dict[str, Any]]:
    """Run ``action`` under cProfile; its result and the breakdown."""
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    try:
        result = action()
    finally:
        profiler.disable()
    seconds = time.perf_counter() - started
    layers: dict[str, float] = defaultdict(float)
    top: list[tuple[float, str, int]] = []
    for entry in profiler.getstats():
        layers[layer_of(entry.code)] += entry.inlinetime
        top.append((entry.inlinetime, _label(entry.code), entry.callcount))
    top.sort(reverse=True)
    return result, {
        "profiled_seconds": round(seconds, 3),
        "self_seconds_by_layer": {
            layer: round(spent, 3)
            for layer, spent in sorted(layers.items(), key=lambda item: -item[1])
        },
        "top_self_time": [
            {"function": label, "seconds": round(spent, 4), "calls": calls}
            for spent, label, calls in top[:TOP]
        ],
    }


def describe(line: dict[str, Any]) -> str:
    """The breakdown's layers on one line, largest first, with their shares."""
    total = sum(line["self_seconds_by_layer"].values()) or 1.0
    return "; ".join(
        f"{layer} {spent:.2f} s ({100 * spent / total:.0f} %)"
        for layer, spent in line["self_seconds_by_layer"].items()
        if spent / total >= 0.02
    )
