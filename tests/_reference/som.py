"""Slow, obviously-correct NumPy oracles for the self-organizing map kernels.

Everything is float64 and follows the definitions directly: distances from
``x - w`` (no GEMM expansion), the batch map as a sum over samples (no
Voronoi shortcut), the online map as a loop over steps and units.  Grid
positions are written out here again rather than imported from fastnut.
"""
import numpy as np


def distances(X, W, metric):
    """(n, U) matrix of distances in ``metric`` from the definition."""
    X = np.asarray(X, np.float64)
    W = np.asarray(W, np.float64)
    diff = X[:, None, :] - W[None, :, :]
    if metric == "euclidean":
        return np.sqrt((diff ** 2).sum(-1))
    if metric == "manhattan":
        return np.abs(diff).sum(-1)
    nx = np.linalg.norm(X, axis=1)[:, None]
    nw = np.linalg.norm(W, axis=1)[None, :]
    dots = X @ W.T
    cos = np.zeros_like(dots)
    ok = (nx > 0) & (nw > 0)
    cos[ok] = (dots / np.where(ok, nx * nw, 1.0))[ok]
    return np.maximum(0.0, 1.0 - cos)


def bmu(X, W, metric="euclidean"):
    """Best unit, second-best unit (ties: lowest index) and best distance."""
    D = distances(X, W, metric)
    order = np.argsort(D, axis=1, kind="stable")
    best = order[:, 0]
    second = order[:, 1] if W.shape[0] > 1 else order[:, 0]
    return best, second, D[np.arange(len(X)), best]


def neighborhood(kind, g2, sigma, cutoff=True):
    """h(r; sigma) of squared grid distances g2, with the documented cut-offs.

    ``cutoff=False``: the gaussian and the mexican hat keep their tails.
    """
    g2 = np.asarray(g2, np.float64)
    r = np.sqrt(g2)
    if not cutoff and kind == "gaussian":
        return np.exp(-g2 / (2 * sigma ** 2))
    if not cutoff and kind == "mexican_hat":
        return (1 - g2 / sigma ** 2) * np.exp(-g2 / (2 * sigma ** 2))
    if kind == "gaussian":
        return np.where(r <= 3 * sigma, np.exp(-g2 / (2 * sigma ** 2)), 0.0)
    if kind == "bubble":
        return np.where(g2 <= sigma ** 2 + 1e-9, 1.0, 0.0)
    if kind == "triangle":
        return np.where(g2 <= sigma ** 2 + 1e-9, np.maximum(0.0, 1 - r / sigma), 0.0)
    if kind == "mexican_hat":
        h = (1 - g2 / sigma ** 2) * np.exp(-g2 / (2 * sigma ** 2))
        return np.where(r <= 4 * sigma, h, 0.0)
    raise ValueError(kind)


def batch_map(X, W, best, H):
    """Kohonen batch map, summed sample by sample.

    ``w_u = sum_i H[u, b(x_i)] x_i / sum_i H[u, b(x_i)]``; a unit with a
    non-positive denominator keeps its weights.
    """
    X = np.asarray(X, np.float64)
    W = np.array(W, np.float64)
    for u in range(W.shape[0]):
        num = np.zeros(X.shape[1])
        den = 0.0
        for i in range(X.shape[0]):
            num += H[u, best[i]] * X[i]
            den += H[u, best[i]]
        if den > 1e-12:
            W[u] = num / den
    return W


def online_map(X, order, W, G2, metric, kind, sigmas, lrs):
    """Sequential map: step t visits X[order[t]] with sigma ``sigmas[t]``, rate ``lrs[t]``.

    Returns the updated weights and the sum of BMU distances (each measured
    before the step's update).
    """
    X = np.asarray(X, np.float64)
    W = np.array(W, np.float64)
    total = 0.0
    for t, i in enumerate(order):
        b, _, dist = bmu(X[i:i + 1], W, metric)
        total += dist[0]
        h = neighborhood(kind, G2[b[0]], sigmas[t])
        W += lrs[t] * h[:, None] * (X[i] - W)
    return W, total


def hex_position(row, col):
    """Plane position (y, x) of a hexagonal unit, odd rows shifted right by 1/2."""
    return row * np.sqrt(3) / 2, col + 0.5 * (row % 2)
