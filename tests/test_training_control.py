"""Training control shared by every gradient-trained estimator (the base and
the trainer): class weights, per-epoch history, learning-rate schedules,
callbacks, checkpoints and resume."""
import numpy as np
import pytest
from sklearn.utils.class_weight import compute_class_weight, compute_sample_weight

from fastnut import CNNClassifier, DBNClassifier, MLPClassifier, RNNClassifier

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _imbalanced(n=120, d=8, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d)
    y = np.where(X[:, 0] + 0.3 * rng.randn(n) > 0.8, 2, np.where(X[:, 1] > 0.5, 1, 0))
    return X, y


def _small(Est, **kw):
    base = dict(random_state=0, max_iter=5, dtype=np.float64)
    if Est is MLPClassifier:
        base.update(hidden_layer_sizes=(7,))
    elif Est is CNNClassifier:
        base.update(input_shape=(1, 2, 4), conv_layers=((2, 2),), hidden_layer_sizes=(5,))
    elif Est is RNNClassifier:
        base.update(hidden_size=4, input_shape=(4, 2), hidden_layer_sizes=())
    elif Est is DBNClassifier:
        base.update(hidden_layer_sizes=(6,), rbm_n_iter=1)
    base.update(kw)
    return Est(**base)


def _weights(est):
    return [v.copy() for v in est.network_.params.values()]


def _data_for(Est, X):
    return np.abs(X) / np.abs(X).max() if Est is DBNClassifier else X


CLASSIFIERS = [MLPClassifier, CNNClassifier, RNNClassifier, DBNClassifier]


# -- class_weight -------------------------------------------------------------------------
@pytest.mark.parametrize("Est", CLASSIFIERS)
def test_balanced_class_weight_equals_the_equivalent_sample_weight(Est):
    X, y = _imbalanced()
    X = _data_for(Est, X)
    a = _small(Est, class_weight="balanced").fit(X, y)
    b = _small(Est).fit(X, y, sample_weight=compute_sample_weight("balanced", y))
    for wa, wb in zip(_weights(a), _weights(b)):
        np.testing.assert_array_equal(wa, wb)
    c = _small(Est).fit(X, y)
    assert not all(np.array_equal(wa, wc) for wa, wc in zip(_weights(a), _weights(c)))


def test_class_weight_dict_multiplies_sample_weight():
    X, y = _imbalanced()
    sw = np.random.RandomState(1).uniform(0.5, 2, len(y))
    cw = {0: 1.0, 1: 3.0, 2: 0.5}
    a = _small(MLPClassifier, class_weight=cw).fit(X, y, sample_weight=sw)
    b = _small(MLPClassifier).fit(X, y, sample_weight=sw * np.array([cw[v] for v in y]))
    for wa, wb in zip(_weights(a), _weights(b)):
        np.testing.assert_array_equal(wa, wb)


def test_class_weight_weights_the_early_stopping_score():
    X, y = _imbalanced(200)
    sw = compute_sample_weight("balanced", y)
    a = _small(MLPClassifier, class_weight="balanced", early_stopping=True,
               n_iter_no_change=3, max_iter=8).fit(X, y)
    b = _small(MLPClassifier, early_stopping=True, n_iter_no_change=3,
               max_iter=8).fit(X, y, sample_weight=sw)
    assert a.validation_scores_ == b.validation_scores_
    c = _small(MLPClassifier, early_stopping=True, n_iter_no_change=3, max_iter=8).fit(X, y)
    assert a.validation_scores_ != c.validation_scores_


def test_partial_fit_takes_a_class_weight_dict_not_balanced():
    X, y = _imbalanced()
    classes = np.unique(y)
    cw = dict(zip(classes, compute_class_weight("balanced", classes=classes, y=y)))
    a = _small(MLPClassifier, class_weight=cw)
    b = _small(MLPClassifier)
    # the first batch lacks class 2: the dict still weighs by the full classes
    first = y != 2
    a.partial_fit(X[first], y[first], classes=classes)
    b.partial_fit(X[first], y[first], classes=classes,
                  sample_weight=np.array([cw[v] for v in y[first]]))
    a.partial_fit(X, y)
    b.partial_fit(X, y, sample_weight=np.array([cw[v] for v in y]))
    for wa, wb in zip(_weights(a), _weights(b)):
        np.testing.assert_array_equal(wa, wb)
    with pytest.raises(ValueError, match="class_weight 'balanced' is not supported for "
                                         "partial_fit. In order to use 'balanced' weights, "
                                         r"use compute_class_weight\('balanced'"):
        _small(MLPClassifier, class_weight="balanced").partial_fit(X, y, classes=classes)


def test_class_weight_rejects_bad_values():
    X, y = _imbalanced()
    with pytest.raises(ValueError, match="class_weight"):
        _small(MLPClassifier, class_weight="uniform").fit(X, y)


# -- history_ -----------------------------------------------------------------------------
from fastnut import (Autoencoder, CNNRegressor, ConvAutoencoder, ContractiveAutoencoder,  # noqa: E402
                     DenoisingAutoencoder, LSTMAutoencoder, MLPRegressor, RNNRegressor,
                     SparseAutoencoder)
from fastnut.callbacks import Callback, CSVLogger, Checkpoint, EarlyStopping, ProgressBar  # noqa: E402
from fastnut.schedules import CosineAnnealing, ReduceLROnPlateau, StepDecay  # noqa: E402


def _any(Est, **kw):
    """A tiny estimator of any network family and data for it."""
    rng = np.random.RandomState(0)
    X = rng.rand(40, 8)
    y = (X[:, 0] > 0.5).astype(int)
    base = dict(random_state=0, max_iter=4)
    if Est in CLASSIFIERS:
        return _small(Est, **kw), X, y
    if Est is MLPRegressor:
        base.update(hidden_layer_sizes=(5,))
    elif Est is CNNRegressor:
        base.update(input_shape=(1, 2, 4), conv_layers=((2, 2),), hidden_layer_sizes=())
    elif Est is RNNRegressor:
        base.update(hidden_size=3, input_shape=(4, 2), hidden_layer_sizes=())
    elif Est is ConvAutoencoder:
        base.update(n_components=2, input_shape=(1, 4, 2), filters=(2,), kernel_size=1)
    elif Est is LSTMAutoencoder:
        base.update(n_components=2, input_shape=(4, 2))
    else:
        base.update(n_components=2, encoder_layer_sizes=(4,))
    base.update(kw)
    return Est(**base), X, (X[:, 0] if Est in (MLPRegressor, CNNRegressor, RNNRegressor)
                           else None)


ALL = CLASSIFIERS + [MLPRegressor, CNNRegressor, RNNRegressor, Autoencoder, SparseAutoencoder,
                     ContractiveAutoencoder, DenoisingAutoencoder, ConvAutoencoder,
                     LSTMAutoencoder]


@pytest.mark.parametrize("Est", ALL)
def test_history_has_one_record_per_epoch(Est):
    est, X, y = _any(Est)
    est.fit(X, y)
    h = est.history_
    assert [r["epoch"] for r in h] == list(range(1, est.n_iter_ + 1))
    assert [r["loss"] for r in h] == est.loss_curve_
    assert all(r["validation_score"] is None and r["seconds"] >= 0 for r in h)
    assert all(r["learning_rate"] == est.learning_rate_init for r in h)
    # warm_start continues the history as it continues loss_curve_
    est.set_params(warm_start=True, max_iter=2).fit(X, y)
    assert [r["epoch"] for r in est.history_] == list(range(1, len(est.loss_curve_) + 1))


def test_history_records_the_validation_score_and_sgd_rate():
    X, y = _imbalanced(200)
    est = _small(MLPClassifier, early_stopping=True, solver="sgd", learning_rate="invscaling",
                 learning_rate_init=0.1, n_iter_no_change=50, max_iter=4).fit(X, y)
    assert [r["validation_score"] for r in est.history_] == est.validation_scores_
    # invscaling: the rate of epoch k is set after epoch k-1 from the samples seen
    n_train = 180
    expected = [0.1] + [0.1 / (k * n_train + 1) ** 0.5 for k in range(1, 4)]
    np.testing.assert_allclose([r["learning_rate"] for r in est.history_], expected)
    lbfgs = _small(MLPClassifier, solver="lbfgs").fit(X, y)
    assert not hasattr(lbfgs, "history_")
