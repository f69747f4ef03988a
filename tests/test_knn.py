"""k-NN baselines: vote rules, input checks, distances against libraries, UCR figures."""

from __future__ import annotations

import itertools
import json
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
from ecgrepro.errors import DataError, EcgreproError
from ecgrepro.knn.core.vote import check_ks, parse_ks, sweep
from ecgrepro.knn.jobs.run import run_knn
from ecgrepro.provenance import collect_provenance, sha256_file, write_json

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
TWO_LEAD = SHARED / "ucr" / "TwoLeadECG"
OUTPUTS = (
    "distances.npz",
    "predictions.csv",
    "accuracy.csv",
    "confusion.csv",
    "timings.json",
    "metrics.json",
    "provenance.json",
)


def tiny(name="Tiny", classes=("1", "2"), n_train=8, n_test=6, length=12, seed=0):
    """A small random dataset, labels cycling over ``classes``."""
    rng = np.random.default_rng(seed)
    c = len(classes)
    return UCRDataset(
        name=name,
        X_train=rng.normal(size=(n_train, length)),
        y_train=np.arange(n_train) % c,
        X_test=rng.normal(size=(n_test, length)),
        y_test=np.arange(n_test) % c,
        classes=np.asarray(classes, dtype=str),
    )


def prepared(tmp_path, ds) -> Path:
    path = tmp_path / f"{ds.name}.npz"
    save_prepared(ds, path)
    return path


# --- vote and tie rules -----------------------------------------------------------------


def test_neighbour_ties_go_to_the_smaller_training_index():
    D = np.array([[1.0, 1.0, 2.0]])
    assert sweep(D, np.array([1, 0, 0]), [1], 2)[1][0] == 1  # index 0 first
    assert sweep(D, np.array([0, 1, 0]), [1], 2)[1][0] == 0


def test_vote_ties_go_to_the_smallest_label_and_majority_wins():
    D = np.array([[0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1]])
    y = np.array([1, 0, 0, 1])
    preds = sweep(D, y, [1, 2, 3, 4], 2)
    assert preds[1].tolist() == [1, 1]
    assert preds[2].tolist() == [0, 0]  # one vote each: smallest label
    assert preds[3].tolist() == [0, 0]  # 2 of 3
    assert preds[4].tolist() == [0, 0]  # 2 vs 2


def test_three_class_tie_between_the_larger_labels():
    D = np.array([[0.1, 0.2, 0.3]])
    assert sweep(D, np.array([2, 1, 0]), [2], 3)[2][0] == 1  # 2 vs 1 tied: 1
    assert sweep(D, np.array([2, 1, 0]), [3], 3)[3][0] == 0  # three-way tie: 0


def test_k_larger_than_training_set_is_an_error(tmp_path):
    path = prepared(tmp_path, tiny(n_train=5))
    with pytest.raises(
        EcgreproError, match=r"Tiny: k = 6 is larger than the training set"
    ):
        run_knn(path, "euclidean", range(1, 7), 1, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "text,ks", [("1-10", tuple(range(1, 11))), ("1..3", (1, 2, 3)), ("5,1,3", (1, 3, 5))]
)
def test_parse_ks(text, ks):
    assert parse_ks(text) == ks


@pytest.mark.parametrize("bad", [[0], [-1, 2], []])
def test_bad_ks(bad):
    with pytest.raises(EcgreproError, match="positive integers"):
        check_ks(bad)


# --- input checks -----------------------------------------------------------------------


def test_nan_is_an_error_naming_dataset_split_and_row(tmp_path):
    ds = tiny(name="Holes")
    ds.X_test[3, 5] = np.nan
    with pytest.raises(DataError, match=r"Holes: TEST row 3 has 1 missing"):
        run_knn(prepared(tmp_path, ds), "aeon-dtw", [1], 1, tmp_path / "out")


def test_unequal_lengths_are_an_error_naming_dataset_split_and_row(tmp_path):
    ds = tiny(name="Ragged")
    ds.X_train[1, 9:] = np.nan  # the archive's padding of a shorter series
    with pytest.raises(DataError, match=r"Ragged: TRAIN row 1 is 9 points long.*unequal"):
        run_knn(prepared(tmp_path, ds), "euclidean", [1], 1, tmp_path / "out")


@pytest.mark.parametrize("name", ["dtw", "aeon-dtw-w101", "aeon-dtw-w", "sktime"])
def test_unknown_variant_lists_the_valid_ones(name):
    with pytest.raises(EcgreproError, match="blog-dtw-l1"):
        kv.parse_variant(name)


def test_fixed_window_variant_is_parsed():
    v = kv.parse_variant("aeon-dtw-w4")
    assert (v.window, v.percent, v.library, v.point_cost) == (
        "fixed",
        4,
        "aeon",
        "squared",
    )
    assert kv.variant_radius(v, 82) == 4


# --- labels, outputs, atomicity ---------------------------------------------------------


@pytest.mark.parametrize("classes", [("-1", "1"), ("1", "2", "3"), ("a", "b", "c", "d")])
def test_any_labels_and_class_counts(tmp_path, classes):
    ds = tiny(classes=classes, n_train=12, n_test=8)
    out = tmp_path / "run"
    metrics = run_knn(prepared(tmp_path, ds), "euclidean", [1, 3], 1, out)
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUTS)
    pred = pd.read_csv(out / "predictions.csv", dtype={"y_true": str, "y_pred": str})
    assert list(pred.columns) == ["case_id", "k", "y_true", "y_pred"]
    assert set(pred["y_true"]) <= set(classes) and set(pred["y_pred"]) <= set(classes)
    assert (pred.groupby("k").size() == len(ds.y_test)).all()
    acc = pd.read_csv(out / "accuracy.csv")
    conf = pd.read_csv(out / "confusion.csv", dtype={"true": str, "pred": str})
    for k, row in acc.set_index("k").iterrows():
        hits = pred[(pred.k == k) & (pred.y_true == pred.y_pred)]
        assert row["n_correct"] == len(hits) and row["n_test"] == len(ds.y_test)
        c = conf[conf.k == k]
        assert len(c) == len(classes) ** 2 and c["count"].sum() == len(ds.y_test)
        assert c.loc[c["true"] == c["pred"], "count"].sum() == len(hits)
    assert metrics["classes"] == list(classes)
    assert "smallest label" in metrics["vote_tie_rule"]
    assert "training index" in metrics["neighbour_tie_rule"]


def test_failure_leaves_no_partial_run(tmp_path, monkeypatch):
    path = prepared(tmp_path, tiny())
    out = tmp_path / "knn" / "Tiny" / "euclidean"
    run_knn(path, "euclidean", [1], 1, out)
    before = (out / "metrics.json").read_text()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", boom)
    with pytest.raises(OSError, match="disk full"):
        run_knn(path, "euclidean", [1, 2], 1, out)
    assert (out / "metrics.json").read_text() == before  # the old run is intact
    assert [p.name for p in out.parent.iterdir()] == ["euclidean"]  # no leftovers


@pytest.mark.parametrize(
    "variant",
    ["aeon-dtw", "aeon-dtw-w10", "learned", "euclidean", "blog-dtw-l1", "sktime-dtw"],
)
def test_results_do_not_depend_on_threads(tmp_path, variant):
    ds = tiny(n_train=10, n_test=9, length=20, seed=3)
    path = prepared(tmp_path, ds)
    runs = [tmp_path / f"t{n}" for n in (1, 2)]
    for n, out in zip((1, 2), runs):
        run_knn(path, variant, [1, 2, 3], n, out)
    with np.load(runs[0] / "distances.npz") as a, np.load(runs[1] / "distances.npz") as b:
        assert np.array_equal(a["distances"], b["distances"])
    for name in ("predictions.csv", "accuracy.csv", "confusion.csv"):
        assert (runs[0] / name).read_bytes() == (runs[1] / name).read_bytes()


# --- distances against libraries --------------------------------------------------------


def _brute_l1_dtw(x, y, radius):
    """Minimum over every warping path in the band of the sum of |x_i - y_j|."""
    n = len(x)
    best = np.inf

    def walk(i, j, cost):
        nonlocal best
        if abs(i - j) > radius:
            return
        cost += abs(x[i] - y[j])
        if (i, j) == (n - 1, n - 1):
            best = min(best, cost)
            return
        for di, dj in ((1, 0), (0, 1), (1, 1)):
            if i + di < n and j + dj < n:
                walk(i + di, j + dj, cost)

    walk(0, 0, 0.0)
    return best


def test_l1_dtw_equals_brute_force_enumeration():
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(3, 6)), rng.normal(size=(4, 6))
    for radius in (0, 1, 2, None):
        D = kd.l1_dtw_matrix(X, Y, radius, 1)
        r = 6 if radius is None else radius
        want = [[_brute_l1_dtw(x, y, r) for y in Y] for x in X]
        np.testing.assert_allclose(D, want, rtol=1e-12)


def _thresholds(X, levels):
    """Integer series as 0/1 step indicators: sum over channels of squared
    differences equals |x - y|, so aeon's (squared-cost) DTW becomes L1 DTW."""
    t = np.arange(levels)[None, :, None] + 0.5
    return (X[:, None, :] > t).astype(np.float64)  # (n, levels, length)


def test_l1_dtw_equals_aeon_dtw_on_threshold_embedding():
    from aeon.distances import dtw_pairwise_distance

    rng = np.random.default_rng(2)
    X = rng.integers(0, 10, size=(5, 15)).astype(float)
    Y = rng.integers(0, 10, size=(4, 15)).astype(float)
    for radius in (0, 1, 3, 14):
        ours = kd.l1_dtw_matrix(X, Y, radius, 2)
        window = kv.aeon_window(radius, 15)
        theirs = dtw_pairwise_distance(
            _thresholds(X, 10), _thresholds(Y, 10), window=window
        )
        np.testing.assert_array_equal(ours, theirs)
    assert not np.array_equal(
        kd.l1_dtw_matrix(X, Y, None, 1), dtw_pairwise_distance(X, Y)
    )  # and it is not squared DTW


def test_percent_to_radius_is_the_ceiling_in_integers():
    assert kv.percent_to_radius(4, 82) == 4  # ceil(3.28)
    assert kv.percent_to_radius(7, 100) == 7  # float 0.07 * 100 would ceil to 8
    assert kv.percent_to_radius(0, 82) == 0
    assert kv.percent_to_radius(100, 82) == 82
    with pytest.raises(EcgreproError):
        kv.percent_to_radius(101, 82)


def test_aeon_window_gives_exactly_the_radius():
    from aeon.distances import create_bounding_matrix

    for length in range(1, 601):
        for radius in range(length - 1):
            w = kv.aeon_window(radius, length)
            assert int(w * length) == radius
    assert kv.aeon_window(81, 82) is None and kv.aeon_window(90, 82) is None
    i, j = np.indices((82, 82))
    for radius in (0, 1, 3, 4, 40, 80):
        band = create_bounding_matrix(82, 82, window=kv.aeon_window(radius, 82))
        assert np.array_equal(band, np.abs(i - j) <= radius)


def test_window_ties_go_to_the_smallest_percentage():
    rows = [
        {"percent": p, "radius": p, "loo_correct": c, "loo_accuracy": c / 10}
        for p, c in [(0, 7), (1, 9), (2, 9), (3, 8)]
    ]
    assert win.select_window(rows)["percent"] == 1
    ds = tiny(n_train=6, length=10)
    X = np.tile(ds.X_train[:1], (6, 1))  # identical series: every window ties
    found = win.learn_window(X, ds.y_train, 1, range(0, 101, 25))
    assert win.select_window(found)["percent"] == 0


def test_sktime_matrix_is_sktimes_dtwdist():
    from sktime.dists_kernels import DtwDist

    ds = tiny(n_train=7, n_test=5, length=16, seed=4)
    theirs = DtwDist().transform(ds.X_test[:, None, :], ds.X_train[:, None, :])
    np.testing.assert_array_equal(kd.sktime_dtw_matrix(ds.X_test, ds.X_train, 2), theirs)


# --- provenance and aggregate -----------------------------------------------------------


def test_provenance_and_atomic_json(tmp_path):
    data = tmp_path / "d.bin"
    data.write_bytes(b"ecg" * 1000)
    prov = collect_provenance(seed=7, data_files=[data], extra={"step": "x"})
    assert prov["seed"] == 7 and prov["extra"] == {"step": "x"}
    assert prov["data_files"][0]["sha256"] == sha256_file(data)
    assert set(prov["packages"]) >= {"numpy", "aeon", "sktime", "numba", "torch"}
    assert {"commit", "dirty"} <= set(prov["git"])
    assert "OMP_NUM_THREADS" in prov["thread_env"]
    write_json(tmp_path / "p.json", {**prov, "a": np.float64(0.5), "b": np.arange(2)})
    loaded = json.loads((tmp_path / "p.json").read_text())
    assert loaded["a"] == 0.5 and loaded["b"] == [0, 1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.bin", "p.json"]


def test_aggregate_table_and_plot(tmp_path):
    from ecgrepro.aggregate.knn import UCR_REFERENCES, knn_table, plot_knn

    csvs = []
    for ds in (tiny("TwoLeadECG"), tiny("Other", seed=5)):
        path = prepared(tmp_path, ds)
        for variant in ("euclidean", "aeon-dtw"):
            out = tmp_path / ds.name / variant
            run_knn(path, variant, [1, 2, 3], 1, out)
            csvs.append(out / "accuracy.csv")
    table = knn_table(csvs)
    assert len(table) == 12
    assert {
        "dataset",
        "variant",
        "k",
        "accuracy",
        "n_test",
        "vote_rule",
        "distance",
    } <= set(table.columns)
    plot_knn(table, tmp_path / "f.png", tmp_path / "f.pdf", UCR_REFERENCES)
    assert (tmp_path / "f.png").stat().st_size > 0 and (
        tmp_path / "f.pdf"
    ).stat().st_size > 0
    with pytest.raises(EcgreproError, match="twice"):
        knn_table(csvs + csvs[:1])


def test_aggregate_writes_the_knn_table_and_figure(tmp_path):
    """The aggregate's knn.csv is knn_table's rows; the figure rebuilds byte for byte."""
    from ecgrepro.aggregate.build import _plot_knn, read_table, write_knn
    from ecgrepro.aggregate.knn import COLUMNS, knn_table

    ds = tiny("TwoLeadECG")
    path = prepared(tmp_path, ds)
    runs = []
    for variant in ("euclidean", "aeon-dtw"):
        runs.append(tmp_path / "knn" / ds.name / variant)
        run_knn(path, variant, [1, 2], 1, runs[-1])
    table = knn_table([r / "accuracy.csv" for r in runs])
    write_knn(runs, tmp_path / "t" / "knn.csv")
    want = table.drop(columns="source").to_csv(index=False)
    assert (tmp_path / "t" / "knn.csv").read_text() == want
    figures = [tmp_path / "f" / f"knn_accuracy_vs_k.{ext}" for ext in ("png", "pdf")]
    _plot_knn(read_table(tmp_path / "t" / "knn.csv"), *figures)
    first = [f.read_bytes() for f in figures]
    _plot_knn(read_table(tmp_path / "t" / "knn.csv"), *figures)
    assert [f.read_bytes() for f in figures] == first
    write_knn([], tmp_path / "e" / "knn.csv")  # no k-NN runs
    empty = pd.read_csv(tmp_path / "e" / "knn.csv")
    assert empty.empty and list(empty.columns) == list(COLUMNS)
    empty_figs = [tmp_path / "e" / f"knn_accuracy_vs_k.{ext}" for ext in ("png", "pdf")]
    _plot_knn(read_table(tmp_path / "e" / "knn.csv"), *empty_figs)
    assert empty_figs[1].stat().st_size > 0


def test_command_line_run_writes_the_run_directory(tmp_path):
    """``python -m ecgrepro.knn run``: the files of run_knn, from the one entry point."""
    from ecgrepro.knn.jobs.cli import main

    path = prepared(tmp_path, tiny())
    argv = ["run", "--npz", str(path), "--variant", "euclidean", "--ks", "1-3"]
    assert main(argv + ["--outdir", str(tmp_path / "cli")]) == 0
    run_knn(path, "euclidean", (1, 2, 3), 1, tmp_path / "api")
    for name in ("accuracy.csv", "predictions.csv", "confusion.csv"):
        assert (tmp_path / "cli" / name).read_bytes() == (tmp_path / "api" / name).read_bytes()
    assert main(argv[:4] + ["bogus", "--outdir", str(tmp_path / "x")]) == 1


def test_aggregate_imports_no_framework():
    code = (
        "import sys, ecgrepro.aggregate.knn, ecgrepro.aggregate.build; "
        "bad = [m for m in ('aeon', 'sktime', 'torch', 'tensorflow', 'numba') "
        "if m in sys.modules]; print(bad); sys.exit(bool(bad))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_perf_parser():
    from ecgrepro.tooling.perf_knn import build_parser

    args = build_parser().parse_args(["--data-mirror", "/x", "--repeats", "2"])
    assert (args.data_mirror, args.repeats, args.threads) == ("/x", 2, 2)
    assert args.func.__name__ == "perf_knn"


# --- the real TwoLeadECG (UCR 2018 DataSummary figures) ---------------------------------


@pytest.fixture(scope="module")
def two_lead(tmp_path_factory):
    if not (TWO_LEAD / "TwoLeadECG_TRAIN.tsv").is_file():
        pytest.skip(
            f"real data absent: {TWO_LEAD} (../shared/data beside the repository)"
        )
    ds = load_splits(
        "TwoLeadECG", TWO_LEAD / "TwoLeadECG_TRAIN.tsv", TWO_LEAD / "TwoLeadECG_TEST.tsv"
    )
    path = tmp_path_factory.mktemp("two_lead") / "TwoLeadECG.npz"
    save_prepared(ds, path)
    return ds, path


@pytest.mark.shared_data
@pytest.mark.parametrize(
    "variant,k1",
    [
        ("euclidean", 0.7471),
        ("aeon-dtw", 0.9043),
        ("learned", 0.8683),
        ("aeon-dtw-w4", 0.8683),
    ],
)
def test_ucr_reference_figures(two_lead, tmp_path, variant, k1):
    _, path = two_lead
    metrics = run_knn(path, variant, range(1, 11), 2, tmp_path / variant)
    assert round(metrics["accuracy"][1], 4) == k1
    if variant == "learned":
        search = metrics["window_search"]
        assert (search["selected_percent"], search["selected_radius"]) == (4, 4)
        assert metrics["definition"]["window"]["band"] == "Sakoe-Chiba |i - j| <= 4"
        table = pd.read_csv(tmp_path / variant / "window_search.csv")
        assert table["percent"].tolist() == list(range(101))


@pytest.mark.shared_data
def test_aeon_sktime_and_aeon_classifier_agree(two_lead):
    from aeon.classification.distance_based import KNeighborsTimeSeriesClassifier

    ds, _ = two_lead
    a = kd.distance_matrix(kv.parse_variant("aeon-dtw"), ds.X_test, ds.X_train, None, 2)
    s = kd.distance_matrix(kv.parse_variant("sktime-dtw"), ds.X_test, ds.X_train, None, 2)
    np.testing.assert_allclose(s, a, rtol=1e-6, atol=0)
    labels = ds.classes[ds.y_train]
    clf = KNeighborsTimeSeriesClassifier(n_neighbors=1, distance="dtw")
    expected = clf.fit(ds.X_train[:, None, :], labels).predict(ds.X_test[:, None, :])
    for D in (a, s):
        assert np.array_equal(ds.classes[sweep(D, ds.y_train, [1], 2)[1]], expected)


@pytest.mark.shared_data
def test_blog_l1_variant_runs_on_real_data(two_lead, tmp_path):
    _, path = two_lead
    metrics = run_knn(path, "blog-dtw-l1", range(1, 10), 2, tmp_path / "l1")
    assert metrics["definition"]["point_cost"] == "|x - y|"
    assert metrics["definition"]["window"]["band"] == "unconstrained"
    assert 0.5 < metrics["accuracy"][1] <= 1.0
