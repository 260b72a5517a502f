"""fastnut's float32 GEMM kernels (src_c/_gemm.h: AVX-512, src_c/_gemm_avx2.h:
AVX2 + FMA) against a float64 NumPy oracle, and the property they exist for:
a row's result does not depend on the batch it comes in or its position there,
through every path that multiplies float32 (dense layers, the recurrent
layers' prepacked per-step products, the convolutions' lowered products, the
DBN and DBM).  The last tests rerun a script with the kernels switched off by
environment variable (FASTNUT_DISABLE_AVX512, FASTNUT_DISABLE_AVX2)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from fastnut import DeepBeliefNetwork, DeepBoltzmannMachine, nn
from fastnut._kernels import dense as _k
from fastnut.nn._linalg import matmul

KERNEL = _k.gemm_kernel()
needs_kernel = pytest.mark.skipif(KERNEL == "blas", reason="no AVX2 + FMA here: BLAS runs")

# (M, K, N): the direct path (under 8 rows, or under 32 with 24 columns or
# more: 4 x 24, 2 x 48, 1 x 64 blocks, then 16-wide and a masked tail), 16-wide panels with 6/4/2/1-row blocks, a last
# panel of 8 (12/8/4/2/1 rows) or of 9-15 columns (masked), K over one depth
# block, M over one row chunk
ODD_SHAPES = [(1, 1, 1), (1, 3, 5), (1, 784, 256), (1, 300, 100), (2, 130, 97), (3, 17, 49),
              (4, 9, 512), (5, 200, 71), (7, 129, 23), (8, 5, 3), (9, 64, 10), (13, 257, 8),
              (20, 140, 50), (25, 33, 9), (31, 100, 15), (31, 129, 97), (47, 1, 40),
              (61, 260, 17), (250, 30, 33), (481, 7, 24)]


def _oracle(A, B, ta, tb):
    return (A.T if ta else A).astype(np.float64) @ (B.T if tb else B).astype(np.float64)


@pytest.mark.parametrize("M,K,N", ODD_SHAPES)
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_kernel_matches_float64_oracle_on_odd_shapes(M, K, N, ta, tb):
    rng = np.random.default_rng(M * 7919 + K * 31 + N)
    A = rng.standard_normal((K, M) if ta else (M, K)).astype(np.float32)
    B = rng.standard_normal((N, K) if tb else (K, N)).astype(np.float32)
    C = np.full((M, N), np.nan, np.float32)          # every entry must be written
    _k.sgemm(A, B, C, ta, tb, 1)
    np.testing.assert_allclose(C, _oracle(A, B, ta, tb), rtol=0, atol=2e-6 * K + 1e-6)


@needs_kernel
@pytest.mark.parametrize("M,K,N", ODD_SHAPES + [(128, 784, 256), (128, 256, 784),
                                                (784, 128, 256), (6, 40, 97), (64, 30, 65)])
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_the_thread_count_does_not_change_a_bit(M, K, N, ta, tb):
    """Column-panel and row-block splits over 2-5 threads give the one-thread
    bits (every element keeps its summation order), and write every entry."""
    rng = np.random.default_rng(M * 31 + K * 7 + N)
    A = rng.standard_normal((K, M) if ta else (M, K)).astype(np.float32)
    B = rng.standard_normal((N, K) if tb else (K, N)).astype(np.float32)
    ref = np.empty((M, N), np.float32)
    _k.sgemm(A, B, ref, ta, tb, 1)
    for nt in (2, 3, 5):
        C = np.full((M, N), np.nan, np.float32)
        _k.sgemm(A, B, C, ta, tb, nt)
        np.testing.assert_array_equal(C, ref, err_msg=f"n_threads={nt}")


@needs_kernel
@pytest.mark.parametrize("K,N", [(1, 1), (5, 3), (40, 31), (40, 32), (130, 33), (300, 97),
                                 (4096, 256), (784, 70), (0, 5)])
def test_ssyrk_is_the_gemm_upper_triangle_mirrored(K, N):
    """``ssyrk`` (the Gram product Aᵀ A) multiplies only the upper triangle:
    it equals sgemm's there bit for bit, is exactly symmetric, writes every
    entry, and gives the same bits on 1, 2 and 3 threads."""
    rng = np.random.default_rng(K * 13 + N)
    A = rng.standard_normal((K, N)).astype(np.float32)
    full = np.empty((N, N), np.float32)
    _k.sgemm(A, A, full, True, False, 1)
    upper = np.triu_indices(N)
    for nt in (1, 2, 3):
        G = np.full((N, N), np.nan, np.float32)
        _k.ssyrk(A, G, nt)
        np.testing.assert_array_equal(G[upper], full[upper], err_msg=f"n_threads={nt}")
        np.testing.assert_array_equal(G, G.T)
    np.testing.assert_allclose(G, A.T.astype(np.float64) @ A, rtol=0, atol=2e-6 * K + 1e-6)
    with pytest.raises(ValueError, match=rf"A has {N} columns; C must be \({N}, {N}\)"):
        _k.ssyrk(A, np.empty((N + 1, N), np.float32), 1)


@pytest.mark.parametrize("N", [1, 7, 8, 9, 15, 16, 23, 64, 70, 100])
@pytest.mark.parametrize("M", [1, 3, 7, 13])
def test_direct_and_packed_paths_never_write_past_the_output(M, N):
    """Masked stores (and, on the direct path, masked loads of B's last
    columns): the floats after C stay as they were."""
    rng = np.random.default_rng(M * 100 + N)
    A = rng.standard_normal((M, 40)).astype(np.float32)
    B = rng.standard_normal((40, N)).astype(np.float32)
    buf = np.full(M * N + 64, 7.0, np.float32)
    C = buf[:M * N].reshape(M, N)
    _k.sgemm(A, B, C, False, False, 1)
    np.testing.assert_array_equal(buf[M * N:], 7.0)
    np.testing.assert_allclose(C, A.astype(float) @ B.astype(float), atol=1e-4)


@needs_kernel
@pytest.mark.parametrize("N", [10, 16, 32, 100])
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True)])
def test_a_row_does_not_depend_on_the_batch_size_or_its_position(N, ta, tb):
    """Every batch size from 1 (direct path, B read in place) to 40 (packed
    panels, all register-block shapes) and shuffled rows give each row the
    same bits as the full product."""
    rng = np.random.default_rng(N)
    X = rng.standard_normal((40, 300)).astype(np.float32)   # K = 300: three depth blocks
    W = rng.standard_normal((300, N)).astype(np.float32)
    Wop = np.ascontiguousarray(W.T).T if tb else W

    def product(rows):
        A = np.ascontiguousarray(X[rows].T).T if ta else X[rows]
        return matmul(A, Wop, np.empty((len(A), N), np.float32))

    full = product(np.arange(40))
    for m in range(1, 41):
        for start in {0, 40 - m, (40 - m) // 2}:
            np.testing.assert_array_equal(product(np.arange(start, start + m)),
                                          full[start:start + m], err_msg=f"rows {start}:+{m}")
    perm = rng.permutation(40)
    np.testing.assert_array_equal(product(perm), full[perm])


def test_matmul_allocates_when_out_is_none_and_keeps_float64_on_numpy():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((5, 12))
    B = rng.standard_normal((12, 9))
    np.testing.assert_array_equal(matmul(A, B), A @ B)
    C = matmul(A.astype(np.float32), B.astype(np.float32))
    assert C.dtype == np.float32 and C.shape == (5, 9)
    np.testing.assert_allclose(C, A @ B, atol=1e-4)


# -- every float32 path of the engine ------------------------------------------------

def _batch_vs_pieces(fn, X, pieces):
    full = fn(X)
    for rows in pieces:
        np.testing.assert_array_equal(fn(X[rows]), full[rows])
    perm = np.random.default_rng(0).permutation(len(X))
    np.testing.assert_array_equal(fn(X[perm]), full[perm])


PIECES = [slice(0, 1), slice(5, 6), slice(3, 10), slice(0, 17), slice(11, 37)]


@needs_kernel
@pytest.mark.parametrize("cell", [nn.SimpleRNN, nn.LSTM, nn.GRU])
@pytest.mark.parametrize("hidden", [5, 8, 16, 21])
def test_recurrent_layers_predict_each_sequence_alike_in_any_batch(cell, hidden):
    """The per-step products run on recurrent weights packed once per call
    (fastnut_sgemm_prepacked), 4H / 3H / H columns of any width: 5 and 21
    leave a masked last panel, 8 a panel of 8."""
    layer = cell(hidden, bidirectional=True)
    layer.build((6, 3), random_state=0)
    X = np.random.default_rng(1).standard_normal((37, 6, 3)).astype(np.float32)
    _batch_vs_pieces(lambda A: layer.forward(A).copy(), X, PIECES)


@needs_kernel
@pytest.mark.parametrize("C,size,kernel,stride", [
    (1, 8, 3, 1),     # im2col, images grouped by the small output
    (1, 28, 5, 1),    # im2col, one image per product (576 columns)
    (16, 12, 3, 1),   # rows lowering (C * kw >= 32): kh products accumulated
    (3, 9, 3, 2),     # strided: im2col
    (4, 6, 1, 1),     # 1x1: the input itself is the lowered matrix
])
def test_convolutions_predict_each_image_alike_in_any_batch(C, size, kernel, stride):
    layer = nn.Conv2D(6, kernel, stride=stride, padding="same" if stride == 1 else 0,
                      activation="relu")
    layer.build((C, size, size), random_state=0)
    X = np.random.default_rng(2).standard_normal((37, C, size, size)).astype(np.float32)
    _batch_vs_pieces(lambda A: layer.forward(A).copy(), X, PIECES)


@needs_kernel
@pytest.mark.parametrize("Est", [DeepBeliefNetwork, DeepBoltzmannMachine])
def test_boltzmann_transforms_each_row_alike_in_any_batch(Est):
    X = (np.random.default_rng(4).random((60, 20)) > 0.5).astype(np.float32)
    est = Est(hidden_layer_sizes=(12, 7), n_iter=2, random_state=0).fit(X)
    _batch_vs_pieces(est.transform, X[:37], PIECES)
    if Est is DeepBeliefNetwork:
        H = est.transform(X[:37])
        _batch_vs_pieces(est.inverse_transform, H, PIECES)


# -- the environment switches ------------------------------------------------------------

_SWITCH_SCRIPT = r"""
import json, sys, warnings
import numpy as np
from fastnut import MLPClassifier
from fastnut._kernels import dense
rng = np.random.default_rng(0)
out = {"kernel": dense.gemm_kernel(), "gemm": [], "oracle_err": 0.0}
for M, K, N, ta, tb in [(1, 784, 256, 0, 0), (7, 50, 10, 0, 0), (13, 300, 100, 1, 0),
                        (128, 256, 100, 0, 1), (300, 129, 17, 0, 0)]:
    A = rng.standard_normal((K, M) if ta else (M, K)).astype(np.float32)
    B = rng.standard_normal((N, K) if tb else (K, N)).astype(np.float32)
    C = np.empty((M, N), np.float32)
    dense.sgemm(A, B, C, bool(ta), bool(tb), 1)
    ref = (A.T if ta else A).astype(np.float64) @ (B.T if tb else B).astype(np.float64)
    out["oracle_err"] = max(out["oracle_err"], float(np.abs(C - ref).max() / K))
    out["gemm"].append(C.tobytes().hex())
X = rng.random((300, 20)).astype(np.float32)
y = (X[:, 0] + X[:, 1] > 1).astype(int) + (X[:, 2] > 0.5)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    clf = MLPClassifier(hidden_layer_sizes=(33,), max_iter=20, random_state=0).fit(X, y)
P = clf.predict_proba(X)
out["proba"] = P.tolist()
out["rows_alike"] = all(np.array_equal(clf.predict_proba(X[i:i + 1]), P[i:i + 1])
                        for i in range(0, 300, 7))
json.dump(out, sys.stdout)
"""


def _run(**env):
    res = subprocess.run([sys.executable, "-c", _SWITCH_SCRIPT],
                         env=dict(os.environ, **env), capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_environment_switches_pick_the_kernel_and_all_paths_agree():
    """Default: the CPU's best kernel; FASTNUT_DISABLE_AVX512=1 what a CPU
    without AVX-512 runs (the AVX2 kernel, same bits: one summation order);
    FASTNUT_DISABLE_AVX2=1 what a CPU without AVX2 runs (BLAS, same results to
    float32 rounding).  Every path is right against the float64 oracle, and
    with a kernel a single sample's prediction is the batch's row."""
    default = _run(FASTNUT_DISABLE_AVX512="0", FASTNUT_DISABLE_AVX2="0")
    no512 = _run(FASTNUT_DISABLE_AVX512="1", FASTNUT_DISABLE_AVX2="0")
    blas = _run(FASTNUT_DISABLE_AVX512="0", FASTNUT_DISABLE_AVX2="1")
    assert default["kernel"] == KERNEL
    assert blas["kernel"] == "blas"
    assert no512["kernel"] == ("blas" if KERNEL == "blas" else "avx2")
    for run in (default, no512, blas):
        assert run["oracle_err"] < 2e-6
    if KERNEL == "blas":
        pytest.skip("no AVX2 + FMA here: every run took the BLAS paths")
    assert default["gemm"] == no512["gemm"]            # bit for bit across the kernels
    assert default["rows_alike"] and no512["rows_alike"]
    np.testing.assert_allclose(blas["proba"], default["proba"], rtol=1e-3, atol=1e-4)
