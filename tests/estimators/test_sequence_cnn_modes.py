"""SequenceCNNClassifier/Regressor with token ids (vocab_size) and one output per
step (output="sequence"): the shared machinery of fastnut._sequence_estimator on
Wang et al.'s networks."""
import numpy as np
import pytest

from fastnut import SequenceCNNClassifier, SequenceCNNRegressor, SequenceTokenizer
from sklearn.pipeline import make_pipeline
from tests._reference.text_tasks import running_sum_tags

SMALL = dict(n_filters=(8, 16, 8), kernel_sizes=(5, 3, 3), batch_size=32, random_state=0)


def _ids(n=240, T=12, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, 9, (n, T))
    lengths = rng.integers(3, T + 1, n)
    ids[np.arange(T)[None, :] >= lengths[:, None]] = 0
    return ids, lengths


@pytest.mark.parametrize("architecture", ["fcn", "resnet"])
def test_token_tagging(architecture):
    ids, lengths = _ids()
    tags = np.where(ids == 0, np.nan, np.isin(ids, [2, 5]))   # NaN: no label at padding
    clf = SequenceCNNClassifier(architecture, vocab_size="auto", embedding_dim=8,
                                output="sequence", max_iter=30, **SMALL)
    clf.fit(ids[:160], tags[:160])
    names = [type(layer).__name__ for layer in clf.network_.layers]
    assert names[0] == "Embedding" and names[-1] == "TimeDistributedDense"
    assert "GlobalAvgPool1D" not in names
    assert clf.vocab_size_ == 9
    assert clf.score(ids[160:], tags[160:]) > 0.95
    pred = clf.predict(ids[160:])
    assert pred.shape == ids[160:].shape
    assert np.isnan(pred[ids[160:] == 0]).all() and not np.isnan(pred[ids[160:] != 0]).any()
    P = clf.predict_proba(ids[160:])
    assert P.shape == (80, 12, 2)
    # a padded sequence: its own prediction (Conv1D sums differ by float32 round-off)
    i = int(np.argmin(lengths[160:]))
    L = lengths[160 + i]
    np.testing.assert_allclose(clf.predict_proba(ids[160 + i:161 + i, :L]), P[i:i + 1, :L],
                               rtol=1e-5, atol=1e-6)


def test_numeric_per_step_tagging_ignores_missing_targets():
    X, tags, _ = running_sum_tags(300, seed=0)
    clf = SequenceCNNClassifier(output="sequence", max_iter=25, **SMALL)
    clf.fit(X[:200], tags[:200])
    # the task needs the running sum so far: causal context of up to 12 steps
    assert clf.score(X[200:], tags[200:]) > 0.8
    # labels at padded steps are ignored: NaN there or a class, the same fit
    tags2 = tags[:200].copy()
    tags2[np.isnan(X[:200])] = 1.0
    a = SequenceCNNClassifier(output="sequence", max_iter=2, **SMALL).fit(X[:200], tags[:200])
    b = SequenceCNNClassifier(output="sequence", max_iter=2, **SMALL).fit(X[:200], tags2)
    for la, lb in zip(a.network_.layers, b.network_.layers):
        for k in la.params:
            np.testing.assert_array_equal(la.params[k], lb.params[k])


def test_per_step_regression():
    series = np.sin(np.arange(4000) * 0.2)
    W = np.lib.stride_tricks.sliding_window_view(series, 25)[::9]
    reg = SequenceCNNRegressor(output="sequence", max_iter=30, **SMALL)
    reg.fit(W[:300, :-1], W[:300, 1:])      # the next value at every step
    assert reg.predict(W[300:, :-1]).shape == W[300:, 1:].shape
    assert reg.score(W[300:, :-1], W[300:, 1:]) > 0.9


def _adjacent_order_docs(n, seed):
    """Every document holds "very" and "good"; the label is whether "very" comes
    right before "good" (local word order: the same words either way)."""
    rng = np.random.default_rng(seed)
    filler = "the a film plot actor scene story was is it and but quite so music".split()
    docs, labels = [], []
    for _ in range(n):
        words = list(rng.choice(filler, rng.integers(4, 10)))
        label = rng.random() < 0.5
        pair = ["very", "good"] if label else ["good", "very"]
        at = int(rng.integers(0, len(words) + 1))
        words[at:at] = pair
        docs.append(" ".join(words))
        labels.append(label)
    return docs, np.array(labels)


def test_text_pipeline():
    docs, y = _adjacent_order_docs(600, seed=0)
    test_docs, test_y = _adjacent_order_docs(200, seed=1)
    pipe = make_pipeline(SequenceTokenizer(),
                         SequenceCNNClassifier(vocab_size="auto", embedding_dim=16,
                                               max_iter=15, **SMALL))
    assert pipe.fit(docs, y).score(test_docs, test_y) > 0.95


def test_token_errors_name_the_problem():
    ids, _ = _ids(40)
    clf = SequenceCNNClassifier(vocab_size=5, max_iter=1, **SMALL)
    with pytest.raises(ValueError, match="vocab_size|>= 5|id"):
        clf.fit(ids, np.arange(40) % 2)
