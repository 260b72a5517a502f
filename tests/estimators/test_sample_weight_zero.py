"""Zero sample weights are legal (scikit-learn's rule), even on a whole mini-batch;
weights that are all zero get scikit-learn's error."""
import numpy as np
import pytest

import fastnut

rng = np.random.default_rng(0)
X = rng.random((100, 4))
y_reg = X.sum(axis=1)
y_clf = (X[:, 0] > 0.5).astype(int)


@pytest.mark.parametrize("alpha", [0.0, 1e-3])
@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("Est, y", [(fastnut.MLPRegressor, y_reg), (fastnut.MLPClassifier, y_clf)])
def test_a_zero_weight_mini_batch_trains(Est, y, solver, alpha):
    sw = np.ones(100)
    sw[:50] = 0.0  # the whole first mini-batch (no shuffling)
    est = Est(hidden_layer_sizes=(8,), solver=solver, batch_size=50, shuffle=False,
              alpha=alpha, max_iter=5, random_state=0)
    est.fit(X, y, sample_weight=sw)
    # the zero-weight rows change nothing: same model as training on the rest alone
    ref = Est(hidden_layer_sizes=(8,), solver=solver, batch_size=50, shuffle=False,
              alpha=alpha, max_iter=5, random_state=0).fit(X[50:], y[50:])
    for a, b in zip(est.coefs_, ref.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert np.isfinite(est.loss_)


def test_all_zero_weights_get_scikit_learns_error():
    with pytest.raises(ValueError, match="Sample weights must contain at least one non-zero"):
        fastnut.MLPRegressor(max_iter=5).fit(X, y_reg, sample_weight=np.zeros(100))
