"""k-NN baselines (DTW and Euclidean) as one layered package.

* :mod:`ecgrepro.knn.core`: the algorithm layer: variants and their distances, the
  exact pruned DTW searches, the window search, the vote rule. It imports nothing
  of this package above it.
* :mod:`ecgrepro.knn.jobs`: the job layer: checks, row blocks, scatter and gather,
  run directories and the command line ``python -m ecgrepro.knn`` that the rules call.

The aggregate reads the run directories (files only); the cost model and the speed
benchmarks (``python -m ecgrepro.cost knn``, ``python -m ecgrepro.perf knn``) are
tooling (:mod:`ecgrepro.tooling`), outside the package. ``tests/test_imports.py``
checks the layering. Nothing is imported here, so the workflow can import the light
:mod:`ecgrepro.knn.jobs.blocks` without numba.
"""
