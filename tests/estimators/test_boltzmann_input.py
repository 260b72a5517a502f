"""What the Boltzmann machines' methods accept and refuse (issue 13, item 6).

``inverse_transform`` takes what ``transform`` takes (2-D, dense or sparse,
at least one row, finite, real) and says what is wrong otherwise; the
private helpers scikit-learn's own tests call (``_mean_hiddens``,
``_sample_hiddens``, ``_mean_visibles``, ``_sample_visibles``,
``_free_energy``, ``gibbs``) take 1-D, non-contiguous, any float dtype and
sparse input, as scikit-learn's do, instead of reaching a kernel unchecked.
"""
import numpy as np
import pytest
import scipy.sparse as sp

from fastnut import BernoulliRBM, DeepBeliefNetwork, GaussianBernoulliRBM

rng = np.random.RandomState(0)
X = (rng.rand(60, 12) < 0.4).astype(np.float64)


@pytest.fixture(scope="module")
def rbm():
    return BernoulliRBM(n_components=5, n_iter=2, random_state=0, dtype=np.float32).fit(X)


@pytest.fixture(scope="module")
def dbn():
    return DeepBeliefNetwork(hidden_layer_sizes=(6, 4), n_iter=2, random_state=0).fit(X)


def _bad_codes(k):
    nan = np.full((3, k), 0.5)
    nan[1, 2] = np.nan
    inf = np.full((3, k), 0.5)
    inf[0, 0] = np.inf
    return [
        (nan, "Input X contains NaN"),
        (inf, "Input X contains infinity"),
        (np.full((3, k), 0.5 + 1j), "Complex data not supported"),
        (np.empty((0, k)), "0 sample"),
        (np.full(k, 0.5), "Expected 2D array, got 1D array"),
    ]


@pytest.mark.parametrize("which", ["rbm", "dbn"])
def test_inverse_transform_refuses_bad_input(request, which):
    est = request.getfixturevalue(which)
    k = est.transform(X[:1]).shape[1]
    for H, msg in _bad_codes(k):
        with pytest.raises(ValueError, match=msg):
            est.inverse_transform(H)
    with pytest.raises(ValueError, match=f"shape \\(n_samples, {k}\\)"):
        est.inverse_transform(np.full((3, k + 1), 0.5))


@pytest.mark.parametrize("which", ["rbm", "dbn"])
def test_inverse_transform_takes_sparse_like_transform(request, which):
    est = request.getfixturevalue(which)
    H = est.transform(X[:7])
    H[H < 0.5] = 0
    for container in (sp.csr_matrix, sp.csc_matrix, sp.coo_matrix):
        np.testing.assert_allclose(est.inverse_transform(container(H)),
                                   est.inverse_transform(H), rtol=1e-6)
    # Fortran order and float64 codes give what C-ordered float32 codes give
    np.testing.assert_allclose(est.inverse_transform(np.asfortranarray(H, np.float64)),
                               est.inverse_transform(H), rtol=1e-6)


def test_private_helpers_take_what_scikit_learns_take(rbm):
    v = X[3]
    h = rbm._mean_hiddens(v)
    assert h.shape == (5,) and h.dtype == np.float32
    np.testing.assert_allclose(h, rbm.transform(X[3:4])[0], rtol=1e-6)
    Xf = np.asfortranarray(X)
    np.testing.assert_allclose(rbm._mean_hiddens(Xf), rbm.transform(X), rtol=1e-6)
    np.testing.assert_allclose(rbm._mean_hiddens(X[:, ::1][::2]), rbm.transform(X[::2]),
                               rtol=1e-6)
    np.testing.assert_allclose(rbm._mean_hiddens(sp.csc_matrix(X)), rbm.transform(X),
                               rtol=1e-6)
    s = rbm._sample_hiddens(v, np.random.RandomState(1))
    assert s.shape == (5,) and s.dtype == bool
    mv = rbm._mean_visibles(h.astype(np.float64))        # float64 hidden, float32 model
    assert mv.shape == (12,) and mv.dtype == np.float32
    np.testing.assert_allclose(rbm._mean_visibles(h[None]), mv[None], rtol=1e-6)
    sv = rbm._sample_visibles(h, np.random.RandomState(1))
    assert sv.shape == (12,) and sv.dtype == bool
    fe = rbm._free_energy(np.asfortranarray(X[:4]))
    np.testing.assert_allclose(fe, rbm.free_energy(X[:4]), rtol=1e-6)
    np.testing.assert_allclose(rbm._free_energy(sp.csr_matrix(X[:4])), fe, rtol=1e-6)
    g = rbm.gibbs(v)
    assert g.shape == (12,) and g.dtype == bool
    with pytest.raises(ValueError, match=r"expects \(n_samples, 12\) or \(12,\)"):
        rbm._mean_hiddens(np.ones(11))
    with pytest.raises(ValueError, match="must be numeric"):
        rbm._mean_hiddens(np.array(["a"] * 12))


def test_gaussian_rbm_inverse_transform_and_score_checked():
    Xg = rng.normal(size=(40, 6))
    g = GaussianBernoulliRBM(n_components=3, n_iter=2, random_state=0).fit(Xg)
    H = g.transform(Xg[:5])
    np.testing.assert_allclose(g.inverse_transform(sp.csr_matrix(H)),
                               g.inverse_transform(H), rtol=1e-6)
    bad = Xg[:5].copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        g.score_samples(bad)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        g.transform(bad)
