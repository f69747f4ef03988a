"""ecgrepro.aggregate: run directories in, tables, verdicts and figures out.

Everything runs on tiny synthetic run directories the tests write (``make_results``),
laid out exactly as the train and knn rules write them.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO
from ecgrepro.aggregate import outputs
from ecgrepro.aggregate.build import build
from ecgrepro.aggregate.claims import VERDICTS, evaluate_claims
from ecgrepro.aggregate.collect import collect, parse_run_dir
from ecgrepro.aggregate.aami import aami_table
from ecgrepro.aggregate.stats import (
    describe,
    holm,
    interval,
    mann_whitney,
    score_interval,
    tost,
    wilson,
)
from ecgrepro.aggregate.tables import (
    add_convergence,
    frameworks_table,
    seed_table,
    summary_table,
)

CONFIG = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
CLAIMS = CONFIG["claims"]
#: Synthetic runs train 10 epochs: judge convergence over the last 3 (30%), no floor.
CONVERGENCE = {"window_fraction": 0.3, "min_window": 3, "min_rel_improvement": 0.01,
               "loss_floor": 0.0, "val_span": 0.5}
UCR, MITDB = "TwoLeadECG", "mitdb"
UCR_CLASSES, MITDB_CLASSES = ["1", "2"], ["N", "L", "R", "A", "V"]
N_FOLDS = 2
#: The synthetic experiment: what make_results writes and the tests expect.
EXPERIMENTS = [
    {"datasets": [UCR], "models": ["lstm_fcn"], "frameworks": ["torch", "keras"],
     "protocols": ["karim2018", "blog2020"], "seeds": 3},
    {"datasets": [UCR], "models": ["lstm_fcn_noshuffle"], "frameworks": ["torch", "keras"],
     "protocols": ["karim2018"], "seeds": 2},
    {"datasets": [MITDB], "models": ["cnn_lstm", "cnn_gru"], "frameworks": ["torch", "keras"],
     "protocols": ["oh2018", "dechazal2004"], "seeds": 2},
]
KNN_VARIANTS = ["euclidean", "aeon-dtw", "sktime-dtw", "learned", "blog-dtw-l1"]
# C3/C4: correct counts out of 1139 per k (k = 1..10) for each k-NN variant
KNN_CORRECT = {
    "euclidean": [851] * 10,
    "aeon-dtw": [1030, 900, 970, 855, 927, 823, 867, 783, 802, 744],
    "sktime-dtw": [1030, 900, 970, 855, 927, 823, 867, 783, 802, 744],
    "learned": [989] * 10,
    # the notebook's per-k output (config C3 per_k): 0.9306, ..., 0.6848 at k = 8
    "blog-dtw-l1": [1060, 936, 977, 873, 939, 812, 851, 780, 798, 757],
}


def expected_dirs(root: Path, experiments=EXPERIMENTS, n_folds=N_FOLDS) -> list[str]:
    """The run directories these experiments configure (as common.smk's helpers do)."""
    out = []
    for exp in experiments:
        for ds in exp["datasets"]:
            for model in exp["models"]:
                for fw in exp["frameworks"]:
                    for proto in exp["protocols"]:
                        for seed in range(exp["seeds"]):
                            splits = (["test"] if ds != MITDB else ["ds2"]
                                      if proto == "dechazal2004"
                                      else [f"fold{i}" for i in range(n_folds)])
                            out += [str(root / "results/runs" / ds / model / fw / proto / s
                                        / f"seed{seed}") for s in splits]
    return out + [str(root / "results/knn" / UCR / v) for v in KNN_VARIANTS]


def _labels(classes, n):
    return [classes[i % len(classes)] for i in range(n)]


def _predictions(classes, n, correct):
    y = _labels(classes, n)
    wrong = [classes[(classes.index(t) + 1) % len(classes)] for t in y]
    return y, [t if i < correct else w for i, (t, w) in enumerate(zip(y, wrong))]


def _accuracies(run):
    """Test accuracy per checkpoint rule of a synthetic run (drives the claim verdicts)."""
    ds, model, fw, proto, split, seed = run
    if ds == UCR:
        if proto == "blog2020":
            return {"last": 0.95 + 0.01 * seed, "min_train_loss": 0.96, "best_test": 1.0}
        return {"last": 0.998, "min_train_loss": 0.9991 if seed != 1 else 1.0,
                "best_test": 1.0}
    base = {"oh2018": 0.98, "dechazal2004": 0.90}[proto] - (0.005 if model == "cnn_gru" else 0)
    return {"last": base, "min_train_loss": base}


def write_train_run(root: Path, run: tuple, bench_root: Path | None = None) -> Path:
    """One training run directory as ``ecgrepro.runs.train_run`` writes it."""
    ds, model, fw, proto, split, seed = run
    path = root / "results/runs" / ds / model / fw / proto / split / f"seed{seed}"
    path.mkdir(parents=True, exist_ok=True)
    classes = UCR_CLASSES if ds == UCR else MITDB_CLASSES
    n = 1139 if ds == UCR else 50
    accs = {r: round(a * (1139 if ds == UCR else 50)) / (1139 if ds == UCR else 50)
            for r, a in _accuracies(run).items()}
    frames = []
    for rule, acc in accs.items():
        y, p = _predictions(classes, n, round(acc * n))
        frame = pd.DataFrame({"checkpoint": rule, "case_id": range(n), "y_true": y,
                              "y_pred": p})
        for c in classes:
            frame[f"proba_{c}"] = [1.0 if v == c else 0.0 for v in p]
        frames.append(frame)
    pd.concat(frames).to_csv(path / "predictions.csv", index=False)
    epochs = 10
    test_every = 0 if ds == MITDB else 1
    # a loss that has levelled off: converged under CONVERGENCE
    loss = 0.2 + 0.8 * 0.3 ** np.arange(epochs)
    pd.DataFrame({
        "epoch": range(1, epochs + 1), "loss": loss, "accuracy": 1 - loss / 2, "lr": 1e-3,
        "test_loss": loss + 0.02 if test_every else np.nan,
        "test_accuracy": 1 - loss / 3 if test_every else np.nan,
        "seconds": 0.1, "eval_seconds": 0.01,
    }).to_csv(path / "history.csv", index=False)
    slow = 12.0 if model == "lstm_fcn_noshuffle" else 1.0
    params = {"lstm_fcn": 268914, "lstm_fcn_noshuffle": 268914, "cnn_lstm": 3265,
              "cnn_gru": 2785}[model]
    checkpoint = {"karim2018": "min_train_loss", "blog2020": "best_test"}.get(proto, "last")
    metrics = {
        "accuracy_by_rule": {**accs, **({} if ds == UCR else {"best_test": None})},
        "epoch_by_rule": {r: epochs for r in accs}, "checkpoint_rule": checkpoint,
        "epochs": epochs, "fit_seconds": 1.0 * slow, "predict_seconds": 0.05,
        "seconds_per_epoch": (0.1 if fw == "torch" else 0.12) * slow
        * (0.8 if model == "cnn_gru" else 1.0),
        "first_epoch_seconds": 0.5, "n_params": params, "n_params_trainable": params,
        "device": "cpu", "test_set_selection": checkpoint == "best_test",
        "protocol_params": {"name": proto, "epochs": epochs, "checkpoint": checkpoint,
                            "description": f"synthetic {proto}"},
        "arch": {"name": model},
    }
    (path / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))
    (path / "provenance.json").write_text(json.dumps({
        "timestamp_utc": "2026-01-01T00:00:00+00:00", "git": {"commit": "a" * 40,
                                                              "dirty": False},
        "packages": {"numpy": "2.3.5", "torch": "2.13.0"}, "argv": [str(path)],
    }))
    if bench_root is not None:
        b = bench_root / "train" / ds / model / fw / proto / split / f"seed{seed}.tsv"
        b.parent.mkdir(parents=True, exist_ok=True)
        b.write_text("s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\t"
                     "mean_load\tcpu_time\n2.5\t0:00:02\t512.25\t1\t1\t1\t0\t0\t90\t2.0\n")
    return path


def write_knn_run(root: Path, variant: str) -> Path:
    """One k-NN run directory as ``ecgrepro.knn.jobs.run.run_knn`` writes it (what we read)."""
    path = root / "results/knn" / UCR / variant
    path.mkdir(parents=True, exist_ok=True)
    n, rows, acc = 1139, [], []
    for k, correct in enumerate(KNN_CORRECT[variant], 1):
        y, p = _predictions(UCR_CLASSES, n, correct)
        cm = pd.crosstab(pd.Series(y, name="true"), pd.Series(p, name="pred"))
        for t in UCR_CLASSES:
            for q in UCR_CLASSES:
                rows.append({"k": k, "true": t, "pred": q,
                             "count": int(cm.loc[t, q]) if q in cm.columns else 0})
        acc.append({"dataset": UCR, "variant": variant, "k": k, "accuracy": correct / n,
                    "n_test": n, "n_correct": correct, "distance": variant,
                    "vote_rule": "plain majority vote"})
    pd.DataFrame(rows).to_csv(path / "confusion.csv", index=False)
    pd.DataFrame(acc).to_csv(path / "accuracy.csv", index=False)
    library = {"sktime-dtw": "sktime", "blog-dtw-l1": "ecgrepro"}.get(variant, "aeon")
    (path / "metrics.json").write_text(json.dumps({
        "definition": {"library": library}, "classes": UCR_CLASSES,
        "timings": {"window_search_s": 0.0, "distance_matrix_s": 0.5, "sweep_s": 0.01}}))
    (path / "provenance.json").write_text(json.dumps({"git": {"commit": "b" * 40},
                                                      "packages": {"aeon": "1.6.0"}}))
    return path


def make_results(root: Path, skip=()) -> list[str]:
    """Write every configured run under ``root`` except those whose path contains a
    string in ``skip``; return the expected run directories."""
    expected = expected_dirs(root)
    for d in expected:
        if any(s in d for s in skip):
            continue
        run = parse_run_dir(d)
        if run.kind == "knn":
            write_knn_run(root, run.model)
        else:
            write_train_run(root, (run.dataset, run.model, run.framework, run.protocol,
                                   run.split, run.seed), root / "benchmarks")
    return expected


#: The timing step's comparisons.csv (contract: columns and comparison names).
TIMING_COLUMNS = ["comparison", "numerator", "denominator", "framework", "threads",
                  "median_num_s", "median_den_s", "iqr_num_s", "iqr_den_s", "ratio",
                  "ratio_low", "ratio_high", "rounds_kept", "rounds_rejected", "kernel_num",
                  "kernel_den"]


def write_timing(root: Path, rows: dict) -> Path:
    """``results/timing/comparisons.csv`` with ``{comparison: (ratio, low, high, kernel
    numerator, kernel denominator)}``."""
    out = []
    for name, (ratio, low, high, k_num, k_den) in rows.items():
        fw = name.rsplit("_", 1)[-1] if not name.startswith("keras_over") else "both"
        out.append([name, "a", "b", fw, 1, ratio, 1.0, 0.01, 0.01, ratio, low, high, 10,
                    0, k_num, k_den])
    path = root / "results/timing/comparisons.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(out, columns=TIMING_COLUMNS).to_csv(path, index=False)
    return path


SYNTHETIC_TIMING = {
    "shuffle_torch": (12.0, 11.5, 12.5, "", ""),
    "shuffle_keras": (12.0, 11.0, 13.0, "", ""),
    "gru_over_lstm_torch": (0.8, 0.75, 0.85, "gru_cpu_loop", "mkldnn_rnn"),
    "gru_over_lstm_keras": (0.8, 0.7, 0.9, "", ""),
    "keras_over_torch_cnn_lstm": (1.2, 1.1, 1.3, "", ""),
}


def _build(root: Path, expected, draw=True) -> dict:
    return build(expected, benchmarks=root / "benchmarks",
                 scan_roots=[root / "results/runs", root / "results/knn"],
                 claims_cfg=CLAIMS, protocols={}, tables_dir=root / "results/tables",
                 figures_dir=root / "results/figures", draw=draw,
                 convergence_cfg=CONVERGENCE, timing_dir=root / "results/timing")


def _digests(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir())}


_BUILT: dict = {}  # test_paper imports this fixture; build once per session for both


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """A synthetic results tree with two runs missing and one diverged, aggregated."""
    if "tree" not in _BUILT:
        _BUILT["tree"] = _built(tmp_path_factory.mktemp("agg"))
    return _BUILT["tree"]


def _built(root: Path):
    skip = ("cnn_gru/keras/oh2018/fold1/seed1", "lstm_fcn_noshuffle/keras/karim2018/test/seed1")
    expected = make_results(root, skip=skip)
    failed = root / "results/runs" / MITDB / "cnn_lstm/torch/dechazal2004/ds2/seed1"
    shutil.move(failed, failed.with_name("seed1.failed"))
    stray = write_train_run(root, (UCR, "lstm_fcn", "torch", "karim2018", "test", 7))
    write_timing(root, SYNTHETIC_TIMING)
    frames = _build(root, expected)
    return root, expected, frames, stray


# -- stats ---------------------------------------------------------------------------


def test_t_interval_and_bootstrap_are_deterministic():
    x = [0.90, 0.92, 0.94]
    low, high = interval(x, "t", 0.95)
    half = 4.302652729911275 * np.std(x, ddof=1) / np.sqrt(3)  # t_{0.975, 2}
    assert (low, high) == pytest.approx((0.92 - half, 0.92 + half))
    b1 = interval(x, "bootstrap", 0.95, n_boot=2000, seed=3)
    assert b1 == interval(x, "bootstrap", 0.95, n_boot=2000, seed=3)
    assert 0.90 <= b1[0] <= b1[1] <= 0.94
    assert np.isnan(interval([0.9], "t")[0])
    d = describe([0.9, np.nan, 1.0])
    assert d["n"] == 2 and d["min"] == 0.9 and d["max"] == 1.0


def test_mann_whitney_effect_size_and_power():
    res = mann_whitney([3, 4, 5], [1, 2, 0])
    assert res["u"] == 9 and res["rank_biserial"] == 1.0  # every a above every b
    assert res["p_value"] == pytest.approx(0.1) and res["min_p"] == pytest.approx(0.1)
    assert mann_whitney([1.0], [2.0])["min_p"] == 1.0
    assert np.isnan(mann_whitney([], [1.0])["p_value"])
    assert list(holm([0.01, np.nan, 0.04, 0.03])[[0, 2, 3]]) == pytest.approx(
        [0.03, 0.06, 0.06])


# -- collect -------------------------------------------------------------------------


def test_parse_run_dir_names_runs_relatively():
    r = parse_run_dir("/abs/x/results/runs/mitdb/cnn_gru/keras/oh2018/fold3/seed2")
    assert (r.kind, r.dataset, r.model, r.framework, r.protocol, r.split, r.seed) == (
        "train", "mitdb", "cnn_gru", "keras", "oh2018", "fold3", 2)
    assert r.name == "runs/mitdb/cnn_gru/keras/oh2018/fold3/seed2"
    k = parse_run_dir("results/knn/TwoLeadECG/aeon-dtw-w4/")
    assert (k.kind, k.model, k.name) == ("knn", "aeon-dtw-w4", "knn/TwoLeadECG/aeon-dtw-w4")
    with pytest.raises(ValueError, match="not a run directory"):
        parse_run_dir("results/other/thing")


def test_collect_recomputes_metrics_and_reports_what_is_absent(built):
    root, expected, frames, _ = built
    status = pd.read_csv(root / "results/tables/missing.csv").set_index("run")["status"]
    assert status["runs/mitdb/cnn_gru/keras/oh2018/fold1/seed1"] == "missing"
    assert status["runs/mitdb/cnn_lstm/torch/dechazal2004/ds2/seed1"] == "diverged"
    assert status["runs/TwoLeadECG/lstm_fcn/torch/karim2018/test/seed7"] == "unexpected"
    runs = frames["runs"]
    blog = runs[(runs["protocol"] == "blog2020") & (runs["seed"] == 0)
                & (runs["framework"] == "torch")].set_index("checkpoint")
    assert blog.loc["best_test", "accuracy"] == 1.0
    assert blog.loc["best_test", "selects_on_test"] and blog.loc["best_test", "reported"]
    assert blog.loc["last", "accuracy"] == pytest.approx(round(0.95 * 1139) / 1139)
    assert blog.loc["last", "max_rss_mb"] == 512.25 and blog.loc["last", "commit"] == "a" * 40
    knn = runs[runs["kind"] == "knn"]
    assert set(knn["framework"]) == {"aeon", "sktime", "ecgrepro"}
    assert set(knn["protocol"]) == {"knn"} and knn["k"].max() == 10
    mit = runs[runs["dataset"] == MITDB]
    assert {"sensitivity_N", "specificity_V"} <= set(mit.columns)


def test_partial_run_directory_is_reported(tmp_path):
    expected = make_results(tmp_path, skip=("mitdb", "knn"))
    victim = Path(expected[0])
    (victim / "history.csv").unlink()
    col = collect(expected, scan_roots=[tmp_path / "results/runs"])
    row = col.status.set_index("run").loc[parse_run_dir(victim).name]
    assert row["status"] == "partial" and "history.csv" in row["reason"]


def test_scattered_knn_benchmarks_are_combined(tmp_path):
    run = write_knn_run(tmp_path, "aeon-dtw")
    bench = tmp_path / "benchmarks/knn" / UCR
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    for name, sec, rss in (("aeon-dtw.tsv", 1, 100), ("aeon-dtw/block.0-of-2.tsv", 2, 300),
                           ("aeon-dtw/block.1-of-2.tsv", 3, 200)):
        (bench / name).parent.mkdir(parents=True, exist_ok=True)
        (bench / name).write_text(header + f"{sec}\t0\t{rss}\t0\t0\t0\t0\t0\t0\t0\n")
    runs = collect([run], benchmarks=tmp_path / "benchmarks").runs
    assert set(runs["job_seconds"]) == {6.0} and set(runs["max_rss_mb"]) == {300.0}


# -- seed-level table, summary, pooling ------------------------------------------------


def test_ten_fold_runs_are_pooled_per_seed_and_partial_seeds_kept_out(built):
    _, _, frames, _ = built
    seeds = frames["seeds"]
    oh = seeds[(seeds["protocol"] == "oh2018") & (seeds["checkpoint"] == "last")]
    assert set(oh["split"]) == {"pooled"} and set(oh["n_splits"]) == {N_FOLDS}
    lstm = oh[(oh["model"] == "cnn_lstm") & (oh["framework"] == "torch")]
    assert list(lstm["status"]) == ["ok", "ok"]
    assert lstm["accuracy"].iloc[0] == pytest.approx(2 * round(0.98 * 50) / 100)
    assert lstm["n_test"].iloc[0] == 100
    gap = oh[(oh["model"] == "cnn_gru") & (oh["framework"] == "keras") & (oh["seed"] == 1)]
    assert gap["status"].item() == "partial" and "fold1" in gap["note"].item()
    assert np.isnan(gap["accuracy"].item())
    summary = frames["summary"]
    row = summary[(summary["model"] == "cnn_gru") & (summary["framework"] == "keras")
                  & (summary["protocol"] == "oh2018") & (summary["checkpoint"] == "last")
                  & (summary["metric"] == "accuracy")].iloc[0]
    assert (row["n_expected"], row["n_runs"], row["complete"]) == (2, 1, False)
    assert "seed 1" in row["missing"]


def test_mitdb_tables_have_folds_ds2_and_pooled_with_macro_rows(built):
    root, _, _, _ = built
    m = pd.read_csv(root / "results/tables/mitdb_metrics.csv")
    assert {"fold0", "fold1", "pooled", "ds2"} == set(m["split"])
    assert set(m["class"]) == {*MITDB_CLASSES, "macro"}
    c = pd.read_csv(root / "results/tables/mitdb_confusion.csv")
    pooled = c[(c["split"] == "pooled") & (c["model"] == "cnn_lstm")
               & (c["framework"] == "torch") & (c["seed"] == 0)]
    assert pooled["count"].sum() == 100


def test_frameworks_table_tests_and_flags_underpowered_comparisons(built):
    _, _, frames, _ = built
    fw = frames["frameworks"].set_index(["dataset", "model", "protocol"])
    karim = fw.loc[(UCR, "lstm_fcn", "karim2018")]
    assert karim["n_torch"] == 3 and karim["params_equal"]
    assert karim["min_p"] == pytest.approx(0.1) and not karim["testable"]
    assert karim["test"] == "Mann-Whitney U, two-sided"


# -- claims ----------------------------------------------------------------------------


def test_every_claim_has_a_row_and_a_rule_verdict(built):
    _, _, frames, _ = built
    claims = frames["claims"].set_index("claim_id")
    assert list(claims.index) == ["C1", "C2", "C3", "C3b", *(f"C{i}" for i in range(4, 12))]
    assert set(claims["source_class"]) <= {"paper", "blog", "implicit", "project"}
    assert claims.loc["C9", "source_class"] == "implicit"
    assert claims.loc["C3", "verdict_rests_on"] == "deterministic (k-NN)"
    assert claims.loc["C2", "verdict_rests_on"] == "training runs"
    assert set(claims["verdict"]) <= set(VERDICTS)
    assert claims.loc["C1", "verdict"] == "reproduced"
    assert "honest checkpoint last" in claims.loc["C1", "reason"]
    assert "not reproduced" in claims.loc["C1", "reason"]  # honest rules miss 100%
    assert claims.loc["C2", "verdict"] == "reproduced"
    assert claims.loc["C3", "verdict"] == "reproduced"
    assert claims.loc["C4", "verdict"] == "reproduced"
    assert claims.loc["C5", "verdict"] == "reproduced"  # timing step: 12x [11.5, 12.5]
    # C5 rests on the timing step alone: no training runs counted for it
    assert claims.loc["C5", "n_runs"] == 0 == claims.loc["C5", "n_expected"]
    assert "no training run enters the verdict" in claims.loc["C5", "reason"]
    assert claims.loc["C6", "verdict"] == "reproduced"
    # converged runs are judged (the synthetic macro scores are not Oh et al.'s)
    assert claims.loc["C7", "verdict"] in ("reproduced", "not reproduced")
    assert "4 of 4 runs converged" in claims.loc["C7", "reason"]
    assert claims.loc["C8", "verdict"] == "reproduced"
    assert "because of its kernel" in claims.loc["C8", "reason"]
    assert "not the cell" in claims.loc["C8", "reason"]
    # 0.98 -> 0.90 in the same model and framework on both sides, with an interval
    assert "cnn_lstm/torch" in claims.loc["C9", "reason"]
    assert claims.loc["C9", "ci_low"] < 0.08 < claims.loc["C9", "ci_high"]
    # a configured pair lacks a run: not tested, naming the pair
    assert claims.loc["C10", "verdict"] == "not tested"
    assert "TwoLeadECG/lstm_fcn_noshuffle/karim2018" in claims.loc["C10", "reason"]
    # the archive split alone: too few resamples beside the bake-off's (tests/test_sota.py)
    assert claims.loc["C11", "verdict"] == "not tested"
    assert "fewer than min_resamples" in claims.loc["C11", "reason"]


def test_claim_counts_agree_in_every_row(built):
    _, _, frames, _ = built
    c = frames["claims"]
    assert ((c["n_runs"] == c["n_expected"]) == c["complete"]).all()
    assert (c["n_runs"] <= c["n_expected"]).all()


def test_c3_is_judged_exactly_against_the_notebook_per_k(built):
    _, _, frames, _ = built
    c3 = frames["claims"].set_index("claim_id").loc["C3"]
    assert c3["reason"].startswith("equal to the notebook at every k (9 of 9")
    assert c3["verdict"] == "reproduced" and "8: 0.6848" in c3["measured"]
    # the prose range is its own claim, and fails on the notebook's k = 8
    c3b = frames["claims"].set_index("claim_id").loc["C3b"]
    assert c3b["verdict"] == "not reproduced"
    assert "FAILS: lowest 0.6848 at k = 8" in c3b["reason"]
    seeds = frames["seeds"].copy()
    hit = (seeds["model"] == "blog-dtw-l1") & (seeds["k"] == 8)
    seeds.loc[hit, "accuracy"] = 0.6849  # one k off by a unit of the 4th decimal
    cfg = copy.deepcopy(CLAIMS)
    cfg["items"] = {"C3": CLAIMS["items"]["C3"]}
    row = evaluate_claims(seeds, pd.DataFrame(), None, cfg).iloc[0]
    assert row["verdict"] == "not reproduced" and "k = 8" in row["reason"]


def test_speed_claims_without_the_timing_step_are_not_tested():
    fast = _seeds([0.99, 0.99], model="lstm_fcn", protocol="karim2018")
    slow = _seeds([0.99, 0.99], model="lstm_fcn_noshuffle", protocol="karim2018")
    slow["seconds_per_epoch"] = 100.0  # a training run's time is not evidence
    cfg = copy.deepcopy(CLAIMS)
    cfg["items"] = {"C5": {**CLAIMS["items"]["C5"], "dataset": "d"}}
    seeds = pd.concat([fast, slow], ignore_index=True)
    row = evaluate_claims(seeds, pd.DataFrame(), None, cfg).iloc[0]
    assert row["verdict"] == "not tested: no controlled timing"
    fw = frameworks_table(pd.concat([_seeds([0.9, 0.9]), _seeds([0.9, 0.9],
                                                                framework="keras")]), 0.05)
    assert fw["timing"].item() == "not tested: no controlled timing"
    assert np.isnan(fw["keras_over_torch"].item())


def _seeds(values, model="m", protocol="p", checkpoint="last", framework="torch"):
    return pd.DataFrame({
        "kind": "train", "dataset": "d", "model": model, "framework": framework,
        "protocol": protocol, "checkpoint": checkpoint, "k": pd.NA, "reported": True,
        "selects_on_test": False, "seed": range(len(values)), "split": "test",
        "n_splits": 1, "status": ["ok" if v == v else "missing" for v in values],
        "note": "", "accuracy": values, "seconds_per_epoch": 1.0, "n_params": 10,
    })


def _claim(**item):
    cfg = copy.deepcopy(CLAIMS)
    cfg["items"] = {"C1": {"rule": "value", "statement": "s", "source": "src",
                           "dataset": "d", "model": "m", "protocol": "p", **item}}
    return cfg


@pytest.mark.parametrize("values, published, verdict", [
    ([0.97, 0.98, 0.99], 0.98, "reproduced"),        # inside the interval
    ([0.90, 0.90, 0.90], 0.903, "reproduced"),       # within tolerance of the mean
    ([0.90, 0.91, 0.92], 0.99, "not reproduced"),
    ([0.30, 0.40], 0.98, "not reproduced"),          # in a wide interval, no run near
    ([float("nan")] * 3, 0.98, "not tested"),        # every run missing
])
def test_value_rule(values, published, verdict):
    cfg = _claim(published={"accuracy": {"value": published, "decimals": 3}})
    row = evaluate_claims(_seeds(values), pd.DataFrame(), None, cfg).iloc[0]
    assert row["verdict"] == verdict, row["reason"]


def test_value_rule_not_configured_and_partial():
    cfg = _claim(model="other", published={"accuracy": {"value": 0.9, "decimals": 2}})
    row = evaluate_claims(_seeds([0.9]), pd.DataFrame(), None, cfg).iloc[0]
    assert row["verdict"] == "not tested" and "configured" in row["reason"]
    cfg = _claim(published={"accuracy": {"value": 0.9, "decimals": 2}})
    row = evaluate_claims(_seeds([0.9, float("nan")]), pd.DataFrame(), None, cfg).iloc[0]
    assert row["verdict"] == "reproduced" and row["reason"].startswith("partial: 1 of 2")
    assert (row["n_runs"], row["n_expected"], row["complete"]) == (1, 2, False)


def test_frameworks_rule_rejects_a_real_difference():
    torch = _seeds([0.9, 0.91, 0.92, 0.93, 0.94])
    keras = _seeds([0.5, 0.51, 0.52, 0.53, 0.54], framework="keras")
    seeds = pd.concat([torch, keras], ignore_index=True)
    fw = frameworks_table(seeds, alpha=0.05)
    assert fw["testable"].item() and fw["significant"].item()
    cfg = copy.deepcopy(CLAIMS)
    cfg["items"] = {"C10": {"rule": "frameworks", "statement": "s", "source": "x"}}
    row = evaluate_claims(seeds, pd.DataFrame(), fw, cfg).iloc[0]
    assert row["verdict"] == "not reproduced"


def test_summary_reports_the_interval_method_and_stays_in_0_1():
    seeds = _seeds([0.999, 1.0, 1.0]).assign(n_test=1139)
    s = summary_table(seeds, CLAIMS["interval"])
    acc = s[s["metric"] == "accuracy"].iloc[0]
    assert acc["interval"].startswith("95% Wilson interval at the effective number of cases "
                                      "of two-level bootstrap")
    assert acc["mean"] == pytest.approx(0.99967, abs=1e-5) and acc["n_runs"] == 3
    assert 0 <= acc["ci_low"] <= acc["mean"] <= acc["ci_high"] <= 1
    assert 0 <= acc["wilson_low"] <= acc["wilson_high"] <= 1
    # the t-interval the summary used to print leaves [0, 1] on these values
    assert interval([0.999, 1.0, 1.0], "t")[1] > 1
    # one seed: the interval is the test set's sampling error alone
    one = summary_table(_seeds([0.9]).assign(n_test=100), CLAIMS["interval"])
    one = one[one["metric"] == "accuracy"].iloc[0]
    assert one["ci_low"] < 0.9 < one["ci_high"] and one["ci_high"] - one["ci_low"] > 0.08


def test_score_intervals_never_leave_0_1_and_wilson_matches_by_hand():
    for values, n in (([1.0, 1.0], [10, 10]), ([0.0, 0.01], [50, 100]), ([0.5], [4])):
        low, high = score_interval(values, n, n_boot=2000, seed=1)
        assert 0 <= low <= high <= 1
    assert score_interval([0.9], [100], n_boot=500, seed=2) == score_interval(
        [0.9], [100], n_boot=500, seed=2)
    low, high = wilson(45, 50)
    assert (low, high) == pytest.approx((0.7864, 0.9565), abs=1e-4)
    assert wilson(50, 50)[1] == 1.0 and wilson(0, 50)[0] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("diff, paired, equivalent, outside", [
    (0.002, True, True, False),     # inside +/- 0.01 with little spread
    (0.05, True, False, True),      # wholly outside the margin
    (0.002, False, True, False),
])
def test_tost_inside_and_outside_the_margin(diff, paired, equivalent, outside):
    rng = np.random.default_rng(0)
    a = 0.9 + rng.normal(0, 0.002, 10)
    b = a - diff + rng.normal(0, 0.001, 10)
    res = tost(a, b, margin=0.01, alpha=0.05, paired=paired)
    assert res["equivalent"] is equivalent and res["outside"] is outside
    assert res["low"] <= res["difference"] <= res["high"]
    # undecided: too few values, or an interval straddling the margin
    assert not tost([0.9], [0.9], 0.01, paired=True)["equivalent"]
    wide = tost([0.8, 0.9, 1.0], [0.85, 0.9, 0.95], 0.01, paired=True)
    assert not wide["equivalent"] and not wide["outside"]


def _c10_cfg():
    cfg = copy.deepcopy(CLAIMS)
    cfg["items"] = {"C10": {"rule": "frameworks", "statement": "s", "source": "x"}}
    return cfg


def test_c10_equivalence_verdicts():
    base = np.array([0.90, 0.91, 0.92, 0.93, 0.94])
    near = pd.concat([_seeds(list(base)), _seeds(list(base + 0.001), framework="keras")],
                     ignore_index=True)
    fw = frameworks_table(near, alpha=0.05, margin=0.01)
    assert fw["equivalent"].item() and fw["equivalence_test"].item() == "paired t TOST"
    row = evaluate_claims(near, pd.DataFrame(), fw, _c10_cfg()).iloc[0]
    assert row["verdict"] == "reproduced", row["reason"]
    # a pair inside the spread but not shown equivalent: never "reproduced"
    noisy = pd.concat([_seeds([0.90, 0.95, 0.85]), _seeds([0.93, 0.88, 0.90],
                                                           framework="keras")])
    fw = frameworks_table(noisy, alpha=0.05, margin=0.01)
    assert not fw["significant"].item() and not fw["equivalent"].item()
    row = evaluate_claims(noisy, pd.DataFrame(), fw, _c10_cfg()).iloc[0]
    assert row["verdict"] == "not tested" and row["reason"].startswith("inconclusive")
    # a missing run: not tested, naming the pair
    gap = pd.concat([_seeds([0.9, 0.9, float("nan")]), _seeds([0.9, 0.9, 0.9],
                                                              framework="keras")])
    fw = frameworks_table(gap, alpha=0.05)
    row = evaluate_claims(gap, pd.DataFrame(), fw, _c10_cfg()).iloc[0]
    assert row["verdict"] == "not tested" and "d/m/p (2 torch, 3 keras" in row["reason"]
    assert (row["n_runs"], row["n_expected"], row["complete"]) == (5, 6, False)


def test_unconverged_runs_are_not_tested_not_not_reproduced():
    seeds = _seeds([0.70, 0.71, 0.72]).assign(
        converged=pd.array([False, False, True], dtype="boolean"),
        rel_improvement=[0.2, 0.15, 0.001])
    cfg = _claim(published={"accuracy": {"value": 0.98, "decimals": 4}})
    row = evaluate_claims(seeds, pd.DataFrame(), None, cfg, criterion="crit").iloc[0]
    assert row["verdict"] == "not tested: not converged"
    assert "1 of 3 runs converged" in row["reason"] and "0.001-0.200" in row["reason"]
    assert "crit" in row["reason"]
    # the same runs, exempt (a fixed budget that is the published protocol): judged
    cfg["items"]["C1"]["convergence_exempt"] = ["p"]
    row = evaluate_claims(seeds, pd.DataFrame(), None, cfg).iloc[0]
    assert row["verdict"] == "not reproduced"


def test_convergence_is_judged_from_history_and_folds(built):
    _, _, frames, _ = built
    seeds = frames["seeds"]
    train = seeds[(seeds["kind"] == "train") & (seeds["status"] == "ok")]
    assert train["converged"].all()
    oh = train[(train["protocol"] == "oh2018") & (train["model"] == "cnn_lstm")]
    assert set(oh["n_judged"]) == {N_FOLDS} and set(oh["n_converged"]) == {N_FOLDS}
    hist = pd.DataFrame({"epoch": range(1, 21), "loss": 1 / np.arange(1, 21)})
    out = add_convergence(
        train.head(1).assign(dataset="x", model="y", framework="z", protocol="w", seed=0),
        hist.assign(dataset="x", model="y", framework="z", protocol="w", seed=0,
                    split="test"), dict(CONVERGENCE, window_fraction=0.5, min_window=10))
    assert not out["converged"].item() and out["rel_improvement"].item() > 0.4


def test_aami_table_gross_and_record_by_record(tmp_path):
    expected = make_results(tmp_path, skip=("TwoLeadECG", "knn", "oh2018"))
    run = Path([d for d in expected if "cnn_lstm/torch/dechazal2004/ds2/seed0" in d][0])
    preds = pd.read_csv(run / "predictions.csv")
    preds["record"] = np.where(np.arange(len(preds)) % len(preds[preds.checkpoint == "last"])
                               < 25, "100", "101")
    preds.to_csv(run / "predictions.csv", index=False)
    col = collect(expected)
    a = aami_table([parse_run_dir(d) for d in expected], col.runs, col.classes)
    assert set(a["grouping"]) == {"classes", "aami"}
    groups = a[a["grouping"] == "aami"]
    assert set(groups["class"]) == {"N", "SVEB", "VEB"}
    a = a[a["grouping"] == "classes"]
    mine = a[(a["model"] == "cnn_lstm") & (a["framework"] == "torch") & (a["seed"] == 0)]
    assert set(mine["scope"]) == {"gross", "record", "record_mean"}
    assert set(mine.loc[mine["scope"] == "record", "record"]) == {"100", "101"}
    gross = mine[mine["scope"] == "gross"].set_index("class")
    rec = mine[mine["scope"] == "record"]
    assert gross["tp"].sum() == rec["tp"].sum()  # records partition the test set
    n = gross.loc["N"]
    assert n["sensitivity"] == pytest.approx(n["tp"] / (n["tp"] + n["fn"]))
    assert n["fpr"] == pytest.approx(n["fp"] / (n["fp"] + n["tn"]))
    other = a[(a["model"] == "cnn_gru")]
    assert set(other["scope"]) == {"gross"} and other["note"].str.contains(
        "no record column").all()


# -- outputs -----------------------------------------------------------------------------


def test_build_writes_every_declared_output_deterministically(built):
    root, expected, _, _ = built
    tables, figures = root / "results/tables", root / "results/figures"
    assert sorted(p.name for p in tables.iterdir()) == sorted(outputs.TABLES)
    assert sorted(p.name for p in figures.iterdir()) == sorted(
        f"{f}.{e}" for f in outputs.FIGURES for e in ("png", "pdf"))
    before = _digests(tables)
    _build(root, expected, draw=False)  # figures: see the next test
    assert _digests(tables) == before


def test_figures_are_byte_for_byte_reproducible(built, tmp_path):
    from ecgrepro.aggregate import figures

    _, _, frames, _ = built
    seeds = frames["seeds"]
    seeds = seeds[seeds["protocol"] == "blog2020"]
    digests = []
    for name in ("a", "b"):
        figures.plot_accuracy(seeds, tmp_path / f"{name}.png",
                              tmp_path / f"{name}.pdf")
        digests.append([hashlib.sha256((tmp_path / f"{name}.{e}").read_bytes()).hexdigest()
                        for e in ("png", "pdf")])
    assert digests[0] == digests[1]


def test_tables_hold_no_paths_or_timestamps(built):
    root, _, _, _ = built
    for path in (root / "results/tables").iterdir():
        if path.suffix in (".csv", ".md", ".tex"):
            text = path.read_text()
            assert str(root) not in text, path.name
            assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", text), path.name
    runs = pd.read_csv(root / "results/tables/runs.csv")
    assert runs.equals(runs.sort_values(
        ["kind", "dataset", "model", "framework", "protocol"], kind="stable"))
    assert pd.read_parquet(root / "results/tables/runs.parquet").shape == runs.shape


def test_rules_declare_the_files_the_code_writes():
    smk = (REPO / "workflow/rules/aggregate.smk").read_text()
    declared = set(re.findall(r'"results/(?:tables|figures)/([^"]+)"', smk))
    assert declared == {*outputs.TABLES, *(f"{f}.{e}" for f in outputs.FIGURES
                                           for e in ("png", "pdf"))}
    for caption in re.findall(r'caption="\.\./report/([^"]+)"', smk):
        assert (REPO / "workflow/report" / caption).is_file(), caption


def test_aggregate_imports_no_framework_in_a_fresh_process(tmp_path):
    expected = make_results(tmp_path, skip=("mitdb",))
    code = (
        "import json, sys\n"
        "from ecgrepro.cli import main\n"
        f"rc = main(['aggregate', '--expected', *{expected!r}, '--claims-json', "
        f"{json.dumps(json.dumps(CLAIMS))}, '--convergence-json', "
        f"{json.dumps(json.dumps(CONVERGENCE))}, '--tables', 't', '--no-figures'])\n"
        "import ecgrepro.aggregate.figures, ecgrepro.aggregate.paper\n"
        "heavy = {'torch', 'tensorflow', 'keras', 'sktime', 'numba', 'sklearn'}\n"
        "mods = {m.split('.')[0] for m in sys.modules}\n"
        "aeon = sorted(m for m in sys.modules if m.split('.')[0] == 'aeon')\n"
        "print(json.dumps([rc, sorted(heavy & mods), aeon]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "workflow")}
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    # of aeon, only its results loader (claim C11: numpy and pandas underneath)
    assert json.loads(res.stdout.strip().splitlines()[-1]) == [
        0, [], ["aeon", "aeon.benchmarking", "aeon.benchmarking.results_loaders"]]


def test_early_stopping_recorded_in_metrics_counts_only_on_a_levelled_validation_loss(
        tmp_path):
    expected = make_results(tmp_path, skip=("mitdb", "knn", "noshuffle", "blog2020"))
    run = Path(expected[0])
    falling = pd.DataFrame({"epoch": range(1, 11), "loss": 1 / np.arange(1, 11)})
    falling.to_csv(run / "history.csv", index=False)  # still falling fast
    ids = [parse_run_dir(d) for d in expected]

    def judged_run():
        col = collect(expected)
        judged = add_convergence(seed_table(col, ids, {"karim2018": "min_train_loss"}),
                                 col.history, CONVERGENCE)
        return judged[(judged["seed"] == parse_run_dir(run).seed)
                      & (judged["framework"] == parse_run_dir(run).framework)]

    assert not judged_run()["converged"].any()
    metrics = json.loads((run / "metrics.json").read_text())
    metrics["early_stopping"] = {"monitor": "val_loss", "stopped_early": True}
    (run / "metrics.json").write_text(json.dumps(metrics))
    # an early stop alone no longer counts: nothing shows the validation loss levelled
    assert not judged_run()["converged"].any()
    falling.assign(val_loss=0.5).to_csv(run / "history.csv", index=False)
    assert judged_run()["converged"].all()


# -- intervals over seeds that share one test set ---------------------------------------

from ecgrepro.aggregate.bootstrap import (  # noqa: E402
    CaseSet,
    effective_wilson,
    joint_draws,
    n_cases,
    scores_from_confusion,
)
from ecgrepro.metrics import summary_metrics  # noqa: E402


def _one_error_each(n=1000, seeds=5, same_case=False):
    true = np.zeros(n, dtype=np.int64)
    preds = []
    for s in range(seeds):
        p = true.copy()
        p[0 if same_case else 7 * s] = 1
        preds.append(p)
    return CaseSet([true] * seeds, preds, [np.arange(n)] * seeds, 2)


@pytest.mark.parametrize("same_case", [True, False])
def test_shared_test_set_interval_is_at_least_one_test_sets_wilson(same_case):
    cs = _one_error_each(same_case=same_case)
    draws = joint_draws([cs], n_boot=4000, seed=0)[0]["accuracy"]
    low, high = effective_wilson(draws, 0.999, n_cases([cs]), 0.95)
    w_low, w_high = wilson(999, 1000)
    assert high - low >= w_high - w_low - 1e-12
    assert low <= 0.999 <= high <= 1
    # the old per-seed binomial redraw shrank it by about sqrt(5)
    old = score_interval([0.999] * 5, [1000] * 5, n_boot=4000, seed=0)
    assert old[1] - old[0] < 0.6 * (w_high - w_low)


def test_summary_counts_a_shared_test_set_once_without_predictions():
    seeds = _seeds([0.999] * 5).assign(n_test=1000)
    acc = summary_table(seeds, CLAIMS["interval"]).query("metric == 'accuracy'").iloc[0]
    w_low, w_high = wilson(999, 1000)
    assert acc["ci_high"] - acc["ci_low"] >= w_high - w_low - 1e-12
    assert (acc["wilson_low"], acc["wilson_high"]) == pytest.approx((w_low, w_high))
    assert "errors taken on shared cases" in acc["interval"]


def test_one_test_set_is_resampled_once_for_every_seed_and_both_sides():
    cs = _one_error_each(n=200, seeds=3, same_case=True)  # all err on one case
    shared = joint_draws([cs], n_boot=3000, seed=1)[0]["accuracy"]
    apart = CaseSet(cs.y_true, cs.y_pred, [k + 1000 * i for i, k in enumerate(cs.keys)], 2)
    assert not apart.shared() and cs.shared()
    indep = joint_draws([apart], n_boot=3000, seed=1)[0]["accuracy"]
    assert shared.std() > 1.2 * indep.std()  # errors of one test set move together
    # the same runs on both sides of a difference, paired: every draw differs by 0
    a, b = joint_draws([cs, cs], n_boot=500, seed=2, pair_seeds=True)
    assert np.all(a["accuracy"] == b["accuracy"])


def test_bootstrap_scores_match_the_metrics_definitions():
    rng = np.random.default_rng(3)
    for _ in range(100):
        cm = rng.integers(0, 6, (5, 5)) * (rng.random((5, 5)) < 0.6)
        got = scores_from_confusion(cm[None])
        want = summary_metrics(pd.DataFrame(cm, index=list("NLRAV"), columns=list("NLRAV")))
        for name, value in got.items():
            assert value[0] == pytest.approx(want[name], nan_ok=True), name


# -- gates per part, frameworks apart --------------------------------------------------


def test_speed_part_fails_whatever_the_convergence():
    lstm = _seeds([0.90, 0.91], model="cnn_lstm", protocol="oh2018").assign(n_params=20)
    gru = _seeds([0.90, 0.91], model="cnn_gru", protocol="oh2018")
    seeds = pd.concat([lstm, gru], ignore_index=True).assign(
        converged=pd.array([False] * 4, dtype="boolean"), rel_improvement=0.3)
    timing = pd.DataFrame([{"comparison": "gru_over_lstm_torch", "ratio": 1.56,
                            "ratio_low": 1.51, "ratio_high": 1.61, "median_num_s": 3.3,
                            "median_den_s": 2.1, "threads": 1, "rounds_kept": 30,
                            "kernel_num": "", "kernel_den": ""}])
    cfg = copy.deepcopy(CLAIMS)
    cfg["items"] = {"C8": {**CLAIMS["items"]["C8"], "dataset": "d"}}
    row = evaluate_claims(seeds, pd.DataFrame(), None, cfg, timing=timing).iloc[0]
    assert row["verdict"] == "not reproduced", row["reason"]
    assert "fails on evidence no gate touches" in row["reason"]
    assert "accuracy part is not judged" in row["reason"]
    # faster: only the accuracy part is left, and it waits for convergence
    timing.loc[0, ["ratio", "ratio_low", "ratio_high"]] = [0.8, 0.75, 0.85]
    row = evaluate_claims(seeds, pd.DataFrame(), None, cfg, timing=timing).iloc[0]
    assert row["verdict"] == "not tested: not converged"


def test_frameworks_not_shown_equivalent_are_judged_apart():
    seeds = pd.concat([_seeds([0.99, 0.99, 0.99]),
                       _seeds([0.91, 0.91, 0.91], framework="keras")], ignore_index=True)
    cfg = _claim(published={"accuracy": {"value": 0.95, "decimals": 2}})
    row = evaluate_claims(seeds, pd.DataFrame(), None, cfg).iloc[0]
    # pooled, the mean 0.95 would match; neither framework does
    assert row["verdict"] == "not reproduced", row["reason"]
    assert "judged apart" in row["reason"] and "reading: the mean over seeds" in row["reason"]
    assert "torch: accuracy" in row["reason"] and "keras: accuracy" in row["reason"]


def test_framework_difference_gets_a_two_level_interval():
    seeds = pd.concat([_seeds([0.90, 0.91, 0.92]), _seeds([0.90, 0.92, 0.92],
                                                          framework="keras")],
                      ignore_index=True).assign(n_test=500)
    fw = frameworks_table(seeds, alpha=0.05, boot=CLAIMS["interval"])
    assert fw["boot_low"].item() <= fw["difference"].item() <= fw["boot_high"].item()
    assert np.isnan(frameworks_table(seeds, alpha=0.05)["boot_low"].item())
