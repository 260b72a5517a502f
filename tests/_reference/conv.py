"""Slow, obviously-correct NumPy oracles for the conv and pool kernels.

Everything is computed in float64 with explicit loops over the kernel
offsets (and, for pooling, over output positions), straight from the
definitions; nothing here is shared with the fast code.
"""
import numpy as np


def conv2d(X, W, b, stride, pad, dilation, out_hw):
    """Cross-correlation, ``Y[n, o, y, x] = b[o] + sum_{c,i,j} W[o,c,i,j] X[n,c,y*s+i*d-p, x*s+j*d-p]``.

    ``pad`` is the (top, left) zero padding; the output size ``out_hw`` fixes
    the bottom/right padding.
    """
    X = np.asarray(X, np.float64)
    W = np.asarray(W, np.float64)
    n, C, H, Wd = X.shape
    Co, _, kh, kw = W.shape
    (sh, sw), (ph, pw), (dh, dw), (Ho, Wo) = stride, pad, dilation, out_hw
    Y = np.zeros((n, Co, Ho, Wo))
    for y in range(Ho):
        for x in range(Wo):
            for i in range(kh):
                for j in range(kw):
                    ih, iw = y * sh + i * dh - ph, x * sw + j * dw - pw
                    if 0 <= ih < H and 0 <= iw < Wd:
                        Y[:, :, y, x] += X[:, :, ih, iw] @ W[:, :, i, j].T
    if b is not None:
        Y += np.asarray(b, np.float64)[None, :, None, None]
    return Y


def conv2d_backward(X, W, dY, stride, pad, dilation):
    """(dX, dW, db) of ``conv2d`` for the upstream gradient dY."""
    X = np.asarray(X, np.float64)
    W = np.asarray(W, np.float64)
    dY = np.asarray(dY, np.float64)
    n, C, H, Wd = X.shape
    Co, _, kh, kw = W.shape
    _, _, Ho, Wo = dY.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, pad, dilation
    dX = np.zeros_like(X)
    dW = np.zeros_like(W)
    for y in range(Ho):
        for x in range(Wo):
            for i in range(kh):
                for j in range(kw):
                    ih, iw = y * sh + i * dh - ph, x * sw + j * dw - pw
                    if 0 <= ih < H and 0 <= iw < Wd:
                        dX[:, :, ih, iw] += dY[:, :, y, x] @ W[:, :, i, j]
                        dW[:, :, i, j] += dY[:, :, y, x].T @ X[:, :, ih, iw]
    db = dY.sum(axis=(0, 2, 3))
    return dX, dW, db


def _windows(H, W, kh, kw, sh, sw):
    Ho, Wo = (H - kh) // sh + 1, (W - kw) // sw + 1
    for y in range(Ho):
        for x in range(Wo):
            yield y, x, slice(y * sh, y * sh + kh), slice(x * sw, x * sw + kw)


def maxpool2d(X, k, s):
    X = np.asarray(X, np.float64)
    n, C, H, W = X.shape
    Y = np.zeros((n, C, (H - k[0]) // s[0] + 1, (W - k[1]) // s[1] + 1))
    for y, x, rs, cs in _windows(H, W, *k, *s):
        Y[:, :, y, x] = X[:, :, rs, cs].max(axis=(2, 3))
    return Y


def maxpool2d_backward(X, dY, k, s):
    """Gradient to the first maximum of each window."""
    X = np.asarray(X, np.float64)
    n, C, H, W = X.shape
    dX = np.zeros_like(X)
    for y, x, rs, cs in _windows(H, W, *k, *s):
        for a in range(n):
            for c in range(C):
                win = X[a, c, rs, cs]
                i, j = np.unravel_index(np.argmax(win), win.shape)
                dX[a, c, rs.start + i, cs.start + j] += dY[a, c, y, x]
    return dX


def avgpool2d(X, k, s):
    X = np.asarray(X, np.float64)
    n, C, H, W = X.shape
    Y = np.zeros((n, C, (H - k[0]) // s[0] + 1, (W - k[1]) // s[1] + 1))
    for y, x, rs, cs in _windows(H, W, *k, *s):
        Y[:, :, y, x] = X[:, :, rs, cs].mean(axis=(2, 3))
    return Y


def avgpool2d_backward(X_shape, dY, k, s):
    dX = np.zeros(X_shape)
    H, W = X_shape[2:]
    for y, x, rs, cs in _windows(H, W, *k, *s):
        dX[:, :, rs, cs] += np.asarray(dY, np.float64)[:, :, y, x, None, None] / (k[0] * k[1])
    return dX


def upsample_nearest(X, s):
    X = np.asarray(X, np.float64)
    return X.repeat(s[0], axis=2).repeat(s[1], axis=3)


def upsample_nearest_backward(dY, s):
    dY = np.asarray(dY, np.float64)
    n, C, Ho, Wo = dY.shape
    return dY.reshape(n, C, Ho // s[0], s[0], Wo // s[1], s[1]).sum(axis=(3, 5))
