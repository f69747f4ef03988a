"""The timing step: round rejection, statistics, the comparisons table, a tiny run."""

import math
import re

import numpy as np
import pandas as pd
import pytest

from ecgrepro.tooling import timing_core as tc


def _rounds(arm, walls, cpus):
    return pd.DataFrame({"round": range(len(walls)), "position": 0, "arm": arm,
                         "wall_s": walls, "cpu_s": cpus, "load": 0.0})


def test_one_thread_rejects_wall_over_cpu_by_more_than_ten_percent():
    judged = tc.keep_rounds(_rounds("a", [1.00, 1.09, 1.12, 2.0], [1.0, 1.0, 1.0, 1.0]), 1)
    assert judged["kept"].tolist() == [True, True, False, False]
    assert judged["utilisation"].iloc[3] == pytest.approx(0.5)


def test_one_thread_all_starved_rounds_are_rejected():
    # A busy machine: every round got half a core; no best round rescues them.
    judged = tc.keep_rounds(_rounds("a", [2.0, 2.1, 1.9], [1.0, 1.0, 1.0]), 1)
    assert not judged["kept"].any()


def test_threads_normalise_by_the_arms_best_utilisation():
    # Four threads: the best round used 3 cores; 2.8 is within 10%, 2.5 is not.
    walls = [1.0, 1.0, 1.0]
    judged = tc.keep_rounds(_rounds("a", walls, [3.0, 2.8, 2.5]), 4)
    assert judged["kept"].tolist() == [True, True, False]
    # Utilisation above the thread count (helper threads) is capped at the thread count.
    capped = tc.keep_rounds(_rounds("b", [1.0, 1.0], [6.0, 3.7]), 4)
    assert capped["kept"].tolist() == [True, True]


def test_arms_are_judged_separately():
    rounds = pd.concat([_rounds("a", [1.0, 1.0], [3.0, 2.0]), _rounds("b", [1.0], [1.0])])
    judged = tc.keep_rounds(rounds, 4)
    assert judged["kept"].tolist() == [True, False, True]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bootstrap_interval_is_ordered_and_contains_the_ratio(seed):
    rng = np.random.default_rng(seed)
    num, den = rng.normal(2.0, 0.1, 15), rng.normal(1.0, 0.05, 15)
    ratio, low, high = tc.bootstrap_ratio(num, den, seed=seed)
    assert ratio == pytest.approx(np.median(num) / np.median(den))
    assert low <= ratio <= high and low < high
    assert 1.5 < low and high < 2.5
    # A wider spread gives a wider interval.
    _, wl, wh = tc.bootstrap_ratio(rng.normal(2.0, 0.5, 15), den, seed=seed)
    assert wh - wl > high - low


def test_bootstrap_of_an_empty_arm_is_nan():
    assert all(math.isnan(v) for v in tc.bootstrap_ratio([], [1.0, 2.0]))


def test_summarise_median_and_iqr():
    s = tc.summarise([1.0, 2.0, 3.0, 4.0, 100.0])
    assert s == {"median": 3.0, "iqr": 2.0, "n": 5}
    assert math.isnan(tc.summarise([])["median"])


def test_run_rounds_alternates_the_order():
    calls = []
    arms = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}
    rounds = tc.run_rounds(arms, rounds=3, warmup=2, log=None)
    assert calls[:4] == ["a", "a", "b", "b"]  # warm-up first
    assert calls[4:] == ["a", "b", "b", "a", "a", "b"]
    assert list(rounds["arm"]) == ["a", "b", "b", "a", "a", "b"]
    assert {"wall_s", "cpu_s", "load"} <= set(rounds.columns)
    assert (rounds["wall_s"] >= 0).all()


def test_compare_writes_the_contract_columns():
    rounds = pd.concat([_rounds("slow", [2.0, 2.2, 2.1, 9.0], [2.0, 2.2, 2.1, 1.0]),
                        _rounds("fast", [1.0, 1.1, 0.9], [1.0, 1.1, 0.9])])
    judged = tc.keep_rounds(rounds, 1)
    table = tc.compare(judged, [tc.Comparison("x", "slow", "fast", "torch")], 1,
                       kernels={"slow": "k1"}, scales={"slow": 0.5, "fast": 0.5})
    assert list(table.columns) == tc.COMPARISON_COLUMNS
    row = table.iloc[0]
    assert (row.rounds_kept, row.rounds_rejected) == (6, 1)
    assert row.median_num_s == pytest.approx(1.05) and row.median_den_s == pytest.approx(0.5)
    assert row.ratio == pytest.approx(2.1)
    assert row.ratio_low <= row.ratio <= row.ratio_high
    assert (row.kernel_num, row.kernel_den) == ("k1", "")


def test_comparison_names_follow_the_contract():
    from ecgrepro.tooling.perf_timing import comparisons

    names = [c.name for c in comparisons()]
    assert names == [
        "shuffle_torch", "shuffle_keras", "gru_over_lstm_torch", "gru_over_lstm_keras",
        "keras_over_torch_lstm_fcn", "keras_over_torch_lstm_fcn_noshuffle",
        "keras_over_torch_cnn_lstm", "keras_over_torch_cnn_gru",
    ]
    shuffle = comparisons()[0]  # noshuffle over shuffle: how many times slower without
    assert (shuffle.numerator, shuffle.denominator) == ("lstm_fcn_noshuffle/torch",
                                                        "lstm_fcn/torch")
    assert [c.name for c in comparisons(("torch",), mitdb=False)] == ["shuffle_torch"]


def test_report_ends_with_the_parsable_line():
    from ecgrepro.tooling.perf_timing import report_lines

    rows = []
    for name, ratio in (("shuffle_torch", 0.97), ("shuffle_keras", 1.21),
                        ("gru_over_lstm_torch", 1.6)):
        rows.append({c: "" for c in tc.COMPARISON_COLUMNS} | {
            "comparison": name, "ratio": ratio, "ratio_low": ratio - 0.1,
            "ratio_high": ratio + 0.1, "median_num_s": 1.0, "median_den_s": 1.0,
            "iqr_num_s": 0.1, "iqr_den_s": 0.1, "rounds_kept": 4, "rounds_rejected": 0})
    lines = report_lines(pd.DataFrame(rows))
    assert lines[-1] == ("shuffle_ratio_torch=0.970 shuffle_ratio_keras=1.210 "
                         "gru_over_lstm_torch=1.600")


def _tiny_data(tmp_path):
    from ecgrepro.data.segments import TABLE_COLUMNS, SegmentConfig, Segments, save_segments
    from ecgrepro.data.ucr import UCRDataset, save_prepared

    rng = np.random.default_rng(0)
    ucr = UCRDataset(name="Tiny", X_train=rng.normal(size=(12, 24)), y_train=np.arange(12) % 2,
                     X_test=rng.normal(size=(6, 24)), y_test=np.arange(6) % 2,
                     classes=np.array(["1", "2"]))
    save_prepared(ucr, tmp_path / "tiny.npz")
    n, cfg = 60, SegmentConfig(length=120)
    table = pd.DataFrame({c: 0 for c in TABLE_COLUMNS}, index=range(n))
    table["record"], table["label"] = "100", np.arange(n) % 5
    table["class"] = np.array(cfg.classes)[table["label"]]
    save_segments(tmp_path / "seg.npz",
                  Segments(rng.normal(size=(n, 120)).astype(np.float32), table, cfg))
    return tmp_path / "tiny.npz", tmp_path / "seg.npz"


def test_tiny_timing_run_writes_its_files(tmp_path, capsys):
    pytest.importorskip("torch")
    pytest.importorskip("tensorflow")
    from ecgrepro.tooling import perf_timing

    ucr, seg = _tiny_data(tmp_path)
    out = tmp_path / "timing"
    rc = perf_timing.main([
        "--ucr-npz", str(ucr), "--segments-npz", str(seg), "--out", str(out),
        "--frameworks", "torch", "--rounds", "3", "--warmup", "1", "--ucr-epochs", "1",
        "--mitdb-batches", "1", "--lstm-units", "2"])
    assert rc == 0
    table = pd.read_csv(out / "comparisons.csv")
    assert list(table.columns) == tc.COMPARISON_COLUMNS
    assert list(table["comparison"]) == ["shuffle_torch", "gru_over_lstm_torch"]
    assert (table["threads"] == 1).all()
    assert table.loc[1, "kernel_den"].startswith("torch CPU:")
    assert "mkldnn" in table.loc[1, "kernel_den"] or "lstm" in table.loc[1, "kernel_den"]
    assert "GRURecurrence" in table.loc[1, "kernel_num"]
    rounds = pd.read_csv(out / "rounds.csv")
    assert {"arm", "wall_s", "cpu_s", "load", "kept"} <= set(rounds.columns)
    assert len(rounds) == 3 * 4
    import json

    prov = json.loads((out / "provenance.json").read_text())
    assert prov["extra"]["threads"] == 1 and prov["extra"]["rounds"] == 3
    assert prov["extra"]["thread_settings"]["torch_num_threads"] == 1
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("shuffle_ratio_torch=") and "shuffle_ratio_keras=nan" in last


def _comparisons_frame():
    rows = [
        ("shuffle_torch", "lstm_fcn_noshuffle/torch", "lstm_fcn/torch", "torch", 0.05, 0.05),
        ("gru_over_lstm_torch", "cnn_gru/torch", "cnn_lstm/torch", "torch", 5.0, 3.0),
        ("keras_over_torch_cnn_gru", "cnn_gru/keras", "cnn_gru/torch", "keras/torch", 6.0, 5.0),
    ]
    return pd.DataFrame([{
        "comparison": c, "numerator": n, "denominator": d, "framework": f, "threads": 1,
        "median_num_s": a, "median_den_s": b, "iqr_num_s": 0.1 * a, "iqr_den_s": 0.1 * b,
        "ratio": a / b, "ratio_low": a / b - 0.1, "ratio_high": a / b + 0.1,
        "rounds_kept": 20, "rounds_rejected": 0, "kernel_num": "kn", "kernel_den": "kd",
    } for c, n, d, f, a, b in rows], columns=tc.COMPARISON_COLUMNS)


def test_aggregate_tables_and_figure(tmp_path):
    from ecgrepro.aggregate import timing as at

    assert at.COLUMNS == tc.COMPARISON_COLUMNS  # the aggregate reads what the step writes
    path = tmp_path / "comparisons.csv"
    _comparisons_frame().to_csv(path, index=False)
    frame = at.read_comparisons(path)
    arms = at.arm_table(frame)
    assert sorted(arms["arm"]) == ["cnn_gru/keras", "cnn_gru/torch", "cnn_lstm/torch",
                                   "lstm_fcn/torch", "lstm_fcn_noshuffle/torch"]
    gru = arms.set_index("arm").loc["cnn_gru/torch"]
    assert (gru.model, gru.framework, gru.median_s) == ("cnn_gru", "torch", 5.0)
    table = at.comparison_table(frame)
    assert table.loc[1, "ratio"] == "1.67" and table.loc[1, "95% interval"] == "[1.57, 1.77]"
    at.plot_time_per_epoch(frame, tmp_path / "t.png", tmp_path / "t.pdf")
    assert (tmp_path / "t.png").stat().st_size > 0 and (tmp_path / "t.pdf").is_file()
    written = at.write_timing_outputs(tmp_path, tmp_path / "out" / "timing.csv",
                                      tmp_path / "out" / "timing.md", tmp_path / "f.png",
                                      tmp_path / "f.pdf")
    assert list(pd.read_csv(tmp_path / "out" / "timing.csv").columns) == at.COLUMNS
    assert "gru_over_lstm_torch" in (tmp_path / "out" / "timing.md").read_text()
    assert len(written) == 3 and (tmp_path / "f.png").is_file()
    frame.drop(columns="kernel_den").to_csv(path, index=False)
    from ecgrepro.errors import EcgreproError

    with pytest.raises(EcgreproError, match="kernel_den"):
        at.read_comparisons(path)


def test_timing_rule_holds_every_core_and_passes_the_config(tmp_path):
    from test_workflow import snakemake

    (tmp_path / "timing.yaml").write_text("timing: {threads: 2, rounds: 7}\n")
    result = snakemake("-n", "-p", "timing", "--cores", "3", "--configfile",
                       str(tmp_path / "timing.yaml"), cwd=tmp_path)
    block = result.stdout.split("rule timing:", 1)[1]
    assert re.search(r"threads: 3\b", block)  # all cores: nothing runs beside it
    cmd = block.split("python -m ecgrepro.perf timing", 1)[1].splitlines()[0]
    assert "--threads 2" in cmd and "--rounds 7" in cmd and "--ucr-epochs 20" in cmd
    assert "--out results/timing" in cmd and "OMP_NUM_THREADS=2" in block


def test_invalid_timing_config_names_the_key(tmp_path):
    from test_workflow import snakemake

    (tmp_path / "timing.yaml").write_text("timing: {rounds: 1}\n")
    result = snakemake("-n", "timing", "--configfile", str(tmp_path / "timing.yaml"),
                       cwd=tmp_path, check=False)
    assert result.returncode != 0 and "rounds" in result.stdout + result.stderr


def test_slurm_profile_gives_timing_a_node_of_its_own():
    import yaml

    from conftest import REPO

    profile = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    assert "--exclusive" in profile["set-resources"]["timing"]["slurm_extra"]


def test_cnn_rnn_flops_match_torchs_counter_outside_the_rnn():
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    from ecgrepro.models.cnn_rnn import CNNRNNArch
    from ecgrepro.models.cnn_rnn_torch import CNNRNN
    from ecgrepro.tooling.perf_cnn_rnn import cnn_rnn_flops

    arch = CNNRNNArch.test_params(cell="lstm")
    net = CNNRNN(arch)
    x = torch.randn(8, 1, arch.length)
    with FlopCounterMode(display=False) as fc:
        net(x).sum().backward()
    counts = cnn_rnn_flops(arch, 8)
    # The counter sees convolutions and dense layers, not the fused LSTM kernel.
    assert fc.get_total_flops() == counts["total"] - counts["rnn"]
    gru = cnn_rnn_flops(CNNRNNArch.test_params(cell="gru"), 8)
    assert gru["rnn"] * 4 == counts["rnn"] * 3  # 3 gates instead of 4


def test_tiny_cnn_rnn_benchmark_run(tmp_path, capsys):
    pytest.importorskip("torch")
    pytest.importorskip("tensorflow")
    from ecgrepro.tooling import perf_cnn_rnn

    _, seg = _tiny_data(tmp_path)
    rc = perf_cnn_rnn.main(["--segments-npz", str(seg), "--no-keras", "--rounds", "2",
                            "--batches", "1", "--gemm-size", "64", "--reference-gru"])
    assert rc == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert any("cnn_gru_torch_torchgru" in line for line in out)
    assert re.fullmatch(r"cnn_lstm_torch_epoch_s=\d+\.\d+ cnn_gru_torch_epoch_s=\d+\.\d+ "
                        r"cnn_lstm_keras_epoch_s=nan cnn_gru_keras_epoch_s=nan", out[-1])
