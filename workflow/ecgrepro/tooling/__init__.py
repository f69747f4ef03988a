"""Tooling beside the workflow: cost estimates and speed benchmarks.

``python -m ecgrepro.cost`` (:mod:`~ecgrepro.tooling.cost`, and ``cost knn``:
:mod:`~ecgrepro.tooling.cost_knn`) and ``python -m ecgrepro.perf <name>`` (one module
``perf_<name>`` per benchmark, each with ``main(argv) -> int``). The configuration is
read by one loader, :mod:`~ecgrepro.config`, as Snakemake reads it.

Tooling may import the core package; the core package (every other module of
ecgrepro but the two entry shims ``ecgrepro.cost`` and ``ecgrepro.perf``) never imports
tooling (``tests/test_imports.py``).
"""
