"""A fitted network estimator holds its weights and what prediction needs.

No forward caches, scratch buffers or training rows reach a pickle (a saved
model must not carry the data it was trained on), and optimizer state is
kept only because ``warm_start``/``partial_fit`` continue from it.
"""
import pickle
import warnings

import numpy as np
import pytest

import fastnut

MARKER = 2.718281828459045


def _data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, 16))
    X[7, 5] = MARKER  # a value no fitted parameter should hold
    y = (X[:, 0] + X[:, 1] > 1).astype(int)
    return X, y


CASES = {
    "MLPClassifier": dict(hidden_layer_sizes=(8,)),
    "MLPRegressor": dict(hidden_layer_sizes=(8,)),
    "CNNClassifier": dict(input_shape=(1, 4, 4), conv_layers=((3, 3),), hidden_layer_sizes=(8,),
                          dropout=0.1),
    "CNNRegressor": dict(input_shape=(1, 4, 4), conv_layers=((3, 3),), hidden_layer_sizes=(8,)),
    "RNNClassifier": dict(input_shape=(4, 4), hidden_size=5, num_layers=2, dropout=0.1),
    "RNNRegressor": dict(input_shape=(4, 4), cell="gru", hidden_size=5),
    "SequenceCNNClassifier": dict(input_shape=(4, 4), n_filters=(3, 4, 3), dropout=0.1,
                                  hidden_layer_sizes=(5,)),
    "SequenceCNNRegressor": dict(input_shape=(4, 4), architecture="resnet", n_filters=(3, 4)),
    "DBNClassifier": dict(hidden_layer_sizes=(8,), rbm_n_iter=2),
    "Autoencoder": dict(n_components=3, encoder_layer_sizes=(8,), tied_weights=True),
    "SparseAutoencoder": dict(n_components=3, encoder_layer_sizes=(8,)),
    "ContractiveAutoencoder": dict(n_components=3, encoder_layer_sizes=(6,)),
    "DenoisingAutoencoder": dict(n_components=3, encoder_layer_sizes=(8,), noise="masking"),
    "ConvAutoencoder": dict(n_components=3, filters=(3,), input_shape=(1, 4, 4)),
    "LSTMAutoencoder": dict(n_components=3, input_shape=(4, 4)),
}


def _fit(name, dtype):
    X, y = _data()
    est = getattr(fastnut, name)(**CASES[name], max_iter=3, random_state=0, dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name.endswith("Classifier"):
            est.fit(X, y)
        elif name.endswith("Regressor"):
            est.fit(X, X[:, 0] - X[:, 1])
        else:
            est.fit(X)
    return est, X


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(CASES))
def test_no_training_row_in_the_pickle(name, dtype):
    est, X = _fit(name, dtype)
    blob = pickle.dumps(est)
    for dt in (np.float32, np.float64):
        assert np.array(MARKER, dt).tobytes() not in blob, f"marker as {dt.__name__}"
        for i, row in enumerate(X.astype(dt)):
            # any 4 consecutive values of a row: a row is never stored, even cut
            assert row[:4].tobytes() not in blob, f"row {i} as {dt.__name__}"
    # the forward state is gone from the live model too, not only from the pickle
    for layer in getattr(est.network_, "layers", []):
        for attr in ("_X", "_Y", "_mask", "_idx", "_saved", "_ctx"):
            assert attr not in layer.__dict__, (type(layer).__name__, attr)
    # and the loaded model predicts
    loaded = pickle.loads(blob)
    method = "predict" if hasattr(loaded, "predict") else "transform"
    np.testing.assert_array_equal(getattr(loaded, method)(X), getattr(est, method)(X))


def _array_bytes(obj):
    total = 0
    for v in vars(obj).values():
        if isinstance(v, np.ndarray):
            total += v.nbytes
        elif isinstance(v, dict):
            total += sum(a.nbytes for a in v.values() if isinstance(a, np.ndarray))
    return total


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_mlp_pickle_is_parameters_plus_optimizer_state(solver):
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    clf = fastnut.MLPClassifier(hidden_layer_sizes=(32,), solver=solver, max_iter=5,
                                random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X[:500] / 16, y[:500])
    params = sum(p.nbytes for p in clf.network_.params.values())
    optimizer = _array_bytes(clf._optimizer)
    assert optimizer >= params  # the state warm_start/partial_fit continue from
    size = len(pickle.dumps(clf))
    assert size <= 1.5 * (params + optimizer), (size, params, optimizer)
    # still continues training after loading
    again = pickle.loads(pickle.dumps(clf))
    again.partial_fit(X[500:600] / 16, y[500:600])
    assert again.n_iter_ == clf.n_iter_ + 1
