"""The k-NN variants: what each distance is, and how its test x train matrix is computed.

A variant is named by a short readable string:

========================  ==========================================================
``aeon-dtw``              aeon's DTW, squared point cost, unconstrained window
``sktime-dtw``            sktime's own numba DTW (the kernel of
                          ``sktime.dists_kernels.DtwDist``), squared point cost,
                          unconstrained window
``aeon-dtw-w<p>``         aeon's DTW in a Sakoe-Chiba band of ``p`` % of the length
``learned``               aeon's DTW in the band the UCR archive would learn:
                          leave-one-out 1-NN on the training set over 0..100 %
``euclidean``             Euclidean distance (aeon)
``blog-dtw-l1``           DTW with point cost ``|x - y|``, unconstrained window (the
                          blog's k-NN); neither aeon nor sktime offers this cost, so
                          it is :func:`~ecgrepro.knn.core.distances.l1_dtw_matrix` (numba)
========================  ==========================================================

Percent to band radius (the UCR archive's rule)
-----------------------------------------------
A window of ``p`` % on series of length ``L`` is the Sakoe-Chiba band
``|i - j| <= r`` with ``r = ceil(p * L / 100)``, computed here in integers, and the
learned ``p`` is the smallest one whose leave-one-out 1-NN accuracy on the training
set is the highest. Evidence: on TwoLeadECG (L = 82) the archive reports w = 4 % and
test accuracy 0.8683; ``ceil`` gives r = ceil(3.28) = 4, LOO picks r = 4 first at
p = 4, and r = 4 scores 0.8683 on the test set, whereas ``floor`` or ``round`` would
map 4 % to r = 3 (test accuracy 0.8551) and would first reach r = 4 at p = 5. The
same ``ceil`` is in the Monash 1-NN CDTW code (``getWindowSize = ceil(r * n)`` with
``r = paramId / 100``), and the archive's notes on the DTW baseline choose "the
smallest value of w that minimizes the average train error rate".

How each variant is computed
----------------------------
Exact acceleration only: every path returns the neighbours, predictions and
accuracies of the naive test x train matrix (see :mod:`ecgrepro.knn.core` for why).

========================  ==========================================================
``aeon-dtw``              pruned k-NN search (:func:`ecgrepro.knn.core.search.knn_search`):
``aeon-dtw-w<p>``         LB_Kim/LB_Keogh cascade, early-abandoned pruned DTW whose
``blog-dtw-l1``           cells are aeon's (squared) or :func:`~ecgrepro.knn.core.distances.l1_dtw_matrix`'s
                          (absolute) arithmetic, bit for bit; only the k nearest
                          are kept
``learned``               window search by :func:`ecgrepro.knn.core.search.window_nn`
                          (FastWWSearch-style validity ranges, bounds, pruning),
                          then the pruned k-NN search at the learned radius
``sktime-dtw``            the full matrix, by sktime's own kernel: it is the
                          independent cross-check of aeon, so it shares no code
                          with the pruned path (on big sets, optionally a subset
                          of the test rows)
``euclidean``             the full matrix (aeon); O(L) per pair, nothing to prune
========================  ==========================================================

:func:`search_path` says which path a variant takes; ``search="matrix"`` in
:func:`ecgrepro.knn.jobs.run.fit_predict` forces the naive matrix for any variant.

aeon's ``window`` fraction
--------------------------
For equal lengths aeon bands DTW to ``|i - j| <= int(window * L)`` (floor of a float
product). Passing ``window = (r + 0.5) / L`` makes ``int(window * L) == r`` exactly:
the product is ``r + 0.5`` up to a rounding error far below 0.5, so the floor cannot
land on a neighbour (:func:`aeon_window` asserts it; the tests check every
``r < L <= 600`` and compare aeon's bounding matrix with the band). ``r >= L - 1``
covers the whole matrix and is passed as ``None``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.metadata import version

from ecgrepro.errors import EcgreproError

FIXED_WINDOW = re.compile(r"aeon-dtw-w(\d{1,3})")
NAMES = ("aeon-dtw", "sktime-dtw", "aeon-dtw-w<p>", "learned", "euclidean", "blog-dtw-l1")
LEARN_PERCENTS = range(0, 101)


@dataclass(frozen=True)
class Variant:
    """One k-NN variant: a distance, its point cost, its window and its library.

    Attributes
    ----------
    name : str
        The readable name, e.g. ``"aeon-dtw-w4"``.
    label : str
        A longer description for tables and figure legends.
    distance : str
        ``"dtw"`` or ``"euclidean"``.
    point_cost : str
        ``"squared"`` (``(x - y)**2``) or ``"absolute"`` (``|x - y|``); for Euclidean
        the squared differences are summed and the square root taken.
    window : str
        ``"full"`` (unconstrained), ``"fixed"`` (``percent`` given) or ``"learned"``.
    percent : int or None
        The Sakoe-Chiba window in percent of the length, for ``window == "fixed"``.
    library : str
        The package whose code computes the distance (``"ecgrepro"`` for the L1 kernel).
    """

    name: str
    label: str
    distance: str
    point_cost: str
    window: str
    library: str
    percent: int | None = None


def parse_variant(name: str) -> Variant:
    """Return the :class:`Variant` a name stands for.

    Raises
    ------
    EcgreproError
        When the name is not one of :data:`NAMES` (``<p>`` an integer 0..100).
    """
    fixed = {
        "aeon-dtw": Variant(name, "DTW full (aeon)", "dtw", "squared", "full", "aeon"),
        "sktime-dtw": Variant(
            name, "DTW full (sktime)", "dtw", "squared", "full", "sktime"
        ),
        "learned": Variant(
            name, "DTW learned window (aeon)", "dtw", "squared", "learned", "aeon"
        ),
        "euclidean": Variant(
            name, "Euclidean (aeon)", "euclidean", "squared", "full", "aeon"
        ),
        "blog-dtw-l1": Variant(
            name, "DTW |x-y| full (blog)", "dtw", "absolute", "full", "ecgrepro"
        ),
    }
    if name in fixed:
        return fixed[name]
    match = FIXED_WINDOW.fullmatch(name)
    if match and int(match.group(1)) <= 100:
        p = int(match.group(1))
        return Variant(name, f"DTW w={p}% (aeon)", "dtw", "squared", "fixed", "aeon", p)
    raise EcgreproError(
        f"unknown k-NN variant {name!r}; use one of {', '.join(NAMES)} "
        "(<p> an integer percentage 0..100, e.g. aeon-dtw-w4)."
    )


def percent_to_radius(percent: int, length: int) -> int:
    """Radius of a ``percent`` % Sakoe-Chiba window: ``ceil(percent * length / 100)``.

    Integer arithmetic, so 7 % of 100 is 7 (a float ``0.07 * 100`` would be 7.000…01
    and its ceiling 8). See the module docstring for why ``ceil``.
    """
    if not 0 <= percent <= 100:
        raise EcgreproError(f"window percentage {percent} is outside 0..100.")
    return -(-percent * length // 100)


def aeon_window(radius: int, length: int) -> float | None:
    """aeon's ``window`` argument for the band ``|i - j| <= radius`` on ``length`` points.

    aeon uses ``int(window * length)`` as the radius; ``(radius + 0.5) / length``
    floors back to ``radius`` exactly. ``None`` (unconstrained) when the band covers the
    whole matrix.
    """
    if radius >= length - 1:
        return None
    window = (radius + 0.5) / length
    if int(window * length) != radius:  # cannot happen; guards the reasoning above
        raise EcgreproError(f"aeon window for radius {radius} of {length} is inexact.")
    return window


IMPLEMENTATIONS = {
    ("dtw", "aeon"): "aeon.distances.dtw_pairwise_distance",
    ("dtw", "sktime"): "sktime.dists_kernels._numba_distances.distance_factory"
    "(metric='dtw'), the kernel of sktime.dists_kernels.DtwDist",
    ("euclidean", "aeon"): "aeon.distances.euclidean_pairwise_distance",
    ("dtw", "ecgrepro"): "ecgrepro.knn.core.distances.l1_dtw_matrix (numba)",
}
PRUNED_IMPLEMENTATION = (
    "ecgrepro.knn.core.search.knn_search: exact pruned k-NN search (LB_Kim/LB_Keogh, early-"
    "abandoned pruned DTW); cell arithmetic identical to {reference}"
)


def search_path(variant: Variant) -> str:
    """``"pruned"`` (exact k-NN search, k nearest kept) or ``"matrix"`` (full matrix).

    DTW computed by aeon's or ecgrepro's arithmetic takes the pruned search; sktime's
    DTW (the independent cross-check) and Euclidean distance take the matrix.
    """
    if variant.distance == "dtw" and variant.library in ("aeon", "ecgrepro"):
        return "pruned"
    return "matrix"


def describe(
    variant: Variant, length: int, radius: int | None, search: str = "matrix"
) -> dict:
    """The variant's definition, JSON-ready, for ``metrics.json``.

    ``search`` is how the neighbours were found (:func:`search_path`); it only
    changes the ``implementation`` entry, never the distance.
    """
    costs = {"squared": "(x - y)^2", "absolute": "|x - y|"}
    if variant.distance == "euclidean":
        formula = "sqrt(sum_t (x_t - y_t)^2)"
        window = {"kind": "none (lock-step)"}
    else:
        formula = (
            f"DTW: minimum over warping paths of the sum of {costs[variant.point_cost]} "
            "along the path (no square root)"
        )
        full = radius is None or radius >= length - 1
        window = {
            "kind": variant.window,
            "percent": variant.percent,
            "radius": None if radius is None else int(radius),
            "band": "unconstrained" if full else f"Sakoe-Chiba |i - j| <= {radius}",
            "percent_to_radius": "radius = ceil(percent * length / 100)",
            "aeon_window": None if radius is None else aeon_window(radius, length),
        }
    lib = variant.library
    if variant.distance == "euclidean":
        summary = "Euclidean"
    else:
        summary = f"DTW, {costs[variant.point_cost]}, {window['band']}"
    return {
        "name": variant.name,
        "label": variant.label,
        "summary": summary,
        "distance": variant.distance,
        "point_cost": costs[variant.point_cost] if variant.distance == "dtw" else None,
        "formula": formula,
        "window": window,
        "library": lib,
        "library_version": version("ecgrepro" if lib == "ecgrepro" else lib),
        "implementation": (
            PRUNED_IMPLEMENTATION.format(
                reference=IMPLEMENTATIONS[(variant.distance, variant.library)]
            )
            if search == "pruned"
            else IMPLEMENTATIONS[(variant.distance, variant.library)]
        ),
    }


def variant_radius(variant: Variant, length: int) -> int | None:
    """The band radius of a fixed-window variant; None for full windows and Euclidean."""
    if variant.window == "fixed":
        return percent_to_radius(variant.percent, length)
    return None
