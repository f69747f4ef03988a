"""The PyTorch LSTM-FCN/FCN training step: as fast as it can be, with the same results.

``data/torch_baseline.json`` holds fixed-seed runs of the code *before* the speed work
(commit 5eb549d, written by running this module as a script there). The runs below
must reproduce them within float tolerance: the channels-last convolutions sum in
another order (losses agree to ~1e-7, probabilities to < 1e-4 after 8 steps), so
bit-identity with the old code is not required, only with a rerun of the new code.
The other tests pin what made the step faster (layout, no second pass for the batch
norm statistics, fused Adam), so that a change that undoes it fails here.
"""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from ecgrepro.data.ucr import UCRDataset
from ecgrepro.models.fcn import FCNArch
from ecgrepro.models.lstm_fcn import LSTMFCNArch
from ecgrepro.training import get_protocol

torch = pytest.importorskip("torch")
BASELINE = Path(__file__).parent / "data" / "torch_baseline.json"
QUIET = {"log": lambda msg: None}
CASES = {
    "lstm_fcn_tiny": LSTMFCNArch.test_params(length=30),
    "lstm_fcn_tiny_noshuffle": LSTMFCNArch.test_params(length=30, shuffle=False),
    "lstm_fcn_full": LSTMFCNArch(length=30, n_classes=2),
    "fcn_tiny": FCNArch.test_params(length=30),
    "fcn_full": FCNArch(length=30, n_classes=2),
}
# Observed on the development machine: losses within 1.2e-7, probabilities within 8e-5.
LOSS_ATOL, PROBA_ATOL = 1e-5, 5e-4


def tiny_dataset() -> UCRDataset:
    """20 training and 12 test series of length 30, two classes (as test_training)."""
    rng = np.random.default_rng(0)
    t = np.linspace(0, 1, 30)

    def draw(y):
        return np.sin(2 * np.pi * (2 + y[:, None]) * t) + 0.3 * rng.normal(size=(len(y), 30))

    y_train = np.r_[np.zeros(13, int), np.ones(7, int)]
    y_test = np.r_[np.zeros(6, int), np.ones(6, int)]
    return UCRDataset("Tiny", draw(y_train), y_train, draw(y_test), y_test, np.array(["1", "2"]))


def run_case(arch):
    """A fixed-seed karim2018 run of 4 epochs: (epoch losses, last-epoch probabilities)."""
    from ecgrepro.training import torch_fit

    protocol = get_protocol("karim2018", epochs=4, batch_size=10)
    result = torch_fit.fit_evaluate(tiny_dataset(), arch, protocol, seed=3, device="cpu",
                                    threads=1, **QUIET)
    proba = result.predictions.query("checkpoint == 'last'").filter(like="proba_")
    return result.history["loss"].tolist(), proba.to_numpy().tolist()


@pytest.mark.parametrize("case", list(CASES))
def test_fixed_seed_run_matches_the_code_before_the_speed_work(case):
    expected = json.loads(BASELINE.read_text())[case]
    losses, proba = run_case(CASES[case])
    np.testing.assert_allclose(losses, expected["loss"], rtol=0, atol=LOSS_ATOL)
    np.testing.assert_allclose(proba, expected["proba"], rtol=0, atol=PROBA_ATOL)
    assert (np.argmax(proba, axis=1) == np.argmax(expected["proba"], axis=1)).all()


@pytest.mark.parametrize("case", ["lstm_fcn_full", "fcn_full"])
def test_same_seed_and_threads_give_byte_identical_predictions(case):
    """Full-width networks, whose convolutions take oneDNN's channels-last kernels."""
    first, again = run_case(CASES[case]), run_case(CASES[case])
    assert first == again  # exact float equality of every loss and probability


def _train_step(arch):
    from ecgrepro.training import torch_fit

    protocol = get_protocol("karim2018", batch_size=10)
    adapter, _ = torch_fit.make_adapter(arch, protocol, "categorical_crossentropy", 0, "cpu")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(10, 1, arch.length)).astype(np.float32)
    y = np.eye(2, dtype=np.float32)[np.arange(10) % 2]
    return adapter, lambda: adapter.train_batch(x, y, np.ones(10, np.float32))


@pytest.mark.parametrize("case", ["lstm_fcn_full", "fcn_full"])
def test_convolution_blocks_run_channels_last(case):
    """Every convolution, batch norm and ReLU sees (N, C, 1, T) channels-last data, and
    each kernel is stored in that layout: no reorder of data or weights per call."""
    adapter, step = _train_step(CASES[case])
    seen = []

    def hook(module, inputs, output):
        for t in (*inputs, output):
            seen.append(t.dim() == 4 and t.is_contiguous(memory_format=torch.channels_last))

    convs = [m for m in adapter.model.modules() if isinstance(m, torch.nn.Conv1d)]
    bns = [m for m in adapter.model.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    handles = [m.register_forward_hook(hook) for m in convs + bns]
    step()
    for h in handles:
        h.remove()
    assert len(seen) == 12 and all(seen)
    for conv in convs:
        w = conv.weight.unsqueeze(2)
        assert w.is_contiguous(memory_format=torch.channels_last)
        assert conv.weight.grad.unsqueeze(2).is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("case", ["lstm_fcn_full", "fcn_full"])
def test_step_runs_no_extra_passes(case):
    """Batch norm takes its moving statistics from its own kernel (no var_mean), the
    optimiser is fused Adam (no per-parameter sqrt/div ops), and no activation of the
    convolution blocks is copied (the old (N, C, T) layout cost a reorder in and out of
    every convolution)."""
    from torch.profiler import profile

    adapter, step = _train_step(CASES[case])
    step()
    with profile(record_shapes=True) as prof:
        step()
    names = [e.name for e in prof.events()]
    copies = [e.input_shapes[0] for e in prof.events() if e.name == "aten::copy_"]
    assert adapter.opt.defaults["fused"] is True
    assert "aten::var_mean" not in names and "aten::_fused_adam_" in names
    assert "aten::sqrt" not in names and "aten::addcdiv_" not in names
    activations = [s for s in copies if len(s) == 4 and s[0] == 10 and s[1] > 1]
    assert copies and activations == []


def test_large_tensors_reuse_freed_memory():
    """After ``configure``, a freed 100 MB activation's memory serves the next one: no
    page faults (glibc's default returns it to the system: ~25,000 faults each time)."""
    resource = pytest.importorskip("resource")
    from ecgrepro.training import torch_fit

    _, flags = torch_fit.configure(0, "cpu", 1)
    if not flags["malloc_reuse"]:
        pytest.skip("not glibc: its allocator is left as it is")
    torch.ones(25_000_000)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(3):
        torch.ones(25_000_000)  # 100 MB, freed at once
    assert resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before < 2_000
