"""The Trainer: loss reduction, the folded L2 term, divergence, early stopping,
gradient clipping and L-BFGS."""
import numpy as np
import pytest

from fastnut import nn
from tests._reference.gradcheck import numerical_gradient


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
