"""Conv2D, pooling and upsampling layers: gradients against central finite
differences, shapes, initialisation, errors, pickling and thread limits."""
import pickle

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from fastnut import nn
from tests._reference import conv as ref
from tests._reference.gradcheck import numerical_gradient


def _check_layer_gradients(layer, in_shape, n=2, seed=0, shift=None):
    rng = np.random.default_rng(seed)
    out_shape = layer.build(in_shape, random_state=seed, dtype=np.float64)
    X = rng.standard_normal((n,) + in_shape)
    if shift is not None:
        X += shift
    R = rng.standard_normal((n,) + out_shape)

    def loss():
        return float(np.sum(layer.forward(X, training=False) * R))

    layer.forward(X, training=True)
    dX = layer.backward(R.copy()).copy()
    grads = {k: v.copy() for k, v in layer.grads.items()}
    np.testing.assert_allclose(dX, numerical_gradient(loss, X), rtol=1e-5, atol=1e-6)
    for name, P in layer.params.items():
        np.testing.assert_allclose(grads[name], numerical_gradient(loss, P), rtol=1e-5, atol=1e-6,
                                   err_msg=name)
    return out_shape


@pytest.mark.parametrize("kwargs,in_shape", [
    (dict(filters=3, kernel_size=3, padding=1), (2, 5, 6)),
    (dict(filters=2, kernel_size=(2, 3), stride=2, padding="same"), (3, 7, 6)),
    (dict(filters=3, kernel_size=3, dilation=2, padding="valid", activation="tanh"), (2, 7, 7)),
    (dict(filters=2, kernel_size=3, padding="same", activation="relu"), (16, 4, 5)),  # rows
    (dict(filters=2, kernel_size=1, use_bias=False, activation="logistic"), (3, 3, 3)),
])
def test_conv2d_layer_gradients(kwargs, in_shape):
    layer = nn.Conv2D(**kwargs)
    _check_layer_gradients(layer, in_shape)


@pytest.mark.parametrize("layer,in_shape", [
    (nn.MaxPool2D(2), (2, 4, 6)),
    (nn.MaxPool2D((3, 2), stride=(2, 1)), (2, 7, 5)),
    (nn.AvgPool2D(2), (2, 5, 4)),
    (nn.AvgPool2D(3, stride=2), (1, 7, 7)),
    (nn.GlobalAvgPool2D(), (3, 4, 5)),
    (nn.Upsample2D(2), (2, 3, 3)),
    (nn.Upsample2D((1, 3)), (2, 2, 3)),
])
def test_pool_layer_gradients(layer, in_shape):
    _check_layer_gradients(layer, in_shape)


def test_conv2d_same_padding_shapes_and_reference():
    rng = np.random.default_rng(3)
    for k, s in [(3, 1), (4, 1), (3, 2), (5, 3)]:
        layer = nn.Conv2D(4, k, stride=s, padding="same")
        out = layer.build((2, 7, 8), random_state=0, dtype=np.float64)
        assert out == (4, -(-7 // s), -(-8 // s))
        X = rng.standard_normal((2, 2, 7, 8))
        Y = layer.forward(X)
        Yr = ref.conv2d(X, layer.params["weight"], layer.params["bias"], (s, s),
                        (layer._ph, layer._pw), (1, 1), out[1:])
        np.testing.assert_allclose(Y, Yr, atol=1e-12)


def test_conv2d_init_is_pytorch_default():
    layer = nn.Conv2D(64, 3)
    layer.build((8, 10, 10), random_state=0)
    bound = 1 / np.sqrt(8 * 9)
    for P in layer.params.values():
        assert P.dtype == np.float32
        assert np.abs(P).max() <= bound and np.abs(P).max() > 0.9 * bound


def test_layer_errors():
    with pytest.raises(ValueError, match="kernel_size"):
        nn.Conv2D(4, 0)
    with pytest.raises(ValueError, match="padding"):
        nn.Conv2D(4, 3, padding="full")
    with pytest.raises(ValueError, match="filters"):
        nn.Conv2D(0, 3)
    with pytest.raises(ValueError, match="does not fit"):
        nn.Conv2D(4, 5).build((1, 3, 3))
    with pytest.raises(ValueError, match=r"\(n, C, H, W\)"):
        nn.Conv2D(4, 3).build((9,))
    with pytest.raises(ValueError, match="does not fit"):
        nn.MaxPool2D(3).build((1, 2, 5))
    with pytest.raises(ValueError, match="stride"):
        nn.MaxPool2D(2, stride=(1, 2, 3))


def test_lenet_in_sequential_trains_and_pickles():
    rng = np.random.default_rng(0)
    X = rng.random((32, 1, 12, 12)).astype(np.float32)
    y = (X[:, 0, :6].mean(axis=(1, 2)) > X[:, 0, 6:].mean(axis=(1, 2))).astype(int)
    Y = np.eye(2, dtype=np.float32)[y]
    net = nn.Sequential([nn.Conv2D(4, 3, padding=1, activation="relu"), nn.MaxPool2D(2),
                         nn.Conv2D(8, 3, padding=1, activation="relu"), nn.AvgPool2D(2),
                         nn.Flatten(), nn.Dense(2)])
    net.build((1, 12, 12), random_state=0)
    net.needs_input_grad = False
    loss = nn.get_loss("log_loss")
    opt = nn.Adam(1e-2)
    losses = []
    G = np.empty_like(Y)
    for _ in range(60):
        P = loss.predict(net.forward(X, training=True).copy())
        losses.append(loss.value(P, Y))
        assert net.backward(loss.gradient(P, Y, None, len(X), G)) is None
        opt.update(net.params, net.grads)
    assert losses[-1] < 0.5 * losses[0]
    pred = net.forward(X).argmax(1)
    assert (pred == y).mean() > 0.9
    clone = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(clone.forward(X), net.forward(X))


def test_layers_follow_thread_limit():
    layer = nn.Conv2D(4, 3, padding=1)
    layer.build((16, 6, 6), random_state=0, dtype=np.float64)
    X = np.random.default_rng(0).standard_normal((5, 16, 6, 6))
    with threadpool_limits(limits=1, user_api="openmp"):
        Y1 = layer.forward(X).copy()
    Y2 = layer.forward(X)
    np.testing.assert_allclose(Y1, Y2, atol=1e-12)
