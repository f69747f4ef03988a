"""Claim C11 (rule ``sota``): the published state of the art read through aeon, the check
that our resamples are the bake-off's, the table and the verdict."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import REPO

from ecgrepro.aggregate.claims import evaluate_claims
from ecgrepro.aggregate.published import aeon_results_dir, load_published
from ecgrepro.aggregate.sota import same_splits, sota_inputs, sota_tables
from ecgrepro.data.splits import ucr_resample
from ecgrepro.data.ucr import UCRDataset, load_splits

CFG = {"min_runs": 1, "min_converged": 0.8, "alpha": 0.05, "p_adjust": "holm",
       "interval": {"method": "t", "level": 0.95, "n_boot": 1000, "seed": 0}}
ITEM = {"rule": "sota", "statement": "s", "source": "x", "model": "lstm_fcn",
        "also": ["fcn"], "protocol": "karim2018", "checkpoint": "min_train_loss",
        "published_estimators": ["HC2", "InceptionTime"], "margin": 0.01,
        "min_resamples": 10, "min_share": 1.0}


# -- the published results, through aeon's loader --------------------------------------

def test_published_results_come_from_aeons_files_with_their_digests():
    frame, prov = load_published(["HC2"], ["TwoLeadECG"])
    file = aeon_results_dir() / "classification" / "accuracy" / "HC2_accuracy.csv"
    raw = pd.read_csv(file, index_col=0)  # the file itself, read without aeon
    assert frame["resample"].tolist() == list(range(raw.shape[1]))
    assert np.allclose(frame["accuracy"], raw.loc["TwoLeadECG"].to_numpy(float))
    import aeon

    assert f"aeon {aeon.__version__}" in prov["HC2"]
    assert hashlib.sha256(file.read_bytes()).hexdigest() in prov["HC2"]


def test_the_results_loader_imports_nothing_heavy_in_a_fresh_process():
    code = ("import sys, json\nfrom ecgrepro.aggregate.published import load_published\n"
            "load_published(['HC2'], ['TwoLeadECG'])\n"
            "heavy = {'torch', 'tensorflow', 'keras', 'sktime', 'numba', 'sklearn'}\n"
            "print(json.dumps(sorted(heavy & {m.split('.')[0] for m in sys.modules})))\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": str(REPO / "workflow"), "PATH": ""},
                         timeout=120)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout.strip().splitlines()[-1]) == []


# -- like with like: our resample i is the bake-off's -----------------------------------

def _bake_off_split(ds: UCRDataset, labels, i):
    """The split tsml-eval makes for resample i: aeon's stratified_resample_data with
    random_state=i on the labels as read from the .ts files (text), archive split for 0."""
    from aeon.benchmarking.resampling import stratified_resample_data

    ytr, yte = labels[ds.y_train], labels[ds.y_test]
    if i == 0:
        return ds.X_train, ytr, ds.X_test, yte
    return stratified_resample_data(ds.X_train, ytr, ds.X_test, yte, random_state=i)


def _ids(X):
    return sorted(map(tuple, np.round(X, 10)))


def _check_same(ds: UCRDataset, n: int = 30):
    labels = np.asarray(ds.classes, dtype=str)
    for i in range(n):
        ours = ucr_resample(ds, i)
        Xtr, ytr, Xte, yte = _bake_off_split(ds, labels, i)
        assert _ids(ours.X_train) == _ids(Xtr) and _ids(ours.X_test) == _ids(Xte), i
        for mine, theirs in ((ours.y_train, ytr), (ours.y_test, yte)):
            assert (np.unique(labels[mine], return_counts=True)[1].tolist()
                    == np.unique(theirs, return_counts=True)[1].tolist())


def test_resample_zero_is_the_archive_split():
    ds = _synthetic(["1", "2"], 6, 9)
    assert ucr_resample(ds, 0) is ds


@pytest.mark.parametrize("name", ["ItalyPowerDemand", "OSULeaf"])
def test_our_resamples_are_the_bake_offs_on_archive_files(name):
    """Real archive .ts files aeon ships (2 and 6 classes), read by our own reader."""
    root = Path(aeon_results_dir()).parent.parent / "datasets" / "data" / name
    ds = load_splits(name, root / f"{name}_TRAIN.ts", root / f"{name}_TEST.ts")
    assert same_splits(list(ds.classes))[0]
    _check_same(ds)


def _synthetic(classes, n_train, n_test, seed=0) -> UCRDataset:
    rng = np.random.default_rng(seed)
    k = len(classes)
    ytr, yte = np.arange(n_train * k) % k, np.arange(n_test * k) % k
    X = rng.normal(size=(len(ytr) + len(yte), 5))  # every case unique: its own id
    return UCRDataset("S", X[:len(ytr)], ytr, X[len(ytr):], yte, np.asarray(classes))


def test_resamples_differ_where_text_and_number_order_differ():
    """Labels 1..10: the bake-off visits "10" second, we visit it last."""
    ten = [str(c) for c in range(1, 11)]
    ds = _synthetic(ten, 3, 4)
    assert not same_splits(ten)[0] and "unpaired" in same_splits(ten)[1]
    with pytest.raises(AssertionError):
        _check_same(ds, 5)
    assert same_splits(ten[:9])[0]
    _check_same(_synthetic(ten[:9], 3, 4), 5)
    assert not same_splits(None)[0]


# -- the rule --------------------------------------------------------------------------

def _seeds(acc: dict, model="lstm_fcn", dataset="TwoLeadECG") -> pd.DataFrame:
    """Two runs (torch, keras) per resample with the given mean accuracy."""
    rows = []
    for r, a in acc.items():
        for fw, d in (("torch", -0.001), ("keras", 0.001)):
            rows.append({"kind": "train", "dataset": dataset, "model": model,
                         "framework": fw, "protocol": "karim2018",
                         "checkpoint": "min_train_loss", "reported": False,
                         "split": "test" if r == 0 else f"resample{r}", "seed": 0,
                         "status": "ok", "note": "", "accuracy": a + d, "n_test": 100})
    return pd.DataFrame(rows)


def _published(tmp_path, values: dict) -> Path:
    """aeon's layout: classification/accuracy/<name>_accuracy.csv, 30 resamples."""
    root = tmp_path / "published"
    (root / "classification" / "accuracy").mkdir(parents=True)
    for name, rows in values.items():
        frame = pd.DataFrame({d: v for d, v in rows.items()}).T
        frame.columns = range(frame.shape[1])
        frame.index.name = "Resamples:"
        frame.to_csv(root / "classification" / "accuracy" / f"{name}_accuracy.csv")
    return root


def _verdict(tmp_path, seeds, values, classes=("1", "2")):
    data = tmp_path / "data"
    for d in set(seeds["dataset"]):
        (data / "ucr" / d).mkdir(parents=True, exist_ok=True)
        (data / "ucr" / d / "summary.json").write_text(json.dumps({"classes": list(classes)}))
    cfg = {**CFG, "items": {"C11": ITEM}}
    sota = sota_inputs(seeds, cfg, data, _published(tmp_path, values))
    return evaluate_claims(seeds, pd.DataFrame(), pd.DataFrame(), cfg, sota=sota).iloc[0]


def _ours(n=10):
    rng = np.random.default_rng(1)
    return {r: 0.90 + 0.02 * rng.random() for r in range(n)}


def _shifted(ours, shift, n=30):
    """Published resamples: ours + shift on the shared ones (noise beyond them)."""
    rng = np.random.default_rng(2)
    return [ours[r] + shift + 0.002 * rng.standard_normal() if r in ours
            else 0.9 + 0.01 * rng.random() for r in range(n)]


def test_verdict_changes_when_the_published_numbers_cross_the_margin(tmp_path):
    ours = _ours()
    seeds = _seeds(ours)
    margin = ITEM["margin"]
    near = _verdict(tmp_path / "a", seeds, {"HC2": {"TwoLeadECG": _shifted(ours, margin / 2)},
                                            "InceptionTime": {"TwoLeadECG": _shifted(ours, 0)}})
    assert near["verdict"] == "reproduced", near["reason"]
    assert "1 of 1 tested datasets hold" in near["reason"] and "HC2" in near["reason"]
    assert "paired" in near["reason"]
    far = _verdict(tmp_path / "b", seeds, {"HC2": {"TwoLeadECG": _shifted(ours, 3 * margin)},
                                           "InceptionTime": {"TwoLeadECG": _shifted(ours, 0)}})
    assert far["verdict"] == "not reproduced", far["reason"]
    assert "0 of 1 tested datasets hold" in far["reason"] and "falls short" in far["reason"]


def test_unpaired_where_the_splits_differ(tmp_path):
    ours = _ours()
    res = _verdict(tmp_path, _seeds(ours), {"HC2": {"TwoLeadECG": _shifted(ours, 0)},
                                            "InceptionTime": {"TwoLeadECG": _shifted(ours, 0)}},
                   classes=[str(c) for c in range(1, 11)])
    assert "unpaired" in res["reason"] and res["verdict"] == "reproduced"


def test_too_few_resamples_is_not_tested_with_the_count(tmp_path):
    ours = _ours(1)  # the archive split alone, as the v1 reference
    res = _verdict(tmp_path, _seeds(ours), {"HC2": {"TwoLeadECG": _shifted(ours, 0)},
                                            "InceptionTime": {"TwoLeadECG": _shifted(ours, 0)}})
    assert res["verdict"] == "not tested"
    assert ("TwoLeadECG: LSTM-FCN ran on 1 split(s) (resample 0, the archive split; 2 runs), "
            "the bake-off on 30; 1 shared, fewer than min_resamples = 10") in res["reason"]


def test_holm_across_datasets_and_the_share_that_must_hold(tmp_path):
    ours = _ours()
    seeds = pd.concat([_seeds(ours, dataset=d) for d in ("A", "B")], ignore_index=True)
    values = {"HC2": {"A": _shifted(ours, 0), "B": _shifted(ours, 3 * ITEM["margin"])},
              "InceptionTime": {"A": _shifted(ours, 0), "B": _shifted(ours, 0)}}
    res = _verdict(tmp_path, seeds, values)
    assert res["verdict"] == "not reproduced" and "1 of 2 tested datasets hold" in res["reason"]
    assert res["reason"].count("adjusted") == 2


# -- the table -------------------------------------------------------------------------

def test_table_ranks_on_shared_resamples_and_names_the_runs(tmp_path):
    ours = {0: 0.95}
    seeds = _seeds(ours)
    pub = {"HC2": {"TwoLeadECG": [0.94] + [0.99] * 29},
           "InceptionTime": {"TwoLeadECG": [0.96] + [0.90] * 29}}
    cfg = {**CFG, "items": {"C11": ITEM}}
    s = sota_inputs(seeds, cfg, None, _published(tmp_path, pub))
    table, long = sota_tables(s["parts"], s["published"], s["provenance"], s["classes"])
    t = table.set_index("classifier")
    assert t.loc["HC2", "mean"] > t.loc["LSTM-FCN", "mean"]  # over its own 30
    # ranked on resample 0, the only one all share: 0.96, 0.95, 0.94
    assert t["rank"].to_dict() == {"HC2": 3, "InceptionTime": 1, "LSTM-FCN": 2}
    assert t.loc["LSTM-FCN", "seeds"] == "0: 2 runs (seeds 0; keras, torch)"
    assert "sha256" in t.loc["HC2", "source"] and t.loc["HC2", "resamples"] == 30
    assert len(long) == 61


def test_critical_difference_diagram_from_five_datasets(tmp_path, monkeypatch):
    from ecgrepro.aggregate import sota_figures

    rng = np.random.default_rng(3)
    rows = [{"dataset": f"D{d}", "classifier": c, "mean": 0.8 + 0.1 * rng.random()}
            for d in range(5) for c in ("LSTM-FCN", "HC2", "1-NN DTW (aeon-dtw)")]
    notes = []
    monkeypatch.setattr(sota_figures, "_note", lambda png, pdf, text: notes.append(text))
    four = pd.DataFrame(rows[:12])
    sota_figures.plot_critical_difference(four, tmp_path / "a.png", tmp_path / "a.pdf")
    assert notes and "these results have 4" in notes[0]
    sota_figures.plot_critical_difference(pd.DataFrame(rows), tmp_path / "b.png",
                                          tmp_path / "b.pdf")
    assert len(notes) == 1  # aeon drew it
    assert (tmp_path / "b.png").stat().st_size > 0 and (tmp_path / "b.pdf").is_file()


def test_without_aeon_the_claim_is_not_tested_and_the_table_keeps_ours(tmp_path,
                                                                       monkeypatch):
    import ecgrepro.aggregate.published as published
    from ecgrepro.aggregate.sota import write_sota

    def no_aeon(*args, **kwargs):
        raise ImportError("No module named 'aeon'")

    monkeypatch.setattr(published, "load_published", no_aeon)
    seeds = _seeds(_ours(1))
    cfg = {**CFG, "items": {"C11": ITEM}}
    sota = sota_inputs(seeds, cfg)
    res = evaluate_claims(seeds, pd.DataFrame(), pd.DataFrame(), cfg, sota=sota).iloc[0]
    assert res["verdict"] == "not tested" and "aeon" in res["reason"]
    table = write_sota(sota, tmp_path)
    assert table["classifier"].tolist() == ["LSTM-FCN"]
    assert "not installed" in (tmp_path / "sota.md").read_text()
