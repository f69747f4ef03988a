"""The CPU GRU recurrence of ``KerasGRU`` computes what ``torch.gru`` computes."""

import pytest

torch = pytest.importorskip("torch")
ct = pytest.importorskip("ecgrepro.models.cnn_rnn_torch")

from ecgrepro.models.cnn_rnn import CNNRNNArch  # noqa: E402


def _reference(m, x):
    h0 = x.new_zeros(1, x.shape[0], m.units)
    params = [m.weight_ih, m.weight_hh, m.bias_ih, m.bias_hh]
    _, h = torch.gru(x, h0, params, True, 1, 0.0, True, False, True)
    return h[0]


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_forward_and_gradients_equal_torch_gru(dtype, tol):
    torch.manual_seed(0)
    m = ct.KerasGRU(6, 20).to(dtype)
    with torch.no_grad():  # non-zero biases, so every term is exercised
        for p in m.parameters():
            p.normal_(0, 0.4)
    x = torch.randn(7, 23, 6, dtype=dtype, requires_grad=True)
    g_out = torch.randn(7, 20, dtype=dtype)
    results = []
    for fn in (_reference, lambda mod, inp: mod(inp)):
        y = fn(m, x)
        grads = torch.autograd.grad(y, [x, *m.parameters()], g_out)
        results.append((y, *grads))
    for a, b in zip(*results):
        assert a.shape == b.shape
        assert torch.allclose(a, b, atol=tol, rtol=tol), float((a - b).abs().max())


def test_recurrence_passes_gradcheck():
    torch.manual_seed(1)
    args = (torch.randn(5, 3, 6, dtype=torch.float64, requires_grad=True),
            torch.randn(3, 2, dtype=torch.float64, requires_grad=True),
            torch.randn(6, 2, dtype=torch.float64, requires_grad=True),
            torch.randn(6, dtype=torch.float64, requires_grad=True))
    assert torch.autograd.gradcheck(ct.GRURecurrence.apply, args)


def test_parameters_keep_nn_gru_names_and_shapes():
    m, ref = ct.KerasGRU(6, 20), torch.nn.GRU(6, 20, batch_first=True)
    ours = {k: v.shape for k, v in m.named_parameters()}
    theirs = {k.removesuffix("_l0"): v.shape for k, v in ref.named_parameters()}
    assert ours == theirs
    net = ct.CNNRNN(CNNRNNArch.test_params(cell="gru"))
    assert ct.count_params(net)["total"] == CNNRNNArch(cell="gru").param_counts()["total"]


def test_cnn_gru_training_step_matches_reference_kernel():
    # A whole CNN+GRU forward/backward: our recurrence vs torch.gru in the same network.
    torch.manual_seed(2)
    net = ct.CNNRNN(CNNRNNArch.test_params(cell="gru")).double()
    x = torch.randn(4, 1, 120, dtype=torch.float64)
    net.eval()
    loss = net(x).square().sum()
    ours = torch.autograd.grad(loss, list(net.parameters()))
    rnn = net.rnn
    feats, _ = net._features(x)
    h = _reference(rnn, feats.transpose(1, 2))
    for layer in net.dense[:-1]:
        h = torch.nn.functional.relu(layer(h))
    ref_loss = net.dense[-1](h).square().sum()
    theirs = torch.autograd.grad(ref_loss, list(net.parameters()))
    assert torch.allclose(loss, ref_loss, rtol=1e-12)
    for a, b in zip(ours, theirs):
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-12)
