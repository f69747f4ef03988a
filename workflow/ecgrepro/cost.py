"""What a configuration will cost: ``python -m ecgrepro.cost [knn] [options]``.

A thin dispatcher into :mod:`ecgrepro.tooling`:

* ``python -m ecgrepro.cost [options]``: the whole workflow in core-hours, from a dry
  run and the benchmarks of runs already made (:mod:`ecgrepro.tooling.cost`);
* ``python -m ecgrepro.cost knn [options]``: DTW cells and core time of every k-NN
  job, naive and pruned, measured now on samples (:mod:`ecgrepro.tooling.cost_knn`).
"""

from __future__ import annotations

import importlib
import sys

#: first argument -> the module that runs it (anything else: the workflow's cost)
COMMANDS = {"knn": "ecgrepro.tooling.cost_knn"}
DEFAULT = "ecgrepro.tooling.cost"


def main(argv=None) -> int:
    """Dispatch on the first argument (see the module docstring)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in COMMANDS:
        return importlib.import_module(COMMANDS[argv[0]]).main(argv[1:])
    return importlib.import_module(DEFAULT).main(argv)


if __name__ == "__main__":
    sys.exit(main())
