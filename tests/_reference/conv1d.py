"""Slow, obviously-correct NumPy oracles for 1-D convolution and pooling.

Sequences are ``(n, T, C)``; ``lengths[i]`` valid steps each.  Everything is
float64, one sequence and one output step at a time, straight from the
definitions: output ``o`` reads steps ``o*stride - pad + j*dilation``, steps
outside ``[0, length)`` are zeros (convolution) or absent (pooling), and
outputs past ``n_valid_outputs`` are NaN.
"""
import numpy as np


def geometry(T, k, stride, dilation, padding):
    """(left pad, output length) for a sequence of T steps."""
    e = dilation * (k - 1) + 1
    if padding == "same":
        return (e - 1) // 2, -(-T // stride)
    if padding == "causal":
        return e - 1, -(-T // stride)
    p = 0 if padding == "valid" else padding
    return p, max((T + 2 * p - e) // stride + 1, 0)


def conv1d(X, W, b, lengths, stride, dilation, padding):
    X, W = np.asarray(X, np.float64), np.asarray(W, np.float64)
    n, T, C = X.shape
    Co, _, k = W.shape
    pad, To = geometry(T, k, stride, dilation, padding)
    Y = np.full((n, To, Co), np.nan)
    for i in range(n):
        L = int(lengths[i])
        _, vo = geometry(L, k, stride, dilation, padding)
        for o in range(vo):
            acc = np.zeros(Co) if b is None else np.array(b, np.float64)
            for j in range(k):
                t = o * stride - pad + j * dilation
                if 0 <= t < L:
                    acc = acc + W[:, :, j] @ X[i, t]
            Y[i, o] = acc
    return Y


def conv1d_backward(X, W, dY, lengths, stride, dilation, padding):
    """(dX, dW, db); dY at NaN outputs is ignored."""
    X, W, dY = (np.asarray(a, np.float64) for a in (X, W, dY))
    n, T, C = X.shape
    Co, _, k = W.shape
    pad, To = geometry(T, k, stride, dilation, padding)
    dX, dW, db = np.zeros_like(X), np.zeros_like(W), np.zeros(Co)
    for i in range(n):
        L = int(lengths[i])
        _, vo = geometry(L, k, stride, dilation, padding)
        for o in range(vo):
            g = dY[i, o]
            db += g
            for j in range(k):
                t = o * stride - pad + j * dilation
                if 0 <= t < L:
                    dX[i, t] += W[:, :, j].T @ g
                    dW[:, :, j] += np.outer(g, X[i, t])
    return dX, dW, db


def _windows(L, k, stride, padding, vo):
    pad, _ = geometry(L, k, stride, 1, padding)
    for o in range(vo):
        yield o, [t for t in range(o * stride - pad, o * stride - pad + k) if 0 <= t < L]


def pool1d(X, lengths, k, stride, padding, kind):
    """Max or mean over each window's valid steps."""
    X = np.asarray(X, np.float64)
    n, T, C = X.shape
    _, To = geometry(T, k, stride, 1, padding)
    Y = np.full((n, To, C), np.nan)
    for i in range(n):
        L = int(lengths[i])
        _, vo = geometry(L, k, stride, 1, padding)
        for o, steps in _windows(L, k, stride, padding, vo):
            win = X[i, steps]
            Y[i, o] = win.max(axis=0) if kind == "max" else win.mean(axis=0)
    return Y


def pool1d_backward(X, dY, lengths, k, stride, padding, kind):
    X, dY = np.asarray(X, np.float64), np.asarray(dY, np.float64)
    n, T, C = X.shape
    dX = np.zeros_like(X)
    for i in range(n):
        L = int(lengths[i])
        _, vo = geometry(L, k, stride, 1, padding)
        for o, steps in _windows(L, k, stride, padding, vo):
            if kind == "max":
                win = X[i, steps]
                first = np.argmax(win, axis=0)  # first maximum on ties
                for c in range(C):
                    dX[i, steps[first[c]], c] += dY[i, o, c]
            else:
                for t in steps:
                    dX[i, t] += dY[i, o] / len(steps)
    return dX


def global_pool1d(X, lengths, kind):
    X = np.asarray(X, np.float64)
    return np.stack([X[i, :int(L)].max(axis=0) if kind == "max" else X[i, :int(L)].mean(axis=0)
                     for i, L in enumerate(lengths)])
