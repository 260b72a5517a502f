"""RNNClassifier/RNNRegressor with output="sequence": one output per step."""
import pickle

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, r2_score

from fastnut import RNNClassifier, RNNRegressor, nn
from tests._reference.text_tasks import running_sum_tags


def test_tagging_running_sum_learns():
    X, y, lengths = running_sum_tags(400, seed=0)
    Xt, yt, _ = running_sum_tags(200, seed=1)
    clf = RNNClassifier(hidden_size=16, max_iter=40, output="sequence", random_state=0)
    clf.fit(X, y)
    assert isinstance(clf.network_.layers[-1], nn.TimeDistributedDense)
    assert clf.score(Xt, yt) > 0.97
    pred = clf.predict(Xt)
    assert pred.shape == yt.shape and pred.dtype == np.float64
    np.testing.assert_array_equal(np.isnan(pred), np.isnan(Xt))  # padded steps marked
    valid = ~np.isnan(yt)
    assert clf.score(Xt, yt) == pytest.approx(accuracy_score(yt[valid], pred[valid]))
    P = clf.predict_proba(Xt)
    assert P.shape == Xt.shape + (2,)
    np.testing.assert_allclose(P[valid].sum(axis=1), 1, rtol=1e-6)
    assert np.isnan(P[~valid]).all()
    np.testing.assert_array_equal(pred[valid], clf.classes_[P[valid].argmax(axis=1)])
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(Xt[:3]))[valid[:3]],
                               P[:3][valid[:3]], rtol=1e-6)
    # a padded sequence gets the per-step outputs it gets alone
    L = int((~np.isnan(Xt[0])).sum())
    np.testing.assert_array_equal(clf.predict_proba(Xt[:1, :L, None]), P[:1, :L])


def test_next_value_regression_on_a_sine():
    t = np.arange(3000) * 0.15
    series = np.sin(t) + 0.3 * np.sin(0.37 * t)
    windows = np.lib.stride_tricks.sliding_window_view(series, 21)[::7]
    X, y = windows[:, :-1], windows[:, 1:]          # y[:, t] is the value after step t
    reg = RNNRegressor(cell="gru", hidden_size=16, max_iter=40, output="sequence",
                       random_state=0).fit(X[:300], y[:300])
    assert reg.score(X[300:], y[300:]) > 0.95
    assert reg.predict(X[300:]).shape == y[300:].shape


def test_nan_targets_at_padded_steps_are_ignored():
    X, y, _ = running_sum_tags(80, seed=2)
    garbage = np.where(np.isnan(y), 1.0, y)   # labels at padded steps of X: ignored
    kw = dict(hidden_size=6, max_iter=4, output="sequence", random_state=0,
              dtype=np.float64)
    a = RNNClassifier(**kw).fit(X, y)
    b = RNNClassifier(**kw).fit(X, garbage)
    for k in a.network_.params:
        np.testing.assert_array_equal(a.network_.params[k], b.network_.params[k])
    # regressor: NaN targets vs other values at padded steps
    values = np.where(np.isnan(y), np.nan, np.nancumsum(X, axis=1))
    a = RNNRegressor(**kw).fit(X, values)
    b = RNNRegressor(**kw).fit(X, np.where(np.isnan(values), 123.0, values))
    for k in a.network_.params:
        np.testing.assert_array_equal(a.network_.params[k], b.network_.params[k])


@pytest.mark.parametrize("Est", [RNNClassifier, RNNRegressor])
def test_a_row_of_missing_targets_weighs_like_sample_weight_zero(Est):
    X, y, _ = running_sum_tags(60, seed=3)
    y_missing = y.copy()
    y_missing[:7] = np.nan
    w = np.ones(60)
    w[:7] = 0
    kw = dict(hidden_size=6, max_iter=4, output="sequence", random_state=0, alpha=0.0,
              batch_size=60, dtype=np.float64)
    a = Est(**kw).fit(X, y_missing)
    b = Est(**kw).fit(X, y, sample_weight=w)
    for k in a.network_.params:
        np.testing.assert_allclose(a.network_.params[k], b.network_.params[k], rtol=1e-10,
                                   atol=1e-12)
    # missing targets inside valid steps are left out of score as well
    assert a.score(X, y_missing) == pytest.approx(a.score(X[7:], y[7:]))
    assert b.score(X, y, sample_weight=w) == pytest.approx(b.score(X[7:], y[7:]))


def test_string_labels_with_none_and_round_trip():
    X, y, _ = running_sum_tags(120, seed=4)
    labels = np.where(np.isnan(y), None, np.where(y == 1, "up", "down")).astype(object)
    labels[0, 0] = None  # a missing label at a valid step
    clf = RNNClassifier(hidden_size=8, max_iter=10, output="sequence", random_state=0)
    clf.fit(X, labels)
    assert list(clf.classes_) == ["down", "up"]
    pred = clf.predict(X)
    assert pred.dtype == object
    assert all(v is None for v in pred[np.isnan(X)])
    assert set(pred[~np.isnan(X)]) <= {"down", "up"}
    RNNClassifier(hidden_size=4, max_iter=1, output="sequence").fit(X, pred)  # a valid y


def test_multiclass_tags_and_tokens():
    rng = np.random.default_rng(5)
    ids = rng.integers(1, 6, (200, 8))
    lengths = rng.integers(2, 9, 200)
    pad = np.arange(8)[None, :] >= lengths[:, None]
    ids[pad] = 0
    # tag: the previous token's id class (0 at the first step): needs memory
    tags = np.concatenate([np.zeros((200, 1), int), ids[:, :-1] % 3], axis=1)
    clf = RNNClassifier(hidden_size=16, max_iter=40, vocab_size=6, output="sequence",
                        random_state=0).fit(ids, tags)
    assert clf.out_activation_ == "softmax" and clf.n_outputs_ == 3
    assert clf.score(ids, tags) > 0.95
    pred = clf.predict(ids)
    assert np.isnan(pred[pad]).all() and not np.isnan(pred[~pad]).any()
    P = clf.predict_proba(ids)
    assert P.shape == (200, 8, 3)
    # a padded token sequence gets the per-step outputs it gets alone
    np.testing.assert_array_equal(clf.predict_proba(ids[:1, :lengths[0]]),
                                  P[:1, :lengths[0]])


def test_regressor_several_targets_per_step():
    X, _, _ = running_sum_tags(300, seed=6)
    s = np.nancumsum(X, axis=1)
    Y = np.stack([s, np.nan_to_num(X)], axis=2)
    Y[np.isnan(X)] = np.nan
    Y[::5, 2, 1] = np.nan  # single missing values
    reg = RNNRegressor(hidden_size=16, max_iter=40, output="sequence", random_state=0)
    reg.fit(X, Y)
    P = reg.predict(X)
    assert P.shape == Y.shape and np.isnan(P[np.isnan(X)]).all()
    present = ~np.isnan(Y)
    expect = np.mean([r2_score(Y[..., j][present[..., j]], P[..., j][present[..., j]])
                      for j in range(2)])
    assert reg.score(X, Y) == pytest.approx(expect, rel=1e-5)
    assert expect > 0.95


def test_score_uses_sample_weight_per_sequence():
    X, y, _ = running_sum_tags(100, seed=7)
    clf = RNNClassifier(hidden_size=4, max_iter=3, output="sequence", random_state=0).fit(X, y)
    w = np.random.default_rng(0).random(100)
    pred = clf.predict(X)
    valid = ~np.isnan(y)
    W = np.broadcast_to(w[:, None], y.shape)
    assert clf.score(X, y, sample_weight=w) == pytest.approx(
        accuracy_score(y[valid], pred[valid], sample_weight=W[valid]))


def test_early_stopping_partial_fit_and_pickle():
    X, y, _ = running_sum_tags(120, seed=8)
    clf = RNNClassifier(hidden_size=6, max_iter=5, output="sequence", early_stopping=True,
                        random_state=0).fit(X, y)
    assert len(clf.validation_scores_) == 5 and np.isfinite(clf.validation_scores_).all()
    inc = RNNClassifier(hidden_size=6, output="sequence", random_state=0)
    inc.partial_fit(X[:60], y[:60], classes=[0.0, 1.0])
    inc.partial_fit(X[60:], y[60:])
    assert inc.n_iter_ == 2
    with pytest.raises(ValueError, match="classes not in"):
        inc.partial_fit(X[:5], np.where(np.isnan(y[:5]), np.nan, 2.0))
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))


def test_sequence_output_errors():
    X, y, _ = running_sum_tags(30, seed=9)
    clf = RNNClassifier(hidden_size=4, max_iter=1, output="sequence")
    with pytest.raises(ValueError, match=r"y of shape \(n_samples, T\) = \(30, 12\)"):
        clf.fit(X, y[:, 0])
    with pytest.raises(ValueError, match="class_weight is not supported with "
                                         "output='sequence'"):
        RNNClassifier(output="sequence", class_weight="balanced").fit(X, y)
    with pytest.raises(ValueError, match="no label at a valid step"):
        clf.fit(X, np.full_like(y, np.nan))
    with pytest.raises(ValueError, match="at least two classes"):
        clf.fit(X, np.where(np.isnan(y), np.nan, 1.0))
    with pytest.raises(ValueError, match="n_targets"):
        RNNRegressor(output="sequence", max_iter=1).fit(X, y[:, :5])
    with pytest.raises(ValueError, match="output"):
        RNNRegressor(output="steps").fit(X, y)


@pytest.mark.parametrize("Est", [RNNClassifier, RNNRegressor])
def test_inputs_unchanged_and_same_seed_same_model(Est):
    X, y, _ = running_sum_tags(40, seed=10)
    X0, y0 = X.copy(), y.copy()
    kw = dict(hidden_size=4, max_iter=2, output="sequence", random_state=3)
    a = Est(**kw).fit(X, y)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
    b = Est(**kw).fit(X, y)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    assert a.n_outputs_ == (1 if Est is RNNClassifier else 1)
    warm = Est(**kw, warm_start=True).fit(X, y)
    warm.fit(X, y)
    assert warm.n_iter_ == 2 and len(warm.loss_curve_) == 4
