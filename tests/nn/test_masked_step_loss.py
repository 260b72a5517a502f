"""MaskedStepLoss and the padding-aware TimeDistributedDense: values vs NumPy,
gradients vs finite differences, through recurrent layers' sequence outputs."""
import numpy as np
import pytest

from fastnut import nn
from tests._reference.gradcheck import check_layer_gradients, numerical_gradient


def _targets(base, rng, n, T, k):
    if base == "squared_error":
        y = rng.standard_normal((n, T, k))
        y[rng.random((n, T, k)) < 0.25] = np.nan      # single missing values
        return y
    if base == "log_loss":
        y = np.eye(k)[rng.integers(0, k, (n, T))]
    else:
        y = (rng.random((n, T, k)) < 0.5).astype(float)
    y[rng.random((n, T)) < 0.25] = np.nan              # missing steps
    return y


def _reference_value(base, Z, y, w):
    """The weighted mean of the per-term losses over the present terms (float64)."""
    total = denom = 0.0
    n, T, k = Z.shape
    for i in range(n):
        for t in range(T):
            if base == "squared_error":
                for j in range(k):
                    if not np.isnan(y[i, t, j]):
                        total += w[i] * 0.5 * (Z[i, t, j] - y[i, t, j]) ** 2
                        denom += w[i]
            elif not np.isnan(y[i, t, 0]):
                if base == "log_loss":
                    p = np.exp(Z[i, t] - Z[i, t].max())
                    p /= p.sum()
                    total -= w[i] * np.sum(y[i, t] * np.log(p))
                else:
                    p = 1 / (1 + np.exp(-Z[i, t]))
                    total -= w[i] * np.sum(y[i, t] * np.log(p) + (1 - y[i, t]) * np.log(1 - p))
                denom += w[i]
    return total / denom


@pytest.mark.parametrize("base", ["log_loss", "binary_log_loss", "squared_error"])
@pytest.mark.parametrize("weighted", [False, True])
def test_value_and_gradient(base, weighted):
    rng = np.random.default_rng(0)
    n, T, k = 4, 5, 3
    Z = rng.standard_normal((n, T, k))
    y = _targets(base, rng, n, T, k)
    w = rng.random(n) + 0.5 if weighted else None
    loss = nn.MaskedStepLoss(base)
    P, dZ = np.empty_like(Z), np.empty_like(Z)
    value = loss.evaluate(Z, y, w, 123.0, P, dZ)
    ref = _reference_value(base, Z, y, np.ones(n) if w is None else w)
    assert value == pytest.approx(ref, rel=1e-12)
    assert loss.value(loss.predict(Z), y, w) == pytest.approx(ref, rel=1e-12)

    def f():
        return loss.value(loss.predict(Z.copy()), y, w)

    np.testing.assert_allclose(dZ, numerical_gradient(f, Z), rtol=1e-6, atol=1e-9)
    G = loss.gradient(loss.predict(Z), y, w, 1.0, np.empty_like(Z))
    np.testing.assert_allclose(G, dZ, rtol=1e-12)


def test_missing_terms_may_hold_anything_and_empty_batch_is_zero():
    rng = np.random.default_rng(1)
    Z = rng.standard_normal((2, 3, 2))
    y = _targets("log_loss", rng, 2, 3, 2)
    y[0, 1] = np.nan
    loss = nn.MaskedStepLoss("log_loss")
    P, dZ = np.empty_like(Z), np.empty_like(Z)
    v = loss.evaluate(Z, y, None, 1.0, P, dZ)
    Z2 = Z.copy()
    Z2[0, 1] = np.nan  # an output at a missing step
    P2, dZ2 = np.empty_like(Z), np.empty_like(Z)
    assert loss.evaluate(Z2, y, None, 1.0, P2, dZ2) == v
    np.testing.assert_array_equal(dZ2, dZ)
    assert (dZ[0, 1] == 0).all()
    assert loss.evaluate(Z, np.full_like(y, np.nan), None, 1.0, P, dZ) == 0.0
    assert (dZ == 0).all()
    with pytest.raises(ValueError, match="MaskedStepLoss base"):
        nn.MaskedStepLoss("hinge")


def test_time_distributed_dense_skips_padded_steps():
    rng = np.random.default_rng(2)
    n, T, H = 3, 4, 5
    X = rng.standard_normal((n, T, H))
    X[0, 2:] = np.nan
    X[2, 3:] = np.nan
    pad = np.isnan(X[:, :, 0])
    layer = nn.TimeDistributedDense(2, activation="tanh")
    layer.build((T, H), random_state=0, dtype=np.float64)
    Y = layer.forward(X, training=True)
    assert np.isnan(Y[pad]).all() and np.isfinite(Y[~pad]).all()
    dY = rng.standard_normal(Y.shape)
    dY_pad = dY.copy()
    dY_pad[pad] = 1e6  # the gradient at padded steps is ignored
    dX = layer.backward(dY_pad)
    assert (dX[pad] == 0).all()
    grads = {k: v.copy() for k, v in layer.grads.items()}
    # the same layer on the valid steps only, as one batch of rows
    dense = nn.Dense(2, activation="tanh")
    dense.build((H,), dtype=np.float64)
    for k in dense.params:
        dense.params[k][...] = layer.params[k]
    np.testing.assert_allclose(dense.forward(X[~pad], training=True), Y[~pad], rtol=1e-14)
    dense.needs_input_grad = True
    dXv = dense.backward(dY[~pad].copy())
    np.testing.assert_allclose(dX[~pad], dXv, rtol=1e-12)
    for k in grads:
        np.testing.assert_allclose(grads[k], dense.grads[k], rtol=1e-12, atol=1e-14)
    check_layer_gradients(layer, X, padded=True)
    head = nn.TimeDistributedDense(2, padding_value=0.0)
    head.build((T, H), random_state=0, dtype=np.float64)
    assert (head.forward(X)[pad] == 0).all()


def _network_gradcheck(net, X, y, base, w=None):
    loss = nn.MaskedStepLoss(base)

    def objective():
        Z = net.forward(X, training=True)
        return loss.value(loss.predict(Z.copy()), y, w)

    Z = net.forward(X, training=True)
    P, dZ = np.empty_like(Z), np.empty_like(Z)
    loss.evaluate(Z, y, w, 1.0, P, dZ)
    net.backward(dZ)
    analytic = {k: v.copy() for k, v in net.grads.items()}
    for k, p in net.params.items():
        np.testing.assert_allclose(analytic[k], numerical_gradient(objective, p),
                                   rtol=1e-5, atol=1e-8, err_msg=k)


@pytest.mark.parametrize("base", ["log_loss", "binary_log_loss"])
def test_masked_step_loss_through_embedding_and_lstm(base):
    rng = np.random.default_rng(3)
    ids = np.array([[3, 1, 4, 1, 5], [2, 6, 0, 0, 0], [5, 3, 5, 0, 0]])
    k = 3 if base == "log_loss" else 1
    net = nn.Sequential([nn.Embedding(7, 3, padding_idx=0),
                         nn.LSTM(4, return_sequences=True, bidirectional=True),
                         nn.TimeDistributedDense(3, activation="tanh"),
                         nn.TimeDistributedDense(k, padding_value=0.0)])
    net.build((5,), random_state=0, dtype=np.float64)
    net.needs_input_grad = False
    y = _targets(base, rng, 3, 5, k)
    y[1, 2:] = np.nan
    y[2, 3:] = np.nan
    y[0, 1] = np.nan  # a missing label at a valid step
    _network_gradcheck(net, ids, y, base, w=np.array([1.0, 0.5, 2.0]))


def test_masked_squared_error_through_gru_on_nan_padded_input():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((3, 6, 2))
    X[1, 4:] = np.nan
    X[2, 2:] = np.nan
    net = nn.Sequential([nn.GRU(4, return_sequences=True), nn.SimpleRNN(3, return_sequences=True),
                         nn.TimeDistributedDense(2, padding_value=0.0)])
    net.build((6, 2), random_state=0, dtype=np.float64)
    net.needs_input_grad = False
    y = _targets("squared_error", rng, 3, 6, 2)
    y[np.isnan(X[:, :, 0])] = np.nan
    _network_gradcheck(net, X, y, "squared_error")
