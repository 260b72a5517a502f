"""SequenceCNNClassifier / SequenceCNNRegressor: Wang et al.'s FCN and ResNet for sequences."""
import pickle
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fastnut import RNNClassifier, SequenceCNNClassifier, SequenceCNNRegressor, nn

SMALL = dict(n_filters=(8, 16, 8), random_state=0)


def _waves(n=90, T=32, F=1, seed=0):
    """Two classes of noisy sines (2 or 5 cycles), ``(n, T, F)``."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    t = np.linspace(0, 1, T)
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    X = np.sin(2 * np.pi * (2 + 3 * y)[:, None] * t + phase)
    X = X[:, :, None] + 0.3 * rng.standard_normal((n, T, F))
    return X, y


def _pad(X, lengths):
    X = X.copy()
    for i, L in enumerate(lengths):
        X[i, L:] = np.nan
    return X


def _fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


# -- the architectures -------------------------------------------------------------------

def test_default_is_wang_et_al_fcn():
    X, y = _waves(n=8, T=20)
    clf = _fit(SequenceCNNClassifier(max_iter=1, random_state=0), X, y)
    layers = clf.network_.layers
    convs = [l for l in layers if isinstance(l, nn.Conv1D)]
    assert [(c.filters, c.kernel_size, c.padding) for c in convs] == [
        (128, 8, "same"), (256, 5, "same"), (128, 3, "same")]
    bns = [l for l in layers if isinstance(l, nn.BatchNorm1D)]
    assert len(bns) == 3 and all(b.activation == "relu" for b in bns)
    assert isinstance(layers[-2], nn.GlobalAvgPool1D) and isinstance(layers[-1], nn.Dense)
    assert clf.network_.params["0.weight"].shape == (128, 1, 8)
    # conv weights (no bias: batch normalisation's shift replaces it), BN affine, output
    n_params = sum(p.size for p in clf.network_.params.values())
    assert n_params == (128 * 8 + 256 * 128 * 5 + 128 * 256 * 3 + 2 * (128 + 256 + 128)
                        + 128 * 1 + 1)
    assert clf.learning_rate_init == 1e-3 and clf.solver == "adam"


def test_resnet_blocks_and_shortcuts():
    X, y = _waves(n=8, T=20)
    clf = _fit(SequenceCNNClassifier("resnet", max_iter=1, random_state=0), X, y)
    blocks = [l for l in clf.network_.layers if isinstance(l, nn.Residual)]
    assert len(blocks) == 3
    for block, width in zip(blocks, (64, 128, 128)):
        convs = [l for l in block.body.layers if isinstance(l, nn.Conv1D)]
        assert [(c.filters, c.kernel_size) for c in convs] == [(width, 8), (width, 5),
                                                               (width, 3)]
        acts = [l.activation for l in block.body.layers if isinstance(l, nn.BatchNorm1D)]
        assert acts == ["relu", "relu", "identity"]  # the ReLU comes after the addition
    # the width changes in blocks 1 and 2: 1x1 convolution + BN; block 3: BN only
    assert isinstance(blocks[0].shortcut_layer.layers[0], nn.Conv1D)
    assert blocks[0].shortcut_layer.layers[0].kernel_size == 1
    assert isinstance(blocks[1].shortcut_layer, nn.Sequential)
    assert isinstance(blocks[2].shortcut_layer, nn.BatchNorm1D)
    layers = clf.network_.layers
    assert [type(l).__name__ for l in layers[-3:]] == ["Activation", "GlobalAvgPool1D",
                                                         "Dense"]


def test_shrunk_network_and_parameter_errors():
    X, y = _waves(n=8, T=20)
    clf = _fit(SequenceCNNClassifier(n_filters=(4, 6), kernel_sizes=(3, 3), max_iter=1,
                                     random_state=0), X, y)
    assert [l.filters for l in clf.network_.layers if isinstance(l, nn.Conv1D)] == [4, 6]
    with pytest.raises(ValueError, match=r"one kernel size per block: n_filters=\[4, 6\] "
                                         r"has 2 blocks, kernel_sizes=\[8, 5, 3\] 3"):
        SequenceCNNClassifier(n_filters=(4, 6)).fit(X, y)
    with pytest.raises(ValueError, match="n_filters must be a non-empty sequence of positive"):
        SequenceCNNClassifier(n_filters=(4, 0)).fit(X, y)
    with pytest.raises(ValueError, match="kernel_sizes must be a non-empty sequence"):
        SequenceCNNClassifier(kernel_sizes=()).fit(X, y)
    res = _fit(SequenceCNNClassifier("resnet", n_filters=(4,), kernel_sizes=(3, 3),
                                     max_iter=1, random_state=0), X, y)
    (block,) = [l for l in res.network_.layers if isinstance(l, nn.Residual)]
    assert len([l for l in block.body.layers if isinstance(l, nn.Conv1D)]) == 2


# -- learning ----------------------------------------------------------------------------

@pytest.mark.parametrize("architecture", ["fcn", "resnet"])
def test_classifies_sines(architecture):
    X, y = _waves(n=120)
    clf = _fit(SequenceCNNClassifier(architecture, max_iter=8, **SMALL), X[:80], y[:80])
    assert clf.score(X[80:], y[80:]) >= 0.9
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    P = clf.predict_proba(X[80:])
    np.testing.assert_allclose(P.sum(axis=1), 1, rtol=1e-5)


def test_regressor_learns_the_frequency():
    rng = np.random.default_rng(0)
    t = np.linspace(0, 1, 32)
    freq = rng.uniform(1, 4, 160)
    X = np.sin(2 * np.pi * freq[:, None] * t)
    y = freq - 2.5  # centred: the output bias starts near it
    reg = _fit(SequenceCNNRegressor(max_iter=15, **SMALL), X[:120], y[:120])
    assert reg.score(X[120:], y[120:]) > 0.8
    Y2 = np.column_stack([freq, -2 * freq])
    reg2 = _fit(SequenceCNNRegressor(max_iter=2, **SMALL), X, Y2)
    assert reg2.predict(X).shape == (160, 2)


# -- NaN-padded sequences ----------------------------------------------------------------

@pytest.mark.parametrize("architecture", ["fcn", "resnet"])
def test_padded_sequence_gets_exactly_its_own_prediction(architecture):
    X, y = _waves(n=40, T=24, F=2)
    lengths = np.random.default_rng(1).integers(9, 25, 40)
    Xp = _pad(X, lengths)
    clf = _fit(SequenceCNNClassifier(architecture, max_iter=2, **SMALL), Xp, y)
    P = clf.predict_proba(Xp)
    for i in (0, 3, 7):
        alone = clf.predict_proba(X[i:i + 1, :lengths[i]])
        np.testing.assert_array_equal(P[i:i + 1], alone)
        # more padding than the training batch had: the same again
        longer = np.concatenate([Xp[i:i + 1], np.full((1, 5, 2), np.nan)], axis=1)
        np.testing.assert_array_equal(clf.predict_proba(longer), alone)


def test_padded_steps_do_not_leak_into_training():
    """Whatever the padded steps would hold, training on padded batches is the same."""
    X, y = _waves(n=24, T=16)
    lengths = np.random.default_rng(2).integers(6, 17, 24)
    Xp = _pad(X, lengths)
    a = _fit(SequenceCNNClassifier("resnet", max_iter=2, **SMALL), Xp, y)
    Xq = np.concatenate([Xp, np.full((24, 4, 1), np.nan)], axis=1)  # longer padding
    b = _fit(SequenceCNNClassifier("resnet", max_iter=2, **SMALL), Xq, y)
    for k in a.network_.params:
        np.testing.assert_allclose(a.network_.params[k], b.network_.params[k],
                                   rtol=1e-5, atol=1e-6)


def test_input_rules_are_rnn_classifiers():
    X, y = _waves(n=30, T=12, F=2)
    flat = X.reshape(30, -1)
    clf = _fit(SequenceCNNClassifier(input_shape=(12, 2), max_iter=1, **SMALL), flat, y)
    np.testing.assert_array_equal(clf.predict(flat), clf.predict(X))
    assert clf.sequence_shape_ == (12, 2) and clf.n_features_in_ == 24
    rnn = RNNClassifier(input_shape=(12, 2), max_iter=1)
    for bad in (X[:, :, :1], np.where(np.arange(12)[None, :, None] == 3, np.nan, X)):
        with pytest.raises(ValueError) as cnn_err:
            clf.predict(bad)
        with pytest.raises(ValueError) as rnn_err:
            _fit(rnn, X, y).predict(bad)
        assert str(cnn_err.value) == str(rnn_err.value)
    with pytest.raises(ValueError, match="sequences must have shape"):
        SequenceCNNClassifier().fit(np.zeros((4, 3, 2, 1)), [0, 1, 0, 1])


# -- scikit-learn integration ------------------------------------------------------------

def test_pipeline_grid_search_and_pickle():
    X, y = _waves(n=60, T=16)
    pipe = make_pipeline(StandardScaler(),
                         SequenceCNNClassifier(input_shape=(16, 1), max_iter=3, **SMALL))
    search = GridSearchCV(pipe, {"sequencecnnclassifier__n_filters": [(4, 4, 4), (8, 8, 8)]},
                          cv=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X.reshape(60, -1), y)
    assert search.best_params_["sequencecnnclassifier__n_filters"] in ((4, 4, 4), (8, 8, 8))
    model = search.best_estimator_
    loaded = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(loaded.predict_proba(X.reshape(60, -1)),
                                  model.predict_proba(X.reshape(60, -1)))


def test_running_statistics_are_fitted_state():
    X, y = _waves(n=30, T=16)
    clf = _fit(SequenceCNNClassifier(max_iter=2, **SMALL), X * 3 + 1, y)
    stats = {k: v for k, v in clf.network_.buffers.items() if k.endswith("running_mean")}
    assert len(stats) == 3 and all(np.abs(v).max() > 0 for v in stats.values())
    loaded = pickle.loads(pickle.dumps(clf))
    for k, v in clf.network_.buffers.items():
        np.testing.assert_array_equal(loaded.network_.buffers[k], v)


def test_warm_start_halves_equal_one_run():
    X, y = _waves(n=40, T=16)
    one = _fit(SequenceCNNClassifier(max_iter=4, **SMALL), X, y)
    half = SequenceCNNClassifier(max_iter=2, warm_start=True, **SMALL)
    _fit(half, X, y)
    _fit(half, X, y)
    for k, v in one.network_.params.items():
        np.testing.assert_allclose(half.network_.params[k], v, rtol=1e-6, atol=1e-7)
    for k, v in one.network_.buffers.items():
        np.testing.assert_allclose(half.network_.buffers[k], v, rtol=1e-6, atol=1e-7)
