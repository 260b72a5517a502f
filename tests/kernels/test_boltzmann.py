"""The Boltzmann drivers (fastnut/_boltzmann.py, src_c/boltzmann.pyx) against their
NumPy twins (tests/_reference/boltzmann.py) and the Python loops they replaced."""
import numpy as np
import pytest

from fastnut import _boltzmann as D
from fastnut._kernels import boltzmann as KB
from fastnut._kernels import rbm as K
from tests._reference import boltzmann as twin
from tests._reference import rbm as ref

TOL = {np.float64: dict(rtol=1e-9, atol=1e-12), np.float32: dict(rtol=2e-4, atol=2e-6)}


def _binary(rng, n, m, dtype, p=0.4):
    return (rng.rand(n, m) < p).astype(dtype)


def _dbn(rng, widths, dtype):
    L = len(widths) - 1
    R = [rng.normal(0, 0.3, (widths[i], widths[i + 1])).astype(dtype) for i in range(L)]
    r = [rng.normal(0, 0.2, widths[i + 1]).astype(dtype) for i in range(L)]
    G = [W + rng.normal(0, 0.05, W.shape).astype(dtype) for W in R[:-1]]
    g = [rng.normal(0, 0.2, widths[i]).astype(dtype) for i in range(L)]
    return R, r, G, g


def _copy(layers):
    return [[a.copy() for a in group] for group in layers]


def _assert_close(got, want, dtype):
    for a, b in zip(got, want):
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, **TOL[dtype])


# -- DBN up-down -----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("widths, k", [((7, 5), 1), ((9, 6, 4), 2), ((11, 7, 5, 3), 1)])
@pytest.mark.parametrize("ops", [twin.NumpyOps, twin.FastnutOps])
def test_up_down_epoch_matches_twin_and_the_python_loop(dtype, widths, k, ops):
    rng = np.random.RandomState(0)
    X = _binary(rng, 23, widths[0], dtype)     # batches of 4: 5 full and one of 3 rows
    layers = _dbn(rng, widths, dtype)
    want = _copy(layers)
    key, stream = 1234, 77
    wstream = twin.up_down_epoch(X, *want, 4, 0.1, k, ops(key, stream))
    got = _copy(layers)
    Xr = X.copy()
    Xr.setflags(write=False)   # the kernel takes read-only data
    gstream = D.up_down_epoch(Xr, *got, batch_size=4, learning_rate=0.1, k=k, key=key,
                              stream=stream)
    L = len(widths) - 1   # per row: L - 1 up, 1 + 2k in the top RBM, L - 1 down
    assert gstream == wstream == stream + 23 * (2 * (L - 1) + 1 + 2 * k)
    _assert_close(got, want, dtype)
    assert not np.allclose(got[0][0], layers[0][0])      # it did train


def test_up_down_epoch_is_independent_of_threads():
    rng = np.random.RandomState(1)
    X = _binary(rng, 40, 9, np.float32)
    layers = _dbn(rng, (9, 6, 4), np.float32)
    outs = []
    for nt in (1, 2):
        got = _copy(layers)
        KB.up_down_epoch(X, D.consecutive_starts(40, 10), *got, 0.1, 1, 5, 0, nt)
        outs.append(got)
    for a, b in zip(outs[0], outs[1]):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


def test_up_down_epoch_rejects_mismatched_layers():
    rng = np.random.RandomState(2)
    X = _binary(rng, 8, 5, np.float64)
    R, r, G, g = _dbn(rng, (5, 4, 3), np.float64)
    with pytest.raises(ValueError, match=r"G\[0\] must be a writeable C-contiguous"):
        D.up_down_epoch(X, R, r, [G[0].T], g, batch_size=4, learning_rate=0.1, k=1, key=1,
                        stream=0)
    with pytest.raises(ValueError, match=r"r\[1\].*float64"):
        D.up_down_epoch(X, R, [r[0], r[1].astype(np.float32)], G, g, batch_size=4,
                        learning_rate=0.1, k=1, key=1, stream=0)


# -- DBM ---------------------------------------------------------------------------------
def _dbm(rng, widths, dtype):
    W = [rng.normal(0, 0.3, (widths[i], widths[i + 1])).astype(dtype)
         for i in range(len(widths) - 1)]
    b = [rng.normal(0, 0.2, w).astype(dtype) for w in widths]
    return W, b


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("widths", [(6, 4), (8, 5, 3), (9, 6, 4, 3)])
def test_dbm_mean_field_matches_twin(dtype, widths):
    rng = np.random.RandomState(3)
    V = rng.rand(13, widths[0]).astype(dtype)
    W, b = _dbm(rng, widths, dtype)
    for w in W:
        w.setflags(write=False)   # fitted weights may be read-only (memory-mapped)
    got = D.dbm_mean_field(V, W, b, 7)
    want = twin.dbm_mean_field(V, W, b, 7, twin.NumpyOps(0))
    for x, y in zip(got, want):
        np.testing.assert_allclose(x, y, **TOL[dtype])
    # the Python loop's numbers exactly in float32 (same GEMM, same sigmoid)
    if dtype == np.float32:
        for x, y in zip(got, twin.dbm_mean_field(V, W, b, 7, twin.FastnutOps(0))):
            np.testing.assert_array_equal(x, y)
    # a row's posterior does not depend on its batch
    np.testing.assert_array_equal(D.dbm_mean_field(V[5:6], W, b, 7)[-1], got[-1][5:6])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("widths", [(6, 4), (8, 5, 3), (9, 6, 4, 3)])
def test_dbm_gibbs_matches_twin(dtype, widths):
    rng = np.random.RandomState(4)
    W, b = _dbm(rng, widths, dtype)
    x = [_binary(rng, 11, w, dtype, 0.5) for w in widths]
    want = [a.copy() for a in x]
    wstream = twin.dbm_gibbs(want, W, b, 3, twin.NumpyOps(99, 5))
    got = [a.copy() for a in x]
    gstream = D.dbm_gibbs(got, W, b, 3, 99, 5)
    assert gstream == wstream == 5 + 3 * len(widths) * 11
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("widths, n_mf, n_gibbs", [((7, 5), 3, 1), ((8, 5, 3), 5, 2),
                                                   ((9, 6, 4, 3), 2, 1)])
@pytest.mark.parametrize("ops", [twin.NumpyOps, twin.FastnutOps])
def test_dbm_epoch_matches_twin_and_the_python_loop(dtype, widths, n_mf, n_gibbs, ops):
    rng = np.random.RandomState(5)
    X = rng.rand(29, widths[0]).astype(dtype)     # batches of 8: three full, one of 5
    W, b = _dbm(rng, widths, dtype)
    x = [_binary(rng, 6, w, dtype, 0.5) for w in widths]
    vW = [rng.normal(0, 0.01, w.shape).astype(dtype) for w in W]
    vb = [np.zeros_like(a) for a in b]
    state = [W, b, vW, vb, x]
    want = _copy(state)
    wstream = twin.dbm_epoch(X, *want, 8, 0.05, 0.5, 1e-3, n_mf, n_gibbs, ops(42, 3))
    got = _copy(state)
    gstream = D.dbm_epoch(X, *got, batch_size=8, learning_rate=0.05, momentum=0.5,
                          weight_decay=1e-3, n_mean_field=n_mf, n_gibbs_steps=n_gibbs, key=42,
                          stream=3)
    assert gstream == wstream
    _assert_close(got[:4], want[:4], dtype)
    for g, w in zip(got[4], want[4]):
        np.testing.assert_array_equal(g, w)


def test_dbm_epoch_is_independent_of_threads():
    rng = np.random.RandomState(6)
    X = rng.rand(30, 9).astype(np.float32)
    W, b = _dbm(rng, (9, 6, 4), np.float32)
    x = [_binary(rng, 7, w, np.float32) for w in (9, 6, 4)]
    outs = []
    for nt in (1, 2):
        st = _copy([W, b, [np.zeros_like(w) for w in W], [np.zeros_like(a) for a in b], x])
        KB.dbm_epoch(X, D.consecutive_starts(30, 10), *st, 0.05, 0.5, 1e-4, 3, 1, 8, 0, nt)
        outs.append(st)
    for a, c in zip(outs[0], outs[1]):
        for u, v in zip(a, c):
            np.testing.assert_array_equal(u, v)


def test_dbm_sample_is_pure_and_matches_twin():
    rng = np.random.RandomState(7)
    W, b = _dbm(rng, (8, 5, 3), np.float64)
    before = [a.copy() for a in W + b]
    V, stream = D.dbm_sample(W, b, 4, 6, key=11)
    np.testing.assert_array_equal(V, twin.dbm_sample(W, b, 4, 6, twin.NumpyOps(11)))
    assert stream == 6 * 3 * 4
    for a, c in zip(W + b, before):
        np.testing.assert_array_equal(a, c)


# -- RBM epoch, greedy pre-training, the sampler -----------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("persistent", [True, False])
def test_rbm_epoch_matches_reference(dtype, persistent):
    rng = np.random.RandomState(8)
    X = _binary(rng, 19, 7, dtype)
    W = rng.normal(0, 0.3, (5, 7)).astype(dtype)
    bh, bv = np.zeros(5, dtype), rng.normal(0, 0.1, 7).astype(dtype)
    chains = _binary(rng, 4, 5, dtype, 0.5)
    starts = D.batch_starts(19, 4)

    def draw(kind, stream, n, m):
        out = np.empty((n, m), dtype if kind == "uniform" else np.float64)
        (K.random_uniform if kind == "uniform" else K.random_normal)(out, 3, stream, 1)
        return out
    rW, rbh, rbv, rch = W.copy(), bh.copy(), bv.copy(), chains.copy()
    zeros = [np.zeros_like(W), np.zeros_like(bh), np.zeros_like(bv)]
    rstream = ref.fit_epoch(X, starts, rW, rbh, rbv, *zeros, rch, 0.1, 0.5, 1e-3, 2,
                            persistent, 0, draw, 0, 2.0, 1.0)
    Wt, kbh, kbv, kch = np.ascontiguousarray(W.T), bh.copy(), bv.copy(), chains.copy()
    vel = [np.zeros_like(Wt), np.zeros_like(bh), np.zeros_like(bv)]
    kstream = D.rbm_epoch(X, starts, Wt, kbh, kbv, *vel, kch,
                          D.rbm_scratch(starts, 4, 7, 5, dtype), learning_rate=0.1,
                          momentum=0.5, weight_decay=1e-3, k=2, persistent=persistent,
                          visible_type=0, input_scales=(2.0, 1.0), key=3, stream=0)
    assert kstream == rstream
    np.testing.assert_allclose(Wt.T, rW, **TOL[dtype])
    np.testing.assert_allclose(kbh, rbh, **TOL[dtype])
    np.testing.assert_allclose(kbv, rbv, **TOL[dtype])


@pytest.mark.parametrize("scales", [None, [(2.0, 1.0), (2.0, 2.0), (1.0, 2.0)]])
def test_greedy_pretrain_matches_twin(scales):
    rng = np.random.RandomState(9)
    X = _binary(rng, 37, 8, np.float64)
    kw = dict(learning_rate=0.1, batch_size=5, n_iter=2, k=1, method="pcd", momentum=0.5,
              weight_decay=1e-3, input_scales=scales)
    got = D.greedy_pretrain(X, [6, 4, 3], rng=np.random.RandomState(0), **kw)
    want = twin.greedy_pretrain(X, [6, 4, 3], rng=np.random.RandomState(0), **kw)
    for g, w in zip(got, want):
        for a, c in zip(g, w):
            np.testing.assert_allclose(a, c, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sampler_matches_twin(dtype):
    rng = np.random.RandomState(10)
    A = rng.normal(size=(6, 9)).astype(dtype)
    b = rng.normal(size=9).astype(dtype)
    s, t = D.Sampler(21, 4), twin.NumpyOps(21, 4)
    P, S = s.bernoulli(A.copy(), b)
    tP, tS = t.bernoulli(A, b)
    np.testing.assert_allclose(P, tP, **TOL[dtype])
    np.testing.assert_array_equal(S, tS)
    np.testing.assert_array_equal(s.sample_probabilities(P),
                                  (t.uniform(6, 9, dtype) < P).astype(dtype))
    assert s.stream == t.stream == 16


# -- the binary products: fastnut's GEMM's numbers, bit for bit ---------------------------
needs_gemm_kernel = pytest.mark.skipif(
    not __import__("fastnut._kernels.dense", fromlist=["x"]).has_gemm_kernel(),
    reason="the binary products run beside fastnut's GEMM kernel (AVX2 + FMA)")


@needs_gemm_kernel
@pytest.mark.parametrize("M, K, N", [(1, 5, 3), (10, 784, 256), (7, 129, 97), (33, 300, 130),
                                     (4, 128, 64), (12, 257, 31)])
@pytest.mark.parametrize("density", [0.0, 0.3, 1.0])
def test_binary_products_equal_fastnut_gemm(M, K, N, density):
    from fastnut._kernels import dense as KD
    rng = np.random.RandomState(M + K + N)
    X = (rng.rand(M, K) < density).astype(np.float32)
    W = rng.normal(size=(K, N)).astype(np.float32)
    want = np.empty((M, N), np.float32)
    KD.sgemm(X, W, want, False, False, 1)
    got = np.full((M, N), np.nan, np.float32)
    KB.binary_matmul(X, W, got, False)
    np.testing.assert_array_equal(got, want)
    # + C: fastnut's GEMM with beta adds block by block to C
    C0 = rng.normal(size=(M, N)).astype(np.float32)
    got = C0.copy()
    KB.binary_matmul(X, W, got, True)
    np.testing.assert_array_equal(got, _sgemm_acc(X, W, C0, trans_a=False))
    # C += A^T D with A of zeros and ones
    D_ = rng.normal(size=(M, N)).astype(np.float32)
    A = (rng.rand(M, K) < density).astype(np.float32)
    C1 = rng.normal(size=(K, N)).astype(np.float32)
    got = C1.copy()
    KB.binary_tmatmul_add(A, D_, got)
    np.testing.assert_array_equal(got, _sgemm_acc(A, D_, C1, trans_a=True))


def _sgemm_acc(A, B, C0, trans_a):
    """C0 + op(A) B in fastnut's GEMM's order: depth blocks of 128, each summed from zero
    (one FMA chain: exact adds for an operand of zeros and ones), added to C in order."""
    opA = A.T if trans_a else A
    C = C0.copy()
    for k0 in range(0, opA.shape[1], 128):
        blk = np.zeros_like(C)
        for k in range(k0, min(k0 + 128, opA.shape[1])):
            blk += opA[:, k:k + 1] * B[k]
        C += blk
    return C
