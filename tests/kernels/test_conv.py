"""Convolution, pooling and upsampling kernels against the NumPy oracles in
tests/_reference/conv.py."""
import numpy as np
import pytest

from fastnut._kernels import conv as kc
from fastnut._kernels import pool as kp
from tests._reference import conv as ref

TOL = {np.float32: 2e-4, np.float64: 1e-10}

# (n, C_in, H, W, C_out, (kh, kw), stride, (pad_top, pad_left), dilation)
CONV_CASES = [
    (2, 3, 7, 6, 4, (3, 2), (1, 1), (1, 0), (1, 1)),      # im2col, asymmetric kernel
    (1, 1, 5, 5, 2, (1, 1), (1, 1), (0, 0), (1, 1)),      # 1x1, batch 1, one channel (direct)
    (3, 2, 9, 8, 3, (3, 3), (2, 1), (1, 2), (2, 1)),      # strided rows -> im2col
    (2, 16, 13, 12, 4, (3, 2), (1, 1), (1, 0), (1, 1)),   # row lowering
    (2, 11, 16, 17, 3, (3, 3), (1, 2), (2, 2), (2, 1)),   # row lowering, stride/dilation in w
    (2, 8, 14, 15, 5, (4, 5), (1, 1), (3, 1), (1, 2)),    # rows, even kernel, big padding
    (11, 2, 8, 8, 3, (3, 3), (1, 1), (1, 1), (1, 1)),     # im2col groups of 8 + remainder 3
    (5, 16, 4, 4, 6, (3, 3), (1, 1), (1, 1), (1, 1)),     # small image: grouped, not rows
    (1, 1, 28, 28, 16, (5, 5), (1, 1), (2, 2), (1, 1)),   # LeNet conv1
    (2, 16, 14, 14, 32, (5, 5), (1, 1), (2, 2), (1, 1)),  # LeNet conv2
    (2, 4, 5, 5, 3, (5, 5), (1, 1), (0, 0), (1, 1)),      # output 1x1
    (2, 32, 4, 3, 2, (1, 1), (2, 2), (1, 0), (1, 1)),     # 1x1 strided with padding
]


def _out_hw(H, W, k, s, p, d, bottom_right=None):
    pb = p if bottom_right is None else bottom_right
    return ((H + p[0] + pb[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1,
            (W + p[1] + pb[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1)


def _run_conv(X, Wt, b, dY, s, p, d, relu, nt, need_dx=True):
    n, C, H, W = X.shape
    Co, _, kh, kw = Wt.shape
    Ho, Wo = dY.shape[2:]
    dt = X.dtype
    plan = kc.conv2d_plan(C, kh, kw, s[0], d[0], Co, Ho, Wo)
    Y = np.empty((n, Co, Ho, Wo), dt)
    col = np.empty((nt, plan["col"]), dt)
    g = np.empty((nt, plan["g"]), dt)
    wr = np.empty(plan["wr"], dt)
    kc.conv2d_forward(X, Wt, b, Y, col, g, wr, *s, *p, *d, relu, nt)
    dX = np.full(X.shape if need_dx else (0, 1, 1, 1), np.nan, dt)
    dW = np.full(Wt.shape, np.nan, dt)
    db = np.full(b.shape, np.nan, dt)
    acc = np.empty((kc.conv2d_acc_rows(n, plan), plan["acc"]), dt)
    kc.conv2d_backward(X, Wt, dY, Y, dX, dW, db, col, g, acc, wr, *s, *p, *d, relu, need_dx, nt)
    return Y, dX, dW, db, plan["mode"]


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nt", [1, 2])
@pytest.mark.parametrize("relu", [False, True])
def test_conv_kernels_match_reference(case, dtype, nt, relu):
    n, C, H, W, Co, k, s, p, d = case
    rng = np.random.default_rng(hash(case) % 2 ** 32)
    Ho, Wo = _out_hw(H, W, k, s, p, d)
    X = rng.standard_normal((n, C, H, W)).astype(dtype)
    Wt = rng.standard_normal((Co, C) + k).astype(dtype)
    b = rng.standard_normal(Co).astype(dtype)
    dY = rng.standard_normal((n, Co, Ho, Wo)).astype(dtype)
    for a in (X, Wt, b, dY):
        a.setflags(write=False)  # kernels must accept read-only input
    Y, dX, dW, db, _ = _run_conv(X, Wt, b, dY, s, p, d, relu, nt)
    Yr = ref.conv2d(X, Wt, b, s, p, d, (Ho, Wo))
    G = dY * (Yr > 0) if relu else dY
    if relu:
        Yr = np.maximum(Yr, 0)
    dXr, dWr, dbr = ref.conv2d_backward(X, Wt, G, s, p, d)
    tol = TOL[dtype]
    scale = np.sqrt(C * k[0] * k[1])
    np.testing.assert_allclose(Y, Yr, atol=tol * scale, rtol=tol)
    np.testing.assert_allclose(dX, dXr, atol=tol * scale, rtol=tol)
    np.testing.assert_allclose(dW, dWr, atol=tol * scale * np.sqrt(n * Ho * Wo), rtol=tol)
    np.testing.assert_allclose(db, dbr, atol=tol * np.sqrt(n * Ho * Wo), rtol=tol)


def test_conv_kernels_use_every_lowering():
    plans = []
    for (n, C, H, W, Co, k, s, p, d) in CONV_CASES:
        plans.append((n, kc.conv2d_plan(C, *k, s[0], d[0], Co, *_out_hw(H, W, k, s, p, d))))
    assert {pl["mode"] for _, pl in plans} == {"rows", "im2col"}
    # several images per GEMM, with a last group that is not full
    assert any(pl["nb"] > 1 and n > pl["nb"] and n % pl["nb"] for n, pl in plans)


def test_conv_backward_without_input_grad_and_bias():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 16, 12, 12))
    Wt = rng.standard_normal((4, 16, 3, 3))
    dY = rng.standard_normal((3, 4, 12, 12))
    b = np.empty(0)
    Y, dX, dW, db, mode = _run_conv(X, Wt, b, dY, (1, 1), (1, 1), (1, 1), False, 2,
                                    need_dx=False)
    assert mode == "rows" and dX.shape == (0, 1, 1, 1) and db.shape == (0,)
    np.testing.assert_allclose(Y, ref.conv2d(X, Wt, None, (1, 1), (1, 1), (1, 1), (12, 12)),
                               atol=1e-10)
    np.testing.assert_allclose(dW, ref.conv2d_backward(X, Wt, dY, (1, 1), (1, 1), (1, 1))[1],
                               atol=1e-10)


def test_conv_thread_counts_agree():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((7, 16, 9, 9)).astype(np.float32)
    Wt = rng.standard_normal((8, 16, 3, 3)).astype(np.float32)
    b = rng.standard_normal(8).astype(np.float32)
    dY = rng.standard_normal((7, 8, 9, 9)).astype(np.float32)
    one = _run_conv(X, Wt, b, dY, (1, 1), (1, 1), (1, 1), True, 1)
    two = _run_conv(X, Wt, b, dY, (1, 1), (1, 1), (1, 1), True, 2)
    again = _run_conv(X, Wt, b, dY, (1, 1), (1, 1), (1, 1), True, 2)
    for a, b_, c in zip(one[:4], two[:4], again[:4]):
        np.testing.assert_allclose(a, b_, rtol=1e-5, atol=1e-4)
        np.testing.assert_array_equal(b_, c)  # same thread count: bitwise reproducible


# -- pooling and upsampling kernels --------------------------------------------

POOL_CASES = [  # (n, C, H, W, (kh, kw), (sh, sw))
    (2, 3, 8, 8, (2, 2), (2, 2)),
    (1, 1, 7, 5, (2, 2), (2, 2)),   # odd sizes: last row/column dropped
    (2, 2, 9, 7, (3, 2), (2, 1)),   # overlapping windows
    (3, 2, 5, 6, (3, 3), (3, 3)),
]


@pytest.mark.parametrize("case", POOL_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nt", [1, 2])
def test_pool_kernels_match_reference(case, dtype, nt):
    n, C, H, W, k, s = case
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, C, H, W)).astype(dtype)
    X.setflags(write=False)
    Ho, Wo = (H - k[0]) // s[0] + 1, (W - k[1]) // s[1] + 1
    dY = rng.standard_normal((n, C, Ho, Wo)).astype(dtype)
    dY.setflags(write=False)
    tol = TOL[dtype]
    Y = np.empty((n, C, Ho, Wo), dtype)
    idx = np.empty((n, C, Ho, Wo), np.int32)
    dX = np.full_like(X, np.nan)  # every element must be written
    kp.maxpool2d_forward(X, Y, idx, *k, *s, nt)
    np.testing.assert_array_equal(Y, ref.maxpool2d(X, k, s).astype(dtype))
    kp.maxpool2d_backward(dY, idx, dX, *k, *s, nt)
    np.testing.assert_allclose(dX, ref.maxpool2d_backward(X, dY, k, s), atol=tol)
    kp.avgpool2d_forward(X, Y, *k, *s, nt)
    np.testing.assert_allclose(Y, ref.avgpool2d(X, k, s), atol=tol)
    kp.avgpool2d_backward(dY, dX, *k, *s, nt)
    np.testing.assert_allclose(dX, ref.avgpool2d_backward(X.shape, dY, k, s), atol=tol)
    G = np.empty((n, C), dtype)
    kp.global_avgpool_forward(X, G, nt)
    np.testing.assert_allclose(G, X.astype(np.float64).mean(axis=(2, 3)), atol=tol)
    dG = rng.standard_normal((n, C)).astype(dtype)
    kp.global_avgpool_backward(dG, dX, nt)
    np.testing.assert_allclose(dX, np.broadcast_to(dG[:, :, None, None] / (H * W), X.shape),
                               atol=tol)
    U = np.empty((n, C, H * s[0], W * s[1]), dtype)
    kp.upsample_nearest_forward(X, U, *s, nt)
    np.testing.assert_array_equal(U, ref.upsample_nearest(X, s).astype(dtype))
    dU = rng.standard_normal(U.shape).astype(dtype)
    kp.upsample_nearest_backward(dU, dX, *s, nt)
    np.testing.assert_allclose(dX, ref.upsample_nearest_backward(dU, s), atol=tol * 10)


def test_maxpool_ties_go_to_the_first_maximum():
    X = np.zeros((1, 1, 2, 4))
    X[0, 0, 1, 1] = X[0, 0, 0, 0] = 1.0  # tie in the first window
    Y = np.empty((1, 1, 1, 2))
    idx = np.empty((1, 1, 1, 2), np.int32)
    kp.maxpool2d_forward(X, Y, idx, 2, 2, 2, 2, 1)
    assert idx.ravel().tolist() == [0, 2]
    dX = np.empty_like(X)
    kp.maxpool2d_backward(np.ones((1, 1, 1, 2)), idx, dX, 2, 2, 2, 2, 1)
    assert dX.sum() == 2 and dX[0, 0, 0, 0] == 1 and dX[0, 0, 0, 2] == 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,C,size,Co,k", [(64, 1, 28, 6, 5), (64, 6, 12, 16, 5),
                                           (40, 3, 9, 4, 3), (7, 2, 30, 3, 3)])
def test_backward_bits_do_not_depend_on_the_thread_count(dtype, n, C, size, Co, k):
    """The weight gradient is summed in slots fixed by the batch, so 1, 2 or 5
    threads give the same bits (and the slot count is what the kernel asks)."""
    rng = np.random.default_rng(n + C + size)
    X = rng.standard_normal((n, C, size, size)).astype(dtype)
    Wt = rng.standard_normal((Co, C, k, k)).astype(dtype)
    b = rng.standard_normal(Co).astype(dtype)
    Ho = size - k + 1
    dY = rng.standard_normal((n, Co, Ho, Ho)).astype(dtype)
    plan = kc.conv2d_plan(C, k, k, 1, 1, Co, Ho, Ho)
    ngroups = -(-n // plan["nb"])
    assert kc.conv2d_acc_rows(n, plan) == min(ngroups, plan["slots"])
    ref = _run_conv(X, Wt, b, dY, (1, 1), (0, 0), (1, 1), True, 1)
    for nt in (2, 5):
        out = _run_conv(X, Wt, b, dY, (1, 1), (0, 0), (1, 1), True, nt)
        for a, r in zip(out[:4], ref[:4]):
            np.testing.assert_array_equal(a, r, err_msg=f"n_threads={nt}")
    if kc.conv2d_acc_rows(n, plan) > 1:
        Y = np.empty((n, Co, Ho, Ho), dtype)
        with pytest.raises(ValueError, match="conv2d_acc_rows"):
            kc.conv2d_backward(X, Wt, dY, Y, np.empty_like(X), np.empty_like(Wt),
                               np.empty_like(b), np.empty((1, plan["col"]), dtype),
                               np.empty((1, plan["g"]), dtype), np.empty((1, plan["acc"]), dtype),
                               np.empty(plan["wr"], dtype), 1, 1, 0, 0, 1, 1, True, True, 1)
