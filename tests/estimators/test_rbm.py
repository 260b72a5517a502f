"""BernoulliRBM and GaussianBernoulliRBM: exact checks on tiny models, scikit-learn
drop-in behaviour, persistence, bad input and threads."""
import pickle

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import fastnut
from fastnut._kernels import rbm as K
from fastnut.rbm import BernoulliRBM, GaussianBernoulliRBM
from tests._reference import rbm as ref

# -- exact checks on tiny models ---------------------------------------------------
def test_free_energy_and_partition_function_exact():
    rng = np.random.RandomState(3)
    W = rng.normal(0, 1.0, (4, 6))
    bh, bv = rng.normal(0, 1, 4), rng.normal(0, 1, 6)
    V = ref.all_states(6)
    rbm = BernoulliRBM(n_components=4, n_iter=0, random_state=0).fit(V)
    rbm.components_[...] = W
    rbm.intercept_hidden_[...] = bh
    rbm.intercept_visible_[...] = bv
    fe = rbm.free_energy(V)
    np.testing.assert_allclose(fe, ref.free_energy_by_enumeration(V, W, bh, bv), rtol=1e-10)
    # log Z from the free energies equals log Z from the full joint enumeration
    H = ref.all_states(4)
    joint = [-ref.energy(v, h, W, bh, bv) for v in V for h in H]
    np.testing.assert_allclose(np.logaddexp.reduce(-fe), np.logaddexp.reduce(joint), rtol=1e-12)


def _target_distribution(rng, n_vis=8, n_proto=3, flip=0.1):
    """Mixture of noisy prototypes over {0,1}^n_vis, as exact probabilities."""
    protos = (rng.rand(n_proto, n_vis) < 0.5).astype(float)
    V = ref.all_states(n_vis)
    dist = (V[:, None, :] != protos[None]).sum(-1)
    p = (flip ** dist * (1 - flip) ** (n_vis - dist)).mean(1)
    return V, p / p.sum()


def _kl(p, q):
    return float(np.sum(p * (np.log(p) - np.log(q))))


def test_cd_update_points_along_exact_gradient():
    rng = np.random.RandomState(4)
    V, p = _target_distribution(rng)
    X = V[rng.choice(len(V), size=400, p=p)]
    rbm = BernoulliRBM(n_components=5, n_iter=0, random_state=0).fit(X)
    rbm.components_[...] = rng.normal(0, 0.5, rbm.components_.shape)
    W0 = rbm.components_.copy()
    gW, _, _ = ref.exact_gradient(X, W0, rbm.intercept_hidden_, rbm.intercept_visible_)
    # one CD-25 step over the whole data set as one batch of 400 chains
    rbm.set_params(method="cd", k=25, batch_size=400, learning_rate=1e-3)
    rbm.partial_fit(X)
    step = (rbm.components_ - W0).ravel()
    cos = step @ gW.ravel() / np.linalg.norm(step) / np.linalg.norm(gW)
    assert cos > 0.9


@pytest.mark.parametrize("method", ["pcd", "cd"])
def test_training_lowers_exact_kl(method):
    rng = np.random.RandomState(5)
    V, p = _target_distribution(rng)
    X = V[rng.choice(len(V), size=2000, p=p)]
    rbm = BernoulliRBM(n_components=6, n_iter=0, random_state=0).fit(X)
    q0 = ref.model_distribution(rbm.components_, rbm.intercept_hidden_, rbm.intercept_visible_)
    rbm.set_params(n_iter=30, learning_rate=0.05, momentum=0.5, method=method, k=3,
                   batch_size=20).fit(X)
    q = ref.model_distribution(rbm.components_, rbm.intercept_hidden_, rbm.intercept_visible_)
    kl0, kl = _kl(p, q0), _kl(p, q)
    assert kl < 0.25 * kl0, (kl0, kl)
    # free energy ranks the prototype states as likelier than the average state
    assert (p * np.log(q)).sum() > (p * np.log(q0)).sum()


# -- estimator behaviour ------------------------------------------------------------
@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def test_sklearn_digits_example_accuracy():
    """scikit-learn's "RBM features for digit classification" example, converged logistic."""
    from scipy.ndimage import convolve
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import minmax_scale

    X, y = load_digits(return_X_y=True)
    X = np.asarray(X, "float32")
    shifts = [[[0, 1, 0], [0, 0, 0], [0, 0, 0]], [[0, 0, 0], [1, 0, 0], [0, 0, 0]],
              [[0, 0, 0], [0, 0, 1], [0, 0, 0]], [[0, 0, 0], [0, 0, 0], [0, 1, 0]]]
    Xn = np.concatenate([X] + [np.apply_along_axis(
        lambda x, w: convolve(x.reshape((8, 8)), mode="constant", weights=w).ravel(), 1, X, w)
        for w in shifts])
    yn = np.concatenate([y] * 5)
    Xn = minmax_scale(Xn, feature_range=(0, 1))
    X_train, X_test, y_train, y_test = train_test_split(Xn, yn, test_size=0.2, random_state=0)
    model = Pipeline([
        ("rbm", BernoulliRBM(n_components=100, learning_rate=0.06, n_iter=10, random_state=0)),
        # the example's solver, run to convergence (its tol=1 stops after 0 iterations)
        ("logistic", LogisticRegression(C=6000, solver="newton-cg", max_iter=1000)),
    ])
    with threadpool_limits(limits=1):  # many BLAS threads on a busy machine are much slower
        model.fit(X_train, y_train)
    acc = model.score(X_test, y_test)
    assert acc >= 0.94, acc


def test_fit_is_deterministic_and_thread_independent():
    rng = np.random.RandomState(6)
    X = (rng.rand(600, 300) < 0.3).astype(np.float32)
    kw = dict(n_components=150, batch_size=200, n_iter=2, random_state=3, momentum=0.5)
    with threadpool_limits(limits=1, user_api="openmp"):
        a = BernoulliRBM(**kw).fit(X)
    b = BernoulliRBM(**kw).fit(X)
    np.testing.assert_array_equal(a.components_, b.components_)
    np.testing.assert_array_equal(a.h_samples_, b.h_samples_)


def test_partial_fit_chunks_train_like_fit(digits):
    X, _ = digits
    X = X[:1000]
    full = BernoulliRBM(n_components=50, learning_rate=0.05, n_iter=3, random_state=0).fit(X)
    part = BernoulliRBM(n_components=50, learning_rate=0.05, random_state=0)
    for _ in range(3):
        for i in range(0, 1000, 100):   # chunks of 100 rows, batch_size 10
            part.partial_fit(X[i:i + 100])
    np.testing.assert_allclose(part.components_, full.components_, rtol=1e-10, atol=1e-12)
    # and a chunk size that is no multiple of batch_size stays healthy (scikit-learn's saturates)
    odd = BernoulliRBM(n_components=50, learning_rate=0.05, random_state=0)
    for _ in range(3):
        for i in range(0, 1000, 37):
            odd.partial_fit(X[i:i + 37])
    H = odd.transform(X)
    assert 0.05 < H.mean() < 0.95
    assert np.abs(odd.components_).max() < 10
    assert odd.score_samples(X).mean() > full.score_samples(X).mean() - 5


def test_transform_gibbs_sample_shapes_and_values(digits):
    X, _ = digits
    rbm = BernoulliRBM(n_components=20, n_iter=2, random_state=0).fit(X)
    H = rbm.transform(X)
    np.testing.assert_allclose(H, ref.sigmoid(X @ rbm.components_.T + rbm.intercept_hidden_),
                               rtol=1e-10)
    G = rbm.gibbs(X[:5])
    assert G.dtype == bool and G.shape == (5, 64)
    assert not np.array_equal(rbm.gibbs(X[:5]), G) or not np.array_equal(rbm.gibbs(X[:5]), G)
    S = rbm.sample(7, n_steps=20, random_state=1)
    assert S.shape == (7, 64) and set(np.unique(S)) <= {0.0, 1.0}
    np.testing.assert_array_equal(S, rbm.sample(7, n_steps=20, random_state=1))
    R = rbm.inverse_transform(H)
    np.testing.assert_allclose(R, ref.sigmoid(H @ rbm.components_ + rbm.intercept_visible_),
                               rtol=1e-10)
    assert rbm.loss_curve_[-1] < rbm.loss_curve_[0]
    assert rbm.n_iter_ == 2


def test_score_samples_is_the_pseudo_likelihood_and_order_invariant(digits):
    X, _ = digits
    Xb = (X[:200] > 0.5).astype(float)
    rbm = BernoulliRBM(n_components=20, n_iter=2, random_state=0).fit(Xb)
    s = rbm.score_samples(Xb)
    idx = np.empty(200, np.intp)
    K.row_hash_index(Xb, rbm._score_key, idx)
    np.testing.assert_allclose(
        s, ref.pseudo_likelihood(Xb, idx, rbm.components_, rbm.intercept_hidden_,
                                 rbm.intercept_visible_), rtol=1e-8)
    perm = np.random.RandomState(0).permutation(200)
    np.testing.assert_allclose(rbm.score_samples(Xb[perm]), s[perm], rtol=1e-12)
    assert np.all(s <= 0)


def test_float32_matches_float64(digits):
    X, _ = digits
    a = BernoulliRBM(n_components=30, n_iter=3, random_state=0, dtype=np.float64).fit(X)
    b = BernoulliRBM(n_components=30, n_iter=3, random_state=0, dtype=np.float32).fit(X)
    assert b.components_.dtype == np.float32 and b.transform(X).dtype == np.float32
    # float32 draws two uniforms per 64-bit random word, float64 one: different
    # sample paths, the same quality
    assert abs(a.loss_curve_[-1] - b.loss_curve_[-1]) < 0.05 * a.loss_curve_[-1]
    pl_a, pl_b = a.score_samples(X).mean(), b.score_samples(X).mean()
    assert abs(pl_a - pl_b) < 0.1 * abs(pl_a)
    # with the same parameters, float32 computations agree with float64 ones
    c = BernoulliRBM(n_components=30, n_iter=0, dtype=np.float32).fit(X)
    c.components_[...] = a.components_
    c.intercept_hidden_[...] = a.intercept_hidden_
    c.intercept_visible_[...] = a.intercept_visible_
    np.testing.assert_allclose(c.transform(X), a.transform(X), atol=1e-5)
    np.testing.assert_allclose(c.free_energy(X), a.free_energy(X), rtol=1e-5)


def test_input_dtype_preserved_by_default():
    X = np.random.RandomState(0).rand(30, 5)
    assert BernoulliRBM(n_components=3, n_iter=1).fit(X.astype(np.float32)).components_.dtype \
        == np.float32
    assert BernoulliRBM(n_components=3, n_iter=1).fit(X).components_.dtype == np.float64


def test_bad_input_and_clipping():
    rng = np.random.RandomState(0)
    X = rng.rand(40, 6)
    rbm = BernoulliRBM(n_components=3, n_iter=2, random_state=0)
    with pytest.raises(ValueError, match="NaN"):
        rbm.fit(np.where(X > 0.9, np.nan, X))
    with pytest.raises(ValueError, match="infinity"):
        rbm.fit(np.where(X > 0.9, np.inf, X))
    rbm.fit(X)
    with pytest.raises(ValueError, match="6 features"):
        rbm.transform(X[:, :5])
    with pytest.raises(ValueError, match="shape"):
        rbm.inverse_transform(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="n_samples"):
        rbm.sample(0)
    with pytest.raises(ValueError, match="n_steps"):
        rbm.gibbs(X, n_steps=0)
    with pytest.raises(ValueError, match="method"):
        BernoulliRBM(method="foo").fit(X)
    with pytest.raises(ValueError, match="dtype"):
        BernoulliRBM(dtype=np.int32).fit(X)
    # values outside [0, 1] are clipped (documented), on a copy
    Xo = X * 3 - 1
    Xo_copy = Xo.copy()
    a = BernoulliRBM(n_components=3, n_iter=2, random_state=0).fit(Xo)
    b = BernoulliRBM(n_components=3, n_iter=2, random_state=0).fit(np.clip(Xo, 0, 1))
    np.testing.assert_array_equal(a.components_, b.components_)
    np.testing.assert_array_equal(Xo, Xo_copy)


def test_divergence_is_an_error_not_nan():
    X = np.random.RandomState(0).normal(size=(50, 4)) * 1e3
    with pytest.raises(fastnut.DivergenceError, match="learning_rate"):
        GaussianBernoulliRBM(n_components=3, learning_rate=1e3, standardize=False,
                             random_state=0).fit(X)


def test_pickle_roundtrip(digits):
    X, _ = digits
    rbm = BernoulliRBM(n_components=10, n_iter=1, random_state=0).fit(X)
    rbm2 = pickle.loads(pickle.dumps(rbm))
    np.testing.assert_array_equal(rbm.transform(X), rbm2.transform(X))
    rbm2.partial_fit(X[:50])   # still trainable after loading (Fortran-ordered weights)
    assert rbm2.components_.flags.f_contiguous


def test_sparse_input(digits):
    import scipy.sparse as sp
    X, _ = digits
    a = BernoulliRBM(n_components=10, n_iter=1, random_state=0).fit(X)
    b = BernoulliRBM(n_components=10, n_iter=1, random_state=0).fit(sp.csr_matrix(X))
    np.testing.assert_allclose(a.components_, b.components_)
    np.testing.assert_allclose(a.transform(X), b.transform(sp.csr_matrix(X)))


# -- Gaussian-Bernoulli --------------------------------------------------------------
def test_gaussian_rbm_standardizes_and_reconstructs():
    rng = np.random.RandomState(0)
    Z = rng.normal(size=(1000, 3))
    A = rng.normal(size=(3, 8))
    X = Z @ A * 5 + 10 + 0.1 * rng.normal(size=(1000, 8))
    g = GaussianBernoulliRBM(n_components=16, n_iter=20, learning_rate=0.005, random_state=0,
                             momentum=0.5).fit(X)
    np.testing.assert_allclose(g.mean_, X.mean(0), rtol=1e-10)
    np.testing.assert_allclose(g.scale_, X.std(0), rtol=1e-10)
    R = g.inverse_transform(g.transform(X))
    # the reconstruction explains most of the variance, in the input's units
    r2 = 1 - ((R - X) ** 2).sum() / ((X - X.mean(0)) ** 2).sum()
    assert r2 > 0.6, r2
    assert g.loss_curve_[-1] < g.loss_curve_[0]
    S = g.sample(200, n_steps=50, random_state=0)
    assert S.shape == (200, 8) and abs(S.mean() - X.mean()) < 3 * X.std()
    # free energy in standardised units matches the closed form
    Xs = (X[:5] - g.mean_) / g.scale_
    np.testing.assert_allclose(g.score_samples(X[:5]),
                               -ref.free_energy(Xs, g.components_, g.intercept_hidden_,
                                                g.intercept_visible_, gaussian=True), rtol=1e-8)


def test_gaussian_rbm_mean_field_visible():
    X = np.random.RandomState(0).normal(size=(200, 5))
    g = GaussianBernoulliRBM(n_components=4, n_iter=3, sample_visible=False, random_state=0)
    g.fit(X)
    assert np.isfinite(g.components_).all()
    assert g.transform(X).shape == (200, 4)


def test_gaussian_rbm_learned_sigma():
    rng = np.random.RandomState(0)
    A = rng.normal(size=(3, 8))
    X = rng.normal(size=(1500, 3)) @ A * 5 + 10 + 0.3 * rng.normal(size=(1500, 8))
    X_copy = X.copy()
    kw = dict(n_components=32, n_iter=20, learning_rate=0.005, momentum=0.5, random_state=0)
    fixed = GaussianBernoulliRBM(**kw).fit(X)
    g = GaussianBernoulliRBM(learn_sigma=True, **kw).fit(X)
    np.testing.assert_array_equal(X, X_copy)          # rescaling works on the model's copy
    np.testing.assert_array_equal(fixed.sigma_, 1.0)
    # low-noise data: the learned visible standard deviations shrink below 1
    assert np.all(g.sigma_ < 0.99) and np.all(g.sigma_ > 0.5)
    # every method works in the units u = (X - mean_) / (scale_ * sigma_)
    U = (X[:10] - g.mean_) / (g.scale_ * g.sigma_)
    np.testing.assert_allclose(g.transform(X[:10]),
                               ref.sigmoid(U @ g.components_.T + g.intercept_hidden_), rtol=1e-8)
    np.testing.assert_allclose(
        g.score_samples(X[:10]),
        -ref.free_energy(U, g.components_, g.intercept_hidden_, g.intercept_visible_,
                         gaussian=True) - np.log(g.sigma_).sum(), rtol=1e-8)
    R = g.inverse_transform(g.transform(X))
    R0 = fixed.inverse_transform(fixed.transform(X))
    assert ((R - X) ** 2).sum() < ((R0 - X) ** 2).sum()


def test_concurrent_fit_and_transform_match_serial(digits):
    from concurrent.futures import ThreadPoolExecutor
    X, _ = digits
    kw = dict(n_components=30, n_iter=2, random_state=0)
    serial = BernoulliRBM(**kw).fit(X)
    with ThreadPoolExecutor(4) as pool:
        fits = list(pool.map(lambda _: BernoulliRBM(**kw).fit(X), range(4)))
        outs = list(pool.map(lambda _: serial.transform(X), range(4)))
    for f in fits:
        np.testing.assert_array_equal(f.components_, serial.components_)
    for out in outs:
        np.testing.assert_array_equal(out, serial.transform(X))


def test_drop_in_parameters_and_initial_weights_match_scikit_learn(digits):
    from sklearn.neural_network import BernoulliRBM as SkRBM
    X, _ = digits
    sk_params = SkRBM().get_params()
    ours = BernoulliRBM().get_params()
    assert {k: ours[k] for k in sk_params} == sk_params        # same names and defaults
    a = BernoulliRBM(n_components=7, n_iter=0, random_state=3).fit(X)
    b = SkRBM(n_components=7, n_iter=0, random_state=3).fit(X)
    np.testing.assert_array_equal(a.components_, b.components_)
    assert a.h_samples_.shape == b.h_samples_.shape
    assert list(a.get_feature_names_out()) == list(b.get_feature_names_out())
