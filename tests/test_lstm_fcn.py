"""LSTM-FCN in PyTorch and Keras: parameter counts, Keras defaults, weight transfer (C10)."""

import os

os.environ["KERAS_BACKEND"] = "tensorflow"  # explicit, before keras is imported
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from ecgrepro.models.lstm_fcn import LSTMFCNArch

torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")

from ecgrepro.models import lstm_fcn_keras as lk  # noqa: E402
from ecgrepro.models import lstm_fcn_torch as lt  # noqa: E402

TWOLEAD = {"total": 268_914, "trainable": 267_890, "non_trainable": 1_024}


def _randomise_keras(model, rng):
    """Perturb every weight (BN statistics too) so the transfer test sees them all."""
    for layer in model.layers:
        new = []
        for value, var in zip(layer.get_weights(), layer.weights):
            noise = rng.normal(0.0, 0.1, value.shape)
            if "moving_variance" in var.path:
                new.append(np.abs(value + 3 * noise).astype(np.float32) + 0.1)
            else:
                new.append((value + noise).astype(np.float32))
        layer.set_weights(new)


def test_param_counts_from_arch():
    assert LSTMFCNArch(length=82, n_classes=2).param_counts() == TWOLEAD


def test_param_counts_torch():
    torch.manual_seed(0)
    assert lt.count_params(lt.LSTMFCN(LSTMFCNArch(length=82, n_classes=2))) == TWOLEAD


def test_param_counts_keras():
    keras.utils.set_random_seed(0)
    assert lk.count_params(lk.build_model(LSTMFCNArch(length=82, n_classes=2))) == TWOLEAD


def test_param_counts_agree_without_shuffle():
    arch = LSTMFCNArch(length=82, n_classes=3, lstm_units=64, shuffle=False)
    expected = arch.param_counts()
    assert lt.count_params(lt.LSTMFCN(arch)) == expected
    assert lk.count_params(lk.build_model(arch)) == expected


def test_torch_mirrors_keras_defaults():
    torch.manual_seed(0)
    arch = LSTMFCNArch.test_params()
    model = lt.LSTMFCN(arch)
    u = arch.lstm_units
    for bn in model.bns:
        assert bn.eps == pytest.approx(1e-3) and bn.momentum == pytest.approx(0.01)
    for conv in model.convs:
        assert conv.padding == (0,) and torch.all(conv.bias == 0)
    bias = model.lstm.bias.detach()
    assert torch.all(bias[u : 2 * u] == 1)  # unit_forget_bias
    assert torch.all(bias[:u] == 0) and torch.all(bias[2 * u :] == 0)
    assert torch.all(model.dense.bias == 0)
    # One LSTM bias, as Keras: b_hh is a constant, neither parameter nor state.
    names = {n for n, _ in model.named_parameters()}
    assert {"lstm.weight_ih", "lstm.weight_hh", "lstm.bias"} <= names
    assert "lstm.zero_bias" not in model.state_dict()
    w_hh = model.lstm.weight_hh.detach()
    assert torch.allclose(w_hh.T @ w_hh, torch.eye(u), atol=1e-5)  # orthogonal columns


def test_keras_lstm_equals_nn_lstm_with_zero_second_bias():
    torch.manual_seed(0)
    ours = lt.KerasLSTM(5, 4)
    ref = torch.nn.LSTM(5, 4, batch_first=True)
    with torch.no_grad():
        ref.weight_ih_l0.copy_(ours.weight_ih)
        ref.weight_hh_l0.copy_(ours.weight_hh)
        ref.bias_ih_l0.copy_(ours.bias)
        ref.bias_hh_l0.zero_()
    x = torch.randn(3, 7, 5)
    assert torch.allclose(ours(x), ref(x)[1][0][0], atol=1e-6)


@pytest.mark.parametrize("shuffle", [True, False])
def test_keras_weights_give_same_probabilities_in_torch(shuffle):
    """Gate order, layouts, even-kernel 'same' padding and BN eps, end to end."""
    rng = np.random.default_rng(1)
    arch = LSTMFCNArch(length=82, n_classes=2, shuffle=shuffle)
    keras.utils.set_random_seed(0)
    km = lk.build_model(arch)
    _randomise_keras(km, rng)
    tm = lt.LSTMFCN(arch)
    lt.load_keras_weights(tm, lk.export_weights(km))
    tm.eval()
    x = rng.normal(size=(32, 1, 82)).astype(np.float32)
    p_keras = np.asarray(km.predict_on_batch(x))
    with torch.inference_mode():
        p_torch = torch.softmax(tm(torch.from_numpy(x)), dim=1).numpy()
    assert np.abs(p_keras - p_torch).max() <= 1e-4
    assert p_keras.std() > 0.01  # the comparison is not between constant outputs


def test_batchnorm_training_update_matches_keras():
    """Momentum 0.99 and the biased variance in the moving statistics."""
    rng = np.random.default_rng(2)
    arch = LSTMFCNArch.test_params(length=20)
    keras.utils.set_random_seed(0)
    km = lk.build_model(arch)
    tm = lt.LSTMFCN(arch)
    lt.load_keras_weights(tm, lk.export_weights(km))
    x = (3 + 2 * rng.normal(size=(6, 1, 20))).astype(np.float32)
    km(x, training=True)
    tm.train()
    tm(torch.from_numpy(x))
    exported = lk.export_weights(km)
    for i, bn in enumerate(tm.bns, start=1):
        _, _, mean, var = exported[f"bn{i}"]
        np.testing.assert_allclose(bn.running_mean.numpy(), mean, atol=1e-5)
        np.testing.assert_allclose(bn.running_var.numpy(), var, atol=1e-5)
