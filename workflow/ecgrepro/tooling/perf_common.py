"""What the speed benchmarks share: data loading, timing helpers, the command line.

Each benchmark is a module ``ecgrepro.tooling.perf_<name>`` with ``build_parser()``
and ``main(argv) -> int``, run as ``python -m ecgrepro.perf <name>`` (the dispatcher
:mod:`ecgrepro.perf`). Each prints its details and ends with one ``name=value`` line
that scripts can parse; ``--strict`` makes a failed requirement exit 1.
"""

from __future__ import annotations

import argparse
import inspect
import statistics
import sys
import time
from pathlib import Path


def load_ucr(name: str, mirror: str | None):
    """Read a UCR dataset from ``<mirror>/ucr/<name>/`` (default ``resources/data``)."""
    from ecgrepro.data.ucr import load_splits
    from ecgrepro.errors import DataError

    root = Path(mirror) if mirror else Path("resources/data")
    folder = root / "ucr" / name
    for fmt in ("tsv", "ts"):
        train, test = (folder / f"{name}_{s}.{fmt}" for s in ("TRAIN", "TEST"))
        if train.is_file() and test.is_file():
            return load_splits(name, train, test)
    raise DataError(
        f"{name}: no {name}_TRAIN/_TEST .tsv or .ts under {folder}; pass "
        "--data-mirror DIR (DIR/ucr/<name>/...) or fetch the data first."
    )


def best_of(fn, repeats: int) -> tuple[float, list[float]]:
    """Minimum wall time of ``repeats`` calls (the least disturbed by other load)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), times


def call_times(fn, calls: int) -> list[float]:
    """Wall seconds of each of ``calls`` consecutive calls."""
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def summary(times) -> str:
    """``min ms (median m, n calls)``: the minimum is the least disturbed call."""

    return (f"{min(times) * 1e3:.2f} ms (median {statistics.median(times) * 1e3:.2f}, "
            f"{len(times)} calls)")


def parser(name: str, func, help: str) -> argparse.ArgumentParser:
    """The parser of benchmark ``name`` whose handler is ``func(args) -> dict``."""
    p = argparse.ArgumentParser(
        prog=f"python -m ecgrepro.perf {name}",
        description=f"{help}.\n\n{inspect.cleandoc(func.__doc__ or '')}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(func=func)
    p.add_argument(
        "--strict", action="store_true", help="exit 1 when a requirement fails"
    )
    return p


def run(p: argparse.ArgumentParser, argv=None) -> int:
    """Parse ``argv``, run the benchmark; 2 on an EcgreproError, 1 on a failed --strict."""
    from ecgrepro.errors import EcgreproError

    args = p.parse_args(argv)
    try:
        result = args.func(args)
    except EcgreproError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 1 if args.strict and not result.get("ok", True) else 0
