"""The conv1d kernels against the NumPy oracle in tests/_reference/conv1d.py.

Over dtype x threads x geometry x NaN-padded lengths x read-only input.
"""
import numpy as np
import pytest

from fastnut._kernels import conv1d as k1
from tests._reference import conv1d as ref

TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-11, atol=1e-11)}

GEOMS = [  # (T, C, Co, k, stride, dilation, padding)
    (9, 3, 5, 3, 1, 1, "valid"),
    (9, 3, 5, 3, 2, 1, "same"),
    (10, 2, 4, 4, 1, 2, "causal"),
    (8, 4, 3, 3, 3, 1, 1),
    (7, 1, 6, 5, 1, 1, "same"),   # one input channel, even extent
    (6, 5, 2, 1, 1, 1, "valid"),  # 1x1: the direct path when unpadded
    (1, 3, 2, 3, 1, 1, "same"),   # a single step
]


def _case(geom, dtype, seed, padded):
    T, C, Co, k, s, d, padding = geom
    rng = np.random.default_rng(seed)
    n = 5
    X = rng.standard_normal((n, T, C)).astype(dtype)
    W = rng.standard_normal((Co, C, k)).astype(dtype)
    b = rng.standard_normal(Co).astype(dtype)
    lengths = np.full(n, T, np.int32)
    if padded and T > 1:
        e = d * (k - 1) + 1
        low = e if padding == "valid" else 1
        lengths = rng.integers(min(low, T), T + 1, n).astype(np.int32)
        lengths[0] = T
    pad, To = ref.geometry(T, k, s, d, padding)
    vout = np.array([ref.geometry(int(L), k, s, d, padding)[1] for L in lengths], np.int32)
    return X, W, b, lengths, vout, pad, To


def _scratch(n, To, C, Co, k, nb, nt, dtype):
    slots = max(1, min(-(-n // nb), 16))   # conv1d_acc_rows
    return (np.empty((nt, nb * To * k * C), dtype), np.empty((nt, nb * To * Co), dtype),
            np.empty((slots, k * C * Co + Co), dtype), np.empty(k * C * Co, dtype))


def test_acc_rows_are_slots_fixed_by_the_batch():
    plan = k1.conv1d_plan(n=40, To=30, C=3, k=5, Co=8)
    assert plan["slots"] == 16
    for n, nb in [(1, 1), (40, 3), (40, 40), (1000, 7)]:
        p = dict(plan, nb=nb)
        assert k1.conv1d_acc_rows(n=n, plan=p) == max(1, min(-(-n // nb), 16))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_backward_bits_do_not_depend_on_the_thread_count(dtype):
    """The weight gradient is summed in slots fixed by the batch (each run by
    one thread) and added in slot order: 1, 2 and 3 threads give one answer."""
    X, W, b, lengths, vout, pad, To = _case(GEOMS[0], dtype, 0, True)
    T, C, Co, k, s, d, padding = GEOMS[0]
    n, nb = X.shape[0], 1
    Y = np.empty((n, To, Co), dtype)
    col, g, acc, wr = _scratch(n, To, C, Co, k, nb, 3, dtype)
    k1.conv1d_forward(X, W, b, lengths, vout, Y, col, wr, s, pad, d, nb, False, 1)
    dY = np.random.default_rng(2).standard_normal(Y.shape).astype(dtype)
    got = []
    for nt in (1, 2, 3):
        dX, dW, db = np.empty_like(X), np.empty_like(W), np.empty_like(b)
        k1.conv1d_backward(X, W, dY, Y, lengths, vout, dX, dW, db, col, g, acc, wr, s, pad,
                           d, nb, False, True, nt)
        got.append((dX, dW, db))
    for other in got[1:]:
        for a, c in zip(got[0], other):
            np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("geom", GEOMS)
@pytest.mark.parametrize("padded", [False, True])
@pytest.mark.parametrize("threads,nb", [(1, 5), (2, 2), (2, 1)])
def test_conv1d_forward_backward(dtype, geom, padded, threads, nb):
    X, W, b, lengths, vout, pad, To = _case(geom, dtype, 0, padded)
    T, C, Co, k, s, d, padding = geom
    n = X.shape[0]
    X.flags.writeable = False
    col, g, acc, wr = _scratch(n, To, C, Co, k, nb, threads, dtype)
    Y = np.empty((n, To, Co), dtype)
    k1.conv1d_forward(X, W, b, lengths, vout, Y, col, wr, s, pad, d, nb, False, threads)
    expect = ref.conv1d(X, W, b, lengths, s, d, padding)
    np.testing.assert_array_equal(np.isnan(Y), np.isnan(expect))
    np.testing.assert_allclose(Y, expect, **TOL[dtype])

    rng = np.random.default_rng(1)
    dY = rng.standard_normal(Y.shape).astype(dtype)
    dY[np.isnan(Y)] = 1e6  # must be ignored
    dX, dW, db = np.full_like(X, np.nan), np.full_like(W, np.nan), np.full_like(b, np.nan)
    k1.conv1d_backward(X, W, dY, Y, lengths, vout, dX, dW, db, col, g, acc, wr, s, pad, d,
                       nb, False, True, threads)
    eX, eW, eb = ref.conv1d_backward(X, W, np.where(np.isnan(Y), 0, dY), lengths, s, d,
                                     padding)
    np.testing.assert_allclose(dX, eX, **TOL[dtype])
    np.testing.assert_allclose(dW, eW, **TOL[dtype])
    np.testing.assert_allclose(db, eb, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv1d_fused_relu(dtype):
    geom = (9, 3, 5, 3, 1, 1, "same")
    X, W, b, lengths, vout, pad, To = _case(geom, dtype, 3, True)
    n, T, C = X.shape
    col, g, acc, wr = _scratch(n, To, C, 5, 3, 2, 1, dtype)
    Y = np.empty((n, To, 5), dtype)
    k1.conv1d_forward(X, W, b, lengths, vout, Y, col, wr, 1, pad, 1, 2, True, 1)
    Z = ref.conv1d(X, W, b, lengths, 1, 1, "same")
    np.testing.assert_allclose(Y, np.maximum(Z, 0), **TOL[dtype])  # NaN stays NaN
    dY = np.ones_like(Y)
    dX, dW, db = np.empty_like(X), np.empty_like(W), np.empty_like(b)
    k1.conv1d_backward(X, W, dY, Y, lengths, vout, dX, dW, db, col, g, acc, wr, 1, pad, 1, 2,
                       True, True, 1)
    masked = np.where(np.nan_to_num(Z) > 0, 1.0, 0.0)
    eX, eW, eb = ref.conv1d_backward(X, W, masked, lengths, 1, 1, "same")
    np.testing.assert_allclose(dW, eW, **TOL[dtype])
    np.testing.assert_allclose(dX, eX, **TOL[dtype])


POOLS = [(2, 2, "valid"), (3, 1, "same"), (3, 2, 1), (2, 1, "causal"), (4, 3, "valid")]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k,s,padding", POOLS)
@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("threads", [1, 2])
def test_pool1d(dtype, k, s, padding, kind, threads):
    rng = np.random.default_rng(0)
    n, T, C = 4, 11, 3
    X = rng.standard_normal((n, T, C)).astype(dtype)
    X[1, 2, 0] = X[1, 3, 0]  # a tie
    lengths = np.array([T, 7, k + 1, 4], np.int32)
    X.flags.writeable = False
    pad, To = ref.geometry(T, k, s, 1, padding)
    vout = np.array([ref.geometry(int(L), k, s, 1, padding)[1] for L in lengths], np.int32)
    Y = np.empty((n, To, C), dtype)
    dX = np.full((n, T, C), np.nan, dtype)
    dY = rng.standard_normal((n, To, C)).astype(dtype)
    if kind == "max":
        idx = np.empty((n, To, C), np.int32)
        k1.maxpool1d_forward(X, lengths, vout, Y, idx, k, s, pad, threads)
        k1.maxpool1d_backward(dY, idx, dX, threads)
    else:
        k1.avgpool1d_forward(X, lengths, vout, Y, k, s, pad, threads)
        k1.avgpool1d_backward(dY, lengths, vout, dX, k, s, pad, threads)
    expect = ref.pool1d(X, lengths, k, s, padding, kind)
    np.testing.assert_array_equal(np.isnan(Y), np.isnan(expect))
    np.testing.assert_allclose(Y, expect, **TOL[dtype])
    np.testing.assert_allclose(dX, ref.pool1d_backward(X, np.where(np.isnan(expect), 0, dY),
                                                       lengths, k, s, padding, kind),
                               **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threads", [1, 2])
def test_global_pool1d(dtype, threads):
    rng = np.random.default_rng(0)
    n, T, C = 5, 9, 4
    X = rng.standard_normal((n, T, C)).astype(dtype)
    lengths = np.array([9, 1, 4, 8, 2], np.int32)
    X[lengths[0]:] = np.nan  # never read
    Y = np.empty((n, C), dtype)
    k1.global_avgpool1d_forward(X, lengths, Y, threads)
    np.testing.assert_allclose(Y, ref.global_pool1d(X, lengths, "avg"), **TOL[dtype])
    idx = np.empty((n, C), np.int32)
    k1.global_maxpool1d_forward(X, lengths, Y, idx, threads)
    np.testing.assert_allclose(Y, ref.global_pool1d(X, lengths, "max"), **TOL[dtype])
    dY = rng.standard_normal((n, C)).astype(dtype)
    dX = np.full((n, T, C), np.nan, dtype)
    k1.global_maxpool1d_backward(dY, idx, dX, threads)
    expect = np.zeros((n, T, C))
    for i, L in enumerate(lengths):
        for c in range(C):
            expect[i, np.argmax(X[i, :L, c]), c] = dY[i, c]
    np.testing.assert_array_equal(dX, expect.astype(dtype))
    k1.global_avgpool1d_backward(dY, lengths, dX, threads)
    expect = np.zeros((n, T, C))
    for i, L in enumerate(lengths):
        expect[i, :L] = dY[i] / L
    np.testing.assert_allclose(dX, expect, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threads", [1, 2])
def test_sequence_lengths_scan_matches_the_validation_rule(dtype, threads):
    from fastnut._validation import sequence_lengths
    rng = np.random.default_rng(0)
    for trial in range(20):
        n, T, C = rng.integers(1, 6), rng.integers(1, 8), rng.integers(1, 4)
        X = rng.standard_normal((n, T, C)).astype(dtype)
        L = rng.integers(1, T + 1, n)
        for i in range(n):
            X[i, L[i]:] = np.nan
        if trial % 3 == 0 and L.max() > 1:  # a partly-NaN step: not padding
            i = int(np.argmax(L))
            X[i, L[i] - 1, 0] = np.nan
        lengths = np.empty(n, np.int32)
        status = np.empty(n, np.int32)
        npad = k1.sequence_lengths(X, lengths, status, threads)
        try:
            expect, pad = sequence_lengths(X)
        except ValueError:
            assert status.any()
            continue
        assert not status.any()
        np.testing.assert_array_equal(lengths, expect)
        assert npad == (0 if pad is None else int(pad.any(axis=1).sum()))


def test_sequence_scan_errors_name_the_problem():
    from fastnut import nn
    layer = nn.GlobalAvgPool1D()
    layer.build((3, 2), dtype=np.float64)
    X = np.zeros((2, 3, 2))
    X[1] = np.nan
    with pytest.raises(ValueError, match="sequence 1 is all NaN"):
        layer.forward(X)
    X[1] = 0
    X[0, 2, 1] = np.inf
    with pytest.raises(ValueError, match="sequences contain infinity"):
        layer.forward(X)
    X[0, 2, 1] = np.nan
    with pytest.raises(ValueError, match="sequence 0 has NaN inside its valid steps"):
        layer.forward(X)
