"""Exact pruned DTW searches (ecgrepro.knn.core): same neighbours, windows and files as naive."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecgrepro.knn.core import distances as kd
from ecgrepro.knn.core import variants as kv
from ecgrepro.knn.core import window as win
from ecgrepro.data.ucr import UCRDataset, load_splits, save_prepared
from ecgrepro.knn.core.search import band_cells, knn_search, window_nn
from ecgrepro.knn.jobs import blocks, scatter
from ecgrepro.errors import EcgreproError
from ecgrepro.knn.jobs.run import fit_predict, run_knn
from ecgrepro.tooling.cost_knn import estimate, random_walks, report

REPO = Path(__file__).resolve().parents[1]
TWO_LEAD = REPO.parent / "shared" / "data" / "ucr" / "TwoLeadECG"
RESULT_FILES = ("predictions.csv", "accuracy.csv", "confusion.csv")


def walks(n, length, seed):
    return random_walks(n, length, np.random.default_rng(seed))


def ties(n, length, seed, levels=3):
    """Small-integer series: DTW values are exact integers, ties everywhere."""
    X = np.random.default_rng(seed).integers(0, levels, size=(n, length)).astype(float)
    X[1] = X[0]  # and two identical series
    return X


def naive_knn(Q, T, radius, k, absolute):
    D = (
        kd.l1_dtw_matrix(Q, T, radius, 1)
        if absolute
        else kd.aeon_dtw_matrix(Q, T, radius, 1)
    )
    order = np.argsort(D, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(D, order, 1)


# --- k nearest: exactly the stable argsort of the full matrix ----------------------------


@pytest.mark.parametrize("absolute", [False, True], ids=["squared", "absolute"])
@pytest.mark.parametrize(
    "make,n_train,n_test,length",
    [(walks, 30, 9, 40), (walks, 12, 5, 97), (walks, 40, 6, 8), (ties, 25, 8, 20)],
)
def test_knn_search_is_the_full_matrix_for_every_k(
    make, n_train, n_test, length, absolute
):
    X = make(n_train + n_test, length, seed=n_train)
    T, Q = X[:n_train], X[n_train:]
    for radius in (0, 1, length // 10, length // 3, None):
        want_idx, want_d = naive_knn(Q, T, radius, 10, absolute)
        idx, dist, cells = knn_search(Q, T, radius, 10, absolute, threads=2)
        assert np.array_equal(idx, want_idx), radius  # ties by training index
        assert np.array_equal(dist, want_d), radius  # bit for bit
        assert cells.sum() <= n_test * n_train * band_cells(length, radius)


def test_knn_search_all_neighbours_is_every_distance_bit_for_bit():
    X = walks(19, 33, seed=5)
    for radius in (0, 3, None):
        idx, dist, _ = knn_search(X[:4], X[4:], radius, 15)
        D = kd.aeon_dtw_matrix(X[:4], X[4:], radius, 1)
        assert np.array_equal(np.take_along_axis(D, idx, 1), dist)
        assert np.array_equal(np.sort(D, axis=1), dist)


def test_equal_distances_resolve_by_training_index():
    base = walks(3, 25, seed=1)
    T = np.vstack([base[1], base[0], base[1], base[0], base[2]])  # duplicates at 0/2, 1/3
    idx, dist, _ = knn_search(base[:1] + 0.01, T, 2, 5)
    assert dist[0, 0] == dist[0, 1] and dist[0, 2] == dist[0, 3]
    assert list(idx[0, :2]) in ([1, 3], [0, 2]) and idx[0, 0] < idx[0, 1]
    assert idx[0, 2] < idx[0, 3]


# --- learned window: the same LOO table as one matrix per radius -------------------------


@pytest.mark.parametrize(
    "make,n,length,classes",
    [(walks, 16, 50, 2), (walks, 10, 120, 3), (walks, 25, 12, 4), (ties, 14, 18, 2)],
)
def test_pruned_window_search_equals_naive(make, n, length, classes):
    X = make(n, length, seed=n + length)
    y = np.arange(n) % classes
    naive = win.learn_window(X, y, 1, method="naive")
    pruned = win.learn_window(X, y, 2, method="pruned")
    assert pruned == naive
    assert win.select_window(pruned) == win.select_window(naive)


def test_window_nn_neighbours_and_distances_per_radius():
    X = walks(12, 30, seed=9)
    radii, nn, dist, _ = window_nn(X, np.arange(12), range(0, 30, 4))
    assert list(radii) == sorted(set(range(0, 30, 4)), reverse=True)
    for c, r in enumerate(radii):
        D = kd.aeon_dtw_matrix(X, None, int(r), 1)
        np.fill_diagonal(D, np.inf)
        assert np.array_equal(nn[:, c], np.argmin(D, axis=1))
        assert np.array_equal(dist[:, c], D.min(axis=1))


def test_window_search_on_identical_series_keeps_the_smallest_percentage():
    X = np.tile(walks(1, 10, seed=2), (6, 1))
    rows = win.learn_window(X, np.arange(6) % 2, 1, range(0, 101, 25))
    assert win.select_window(rows)["percent"] == 0
    assert rows == win.learn_window(X, np.arange(6) % 2, 1, range(0, 101, 25), "naive")


# --- through fit_predict: every variant, pruned and matrix paths agree -------------------


def _dataset(n_train=14, n_test=11, length=26, classes=3, seed=0, name="Walks"):
    X = walks(n_train + n_test, length, seed)
    return UCRDataset(
        name=name,
        X_train=X[:n_train],
        y_train=np.arange(n_train) % classes,
        X_test=X[n_train:],
        y_test=(np.arange(n_test) * 7) % classes,
        classes=np.asarray([str(c) for c in range(classes)]),
    )


@pytest.mark.parametrize(
    "variant", ["aeon-dtw", "aeon-dtw-w10", "learned", "blog-dtw-l1"]
)
def test_fit_predict_pruned_equals_matrix(variant):
    ds = _dataset(seed=len(variant))
    fast = fit_predict(ds, variant, range(1, 11), 2)
    slow = fit_predict(ds, variant, range(1, 11), 1, search="matrix")
    assert fast.search["path"] == "pruned" and slow.search["path"] == "matrix"
    assert fast.radius == slow.radius and fast.window_search == slow.window_search
    for k in range(1, 11):
        assert np.array_equal(fast.predictions[k], slow.predictions[k])
    order = np.argsort(slow.distances, axis=1, kind="stable")[:, :10]
    assert np.array_equal(fast.neighbours, order)
    assert np.array_equal(fast.distances, np.take_along_axis(slow.distances, order, 1))


def test_search_paths_are_documented():
    assert kv.search_path(kv.parse_variant("aeon-dtw")) == "pruned"
    assert kv.search_path(kv.parse_variant("aeon-dtw-w7")) == "pruned"
    assert kv.search_path(kv.parse_variant("learned")) == "pruned"
    assert kv.search_path(kv.parse_variant("blog-dtw-l1")) == "pruned"
    assert kv.search_path(kv.parse_variant("sktime-dtw")) == "matrix"
    assert kv.search_path(kv.parse_variant("euclidean")) == "matrix"


# --- scatter and gather: any number of blocks, the same results --------------------------


def _scattered(tmp, npz, variant, n_blocks, ks, subset=(None, None)):
    window = None
    if variant == "learned":
        wb = [tmp / f"w{b}.npz" for b in range(n_blocks)]
        for b, path in enumerate(wb):
            scatter.window_block(npz, b, n_blocks, 2, path)
        window = tmp / "window.json"
        scatter.window_gather(npz, wb, window)
    blocks = [tmp / f"k{b}.npz" for b in range(n_blocks)]
    for b, path in enumerate(blocks):
        scatter.knn_block(npz, variant, ks, b, n_blocks, 2, path, window, *subset)
    out = tmp / "run"
    scatter.knn_gather(npz, variant, ks, blocks, out, 2, window)
    return out


def _same_run(a: Path, b: Path, names) -> None:
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    with np.load(a / "distances.npz") as x, np.load(b / "distances.npz") as y:
        assert x.files == y.files
        for key in x.files:
            assert np.array_equal(x[key], y[key]), key


@pytest.mark.parametrize("variant", ["learned", "aeon-dtw", "blog-dtw-l1", "euclidean"])
def test_1_3_7_blocks_give_byte_identical_results(tmp_path, variant):
    ds = _dataset(n_train=12, n_test=17, length=24, seed=3, name="Blocks")
    npz = tmp_path / "Blocks.npz"
    save_prepared(ds, npz)
    ks = tuple(range(1, 11))
    runs = {}
    for n_blocks in (1, 3, 7):
        (tmp_path / f"b{n_blocks}").mkdir()
        runs[n_blocks] = _scattered(tmp_path / f"b{n_blocks}", npz, variant, n_blocks, ks)
    names = RESULT_FILES + (("window_search.csv",) if variant == "learned" else ())
    for n_blocks in (3, 7):
        _same_run(runs[1], runs[n_blocks], names)
        metrics = json.loads((runs[n_blocks] / "metrics.json").read_text())
        assert metrics["search"]["blocks"] == n_blocks
    single = tmp_path / "single"  # and the same as the unscattered run
    run_knn(npz, variant, ks, 1, single)
    _same_run(runs[1], single, names)


def test_sktime_cross_check_on_a_subset_says_which_rows(tmp_path):
    ds = _dataset(n_train=12, n_test=17, length=24, seed=4, name="Subset")
    npz = tmp_path / "Subset.npz"
    save_prepared(ds, npz)
    ks, subset = (1, 2, 3), (1.0, 9)  # any matrix exceeds 1 cell: 9 evenly spaced rows
    runs = {}
    for n_blocks in (1, 2):
        (tmp_path / f"b{n_blocks}").mkdir()
        runs[n_blocks] = _scattered(
            tmp_path / f"b{n_blocks}", npz, "sktime-dtw", n_blocks, ks, subset
        )
    _same_run(runs[1], runs[2], RESULT_FILES)
    pred = pd.read_csv(runs[2] / "predictions.csv")
    assert sorted(set(pred["case_id"])) == [0, 2, 4, 6, 8, 10, 12, 14, 16]
    metrics = json.loads((runs[2] / "metrics.json").read_text())
    assert metrics["test_rows"]["checked"] == 9 and metrics["test_rows"]["of"] == 17
    assert metrics["test_rows"]["case_ids"] == [0, 2, 4, 6, 8, 10, 12, 14, 16]
    acc = pd.read_csv(runs[2] / "accuracy.csv")
    assert (acc["n_test"] == 9).all() and acc["test_rows"].str.startswith("9 of 17").all()
    # the checked rows' predictions are those of the full matrix
    full = fit_predict(ds, "sktime-dtw", ks, 1)
    for k in ks:
        got = pred[pred.k == k].sort_values("case_id")["y_pred"].astype(str).to_numpy()
        want = ds.classes[full.predictions[k][::2]]
        assert np.array_equal(got, want)


def test_gather_refuses_missing_duplicate_or_foreign_blocks(tmp_path):
    ds = _dataset(name="Refuse")
    npz = tmp_path / "Refuse.npz"
    save_prepared(ds, npz)
    ks = (1, 2, 3)
    paths = [tmp_path / f"b{i}.npz" for i in range(3)]
    for i, p in enumerate(paths):
        scatter.knn_block(npz, "aeon-dtw", ks, i, 3, 1, p)
    with pytest.raises(EcgreproError, match="exactly once"):
        scatter.knn_gather(npz, "aeon-dtw", ks, paths[:2], tmp_path / "out")
    with pytest.raises(EcgreproError, match="exactly once"):
        scatter.knn_gather(npz, "aeon-dtw", ks, paths + paths[:1], tmp_path / "out")
    with pytest.raises(EcgreproError, match="expected aeon-dtw-w5"):
        scatter.knn_gather(npz, "aeon-dtw-w5", ks, paths, tmp_path / "out")
    with pytest.raises(EcgreproError, match="ks"):
        scatter.knn_gather(npz, "aeon-dtw", (1, 2), paths, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_block_rows_split_evenly_and_completely():
    for n in (0, 1, 5, 17, 100):
        for b in (1, 3, 7):
            rows = np.concatenate([blocks.block_rows(n, i, b) for i in range(b)])
            assert np.array_equal(rows, np.arange(n))
    with pytest.raises(EcgreproError):
        blocks.block_rows(10, 3, 3)


def test_n_blocks_is_what_the_workflow_plans():
    """The package's count (common.smk asks it): ceil(rows / block_size), sktime cut."""
    knn = {"block_size": 100, "sktime_subset": {"max_cells": 5e11, "rows": 200}}
    big = "NonInvasiveFetalECGThorax1"  # 1800 train, 1965 test, length 750
    assert blocks.n_blocks(big, "aeon-dtw", knn) == 20
    assert blocks.n_blocks(big, "sktime-dtw", knn) == 2  # 200 evenly spaced rows
    assert blocks.window_n_blocks(big, knn) == 18
    every = {**knn, "sktime_subset": {"max_cells": None, "rows": None}}
    assert blocks.n_blocks(big, "sktime-dtw", every) == 20
    assert blocks.n_blocks("NotInTheMetadata", "aeon-dtw", knn) == 1
    assert blocks.block_sizes(1965, 100) == [
        len(blocks.block_rows(1965, i, 20)) for i in range(20)
    ]


# --- cost dry run, perf parser, the workflow's plan ---------------------------------------


def test_cost_estimate_lists_every_job(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no prepared data here: random walks of the shape
    from ecgrepro.config import load_config

    # the tooling's loader: config.yaml, these overrides, the schema's defaults
    config = load_config(
        overrides=[
            'ucr_datasets=["ECG200"]',
            'knn={"variants": ["euclidean", "aeon-dtw", "learned"], "ks": [1, 2, 3], '
            '"block_size": 40}',
        ]
    )
    jobs, notes = estimate(config, sample=2)
    kinds = [(j.variant, j.job) for j in jobs]
    # ECG200: 100 train, 100 test -> 3 test blocks per variant, 3 window blocks
    assert kinds.count(("learned", "window 0/3")) == 1
    assert sum(1 for v, j in kinds if j.startswith("block")) == 9
    for j in jobs:
        assert 0 < j.pruned_cells <= j.naive_cells * 1.0001 and j.naive_s > 0
    lines = []
    totals = report(jobs, notes, "test", out=lines.append)
    assert lines[-1].startswith("total: naive") and totals["naive_core_hours"] > 0
    assert any("ECG200 (random walks)" in line for line in lines)


def test_perf_knn_scale_is_registered():
    from ecgrepro.perf import BENCHMARKS
    from ecgrepro.tooling.perf_knn_scale import build_parser

    assert BENCHMARKS["knn_scale"] == "ecgrepro.tooling.perf_knn_scale"
    args = build_parser().parse_args(["--n-window", "8"])
    assert args.func.__name__ == "perf_knn_scale" and args.length == 750


def test_workflow_plans_blocks_from_block_size(tmp_path):
    from ecgrepro.data.ucr import metadata_table

    bin_dir = Path(sys.executable).parent
    cmd = [str(bin_dir / "snakemake"), "-s", str(REPO / "Snakefile"), "-n", "knn"]
    # runs of data not yet verified listed too (a stand-in identity, as ecgrepro.cost)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "ECGREPRO_PLAN_UNVERIFIED": "1"}
    out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    table = out.stdout.split("Job stats:", 1)[1].split("total", 1)[0]
    counts = {
        line.split()[0]: int(line.split()[1])
        for line in table.splitlines()
        if len(line.split()) == 2 and line.split()[1].isdigit()
    }
    import yaml

    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["knn"]
    meta = metadata_table()
    blocks = windows = 0
    for name in yaml.safe_load((REPO / "config" / "config.yaml").read_text())[
        "ucr_datasets"
    ]:
        m = meta[name]
        for v in cfg["variants"]:
            rows = m["test_size"]
            sub = cfg["sktime_subset"]
            if (
                v == "sktime-dtw"
                and rows * m["train_size"] * m["length"] ** 2 > sub["max_cells"]
            ):
                rows = min(rows, sub["rows"])
            blocks += math.ceil(rows / cfg["block_size"])
        if "learned" in cfg["variants"]:
            windows += math.ceil(m["train_size"] / cfg["block_size"])
    assert counts["knn_block"] == blocks and counts["knn_window_block"] == windows
    assert counts["knn_run"] == len(cfg["variants"]) * 7


# --- the real TwoLeadECG ---------------------------------------------------------------


@pytest.fixture(scope="module")
def two_lead():
    if not (TWO_LEAD / "TwoLeadECG_TRAIN.tsv").is_file():
        pytest.skip(
            f"real data absent: {TWO_LEAD} (../shared/data beside the repository)"
        )
    return load_splits(
        "TwoLeadECG", TWO_LEAD / "TwoLeadECG_TRAIN.tsv", TWO_LEAD / "TwoLeadECG_TEST.tsv"
    )


@pytest.mark.shared_data
@pytest.mark.parametrize("variant", ["aeon-dtw", "aeon-dtw-w4", "learned", "blog-dtw-l1"])
def test_two_lead_pruned_equals_matrix(two_lead, variant):
    fast = fit_predict(two_lead, variant, range(1, 11), 2)
    slow = fit_predict(two_lead, variant, range(1, 11), 2, search="matrix")
    order = np.argsort(slow.distances, axis=1, kind="stable")[:, :10]
    assert np.array_equal(fast.neighbours, order)
    assert np.array_equal(fast.distances, np.take_along_axis(slow.distances, order, 1))
    for k in range(1, 11):
        assert np.array_equal(fast.predictions[k], slow.predictions[k])
    assert fast.window_search == slow.window_search and fast.radius == slow.radius
    if variant == "learned":
        assert fast.selected["percent"] == 4 and fast.radius == 4
