"""Losses and their links: gradients against central finite differences,
stability for large logits, unknown names."""
import numpy as np
import pytest

from fastnut import nn
from fastnut.nn._activations import logistic, softmax
from tests._reference.gradcheck import numerical_gradient


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
