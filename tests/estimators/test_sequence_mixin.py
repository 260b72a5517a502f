"""The shared token-input / per-step-output machinery (fastnut._sequence_estimator)
with a body that is not recurrent: what a convolutional sequence family relies on."""
import numpy as np
import pytest

from fastnut import RNNClassifier, RNNRegressor, nn
from fastnut._sequence_estimator import (SequenceEstimatorMixin, check_tokens,
                                         token_lengths, valid_steps)


class _ConvBody:
    """Replaces the recurrent body by Conv1D + BatchNorm1D (+ global pooling for
    one output per sequence): the mixin must not care what the body is."""

    def _hidden_layers(self, sample_shape):
        layers = [nn.Conv1D(8, 3, padding="same"), nn.BatchNorm1D(activation="relu"),
                  nn.Conv1D(8, 3, padding="causal", dilation=2),
                  nn.BatchNorm1D(activation="relu")]
        return layers if self.output == "sequence" else layers + [nn.GlobalAvgPool1D()]


class ConvTagger(_ConvBody, RNNClassifier):
    pass


class ConvRegressor(_ConvBody, RNNRegressor):
    pass


def _ids(n=200, T=10, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, 8, (n, T))
    lengths = rng.integers(2, T + 1, n)
    ids[np.arange(T)[None, :] >= lengths[:, None]] = 0
    return ids, lengths


def test_convolutional_tagger_on_tokens():
    ids, lengths = _ids()
    tags = np.isin(ids, [2, 5]).astype(int)      # a local tag: the token's own class
    clf = ConvTagger(vocab_size=8, output="sequence", max_iter=30, random_state=0)
    clf.fit(ids, tags)
    assert [type(l).__name__ for l in clf.network_.layers] == [
        "Embedding", "Conv1D", "BatchNorm1D", "Conv1D", "BatchNorm1D",
        "TimeDistributedDense"]
    assert clf.score(ids, tags) > 0.97
    P = clf.predict_proba(ids)
    # (Conv1D's sums depend on T at float32 round-off: not bit-equal, unlike the RNNs)
    np.testing.assert_allclose(clf.predict_proba(ids[:1, :lengths[0]]), P[:1, :lengths[0]],
                               rtol=1e-5, atol=1e-6)
    assert np.isnan(clf.predict(ids)[ids == 0]).all()


def test_convolutional_regressor_one_output_per_sequence():
    ids, lengths = _ids(seed=1)
    y = (ids == 3).sum(axis=1) / lengths         # share of a token: global average pooling
    reg = ConvRegressor(vocab_size=8, max_iter=80, random_state=0).fit(ids, y)
    test_ids, test_lengths = _ids(seed=2)
    assert reg.score(test_ids, (test_ids == 3).sum(axis=1) / test_lengths) > 0.85
    np.testing.assert_allclose(reg.predict(ids[:1, :lengths[0]]), reg.predict(ids)[:1],
                               rtol=1e-5, atol=1e-6)


def test_helpers():
    ids = check_tokens([[4, 2, 0, 0], [1, 0, 3, 0]], 5)
    assert ids.dtype == np.int64
    np.testing.assert_array_equal(token_lengths(ids), [2, 3])
    np.testing.assert_array_equal(valid_steps(ids), [[1, 1, 0, 0], [1, 1, 1, 0]])
    X = np.ones((2, 3, 2))
    X[1, 2:] = np.nan
    np.testing.assert_array_equal(valid_steps(X), [[1, 1, 1], [1, 1, 0]])
    assert issubclass(RNNClassifier, SequenceEstimatorMixin)
    with pytest.raises(ValueError, match="out of range"):
        check_tokens([[5]], 5)
