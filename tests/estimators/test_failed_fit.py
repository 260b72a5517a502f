"""A fit that fails leaves a fresh estimator unfitted and a fitted one as it was."""
import warnings

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

import fastnut

rng = np.random.default_rng(0)
X_dense = rng.random((60, 6))
y_class = np.arange(60) % 2
X_img = rng.random((60, 1, 6, 6)).astype(np.float32)
X_seq = rng.random((60, 5, 3)).astype(np.float32)

X_nan = rng.random((60, 4))
X_nan[3, 1] = np.nan


def _mlp_diverges():
    X = rng.standard_normal((50, 3))
    return X, X[:, 0] * 1e30


# (estimator, good fit args, failing fit: (set_params, fit args), the error's text)
CASES = {
    "MLPRegressor-divergence": (
        lambda: fastnut.MLPRegressor(hidden_layer_sizes=(4,), solver="sgd",
                                     learning_rate_init=0.01, max_iter=20, random_state=0),
        (rng.standard_normal((50, 3)), rng.standard_normal(50)),
        ({"learning_rate_init": 10.0}, _mlp_diverges()), "non-finite|diverged"),
    "MLPClassifier-validation-too-small": (
        lambda: fastnut.MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0),
        (X_dense, y_class),
        ({"early_stopping": True, "validation_fraction": 0.01}, (X_dense[:20], y_class[:20])),
        "test_size = 1 should be greater or equal to the number of classes"),
    "MLPClassifier-bad-labels-new-width": (
        lambda: fastnut.MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0),
        (X_dense, y_class),
        ({}, (X_dense[:, :4], rng.random(60))), "Unknown label type"),
    "CNNClassifier-validation-too-small": (
        lambda: fastnut.CNNClassifier(conv_layers=[(2, 3)], hidden_layer_sizes=(4,),
                                      max_iter=2, random_state=0),
        (X_img, y_class),
        ({"early_stopping": True, "validation_fraction": 0.01},
         (X_img[:20, :, :5, :5], y_class[:20])),
        "test_size = 1 should be greater or equal to the number of classes"),
    "RNNRegressor-validation-too-small": (
        lambda: fastnut.RNNRegressor(hidden_size=4, max_iter=2, random_state=0),
        (X_seq, X_seq[:, -1, 0]),
        ({"early_stopping": True, "validation_fraction": 0.01},
         (X_seq[:20, :, :2], X_seq[:20, -1, 0])), "validation set is too small"),
    "Autoencoder-validation-too-small": (
        lambda: fastnut.Autoencoder(encoder_layer_sizes=(3,), max_iter=2, random_state=0),
        (X_dense,),
        ({"early_stopping": True, "validation_fraction": 0.01}, (X_dense[:20, :4],)),
        "validation set is too small"),
    "ConvAutoencoder-validation-too-small": (
        lambda: fastnut.ConvAutoencoder(filters=(2,), max_iter=2, random_state=0),
        (X_img,),
        ({"early_stopping": True, "validation_fraction": 0.01}, (X_img[:20, :, :4, :4],)),
        "validation set is too small"),
    "SelfOrganizingMap-odd-rows-periodic-hexagonal": (
        lambda: fastnut.SelfOrganizingMap(n_rows=4, n_cols=4, topology="hexagonal",
                                          periodic=True, max_iter=2, random_state=0),
        (X_dense,),
        ({"n_rows": 5}, (X_dense[:, :4],)), "n_rows"),
    "BernoulliRBM-out-of-range": (
        lambda: fastnut.BernoulliRBM(n_components=4, n_iter=2, random_state=0),
        (X_dense,),
        ({}, (X_nan,)), "NaN"),
    "GaussianBernoulliRBM-nan": (
        lambda: fastnut.GaussianBernoulliRBM(n_components=4, n_iter=3, random_state=0),
        (rng.standard_normal((60, 6)),),
        ({}, (X_nan,)), "NaN"),
    "DeepBeliefNetwork-out-of-range": (
        lambda: fastnut.DeepBeliefNetwork(hidden_layer_sizes=(4,), n_iter=2, random_state=0),
        (X_dense,),
        ({}, (X_nan,)), "NaN"),
    "DeepBoltzmannMachine-out-of-range": (
        lambda: fastnut.DeepBoltzmannMachine(hidden_layer_sizes=(4, 3), n_iter=2,
                                             random_state=0),
        (X_dense,),
        ({}, (X_nan,)), "NaN"),
}


def _output(est, X):
    return est.predict(X) if hasattr(est, "predict") and not hasattr(est, "transform") \
        else est.transform(X)


def _fail(est, case):
    params, args, match = CASES[case][2][0], CASES[case][2][1], CASES[case][3]
    est.set_params(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=match):
            est.fit(*args)


@pytest.mark.parametrize("case", list(CASES))
def test_failed_first_fit_leaves_the_estimator_unfitted(case):
    est = CASES[case][0]()
    _fail(est, case)
    with pytest.raises(NotFittedError):
        check_is_fitted(est)
    with pytest.raises(NotFittedError):
        _output(est, CASES[case][1][0])


@pytest.mark.parametrize("case", list(CASES))
def test_failed_refit_keeps_the_previous_model(case):
    make, good = CASES[case][0], CASES[case][1]
    est = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(*good)
    expected = _output(est, good[0])
    fitted = {k for k in vars(est) if k.endswith("_") and not k.startswith("__")}
    n_features = est.n_features_in_
    params = est.get_params()
    _fail(est, case)
    est.set_params(**params)  # the failing fit's parameters are not the model's
    assert est.n_features_in_ == n_features
    assert {k for k in vars(est) if k.endswith("_") and not k.startswith("__")} == fitted
    np.testing.assert_array_equal(_output(est, good[0]), expected)
