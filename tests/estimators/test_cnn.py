"""CNNClassifier / CNNRegressor: accuracy, input forms, pipelines, bad input, persistence."""
import pickle
import threading
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fastnut import CNNClassifier, CNNRegressor, nn

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def test_plateau_rule_when_asked_reaches_098_on_digits(digits):
    X, y = digits
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    clf = CNNClassifier(input_shape=(1, 8, 8), n_iter_no_change=10,
                        random_state=0).fit(Xtr, ytr)
    assert clf.score(Xte, yte) >= 0.98
    assert clf.n_iter_ < clf.max_iter  # stopped on its own
    assert len(clf.loss_curve_) == clf.n_iter_
    assert clf.image_shape_ == (1, 8, 8) and clf.n_features_in_ == 64


def test_default_runs_every_requested_epoch(digits):
    # no loss-plateau stop unless asked (n_iter_no_change=None), and no
    # ConvergenceWarning for doing what was asked
    X, y = digits
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = CNNClassifier(input_shape=(1, 8, 8), conv_layers=((4, 3),), hidden_layer_sizes=(),
                            tol=10.0, max_iter=12, random_state=0).fit(X[:200], y[:200])
    assert clf.n_iter_ == 12 and len(clf.loss_curve_) == 12


@pytest.mark.slow
def test_defaults_reach_098_on_digits(digits):
    X, y = digits
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    clf = CNNClassifier(input_shape=(1, 8, 8), random_state=0).fit(Xtr, ytr)
    assert clf.score(Xte, yte) >= 0.98
    assert clf.n_iter_ == clf.max_iter  # every requested epoch
    assert clf.image_shape_ == (1, 8, 8) and clf.n_features_in_ == 64


def test_input_forms_give_the_same_model(digits):
    X, y = digits
    X, y = X[:200], y[:200]
    kw = dict(conv_layers=((4, 3),), hidden_layer_sizes=(), max_iter=3, random_state=0)
    forms = {
        "flat+input_shape": (CNNClassifier(input_shape=(1, 8, 8), **kw), X),
        "flat square": (CNNClassifier(**kw), X),
        "(n, H, W)": (CNNClassifier(**kw), X.reshape(-1, 8, 8)),
        "(n, C, H, W)": (CNNClassifier(**kw), X.reshape(-1, 1, 8, 8)),
        "-1 in input_shape": (CNNClassifier(input_shape=(1, -1, 8), **kw), X),
    }
    probas = {}
    for name, (clf, Xf) in forms.items():
        probas[name] = clf.fit(Xf, y).predict_proba(Xf)
        assert clf.image_shape_ == (1, 8, 8), name
        # any form is accepted at predict time once the image shape is known
        np.testing.assert_array_equal(clf.predict_proba(X.reshape(-1, 1, 8, 8)), probas[name])
    for name, P in probas.items():
        np.testing.assert_allclose(P, probas["flat+input_shape"], rtol=1e-5, atol=1e-6,
                                   err_msg=name)


def test_multichannel_images_and_pool_options():
    rng = np.random.default_rng(0)
    X = rng.random((60, 3, 5, 7))
    y = (X[:, 0].mean(axis=(1, 2)) > X[:, 2].mean(axis=(1, 2))).astype(int)
    for pool in ("max", "avg", None):
        clf = CNNClassifier(conv_layers=((4, 3), (4, (3, 1))), pool=pool, max_iter=5,
                            random_state=0).fit(X, y)
        assert clf.n_features_in_ == 3 * 5 * 7
        assert clf.predict(X.reshape(60, -1)).shape == (60,)
        kinds = [type(l) for l in clf.network_.layers]
        assert (nn.MaxPool2D in kinds) == (pool == "max")
        assert (nn.AvgPool2D in kinds) == (pool == "avg")
    # pooling windows are clipped to small feature maps: 5x7 -> 2x3 -> 1x1 (window 2x3)
    clf = CNNClassifier(conv_layers=((2, 3),) * 3, max_iter=2, random_state=0).fit(X, y)
    pools = [l.pool_size for l in clf.network_.layers if isinstance(l, nn.MaxPool2D)]
    assert pools == [(2, 2), (2, 2)]


def test_pipeline_with_scaler_and_grid_search(digits):
    X, y = digits
    X, y = X[:600], y[:600]
    pipe = make_pipeline(StandardScaler(), CNNClassifier(input_shape=(1, 8, 8),
                                                         conv_layers=((8, 3),),
                                                         hidden_layer_sizes=(),
                                                         batch_size=32, max_iter=30,
                                                         random_state=0))
    search = GridSearchCV(pipe, {"cnnclassifier__pool": ["max", "avg"]}, cv=2, n_jobs=2)
    search.fit(X, y)
    assert search.best_score_ > 0.7  # chance is 0.1; 300 training images, 8 filters
    assert search.predict(X).shape == (600,)


def test_partial_fit_and_warm_start(digits):
    X, y = digits
    clf = CNNClassifier(input_shape=(1, 8, 8), conv_layers=((4, 3),), random_state=0)
    clf.partial_fit(X[:100], y[:100], classes=np.arange(10))
    losses = []
    for _ in range(5):
        clf.partial_fit(X[:300], y[:300])
        losses.append(clf.loss_)
    assert losses[-1] < losses[0]
    with pytest.raises(ValueError, match="classes"):
        CNNClassifier(input_shape=(1, 8, 8)).partial_fit(X[:10], y[:10])
    with pytest.raises(ValueError, match="input_shape|features"):
        clf.partial_fit(X[:10, :32], y[:10])


def test_regressor():
    rng = np.random.default_rng(0)
    X = rng.random((300, 1, 6, 6))
    y = 10 * np.c_[X[:, 0, :3].mean(axis=(1, 2)) - X[:, 0, 3:].mean(axis=(1, 2)),
                   X[:, 0, :, :2].mean(axis=(1, 2))]
    reg = CNNRegressor(conv_layers=((8, 3),), batch_size=32, max_iter=100,
                       random_state=0).fit(X, y)
    assert reg.predict(X).shape == (300, 2)
    assert reg.score(X, y) > 0.8
    reg1 = CNNRegressor(conv_layers=((8, 3),), max_iter=5, random_state=0).fit(X, y[:, 0])
    assert reg1.predict(X).shape == (300,)


def test_bad_input_messages(digits):
    X, y = digits
    with pytest.raises(ValueError, match=r"cannot infer the image shape.*input_shape=\(C, H, W\)"):
        CNNClassifier().fit(X[:20, :60], y[:20])
    with pytest.raises(ValueError, match=r"needs C\*H\*W = 49"):
        CNNClassifier(input_shape=(1, 7, 7)).fit(X[:20], y[:20])
    with pytest.raises(ValueError, match="input_shape must be"):
        CNNClassifier(input_shape=(8, 8)).fit(X[:20], y[:20])
    with pytest.raises(ValueError, match=r"images of shape \(C, H, W\) = \(2, 4, 8\)"):
        CNNClassifier(input_shape=(1, 8, 8)).fit(X[:20].reshape(20, 2, 4, 8), y[:20])
    with pytest.raises(ValueError, match="5 dimensions"):
        CNNClassifier().fit(np.zeros((4, 1, 2, 2, 2)), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="NaN"):
        Xn = X[:20].copy()
        Xn[3, 5] = np.nan
        CNNClassifier(input_shape=(1, 8, 8)).fit(Xn, y[:20])
    with pytest.raises(ValueError, match="conv_layers"):
        CNNClassifier(input_shape=(1, 8, 8), conv_layers=(16, 3)).fit(X[:20], y[:20])
    with pytest.raises(ValueError, match="shrink"):
        CNNClassifier(input_shape=(1, 8, 8), conv_layers=((2, 5),) * 2,
                      padding="valid").fit(X[:20], y[:20])
    clf = CNNClassifier(input_shape=(1, 8, 8), conv_layers=((2, 3),), max_iter=1).fit(X[:20], y[:20])
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:5, :49])
    with pytest.raises(ValueError, match=r"\(C, H, W\) = \(1, 7, 7\)"):
        clf.predict(X[:5, :49].reshape(5, 1, 7, 7))
    with pytest.raises(NotFittedError):
        CNNClassifier().predict(X[:5])


def test_inputs_are_not_modified(digits):
    X, y = digits
    X4 = X[:50].reshape(50, 1, 8, 8).astype(np.float32)
    X4.setflags(write=False)
    before = X4.copy()
    clf = CNNClassifier(conv_layers=((2, 3),), max_iter=2, random_state=0).fit(X4, y[:50])
    clf.predict(X4)
    np.testing.assert_array_equal(X4, before)


def test_pickle_and_thread_safe_predict(digits):
    X, y = digits
    clf = CNNClassifier(input_shape=(1, 8, 8), conv_layers=((4, 3),), max_iter=3,
                        random_state=0).fit(X[:300], y[:300])
    P = clf.predict_proba(X)
    clone = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(clone.predict_proba(X), P)
    results = [None] * 4

    def work(k):
        results[k] = clf.predict_proba(X[k * 400:(k + 1) * 400])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    np.testing.assert_array_equal(np.vstack(results), P[:1600])


def test_same_seed_same_model_and_float64(digits):
    X, y = digits
    kw = dict(input_shape=(1, 8, 8), conv_layers=((4, 3),), max_iter=3, random_state=1)
    a = CNNClassifier(**kw).fit(X[:200], y[:200]).predict_proba(X)
    b = CNNClassifier(**kw).fit(X[:200], y[:200]).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    c = CNNClassifier(dtype=np.float64, **kw).fit(X[:200], y[:200])
    assert c.network_.layers[0].params["weight"].dtype == np.float64
    np.testing.assert_allclose(c.predict_proba(X), a, atol=1e-3)


@pytest.mark.parametrize("Est", [CNNClassifier, CNNRegressor])
def test_sample_weight_equivalence_in_float64(Est):
    from sklearn.utils.estimator_checks import check_sample_weight_equivalence_on_dense_data
    est = Est(input_shape=(1, 1, -1), conv_layers=((4, 3),), hidden_layer_sizes=(16,),
              max_iter=50, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check_sample_weight_equivalence_on_dense_data(Est.__name__, est)


def test_plot_filters(digits):
    pytest.importorskip("matplotlib")
    import matplotlib
    matplotlib.use("Agg")
    from fastnut.plotting import plot_filters
    X, y = digits
    clf = CNNClassifier(input_shape=(1, 8, 8), conv_layers=((6, 3),), max_iter=1).fit(X[:50], y[:50])
    fig = plot_filters(clf, n_cols=4, title="first layer")
    assert len(fig.axes) == 6
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(),
                               (lambda f: (f - f.min()) / np.ptp(f))(
                                   clf.network_.layers[0].params["weight"][0, 0].astype(float)))
    with pytest.raises(NotFittedError):
        plot_filters(CNNClassifier())
    with pytest.raises(ValueError, match="C_out, C_in, kh, kw"):
        plot_filters(np.zeros((3, 3)))
