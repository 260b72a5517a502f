"""Slow, obviously-correct NumPy oracles for the RBM kernels and estimators.

Weights are in the textbook layout ``W`` of shape (n_hidden, n_visible)
(scikit-learn's ``components_``).  Random numbers are passed in through a
``draw(kind, stream, n_rows, n_cols)`` callback so the oracle uses exactly the
numbers the kernel uses (``kind`` is "uniform" or "normal").
"""
import itertools

import numpy as np

MASK = (1 << 64) - 1
G1 = 0x9E3779B97F4A7C15
G2 = 0xD1B54A32D192ED03


# -- the counter-based generator, in pure Python -----------------------------------
def mix64(z):
    z &= MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def stream_key(key, stream):
    return mix64(key ^ mix64((stream * G1 + G2) & MASK))


def uniform_double(key, stream, counter):
    bits = mix64((stream_key(key, stream) + (counter + 1) * G2) & MASK)
    return (bits >> 11) * 2.0 ** -53


def uniform_float(key, stream, counter):
    """The top 24 bits of the draw uniform_double keeps 53 bits of."""
    bits = mix64((stream_key(key, stream) + (counter + 1) * G2) & MASK)
    return np.float32((bits >> 40) * 2.0 ** -24)


# -- model quantities -------------------------------------------------------------
def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def energy(v, h, W, bh, bv):
    """E(v, h) = -bv.v - bh.h - h W v for single vectors."""
    return -bv @ v - bh @ h - h @ W @ v


def all_states(n):
    return np.array(list(itertools.product([0.0, 1.0], repeat=n)))


def free_energy_by_enumeration(V, W, bh, bv):
    """F(v) = -log sum_h exp(-E(v, h)), summing over every hidden state."""
    H = all_states(W.shape[0])
    out = np.empty(V.shape[0])
    for i, v in enumerate(V):
        e = np.array([energy(v, h, W, bh, bv) for h in H])
        out[i] = -np.logaddexp.reduce(-e)
    return out


def free_energy(V, W, bh, bv, gaussian=False):
    """Closed form: -bv.v - sum softplus(W v + bh) (Bernoulli) or |v - bv|^2/2 - ... (Gaussian)."""
    A = V @ W.T + bh
    sp = np.logaddexp(0, A).sum(axis=1)
    if gaussian:
        return 0.5 * ((V - bv) ** 2).sum(axis=1) - sp
    return -V @ bv - sp


def log_partition(W, bh, bv):
    """log Z by enumerating every visible state (n_visible <= ~16)."""
    V = all_states(W.shape[1])
    return np.logaddexp.reduce(-free_energy(V, W, bh, bv))


def model_distribution(W, bh, bv):
    """p(v) for every visible state, in the order of ``all_states``."""
    V = all_states(W.shape[1])
    logp = -free_energy(V, W, bh, bv)
    logp -= np.logaddexp.reduce(logp)
    return np.exp(logp)


def exact_gradient(X, W, bh, bv):
    """Gradient of the mean log-likelihood of X w.r.t. (W, bh, bv), by enumeration."""
    V = all_states(W.shape[1])
    p = model_distribution(W, bh, bv)
    Hd = sigmoid(X @ W.T + bh)
    Hm = sigmoid(V @ W.T + bh)
    gW = Hd.T @ X / len(X) - (Hm * p[:, None]).T @ V
    gbh = Hd.mean(0) - p @ Hm
    gbv = X.mean(0) - p @ V
    return gW, gbh, gbv


# -- the training step -------------------------------------------------------------
def _visible(A, bv, visible_type, draw, stream):
    """Mean and state of the visible units from pre-activations A = h W (no bias)."""
    if visible_type == 0:
        P = sigmoid(A + bv)
        U = draw("uniform", stream, *P.shape)
        return P, (U < P).astype(A.dtype)
    M = A + bv
    if visible_type == 1:
        return M, M + draw("normal", stream, *M.shape).astype(A.dtype)
    return M, M.copy()


def fit_epoch(X, starts, W, bh, bv, VW, Vh, Vv, chains, lr, momentum, weight_decay,
              k, persistent, visible_type, draw, stream, hidden_scale=1.0, visible_scale=1.0):
    """One epoch of CD-k / PCD-k exactly as the kernel's docstring states it.

    Updates W, bh, bv, VW, Vh, Vv, chains in place; returns the new stream.
    """
    for b in range(len(starts) - 1):
        vpos = X[starts[b]:starts[b + 1]]
        B = len(vpos)
        if B == 0:
            continue
        hpos = sigmoid(hidden_scale * (vpos @ W.T) + bh)
        if persistent:
            h = chains.copy()
        else:
            U = draw("uniform", stream, *hpos.shape)
            h = (U < hpos).astype(X.dtype)
            stream += B
        R = len(h)
        for step in range(k):
            _, vneg = _visible(visible_scale * (h @ W), bv, visible_type, draw, stream)
            stream += R
            hneg = sigmoid(hidden_scale * (vneg @ W.T) + bh)
            if step < k - 1 or persistent:
                U = draw("uniform", stream, *hneg.shape)
                h = (U < hneg).astype(X.dtype)
                stream += R
        if persistent:
            chains[...] = h
        gW = hpos.T @ vpos / B - hneg.T @ vneg / R - weight_decay * W
        VW *= momentum
        VW += lr * gW
        Vh *= momentum
        Vh += lr * (hpos.mean(0) - hneg.mean(0))
        Vv *= momentum
        Vv += lr * (vpos.mean(0) - vneg.mean(0))
        W += VW
        bh += Vh
        bv += Vv
    return stream


def gibbs_chain(V, W, bh, bv, n_steps, visible_type, draw, stream):
    """n_steps of v -> h -> v; returns (V, last hidden sample, stream)."""
    for _ in range(n_steps):
        P = sigmoid(V @ W.T + bh)
        H = (draw("uniform", stream, *P.shape) < P).astype(V.dtype)
        stream += len(V)
        _, V = _visible(H @ W, bv, visible_type, draw, stream)
        stream += len(V)
    return V, H, stream


def pseudo_likelihood(X, idx, W, bh, bv):
    """n_features * log sigmoid(F(x with coordinate idx flipped) - F(x))."""
    Xf = X.copy()
    rows = np.arange(len(X))
    Xf[rows, idx] = 1 - Xf[rows, idx]
    d = free_energy(Xf, W, bh, bv) - free_energy(X, W, bh, bv)
    return X.shape[1] * np.log(sigmoid(d))
