"""ONNX export of the recurrent estimators' token input (vocab_size) and the
clear refusal of per-step outputs (output="sequence")."""
import numpy as np
import pytest

pytest.importorskip("onnxruntime", reason="ONNX export tests need the onnx extra: "
                                          "pip install 'fastnut[onnx]'")
pytest.importorskip("skl2onnx", reason="needs the onnx extra")

import fastnut.onnx as fonnx  # noqa: E402
from fastnut import RNNClassifier, RNNRegressor, SequenceTokenizer  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from tests.test_onnx import TOL, fit, run  # noqa: E402


def _ids(n=30, T=7, seed=0):
    r = np.random.default_rng(seed)
    ids = r.integers(1, 12, (n, T))
    lengths = r.integers(1, T + 1, n)
    ids[np.arange(T)[None, :] >= lengths[:, None]] = 0
    ids[3, 1] = 0 if lengths[3] > 2 else ids[3, 1]  # a padding id inside a sequence
    return ids


@pytest.mark.parametrize("dtype", [np.int64, np.float32])
@pytest.mark.parametrize("make", [
    lambda: RNNClassifier("lstm", hidden_size=5, bidirectional=True, vocab_size=12,
                          embedding_dim=4, hidden_layer_sizes=(3,), max_iter=2,
                          random_state=0),
    lambda: RNNClassifier("gru", hidden_size=4, num_layers=2, vocab_size="auto",
                          max_iter=2, random_state=0),
], ids=["lstm-bi-multiclass", "gru-stacked-binary"])
def test_token_classifier_matches_onnxruntime(make, dtype):
    X = _ids()
    model = make()
    y = np.arange(30) % (3 if model.cell == "lstm" else 2)
    fit(model, X, y)
    onx = fonnx.to_onnx(model, X[:2].astype(dtype))
    for Xb in (X, X[:1], X[:, :4][(X[:, :4] != 0).any(axis=1)]):  # any number of steps
        label, proba = run(onx, Xb.astype(dtype))
        np.testing.assert_allclose(proba, model.predict_proba(Xb), **TOL)
        np.testing.assert_array_equal(label, model.predict(Xb))


def test_token_regressor_matches_onnxruntime():
    X = _ids(seed=1)
    model = fit(RNNRegressor("rnn", hidden_size=4, vocab_size=12, max_iter=2,
                             random_state=0), X, np.random.default_rng(2).normal(size=(30, 2)))
    onx = fonnx.to_onnx(model, X[:2])
    (pred,) = run(onx, X)
    np.testing.assert_allclose(pred, model.predict(X), **TOL)


def test_text_pipeline_model_takes_ids():
    """The tokenizer runs in Python; the exported recurrent model takes its ids."""
    docs = ["good film", "bad film", "not good", "not bad at all", "good good", "bad"] * 5
    y = [1, 0, 0, 1, 1, 0] * 5
    pipe = fit(make_pipeline(SequenceTokenizer(), RNNClassifier(vocab_size="auto",
                                                               hidden_size=4, max_iter=2,
                                                               random_state=0)), docs, y)
    tok, clf = pipe.steps[0][1], pipe.steps[1][1]
    ids = tok.transform(docs)
    label, proba = run(fonnx.to_onnx(clf, ids[:2]), ids)
    np.testing.assert_allclose(proba, pipe.predict_proba(docs), **TOL)


@pytest.mark.parametrize("Est", [RNNClassifier, RNNRegressor])
def test_sequence_output_is_refused(Est):
    X = np.random.default_rng(0).normal(size=(20, 5, 2)).astype(np.float32)
    y = (X[:, :, 0] > 0).astype(float)
    model = fit(Est(hidden_size=3, max_iter=1, output="sequence", random_state=0), X, y)
    with pytest.raises(NotImplementedError, match="output='sequence'.*network_to_onnx"):
        fonnx.to_onnx(model, X[:2])
    onx = fonnx.network_to_onnx(model.network_)
    (Z,) = run(onx, X)
    np.testing.assert_allclose(Z, model.network_.forward(X), **TOL)
