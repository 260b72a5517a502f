"""Embedding: lookup and scatter-add gradient vs NumPy and PyTorch, padding rules."""
import pickle

import numpy as np
import pytest

from fastnut import nn
from fastnut._kernels import embedding as ke
from tests._reference.gradcheck import check_layer_gradients

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threads", [1, 2])
def test_kernels_match_numpy(dtype, threads):
    rng = np.random.default_rng(0)
    V, D, n, T = 13, 40, 6, 9
    W = rng.standard_normal((V, D)).astype(dtype)
    ids = rng.integers(0, V, (n, T)).astype(np.int64)
    lengths = rng.integers(1, T + 1, n).astype(np.int32)
    Y = np.empty((n, T, D), dtype)
    ke.embedding_forward(W, ids, lengths, Y, threads)
    valid = np.arange(T)[None, :] < lengths[:, None]
    np.testing.assert_array_equal(Y[valid], W[ids[valid]])
    assert np.isnan(Y[~valid]).all()
    dY = rng.standard_normal((n, T, D)).astype(dtype)
    dW = np.full((V, D), np.nan, dtype)
    ke.embedding_backward(dY, ids, lengths, dW, 3, threads)
    expect = np.zeros((V, D))
    np.add.at(expect, ids[valid], dY[valid].astype(np.float64))
    expect[3] = 0
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(dW, expect, rtol=tol, atol=tol)


def test_gradient_by_finite_differences():
    rng = np.random.default_rng(1)
    layer = nn.Embedding(7, 3, padding_idx=0)
    layer.build((5,), random_state=0, dtype=np.float64)
    # 0 only as trailing padding: the true derivative of its row is 0 too
    ids = np.array([[1, 2, 6, 3, 0], [4, 4, 4, 0, 0], [6, 5, 1, 2, 2]], np.float64)
    check_layer_gradients(layer, ids, check_input=False, padded=True)
    ids[0, 2] = 0  # an inner padding id: PyTorch's rule, the row gets no gradient
    layer.forward(ids, training=True)
    layer.backward(rng.standard_normal((3, 5, 3)))
    np.testing.assert_array_equal(layer.grads["weight"][0], 0)  # the padding row


def test_padding_semantics():
    layer = nn.Embedding(5, 2, padding_idx=-1)  # the last row, 4
    layer.build((4,), random_state=0, dtype=np.float64)
    W = layer.params["weight"]
    np.testing.assert_array_equal(W[4], 0)
    Y = layer.forward(np.array([[1, 4, 2, 4], [3, 4, 4, 4]]))
    np.testing.assert_array_equal(Y[0, :3], W[[1, 4, 2]])  # inner padding id: the zero row
    assert np.isnan(Y[0, 3]).all() and np.isnan(Y[1, 1:]).all()
    np.testing.assert_array_equal(Y[1, 0], W[3])
    # float ids with trailing NaN are padding too, and give the same output
    Yf = layer.forward(np.array([[1, 4, 2, np.nan], [3, np.nan, np.nan, np.nan]]))
    np.testing.assert_array_equal(Yf, Y)
    # without padding_idx every id is a token
    plain = nn.Embedding(5, 2)
    plain.build((2,), random_state=0, dtype=np.float64)
    assert not np.isnan(plain.forward(np.array([[0, 0]]))).any()


def test_feeds_recurrent_and_conv1d_layers_with_the_padding_rule():
    """A padded token sequence gets the prediction it gets alone."""
    rng = np.random.default_rng(2)
    for head in ([nn.LSTM(6)], [nn.Conv1D(5, 3, padding="causal", activation="relu"),
                                nn.BatchNorm1D(), nn.GlobalAvgPool1D()]):
        net = nn.Sequential([nn.Embedding(20, 4, padding_idx=0)] + head)
        net.build((8,), random_state=0, dtype=np.float64)
        ids = rng.integers(1, 20, (3, 8))
        ids[1, 5:] = 0
        ids[2, 2:] = 0
        ids[2, 1] = 0  # inner padding id followed by padding: length 1
        out = np.array(net.forward(ids))
        for i, L in enumerate((8, 5, 1)):
            np.testing.assert_allclose(out[i], net.forward(ids[i:i + 1, :L])[0], rtol=1e-12,
                                       atol=1e-13)


@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("padding_idx", [None, 2])
def test_matches_torch(dtype, padding_idx):
    rng = np.random.default_rng(3)
    layer = nn.Embedding(11, 6, padding_idx=padding_idx)
    layer.build((7,), random_state=0, dtype=dtype)
    m = torch.nn.Embedding(11, 6, padding_idx=padding_idx).double()
    with torch.no_grad():
        m.weight.copy_(torch.from_numpy(layer.params["weight"].astype(np.float64)))
    ids = rng.integers(0, 11, (5, 7))
    ids[ids == 2] = 3
    ids[0, 3] = 2  # an inner padding id (a real step for torch too)
    Y = layer.forward(ids, training=True)
    dY = rng.standard_normal(Y.shape).astype(dtype)
    layer.backward(dY)
    Yt = m(torch.from_numpy(ids))
    Yt.backward(torch.from_numpy(dY.astype(np.float64)))
    np.testing.assert_array_equal(Y, Yt.detach().numpy().astype(dtype))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(layer.grads["weight"], m.weight.grad.numpy(), rtol=tol, atol=tol)
    # torch's init is N(0, 1) with the padding row at zero: same distribution here
    big = nn.Embedding(1000, 50, padding_idx=padding_idx)
    big.build((1,), random_state=0)
    W = big.params["weight"]
    assert abs(W.mean()) < 0.01 and abs(W.std() - 1) < 0.01
    if padding_idx is not None:
        np.testing.assert_array_equal(W[padding_idx], 0)


def test_pickle_drops_the_batch():
    layer = nn.Embedding(5, 3)
    layer.build((2,), random_state=0)
    layer.forward(np.array([[1, 2]]), training=True)
    clone = pickle.loads(pickle.dumps(layer))
    assert not hasattr(clone, "_ctx")
    np.testing.assert_array_equal(clone.params["weight"], layer.params["weight"])


def test_errors():
    with pytest.raises(ValueError, match="num_embeddings must be a positive int"):
        nn.Embedding(0, 3)
    with pytest.raises(ValueError, match=r"padding_idx must be an int in \[-5, 5\)"):
        nn.Embedding(5, 3, padding_idx=5)
    layer = nn.Embedding(5, 3, padding_idx=0)
    layer.build((3,))
    with pytest.raises(ValueError, match="token id 7 is out of range"):
        layer.forward(np.array([[1, 7, 2]]))
    with pytest.raises(ValueError, match="token id -1 is out of range"):
        layer.forward(np.array([[1, -1, 2]]))
    with pytest.raises(ValueError, match="non-integer values"):
        layer.forward(np.array([[1.5, 2, 2]]))
    with pytest.raises(ValueError, match="sequence 1 is all padding"):
        layer.forward(np.array([[1, 2, 0], [0, 0, 0]]))
    with pytest.raises(ValueError, match="NaN before a valid token"):
        layer.forward(np.array([[1, np.nan, 2]]))
    with pytest.raises(ValueError, match=r"shape \(n, T\)"):
        layer.forward(np.zeros((2, 3, 1), np.int64))
    with pytest.raises(TypeError, match="expects integer token ids; got dtype"):
        layer.forward(np.array([["a", "b", "c"]]))
