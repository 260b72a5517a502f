"""BatchNorm1D / BatchNorm2D: NumPy oracle, finite differences, PyTorch parity, buffers."""
import pickle

import numpy as np
import pytest

from fastnut import nn
from tests._reference import norm as ref
from tests._reference.gradcheck import check_layer_gradients

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

TOL = {np.float32: dict(rtol=1e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-12)}


def _layer(cls, shape, dtype, rng, **kw):
    layer = cls(**kw)
    layer.build(shape, random_state=0, dtype=dtype)
    if layer.affine:
        layer.params["weight"][...] = rng.uniform(0.5, 1.5, layer.params["weight"].shape)
        layer.params["bias"][...] = rng.standard_normal(layer.params["bias"].shape)
    return layer


def _rows(X, layer):
    """The (m, C) matrix of values the statistics run over."""
    if isinstance(layer, nn.BatchNorm2D):
        return X.transpose(0, 2, 3, 1).reshape(-1, X.shape[1])
    return X.reshape(-1, X.shape[-1])


def _unrows(Y2, X, layer):
    if isinstance(layer, nn.BatchNorm2D):
        n, C, H, W = X.shape
        return Y2.reshape(n, H, W, C).transpose(0, 3, 1, 2)
    return Y2.reshape(X.shape)


SHAPES = [(nn.BatchNorm1D, (5,)), (nn.BatchNorm1D, (4, 3)), (nn.BatchNorm2D, (3, 4, 5))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cls,shape", SHAPES)
def test_matches_oracle_train_and_eval(dtype, cls, shape):
    rng = np.random.default_rng(0)
    layer = _layer(cls, shape, dtype, rng)
    X = (rng.standard_normal((6,) + shape) * 3 + 5).astype(dtype)
    w = layer.params["weight"].astype(np.float64)
    b = layer.params["bias"].astype(np.float64)
    Y = layer.forward(X, training=True)
    X2 = _rows(X, layer)
    Y2, mean, var = ref.batchnorm_train(X2, w, b, layer.eps)
    np.testing.assert_allclose(Y, _unrows(Y2, X, layer), **TOL[dtype])
    rm, rv = ref.running_update(np.zeros_like(mean), np.ones_like(var), mean, var,
                                X2.shape[0], 0.1)
    np.testing.assert_allclose(layer.buffers["running_mean"], rm, **TOL[dtype])
    np.testing.assert_allclose(layer.buffers["running_var"], rv, **TOL[dtype])
    assert int(layer.buffers["num_batches_tracked"]) == 1
    dY = rng.standard_normal(Y.shape).astype(dtype)
    dX = layer.backward(dY.copy())
    eX, ew, eb = ref.batchnorm_backward(X2, _rows(dY, layer), w, layer.eps)
    np.testing.assert_allclose(dX, _unrows(eX, X, layer), **TOL[dtype])
    np.testing.assert_allclose(layer.grads["weight"], ew, rtol=1e-4 if dtype == np.float32
                               else 1e-10, atol=1e-4 if dtype == np.float32 else 1e-10)
    np.testing.assert_allclose(layer.grads["bias"], eb, **TOL[dtype])
    # inference: the running statistics
    Ye = layer.forward(X)
    np.testing.assert_allclose(
        Ye, _unrows(ref.batchnorm_eval(X2, w, b, rm, rv, layer.eps), X, layer), **TOL[dtype])


@pytest.mark.parametrize("cls,shape", SHAPES)
@pytest.mark.parametrize("kw", [{}, {"affine": False}, {"activation": "relu"}])
def test_gradients(cls, shape, kw):
    rng = np.random.default_rng(1)
    layer = _layer(cls, shape, np.float64, rng, **kw)
    check_layer_gradients(layer, rng.standard_normal((5,) + shape) * 2 + 1, rtol=1e-5,
                          atol=1e-7)


def test_gradients_padded_sequences():
    rng = np.random.default_rng(2)
    layer = _layer(nn.BatchNorm1D, (6, 3), np.float64, rng, activation="relu")
    X = rng.standard_normal((4, 6, 3))
    X[1, 4:] = np.nan
    X[3, 2:] = np.nan
    check_layer_gradients(layer, X, padded=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_padded_steps_do_not_enter_the_statistics(dtype):
    rng = np.random.default_rng(3)
    lengths = [6, 2, 5, 3]
    X = rng.standard_normal((4, 6, 3)).astype(dtype)
    for i, L in enumerate(lengths):
        X[i, L:] = np.nan
    valid = np.concatenate([X[i, :L] for i, L in enumerate(lengths)])
    a, b = (_layer(nn.BatchNorm1D, s, dtype, np.random.default_rng(9)) for s in ((6, 3), (3,)))
    Y = a.forward(X, training=True)
    Yv = b.forward(valid, training=True)
    assert np.isnan(Y[1, 2:]).all() and np.isnan(Y[3, 3:]).all()
    np.testing.assert_allclose(np.concatenate([Y[i, :L] for i, L in enumerate(lengths)]), Yv,
                               **TOL[dtype])
    for key in ("running_mean", "running_var"):
        np.testing.assert_allclose(a.buffers[key], b.buffers[key], **TOL[dtype])
    dY = rng.standard_normal(Y.shape).astype(dtype)
    dX = a.backward(dY.copy())
    dXv = b.backward(np.concatenate([dY[i, :L] for i, L in enumerate(lengths)]))
    np.testing.assert_array_equal(dX[np.isnan(X)], 0)
    np.testing.assert_allclose(np.concatenate([dX[i, :L] for i, L in enumerate(lengths)]), dXv,
                               **TOL[dtype])
    # and a stacked recurrent layer sees the same lengths
    rnn = nn.GRU(4)
    rnn.build((6, 3), random_state=0, dtype=dtype)
    Yi = a.forward(X)
    for i, L in enumerate(lengths):
        np.testing.assert_allclose(rnn.forward(Yi)[i],
                                   rnn.forward(np.ascontiguousarray(Yi[i:i + 1, :L]))[0],
                                   rtol=1e-5, atol=1e-6)


def test_momentum_none_is_the_cumulative_average():
    rng = np.random.default_rng(4)
    layer = nn.BatchNorm1D(3, momentum=None, affine=False)
    layer.build((3,), dtype=np.float64)
    means, uvars = [], []
    for _ in range(3):
        X = rng.standard_normal((8, 3)) * 2 + rng.standard_normal(3)
        layer.forward(X, training=True)
        means.append(X.mean(axis=0))
        uvars.append(X.var(axis=0, ddof=1))
    np.testing.assert_allclose(layer.buffers["running_mean"], np.mean(means, axis=0), rtol=1e-12)
    np.testing.assert_allclose(layer.buffers["running_var"], np.mean(uvars, axis=0), rtol=1e-12)
    assert int(layer.buffers["num_batches_tracked"]) == 3


def _torch_bn(layer, cls_name, C, momentum=0.1):
    m = getattr(torch.nn, cls_name)(C, eps=layer.eps, momentum=momentum,
                                    affine=layer.affine).double()
    if layer.affine:
        with torch.no_grad():
            m.weight.copy_(torch.from_numpy(layer.params["weight"].astype(np.float64)))
            m.bias.copy_(torch.from_numpy(layer.params["bias"].astype(np.float64)))
    return m


@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cls,shape", SHAPES)
@pytest.mark.parametrize("momentum", [0.1, None])
def test_matches_torch(dtype, cls, shape, momentum):
    """Forward, backward and running statistics over 3 steps, then eval, against torch."""
    rng = np.random.default_rng(5)
    layer = _layer(cls, shape, dtype, rng, momentum=momentum)
    C = shape[0] if cls is nn.BatchNorm2D else shape[-1]
    m = _torch_bn(layer, "BatchNorm2d" if cls is nn.BatchNorm2D else "BatchNorm1d", C,
                  momentum)
    to_t = (lambda A: A) if len(shape) != 2 else (lambda A: A.transpose(0, 2, 1))
    tol = dict(rtol=2e-5, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-11)
    for step in range(3):
        X = (rng.standard_normal((7,) + shape) * 2 + step).astype(dtype)
        Y = layer.forward(X, training=True)
        dY = rng.standard_normal(Y.shape).astype(dtype)
        dX = layer.backward(dY.copy())
        Xt = torch.tensor(to_t(X).astype(np.float64), requires_grad=True)
        m.zero_grad()
        Yt = m.train()(Xt)
        Yt.backward(torch.from_numpy(np.ascontiguousarray(to_t(dY)).astype(np.float64)))
        np.testing.assert_allclose(Y, to_t(Yt.detach().numpy()), **tol)
        np.testing.assert_allclose(dX, to_t(Xt.grad.numpy()), **tol)
        np.testing.assert_allclose(layer.grads["weight"], m.weight.grad.numpy(), **tol)
        np.testing.assert_allclose(layer.grads["bias"], m.bias.grad.numpy(), **tol)
    np.testing.assert_allclose(layer.buffers["running_mean"], m.running_mean.numpy(), **tol)
    np.testing.assert_allclose(layer.buffers["running_var"], m.running_var.numpy(), **tol)
    assert int(layer.buffers["num_batches_tracked"]) == int(m.num_batches_tracked)
    X = rng.standard_normal((4,) + shape).astype(dtype)
    expect = m.eval()(torch.from_numpy(to_t(X).astype(np.float64))).detach().numpy()
    np.testing.assert_allclose(layer.forward(X), to_t(expect), **tol)


@needs_torch
def test_padded_sequences_match_torch_on_the_valid_steps():
    rng = np.random.default_rng(6)
    layer = _layer(nn.BatchNorm1D, (5, 3), np.float32, rng)
    m = _torch_bn(layer, "BatchNorm1d", 3).float()
    lengths = [5, 2, 4]
    X = rng.standard_normal((3, 5, 3)).astype(np.float32)
    for i, L in enumerate(lengths):
        X[i, L:] = np.nan
    Y = layer.forward(X, training=True)
    valid = np.concatenate([X[i, :L] for i, L in enumerate(lengths)])
    expect = m(torch.from_numpy(valid)).detach().numpy()
    np.testing.assert_allclose(np.concatenate([Y[i, :L] for i, L in enumerate(lengths)]),
                               expect, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.buffers["running_var"], m.running_var.numpy(), rtol=1e-6)


def test_defaults_buffers_in_sequential_and_pickle():
    net = nn.Sequential([nn.Conv2D(4, 3, padding=1), nn.BatchNorm2D(4, activation="relu"),
                         nn.Flatten(), nn.Dense(3), nn.BatchNorm1D()])
    net.build((2, 5, 5), random_state=0)
    bn = net.layers[1]
    np.testing.assert_array_equal(bn.params["weight"], np.ones(4))
    np.testing.assert_array_equal(bn.params["bias"], np.zeros(4))
    np.testing.assert_array_equal(bn.buffers["running_var"], np.ones(4))
    assert sorted(net.buffers) == ["1.num_batches_tracked", "1.running_mean", "1.running_var",
                                   "4.num_batches_tracked", "4.running_mean", "4.running_var"]
    assert "1.running_mean" not in net.params and "1.weight" in net.params
    X = np.random.default_rng(7).standard_normal((6, 2, 5, 5)).astype(np.float32)
    net.forward(X, training=True)
    assert net.buffers["1.running_mean"] is bn.buffers["running_mean"]
    assert np.abs(net.buffers["1.running_mean"]).sum() > 0
    clone = pickle.loads(pickle.dumps(net))
    assert not hasattr(clone.layers[1], "_ctx")
    for k, v in net.buffers.items():
        np.testing.assert_array_equal(clone.buffers[k], v)
    assert clone.buffers["1.running_mean"] is clone.layers[1].buffers["running_mean"]
    np.testing.assert_array_equal(clone.forward(X), net.forward(X))


def test_trains_in_a_network():
    rng = np.random.default_rng(8)
    X = (rng.standard_normal((200, 4)) * 50 + 100).astype(np.float32)
    y = (X[:, 0] > 100).astype(np.int64)
    net = nn.Sequential([nn.BatchNorm1D(), nn.Dense(8, activation="relu"), nn.Dense(2)])
    net.build((4,), random_state=0)
    config = nn.TrainConfig(learning_rate_init=1e-2, batch_size=32, max_iter=30)
    trainer = nn.Trainer(net, nn.get_loss("log_loss"), config, random_state=0)
    trainer.fit_epochs(X, np.eye(2, dtype=np.float32)[y])
    acc = (net.forward(X).argmax(axis=1) == y).mean()
    assert acc > 0.95
    np.testing.assert_allclose(net.buffers["0.running_mean"], X.mean(axis=0), rtol=0.05)


def test_errors():
    with pytest.raises(ValueError, match="momentum must be in"):
        nn.BatchNorm1D(momentum=2)
    with pytest.raises(ValueError, match="activation must be 'identity' or 'relu'"):
        nn.BatchNorm2D(activation="tanh")
    with pytest.raises(ValueError, match=r"num_features=4\) got inputs with 3 features"):
        nn.BatchNorm1D(4).build((3,))
    with pytest.raises(ValueError, match=r"expects inputs of shape \(n, C, H, W\)"):
        nn.BatchNorm2D().build((3, 4))
    layer = nn.BatchNorm1D()
    layer.build((3,))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        layer.forward(np.ones((1, 3), np.float32), training=True)
    layer.forward(np.ones((1, 3), np.float32))  # inference is fine with one sample
