"""The dense engine's C kernels against NumPy references: the float32 GEMM
(src_c/_gemm.h), the row gather and the fused softmax cross-entropy."""
import numpy as np
import pytest

from fastnut import nn
from fastnut._kernels import dense as _k
from fastnut.nn._linalg import aligned_empty, matmul

# shapes that exercise every path of the kernels: AVX-512 64-wide panels, last
# panels of 16/32/48/64 columns; AVX2 16-wide panels, last panels of 8/16,
# full or zero-padded (masked stores); row blocks of 24/12/8/6/4/2/1, depth
# blocking (K > 128), row chunks (M > 240); under 8 rows the direct path
# (tests/kernels/test_gemm.py has more)
GEMM_SHAPES = [(128, 784, 256), (128, 256, 128), (128, 128, 10), (7, 5, 3), (1, 784, 256),
               (13, 300, 80), (10, 33, 48), (11, 200, 70), (6, 129, 100), (2, 1, 17),
               (3, 16, 64), (500, 40, 20), (9, 7, 17), (200, 784, 100), (37, 50, 36),
               (29, 130, 112), (45, 20, 61), (30, 9, 32)]


@pytest.mark.parametrize("M,K,N", GEMM_SHAPES)
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_sgemm_matches_float64_product(M, K, N, ta, tb):
    rng = np.random.default_rng(M * 1000 + K + N)
    A = rng.standard_normal((K, M) if ta else (M, K)).astype(np.float32)
    B = rng.standard_normal((N, K) if tb else (K, N)).astype(np.float32)
    C = np.full((M, N), np.nan, np.float32)        # every entry must be written
    _k.sgemm(A, B, C, ta, tb, 1)
    ref = (A.T if ta else A).astype(np.float64) @ (B.T if tb else B).astype(np.float64)
    # float32 accumulation over K terms of size ~1
    np.testing.assert_allclose(C, ref, rtol=0, atol=2e-6 * K + 1e-6)


@pytest.mark.parametrize("N", [20, 36, 61, 100])
def test_sgemm_never_writes_past_the_output(N):
    """Zero-padded panels store under a mask: the floats after C stay as they were."""
    rng = np.random.default_rng(N)
    A = rng.standard_normal((13, 40)).astype(np.float32)
    B = rng.standard_normal((40, N)).astype(np.float32)
    buf = np.full(13 * N + 64, 7.0, np.float32)
    C = buf[:13 * N].reshape(13, N)
    _k.sgemm(A, B, C, False, False, 1)
    np.testing.assert_array_equal(buf[13 * N:], 7.0)
    np.testing.assert_allclose(C, A.astype(float) @ B.astype(float), atol=1e-4)


def test_sgemm_threads_split_rows_identically():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((2048, 784)).astype(np.float32)
    B = rng.standard_normal((784, 256)).astype(np.float32)   # 2**28.6 multiply-adds
    C1, C2 = np.empty((2048, 256), np.float32), np.empty((2048, 256), np.float32)
    _k.sgemm(A, B, C1, False, False, 1)
    _k.sgemm(A, B, C2, False, False, 2)
    np.testing.assert_array_equal(C1, C2)   # each row is computed the same way


@pytest.mark.parametrize("ta", [False, True])
def test_sgemm_row_results_do_not_depend_on_the_batch(ta):
    """Rows fall in register blocks of 6, 4, 2 or 1 depending on the batch
    size: every block must round alike, or a sample's prediction would change
    with the batch it comes in (every build, -O0 debug included)."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((131, 300)).astype(np.float32)
    W = rng.standard_normal((300, 64)).astype(np.float32)
    full = np.empty((131, 64), np.float32)
    _k.sgemm(np.ascontiguousarray(X.T) if ta else X, W, full, ta, False, 1)
    for start, stop in [(0, 128), (1, 131), (3, 13), (5, 15)]:
        A = X[start:stop]
        part = np.empty((stop - start, 64), np.float32)
        _k.sgemm(np.ascontiguousarray(A.T) if ta else A, W, part, ta, False, 1)
        np.testing.assert_array_equal(part, full[start:stop])


def test_sgemm_empty_depth_gives_zeros_and_bad_shapes_are_errors():
    C = np.full((3, 4), np.nan, np.float32)
    _k.sgemm(np.empty((3, 0), np.float32), np.empty((0, 4), np.float32), C, False, False, 1)
    np.testing.assert_array_equal(C, 0)
    with pytest.raises(ValueError, match=r"op\(A\) is \(3, 5\) and op\(B\) is \(4, 4\)"):
        _k.sgemm(np.ones((3, 5), np.float32), np.ones((4, 4), np.float32), C, False, False, 1)


def test_matmul_takes_transposed_views_and_keeps_float64_on_numpy():
    rng = np.random.default_rng(1)
    W = rng.standard_normal((30, 20)).astype(np.float32)
    D = rng.standard_normal((8, 20)).astype(np.float32)
    out = np.empty((8, 30), np.float32)
    np.testing.assert_allclose(matmul(D, W.T, out), D.astype(float) @ W.T.astype(float),
                               atol=1e-4)
    # float64 is exactly NumPy's (the scikit-learn-identical path)
    Wd, Dd = W.astype(np.float64), D.astype(np.float64)
    np.testing.assert_array_equal(matmul(Dd, Wd.T, np.empty((8, 30))), Dd @ Wd.T)


def test_layer_buffers_start_on_a_cache_line():
    for shape in [(128, 256), (3, 5), (7,)]:
        a = aligned_empty(shape, np.float32)
        assert a.shape == shape and a.flags.c_contiguous and a.ctypes.data % 64 == 0
    layer = nn.Dense(10)
    layer.build((4,), dtype=np.float32)
    assert layer.forward(np.ones((3, 4), np.float32)).ctypes.data % 64 == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("act", [0, 1, 2, 3])
def test_act_backward_bias_sums_rows_like_numpy(dtype, act):
    """Dense's backward: the activation derivative and the bias gradient in one
    pass; the column sums are bit-for-bit NumPy's (float64 reproduces
    scikit-learn's trajectory)."""
    rng = np.random.default_rng(act)
    D, Y = rng.standard_normal((37, 129)).astype(dtype), rng.random((37, 129)).astype(dtype)
    ref = D.copy()
    _k.act_backward(ref, Y, act, 1)
    bias_grad = np.empty(129, dtype)
    _k.act_backward_bias(D, Y, act, bias_grad)
    np.testing.assert_array_equal(D, ref)
    np.testing.assert_array_equal(bias_grad, np.sum(D, axis=0))
    with pytest.raises(ValueError, match=r"bias_grad \(5,\)"):
        _k.act_backward_bias(D, Y, act, np.empty(5, dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gather_rows_matches_fancy_indexing(dtype):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((50, 33)).astype(dtype)
    idx = rng.permutation(50)[:17]
    out = np.empty((17, 33), dtype)
    _k.gather_rows(X, idx, out)
    np.testing.assert_array_equal(out, X[idx])


def test_gather_rows_rejects_bad_rows_and_shapes():
    X = np.zeros((5, 3), np.float32)
    with pytest.raises(IndexError, match="row 5 out of range for 5 rows"):
        _k.gather_rows(X, np.array([0, 5]), np.empty((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"out has shape \(2, 4\), expected \(2, 3\)"):
        _k.gather_rows(X, np.array([0, 1]), np.empty((2, 4), np.float32))


@pytest.mark.parametrize("weighted", [False, True])
def test_fused_softmax_cross_entropy_matches_numpy_path(weighted):
    """The float32 kernel against the loss's NumPy formulas in float64."""
    rng = np.random.default_rng(3)
    n, k = 40, 7
    Z = (3 * rng.standard_normal((n, k))).astype(np.float32)
    Z[0] = [80, -80, 0, 0, 0, 0, 0]           # saturated row: clipping matters
    y = np.eye(k, dtype=np.float32)[rng.integers(0, k, n)]
    y[0] = np.eye(k)[1]                        # its true class has P ~ 1e-70
    sw = (rng.random(n) + 0.5).astype(np.float32) if weighted else None
    wsum = float(sw.sum()) if weighted else float(n)
    loss = nn.get_loss("log_loss")
    P, dZ = np.empty_like(Z), np.empty_like(Z)
    value = loss.evaluate(Z, y, sw, wsum, P, dZ)

    Z64, y64 = Z.astype(np.float64), y.astype(np.float64)
    sw64 = sw.astype(np.float64) if weighted else None
    P64 = loss.predict(Z64.copy())
    # the clip is float32's epsilon, as the NumPy path applies in float32
    P_clip = np.clip(P64, np.finfo(np.float32).eps, 1 - np.finfo(np.float32).eps)
    ref = -np.average((y64 * np.log(P_clip)), weights=sw64, axis=0).sum()
    np.testing.assert_allclose(value, ref, rtol=1e-6)
    np.testing.assert_allclose(P, P64, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(dZ, loss.gradient(P64, y64, sw64, wsum, np.empty_like(P64)),
                               rtol=1e-5, atol=1e-8)


def test_fused_softmax_cross_entropy_rejects_mismatched_shapes():
    Z = np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match=r"must have Z's shape \(4, 3\)"):
        _k.softmax_cross_entropy(Z, np.zeros((4, 2), np.float32), np.empty(0, np.float32),
                                 4.0, np.empty_like(Z), np.empty_like(Z))
    with pytest.raises(ValueError, match="2 sample weights for 4 rows"):
        _k.softmax_cross_entropy(Z, Z, np.ones(2, np.float32), 4.0,
                                 np.empty_like(Z), np.empty_like(Z))


_FALLBACK_SCRIPT = r"""
import json, sys, warnings
import numpy as np
from sklearn.datasets import load_digits
from fastnut import MLPClassifier, RNNClassifier
from fastnut._kernels import dense
X, y = load_digits(return_X_y=True)
X = (X / 16).astype(np.float32)
out = {"kernel": dense.has_gemm_kernel()}
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    mlp = MLPClassifier(hidden_layer_sizes=(100, 40), max_iter=3, random_state=0).fit(X, y)
    rnn = RNNClassifier(input_shape=(8, 8), hidden_size=32, max_iter=2,
                        random_state=0).fit(X[:300], y[:300])
out["mlp"] = mlp.predict_proba(X[:200]).tolist()
out["mlp_loss"] = mlp.loss_curve_
out["rnn"] = rnn.predict_proba(X[:50]).tolist()
json.dump(out, sys.stdout)
"""


def test_blas_fallback_paths_agree_with_the_kernels():
    """FASTNUT_DISABLE_AVX2=1 runs what a CPU without AVX2 runs (BLAS for every
    float32 product, the RNN's per-step products included): same fits to
    float32 rounding."""
    import json
    import os
    import subprocess
    import sys

    runs = {}
    for flag in ("0", "1"):
        env = dict(os.environ, FASTNUT_DISABLE_AVX2=flag)
        res = subprocess.run([sys.executable, "-c", _FALLBACK_SCRIPT], env=env,
                             capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
        runs[flag] = json.loads(res.stdout)
    assert runs["1"]["kernel"] is False
    if not runs["0"]["kernel"]:
        pytest.skip("this CPU has no AVX2 + FMA: both runs took the BLAS paths")
    for key in ("mlp", "mlp_loss", "rnn"):
        np.testing.assert_allclose(runs["1"][key], runs["0"][key], rtol=1e-3, atol=1e-4)
