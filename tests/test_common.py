"""scikit-learn's common estimator checks over every public fastnut estimator.

Estimators are collected from ``fastnut.__all__``, so each family is covered
the day it is exported.  Families set small ``max_iter``-like parameters for
these checks in ``CHECK_PARAMS`` (the checks fit dozens of times).
"""
import inspect
import warnings

import numpy as np
import pytest
from sklearn.base import BaseEstimator
from sklearn.utils.estimator_checks import parametrize_with_checks

import fastnut

#: constructor overrides that keep the checks fast (tiny models, few epochs)
CHECK_PARAMS = {
    "MLPClassifier": dict(max_iter=100),
    "MLPRegressor": dict(max_iter=100),
    # every row read as a one-pixel-high strip: the checks use any number of features
    "CNNClassifier": dict(input_shape=(1, 1, -1), conv_layers=((4, 3),),
                          hidden_layer_sizes=(16,), max_iter=50),
    "CNNRegressor": dict(input_shape=(1, 1, -1), conv_layers=((4, 3),),
                         hidden_layer_sizes=(16,), max_iter=100, learning_rate_init=0.01),
    "Autoencoder": dict(encoder_layer_sizes=(8,), max_iter=20),
    "SparseAutoencoder": dict(encoder_layer_sizes=(8,), max_iter=20),
    "ContractiveAutoencoder": dict(max_iter=20),
    "DenoisingAutoencoder": dict(encoder_layer_sizes=(8,), max_iter=20),
    "ConvAutoencoder": dict(input_shape=(1, 1, -1), filters=(4,), max_iter=5),
    "LSTMAutoencoder": dict(n_components=4, max_iter=10),
    # 2-D X: every row is a sequence of one feature per step
    "RNNClassifier": dict(hidden_size=8, max_iter=50),
    "RNNRegressor": dict(cell="gru", hidden_size=8, max_iter=100, learning_rate_init=0.03),
    "SequenceCNNClassifier": dict(n_filters=(4, 4), kernel_sizes=(5, 5), batch_size=32,
                                  max_iter=20, learning_rate_init=0.01),
    "SequenceCNNRegressor": dict(n_filters=(4, 4), kernel_sizes=(5, 5), batch_size=32,
                                 max_iter=40, learning_rate_init=0.02),
    "NeuralNetClassifier": dict(max_iter=100),
    "NeuralNetRegressor": dict(max_iter=100),
}


def _estimators():
    out = []
    for name in fastnut.__all__:
        obj = getattr(fastnut, name)
        if inspect.isclass(obj) and issubclass(obj, BaseEstimator):
            est = obj(**CHECK_PARAMS.get(name, {}))
            out.append(est)
    return out


_FLOAT32_WEIGHTS = (
    "float32 compute: weighted and repeated-row fits agree to ~1e-7 relative, the check "
    "asks 1e-7 absolute; the equivalence is tested in float64 in the family's own tests")
_PRETRAINING_UNWEIGHTED = (
    "greedy RBM pre-training is unsupervised and unweighted: a weighted fit and a fit on "
    "repeated rows pre-train on different data")

_BATCH_STATISTICS = (
    "batch normalisation: a repeated row counts twice in the batch statistics, a weight of 2 "
    "does not (as in PyTorch), so weighted and repeated-row fits differ beyond round-off")

#: checks that cannot hold as written, whatever the dtype: class name -> {check: reason}
EXPECTED_FAILURES = {
    "DBNClassifier": {"check_sample_weight_equivalence_on_dense_data": _PRETRAINING_UNWEIGHTED},
    "SequenceCNNClassifier": {"check_sample_weight_equivalence_on_dense_data": _BATCH_STATISTICS},
    "SequenceCNNRegressor": {"check_sample_weight_equivalence_on_dense_data": _BATCH_STATISTICS},
}


def _expected_failures(est):
    """The common checks ``est`` is known to fail, each with its reason (name -> reason)."""
    name = type(est).__name__
    out = {}
    # every network estimator that takes sample_weight computes in float32 by default
    weighted = "sample_weight" in inspect.signature(est.fit).parameters
    if weighted and np.dtype(est.get_params().get("dtype", np.float64)) == np.float32:
        out = {"check_sample_weight_equivalence_on_dense_data": _FLOAT32_WEIGHTS,
               "check_sample_weight_equivalence_on_sparse_data": _FLOAT32_WEIGHTS}
    return {**out, **EXPECTED_FAILURES.get(name, {})}


#: warnings a check provokes on purpose: check name -> (category, message)
PROVOKED_WARNINGS = {
    # y holds NaN and inf to test the error; scikit-learn's type_of_target casts
    # that y to int (and warns) before the estimator raises
    "check_supervised_y_no_nan": (RuntimeWarning, "invalid value encountered in cast"),
}


# the checks fit tiny models for few epochs (CHECK_PARAMS): not converging is the point
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks(_estimators(), expected_failed_checks=_expected_failures)
def test_sklearn_compatible(estimator, check):
    name = getattr(check, "func", check).__name__
    with warnings.catch_warnings():
        if name in PROVOKED_WARNINGS:
            category, message = PROVOKED_WARNINGS[name]
            warnings.filterwarnings("ignore", message=message, category=category)
        check(estimator)


def test_every_public_name_is_exported():
    for name in fastnut.__all__:
        assert hasattr(fastnut, name), name
