"""Conv1D and the 1-D pooling layers: gradients, PyTorch parity, NaN-padded sequences."""
import pickle

import numpy as np
import pytest

from fastnut import nn
from tests._reference import conv1d as ref
from tests._reference.gradcheck import check_layer_gradients

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


def _padded_batch(rng, n=4, T=10, F=3, lengths=(10, 6, 3, 8)):
    X = rng.standard_normal((n, T, F))
    for i, L in enumerate(lengths):
        X[i, L:] = np.nan
    return X


CONV_CASES = [  # kernel_size, stride, padding, dilation
    (3, 1, "same", 1), (3, 2, "valid", 1), (2, 1, "causal", 2), (3, 2, 1, 1), (1, 1, 0, 1),
    (4, 1, "same", 1),
]


@pytest.mark.parametrize("k,s,padding,d", CONV_CASES)
@pytest.mark.parametrize("activation", ["identity", "relu", "tanh"])
def test_conv1d_gradients(k, s, padding, d, activation):
    rng = np.random.default_rng(0)
    layer = nn.Conv1D(4, k, stride=s, padding=padding, dilation=d, activation=activation)
    layer.build((10, 3), random_state=0, dtype=np.float64)
    check_layer_gradients(layer, rng.standard_normal((3, 10, 3)), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("k,s,padding,d", CONV_CASES)
def test_conv1d_gradients_padded(k, s, padding, d):
    rng = np.random.default_rng(1)
    layer = nn.Conv1D(4, k, stride=s, padding=padding, dilation=d, activation="relu")
    layer.build((10, 3), random_state=0, dtype=np.float64)
    X = _padded_batch(rng, lengths=(10, 6, 5, 8))
    check_layer_gradients(layer, X, padded=True)
    dX = layer.backward(np.ones(layer.forward(X, training=True).shape))
    np.testing.assert_array_equal(dX[np.isnan(X)], 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k,s,padding,d", CONV_CASES)
def test_conv1d_matches_oracle(dtype, k, s, padding, d):
    rng = np.random.default_rng(2)
    layer = nn.Conv1D(5, k, stride=s, padding=padding, dilation=d)
    layer.build((10, 3), random_state=3, dtype=dtype)
    X = _padded_batch(rng, lengths=(10, 7, 5, 9)).astype(dtype)
    lengths = [10, 7, 5, 9]
    Y = layer.forward(X)
    expect = ref.conv1d(X, layer.params["weight"], layer.params["bias"], lengths, s, d,
                        padding)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(Y, expect, rtol=tol, atol=tol)


@pytest.mark.parametrize("layer_fn", [
    lambda: nn.Conv1D(6, 3, padding="same", activation="relu"),
    lambda: nn.Conv1D(6, 3, stride=2, padding="causal", dilation=2),
    lambda: nn.Conv1D(6, 3, padding="valid"),
    lambda: nn.MaxPool1D(2),
    lambda: nn.AvgPool1D(3, stride=1, padding="same"),
    lambda: nn.Sequential([nn.Conv1D(8, 5, padding="same", activation="relu"),
                           nn.BatchNorm1D(activation="relu"),
                           nn.MaxPool1D(2, padding=1),
                           nn.Conv1D(4, 3, padding="causal", activation="tanh"),
                           nn.GlobalAvgPool1D()]),
    lambda: nn.Sequential([nn.Conv1D(4, 3), nn.GlobalMaxPool1D()]),
    lambda: nn.Sequential([nn.Conv1D(4, 3, padding="same"), nn.LSTM(5)]),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_padded_sequence_gets_the_output_it_gets_alone(layer_fn, dtype):
    """A sequence padded with NaN inside a batch gets exactly its output alone."""
    rng = np.random.default_rng(4)
    T, F, lengths = 12, 3, (12, 7, 9, 10)
    net = layer_fn()
    net.build((T, F), random_state=0, dtype=dtype)
    X = _padded_batch(rng, n=4, T=T, F=F, lengths=lengths).astype(dtype)
    batch = np.array(net.forward(X))
    for i, L in enumerate(lengths):
        alone = np.array(net.forward(np.ascontiguousarray(X[i:i + 1, :L])))[0]
        if batch.ndim == 3:
            got = batch[i, :alone.shape[0]]
            assert np.isnan(batch[i, alone.shape[0]:]).all()
        else:
            got = batch[i]
        assert not np.isnan(alone).any()
        if dtype == np.float64:
            np.testing.assert_allclose(got, alone, rtol=1e-13, atol=1e-14)
        else:
            np.testing.assert_allclose(got, alone, rtol=1e-6, atol=1e-6)


def test_global_pooling_averages_only_valid_steps():
    X = np.array([[[1.0], [3.0], [np.nan], [np.nan]], [[2.0], [4.0], [6.0], [-8.0]]])
    avg, mx = nn.GlobalAvgPool1D(), nn.GlobalMaxPool1D()
    avg.build((4, 1), dtype=np.float64)
    mx.build((4, 1), dtype=np.float64)
    np.testing.assert_array_equal(avg.forward(X), [[2.0], [1.0]])
    np.testing.assert_array_equal(mx.forward(X), [[3.0], [6.0]])


@pytest.mark.parametrize("layer_fn", [
    lambda: nn.MaxPool1D(2), lambda: nn.MaxPool1D(3, stride=2, padding=1),
    lambda: nn.AvgPool1D(2), lambda: nn.AvgPool1D(3, stride=1, padding="same"),
    lambda: nn.AvgPool1D(2, stride=1, padding="causal"),
    lambda: nn.GlobalAvgPool1D(), lambda: nn.GlobalMaxPool1D(),
])
@pytest.mark.parametrize("padded", [False, True])
def test_pool_gradients(layer_fn, padded):
    rng = np.random.default_rng(5)
    layer = layer_fn()
    layer.build((10, 3), dtype=np.float64)
    X = _padded_batch(rng, lengths=(10, 6, 4, 9)) if padded else rng.standard_normal((4, 10, 3))
    check_layer_gradients(layer, X, padded=padded)


def _torch_conv(layer, C, T):
    pl, _ = layer._geom(T)
    e = layer.dilation * (layer.kernel_size - 1) + 1
    m = torch.nn.Conv1d(C, layer.filters, layer.kernel_size, stride=layer.stride,
                        dilation=layer.dilation, bias=layer.use_bias).double()
    with torch.no_grad():
        m.weight.copy_(torch.from_numpy(layer.params["weight"].astype(np.float64)))
        if layer.use_bias:
            m.bias.copy_(torch.from_numpy(layer.params["bias"].astype(np.float64)))
    right = {"valid": 0, "same": e - 1 - pl, "causal": 0}.get(layer.padding, pl)
    return m, pl, right


@needs_torch
@pytest.mark.parametrize("k,s,padding,d", CONV_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv1d_matches_torch(k, s, padding, d, dtype):
    rng = np.random.default_rng(6)
    n, T, C = 4, 11, 3
    layer = nn.Conv1D(5, k, stride=s, padding=padding, dilation=d)
    layer.build((T, C), random_state=0, dtype=dtype)
    X = rng.standard_normal((n, T, C)).astype(dtype)
    Y = layer.forward(X, training=True)
    dY = rng.standard_normal(Y.shape).astype(dtype)
    dX = layer.backward(dY.copy())
    m, pl, right = _torch_conv(layer, C, T)
    Xt = torch.tensor(X.transpose(0, 2, 1).astype(np.float64), requires_grad=True)
    Yt = m(torch.nn.functional.pad(Xt, (pl, right + s)))[:, :, :Y.shape[1]]
    Yt.backward(torch.from_numpy(dY.transpose(0, 2, 1).astype(np.float64)))
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(Y, Yt.detach().numpy().transpose(0, 2, 1), **tol)
    np.testing.assert_allclose(dX, Xt.grad.numpy().transpose(0, 2, 1), **tol)
    np.testing.assert_allclose(layer.grads["weight"], m.weight.grad.numpy(), **tol)
    np.testing.assert_allclose(layer.grads["bias"], m.bias.grad.numpy(), **tol)


@needs_torch
def test_conv1d_same_equals_torch_padding_same():
    rng = np.random.default_rng(7)
    layer = nn.Conv1D(4, 4, padding="same", dilation=2)
    layer.build((9, 2), random_state=0, dtype=np.float64)
    m = torch.nn.Conv1d(2, 4, 4, padding="same", dilation=2).double()
    with torch.no_grad():
        m.weight.copy_(torch.from_numpy(layer.params["weight"]))
        m.bias.copy_(torch.from_numpy(layer.params["bias"]))
    X = rng.standard_normal((3, 9, 2))
    expect = m(torch.from_numpy(X.transpose(0, 2, 1).copy())).detach().numpy()
    np.testing.assert_allclose(layer.forward(X), expect.transpose(0, 2, 1), rtol=1e-12,
                               atol=1e-12)


@needs_torch
@pytest.mark.parametrize("kind,k,s,p", [("max", 2, 2, 0), ("max", 3, 2, 1), ("avg", 3, 1, 1),
                                        ("avg", 2, 2, 0)])
def test_pools_match_torch(kind, k, s, p):
    rng = np.random.default_rng(8)
    X = rng.standard_normal((3, 10, 4))
    layer = (nn.MaxPool1D if kind == "max" else nn.AvgPool1D)(k, stride=s, padding=p)
    layer.build((10, 4), dtype=np.float64)
    Y = layer.forward(X, training=True)
    dY = rng.standard_normal(Y.shape)
    dX = layer.backward(dY)
    Xt = torch.tensor(X.transpose(0, 2, 1).copy(), requires_grad=True)
    if kind == "max":
        Yt = torch.nn.functional.max_pool1d(Xt, k, s, p)
    else:
        Yt = torch.nn.functional.avg_pool1d(Xt, k, s, p, count_include_pad=False)
    Yt.backward(torch.from_numpy(dY.transpose(0, 2, 1).copy()))
    np.testing.assert_allclose(Y, Yt.detach().numpy().transpose(0, 2, 1), rtol=1e-12)
    np.testing.assert_allclose(dX, Xt.grad.numpy().transpose(0, 2, 1), rtol=1e-12, atol=1e-14)


def test_conv1d_init_and_layout():
    layer = nn.Conv1D(7, 5)
    assert layer.build((20, 3), random_state=0) == (16, 7)
    W, b = layer.params["weight"], layer.params["bias"]
    assert W.shape == (7, 3, 5) and b.shape == (7,) and W.dtype == np.float32
    bound = 1 / np.sqrt(15)
    assert np.abs(W).max() <= bound and np.abs(W).max() > 0.8 * bound
    assert layer.output_shape == (16, 7)


def test_float32_agrees_with_float64():
    rng = np.random.default_rng(9)
    X = _padded_batch(rng, lengths=(10, 5, 7, 9))
    outs = []
    for dt in (np.float32, np.float64):
        net = nn.Sequential([nn.Conv1D(8, 3, padding="same", activation="relu"),
                             nn.AvgPool1D(2), nn.Conv1D(4, 3, stride=2, padding="causal"),
                             nn.GlobalMaxPool1D()])
        net.build((10, 3), random_state=0, dtype=dt)
        outs.append(np.array(net.forward(X.astype(dt))))
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-5, atol=1e-5)


def test_longer_sequences_than_built_and_pickle():
    rng = np.random.default_rng(10)
    layer = nn.Conv1D(3, 3, padding="same")
    layer.build((5, 2), random_state=0, dtype=np.float64)
    X = rng.standard_normal((2, 9, 2))
    Y = layer.forward(X, training=True)
    assert Y.shape == (2, 9, 3)
    clone = pickle.loads(pickle.dumps(layer))
    assert not hasattr(clone, "_ctx")
    np.testing.assert_array_equal(clone.forward(X), Y)


def test_errors():
    with pytest.raises(ValueError, match="padding must be"):
        nn.Conv1D(3, 3, padding="full")
    with pytest.raises(ValueError, match="kernel_size must be an int >= 1"):
        nn.Conv1D(3, 0)
    with pytest.raises(ValueError, match=r"expects inputs of shape \(n, T, features\)"):
        nn.Conv1D(3, 3).build((3, 8, 8))
    with pytest.raises(ValueError, match="does not fit sequences of 2 steps"):
        nn.Conv1D(3, 3).build((2, 4))
    with pytest.raises(ValueError, match="at most pool_size // 2"):
        nn.MaxPool1D(2, padding=2)
    layer = nn.Conv1D(3, 4)
    layer.build((10, 2), dtype=np.float64)
    X = np.zeros((2, 10, 2))
    X[1, 2:] = np.nan
    with pytest.raises(ValueError, match="sequence 1 has 2 valid steps: too short"):
        layer.forward(X)
    X[1, 1, 0] = np.nan
    X[1, 2:] = 0
    with pytest.raises(ValueError, match="NaN inside its valid steps"):
        layer.forward(X)
    with pytest.raises(ValueError, match=r"expects X of shape \(n, T, 2\)"):
        layer.forward(np.zeros((2, 10, 3)))


def test_concurrent_inference_equals_serial():
    from concurrent.futures import ThreadPoolExecutor
    rng = np.random.default_rng(11)
    net = nn.Sequential([nn.Conv1D(16, 5, padding="same", activation="relu"),
                         nn.BatchNorm1D(activation="relu"), nn.MaxPool1D(2),
                         nn.Conv1D(8, 3, padding="causal"), nn.GlobalAvgPool1D()])
    net.build((40, 3), random_state=0, dtype=np.float64)
    net.forward(rng.standard_normal((8, 40, 3)), training=True)  # running statistics move
    batches = [_padded_batch(rng, n=4, T=40, F=3, lengths=(40, 20 + i, 33, 7)) for i in range(8)]
    serial = [np.array(net.forward(b)) for b in batches]
    with ThreadPoolExecutor(4) as ex:
        threaded = list(ex.map(lambda b: np.array(net.forward(b)), batches * 3))
    for i, out in enumerate(threaded):
        np.testing.assert_array_equal(out, serial[i % 8])
