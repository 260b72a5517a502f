"""``nn.Activation`` on NaN-padded sequences: padded steps stay padded.

Every activation maps NaN to NaN (ReLU as PyTorch's ``torch.relu`` does), so an
all-NaN padded step leaves an ``Activation`` layer all-NaN, the next sequence
layer sees the same lengths, and the padded steps get a zero gradient.
"""
import numpy as np
import pytest

from fastnut import nn


def _padded(dtype, n=3, T=6, F=4, seed=0):
    X = np.random.default_rng(seed).standard_normal((n, T, F)).astype(dtype)
    X[0, 4:] = np.nan
    X[2, 1:] = np.nan
    return X


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["relu", "tanh", "logistic", "identity"])
def test_padded_steps_stay_nan_and_get_no_gradient(name, dtype):
    X = _padded(dtype)
    act = nn.Activation(name)
    act.build(X.shape[1:], dtype=dtype)
    Y = act.forward(X, training=True)
    pad = np.isnan(X)
    np.testing.assert_array_equal(np.isnan(Y), pad)
    ref = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh,
           "logistic": lambda z: 1 / (1 + np.exp(-z)), "identity": lambda z: z}[name]
    np.testing.assert_allclose(Y[~pad], ref(X[~pad]), rtol=1e-6)
    dX = act.backward(np.ones_like(X))
    if name == "identity":
        return
    assert not np.isnan(dX).any() and (dX[pad] == 0).all()


def test_relu_of_negative_zero_and_of_nan():
    act = nn.Activation("relu")
    act.build((4,))
    Y = act.forward(np.array([[-0.0, -2.0, np.nan, 3.0]], np.float32))
    np.testing.assert_array_equal(Y, [[0.0, 0.0, np.nan, 3.0]])
    assert not np.signbit(Y[0, 0])


def test_relu_between_convolutions_keeps_the_sequence_lengths():
    """Conv1D -> Activation("relu") -> Conv1D: a padded sequence gets its own output."""
    net = nn.Sequential([nn.Conv1D(5, 3, padding="same"), nn.Activation("relu"),
                         nn.Conv1D(4, 3, padding="same"), nn.GlobalAvgPool1D()])
    net.build((8, 2), random_state=0)
    X = np.random.default_rng(1).standard_normal((2, 8, 2)).astype(np.float32)
    X[1, 5:] = np.nan
    Y = net.forward(X)
    np.testing.assert_array_equal(Y[1:], net.forward(X[1:, :5]))
