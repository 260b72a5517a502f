"""RBM kernels: the counter-based generator, epochs, Gibbs chains, conditionals,
free energies and the float32 sigmoid, against the NumPy oracles in tests/_reference/rbm.py."""
import numpy as np
import pytest

from fastnut._kernels import rbm as K
from fastnut.rbm import _batch_starts
from tests._reference import rbm as ref

def kernel_draw(key, dtype):
    """The kernel's own random numbers, as the reference's draw callback."""
    def draw(kind, stream, n, m):
        if kind == "uniform":
            out = np.empty((n, m), dtype=dtype)
            K.random_uniform(out, key, stream, 1)
        else:
            out = np.empty((n, m), dtype=np.float64)
            K.random_normal(out, key, stream, 1)
        return out
    return draw


# -- the counter-based generator ---------------------------------------------------
def test_random_matches_pure_python_definition():
    key, stream = 123456789, 42
    out64 = np.empty((3, 5))
    K.random_uniform(out64, key, stream, 1)
    out32 = np.empty((3, 5), np.float32)
    K.random_uniform(out32, key, stream, 1)
    for i in range(3):
        for j in range(5):
            assert out64[i, j] == ref.uniform_double(key, stream + i, j)
            assert out32[i, j] == ref.uniform_float(key, stream + i, j)


def test_random_uniformity_and_independence():
    U = np.empty((400, 500))
    K.random_uniform(U, 7, 0, 2)
    u = U.ravel()
    assert u.min() >= 0 and u.max() < 1
    # chi-square over 100 bins: 200,000 draws, 99 dof -> mean 99, sd 14
    counts = np.bincount((u * 100).astype(int), minlength=100)
    chi2 = ((counts - u.size / 100) ** 2 / (u.size / 100)).sum()
    assert chi2 < 99 + 5 * 14
    # moments and neighbour correlation along a stream and across streams
    assert abs(u.mean() - 0.5) < 0.003
    assert abs(u.var() - 1 / 12) < 0.001
    assert abs(np.corrcoef(U[:, :-1].ravel(), U[:, 1:].ravel())[0, 1]) < 0.01
    assert abs(np.corrcoef(U[:-1].ravel(), U[1:].ravel())[0, 1]) < 0.01
    # another key gives other numbers
    U2 = np.empty_like(U)
    K.random_uniform(U2, 8, 0, 1)
    assert abs(np.corrcoef(u, U2.ravel())[0, 1]) < 0.01
    Z = np.empty((200, 500))
    K.random_normal(Z, 7, 0, 2)
    assert abs(Z.mean()) < 0.01 and abs(Z.std() - 1) < 0.01
    assert abs(np.mean(Z ** 4) - 3) < 0.1


def test_random_does_not_depend_on_threads():
    a = np.empty((300, 300))
    b = np.empty((300, 300))
    K.random_uniform(a, 5, 10, 1)
    K.random_uniform(b, 5, 10, 2)
    np.testing.assert_array_equal(a, b)


# -- kernels against the NumPy oracle ----------------------------------------------
def _setup(rng, n, n_vis, n_hid, dtype, n_chains):
    X = (rng.rand(n, n_vis) < 0.4).astype(dtype)
    W = rng.normal(0, 0.3, (n_hid, n_vis)).astype(dtype)
    bh = rng.normal(0, 0.2, n_hid).astype(dtype)
    bv = rng.normal(0, 0.2, n_vis).astype(dtype)
    chains = (rng.rand(n_chains, n_hid) < 0.5).astype(dtype)
    return X, W, bh, bv, chains


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("persistent", [True, False])
@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("momentum, weight_decay", [(0.0, 0.0), (0.5, 0.01)])
@pytest.mark.parametrize("visible_type", [0, 1, 2])
def test_fit_epoch_matches_reference(dtype, persistent, k, momentum, weight_decay, visible_type):
    scales = (2.0, 1.0) if k == 3 else (1.0, 2.0) if momentum else (1.0, 1.0)
    rng = np.random.RandomState(0)
    n, n_vis, n_hid, bs = 23, 7, 5, 4   # uneven batches: 4 and 3 rows, odd sizes
    X, W, bh, bv, chains = _setup(rng, n, n_vis, n_hid, dtype, bs)
    if visible_type:
        X = rng.normal(size=X.shape).astype(dtype)
    starts = _batch_starts(n, bs)
    key, stream = 99, 1000
    draw = kernel_draw(key, dtype)
    # reference
    rW, rbh, rbv, rch = W.copy(), bh.copy(), bv.copy(), chains.copy()
    rVW, rVh, rVv = np.zeros_like(W), np.zeros_like(bh), np.zeros_like(bv)
    rstream = ref.fit_epoch(X.astype(np.float64) if dtype == np.float64 else X, starts,
                            rW, rbh, rbv, rVW, rVh, rVv, rch, 0.1, momentum, weight_decay,
                            k, persistent, visible_type, draw, stream, *scales)
    # kernel
    Wt = np.ascontiguousarray(W.T)
    kbh, kbv, kch = bh.copy(), bv.copy(), chains.copy()
    VW, Vh, Vv = np.zeros_like(Wt), np.zeros_like(bh), np.zeros_like(bv)
    rows = max(bs, len(chains))
    Xin = X.copy()
    Xin.setflags(write=False)  # the kernel takes read-only input
    kstream = K.fit_epoch(Xin, starts, Wt, kbh, kbv, VW, Vh, Vv, kch,
                          np.empty((bs + rows, n_hid), dtype), np.empty((bs + rows, n_vis), dtype),
                          np.empty((rows, n_hid), dtype), 0.1, momentum, weight_decay, k,
                          persistent, visible_type, *scales, key, stream, 1)
    assert kstream == rstream
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(Wt.T, rW, **tol)
    np.testing.assert_allclose(kbh, rbh, **tol)
    np.testing.assert_allclose(kbv, rbv, **tol)
    if persistent:
        np.testing.assert_array_equal(kch, rch)
    np.testing.assert_array_equal(Xin, X)


@pytest.mark.parametrize("visible_type", [0, 1])
def test_gibbs_chain_matches_reference(visible_type):
    rng = np.random.RandomState(1)
    X, W, bh, bv, _ = _setup(rng, 9, 6, 4, np.float64, 1)
    draw = kernel_draw(5, np.float64)
    rV, rH, rstream = ref.gibbs_chain(X.copy(), W, bh, bv, 3, visible_type, draw, 17)
    V = X.copy()
    H = np.empty((9, 4))
    P = np.empty_like(V)
    kstream = K.gibbs_chain(V, np.ascontiguousarray(W.T), bh, bv, H, P, 3, visible_type,
                            5, 17, 1)
    assert kstream == rstream
    np.testing.assert_allclose(V, rV, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(H, rH)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_hidden_probs_and_free_energy_match_reference(dtype):
    rng = np.random.RandomState(2)
    X, W, bh, bv, _ = _setup(rng, 11, 6, 4, dtype, 1)
    Wt = np.ascontiguousarray(W.T)
    out = np.empty((11, 4), dtype)
    K.hidden_probs(X, Wt, bh, out, 2)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, ref.sigmoid(X @ W.T + bh), rtol=tol)
    for gaussian in (False, True):
        fe = np.empty(11)
        K.free_energy(X, Wt, bh, bv, np.empty((4, 4), dtype), fe, gaussian, 2)  # 3 chunks
        np.testing.assert_allclose(fe, ref.free_energy(X.astype(np.float64), W, bh, bv, gaussian),
                                   rtol=tol * 10)


def test_float32_sigmoid_accuracy_and_saturation():
    """The kernels' own float32 exp: within a few ulp, never inf, NaN or subnormal."""
    x = np.linspace(-85, 85, 200001).astype(np.float32)
    out = x[None, :].copy()
    K.hidden_probs(np.ones((1, 1), np.float32), np.zeros((1, x.size), np.float32), x, out, 1)
    exact = 1 / (1 + np.exp(-x.astype(np.float64)))
    assert np.max(np.abs(out[0] - exact) / exact) < 4 * 2.0 ** -24
    big = np.array([[-1e4, -100, 100, 1e4, np.finfo(np.float32).max]], np.float32)
    P = big.copy()
    K.layer_conditional(P, np.zeros(5, np.float32), P, 0, False, 0, 0, 1)
    assert np.all(P[0, :2] >= np.finfo(np.float32).tiny) and np.all(P[0, :2] < 1e-37)
    np.testing.assert_array_equal(P[0, 2:], 1.0)


def test_outside_unit_interval_kernel():
    X = np.random.RandomState(0).rand(50, 300)
    assert not K.outside_unit_interval(X)
    for value, expected in ((1.0, False), (0.0, False), (-0.0, False), (1 + 1e-12, True),
                            (-1e-30, True)):
        Y = X.copy()
        Y[49, 299] = value          # last element: past every full block
        assert K.outside_unit_interval(Y) is expected
        assert K.outside_unit_interval(Y.astype(np.float32)) is (expected and value != 1 + 1e-12)
    assert not K.outside_unit_interval(np.empty((0, 3)))
    for bad in (np.nan, np.inf, -np.inf):      # flagged too: the caller then checks in detail
        Y = X.copy()
        Y[49, 299] = bad
        assert K.outside_unit_interval(Y) and K.outside_unit_interval(Y.astype(np.float32))
