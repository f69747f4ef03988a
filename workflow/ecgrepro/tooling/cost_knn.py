"""What the configured k-NN jobs will cost: DTW cells and core time, naive and pruned.

``python -m ecgrepro.cost knn --configfile config/config.yaml`` prints one line per
job the workflow will run (window-search blocks, k-NN blocks) with

* the cells the naive path computes (full matrices; the window search's one
  symmetric training matrix per distinct radius);
* the cells the pruned path is expected to compute, measured by running it on a
  sample of the job's rows (evenly spaced) and scaled to all of them;
* core time for both: the naive path from its cell rate measured now on this machine
  (a tiny matrix of the dataset's length and radius; the window search from a naive
  search on a few series), the pruned path from the sample's own time.

Data: the prepared dataset (``resources/prepared/ucr/<name>.npz``) or a mirror when
present, else z-normalised random walks of the dataset's shape (the UCR metadata);
the line says which. Random walks prune less than most real series (their DTW
neighbours are far apart), so the synthetic estimates are on the safe side. The
``learned`` test pass is estimated at the learned radius when the window search is
cheap enough to run here, else at the full window (an upper bound).
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ecgrepro.knn.core import variants as kv
from ecgrepro.knn.core.distances import distance_matrix
from ecgrepro.knn.core.search import band_cells, knn_search, window_nn
from ecgrepro.knn.core.window import learn_window, select_window
from ecgrepro.knn.jobs.blocks import block_sizes, subset_rows

def random_walks(n: int, length: int, rng) -> np.ndarray:
    """z-normalised random walks, one per row."""
    X = np.cumsum(rng.normal(size=(n, length)), axis=1)
    X -= X.mean(axis=1, keepdims=True)
    sd = X.std(axis=1, keepdims=True)
    return X / np.where(sd > 0, sd, 1.0)


@dataclass
class Data:
    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    source: str

    @property
    def length(self) -> int:
        return self.X_train.shape[1]


def dataset(name: str, mirror: str | None, seed: int = 0) -> Data | None:
    """The real data when found (prepared npz, then the mirror), else random walks."""
    from ecgrepro.data.ucr import load_prepared, load_splits, metadata_table

    prepared = Path("resources/prepared/ucr") / f"{name}.npz"
    if prepared.is_file():
        ds = load_prepared(prepared)
        return Data(name, ds.X_train, ds.y_train, ds.X_test, "real")
    if mirror:
        folder = Path(mirror) / "ucr" / name
        train, test = (folder / f"{name}_{s}.tsv" for s in ("TRAIN", "TEST"))
        if train.is_file() and test.is_file():
            ds = load_splits(name, train, test)
            return Data(name, ds.X_train, ds.y_train, ds.X_test, "real")
    meta = metadata_table().get(name)
    if meta is None:
        return None
    rng = np.random.default_rng(seed)
    X = random_walks(meta["train_size"] + meta["test_size"], meta["length"], rng)
    y = np.arange(meta["train_size"]) % meta["n_classes"]
    tr = meta["train_size"]
    return Data(name, X[:tr], y, X[tr:], "random walks")


class Rates:
    """Naive seconds per cell, measured once per (implementation, length, radius).

    Each rate is the slope between a small and a larger matrix, so fixed costs per
    call (sktime compiles its kernel on every call, about a second) do not inflate it.
    """

    def __init__(self, rng):
        self.rng = rng
        self.cache: dict = {}

    def matrix(self, variant, length: int, radius) -> float:

        per_pair = (
            length if variant.distance == "euclidean" else band_cells(length, radius)
        )
        key = (variant.library, variant.distance, variant.point_cost, length, per_pair)
        if key not in self.cache:
            # sktime's per-call compile varies by ~0.1 s: give its slope more cells
            target = 1.5e8 if variant.library == "sktime" else 2e7
            m = int(min(300, max(4, math.ceil(target / (2 * per_pair)))))
            X = random_walks(2 + m, length, self.rng)

            def seconds(cols):
                t0 = time.perf_counter()
                distance_matrix(variant, X[:2], X[2 : 2 + cols], radius, 1)
                return time.perf_counter() - t0

            seconds(2)  # compile
            small, large = seconds(m // 4), seconds(m)
            slope = (large - small) / (2 * (m - m // 4) * per_pair)
            self.cache[key] = slope if slope > 0 else large / (2 * m * per_pair)
        return self.cache[key]

    def window_pair(self, length: int, radii) -> float:
        """Naive window search: seconds per training pair over all ``radii`` (aeon).

        aeon's rate per cell, measured at a few radii and interpolated in the band's
        cell count, times each radius's cells.
        """

        key = ("window", length, tuple(radii))
        if key not in self.cache:
            var = kv.parse_variant("aeon-dtw")
            probe = sorted({0, length // 50, length // 10, length // 3, length - 1})
            cells = [band_cells(length, r) for r in probe]
            rate = [self.matrix(var, length, r) for r in probe]
            self.cache[key] = sum(
                band_cells(length, r)
                * float(np.interp(band_cells(length, r), cells, rate))
                for r in radii
            )
        return self.cache[key]


@dataclass
class Job:
    dataset: str
    variant: str
    job: str
    rows: int
    naive_cells: float
    pruned_cells: float
    naive_s: float
    pruned_s: float
    skipped_s: float = 0.0  # naive time of the test rows a cross-check subset leaves out


def _sample(n: int, k: int) -> np.ndarray:
    return np.unique(np.round(np.linspace(0, n - 1, min(k, n))).astype(np.int64))


def estimate(config: dict, mirror=None, sample: int = 8, seed: int = 0, log=print):
    """Every k-NN job of ``config`` with its naive and expected pruned cost."""

    knn = config["knn"]
    size = knn["block_size"]  # the validated config: schema defaults filled in
    kmax = max(knn["ks"])
    sub = knn["sktime_subset"]
    rng = np.random.default_rng(seed)
    rates = Rates(rng)
    jobs: list[Job] = []
    notes: list[str] = []
    # compile the pruned searches once, outside every timing
    Xw = random_walks(12, 16, rng)
    knn_search(Xw[:2], Xw, 3, 2, False, 1)
    knn_search(Xw[:2], Xw, 3, 2, True, 1)
    window_nn(Xw, [0], [0, 3, 15], 1)
    for name in config["ucr_datasets"]:
        data = dataset(name, mirror, seed)
        if data is None:
            notes.append(f"{name}: no data and no metadata; not estimated")
            continue
        L, n_train, n_test = data.length, len(data.X_train), len(data.X_test)
        label = f"{name} ({data.source})"
        log(f"measuring {label}: train {n_train}, test {n_test}, length {L}")
        for vname in knn["variants"]:
            var = kv.parse_variant(vname)
            radius = kv.variant_radius(var, L)
            if var.window == "learned":
                radii = [
                    min(kv.percent_to_radius(p, L), L - 1) for p in kv.LEARN_PERCENTS
                ]
                rows = _sample(n_train, sample)
                t0 = time.perf_counter()
                found, _, _, cells = window_nn(data.X_train, rows, radii, 1)
                per_s = (time.perf_counter() - t0) / len(rows)
                per_cells = cells.sum() / len(rows)
                pair_cells = sum(band_cells(L, r) for r in found)
                pair_s = rates.window_pair(L, found)
                nb = block_sizes(n_train, size)
                for i, m in enumerate(nb):
                    jobs.append(
                        Job(
                            label,
                            vname,
                            f"window {i}/{len(nb)}",
                            m,
                            m * (n_train - 1) / 2 * pair_cells,
                            m * per_cells,
                            m * (n_train - 1) / 2 * pair_s,
                            m * per_s,
                        )
                    )
                radius = None
                if per_s * n_train < 30:  # cheap: learn the real radius for the test pass
                    rows_all = learn_window(data.X_train, data.y_train, 1)
                    radius = select_window(rows_all)["radius"]
                    notes.append(
                        f"{name} learned: test pass at the learned radius {radius}"
                    )
                else:
                    notes.append(
                        f"{name} learned: test pass at the full window (upper bound)"
                    )
            n_rows = n_test
            subset = subset_rows(
                var, n_test, n_train, L, sub["max_cells"], sub["rows"]
            )
            if subset is not None:
                n_rows = len(subset)
                notes.append(
                    f"{name} {vname}: cross-check on {n_rows} of {n_test} test rows"
                )
            per_pair = L if var.distance == "euclidean" else band_cells(L, radius)
            naive_rate = rates.matrix(var, L, radius)
            skipped = (n_test - n_rows) * n_train * per_pair * naive_rate
            pruned = kv.search_path(var) == "pruned"
            if pruned:
                rows = _sample(n_test, sample)
                t0 = time.perf_counter()
                _, _, cells = knn_search(
                    data.X_test[rows],
                    data.X_train,
                    radius,
                    kmax,
                    var.point_cost == "absolute",
                    1,
                )
                per_s = (time.perf_counter() - t0) / len(rows)
                per_cells = cells.sum() / len(rows)
            blocks = block_sizes(n_rows, size)
            for i, m in enumerate(blocks):
                naive_cells = m * n_train * per_pair
                naive_s = naive_cells * naive_rate
                jobs.append(
                    Job(
                        label,
                        vname,
                        f"block {i}/{len(blocks)}",
                        m,
                        naive_cells,
                        m * per_cells if pruned else naive_cells,
                        naive_s,
                        m * per_s if pruned else naive_s,
                        skipped / len(blocks),
                    )
                )
    return jobs, notes


def _cells(x: float) -> str:
    return f"{x:9.2e}"


def _time(s: float) -> str:
    if s < 120:
        return f"{s:7.1f} s"
    if s < 7200:
        return f"{s / 60:7.1f} m"
    return f"{s / 3600:7.2f} h"


def report(jobs: list[Job], notes: list[str], config_name: str, out=print) -> dict:
    """Print the per-job lines, a per-(dataset, variant) summary and the totals."""
    out(
        f"k-NN cost for {config_name}: DTW cells and core time per job "
        "(1 core; naive rates and pruned samples measured now, on this machine)"
    )
    head = (
        f"{'dataset':34} {'variant':12} {'job':12} {'rows':>5} {'naive cells':>11} "
        f"{'pruned cells':>12} {'naive time':>10} {'pruned time':>11}"
    )
    out(head)
    for j in jobs:
        out(
            f"{j.dataset:34} {j.variant:12} {j.job:12} {j.rows:5d} {_cells(j.naive_cells):>11} "
            f"{_cells(j.pruned_cells):>12} {_time(j.naive_s):>10} {_time(j.pruned_s):>11}"
        )
    out("")
    out("per dataset and variant (core-hours):")
    summary: dict = {}
    for j in jobs:
        s = summary.setdefault((j.dataset, j.variant), [0.0, 0.0, 0])
        s[0] += j.naive_s
        s[1] += j.pruned_s
        s[2] += 1
    out(
        f"{'dataset':34} {'variant':12} {'jobs':>4} {'naive h':>9} {'pruned h':>9} {'speed-up':>8}"
    )
    for (d, v), (a, b, n) in summary.items():
        out(
            f"{d:34} {v:12} {n:4d} {a / 3600:9.3f} {b / 3600:9.3f} {a / max(b, 1e-9):8.1f}"
        )
    naive = sum(j.naive_s for j in jobs) / 3600
    pruned = sum(j.pruned_s for j in jobs) / 3600
    before = naive + sum(j.skipped_s for j in jobs) / 3600
    for note in notes:
        out(f"note: {note}")
    out(
        f"without pruning or subsets (every variant a full matrix, sktime-dtw on every "
        f"test row): {before:.2f} core-hours"
    )
    out(
        f"total: naive {naive:.2f} core-hours, pruned {pruned:.2f} core-hours "
        f"({len(jobs)} block jobs)"
    )
    return {
        "naive_core_hours": naive,
        "pruned_core_hours": pruned,
        "before_core_hours": before,
        "summary": summary,
    }


def main(argv=None) -> int:
    """``python -m ecgrepro.cost knn [--configfile ...]``: print every job's cost."""
    from ecgrepro.errors import EcgreproError
    from ecgrepro.config import load_config

    parser = argparse.ArgumentParser(
        prog="python -m ecgrepro.cost knn",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--configfile",
        nargs="*",
        default=[],
        help="config files overlaid on config/config.yaml, as Snakemake does",
    )
    parser.add_argument(
        "--config", nargs="*", default=[], help="KEY=VALUE overrides, as for snakemake"
    )
    parser.add_argument("--data-mirror", help="directory with ucr/<name>/*.tsv (real data)")
    parser.add_argument(
        "--sample",
        type=int,
        default=8,
        help="rows per job kind run through the pruned search to measure it",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random walks")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    log = logging.getLogger("ecgrepro")
    try:
        config = load_config(args.configfile, args.config)
        jobs, notes = estimate(
            config, args.data_mirror, args.sample, args.seed, log=lambda m: log.info("%s", m)
        )
    except EcgreproError as exc:
        log.error("%s", exc)
        return 1
    report(jobs, notes, " + ".join(args.configfile) or "config/config.yaml")
    return 0
