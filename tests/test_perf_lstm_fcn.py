"""``python -m ecgrepro.perf lstm_fcn``: arguments, FLOP count, a tiny run (seconds)."""

import math

import pytest

from conftest import tiny_dataset, write_ucr_tsv
from ecgrepro.models.lstm_fcn import LSTMFCNArch
from ecgrepro.perf import main
from ecgrepro.tooling.perf_lstm_fcn import build_parser, lstm_fcn_flops

torch = pytest.importorskip("torch")


def test_perf_lstm_fcn_parser():
    args = build_parser().parse_args(["--data-mirror", "/x", "--threads", "2"])
    assert (args.data_mirror, args.threads, args.repeats, args.gemm_size) == ("/x", 2, 5, 1024)
    assert args.func.__name__ == "perf_lstm_fcn" and not args.strict


def test_flop_counter_sees_forward_and_backward():
    """The analytic count (less the LSTM) equals FlopCounterMode's, backward ~2x."""
    from torch.utils.flop_counter import FlopCounterMode

    from ecgrepro.models.lstm_fcn_torch import LSTMFCN

    arch = LSTMFCNArch.test_params(length=20)
    torch.manual_seed(0)
    model = LSTMFCN(arch)
    x = torch.randn(5, 1, 20)
    with FlopCounterMode(display=False) as fc:
        model(x).sum().backward()
    expected = lstm_fcn_flops(arch, 5)
    assert fc.get_total_flops() == expected["forward"] + expected["backward"] - expected["lstm"]
    assert 1.5 < expected["backward"] / expected["forward"] < 2.0
    full = lstm_fcn_flops(LSTMFCNArch(length=82, n_classes=2), 23)
    assert full["forward"] + full["backward"] == pytest.approx(2.9746e9, rel=1e-4)


def test_perf_lstm_fcn_tiny_run(tmp_path, capsys):
    X_tr, y_tr, X_te, y_te = tiny_dataset(n_train=6, n_test=4, length=12)
    folder = tmp_path / "ucr" / "Tiny"
    write_ucr_tsv(folder / "Tiny_TRAIN.tsv", X_tr, y_tr)
    write_ucr_tsv(folder / "Tiny_TEST.tsv", X_te, y_te)
    argv = ["lstm_fcn", "--data-mirror", str(tmp_path), "--dataset", "Tiny", "--repeats", "1",
            "--steps", "1", "--warmup", "1", "--gemm-size", "64", "--no-keras", "--no-sktime",
            "--big-shape", "6,16,3", "--big-steps", "1"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    last = out.strip().splitlines()[-1]
    values = dict(item.split("=") for item in last.split())
    assert list(values) == ["torch_gemm_fraction", "keras_over_torch_step",
                            "fcn_keras_over_torch_step", "big_keras_over_torch_step",
                            "big_torch_gemm_fraction"]
    assert float(values["torch_gemm_fraction"]) > 0
    assert float(values["big_torch_gemm_fraction"]) > 0  # the big shape was timed
    assert math.isnan(float(values["keras_over_torch_step"]))
    assert "fcn (6 x 12, 2 classes): torch" in out and "big (6 x 16, 3 classes)" in out
    assert "big_fcn (6 x 16, 3 classes)" in out


def test_big_shape_argument():
    assert build_parser().parse_args([]).big_shape == (128, 750, 42)
    assert build_parser().parse_args(["--big-shape", "0"]).big_shape == (0, 0, 0)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--big-shape", "128,750"])


def test_random_dataset_has_every_class():
    from ecgrepro.tooling.perf_shapes import random_dataset

    ds = random_dataset(128, 750, 42)
    assert ds.X_train.shape == (128, 750) and len(ds.classes) == 42
    assert set(ds.y_train) == set(range(42))
