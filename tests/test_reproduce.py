"""The reproduce check of a small configuration (issue 20, item 7).

Claims it never ran are "not run in this configuration", not "different"; only the runs
and data of the configuration given are compared; a k-NN value is named by its k.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

from conftest import REPO
from ecgrepro import store
from ecgrepro.reproduce import reproduce_check

BIN = Path(sys.executable).parent
CLAIM_COLUMNS = ["claim_id", "measured", "n_runs", "n_expected", "verdict", "reason"]


def config() -> dict:
    from snakemake.utils import update_config, validate

    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    update_config(cfg, yaml.safe_load((REPO / "config/quick.yaml").read_text()))
    validate(cfg, str(REPO / "workflow/schemas/config.schema.yaml"))
    return cfg


def knn_run(root: Path, cfg: dict, accuracy: dict, preds: str) -> Path:
    d = Path(store.knn_dir(cfg, "TwoLeadECG", "aeon-dtw", str(root)))
    d.mkdir(parents=True)
    best = max(accuracy, key=accuracy.get)
    (d / "metrics.json").write_text(json.dumps(
        {"accuracy": accuracy, "best_k": int(best), "best_accuracy": accuracy[best]}))
    (d / "predictions.csv").write_text(preds)
    (d / "provenance.json").write_text("{}")
    store.write_settings(d, store.knn_settings(cfg, "TwoLeadECG", "aeon-dtw"))
    return d


def claims(path: Path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=CLAIM_COLUMNS).to_csv(path, index=False)


def test_claims_a_small_configuration_never_ran_are_not_run_not_different(tmp_path):
    ref, mine = tmp_path / "reference", tmp_path / "results"
    claims(ref / "tables/claims.csv", [
        ["C1", "accuracy 0.83", 2, 2, "reproduced", ""],
        ["C2", "accuracy 0.9993", 2, 2, "reproduced", ""],
        ["C5", "12x", 2, 2, "reproduced", ""],
        ["C6", "gap 0.01", 2, 2, "reproduced", ""],
    ])
    claims(mine / "tables/claims.csv", [
        ["C1", "accuracy 0.80", 1, 1, "not reproduced", "0.80 vs 1.00"],
        ["C2", "", 0, 0, "not tested", "no such runs in the configured experiments"],
        ["C5", "", 1, 1, "not tested: no controlled timing", "no comparison"],
        ["C6", "", 0, 2, "not tested", "none of the 2 expected runs is present"],
    ])
    table = reproduce_check(mine, ref, tmp_path / "out").set_index("run")
    assert table.loc["C1", "verdict"] == "different"  # a result that differs
    for claim in ("C2", "C5", "C6"):
        assert table.loc[claim, "verdict"] == "not run in this configuration"
    assert "no such runs in the configured experiments" in table.loc["C2", "reason"]
    assert "reference: 'reproduced'" in table.loc["C2", "reason"]
    assert "no timing step" in table.loc["C5", "reason"]
    md = (tmp_path / "out/reproduce.md").read_text()
    assert "| claim | not run in this configuration | 3 |" in md


def test_only_the_configurations_runs_and_data_are_compared(tmp_path):
    cfg = config()
    ref, mine = tmp_path / "reference", tmp_path / "results"
    accuracy = {"1": 0.9, "2": 0.8}
    ours = knn_run(mine, cfg, accuracy, "p\n")
    knn_run(ref, cfg, accuracy, "p\n")
    # a run of other settings and a summary left by a failed dataset, both under results/
    other = dict(cfg, knn=dict(cfg["knn"], ks=[1, 2, 3]))
    stray = Path(store.knn_dir(other, "TwoLeadECG", "aeon-dtw", str(mine)))
    stray.mkdir(parents=True)
    (stray / "metrics.json").write_text(json.dumps({"accuracy": {"1": 0.5}}))
    for name in ("TwoLeadECG", "Broken"):
        summary = mine / f"data/ucr/{name}/summary.json"
        summary.parent.mkdir(parents=True)
        summary.write_text(json.dumps({"sha256": {"a": "1"}}))
    (ref / "data/ucr/TwoLeadECG").mkdir(parents=True)
    (ref / "data/ucr/TwoLeadECG/summary.json").write_text(json.dumps({"sha256": {"a": "1"}}))

    everything = reproduce_check(mine, ref, tmp_path / "all")
    assert len(everything[everything["kind"] == "knn"]) == 2
    assert "Broken" in " ".join(everything["run"])

    table = reproduce_check(mine, ref, tmp_path / "out", runs=[ours],
                            data=[mine / "data/ucr/TwoLeadECG/summary.json"])
    assert list(table["kind"]) == ["knn", "data"]
    assert list(table["verdict"]) == ["identical", "identical"]
    assert "configuration given" in (tmp_path / "out/reproduce.md").read_text()


def test_knn_values_are_at_a_named_k_and_differences_name_every_k(tmp_path):
    cfg = config()
    ref, mine = tmp_path / "reference", tmp_path / "results"
    knn_run(ref, cfg, {"1": 0.70, "2": 0.95, "3": 0.80}, "a\n")
    knn_run(mine, cfg, {"1": 0.72, "2": 0.95, "3": 0.81}, "b\n")
    row = reproduce_check(mine, ref, tmp_path / "out").iloc[0]
    assert row["verdict"] == "different"
    # k = 1, not the best over k (0.95 at k = 2, chosen on the test set)
    assert (row["k"], row["value"], row["reference_value"]) == (1, 0.72, 0.70)
    assert "differs at k = 1 (0.7000 -> 0.7200), 3 (0.8000 -> 0.8100)" in row["reason"]
    csv = pd.read_csv(tmp_path / "out/reproduce.csv")
    assert csv.loc[0, "k"] == 1


def test_the_workflow_passes_the_configurations_runs_and_data(tmp_path):
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "-n", "-p",
         "reproduce_check", "--configfile", str(REPO / "config/quick.yaml")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    command = result.stdout.split("rule reproduce_check:", 1)[1]
    command = command.split("python -m ecgrepro.cli reproduce-check", 1)[1].split("\n")[0]
    runs = command.split("--runs", 1)[1].split("--data", 1)[0].split()
    cfg = config()
    assert store.knn_dir(cfg, "TwoLeadECG", "aeon-dtw") in runs
    assert len(runs) == len(set(runs)) and all(r.startswith("results/") for r in runs)
    assert "--data results/data/ucr/TwoLeadECG/summary.json" in command
