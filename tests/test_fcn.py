"""FCN (Wang et al. 2017) in PyTorch and Keras: parameter counts, weight transfer, one epoch."""

import os

os.environ["KERAS_BACKEND"] = "tensorflow"  # explicit, before keras is imported
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from ecgrepro.data.ucr import UCRDataset
from ecgrepro.models import registry
from ecgrepro.models.fcn import FCNArch, build_keras, build_torch, load_keras_weights
from ecgrepro.training import get_protocol

torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")

TWOLEAD = {"total": 265_986, "trainable": 264_962, "non_trainable": 1_024}


def test_registered_and_framework_free():
    assert registry.resolve("fcn") is FCNArch
    assert registry.frameworks_of(FCNArch) == ("torch", "keras")
    assert registry.settings_of(FCNArch) == ["filters", "kernels"]
    arch = registry.build_arch({"family": "fcn"}, 82, 2)
    assert arch == FCNArch(length=82, n_classes=2) and arch.name == "fcn"
    assert arch.to_dict() == {"length": 82, "n_classes": 2, "filters": [128, 256, 128],
                              "kernels": [8, 5, 3], "name": "fcn"}


def test_param_counts_equal_in_both_frameworks():
    arch = FCNArch(length=82, n_classes=2)
    assert arch.param_counts() == TWOLEAD
    assert registry.count_params(build_torch(arch), "torch") == TWOLEAD
    assert registry.count_params(build_keras(arch), "keras") == TWOLEAD
    other = FCNArch(length=33, n_classes=5, filters=(16, 32, 8), kernels=(7, 4, 3))
    expected = other.param_counts()
    assert registry.count_params(build_torch(other), "torch") == expected
    assert registry.count_params(build_keras(other), "keras") == expected


def test_torch_mirrors_keras_defaults():
    torch.manual_seed(0)
    model = build_torch(FCNArch.test_params())
    bns = [m for m in model if isinstance(m, torch.nn.BatchNorm1d)]
    convs = [m for m in model if isinstance(m, torch.nn.Conv1d)]
    assert len(bns) == len(convs) == 3
    for bn in bns:
        assert bn.eps == pytest.approx(1e-3) and bn.momentum == pytest.approx(0.01)
    for conv in convs:
        assert torch.all(conv.bias == 0)
    assert torch.all(model[-1].bias == 0)


@pytest.mark.parametrize("kernels", [(8, 5, 3), (4, 6, 2)])
def test_keras_weights_give_same_probabilities_in_torch(kernels):
    """Layouts, even-kernel 'same' padding, BN eps and statistics, end to end."""
    rng = np.random.default_rng(1)
    arch = FCNArch(length=41, n_classes=3, filters=(16, 32, 16), kernels=kernels)
    keras.utils.set_random_seed(0)
    km = build_keras(arch)
    for layer in km.layers:  # perturb every weight, BN moving statistics too
        new = []
        for value, var in zip(layer.get_weights(), layer.weights):
            noise = rng.normal(0.0, 0.1, value.shape)
            if "moving_variance" in var.path:
                new.append(np.abs(value + 3 * noise).astype(np.float32) + 0.1)
            else:
                new.append((value + noise).astype(np.float32))
        layer.set_weights(new)
    tm = build_torch(arch)
    load_keras_weights(tm, km)
    tm.eval()
    x = rng.normal(size=(16, 1, 41)).astype(np.float32)
    p_keras = np.asarray(km.predict_on_batch(x))
    with torch.inference_mode():
        p_torch = torch.softmax(tm(torch.from_numpy(x)), dim=1).numpy()
    assert np.abs(p_keras - p_torch).max() <= 1e-4
    assert p_keras.std() > 0.01  # the comparison is not between constant outputs


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_one_epoch_fit(framework):
    import importlib

    rng = np.random.default_rng(0)
    y_train, y_test = np.r_[np.zeros(5, int), np.ones(5, int)], np.r_[0, 1, 0, 1]
    ds = UCRDataset("Tiny", rng.normal(size=(10, 24)), y_train, rng.normal(size=(4, 24)),
                    y_test, np.array(["a", "b"]))
    arch = FCNArch.test_params(length=24)
    fit = importlib.import_module(f"ecgrepro.training.{framework}_fit")
    result = fit.fit_evaluate(ds, arch, get_protocol("blog2020", epochs=1), seed=0,
                              device="cpu", log=lambda line: None)
    m = result.metrics
    assert m["framework"] == framework and m["epochs"] == 1 and len(result.history) == 1
    assert m["n_params"] == arch.param_counts()["total"] and m["arch"]["name"] == "fcn"
    assert np.isfinite(result.history["loss"]).all() and 0 <= m["accuracy"] <= 1
