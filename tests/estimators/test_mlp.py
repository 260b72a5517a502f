"""MLPClassifier / MLPRegressor: drop-in behaviour against scikit-learn's MLPs."""
import io
import pickle
import threading
from contextlib import redirect_stdout

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
import scipy.sparse as sp
from sklearn.datasets import load_digits, make_multilabel_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.neural_network import MLPRegressor as SkMLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fastnut import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.3, stratify=y, random_state=0)


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(n_samples=300, n_features=8, n_targets=2, noise=1.0, random_state=0)
    return StandardScaler().fit_transform(X), y / 100


# -- exact agreement with scikit-learn in float64 -------------------------------------------

@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("activation", ["relu", "logistic"])
def test_float64_reproduces_sklearn_classifier_trajectory(digits, solver, activation):
    Xtr, _, ytr, _ = digits
    kw = dict(hidden_layer_sizes=(20, 10), activation=activation, solver=solver,
              max_iter=5, random_state=0, alpha=1e-3)
    ours = MLPClassifier(dtype=np.float64, **kw).fit(Xtr[:400], ytr[:400])
    ref = SkMLPClassifier(**kw).fit(Xtr[:400], ytr[:400])
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-9)
    for a, b in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(ours.predict_proba(Xtr[:50]), ref.predict_proba(Xtr[:50]),
                               rtol=1e-7, atol=1e-10)


def test_float64_reproduces_sklearn_regressor_lbfgs_and_early_stopping(regression):
    X, y = regression
    for kw in [dict(solver="lbfgs", max_iter=50),
               dict(solver="adam", early_stopping=True, max_iter=30)]:
        ours = MLPRegressor(hidden_layer_sizes=(16,), random_state=0, dtype=np.float64, **kw)
        ref = SkMLPRegressor(hidden_layer_sizes=(16,), random_state=0, **kw)
        ours.fit(X, y)
        ref.fit(X, y)
        np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-6, atol=1e-8)
        assert ours.n_iter_ == ref.n_iter_
        if kw["solver"] == "adam":
            np.testing.assert_allclose(ours.validation_scores_, ref.validation_scores_,
                                       rtol=1e-7)
            assert ours.best_validation_score_ == pytest.approx(ref.best_validation_score_)


def test_poisson_regressor_matches_sklearn():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 4))
    y = rng.poisson(np.exp(X @ [0.3, -0.2, 0.1, 0.0]))
    kw = dict(loss="poisson", hidden_layer_sizes=(8,), max_iter=20, random_state=0)
    ours = MLPRegressor(dtype=np.float64, **kw).fit(X, y)
    ref = SkMLPRegressor(**kw).fit(X, y)
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-9)
    assert ours.out_activation_ == "exp"
    assert np.all(ours.predict(X) > 0)
    with pytest.raises(ValueError, match="non-negative y"):
        MLPRegressor(loss="poisson").fit(X, -np.ones(200))


def test_same_public_surface_as_sklearn():
    for ours, ref in [(MLPClassifier, SkMLPClassifier), (MLPRegressor, SkMLPRegressor)]:
        p_ours, p_ref = ours().get_params(), ref().get_params()
        # fastnut's own: dtype, and the training-control parameters, whose
        # defaults (None) train exactly as scikit-learn's parameters say
        extra = {"dtype", "lr_schedule", "callbacks"} | (
            {"class_weight"} if ours is MLPClassifier else set())
        assert set(p_ours) - extra == set(p_ref)
        assert all(p_ours[k] is None for k in extra - {"dtype"})
        for k, v in p_ref.items():
            assert p_ours[k] == v, k
    clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=3).fit(np.eye(4), [0, 1, 2, 1])
    for attr in ["coefs_", "intercepts_", "loss_", "best_loss_", "loss_curve_",
                 "validation_scores_", "best_validation_score_", "n_iter_", "t_",
                 "n_layers_", "n_outputs_", "out_activation_", "classes_", "n_features_in_"]:
        assert hasattr(clf, attr), attr
    assert clf.n_layers_ == 3 and clf.out_activation_ == "softmax"
    assert clf.t_ == 4 * 3


# -- quality and speed-independent behaviour -------------------------------------------------

def test_digits_accuracy_float32_default(digits):
    Xtr, Xte, ytr, yte = digits
    clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=60, random_state=0).fit(Xtr, ytr)
    assert clf.coefs_[0].dtype == np.float32
    assert clf.score(Xte, yte) > 0.96
    assert clf.predict_proba(Xte).dtype == np.float32
    np.testing.assert_allclose(clf.predict_proba(Xte).sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(clf.predict_log_proba(Xte[:5]),
                               np.log(clf.predict_proba(Xte[:5])), rtol=1e-6)


def test_float32_training_close_to_float64(digits):
    Xtr, _, ytr, _ = digits
    kw = dict(hidden_layer_sizes=(16,), max_iter=3, random_state=0)
    a = MLPClassifier(**kw).fit(Xtr, ytr)
    b = MLPClassifier(dtype=np.float64, **kw).fit(Xtr, ytr)
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-4)


def test_same_random_state_gives_identical_models(digits):
    Xtr, Xte, ytr, _ = digits
    kw = dict(hidden_layer_sizes=(16,), max_iter=5, random_state=3)
    a = MLPClassifier(**kw).fit(Xtr, ytr)
    b = MLPClassifier(**kw).fit(Xtr, ytr)
    np.testing.assert_array_equal(a.predict_proba(Xte), b.predict_proba(Xte))
    c = MLPClassifier(**{**kw, "random_state": 4}).fit(Xtr, ytr)
    assert not np.array_equal(a.coefs_[0], c.coefs_[0])


def test_partial_fit_matches_fit_epoch_by_epoch(digits):
    Xtr, _, ytr, _ = digits
    kw = dict(hidden_layer_sizes=(16,), random_state=0, shuffle=False, dtype=np.float64)
    full = MLPClassifier(max_iter=3, **kw).fit(Xtr, ytr)
    inc = MLPClassifier(**kw)
    for _ in range(3):
        inc.partial_fit(Xtr, ytr, classes=np.unique(ytr))
    np.testing.assert_allclose(inc.loss_curve_, full.loss_curve_, rtol=1e-12)
    np.testing.assert_allclose(inc.coefs_[0], full.coefs_[0], rtol=1e-12)


def test_partial_fit_needs_classes_and_rejects_unseen_labels(digits):
    Xtr, _, ytr, _ = digits
    clf = MLPClassifier(hidden_layer_sizes=(8,))
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(Xtr, ytr)
    clf.partial_fit(Xtr[ytr < 5], ytr[ytr < 5], classes=np.arange(5))
    with pytest.raises(ValueError, match="`y` has classes not in `self.classes_`"):
        clf.partial_fit(Xtr, ytr)
    with pytest.raises(AttributeError, match="has no attribute 'partial_fit'"):
        MLPClassifier(solver="lbfgs").partial_fit


def test_warm_start_continues_and_checks_classes(digits):
    Xtr, _, ytr, _ = digits
    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=2, warm_start=True, random_state=0)
    clf.fit(Xtr, ytr)
    w0 = clf.coefs_[0].copy()
    clf.fit(Xtr, ytr)
    assert not np.array_equal(w0, clf.coefs_[0])
    assert len(clf.loss_curve_) == 4
    with pytest.raises(ValueError, match="warm_start can only be used"):
        clf.fit(Xtr[ytr < 5], ytr[ytr < 5])


def test_early_stopping_records_validation_and_keeps_best(digits):
    Xtr, _, ytr, _ = digits
    clf = MLPClassifier(hidden_layer_sizes=(32,), early_stopping=True, max_iter=200,
                        n_iter_no_change=3, random_state=0).fit(Xtr, ytr)
    assert clf.n_iter_ < 200
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.best_loss_ is None
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        clf.partial_fit(Xtr, ytr)


def test_verbose_prints_one_line_per_epoch(digits):
    Xtr, _, ytr, _ = digits
    out = io.StringIO()
    with redirect_stdout(out):
        MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, verbose=True, early_stopping=True,
                      n_iter_no_change=50, random_state=0).fit(Xtr, ytr)
    lines = [l for l in out.getvalue().splitlines() if l.startswith("Iteration")]
    assert len(lines) == 3
    assert "loss = " in lines[0] and "validation score = " in lines[0] and "time = " in lines[0]


def test_convergence_warning_when_max_iter_reached(digits):
    Xtr, _, ytr, _ = digits
    with pytest.warns(ConvergenceWarning, match="Maximum iterations \\(2\\)"):
        MLPClassifier(hidden_layer_sizes=(8,), max_iter=2).fit(Xtr, ytr)


def test_integer_sample_weight_equals_repeated_rows():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 5))
    y = (X[:, 0] > 0).astype(int)
    w = rng.integers(0, 3, 60)
    kw = dict(hidden_layer_sizes=(8,), solver="lbfgs", random_state=0, dtype=np.float64,
              max_iter=50)
    a = MLPClassifier(**kw).fit(X, y, sample_weight=w)
    b = MLPClassifier(**kw).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=1e-6, atol=1e-8)


def test_multilabel_and_string_labels():
    X, Y = make_multilabel_classification(n_samples=200, n_classes=4, random_state=0)
    clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=200, random_state=0).fit(X, Y)
    assert clf.out_activation_ == "logistic"
    assert clf.predict(X).shape == (200, 4)
    assert clf.score(X, Y) > 0.5
    y = np.where(X[:, 0] > np.median(X[:, 0]), "spam", "ham")
    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=200, random_state=0).fit(X, y)
    assert set(clf.predict(X)) <= {"spam", "ham"}
    assert list(clf.classes_) == ["ham", "spam"]
    assert clf.predict_proba(X).shape == (200, 2)
    assert clf.score(X, y) > 0.9


def test_multioutput_regression(regression):
    X, y = regression
    reg = MLPRegressor(hidden_layer_sizes=(32,), max_iter=300, random_state=0).fit(X, y)
    assert reg.predict(X).shape == (300, 2)
    assert reg.score(X, y) > 0.9
    reg1 = MLPRegressor(hidden_layer_sizes=(32,), max_iter=5).fit(X, y[:, 0])
    assert reg1.predict(X).shape == (300,)


def test_sparse_input_equals_dense(digits):
    Xtr, Xte, ytr, _ = digits
    kw = dict(hidden_layer_sizes=(16,), max_iter=3, random_state=0, dtype=np.float64)
    a = MLPClassifier(**kw).fit(sp.csr_matrix(Xtr), ytr)
    b = MLPClassifier(**kw).fit(Xtr, ytr)
    np.testing.assert_allclose(a.predict_proba(sp.csc_matrix(Xte)), b.predict_proba(Xte),
                               rtol=1e-10)


def test_pickle_round_trip_predicts_the_same(digits):
    Xtr, Xte, ytr, _ = digits
    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=5, random_state=0).fit(Xtr, ytr)
    clf2 = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(clf2.predict_proba(Xte), clf.predict_proba(Xte))
    clf2.partial_fit(Xtr, ytr)  # optimizer state survived too
    assert clf2.n_iter_ == clf.n_iter_ + 1


def test_concurrent_predict_equals_serial(digits):
    Xtr, Xte, ytr, _ = digits
    clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=5, random_state=0).fit(Xtr, ytr)
    expected = clf.predict_proba(Xte)
    results = [None] * 8

    def work(i):
        for _ in range(20):
            rows = slice(i * 10, i * 10 + 7 + i)
            np.testing.assert_array_equal(clf.predict_proba(Xte[rows]), expected[rows])
        results[i] = True

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(results)


def test_pipeline_and_grid_search(digits):
    Xtr, Xte, ytr, yte = digits
    pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=30, random_state=0))
    gs = GridSearchCV(pipe, {"mlpclassifier__hidden_layer_sizes": [(16,), (32,)]}, cv=2)
    gs.fit(Xtr, ytr)
    assert gs.score(Xte, yte) > 0.9


# -- bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize("bad, match", [
    (np.array([[np.nan, 1.0], [1.0, 2.0]]), "NaN"),
    (np.array([[np.inf, 1.0], [1.0, 2.0]]), "infinity"),
    (np.zeros((0, 2)), "0 sample"),
    (np.array([1.0, 2.0]), "Expected 2D array"),
])
def test_bad_fit_input_is_a_clear_error(bad, match):
    with pytest.raises(ValueError, match=match):
        MLPClassifier().fit(bad, np.arange(len(bad)) % 2)


def test_bad_predict_input_and_inputs_untouched(digits):
    Xtr, Xte, ytr, _ = digits
    Xc, yc = Xtr.copy(), ytr.copy()
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=2).fit(Xtr, ytr)
    np.testing.assert_array_equal(Xtr, Xc)
    np.testing.assert_array_equal(ytr, yc)
    with pytest.raises(ValueError, match="X has 10 features, but MLPClassifier is expecting 64"):
        clf.predict(Xte[:, :10])
    bad = Xte[:3].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.predict(bad)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        MLPClassifier().fit(Xtr, ytr[:-1])


@pytest.mark.parametrize("params, match", [
    (dict(hidden_layer_sizes=(0,)), "hidden_layer_sizes must be > 0"),
    (dict(solver="newton"), "'solver' parameter"),
    (dict(learning_rate_init=0.0), "'learning_rate_init' parameter"),
    (dict(dtype=np.float16), "'dtype' parameter"),
])
def test_invalid_parameters_are_named(params, match):
    with pytest.raises(ValueError, match=match):
        MLPClassifier(**params).fit(np.eye(3), [0, 1, 0])


def test_divergence_is_a_clear_error_and_weights_kept():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 3))
    y = X[:, 0] * 1e30
    reg = MLPRegressor(hidden_layer_sizes=(4,), solver="sgd", learning_rate_init=10.0,
                       max_iter=20, random_state=0)
    with pytest.raises(ValueError, match="diverged"):
        reg.fit(X, y)
    # a failed first fit leaves the estimator unfitted ...
    with pytest.raises(NotFittedError):
        reg.predict(X)
    # ... and a failed refit keeps the previous, finite weights
    reg.set_params(learning_rate_init=1e-3).fit(X, X[:, 0])
    before = [c.copy() for c in reg.coefs_]
    with pytest.raises(ValueError, match="diverged"):
        reg.set_params(learning_rate_init=10.0).fit(X, y)
    for c, b in zip(reg.coefs_, before):
        np.testing.assert_array_equal(c, b)
