"""ONNX export (fastnut.onnx): onnxruntime must give what fastnut gives.

Every estimator with a fixed inference graph is converted and run in
onnxruntime on random inputs (a batch and a batch of one; NaN-padded
variable-length sequences for the recurrent models); the outputs must match
fastnut's within 1e-5 in float32.
"""
import subprocess
import sys
import warnings

import numpy as np
import pytest

ort = pytest.importorskip(
    "onnxruntime", reason="ONNX export tests need the onnx extra: pip install 'fastnut[onnx]'")
skl2onnx = pytest.importorskip("skl2onnx", reason="needs the onnx extra")

import fastnut  # noqa: E402
import fastnut.onnx as fonnx  # noqa: E402
from fastnut import nn  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

TOL = dict(rtol=1e-5, atol=1e-5)


def session(onx):
    return ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])


def run(onx, X):
    s = session(onx)
    return s.run(None, {s.get_inputs()[0].name: X})


def fit(est, X, y=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X) if y is None else est.fit(X, y)


def rng(seed=0):
    return np.random.default_rng(seed)


def batches(X):
    """The whole batch and a batch of one."""
    return [X, X[:1]]


# -- classifiers and regressors ----------------------------------------------------------

def _tab(n=40, d=6, seed=0):
    return rng(seed).normal(size=(n, d)).astype(np.float32)


def _images(n=24, shape=(2, 7, 6), seed=0):
    return rng(seed).normal(size=(n, *shape)).astype(np.float32)


def _padded(n=20, T=7, F=3, seed=0):
    """Sequences of lengths 2..T, NaN-padded at the end."""
    r = rng(seed)
    X = r.normal(size=(n, T, F)).astype(np.float32)
    lengths = r.integers(2, T + 1, n)
    lengths[0] = T
    for i, L in enumerate(lengths):
        X[i, L:] = np.nan
    return X


def _token_ids(n=30, T=6, seed=0):
    """Float token ids 1..9 (what a checked estimator input carries), some
    sequences ending in runs of the padding id 0, one with a 0 inside."""
    X = rng(seed).integers(1, 10, (n, T)).astype(np.float32)
    X[:5, 4:] = 0
    X[5, 2] = 0
    return X


def _classes(n, k, seed=1):
    y = np.arange(n) % k
    rng(seed).shuffle(y)
    return y


CLASSIFIER_CASES = {
    "mlp-multiclass": lambda: (fastnut.MLPClassifier((7, 5), max_iter=5, random_state=0),
                               _tab(), _classes(40, 3)),
    "mlp-binary-str-logistic": lambda: (
        fastnut.MLPClassifier((6,), activation="logistic", max_iter=5, random_state=0),
        _tab(), np.array(["no", "yes"])[_classes(40, 2)]),
    "mlp-multilabel-tanh": lambda: (
        fastnut.MLPClassifier((6,), activation="tanh", max_iter=5, random_state=0),
        _tab(), (rng(2).random((40, 3)) > 0.5).astype(int)),
    "mlp-lbfgs-float64": lambda: (
        fastnut.MLPClassifier((5,), solver="lbfgs", max_iter=20, random_state=0,
                              dtype=np.float64), _tab(), _classes(40, 4)),
    "cnn-nchw-max": lambda: (
        fastnut.CNNClassifier(conv_layers=((4, 3), (3, (2, 3))), hidden_layer_sizes=(5,),
                              dropout=0.2, max_iter=2, random_state=0), _images(), _classes(24, 3)),
    "cnn-flat-avg-valid-binary": lambda: (
        fastnut.CNNClassifier(input_shape=(2, 7, 6), conv_layers=((3, 2),), pool="avg",
                              padding="valid", activation="tanh", max_iter=2, random_state=0),
        _images().reshape(24, -1), _classes(24, 2)),
    "cnn-nhw-nopool": lambda: (
        fastnut.CNNClassifier(conv_layers=((3, 3),), pool=None, padding=1,
                              hidden_layer_sizes=(), max_iter=2, random_state=0),
        _images(shape=(5, 5)), _classes(24, 3)),
    "cnn-batchnorm-residual": lambda: (
        fastnut.CNNClassifier(conv_layers=((4, 3), (4, 3), (3, 3)), batch_norm=True,
                              residual=True, hidden_layer_sizes=(5,), max_iter=2,
                              random_state=0), _images(), _classes(24, 3)),
    "rnn-lstm-bi-stacked": lambda: (
        fastnut.RNNClassifier("lstm", hidden_size=5, num_layers=2, bidirectional=True,
                              dropout=0.2, hidden_layer_sizes=(4,), max_iter=2,
                              random_state=0),
        _padded(), _classes(20, 3)),
    "rnn-gru-binary": lambda: (
        fastnut.RNNClassifier("gru", hidden_size=4, max_iter=2, random_state=0),
        _padded(), _classes(20, 2)),
    "seqcnn-fcn-padded": lambda: (
        fastnut.SequenceCNNClassifier(n_filters=(4, 5, 3), max_iter=2, random_state=0),
        _padded(), _classes(20, 3)),
    "seqcnn-resnet-padded-binary-dense-head": lambda: (
        fastnut.SequenceCNNClassifier("resnet", n_filters=(4, 4), kernel_sizes=(3, 2),
                                      hidden_layer_sizes=(5,), max_iter=2, random_state=0),
        _padded(), _classes(20, 2)),
    "dbn-classifier": lambda: (
        fastnut.DBNClassifier((6, 5), rbm_n_iter=2, max_iter=3, random_state=0),
        rng(0).random((40, 6)).astype(np.float32), _classes(40, 3)),
    "neuralnet-default": lambda: (
        fastnut.NeuralNetClassifier(module__hidden_layer_sizes=(6,), max_iter=3,
                                    random_state=0), _tab(), _classes(40, 3)),
    "neuralnet-conv1d-batchnorm-gap": lambda: (
        fastnut.NeuralNetClassifier(
            [nn.Reshape((4, 3)), nn.Conv1D(4, 3, padding="same", stride=2),
             nn.BatchNorm1D(activation="relu"), nn.GlobalAvgPool1D()],
            max_iter=3, random_state=0), _tab(d=12), _classes(40, 3)),
    "neuralnet-conv2d-batchnorm-residual-binary": lambda: (
        fastnut.NeuralNetClassifier(
            [nn.Reshape((3, 2, 2)), nn.Conv2D(4, 3, padding=1), nn.BatchNorm2D(activation="relu"),
             nn.Residual([nn.Conv2D(4, 3, padding=1), nn.BatchNorm2D()]),
             nn.Residual([nn.Conv2D(2, 1)], shortcut="projection"), nn.Flatten()],
            max_iter=3, random_state=0), _tab(d=12), _classes(40, 2)),
    "neuralnet-embedding-lstm": lambda: (
        fastnut.NeuralNetClassifier([nn.Embedding(10, 4, padding_idx=0), nn.LSTM(3)],
                                    max_iter=3, random_state=0), _token_ids(), _classes(30, 3)),
    "neuralnet-int-ids-embedding-conv1d-gmp": lambda: (
        fastnut.NeuralNetClassifier([nn.Embedding(10, 4, padding_idx=0),
                                     nn.Conv1D(3, 2, padding="same"), nn.GlobalMaxPool1D()],
                                    max_iter=3, random_state=0),
        _token_ids().astype(np.int64), _classes(30, 2)),
}


@pytest.mark.parametrize("case", CLASSIFIER_CASES)
def test_classifier_matches_onnxruntime(case):
    model, X, y = CLASSIFIER_CASES[case]()
    fit(model, X, y)
    onx = fonnx.to_onnx(model, X[:2])
    for Xb in batches(X):
        label, proba = run(onx, Xb)
        np.testing.assert_allclose(proba, model.predict_proba(Xb), **TOL)
        np.testing.assert_array_equal(label, model.predict(Xb))


REGRESSOR_CASES = {
    "mlp-identity-2-targets": lambda: (
        fastnut.MLPRegressor(hidden_layer_sizes=(6,), max_iter=5, random_state=0),
        _tab(), rng(3).normal(size=(40, 2))),
    "mlp-poisson": lambda: (
        fastnut.MLPRegressor(loss="poisson", hidden_layer_sizes=(5,), activation="identity",
                             max_iter=5,
                             random_state=0), _tab(), rng(3).poisson(2.0, 40)),
    "cnn-regressor": lambda: (
        fastnut.CNNRegressor(conv_layers=((3, 3),), pool_size=3, hidden_layer_sizes=(4,),
                             max_iter=2, random_state=0), _images(), rng(3).normal(size=24)),
    "rnn-rnn-bi": lambda: (
        fastnut.RNNRegressor("rnn", hidden_size=4, bidirectional=True, max_iter=2,
                             random_state=0), _padded(), rng(3).normal(size=20)),
    "rnn-lstm-2d": lambda: (
        fastnut.RNNRegressor("lstm", hidden_size=4, max_iter=2, random_state=0),
        _padded(F=1)[:, :, 0], rng(3).normal(size=20)),
    "rnn-gru-flat": lambda: (
        fastnut.RNNRegressor("gru", hidden_size=3, num_layers=2, input_shape=(7, 3),
                             max_iter=2, random_state=0),
        _padded().reshape(20, -1), rng(3).normal(size=(20, 2))),
    "seqcnn-resnet-flat": lambda: (
        fastnut.SequenceCNNRegressor("resnet", n_filters=(3, 4), kernel_sizes=(3, 3),
                                     input_shape=(7, 3), max_iter=2, random_state=0),
        _padded().reshape(20, -1), rng(3).normal(size=(20, 2))),
    "seqcnn-fcn-2d": lambda: (
        fastnut.SequenceCNNRegressor(n_filters=(3, 3, 3), max_iter=2, random_state=0),
        _padded(F=1)[:, :, 0], rng(3).normal(size=20)),
    "neuralnet-default": lambda: (
        fastnut.NeuralNetRegressor(module__hidden_layer_sizes=(5,), max_iter=3, random_state=0),
        _tab(), rng(3).normal(size=(40, 2))),
    "neuralnet-poisson-conv1d-pools": lambda: (
        fastnut.NeuralNetRegressor(
            [nn.Reshape((6, 2)), nn.Conv1D(3, 2, padding="causal", dilation=2),
             nn.MaxPool1D(2), nn.AvgPool1D(2, stride=1, padding=1), nn.GlobalMaxPool1D()],
            loss="poisson", max_iter=3, random_state=0), _tab(d=12), rng(3).poisson(2.0, 40)),
    "neuralnet-embedding-gru": lambda: (
        fastnut.NeuralNetRegressor([nn.Embedding(10, 3, padding_idx=0), nn.GRU(3)],
                                   max_iter=3, random_state=0), _token_ids(),
        rng(3).normal(size=30)),
    "neuralnet-callable-residual": lambda: (
        fastnut.NeuralNetRegressor(_residual_module, module__width=5, max_iter=3,
                                   random_state=0), _tab(), rng(3).normal(size=(40, 2))),
}


def _residual_module(input_shape, n_outputs, random_state, width=3):
    """A callable module whose network is one Residual block (not a Sequential)."""
    return nn.Residual([nn.Dense(width, activation="relu"), nn.Dense(n_outputs)],
                       shortcut="projection")


@pytest.mark.parametrize("case", REGRESSOR_CASES)
def test_regressor_matches_onnxruntime(case):
    model, X, y = REGRESSOR_CASES[case]()
    fit(model, X, y)
    onx = fonnx.to_onnx(model, X[:2])
    for Xb in batches(X):
        (pred,) = run(onx, Xb)
        assert pred.shape == (len(Xb), model.n_outputs_)
        np.testing.assert_allclose(pred.reshape(model.predict(Xb).shape), model.predict(Xb),
                                   **TOL)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_rnn_variable_length_and_any_number_of_steps(cell):
    """The graph reads lengths from the NaN pattern, for any T at predict time."""
    model = fit(fastnut.RNNClassifier(cell, hidden_size=4, bidirectional=True, max_iter=2,
                                      random_state=0), _padded(), _classes(20, 3))
    onx = fonnx.to_onnx(model, _padded()[:1])
    for T in (3, 7, 11):
        X = _padded(n=9, T=T, seed=T)
        label, proba = run(onx, X)
        np.testing.assert_allclose(proba, model.predict_proba(X), **TOL)
        np.testing.assert_array_equal(label, model.predict(X))
    # padding changes nothing: a sequence alone, unpadded, gives the same
    X = _padded(n=9, T=7, seed=4)
    short = int((~np.isnan(X[1, :, 0])).sum())
    _, p_alone = run(onx, X[1:2, :short])
    np.testing.assert_allclose(p_alone[0], run(onx, X)[1][1], **TOL)


# -- autoencoders ------------------------------------------------------------------------

AUTOENCODER_CASES = {
    "dense-tied-bce": lambda: (
        fastnut.Autoencoder(3, encoder_layer_sizes=(5,), tied_weights=True,
                            out_activation="logistic", loss="binary_cross_entropy",
                            max_iter=3, random_state=0), rng(0).random((30, 6), np.float32)),
    "dense-untied": lambda: (
        fastnut.Autoencoder(2, encoder_layer_sizes=(5, 4), decoder_layer_sizes=(3,),
                            activation="tanh", max_iter=3, random_state=0), _tab(30)),
    "sparse": lambda: (fastnut.SparseAutoencoder(4, encoder_layer_sizes=(5,), max_iter=3,
                                                 random_state=0), _tab(30)),
    "contractive": lambda: (fastnut.ContractiveAutoencoder(3, max_iter=3, random_state=0),
                            _tab(30)),
    "contractive-deep": lambda: (
        fastnut.ContractiveAutoencoder(3, encoder_layer_sizes=(5,), max_iter=3,
                                       random_state=0), _tab(30)),
    "denoising": lambda: (fastnut.DenoisingAutoencoder(3, encoder_layer_sizes=(5,),
                                                       noise="masking", max_iter=3,
                                                       random_state=0), _tab(30)),
    "conv-odd": lambda: (fastnut.ConvAutoencoder(3, filters=(3, 2), max_iter=2,
                                                 random_state=0), _images(12, (2, 6, 5))),
    "conv-flat": lambda: (fastnut.ConvAutoencoder(3, filters=(2,), max_iter=2,
                                                  random_state=0),
                          _images(12, (1, 6, 6)).reshape(12, -1)),
    "lstm": lambda: (fastnut.LSTMAutoencoder(3, decoder_hidden_size=4, max_iter=2,
                                             random_state=0), _padded(F=2)),
}


@pytest.mark.parametrize("case", AUTOENCODER_CASES)
def test_autoencoder_transform_and_inverse_transform(case):
    model, X = AUTOENCODER_CASES[case]()
    fit(model, X)
    onx = fonnx.to_onnx(model, X[:2])
    codes = model.transform(X)
    onx_inv = fonnx.to_onnx(model, codes[:2], inverse=True)
    for Xb, Cb in zip(batches(X), batches(codes)):
        (c,) = run(onx, Xb)
        np.testing.assert_allclose(c, model.transform(Xb), **TOL)
        (r,) = run(onx_inv, Cb)
        expected = model.inverse_transform(Cb)
        assert r.shape == expected.shape
        np.testing.assert_allclose(r, expected, **TOL)


# -- self-organizing map, Boltzmann machines ---------------------------------------------

@pytest.mark.parametrize("topology, metric", [("rectangular", "euclidean"),
                                              ("hexagonal", "cosine"),
                                              ("rectangular", "manhattan")])
def test_som_predict_and_transform(topology, metric):
    X = _tab(80, 4)
    som = fit(fastnut.SelfOrganizingMap(4, 5, topology=topology, metric=metric, max_iter=3,
                                        random_state=0), X)
    onx = fonnx.to_onnx(som, X[:1])
    Xt = _tab(60, 4, seed=5)
    for Xb in batches(Xt):
        bmu, coords = run(onx, Xb)
        np.testing.assert_array_equal(bmu, som.predict(Xb))
        assert coords.dtype == np.float64
        np.testing.assert_array_equal(coords, som.transform(Xb))


def test_som_inside_a_pipeline():
    X = _tab(80, 4)
    pipe = fit(make_pipeline(fastnut.SelfOrganizingMap(3, 4, max_iter=3, random_state=0),
                             fastnut.MLPRegressor(hidden_layer_sizes=(4,), max_iter=5,
                                                  random_state=0)),
               X, rng(2).normal(size=80))
    onx = skl2onnx.to_onnx(pipe, X[:1],
                           options={fastnut.SelfOrganizingMap: {"transform_only": True}})
    (pred,) = run(onx, X)
    np.testing.assert_allclose(pred.ravel(), pipe.predict(X), **TOL)


TRANSFORMER_CASES = {
    "bernoulli-rbm": lambda: fastnut.BernoulliRBM(5, n_iter=2, random_state=0),
    "gaussian-rbm": lambda: fastnut.GaussianBernoulliRBM(5, n_iter=2, random_state=0),
    "dbn": lambda: fastnut.DeepBeliefNetwork((5, 4), n_iter=2, random_state=0),
    "dbm": lambda: fastnut.DeepBoltzmannMachine((5, 4, 3), n_iter=2, n_mean_field=4,
                                                random_state=0),
}


@pytest.mark.parametrize("case", TRANSFORMER_CASES)
def test_boltzmann_transform(case):
    model = TRANSFORMER_CASES[case]()
    X = rng(0).random((40, 6)).astype(np.float32)
    fit(model, X)
    onx = fonnx.to_onnx(model, X[:1])
    Xt = rng(7).normal(0.5, 0.6, (30, 6)).astype(np.float32)  # some outside [0, 1]: clipped
    for Xb in batches(Xt):
        (h,) = run(onx, Xb)
        np.testing.assert_allclose(h, model.transform(Xb), **TOL)


# -- layers, pipelines, ZipMap, files ----------------------------------------------------

def test_network_to_onnx_layers_stride_dilation_padding():
    """Layers the estimators do not expose: stride, dilation, asymmetric 'same'
    padding, strided pooling, global pooling, upsampling."""
    net = nn.Sequential([
        nn.Conv2D(4, (3, 2), stride=2, padding="same", dilation=(2, 1), activation="relu"),
        nn.Upsample2D((2, 3)),
        nn.MaxPool2D(3, stride=2),
        nn.Conv2D(3, 2, stride=(1, 2), padding=(1, 0), activation="logistic"),
        nn.AvgPool2D((2, 1), stride=1),
        nn.Activation("tanh"),
        nn.GlobalAvgPool2D(),
        nn.Dense(2),
    ])
    net.build((2, 9, 9), random_state=0)   # 'same' pads W by (0, 1): asymmetric
    X = _images(5, (2, 9, 9))
    onx = fonnx.network_to_onnx(net)
    for Xb in batches(X):
        (Y,) = run(onx, Xb)
        np.testing.assert_allclose(Y, net.forward(Xb), **TOL)


def _with_running_stats(net, seed=0):
    """Non-trivial running statistics in every BatchNorm layer of ``net``."""
    r = rng(seed)
    for layer in _walk(net):
        if isinstance(layer, (nn.BatchNorm1D, nn.BatchNorm2D)):
            C = len(layer.buffers["running_mean"])
            layer.buffers["running_mean"][:] = r.normal(size=C)
            layer.buffers["running_var"][:] = r.random(C) + 0.5
            if layer.affine:
                layer.params["weight"][:] = r.normal(size=C)
                layer.params["bias"][:] = r.normal(size=C)
    return net


def _walk(layer):
    yield layer
    for child in getattr(layer, "layers", ()):
        yield from _walk(child)
    if isinstance(layer, nn.Residual):
        yield from _walk(layer.body)
        if layer.shortcut_layer is not None:
            yield from _walk(layer.shortcut_layer)


SEQUENCE_PADDINGS = ["same", "valid", "causal", 1]


@pytest.mark.parametrize("padding", SEQUENCE_PADDINGS)
@pytest.mark.parametrize("stride, dilation", [(1, 1), (2, 1), (1, 2), (3, 1)])
def test_sequence_layers_on_nan_padded_sequences(padding, stride, dilation):
    """Conv1D, BatchNorm1D, 1-D pooling and Residual keep fastnut's masking:
    padded steps never reach valid outputs, outputs past a sequence's end are
    NaN, global pooling covers the valid steps only."""
    X = _padded(n=6, T=11, seed=1)
    X[1, 5:] = np.nan  # length 5: short for the widest windows but enough
    for pool in (nn.MaxPool1D(2), nn.AvgPool1D(3, stride=2, padding=1),
                 nn.AvgPool1D(2, padding="same"), nn.MaxPool1D(3, stride=1, padding="causal")):
        for head in (nn.GlobalMaxPool1D(), nn.GlobalAvgPool1D(), None):
            layers = [nn.Conv1D(4, 3, padding=padding, stride=stride, dilation=dilation,
                                activation="relu"),
                      nn.BatchNorm1D(activation="relu"), pool,
                      nn.Residual([nn.Conv1D(5, 1)], shortcut="projection")]
            net = nn.Sequential(layers + ([head] if head is not None else []))
            try:
                net.build((11, 3), random_state=0)
                ref = net.forward(X)
            except ValueError as exc:  # windows fastnut refuses for the short sequences
                assert "too short" in str(exc)
                continue
            _with_running_stats(net)
            onx = fonnx.network_to_onnx(net)
            for Xb in batches(X):
                (Y,) = run(onx, Xb)
                np.testing.assert_allclose(Y, net.forward(Xb), equal_nan=True, **TOL)


@pytest.mark.parametrize("opset", [13, 15])
def test_sequence_layers_in_older_opsets(opset):
    net = nn.Sequential([nn.Conv1D(4, 3, padding="same", stride=2),
                         nn.BatchNorm1D(activation="relu"), nn.MaxPool1D(2, padding=1),
                         nn.AvgPool1D(2, stride=1), nn.GlobalMaxPool1D(), nn.Dense(2)])
    net.build((11, 3), random_state=0)
    _with_running_stats(net)
    X = _padded(n=6, T=11, seed=3)
    X[:, :6] = np.nan_to_num(X[:, :6], nan=0.5)  # lengths 6..11: long enough for the pools
    (Y,) = run(fonnx.network_to_onnx(net, target_opset=opset), X)
    np.testing.assert_allclose(Y, net.forward(X), **TOL)


def test_sequence_layers_after_a_recurrent_layer():
    """Lengths travel from an LSTM (zeros at padded steps) to Conv1D and pooling."""
    net = nn.Sequential([nn.Conv1D(4, 3, padding="same"), nn.AvgPool1D(2),
                         nn.LSTM(3, return_sequences=True), nn.Conv1D(2, 2, padding="causal"),
                         nn.GlobalAvgPool1D(), nn.Dense(2)])
    net.build((11, 3), random_state=0)
    X = _padded(n=6, T=11, seed=2)
    onx = fonnx.network_to_onnx(net)
    for Xb in batches(X):
        (Y,) = run(onx, Xb)
        np.testing.assert_allclose(Y, net.forward(Xb), **TOL)


def test_embedding_padding_ids_and_nan_become_nan_steps():
    ids = rng(0).integers(1, 10, (5, 6)).astype(np.float32)
    ids[0, 3:] = 0        # trailing padding ids
    ids[1, 5:] = np.nan   # trailing NaN
    ids[2, 2] = 0         # a padding id inside: an ordinary (zero) step
    ids[3, 4] = 0
    ids[3, 5] = np.nan    # padding id then NaN: both padding
    emb = nn.Embedding(10, 4, padding_idx=0)
    emb.build((6,), random_state=0)
    (Y,) = run(fonnx.network_to_onnx(emb), ids)
    np.testing.assert_allclose(Y, emb.forward(ids), equal_nan=True, **TOL)
    assert np.isnan(Y[0, 3:]).all() and not np.isnan(Y[2]).any()
    net = nn.Sequential([nn.Embedding(10, 4), nn.Conv1D(3, 2, padding="same"),
                         nn.GlobalAvgPool1D()])
    net.build((6,), random_state=0)
    (Y,) = run(fonnx.network_to_onnx(net), ids)
    np.testing.assert_allclose(Y, net.forward(ids), **TOL)


def test_batchnorm2d_and_residual_inference_with_running_stats():
    """BatchNorm2D uses its running statistics (affine or not, fused ReLU);
    Residual adds an identity or a strided projection shortcut."""
    net = nn.Sequential([
        nn.Conv2D(3, 3, padding=1), nn.BatchNorm2D(activation="relu"),
        nn.Residual([nn.Conv2D(3, 3, padding=1), nn.BatchNorm2D(affine=False)]),
        nn.Residual([nn.Conv2D(4, 3, stride=2, padding=1)], shortcut="projection"),
        nn.GlobalAvgPool2D(), nn.BatchNorm1D(), nn.Dense(2)])
    net.build((2, 7, 6), random_state=0)
    _with_running_stats(net)
    onx = fonnx.network_to_onnx(net)
    for Xb in batches(_images(5, (2, 7, 6))):
        (Y,) = run(onx, Xb)
        np.testing.assert_allclose(Y, net.forward(Xb), **TOL)


def test_neuralnet_with_a_custom_loss_is_refused():
    class MyLoss(nn.SoftmaxCrossEntropy):
        pass

    X, y = _tab(), _classes(40, 3)
    clf = fit(fastnut.NeuralNetClassifier([nn.Dense(4)], loss=MyLoss(), max_iter=2,
                                          random_state=0), X, y)
    with pytest.raises(NotImplementedError, match="loss=MyLoss"):
        fonnx.to_onnx(clf, X[:1])


def test_unknown_layer_is_a_clear_error():
    class Odd(nn.Layer):
        def _forward(self, X, training=False):
            return X

    net = nn.Sequential([nn.Dense(3), Odd()])
    net.build((4,), random_state=0)
    with pytest.raises(NotImplementedError, match="no ONNX form of the layer Odd"):
        fonnx.network_to_onnx(net)


def test_pipeline_with_scaler_through_skl2onnx():
    X, y = _tab().astype(np.float64) * 3 + 1, _classes(40, 3)
    pipe = fit(make_pipeline(StandardScaler(), fastnut.MLPClassifier((6,), max_iter=5,
                                                                     random_state=0)), X, y)
    onx = skl2onnx.to_onnx(pipe, X[:1], options={fastnut.MLPClassifier: {"zipmap": False}})
    for Xb in batches(X):
        label, proba = run(onx, Xb)
        np.testing.assert_allclose(proba, pipe.predict_proba(Xb), **TOL)
        np.testing.assert_array_equal(label, pipe.predict(Xb))
    # a flat-image pipeline: scaler, then a CNN reading rows with input_shape
    Xi = _images().reshape(24, -1).astype(np.float64)
    pipe = fit(make_pipeline(StandardScaler(), fastnut.CNNRegressor(
        input_shape=(2, 7, 6), conv_layers=((3, 3),), max_iter=2, random_state=0)),
        Xi, rng(1).normal(size=24))
    (pred,) = run(skl2onnx.to_onnx(pipe, Xi[:1]), Xi)
    np.testing.assert_allclose(pred.ravel(), pipe.predict(Xi), **TOL)


def test_skl2onnx_default_zipmap():
    X, y = _tab(), np.array(["a", "b", "c"])[_classes(40, 3)]
    model = fit(fastnut.MLPClassifier((5,), max_iter=5, random_state=0), X, y)
    label, proba = run(skl2onnx.to_onnx(model, X[:1]), X)
    np.testing.assert_array_equal(label, model.predict(X))
    P = model.predict_proba(X)
    assert isinstance(proba, list) and sorted(proba[0]) == ["a", "b", "c"]
    np.testing.assert_allclose([[row[c] for c in model.classes_] for row in proba], P, **TOL)


def test_saved_model_predicts_the_same_in_a_fresh_process(tmp_path):
    X, y = _padded(), _classes(20, 3)
    model = fit(fastnut.RNNClassifier("lstm", hidden_size=4, max_iter=2, random_state=0),
                X, y)
    path = tmp_path / "rnn.onnx"
    fonnx.to_onnx(model, X[:1], path=path)
    np.save(tmp_path / "X.npy", X)
    code = (
        "import sys, numpy as np, onnxruntime as ort\n"
        f"s = ort.InferenceSession({str(path)!r}, providers=['CPUExecutionProvider'])\n"
        f"X = np.load({str(tmp_path / 'X.npy')!r})\n"
        "label, proba = s.run(None, {s.get_inputs()[0].name: X})\n"
        f"np.save({str(tmp_path / 'P.npy')!r}, proba); np.save({str(tmp_path / 'L.npy')!r}, label)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    np.testing.assert_allclose(np.load(tmp_path / "P.npy"), model.predict_proba(X), **TOL)
    np.testing.assert_array_equal(np.load(tmp_path / "L.npy"), model.predict(X))


def test_float64_input_is_cast_like_fastnut():
    X, y = _tab().astype(np.float64), _classes(40, 3)
    model = fit(fastnut.MLPClassifier((5,), max_iter=5, random_state=0), X, y)
    label, proba = run(fonnx.to_onnx(model, X[:1]), X)
    assert proba.dtype == np.float32
    np.testing.assert_allclose(proba, model.predict_proba(X), **TOL)


def test_integer_input_and_old_opset():
    X = rng(0).integers(0, 16, (40, 6))
    model = fit(fastnut.MLPClassifier((5,), max_iter=5, random_state=0), X, _classes(40, 3))
    label, proba = run(fonnx.to_onnx(model, X[:1]), X)
    np.testing.assert_allclose(proba, model.predict_proba(X), **TOL)
    with pytest.raises(RuntimeError, match="target_opset >= 13, got 12"):
        fonnx.to_onnx(model, X[:1], target_opset=12)


@pytest.mark.parametrize("opset", [13, 17, 18])
def test_reduce_ops_in_either_opset_form(opset):
    """Reduce* take axes as an attribute up to opset 17 and as an input from 18
    (ReduceSum from 13): the sequence lengths and the manhattan SOM use both."""
    X = _padded(n=10, T=6, F=2)
    rnn = fit(fastnut.RNNClassifier("gru", hidden_size=3, max_iter=1, random_state=0),
              X, _classes(10, 2))
    _, proba = run(fonnx.to_onnx(rnn, X[:1], target_opset=opset), X)
    np.testing.assert_allclose(proba, rnn.predict_proba(X), **TOL)
    Xs = _tab(30, 4)
    som = fit(fastnut.SelfOrganizingMap(3, 3, metric="manhattan", max_iter=2,
                                        random_state=0), Xs)
    bmu, _ = run(fonnx.to_onnx(som, Xs[:1], target_opset=opset), Xs)
    np.testing.assert_array_equal(bmu, som.predict(Xs))
