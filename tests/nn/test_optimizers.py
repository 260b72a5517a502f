"""SGD (momentum, Nesterov, schedules) and Adam against their reference formulas."""
import numpy as np
import pytest

from fastnut import nn


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


def test_sgd_schedules():
    opt = nn.SGD(0.1, lr_schedule="invscaling", power_t=0.5)
    opt.iteration_ends(99)
    assert opt.learning_rate == pytest.approx(0.01)
    ada = nn.SGD(0.1, lr_schedule="adaptive")
    assert ada.trigger_stopping("stalled", False) is False
    assert ada.learning_rate == pytest.approx(0.02)
    ada.learning_rate = 1e-6
    assert ada.trigger_stopping("stalled", False) is True
