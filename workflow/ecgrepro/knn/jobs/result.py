"""What one (dataset, variant) run computes, before it is written."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class KnnResult:
    """Everything one (dataset, variant) run computes, before it is written.

    ``distances`` is the (test rows x train) matrix on the matrix path; on the pruned
    path it holds each test row's k nearest distances and ``neighbours`` their
    training indices (nearest first, ties by index). ``rows`` are the test cases
    computed (None: all of them; a subset for a cross-check on a large set).
    """

    distances: np.ndarray
    radius: int | None
    predictions: dict[int, np.ndarray]
    timings: dict[str, float]
    window_search: list[dict] = field(default_factory=list)
    selected: dict | None = None
    neighbours: np.ndarray | None = None
    rows: np.ndarray | None = None
    search: dict = field(default_factory=dict)
