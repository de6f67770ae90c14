"""Run the benchmark modules named on the command line (all `bench_*.py` when none)."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import tempfile
from pathlib import Path

from driftline.orchestration.environment import configure


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("areas", nargs="*", help="bench_<area> modules to run (default: all)")
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="data-size multiplier (1.0 = the sizes the issues name)",
    )
    args = parser.parse_args()
    configure(Path(tempfile.mkdtemp(prefix="driftline-bench-")))
    from benchmarks.harness import render

    here = Path(__file__).parent
    names = args.areas or sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules([str(here)])
        if m.name.startswith("bench_")
    )
    figures = []
    for name in names:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        print(f"running bench_{name} ...", flush=True)
        figures += module.figures(args.scale)
        print(render(figures), flush=True)
    print("\n" + render(figures))


if __name__ == "__main__":
    main()
