"""Every public estimator pickles and loads with skops, predicting the same after loading."""
import inspect
import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import BaseEstimator, is_classifier, is_regressor
from sklearn.datasets import load_digits

import fastnut
from tests.test_common import CHECK_PARAMS


def _public_estimators():
    return [name for name in fastnut.__all__
            if inspect.isclass(getattr(fastnut, name))
            and issubclass(getattr(fastnut, name), BaseEstimator)]


def _fitted(name):
    X, y = load_digits(return_X_y=True)
    X, y = (X[:200] / 16.0), y[:200]
    est = getattr(fastnut, name)(**CHECK_PARAMS.get(name, {}))
    if est.__sklearn_tags__().input_tags.string:  # text in (SequenceTokenizer)
        X = [" ".join(f"w{int(v)}" for v in row[::4] * 4) for row in X]
    if "random_state" in est.get_params():
        est.set_params(random_state=0)
    if "max_iter" in est.get_params():
        est.set_params(max_iter=min(5, est.get_params()["max_iter"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if is_classifier(est):
            est.fit(X, y)
        elif is_regressor(est):
            est.fit(X, y.astype(float))
        else:
            est.fit(X)
    return est, X


def _outputs(est, X):
    out = {}
    for method in ("predict", "predict_proba", "transform", "score_samples"):
        if hasattr(est, method):
            out[method] = np.asarray(getattr(est, method)(X))
    assert out, f"{type(est).__name__} has no prediction method"
    return out


@pytest.mark.parametrize("name", _public_estimators())
def test_pickle_round_trip(name):
    est, X = _fitted(name)
    before = _outputs(est, X)
    after = _outputs(pickle.loads(pickle.dumps(est)), X)
    for k in before:
        np.testing.assert_array_equal(after[k], before[k], err_msg=k)


@pytest.mark.parametrize("name", _public_estimators())
def test_skops_round_trip_with_trusted_types(name):
    sio = pytest.importorskip("skops.io")
    est, X = _fitted(name)
    data = sio.dumps(est)
    untrusted = set(sio.get_untrusted_types(data=data))
    assert untrusted <= set(fastnut.skops_trusted_types()), untrusted - set(
        fastnut.skops_trusted_types())
    loaded = sio.loads(data, trusted=fastnut.skops_trusted_types())
    before, after = _outputs(est, X), _outputs(loaded, X)
    for k in before:
        np.testing.assert_array_equal(after[k], before[k], err_msg=k)
