"""RNNClassifier/RNNRegressor on token ids (vocab_size) and SequenceTokenizer pipelines."""
import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from fastnut import RNNClassifier, RNNRegressor, SequenceTokenizer, nn
from tests._reference.text_tasks import negation_reviews


def _token_data(n=160, T=9, V=15, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, V, (n, T))
    lengths = rng.integers(2, T + 1, n)
    ids[np.arange(T)[None, :] >= lengths[:, None]] = 0
    y = (ids == 3).any(axis=1)
    return ids, y, lengths


@pytest.mark.parametrize("Est", [RNNClassifier, RNNRegressor])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_padded_sequence_predicts_as_alone(Est, cell):
    ids, y, lengths = _token_data()
    est = Est(cell=cell, hidden_size=8, max_iter=3, vocab_size=15, embedding_dim=4,
              bidirectional=True, random_state=0).fit(ids, y.astype(float))
    assert isinstance(est.network_.layers[0], nn.Embedding)
    assert est.network_.layers[0].padding_idx == 0
    predict = est.predict_proba if Est is RNNClassifier else est.predict
    batch = predict(ids)
    for i in (0, 1, 5):
        alone = predict(ids[i:i + 1, :lengths[i]])
        np.testing.assert_array_equal(alone, batch[i:i + 1])
    # more trailing padding than at fit time changes nothing either
    longer = np.hstack([ids[:4], np.zeros((4, 6), ids.dtype)])
    np.testing.assert_array_equal(predict(longer), batch[:4])


def test_float_ids_and_int_ids_agree_and_learn():
    ids, y, _ = _token_data(n=300)
    clf = RNNClassifier(hidden_size=16, max_iter=15, vocab_size=15, random_state=0)
    clf.fit(ids, y)
    assert clf.score(ids, y) > 0.95
    np.testing.assert_array_equal(clf.predict_proba(ids.astype(np.float64)),
                                  clf.predict_proba(ids))
    assert clf.n_features_in_ == ids.shape[1] and clf.vocab_size_ == 15
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(ids), clf.predict_proba(ids))


def test_vocab_size_auto():
    ids, y, _ = _token_data(V=12)
    clf = RNNClassifier(hidden_size=4, max_iter=2, vocab_size="auto", random_state=0)
    clf.fit(ids, y)
    assert clf.vocab_size_ == ids.max() + 1 == 12
    assert clf.network_.layers[0].num_embeddings == 12
    with pytest.raises(ValueError, match=r"token id 12 .* out of range: the model's "
                                         r"vocabulary has ids 0..11 \(vocab_size='auto'"):
        clf.predict(np.array([[1, 12, 0]]))
    assert clone(clf).get_params()["vocab_size"] == "auto"


@pytest.mark.parametrize("X, err, match", [
    ([[1, 2, 20]], ValueError, r"token id 20 at X\[0, 2\] is out of range: the model's "
                               r"vocabulary has ids 0..14"),
    ([[1.0, 2.5, 3.0]], ValueError, r"token ids must be integers; X\[0, 1\] = 2.5 has a "
                                    "fractional part"),
    ([[1.0, np.nan, 0.0]], ValueError, r"token ids contain NaN \(X\[0, 1\]\): token "
                                       "sequences are padded with the padding id 0, not NaN"),
    ([[1, -2, 3]], ValueError, r"token ids must be >= 0 \(0 is padding\); X\[0, 1\] = -2"),
    ([[1, 2, 3], [0, 0, 0]], ValueError, "sequence 1 is all padding"),
    ([["a", "b"]], TypeError, "SequenceTokenizer"),
    (np.ones((2, 3, 1), int), ValueError, r"shape \(n_samples, T\)"),
    ([[1.0, np.inf]], ValueError, "infinity"),
])
def test_bad_token_input(X, err, match):
    ids, y, _ = _token_data()
    clf = RNNClassifier(hidden_size=4, max_iter=1, vocab_size=15, random_state=0).fit(ids, y)
    with pytest.raises(err, match=match):
        clf.predict(X)
    with pytest.raises(err, match=match):
        clone(clf).fit(np.asarray(X), np.arange(len(X)) % 2)


def test_token_input_rejects_input_shape():
    ids, y, _ = _token_data()
    with pytest.raises(ValueError, match="leave input_shape=None"):
        RNNClassifier(vocab_size=15, input_shape=(9, 1), max_iter=1).fit(ids, y)


def test_fractional_sample_weight_with_integer_ids():
    ids, y, _ = _token_data(n=40)
    w = np.linspace(0.25, 1.75, 40)
    a = RNNRegressor(hidden_size=4, max_iter=3, vocab_size=15, random_state=0,
                     dtype=np.float64).fit(ids, y, sample_weight=w)
    b = RNNRegressor(hidden_size=4, max_iter=3, vocab_size=15, random_state=0,
                     dtype=np.float64).fit(ids, y, sample_weight=np.round(w))
    assert not np.allclose(a.predict(ids), b.predict(ids))  # weights not cast to int


def test_text_pipeline_beats_bag_of_words_when_order_matters():
    docs, labels = negation_reviews(800, seed=0)
    test_docs, test_labels = negation_reviews(400, seed=1)
    bow = make_pipeline(CountVectorizer(token_pattern=r"(?u)\b\w+\b"),
                        LogisticRegression(max_iter=1000)).fit(docs, labels)
    rnn = make_pipeline(SequenceTokenizer(),
                        RNNClassifier(vocab_size="auto", embedding_dim=16, hidden_size=32,
                                      max_iter=25, random_state=0)).fit(docs, labels)
    bow_acc, rnn_acc = bow.score(test_docs, test_labels), rnn.score(test_docs, test_labels)
    assert bow_acc < 0.75  # the words alone do not say where the "not" is
    assert rnn_acc > 0.95
    tok, clf = rnn.steps[0][1], rnn.steps[1][1]
    assert clf.vocab_size_ == tok.vocabulary_size_


# -- SequenceTokenizer ----------------------------------------------------------------

def test_tokenizer_vocabulary_and_padding():
    tok = SequenceTokenizer().fit(["The cat sat.", "the dog", "a cat, the cat"])
    # most frequent first (the: 3, cat: 3 -> alphabetical), from id 2
    assert tok.vocabulary_ == {"cat": 2, "the": 3, "a": 4, "dog": 5, "sat": 6}
    assert tok.vocabulary_size_ == 7 and tok.max_len_ == 4
    out = tok.transform(["the bird sat", "", "cat cat cat cat cat cat"])
    np.testing.assert_array_equal(out, [[3, 1, 6, 0], [1, 0, 0, 0], [2, 2, 2, 2]])
    assert out.dtype == np.int64
    assert list(tok.get_feature_names_out()) == [f"sequencetokenizer{i}" for i in range(4)]
    assert tok.inverse_transform(out[:1]) == [["the", None, "sat"]]


def test_tokenizer_options():
    docs = ["b a a c", "a b d", "a e"]
    assert SequenceTokenizer(max_features=2).fit(docs).vocabulary_ == {"a": 2, "b": 3}
    assert SequenceTokenizer(min_df=2).fit(docs).vocabulary_ == {"a": 2, "b": 3}
    assert SequenceTokenizer(min_df=1.0).fit(docs).vocabulary_ == {"a": 2}
    tok = SequenceTokenizer(max_len=2).fit(docs)
    assert tok.vocabulary_ == {"a": 2, "b": 3, "e": 4}  # c and d are cut by max_len
    np.testing.assert_array_equal(tok.transform(["c a b"]), [[1, 2]])
    chars = SequenceTokenizer(analyzer="char", lowercase=False).fit(["ab A", "b"])
    np.testing.assert_array_equal(chars.transform(["Ab"]), [[chars.vocabulary_["A"], 2, 0, 0]])
    assert SequenceTokenizer(token_pattern=r"[a-z]+").fit(["x1y"]).vocabulary_ == {"x": 2,
                                                                                  "y": 3}


def test_tokenizer_output_holds_every_id_below_vocabulary_size():
    docs, _ = negation_reviews(50)
    for params in ({}, {"max_len": 4}, {"max_features": 5}, {"min_df": 3}):
        tok = SequenceTokenizer(**params).fit(docs)
        ids = tok.transform(docs)
        assert ids.max() + 1 == tok.vocabulary_size_, params


def test_tokenizer_errors_and_inputs():
    with pytest.raises(ValueError, match="got a single string"):
        SequenceTokenizer().fit("one document")
    with pytest.raises(ValueError, match="document 1 is None"):
        SequenceTokenizer().fit(["ok", None])
    with pytest.raises(ValueError, match="at most one capturing group"):
        SequenceTokenizer(token_pattern=r"(a)(b)").fit(["ab"])
    tok = SequenceTokenizer().fit(np.array([["a b"], ["c"]], dtype=object))  # one column
    np.testing.assert_array_equal(tok.transform([b"c a"]), [[4, 2]])
    np.testing.assert_array_equal(tok.transform(d for d in ["c", "a b"]), [[4, 0], [2, 3]])
    assert pickle.loads(pickle.dumps(tok)).vocabulary_ == tok.vocabulary_
    with pytest.raises(ValueError, match="min_df"):
        SequenceTokenizer(min_df=0).fit(["a"])


def test_tokenizer_is_a_scikit_learn_transformer():
    """What scikit-learn's common checks would test, for a transformer of text
    (they skip estimators without 2-D numeric input)."""
    from sklearn.exceptions import NotFittedError
    docs = ["a b c", "b c", "c d e f"]
    tok = SequenceTokenizer(max_len=3)
    with pytest.raises(NotFittedError):
        tok.transform(docs)
    twin = clone(tok).set_params(min_df=2)
    assert twin.get_params()["min_df"] == 2 and tok.get_params()["min_df"] == 1
    first = tok.fit_transform(docs)
    np.testing.assert_array_equal(tok.fit(docs).transform(docs), first)  # idempotent
    np.testing.assert_array_equal(tok.transform(docs[::-1]), first[::-1])
    frame = clone(tok).set_output(transform="pandas").fit_transform(docs)
    assert list(frame.columns) == ["sequencetokenizer0", "sequencetokenizer1",
                                   "sequencetokenizer2"]
    assert tok.__sklearn_tags__().input_tags.string
