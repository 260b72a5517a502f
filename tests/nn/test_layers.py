"""Dense, Activation, Dropout, Flatten and Sequential: values against NumPy,
gradients against central finite differences, pickling."""
import pickle

import numpy as np
import pytest

from fastnut import nn
from tests._reference.gradcheck import check_layer_gradients

ACTS = ["identity", "relu", "tanh", "logistic"]


def _np_act(name, Z):
    return {"identity": Z, "relu": np.maximum(Z, 0), "tanh": np.tanh(Z),
            "logistic": 1 / (1 + np.exp(-Z))}[name]


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("n", [1, 7])
def test_dense_forward_matches_numpy(act, n):
    rng = np.random.default_rng(0)
    layer = nn.Dense(5, activation=act)
    layer.build((4,), random_state=0, dtype=np.float64)
    X = rng.standard_normal((n, 4))
    Y = layer.forward(X)
    W, b = layer.params["weight"], layer.params["bias"]
    np.testing.assert_allclose(Y, _np_act(act, X @ W + b), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("act", ACTS)
def test_dense_gradients(act):
    layer = nn.Dense(6, activation=act)
    layer.build((5,), random_state=1, dtype=np.float64)
    X = np.random.default_rng(1).standard_normal((4, 5))
    if act == "relu":
        X += 0.05 * np.sign(X)  # keep pre-activations away from the kink
    check_layer_gradients(layer, X)


def test_dense_without_bias_and_first_layer_skips_input_grad():
    layer = nn.Dense(3, use_bias=False)
    layer.build((2,), random_state=0, dtype=np.float64)
    assert list(layer.params) == ["weight"]
    check_layer_gradients(layer, np.ones((2, 2)))
    layer.needs_input_grad = False
    layer.forward(np.ones((2, 2)), training=True)
    assert layer.backward(np.ones((2, 3))) is None
    np.testing.assert_allclose(layer.grads["weight"], 2 * np.ones((2, 3)))


@pytest.mark.parametrize("act", ACTS)
def test_activation_layer_gradients_any_shape(act):
    layer = nn.Activation(act)
    layer.build((2, 3, 2), dtype=np.float64)
    X = np.random.default_rng(2).standard_normal((3, 2, 3, 2))
    X += 0.05 * np.sign(X)
    np.testing.assert_allclose(layer.forward(X), _np_act(act, X), rtol=1e-12, atol=1e-12)
    check_layer_gradients(layer, X)


def test_activation_rejects_unknown_name():
    with pytest.raises(ValueError, match="activation must be one of"):
        nn.Dense(3, activation="softplus")


def test_dropout_scales_kept_units_and_backward_uses_same_mask():
    layer = nn.Dropout(0.25)
    layer.build((1000,), random_state=0, dtype=np.float64)
    X = np.ones((20, 1000))
    Y = layer.forward(X, training=True).copy()
    kept = Y != 0
    assert abs(kept.mean() - 0.75) < 0.02
    np.testing.assert_allclose(Y[kept], 1 / 0.75)
    dX = layer.backward(np.ones_like(X))
    np.testing.assert_array_equal(dX, Y)
    np.testing.assert_array_equal(layer.forward(X, training=False), X)
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1\)"):
        nn.Dropout(1.0)


def test_flatten_roundtrip():
    layer = nn.Flatten()
    assert layer.build((2, 3, 4)) == (24,)
    X = np.arange(48.0).reshape(2, 2, 3, 4)
    Y = layer.forward(X, training=True)
    assert Y.shape == (2, 24)
    assert layer.backward(Y).shape == X.shape


def test_sequential_gradients_and_param_names():
    net = nn.Sequential([nn.Dense(7, "tanh"), nn.Dense(5, "logistic"), nn.Dense(3)])
    assert net.build((4,), random_state=0, dtype=np.float64) == (3,)
    assert list(net.params) == ["0.weight", "0.bias", "1.weight", "1.bias",
                                "2.weight", "2.bias"]
    assert net.params["1.weight"] is net.layers[1].params["weight"]
    check_layer_gradients(net, np.random.default_rng(3).standard_normal((5, 4)))


def test_sequential_pickles_with_linked_params():
    net = nn.Sequential([nn.Dense(4, "relu"), nn.Dense(2)])
    net.build((3,), random_state=0)
    X = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    Y = net.forward(X).copy()
    net2 = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(net2.forward(X), Y)
    assert net2.params["0.weight"] is net2.layers[0].params["weight"]


def test_dense_float32_agrees_with_float64():
    X = np.random.default_rng(4).standard_normal((16, 10))
    outs = {}
    for dt in (np.float32, np.float64):
        net = nn.Sequential([nn.Dense(8, "tanh"), nn.Dense(3)])
        net.build((10,), random_state=0, dtype=dt)
        outs[dt] = net.forward(X.astype(dt)).astype(np.float64)
        net.forward(X.astype(dt), training=True)
        net.backward(np.ones((16, 3), dt))
        outs[(dt, "g")] = net.grads["0.weight"].astype(np.float64)
    np.testing.assert_allclose(outs[np.float32], outs[np.float64], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(outs[(np.float32, "g")], outs[(np.float64, "g")],
                               rtol=1e-4, atol=1e-4)
