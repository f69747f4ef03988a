"""Oh et al.'s CNN+LSTM / CNN+GRU: the shared description, and Keras-PyTorch parity."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from ecgrepro.models.cnn_rnn import CNNRNNArch  # noqa: E402

keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")
ck = pytest.importorskip("ecgrepro.models.cnn_rnn_keras")
ct = pytest.importorskip("ecgrepro.models.cnn_rnn_torch")

CELLS = ("lstm", "gru")


def build_pair(arch, seed=0):
    """A Keras model with random weights (biases included) and its PyTorch copy."""
    keras.utils.set_random_seed(seed)
    torch.manual_seed(seed)
    km = ck.build_model(arch)
    rng = np.random.default_rng(seed)
    km.set_weights([rng.normal(scale=0.3, size=w.shape).astype(np.float32)
                    for w in km.get_weights()])
    tm = ct.CNNRNN(arch).eval()
    ct.load_keras_weights(tm, ck.export_weights(km))
    return km, tm


def test_description_counts_and_lengths():
    lstm, gru = CNNRNNArch(), CNNRNNArch(cell="gru")
    assert lstm.param_counts()["total"] == 3265 and gru.param_counts()["total"] == 2785
    assert lstm.lengths() == [(1019, 509), (518, 259), (263, 131)] and lstm.steps == 131
    assert CNNRNNArch(padding="valid").lengths() == [(981, 490), (481, 240), (236, 118)]
    assert CNNRNNArch(padding="same").steps == 125
    assert (lstm.name, gru.name) == ("cnn_lstm", "cnn_gru")
    assert CNNRNNArch.from_dict(gru.to_dict()) == gru
    with pytest.raises(ValueError, match="cell"):
        CNNRNNArch(cell="rnn")


@pytest.mark.parametrize("cell", CELLS)
def test_parameter_counts_equal_across_frameworks(cell):
    arch = CNNRNNArch(cell=cell)
    keras.utils.set_random_seed(0)
    km, tm = ck.build_model(arch), ct.CNNRNN(arch)
    assert ck.count_params(km) == ct.count_params(tm) == arch.param_counts()


def test_keras_gru_has_two_bias_vectors():
    # Keras 3's reset_after=True GRU: input and recurrent bias, as torch's b_ih and b_hh.
    km = ck.build_model(CNNRNNArch.test_params(cell="gru"))
    kernel, recurrent, bias = km.get_layer("rnn").get_weights()
    assert kernel.shape == (6, 60) and recurrent.shape == (20, 60) and bias.shape == (2, 60)


@pytest.mark.parametrize("cell", CELLS)
def test_keras_weights_give_the_same_probabilities_in_torch(cell):
    arch = CNNRNNArch(cell=cell)
    km, tm = build_pair(arch)
    x = np.random.default_rng(1).normal(scale=2.0, size=(6, 1, arch.length)).astype(np.float32)
    p_keras = km.predict(x, verbose=0)
    with torch.no_grad():
        p_torch = torch.softmax(tm(torch.from_numpy(x)), dim=1).numpy()
    assert p_keras.std(axis=0).max() > 1e-3  # the inputs give different outputs
    assert np.abs(p_keras - p_torch).max() <= 1e-4


def test_gru_gate_order_matters():
    """Loading GRU blocks in Keras's order (no reordering) must change the output."""
    arch = CNNRNNArch.test_params(cell="gru")
    km, tm = build_pair(arch)
    weights = ck.export_weights(km)
    wrong = ct.CNNRNN(arch).eval()
    ct.load_keras_weights(wrong, weights)
    with torch.no_grad():
        wrong.rnn.weight_ih.copy_(torch.from_numpy(weights["rnn"][0].T))
        wrong.rnn.weight_hh.copy_(torch.from_numpy(weights["rnn"][1].T))
        x = np.random.default_rng(2).normal(size=(4, 1, arch.length)).astype(np.float32)
        x = torch.from_numpy(x)
        assert (tm(x) - wrong(x)).abs().max() > 1e-3


@pytest.mark.parametrize("padding", ["full", "same", "valid", "causal"])
def test_zero_padding_stays_zero_through_the_convolutions(padding):
    arch = CNNRNNArch.test_params(length=240, padding=padding)
    km, tm = build_pair(arch)
    n = 100
    x = np.random.default_rng(3).normal(size=(4, 1, arch.length)).astype(np.float32)
    x[:, :, n:] = 0.0  # the segment's zero padding
    keras_acts = ck.conv_model(km).predict(x, verbose=0)  # channels-last
    with torch.no_grad():
        torch_acts = [a.numpy() for a in tm.conv_activations(torch.from_numpy(x))]
    for z, ka, ta in zip(arch.zero_from(n), keras_acts, torch_acts):
        assert ka.shape[1] == ta.shape[2] > z
        assert np.all(ka[:, z:, :] == 0.0) and np.all(ta[:, :, z:] == 0.0)  # exactly
        assert np.abs(ka[:, z - 1, :]).max() > 0 and np.abs(ta[:, :, z - 1]).max() > 0  # tight
        np.testing.assert_allclose(ka.transpose(0, 2, 1), ta, atol=1e-5)


def test_torch_refuses_recurrent_dropout():
    arch = CNNRNNArch.test_params(recurrent_dropout=0.2)
    with pytest.raises(ValueError, match="recurrent dropout"):
        ct.CNNRNN(arch)
    ck.build_model(arch)  # Keras can
