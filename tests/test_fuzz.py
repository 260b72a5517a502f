"""Property-based fuzzing of every public layer and every public estimator.

Layers come from ``fastnut.nn.__all__`` and estimators from ``fastnut.__all__``,
so a new public name is fuzzed the day it is exported (and a layer without a
factory below fails ``test_every_public_layer_is_fuzzed``).  Each example
builds the object with possibly hostile parameters and feeds it an input of a
random shape (0 and 1 included, right or wrong), dtype, memory layout,
container (list, sparse, pandas) and special values (NaN, inf, huge), then
asserts:

* nothing crashes: the process survives (under ``tools/asan.sh`` there is no
  out-of-bounds access either) and every exception is a ValueError or
  TypeError (a RuntimeError for a layer called out of order) with a message;
* the input is never modified;
* outputs have the documented shape and are finite whenever the input was
  finite and of moderate size.

The default profile keeps the whole file to about a minute on a loaded
2-core machine; ``pytest -m slow tests/test_fuzz.py`` runs the ``fuzz-slow``
profile (several times more examples per target).
"""
import inspect
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning

import fastnut
from fastnut import nn

try:
    import pandas as pd
except ImportError:  # pragma: no cover - pandas is optional
    pd = None

COMMON = dict(deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.filter_too_much])
LAYER_EXAMPLES, ESTIMATOR_EXAMPLES = 25, 8
FAST = settings(max_examples=LAYER_EXAMPLES, **COMMON)
SLOW = settings(max_examples=8 * LAYER_EXAMPLES, **COMMON)
EST_FAST = settings(max_examples=ESTIMATOR_EXAMPLES, **COMMON)
EST_SLOW = settings(max_examples=8 * ESTIMATOR_EXAMPLES, **COMMON)

#: errors a public call may raise on bad input (and RuntimeError for a layer
#: called out of order); anything else is a failure
INPUT_ERRORS = (ValueError, TypeError)


def _assert_clear(exc):
    assert isinstance(exc, INPUT_ERRORS), f"{type(exc).__name__}: {exc}"
    assert str(exc).strip(), f"{type(exc).__name__} without a message"


# -- inputs ------------------------------------------------------------------------

DTYPES = [np.float32, np.float64, np.float16, np.int64, np.int8, np.bool_, np.complex64,
          object, "U3"]


@st.composite
def arrays(draw, shape, finite_only=False):
    """(X as the caller passes it, a copy to compare with, is it clean) for ``shape``."""
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    scale = draw(st.sampled_from([1.0, 1.0, 1.0, 1e-30, 1e30]))
    A = rng.standard_normal(shape) * scale
    special = not finite_only and A.size and draw(st.sampled_from([None] * 4 + ["nan", "inf"]))
    if special:
        A.flat[draw(st.integers(0, A.size - 1))] = np.nan if special == "nan" else np.inf
    dtype = np.float64 if finite_only else draw(st.sampled_from(DTYPES))
    if dtype == "U3":
        A = A.astype("U3")
    elif dtype is object:
        A = A.astype(object)
    elif np.dtype(dtype).kind in "biu":
        A = np.nan_to_num(A, nan=0, posinf=0, neginf=0).round().clip(-100, 100).astype(dtype)
    else:
        with np.errstate(over="ignore"):
            A = A.astype(dtype)
    layout = draw(st.sampled_from(["C", "C", "F", "strided", "readonly"]))
    if layout == "F":
        A = np.asfortranarray(A)
    elif layout == "strided" and A.ndim:
        big = np.repeat(A, 2, axis=-1)
        A = big[..., ::2]
    elif layout == "readonly":
        A = A.copy()
        A.flags.writeable = False
    containers = ["array"] * 4 + ["list", "sparse", "pandas"]
    if finite_only:  # a gradient: arrays and lists (a list of nothing has no shape)
        containers = ["array"] * 4 + (["list"] if A.size else [])
    container = draw(st.sampled_from(containers))
    X = A
    if container == "list":
        X = A.tolist()
    elif container == "sparse" and A.ndim == 2 and A.dtype.kind in "biuf" \
            and A.dtype != np.float16:
        X = sp.csr_matrix(A)
    elif container == "pandas" and pd is not None and A.ndim == 2:
        X = pd.DataFrame(A)
    clean = (not special and scale == 1.0 and A.dtype.kind in "biuf"
             and container != "sparse" and np.isfinite(A).all())
    return X, _copy(X), clean


def _copy(X):
    if sp.issparse(X):
        return X.copy()
    if pd is not None and isinstance(X, pd.DataFrame):
        return X.copy(deep=True)
    if isinstance(X, list):
        return np.array(X, dtype=object)
    return np.array(X, copy=True)


def _assert_unchanged(X, before):
    if sp.issparse(X):
        assert X.dtype == before.dtype and X.shape == before.shape, "sparse input modified"
        X, before = X.toarray(), before.toarray()
    if pd is not None and isinstance(X, pd.DataFrame):
        pd.testing.assert_frame_equal(X, before)
        return
    now = np.array(X, dtype=object) if isinstance(X, list) else np.asarray(X)
    assert now.shape == before.shape
    same = (now == before) | ((now != now) & (before != before))  # NaN == NaN here
    assert np.all(same), "input modified"


@st.composite
def perturbed(draw, shape):
    """``shape`` most of the time; else a wrong rank, a wrong size, or a 0."""
    shape = tuple(shape)
    kind = draw(st.sampled_from(["same"] * 5 + ["size", "zero", "rank+", "rank-"]))
    if kind == "size" and shape:
        i = draw(st.integers(0, len(shape) - 1))
        shape = shape[:i] + (max(1, shape[i] + draw(st.sampled_from([-1, 1, 3]))),) \
            + shape[i + 1:]
    elif kind == "zero" and shape:
        i = draw(st.integers(0, len(shape) - 1))
        shape = shape[:i] + (0,) + shape[i + 1:]
    elif kind == "rank+":
        shape = shape + (draw(st.integers(1, 3)),)
    elif kind == "rank-" and shape:
        shape = shape[:-1]
    return shape


# -- layers --------------------------------------------------------------------------

small = st.integers(1, 4)


def _hostile(draw, typical, hostile):
    return draw(st.sampled_from(typical * 3 + hostile))


@st.composite
def conv2d(draw):
    C, H, W = draw(small), draw(st.integers(1, 7)), draw(st.integers(1, 7))
    k = _hostile(draw, [1, 2, 3], [0, 9, (1, 4), 2 ** 31])
    dil = _hostile(draw, [1, 2], [5, 10_000, 65_536, 2 ** 30, -1])
    pad = _hostile(draw, [0, 1, "same", "valid"], [7, 100_000, (0, 3), -2, "full"])
    stride = _hostile(draw, [1, 2], [3, 2 ** 31 - 1, 0])
    act = draw(st.sampled_from(["identity", "relu", "tanh", "logistic"]))
    filters, bias = draw(small), draw(st.booleans())
    return (lambda: nn.Conv2D(filters, k, stride=stride, padding=pad, dilation=dil,
                              activation=act, use_bias=bias)), (C, H, W)


@st.composite
def pool(draw, cls):
    shape = (draw(small), draw(st.integers(1, 9)), draw(st.integers(1, 9)))
    size = _hostile(draw, [1, 2, 3], [0, 10, (2, 1), 2 ** 31])
    stride = _hostile(draw, [None, 1, 2], [0, 5, 2 ** 40])
    return (lambda: cls(size, stride=stride)), shape


@st.composite
def upsample(draw):
    shape = (draw(small), draw(small), draw(small))
    size = _hostile(draw, [1, 2, (1, 3)], [0, 2 ** 16, -1])
    return (lambda: nn.Upsample2D(size)), shape


@st.composite
def dense_like(draw, cls, **extra):
    units = _hostile(draw, [1, 3, 5], [0, -1])
    act = draw(st.sampled_from(["identity", "relu", "tanh", "logistic"]))
    bias = draw(st.booleans())
    extra = {k: draw(v) for k, v in extra.items()}
    return (lambda: cls(units, activation=act, use_bias=bias, **extra)), \
        (draw(st.integers(0, 6)),)


@st.composite
def recurrent(draw, cls):
    H = _hostile(draw, [1, 3], [0, 2.5])
    shape = (draw(st.sampled_from([1, 4, None])), draw(small))
    seq, bi = draw(st.booleans()), draw(st.booleans())
    return (lambda: cls(H, return_sequences=seq, bidirectional=bi)), shape


@st.composite
def conv1d(draw):
    shape = (draw(st.sampled_from([1, 5, None])), draw(small))
    k = _hostile(draw, [1, 2, 3], [0, 9, 2 ** 31])
    dil = _hostile(draw, [1, 2], [10_000, 2 ** 30, -1])
    pad = _hostile(draw, [0, 1, "same", "valid", "causal"], [100_000, -2, "full"])
    stride = _hostile(draw, [1, 2], [2 ** 31 - 1, 0])
    act = draw(st.sampled_from(["identity", "relu", "tanh"]))
    filters, bias = draw(small), draw(st.booleans())
    return (lambda: nn.Conv1D(filters, k, stride=stride, padding=pad, dilation=dil,
                              activation=act, use_bias=bias)), shape


@st.composite
def pool1d(draw, cls):
    shape = (draw(st.sampled_from([1, 6, None])), draw(small))
    size = _hostile(draw, [1, 2, 3], [0, 10, 2 ** 31])
    stride = _hostile(draw, [None, 1, 2], [0, 2 ** 40])
    return (lambda: cls(size, stride=stride)), shape


@st.composite
def batchnorm(draw, cls, shapes):
    shape = draw(shapes)
    eps = _hostile(draw, [1e-5], [0.0, -1.0])
    momentum = _hostile(draw, [0.1, None], [1.5, -0.1])
    affine = draw(st.booleans())
    return (lambda: cls(eps=eps, momentum=momentum, affine=affine)), shape


@st.composite
def embedding(draw):
    V = _hostile(draw, [3, 10], [0, -1])
    D = _hostile(draw, [1, 4], [0])
    pad = draw(st.sampled_from([None, 0, 2, 99]))
    return (lambda: nn.Embedding(V, D, padding_idx=pad)), (draw(st.sampled_from([1, 4, None])),)


LAYERS = {
    "Dense": lambda: dense_like(nn.Dense),
    "ContractiveDense": lambda: dense_like(
        nn.ContractiveDense, contractive_weight=st.sampled_from([0.1, -1.0])),
    "Activation": lambda: st.builds(
        lambda a, shape: ((lambda: nn.Activation(a)), shape),
        st.sampled_from(["relu", "tanh", "logistic", "identity", "softmax"]),
        st.lists(small, min_size=1, max_size=3).map(tuple)),
    "Dropout": lambda: st.builds(lambda r, s: ((lambda: nn.Dropout(r)), s),
                                 st.sampled_from([0.0, 0.5, 0.9, 1.0, -0.1]),
                                 st.lists(small, min_size=1, max_size=3).map(tuple)),
    "Corruption": lambda: st.builds(
        lambda k, lv, s: ((lambda: nn.Corruption(k, lv)), s),
        st.sampled_from(["gaussian", "masking", "salt"]), st.sampled_from([0.0, 0.3, 1.0, -1]),
        st.lists(small, min_size=1, max_size=2).map(tuple)),
    "SparsityPenalty": lambda: st.builds(
        lambda k, t, s: ((lambda: nn.SparsityPenalty(k, target=t)), s),
        st.sampled_from(["kl", "l1", "l2"]), st.sampled_from([0.05, 0.5, 0.0, 1.5]),
        st.tuples(small)),
    "Flatten": lambda: st.builds(lambda s: ((lambda: nn.Flatten()), s),
                                 st.lists(small, min_size=1, max_size=3).map(tuple)),
    "Reshape": lambda: st.builds(lambda t, s: ((lambda: nn.Reshape(t)), s),
                                 st.sampled_from([(2, 3), (6,), (3, 2, 1), (4,)]),
                                 st.sampled_from([(6,), (2, 3), (4,)])),
    "RepeatSteps": lambda: st.builds(lambda T, s: ((lambda: nn.RepeatSteps(T)), s),
                                     st.sampled_from([1, 3, 0]), st.tuples(small)),
    "TimeDistributedDense": lambda: st.builds(
        lambda u, s: ((lambda: nn.TimeDistributedDense(u)), s),
        st.sampled_from([1, 3, 0]), st.tuples(st.sampled_from([1, 3, None]), small)),
    "SimpleRNN": lambda: recurrent(nn.SimpleRNN),
    "LSTM": lambda: recurrent(nn.LSTM),
    "GRU": lambda: recurrent(nn.GRU),
    "Conv2D": conv2d,
    "MaxPool2D": lambda: pool(nn.MaxPool2D),
    "AvgPool2D": lambda: pool(nn.AvgPool2D),
    "GlobalAvgPool2D": lambda: st.builds(lambda s: ((lambda: nn.GlobalAvgPool2D()), s),
                                         st.tuples(small, small, small)),
    "Upsample2D": upsample,
    "Sequential": lambda: st.sampled_from([
        ((lambda: nn.Sequential([nn.Conv2D(2, 3, padding=1, activation="relu"),
                                 nn.MaxPool2D(2), nn.Flatten(), nn.Dense(3)])), (1, 4, 4)),
        ((lambda: nn.Sequential([nn.Dropout(0.3), nn.LSTM(3, return_sequences=True),
                                 nn.GRU(2)])), (None, 2)),
        ((lambda: nn.Sequential([nn.Dense(4, "tanh"), nn.Dense(2)])), (3,)),
        ((lambda: nn.Sequential([])), (3,)),
    ]),
    "EncoderDecoder": lambda: st.sampled_from([
        ((lambda: _tied()), (5,)),
        ((lambda: nn.EncoderDecoder([nn.Corruption("masking", 0.2), nn.LSTM(3)],
                                    [nn.RepeatSteps(4), nn.LSTM(3, return_sequences=True),
                                     nn.TimeDistributedDense(2)])), (None, 2)),
        ((lambda: nn.EncoderDecoder([nn.Conv2D(2, 3, padding=1), nn.Flatten(), nn.Dense(3)],
                                    [nn.Dense(32), nn.Reshape((2, 4, 4)),
                                     nn.Conv2D(1, 3, padding="same")])), (1, 4, 4)),
    ]),
    "TiedDense": lambda: st.just(((lambda: _tied()), (5,))),
    "ContractiveEncoder": lambda: st.builds(
        lambda w, s: ((lambda: nn.ContractiveEncoder([nn.Dense(3, "tanh"),
                                                      nn.Dense(2, "logistic")], w)), s),
        st.sampled_from([0.1, 0.0, -1.0]), st.tuples(st.integers(1, 5))),
    "Conv1D": conv1d,
    "MaxPool1D": lambda: pool1d(nn.MaxPool1D),
    "AvgPool1D": lambda: pool1d(nn.AvgPool1D),
    "GlobalAvgPool1D": lambda: st.builds(lambda s: ((lambda: nn.GlobalAvgPool1D()), s),
                                         st.tuples(st.sampled_from([1, 4, None]), small)),
    "GlobalMaxPool1D": lambda: st.builds(lambda s: ((lambda: nn.GlobalMaxPool1D()), s),
                                         st.tuples(st.sampled_from([1, 4, None]), small)),
    "BatchNorm1D": lambda: batchnorm(nn.BatchNorm1D, st.sampled_from(
        [(3,), (1,), (4, 2), (None, 3)])),
    "BatchNorm2D": lambda: batchnorm(nn.BatchNorm2D, st.tuples(small, small, small)),
    "Embedding": embedding,
    "Residual": lambda: st.sampled_from([
        ((lambda: nn.Residual([nn.Dense(3, "tanh"), nn.Dense(3)])), (3,)),
        ((lambda: nn.Residual([nn.Dense(2)], shortcut="projection")), (3,)),
        ((lambda: nn.Residual([nn.Conv2D(2, 3, padding=1), nn.BatchNorm2D()],
                              shortcut="projection")), (1, 4, 4)),
        ((lambda: nn.Residual([nn.Conv1D(2, 3, padding="same")], shortcut="projection")),
         (None, 2)),
    ]),
}


def _tied():
    enc = nn.Dense(3, "logistic")
    return nn.EncoderDecoder([enc], [nn.TiedDense(enc, "identity")])


def _public_layers():
    return sorted(name for name in nn.__all__
                  if inspect.isclass(getattr(nn, name)) and issubclass(getattr(nn, name), nn.Layer)
                  and getattr(nn, name) is not nn.Layer)


def test_every_public_layer_is_fuzzed():
    assert set(_public_layers()) <= set(LAYERS), set(_public_layers()) - set(LAYERS)


def _check_out_shape(layer, Y, X):
    out = tuple(layer.output_shape)
    if layer.elementwise:
        assert Y.shape == X.shape
    elif layer.variable_axes or -1 in layer.input_shape or isinstance(layer, nn.RepeatSteps):
        # a free time axis follows the input's (or n_steps)
        assert Y.shape[0] == X.shape[0] and Y.ndim == len(out) + 1 and Y.shape[-1] == out[-1]
    else:
        assert Y.shape == (X.shape[0],) + out, (Y.shape, out, X.shape)


def _fuzz_layer(name, data):
    make, shape = data.draw(LAYERS[name](), label="layer")
    try:
        layer = make()
        layer.build(shape, random_state=data.draw(st.integers(0, 9)),
                    dtype=data.draw(st.sampled_from([np.float32, np.float64])))
    except (ValueError, TypeError) as exc:
        _assert_clear(exc)
        return
    per_sample = tuple(3 if s < 0 else s for s in layer.input_shape)
    n = data.draw(st.sampled_from([1, 2, 3, 0, 5]), label="n")
    X, before, clean = data.draw(arrays((n,) + data.draw(perturbed(per_sample))), label="X")
    training = data.draw(st.booleans(), label="training")
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            Y = layer.forward(X, training=training)
    except INPUT_ERRORS as exc:
        _assert_clear(exc)
        _assert_unchanged(X, before)
        return
    _assert_unchanged(X, before)
    Xa = np.asarray(X.toarray() if sp.issparse(X) else X)
    assert isinstance(Y, np.ndarray) and Y.dtype == layer.dtype
    _check_out_shape(layer, Y, Xa)
    if clean and Y.size:
        assert np.isfinite(Y).all(), f"{name}: non-finite output for a finite input"
    if not training:
        with pytest.raises(RuntimeError, match="training=True"):
            layer.backward(np.ones(Y.shape, layer.dtype))
        return
    dshape = data.draw(perturbed(Y.shape), label="dY shape")
    dY, dbefore, _ = data.draw(arrays(dshape, finite_only=True), label="dY")
    try:
        dX = layer.backward(dY)
    except INPUT_ERRORS as exc:
        _assert_clear(exc)
        assert dshape != Y.shape, f"{name}: right dY refused: {exc}"
        return
    except RuntimeError as exc:  # e.g. an activity penalty left nothing to differentiate
        _assert_clear_runtime(exc)
        return
    assert dshape == Y.shape, f"{name}: dY of shape {dshape} accepted for output {Y.shape}"
    if dX is not None:
        assert dX.shape == Xa.shape
        if clean and not np.isnan(Y).any():
            assert np.isfinite(dX).all(), f"{name}: non-finite input gradient"


def _assert_clear_runtime(exc):
    assert "backward" in str(exc) or "forward" in str(exc), str(exc)


@pytest.mark.parametrize("name", _public_layers())
@given(data=st.data())
@FAST
def test_fuzz_layer(name, data):
    _fuzz_layer(name, data)


@pytest.mark.slow
@pytest.mark.parametrize("name", _public_layers())
@given(data=st.data())
@SLOW
def test_fuzz_layer_slow(name, data):
    _fuzz_layer(name, data)


# -- estimators ----------------------------------------------------------------------

#: tiny models and few epochs: the fuzzer fits hundreds of times
EST_PARAMS = {
    "MLPClassifier": dict(hidden_layer_sizes=(4,), max_iter=3),
    "MLPRegressor": dict(hidden_layer_sizes=(4,), max_iter=3),
    "CNNClassifier": dict(input_shape=(1, 1, -1), conv_layers=((2, 1),),
                          hidden_layer_sizes=(4,), max_iter=2),
    "CNNRegressor": dict(input_shape=(1, 1, -1), conv_layers=((2, 1),),
                         hidden_layer_sizes=(4,), max_iter=2),
    "RNNClassifier": dict(hidden_size=3, max_iter=2),
    "RNNRegressor": dict(hidden_size=3, max_iter=2),
    "SequenceCNNClassifier": dict(n_filters=(2, 2, 2), kernel_sizes=(3, 2, 1), max_iter=2),
    "SequenceCNNRegressor": dict(architecture="resnet", n_filters=(2,), kernel_sizes=(2,),
                                 max_iter=2),
    "SelfOrganizingMap": dict(n_rows=2, n_cols=3, max_iter=2),
    "BernoulliRBM": dict(n_components=3, n_iter=2),
    "GaussianBernoulliRBM": dict(n_components=3, n_iter=2),
    "DeepBeliefNetwork": dict(hidden_layer_sizes=(3, 2), n_iter=2),
    "DBNClassifier": dict(hidden_layer_sizes=(3,), rbm_n_iter=2, max_iter=2),
    "DeepBoltzmannMachine": dict(hidden_layer_sizes=(3, 2), n_iter=2),
    "Autoencoder": dict(encoder_layer_sizes=(3,), max_iter=2),
    "SparseAutoencoder": dict(encoder_layer_sizes=(3,), max_iter=2),
    "ContractiveAutoencoder": dict(max_iter=2),
    "DenoisingAutoencoder": dict(encoder_layer_sizes=(3,), max_iter=2),
    "ConvAutoencoder": dict(input_shape=(1, 1, -1), filters=(2,), max_iter=2),
    "LSTMAutoencoder": dict(n_components=2, max_iter=2),
    "NeuralNetClassifier": dict(module=[nn.Dense(4, "relu")], max_iter=3),
    "NeuralNetRegressor": dict(module=[nn.Dense(4, "relu")], max_iter=3),
    # text in: numeric arrays are refused, one column of strings is documents
    "SequenceTokenizer": dict(),
}

METHODS = ("predict", "predict_proba", "decision_function", "transform", "score_samples",
           "inverse_transform")


def _public_estimators():
    return sorted(name for name in fastnut.__all__
                  if inspect.isclass(getattr(fastnut, name))
                  and issubclass(getattr(fastnut, name), BaseEstimator))


def test_every_public_estimator_is_fuzzed():
    assert set(_public_estimators()) <= set(EST_PARAMS)


def _valid_params(est, params):
    """Only the parameters this estimator has (families differ in names)."""
    names = est.get_params()
    return {k: v for k, v in params.items() if k in names}


def _fuzz_estimator(name, data):
    cls = getattr(fastnut, name)
    est = cls(**_valid_params(cls(), EST_PARAMS[name]))
    n = data.draw(st.sampled_from([6, 8, 12, 1, 2, 0]), label="n")
    d = data.draw(st.sampled_from([3, 4, 1, 0]), label="d")
    X, before, clean = data.draw(arrays((n, d)), label="X")
    y = None
    if issubclass(cls, ClassifierMixin):
        kind = data.draw(st.sampled_from(["int", "str", "one"]))
        labels = {"int": [0, 1, 2], "str": ["a", "b", "c"], "one": [7]}[kind]
        y = np.array([labels[i % len(labels)] for i in range(n)])
    elif issubclass(cls, RegressorMixin):
        y = np.random.default_rng(n).standard_normal(n)
    y_before = None if y is None else y.copy()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", UserWarning)
            est.fit(X, y)
    except INPUT_ERRORS as exc:
        _assert_clear(exc)
        _assert_unchanged(X, before)
        return
    _assert_unchanged(X, before)
    if y is not None:
        np.testing.assert_array_equal(y, y_before)
    # predict on the same data and on fresh, possibly wrong, input
    m = data.draw(st.sampled_from([1, 3, 0]), label="m")
    d2 = data.draw(st.sampled_from([d, d, d + 1]), label="d2")
    X2, before2, clean2 = data.draw(arrays((m, d2)), label="X2")
    for method in METHODS:
        if not hasattr(est, method):
            continue
        for Xp, bp, ok in ((X, before, clean), (X2, before2, clean2 and d2 == d)):
            if method == "inverse_transform":
                if not hasattr(est, "transform"):
                    continue
                try:
                    Xp = est.transform(Xp)
                except INPUT_ERRORS:
                    continue
                bp = Xp.copy()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)
                    out = getattr(est, method)(Xp)
            except INPUT_ERRORS as exc:
                _assert_clear(exc)
                _assert_unchanged(Xp, bp)
                continue
            _assert_unchanged(Xp, bp)
            if isinstance(out, list):  # ragged rows (SequenceTokenizer.inverse_transform)
                continue
            out = np.asarray(out)
            if ok and out.dtype.kind == "f" and method != "score_samples":
                assert np.isfinite(out).all(), f"{name}.{method}: non-finite output"


@pytest.mark.parametrize("name", _public_estimators())
@given(data=st.data())
@EST_FAST
def test_fuzz_estimator(name, data):
    _fuzz_estimator(name, data)


@pytest.mark.slow
@pytest.mark.parametrize("name", _public_estimators())
@given(data=st.data())
@EST_SLOW
def test_fuzz_estimator_slow(name, data):
    _fuzz_estimator(name, data)
