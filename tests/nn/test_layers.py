"""The network engine: layers, losses, optimizers and the trainer."""
import pickle

import numpy as np
import pytest

from fastnut import nn
from fastnut.nn._activations import logistic, softmax
from tests._reference.gradcheck import check_layer_gradients, numerical_gradient

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


# -- losses ------------------------------------------------------------------------

def _targets(name, rng, n, k):
    if name == "log_loss":
        return np.eye(k)[rng.integers(0, k, n)]
    if name == "binary_log_loss":
        return (rng.random((n, k)) > 0.5).astype(float)
    if name == "poisson":
        return rng.poisson(2.0, (n, k)).astype(float)
    return rng.standard_normal((n, k))


@pytest.mark.parametrize("name", ["squared_error", "log_loss", "binary_log_loss", "poisson"])
@pytest.mark.parametrize("weighted", [False, True])
def test_loss_gradient_matches_finite_differences(name, weighted):
    """dL/dZ of every loss + link against central differences of the value.

    The squared error's value is scikit-learn's (mean over outputs as well), its
    gradient the per-output sum, so its gradient is checked with that factor.
    """
    rng = np.random.default_rng(5)
    n, k = 6, 3
    loss = nn.get_loss(name)
    Z = rng.standard_normal((n, k))
    y = _targets(name, rng, n, k)
    sw = rng.random(n) + 0.5 if weighted else None
    wsum = sw.sum() if weighted else n

    def value():
        return loss.value(loss.predict(Z.copy()), y, sw)

    num = numerical_gradient(value, Z)
    g = loss.gradient(loss.predict(Z.copy()), y, sw, wsum, out=np.empty_like(Z))
    scale = k if name == "squared_error" else 1.0
    np.testing.assert_allclose(g, num * scale, rtol=1e-5, atol=1e-8)


def test_links_are_stable_for_large_logits():
    Z = np.array([[1000.0, -1000.0, 0.0]])
    np.testing.assert_allclose(softmax(Z.copy()), [[1.0, 0.0, 0.0]])
    np.testing.assert_allclose(logistic(Z), [[1.0, 0.0, 0.5]])


def test_unknown_loss_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        nn.get_loss("hinge")


# -- optimizers ---------------------------------------------------------------------

def test_adam_matches_reference_formula():
    rng = np.random.default_rng(6)
    p = rng.standard_normal(50)
    params, grads = {"w": p.copy()}, {"w": np.zeros(50)}
    opt = nn.Adam(0.01)
    ref, m, v = p.copy(), np.zeros(50), np.zeros(50)
    for t in range(1, 4):
        g = rng.standard_normal(50)
        grads["w"][...] = g
        opt.update(params, grads)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        lr = 0.01 * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
        ref -= lr * m / (np.sqrt(v) + 1e-8)
    np.testing.assert_allclose(params["w"], ref, rtol=1e-12)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_matches_reference_formula(nesterov):
    rng = np.random.default_rng(7)
    p = rng.standard_normal((4, 5))
    params, grads = {"w": p.copy()}, {"w": np.zeros((4, 5))}
    opt = nn.SGD(0.1, momentum=0.8, nesterov=nesterov)
    ref, vel = p.copy(), np.zeros((4, 5))
    for _ in range(3):
        g = rng.standard_normal((4, 5))
        grads["w"][...] = g
        opt.update(params, grads)
        vel = 0.8 * vel - 0.1 * g
        ref += (0.8 * vel - 0.1 * g) if nesterov else vel
    np.testing.assert_allclose(params["w"], ref, rtol=1e-12)


@pytest.mark.parametrize("opt", [nn.Adam(0.01), nn.SGD(0.1, momentum=0.8)])
def test_update_returns_the_penalised_weights_sum_of_squares_before_the_step(opt):
    """The L2 penalty's value comes out of the optimizer's pass (keys of l2 only)."""
    rng = np.random.default_rng(8)
    params = {"0.weight": rng.standard_normal((40, 30)), "0.bias": rng.standard_normal(30)}
    grads = {k: rng.standard_normal(v.shape) for k, v in params.items()}
    before = params["0.weight"].copy()
    sq = opt.update(params, grads, {"0.weight": 0.1})
    np.testing.assert_allclose(sq, np.sum(before ** 2), rtol=1e-12)
    assert not np.array_equal(params["0.weight"], before)
    assert opt.update(params, grads) == 0.0


def test_folded_l2_epoch_loss_equals_unfolded_batch_losses():
    """fit_epochs folds the L2 term into the optimizer's pass; the recorded loss
    must equal what loss_and_grad computes with the penalty included."""
    X, y = _regression_problem()
    tr = _trainer(alpha=0.5, shuffle=False, batch_size=len(X), max_iter=1)
    # (one batch: the epoch loss is that batch's)
    params0 = {k: v.copy() for k, v in tr.network.params.items()}
    ref = tr.loss_and_grad(X, y)        # unfolded: penalty included
    for k, v in tr.network.params.items():
        v[...] = params0[k]
    tr.fit_epochs(X, y)
    np.testing.assert_allclose(tr.loss_curve[0], ref, rtol=1e-10)


def test_sgd_schedules():
    opt = nn.SGD(0.1, lr_schedule="invscaling", power_t=0.5)
    opt.iteration_ends(99)
    assert opt.learning_rate == pytest.approx(0.01)
    ada = nn.SGD(0.1, lr_schedule="adaptive")
    assert ada.trigger_stopping("stalled", False) is False
    assert ada.learning_rate == pytest.approx(0.02)
    ada.learning_rate = 1e-6
    assert ada.trigger_stopping("stalled", False) is True


# -- trainer --------------------------------------------------------------------------

def _regression_problem(seed=0, n=200):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    y = (X @ np.array([1.0, -2.0, 0.5]))[:, None] + 0.01 * rng.standard_normal((n, 1))
    return X, y


def _trainer(dtype=np.float64, **kw):
    net = nn.Sequential([nn.Dense(16, "tanh"), nn.Dense(1)])
    net.build((3,), random_state=0, dtype=dtype)
    kw = {"learning_rate_init": 1e-2, "batch_size": 32, **kw}
    return nn.Trainer(net, nn.get_loss("squared_error"), nn.TrainConfig(**kw),
                      random_state=np.random.RandomState(0))


def test_trainer_reduces_loss_and_l2_gradient_is_exact():
    X, y = _regression_problem()
    tr = _trainer(alpha=0.5, max_iter=30)
    tr.fit_epochs(X, y)
    assert tr.loss_curve[-1] < 0.1 * tr.loss_curve[0]
    # the penalised loss's gradient against finite differences of the value
    w = tr.network.params["0.weight"]
    tr.loss_and_grad(X[:10], y[:10])
    g = tr.network.grads["0.weight"].copy()
    num = numerical_gradient(lambda: tr.loss_and_grad(X[:10], y[:10]), w)
    np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-8)


def test_trainer_divergence_is_an_error_and_restores_parameters():
    X, y = _regression_problem()
    y = y * 1e200
    tr = _trainer(max_iter=5)
    before = {k: v.copy() for k, v in tr.network.params.items()}
    with pytest.raises(nn.DivergenceError, match="training diverged"):
        tr.fit_epochs(X, y)
    for k, v in tr.network.params.items():
        np.testing.assert_array_equal(v, before[k])


def test_trainer_early_stopping_restores_best_weights():
    X, y = _regression_problem()
    tr = _trainer(early_stopping=True, n_iter_no_change=2, tol=0.0, max_iter=7)
    scores = iter([0.1, 0.9, 0.5, 0.4, 0.3, 0.2, 0.1])
    seen = {}

    def score(Xv, yv, sw):
        s = next(scores)
        seen[s] = {k: v.copy() for k, v in tr.network.params.items()}
        return s

    tr.fit_epochs(X, y, validation=(X, y, None), score=score)
    assert tr.best_validation_score == 0.9
    assert tr.n_iter == 5  # stops once more than n_iter_no_change epochs made no progress
    for k, v in tr.network.params.items():
        np.testing.assert_array_equal(v, seen[0.9][k])


def test_trainer_clip_norm_bounds_the_gradient():
    X, y = _regression_problem()
    tr = _trainer(clip_norm=1e-3)
    tr.loss_and_grad(X, y * 100)
    norm = np.sqrt(sum((g ** 2).sum() for g in tr.network.grads.values()))
    assert norm == pytest.approx(1e-3)


def test_trainer_lbfgs_fits_linear_problem():
    X, y = _regression_problem()
    tr = _trainer(solver="lbfgs", max_iter=200)
    loss = tr.fit_lbfgs(X, y)
    assert loss < 1e-3
