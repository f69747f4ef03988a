"""The vote rule: predictions for every k from one ordering of the neighbours.

Vote rule (written into every run's ``metrics.json`` and ``accuracy.csv``):

* neighbours are the training series ordered by distance, equal distances in
  training-set order (a stable sort), and the first ``k`` of that order vote;
* each neighbour has one vote (plain majority);
* a tie between classes goes to the smallest label, i.e. the smallest class code
  (classes are sorted numerically when numeric, see :mod:`ecgrepro.data.ucr`).
"""

from __future__ import annotations

import numpy as np

from ecgrepro.errors import EcgreproError

DEFAULT_KS = tuple(range(1, 11))
VOTE_RULE = "plain majority vote of the k nearest training series (one vote each)"
NEIGHBOUR_TIE_RULE = "equal distances ordered by training index (stable sort)"
VOTE_TIE_RULE = "a tie between classes goes to the smallest label (class code)"


def parse_ks(text: str) -> tuple[int, ...]:
    """Parse ``"1-10"``, ``"1..10"`` or ``"1,3,5"`` into sorted unique positive ints."""
    ks: set[int] = set()
    for part in str(text).replace("..", "-").split(","):
        lo, _, hi = part.strip().partition("-")
        try:
            ks.update(range(int(lo), int(hi or lo) + 1))
        except ValueError:
            raise EcgreproError(f"ks {text!r}: write e.g. 1-10 or 1,3,5.") from None
    return check_ks(ks)


def check_ks(ks, n_train: int | None = None, name: str = "") -> tuple[int, ...]:
    """Sorted unique ks; an error when one is not a positive int or exceeds n_train."""
    ks = tuple(sorted(set(ks)))
    if not ks or any(not isinstance(k, (int, np.integer)) or k < 1 for k in ks):
        raise EcgreproError(f"ks must be positive integers, got {list(ks)}.")
    if n_train is not None and ks[-1] > n_train:
        raise EcgreproError(
            f"{name}: k = {ks[-1]} is larger than the training set ({n_train} series); "
            f"k-NN cannot have more neighbours than that. Use ks up to {n_train}."
        )
    return tuple(int(k) for k in ks)


def sweep(
    D: np.ndarray, y_train: np.ndarray, ks, n_classes: int
) -> dict[int, np.ndarray]:
    """Predicted class codes for every k from one test x train distance matrix.

    Applies the module's vote rule: stable order by distance, one vote per
    neighbour, ties to the smallest code (``argmax`` returns the first maximum).
    """
    ks = check_ks(ks, D.shape[1])
    order = np.argsort(D, axis=1, kind="stable")[:, : ks[-1]]
    return vote(order, y_train, ks, n_classes)


def vote(
    neighbours: np.ndarray, y_train: np.ndarray, ks, n_classes: int
) -> dict[int, np.ndarray]:
    """Predicted class codes for every k from each test series' ordered neighbours.

    ``neighbours[i]`` lists training indices, nearest first and equal distances in
    training order (as :func:`sweep`'s stable sort, or :func:`ecgrepro.knn.core.search.knn_search`),
    at least ``max(ks)`` of them. One vote each, ties to the smallest code.
    """
    ks = check_ks(ks, neighbours.shape[1])
    labels = y_train[neighbours[:, : ks[-1]]]
    counts = np.zeros((neighbours.shape[0], n_classes), dtype=np.int64)
    rows = np.arange(neighbours.shape[0])
    out = {}
    for k in range(1, ks[-1] + 1):
        counts[rows, labels[:, k - 1]] += 1
        if k in ks:
            out[k] = counts.argmax(axis=1)
    return out
