"""The benchmark harness: timing, a figure type and the printed table.

Each `benchmarks/bench_<area>.py` module defines `figures(scale: float) -> list[Figure]`;
`python -m benchmarks [area ...]` runs them and prints one table. Timings are taken
in the same process and run, so ratios hold on a loaded machine where seconds would not.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Figure:
    """One measured figure: `value` against `baseline` (same unit), ratio = value/baseline."""

    area: str
    name: str
    value: float
    baseline: float
    unit: str
    baseline_name: str
    target: str = ""

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else float("nan")


def best_of(fn: Callable[[], Any], repeat: int = 3) -> float:
    """Best wall time of `repeat` calls in seconds (the least disturbed by other load)."""
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def render(figures: list[Figure]) -> str:
    header = ("area", "figure", "value", "baseline", "ratio", "target")
    rows = [
        (
            f.area,
            f.name,
            f"{f.value:.4g} {f.unit}",
            f"{f.baseline:.4g} {f.unit} ({f.baseline_name})",
            f"{f.ratio:.3f}",
            f.target,
        )
        for f in figures
    ]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("{:<" + str(w) + "}" for w in widths)
    out = [line.format(*header), line.format(*("-" * w for w in widths))]
    out += [line.format(*r) for r in rows]
    return "\n".join(out)
