"""The PyTorch training step's speed work changes no result: old and new code agree.

``data/torch_baseline.json`` holds fixed-seed runs of the code *before* the speed work
(commit 5eb549d, written by running this module as a script there). The runs below
must reproduce them within float tolerance: faster kernels may reorder float sums, so
bit-identity with old code is not required, only with a rerun of the new code.
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
# Probabilities after 4 epochs (8 Adam steps): reordered float sums drift ~1e-7 a step.
ATOL = 1e-4


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
    np.testing.assert_allclose(losses, expected["loss"], rtol=0, atol=ATOL)
    np.testing.assert_allclose(proba, expected["proba"], rtol=0, atol=ATOL)


if __name__ == "__main__":  # regenerate the baseline (only on the old code)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    out = {}
    for name, arch in CASES.items():
        loss, proba = run_case(arch)
        out[name] = {"loss": loss, "proba": proba}
    BASELINE.write_text(json.dumps(out, indent=1) + "\n")
