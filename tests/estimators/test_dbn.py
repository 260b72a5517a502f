"""Tests of DeepBeliefNetwork, DeepBoltzmannMachine and DBNClassifier."""
import pickle
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from fastnut import BernoulliRBM, DBNClassifier, DeepBeliefNetwork, DeepBoltzmannMachine
from tests._reference import rbm as ref


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


# -- DeepBeliefNetwork ---------------------------------------------------------------------
def test_dbn_is_a_stack_of_rbms(digits):
    X, _ = digits
    X = X[:400]
    kw = dict(learning_rate=0.05, batch_size=10, n_iter=2, k=1, method="cd", momentum=0.5,
              weight_decay=1e-4)
    dbn = DeepBeliefNetwork((20, 10), random_state=0, dtype=np.float64, **kw).fit(X)
    # layer i is a BernoulliRBM seeded from the DBN's generator, trained on the means below
    rng = np.random.RandomState(0)
    H = X
    for i, size in enumerate((20, 10)):
        rbm = BernoulliRBM(n_components=size, random_state=rng.randint(np.iinfo(np.int32).max),
                           dtype=np.float64, **kw).fit(H)
        np.testing.assert_allclose(dbn.coefs_[i], rbm.components_.T, rtol=1e-12)
        np.testing.assert_allclose(dbn.intercepts_[i], rbm.intercept_hidden_, rtol=1e-12)
        np.testing.assert_allclose(dbn.generative_intercepts_[i], rbm.intercept_visible_,
                                   rtol=1e-12)
        H = rbm.transform(H)
    np.testing.assert_allclose(dbn.transform(X), H, rtol=1e-10)
    # tied before fine-tuning
    np.testing.assert_array_equal(dbn.generative_coefs_[0], dbn.coefs_[0])
    assert dbn.get_feature_names_out().tolist() == [f"deepbeliefnetwork{i}" for i in range(10)]


def test_dbn_up_down_fine_tuning_lowers_reconstruction_error(digits):
    X, _ = digits
    dbn = DeepBeliefNetwork((32, 16), n_iter=3, fine_tune_iter=4, random_state=0).fit(X[:600])
    assert len(dbn.loss_curve_) == 5
    assert dbn.loss_curve_[-1] < dbn.loss_curve_[0]
    assert not np.allclose(dbn.generative_coefs_[0], dbn.coefs_[0])   # untied
    R = dbn.inverse_transform(dbn.transform(X[:5]))
    assert R.shape == (5, 64) and np.all((R >= 0) & (R <= 1))


def test_dbn_sample(digits):
    X, _ = digits
    dbn = DeepBeliefNetwork((16, 8), n_iter=2, random_state=0).fit(X[:300])
    S = dbn.sample(6, n_steps=10, random_state=3)
    assert S.shape == (6, 64) and set(np.unique(S)) <= {0.0, 1.0}
    np.testing.assert_array_equal(S, dbn.sample(6, n_steps=10, random_state=3))
    a, b = dbn.sample(6, n_steps=10), dbn.sample(6, n_steps=10)   # own stream advances
    assert not np.array_equal(a, b)
    with pytest.raises(ValueError, match="n_steps"):
        dbn.sample(2, n_steps=0)


def test_dbn_bad_input_and_pickle(digits):
    X, _ = digits
    dbn = DeepBeliefNetwork((8,), n_iter=1, random_state=0).fit(X[:100])
    with pytest.raises(ValueError, match="64 features"):
        dbn.transform(X[:3, :10])
    with pytest.raises(ValueError, match="shape"):
        dbn.inverse_transform(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        DeepBeliefNetwork(hidden_layer_sizes=(4, 0)).fit(X[:20])
    X2 = X[:100] * 2
    X2_copy = X2.copy()
    DeepBeliefNetwork((8,), n_iter=1, random_state=0).fit(X2)   # clipped on a copy
    np.testing.assert_array_equal(X2, X2_copy)
    dbn2 = pickle.loads(pickle.dumps(dbn))
    np.testing.assert_array_equal(dbn.transform(X[:10]), dbn2.transform(X[:10]))


# -- DeepBoltzmannMachine ----------------------------------------------------------------
def _dbm_visible_distribution(dbm):
    """p(v) of a tiny DBM with two hidden layers, by enumerating every state."""
    W1, W2 = dbm.coefs_
    b0, (b1, b2) = dbm.intercept_visible_, dbm.intercepts_
    V, H1, H2 = (ref.all_states(n) for n in (W1.shape[0], W1.shape[1], W2.shape[1]))
    # sum over h2 in closed form: log sum_h2 exp(h1 W2 h2 + b2 h2) = sum softplus(h1 W2 + b2)
    f1 = H1 @ b1 + np.logaddexp(0, H1 @ W2 + b2).sum(1)           # (n_h1,)
    logp = np.array([np.logaddexp.reduce(v @ b0 + (v @ W1) @ H1.T + f1) for v in V])
    logp -= np.logaddexp.reduce(logp)
    return np.exp(logp)


def test_dbm_training_lowers_exact_kl():
    rng = np.random.RandomState(0)
    protos = (rng.rand(3, 7) < 0.5).astype(float)
    V = ref.all_states(7)
    dist = (V[:, None, :] != protos[None]).sum(-1)
    p = (0.1 ** dist * 0.9 ** (7 - dist)).mean(1)
    p /= p.sum()
    X = V[rng.choice(len(V), size=2000, p=p)]
    kw = dict(hidden_layer_sizes=(5, 3), batch_size=20, n_chains=50, learning_rate=0.05,
              pretrain=False, random_state=0, dtype=np.float64)
    dbm0 = DeepBoltzmannMachine(n_iter=0, **kw).fit(X)
    dbm = DeepBoltzmannMachine(n_iter=15, **kw).fit(X)
    kl = [float(np.sum(p * np.log(p / _dbm_visible_distribution(m)))) for m in (dbm0, dbm)]
    assert kl[1] < 0.5 * kl[0], kl


def test_dbm_mean_field_is_a_fixed_point(digits):
    X, _ = digits
    dbm = DeepBoltzmannMachine((16, 8), n_iter=2, pretrain_iter=2, n_mean_field=30,
                               random_state=0, dtype=np.float64).fit(X[:300])
    mu1, mu2 = dbm.posteriors(X[:20])
    (W1, W2), (b1, b2) = dbm.coefs_, dbm.intercepts_
    np.testing.assert_allclose(mu1, ref.sigmoid(X[:20] @ W1 + mu2 @ W2.T + b1), atol=1e-3)
    np.testing.assert_allclose(mu2, ref.sigmoid(mu1 @ W2 + b2), atol=1e-3)
    np.testing.assert_array_equal(dbm.transform(X[:20]), mu2)
    S = dbm.sample(4, n_steps=5, random_state=0)
    assert S.shape == (4, 64) and set(np.unique(S)) <= {0.0, 1.0}


# -- DBNClassifier ---------------------------------------------------------------------------
def test_dbn_classifier_digits_accuracy(digits):
    X, y = digits
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y,
                                                        random_state=0)
    # one BLAS thread: the fine-tuning's small GEMMs are much slower on several
    with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
        warnings.simplefilter("ignore")
        clf = DBNClassifier(random_state=0).fit(X_train, y_train)
    assert clf.score(X_test, y_test) >= 0.97


def test_dbn_classifier_starts_from_pretrained_weights(digits):
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = DBNClassifier((24,), rbm_n_iter=3, max_iter=1, learning_rate_init=1e-4,
                            random_state=0).fit(X[:500], y[:500])
    W = clf.network_.layers[0].params["weight"]
    assert W.shape == (64, 24) == clf.pretrained_coefs_[0].shape
    np.testing.assert_allclose(W, clf.pretrained_coefs_[0], atol=5e-3)
    assert clf.predict_proba(X[:3]).shape == (3, 10)


def test_plot_rbm_components(digits):
    pytest.importorskip("matplotlib")
    import matplotlib
    matplotlib.use("Agg")
    from fastnut.plotting import plot_rbm_components
    X, y = digits
    rbm = BernoulliRBM(n_components=12, n_iter=1, random_state=0).fit(X[:200])
    fig = plot_rbm_components(rbm, n_cols=4, title="RBM")
    assert len(fig.axes) == 12
    dbn = DeepBeliefNetwork((10, 4), n_iter=1, random_state=0).fit(X[:200])
    assert len(plot_rbm_components(dbn, n_components=6).axes) == 6
    with pytest.raises(ValueError, match="image_shape"):   # 10 features: not a square image
        plot_rbm_components(BernoulliRBM(n_components=2, n_iter=1).fit(X[:50, :10]))
    assert len(plot_rbm_components(BernoulliRBM(n_components=2, n_iter=1).fit(X[:50, :10]),
                                   image_shape=(2, 5)).axes) == 2


def test_dbm_pretraining_helps(digits):
    X, y = digits
    kw = dict(hidden_layer_sizes=(32, 16), n_iter=3, pretrain_iter=3, random_state=0)
    pre = DeepBoltzmannMachine(**kw).fit(X[:800])
    raw = DeepBoltzmannMachine(pretrain=False, **kw).fit(X[:800])
    assert pre.loss_curve_[-1] < 0.75 * raw.loss_curve_[-1]


def test_greedy_pretrain_input_scales_reach_the_kernel(digits):
    from fastnut._boltzmann import greedy_pretrain
    X, _ = digits
    X = X[:300]
    kw = dict(learning_rate=0.05, batch_size=10, n_iter=1, k=1, method="cd", momentum=0.0,
              weight_decay=0.0)
    plain = greedy_pretrain(X, [8], rng=np.random.RandomState(0), **kw)[0][0]
    doubled = greedy_pretrain(X, [8], rng=np.random.RandomState(0), input_scales=[(2, 1)],
                              **kw)[0][0]
    assert not np.allclose(plain, doubled)
    # (1, 1) is the plain RBM
    same = greedy_pretrain(X, [8], rng=np.random.RandomState(0), input_scales=[(1, 1)], **kw)
    np.testing.assert_array_equal(same[0][0], plain)
