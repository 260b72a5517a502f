"""Training that diverges stops with one clear error (``fastnut.DivergenceError``,
a ``ValueError``) or, under early stopping in the MLPs, scikit-learn's warning and
NaN validation score; it never returns a model that predicts inf or NaN."""
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import fastnut
from fastnut import nn


def test_one_divergence_exception_exported():
    assert fastnut.DivergenceError is nn.DivergenceError
    assert issubclass(fastnut.DivergenceError, ValueError)
    assert "DivergenceError" in fastnut.__all__


def test_som_divergence_is_a_divergence_error():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3)) * 100
    som = fastnut.SelfOrganizingMap(n_rows=4, n_cols=4, algorithm="online",
                                    neighborhood="mexican_hat", learning_rate_start=50.0,
                                    learning_rate_end=50.0, init="random", max_iter=50,
                                    random_state=0)
    with pytest.raises(fastnut.DivergenceError, match="diverged"):
        som.fit(X)


def test_mlp_overflowing_outputs_are_an_error_not_inf_predictions():
    # a finite but huge loss whose weights overflow float32 at prediction time
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 5)) * 1e3
    y = X.sum(axis=1) * 1e15
    reg = fastnut.MLPRegressor(solver="adam", learning_rate_init=1e6, max_iter=5,
                               random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            reg.fit(X, y)
        except fastnut.DivergenceError as exc:
            assert "non-finite" in str(exc)
            return
    assert np.isfinite(reg.predict(X)).all()
    assert np.isfinite(reg.loss_)


def test_mlp_divergence_under_early_stopping_warns_and_scores_nan():
    # scikit-learn's behaviour: a grid search over learning rates carries on
    rng = np.random.default_rng(0)
    X = rng.standard_normal((150, 4)) * 3
    y = X @ np.array([1.0, -2.0, 3.0, 0.5]) * 10
    reg = fastnut.MLPRegressor(hidden_layer_sizes=(50,), activation="identity", solver="sgd",
                               learning_rate_init=1.0, max_iter=20, early_stopping=True,
                               n_iter_no_change=10, random_state=0)
    with pytest.warns(ConvergenceWarning, match="diverged"):
        reg.fit(X, y)
    assert np.isnan(reg.validation_scores_[-1])
    assert np.isfinite(reg.predict(X)).all()


def test_mlp_nonfinite_message_is_scikit_learns():
    X = np.finfo(np.float64).max * np.random.default_rng(0).uniform(size=(10, 2))
    y = np.arange(10.0)
    with pytest.raises(ValueError, match="Solver produced non-finite parameter weights"):
        fastnut.MLPRegressor().fit(X, y)


@pytest.mark.parametrize("make", [
    lambda: fastnut.MLPClassifier(hidden_layer_sizes=(8,), max_iter=30, random_state=0),
    lambda: fastnut.MLPRegressor(hidden_layer_sizes=(8,), max_iter=30, random_state=0),
    lambda: fastnut.Autoencoder(encoder_layer_sizes=(3,), max_iter=5, random_state=0),
])
def test_prediction_that_overflows_says_so(make):
    rng = np.random.default_rng(0)
    X = rng.random((60, 6))
    y = (X[:, 0] > 0.5).astype(int)
    est = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X) if isinstance(est, fastnut.Autoencoder) else est.fit(X, y)
    big = np.full((3, 6), 3.4e38)  # finite in float32; the outputs overflow
    methods = [m for m in ("predict", "predict_proba", "score_samples") if hasattr(est, m)]
    for m in methods:
        with pytest.raises(ValueError, match="not finite.*Scale the inputs"):
            getattr(est, m)(big)
