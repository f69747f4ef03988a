"""Speed benchmarks: ``python -m ecgrepro.perf <benchmark> [options]``.

A thin dispatcher: each benchmark is a module of :mod:`ecgrepro.tooling` with
``main(argv) -> int`` (and a one-line ``HELP``); add one by adding its line to
:data:`BENCHMARKS`. ``python -m ecgrepro.perf <benchmark> --help`` lists its options.
"""

from __future__ import annotations

import importlib
import sys

#: subcommand -> the module that runs it
BENCHMARKS = {
    "knn": "ecgrepro.tooling.perf_knn",
    "knn_scale": "ecgrepro.tooling.perf_knn_scale",
    "segments": "ecgrepro.tooling.perf_segments",
    "lstm_fcn": "ecgrepro.tooling.perf_lstm_fcn",
    "cnn_rnn": "ecgrepro.tooling.perf_cnn_rnn",
    "timing": "ecgrepro.tooling.perf_timing",
}


def _usage() -> str:
    lines = [
        "usage: python -m ecgrepro.perf <benchmark> [options]",
        "",
        __doc__.strip().splitlines()[0],
        "",
        "benchmarks:",
    ]
    for name, module in BENCHMARKS.items():
        text = getattr(importlib.import_module(module), "HELP", "")
        lines.append(f"  {name:<12}{text}")
    return "\n".join(lines)


def main(argv=None) -> int:
    """Run ``argv[0]``'s module with the remaining arguments."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    if argv[0] not in BENCHMARKS:
        print(_usage(), file=sys.stderr)
        print(f"\nunknown benchmark {argv[0]!r}; use one of {', '.join(BENCHMARKS)}.",
              file=sys.stderr)
        return 2
    return importlib.import_module(BENCHMARKS[argv[0]]).main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
