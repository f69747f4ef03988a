"""The cost estimate (python -m ecgrepro.cost): plan parsing, measurements, scaling."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from conftest import REPO
from ecgrepro.tooling import cost


def test_benchmark_templates_match_the_rules():
    text = "".join(p.read_text() for p in (REPO / "workflow" / "rules").glob("*.smk"))
    # {tag} is "" for pinned data (the window search's folder; common.smk window_tag)
    declared = {d.replace("{tag}", "")
                for d in re.findall(r'benchmark:\s*\n\s*"([^"]+)"', text)}
    # the run benchmarks are ecgrepro.store's (common.smk formats them for the rules)
    assert "RUN_BENCHMARK" in text and "KNN_BENCHMARK" in text
    assert "{{block}}-of-{{nblocks}}.tsv" in text
    literal = {k: v for k, v in cost.BENCHMARKS.items()
               if k in ("knn_window_block", "mitdb_segments")}
    assert set(literal.values()) <= declared, declared
    assert cost.BENCHMARKS["train"].endswith("/seed{seed}-{digest}.tsv")


def test_parse_dry_run_groups_and_wildcards():
    text = """\
[Mon] Group job data (jobs in lexicogr. order):

    [Mon]
    rule fetch_ucr:
        output: a
        wildcards: name=TwoLeadECG, split=TRAIN, fmt=tsv

[Mon] Group job knn (jobs in lexicogr. order):

    [Mon]
    rule knn_run:
        wildcards: dataset=ECG200, variant=euclidean

[Mon] Group job knn (jobs in lexicogr. order):

    [Mon]
    rule knn_run:
        wildcards: dataset=ECG200, variant=learned

[Mon]
rule train:
    wildcards: dataset=ECG200, model=lstm_fcn, framework=torch, protocol=blog2020, fold=test, seed=0

[Mon]
localrule all:
    input: x
Job stats:
job        count
-------  -------
fetch_ucr        1
knn_run          2
train            1
all              1
total            5
"""
    jobs, stats = cost.parse_dry_run(text)
    assert [j.rule for j in jobs] == ["fetch_ucr", "knn_run", "knn_run", "train", "all"]
    assert jobs[3].wildcards["protocol"] == "blog2020" and jobs[3].group is None
    assert stats == {"fetch_ucr": 1, "knn_run": 2, "train": 1, "all": 1}
    # three group jobs (two share the name knn) + one training; `all` is local
    assert cost.slurm_submissions(text, {"all"}) == (4, 3)


def _measured_run(root, seed, s, cpu):
    rel = f"TwoLeadECG/lstm_fcn/torch/blog2020/test/seed{seed}-0123456789"
    bench = root / "benchmarks/train" / f"{rel}.tsv"
    bench.parent.mkdir(parents=True)
    bench.write_text(f"s\th:m:s\tmax_rss\tcpu_time\n{s}\t0:00:10\t1\t{cpu}\n")
    metrics = root / "results/runs" / rel / "metrics.json"
    metrics.parent.mkdir(parents=True)
    metrics.write_text(json.dumps({
        "n_train": 20, "n_test": 100, "arch": {"length": 50}, "epochs": 10,
        "seconds_per_epoch": 0.5, "fit_seconds": 6.0, "predict_seconds": 0.5,
        "eval_seconds_per_epoch": 0.1,
        "protocol_params": {"test_every": 1},
        "accuracy_by_rule": {"last": 1.0, "min_train_loss": 1.0, "best_test": 1.0},
    }))


def test_training_cost_scales_with_epochs_and_data(tmp_path):
    # wall 10 s = overhead 2.5 + fit 6 (10 x 0.5 train + 10 x 0.1 eval) + 3 x 0.5 predict
    _measured_run(tmp_path, 0, s=10.0, cpu=5.0)
    measured, notes = cost.collect(tmp_path)
    assert len(measured) == 1 and not notes
    cfg = {"protocols": {"blog2020": {"epochs": 20}}}
    job = cost.PlannedJob("train", {"dataset": "ECG200", "model": "lstm_fcn",
                                    "framework": "torch", "protocol": "blog2020",
                                    "fold": "test", "seed": "3"})
    results, missing, _ = cost.estimate([job], measured, cfg, set(), 5.0, {"train": 1},
                                        tmp_path)
    assert not missing
    (e,) = results.values()
    # ECG200: 100 train, 100 test, length 96; blog2020 evaluates every epoch.
    train = 20 * 0.5 / (20 * 50) * 100 * 96
    evals = 20 * 0.1 / (100 * 50) * 100 * 96
    predict = 1.5 / (100 * 50) * 100 * 96
    wall = 2.5 + train + evals + predict
    assert e.upper_s == pytest.approx(wall)
    assert e.core_s == pytest.approx(wall * 0.5)  # measured cpu_time / s


def test_knn_blocks_use_measured_blocks_else_the_model(tmp_path):
    bench = tmp_path / "benchmarks/knn/ECG200/aeon-dtw-0123456789/block.0-of-1.tsv"
    bench.parent.mkdir(parents=True)
    bench.write_text("s\th:m:s\tcpu_time\n4.0\t0:00:04\t7.0\n")
    measured, _ = cost.collect(tmp_path)
    assert [m.rule for m in measured] == ["knn_block"]
    jobs = [
        cost.PlannedJob("knn_block", {"dataset": "ECG200", "variant": "aeon-dtw",
                                      "block": "0", "nblocks": "1"}),
        cost.PlannedJob("knn_block", {"dataset": "ECG5000", "variant": "aeon-dtw",
                                      "block": "1", "nblocks": "2"}),
        cost.PlannedJob("knn_block", {"dataset": "ECG5000", "variant": "euclidean",
                                      "block": "0", "nblocks": "1"}),
    ]
    model = {("knn_block", "ECG5000", "aeon-dtw"): [10.0, 30.0]}
    results, missing, _ = cost.estimate(jobs, measured, {}, set(), 5.0, {}, tmp_path, model)
    assert results[("knn_block", ("ECG200", "aeon-dtw"))].core_s == 7.0
    assert results[("knn_block", ("ECG5000", "aeon-dtw"))].core_s == 30.0
    assert missing == {"knn_block": 1}


@pytest.mark.slow
def test_cli_plans_the_full_configuration(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "ecgrepro.cost", "--measured", str(tmp_path),
         "--slurm-profile", "none", "--knn", "skip"],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    last = out.stdout.strip().splitlines()[-1]
    m = re.fullmatch(r"jobs=(\d+) core_hours=([\d.]+) core_hours_upper=([\d.]+)", last)
    assert m, last
    assert int(m[1]) > 600  # 418 trainings, 144 MIT-BIH files, 35 k-NN, ...
    assert "train" in out.stdout and "not estimated" in out.stdout  # nothing measured
