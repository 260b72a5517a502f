"""Slow NumPy twins of the Boltzmann drivers (``fastnut/_boltzmann.py``).

Each twin is the mini-batch loop written out in NumPy, one line per equation
of the kernel's docstring, and draws its random numbers from the kernels'
counter-based generator in the kernels' order, so a twin and its driver give
the same numbers for the same key (to float round-off).

The loops take an ``ops`` object with two methods:

``matmul(A, B)``
    ``A @ B``;
``bernoulli(A, b, sample)``
    ``(P, S)``: the probabilities ``sigmoid(A + b)`` and, if ``sample``, a
    Bernoulli sample of them that uses the next ``len(A)`` streams.

``NumpyOps`` is the obviously-right reference (``np.matmul``, a NumPy
sigmoid, the generator's uniforms).  ``FastnutOps`` runs the same loops on
fastnut's float32 GEMM and fused sigmoid-and-sample kernel: that is, line for
line, the Python loop the estimators ran before their epochs became one
compiled call -- the baseline of ``python -m benchmarks dbn``.
"""
import numpy as np

from fastnut._boltzmann import Sampler, batch_starts, seed_key
from fastnut._kernels import rbm as K
from fastnut.nn._linalg import matmul as fastnut_matmul
from sklearn.utils import check_random_state

from . import rbm as ref


class NumpyOps:
    """Plain NumPy: ``np.matmul``, ``1 / (1 + exp(-x))``, the generator's uniforms."""

    def __init__(self, key, stream=0):
        self.key = key
        self.stream = stream

    def matmul(self, A, B):
        return np.matmul(A, B)

    def uniform(self, n, m, dtype):
        U = np.empty((n, m), dtype)
        K.random_uniform(U, self.key, self.stream, 1)
        self.stream += n
        return U

    def bernoulli(self, A, b, sample=True):
        P = (1.0 / (1.0 + np.exp(-(A + b)))).astype(A.dtype)
        if not sample:
            return P, P
        return P, (self.uniform(*P.shape, P.dtype) < P).astype(P.dtype)


class FastnutOps(NumpyOps):
    """fastnut's GEMM and fused sigmoid + sample kernel (the pre-compiled-epoch loop)."""

    def __init__(self, key, stream=0):
        super().__init__(key, stream)
        self._sampler = Sampler(key, stream)

    @property
    def stream(self):
        return self._sampler.stream

    @stream.setter
    def stream(self, value):
        if hasattr(self, "_sampler"):
            self._sampler.stream = value

    def matmul(self, A, B):
        return fastnut_matmul(A, B)

    def bernoulli(self, A, b, sample=True):
        return self._sampler.bernoulli(A, b, sample)


# -- DBN ---------------------------------------------------------------------------------
def up_down_epoch(X, R, r, G, g, batch_size, learning_rate, k, ops):
    """One epoch of up-down fine-tuning, mini-batch by mini-batch (updates in place)."""
    lr = learning_rate
    L = len(R)
    mm, bern = ops.matmul, ops.bernoulli
    for s in range(0, X.shape[0], batch_size):
        v = X[s:s + batch_size]
        B = v.shape[0]
        wake = [v]
        for i in range(L - 1):
            wake.append(bern(mm(wake[-1], R[i]), r[i])[1])
        pen = wake[-1]
        top_pos, h = bern(mm(pen, R[-1]), r[-1])
        for _ in range(k):
            neg_pen = bern(mm(h, R[-1].T), g[-1])[1]
            top_neg, h = bern(mm(neg_pen, R[-1]), r[-1])
        sleep = [neg_pen]
        for i in reversed(range(L - 1)):
            sleep.append(bern(mm(sleep[-1], G[i].T), g[i])[1])
        sleep = sleep[::-1]
        for i in range(L - 1):
            err = wake[i] - bern(mm(wake[i + 1], G[i].T), g[i], False)[0]
            G[i] += (lr / B) * mm(err.T, wake[i + 1])
            g[i] += (lr / B) * err.sum(0)
            err = sleep[i + 1] - bern(mm(sleep[i], R[i]), r[i], False)[0]
            R[i] += (lr / B) * mm(sleep[i].T, err)
            r[i] += (lr / B) * err.sum(0)
        R[-1] += (lr / B) * (mm(pen.T, top_pos) - mm(neg_pen.T, top_neg))
        r[-1] += (lr / B) * (top_pos.sum(0) - top_neg.sum(0))
        g[-1] += (lr / B) * (pen.sum(0) - neg_pen.sum(0))
    return ops.stream


# -- DBM ---------------------------------------------------------------------------------
def _layer_input(states, W, l, mm):
    if l == 0:
        return mm(states[1], W[0].T)
    A = mm(states[l - 1], W[l - 1])
    if l < len(W):
        A += mm(states[l + 1], W[l].T)
    return A


def dbm_mean_field(V, W, b, n_iter, ops):
    """[V, mu_1, ..., mu_L]: a doubled bottom-up pass, then n_iter bottom-to-top sweeps."""
    mu = [V]
    L = len(W)
    for l in range(L):
        mu.append(ops.bernoulli(ops.matmul(mu[-1], W[l] * W[l].dtype.type(2) if l < L - 1
                                           else W[l]), b[l + 1], False)[0])
    for _ in range(n_iter):
        for l in range(1, L + 1):
            mu[l] = ops.bernoulli(_layer_input(mu, W, l, ops.matmul), b[l], False)[0]
    return mu


def dbm_gibbs(x, W, b, n_sweeps, ops):
    """n_sweeps sweeps of the chains x (a list, replaced layer by layer): odd, then even."""
    for _ in range(n_sweeps):
        for parity in (1, 0):
            for l in range(parity, len(x), 2):
                x[l] = ops.bernoulli(_layer_input(x, W, l, ops.matmul), b[l])[1]
    return ops.stream


def dbm_epoch(X, W, b, vel_W, vel_b, x, batch_size, learning_rate, momentum, weight_decay,
              n_mean_field, n_gibbs_steps, ops):
    """One epoch of DBM training (all lists updated in place; chains ``x`` replaced)."""
    lr, mom, wd = learning_rate, momentum, weight_decay
    C = x[0].shape[0]
    for s in range(0, X.shape[0], batch_size):
        mu = dbm_mean_field(X[s:s + batch_size], W, b, n_mean_field, ops)
        B = mu[0].shape[0]
        dbm_gibbs(x, W, b, n_gibbs_steps, ops)
        for l in range(len(W)):
            grad = ops.matmul(mu[l].T, mu[l + 1]) / B - ops.matmul(x[l].T, x[l + 1]) / C \
                - wd * W[l]
            vel_W[l] *= mom
            vel_W[l] += lr * grad
            W[l] += vel_W[l]
        for l in range(len(mu)):
            vel_b[l] *= mom
            vel_b[l] += lr * (mu[l].mean(0) - x[l].mean(0))
            b[l] += vel_b[l]
    return ops.stream


def dbm_sample(W, b, n_samples, n_steps, ops):
    x = [np.zeros((n_samples, w), W[0].dtype) for w in [W[0].shape[0]] + [w.shape[1] for w in W]]
    dbm_gibbs(x, W, b, n_steps, ops)
    return x[0]


# -- greedy pre-training -----------------------------------------------------------------
def greedy_pretrain(X, sizes, learning_rate, batch_size, n_iter, k, method, momentum,
                    weight_decay, rng, input_scales=None):
    """A stack of RBMs, each trained by ``tests._reference.rbm.fit_epoch`` from
    ``BernoulliRBM``'s initial weights for the seed ``rng.randint(2**31 - 1)``."""
    coefs, hb, vb = [], [], []
    H = X
    for i, size in enumerate(sizes):
        hs, vs = input_scales[i] if input_scales is not None else (1.0, 1.0)
        r = check_random_state(int(rng.randint(np.iinfo(np.int32).max)))
        Wm = r.normal(0, 0.01, (size, H.shape[1])).astype(X.dtype)   # (n_hidden, n_visible)
        key = seed_key(r)
        bh, bv = np.zeros(size, X.dtype), np.zeros(H.shape[1], X.dtype)
        VW, Vh, Vv = np.zeros_like(Wm), np.zeros_like(bh), np.zeros_like(bv)
        chains = np.zeros((batch_size, size), X.dtype)
        starts = batch_starts(H.shape[0], batch_size)

        def draw(kind, stream, n, m, dtype=X.dtype):
            out = np.empty((n, m), dtype if kind == "uniform" else np.float64)
            (K.random_uniform if kind == "uniform" else K.random_normal)(out, key, stream, 1)
            return out
        stream = 0
        for _ in range(n_iter):
            stream = ref.fit_epoch(H, starts, Wm, bh, bv, VW, Vh, Vv, chains, learning_rate,
                                   momentum, weight_decay, k, method == "pcd", 0, draw, stream,
                                   hs, vs)
        coefs.append(np.ascontiguousarray(Wm.T))
        hb.append(bh)
        vb.append(bv)
        H = ref.sigmoid(hs * (H @ Wm.T) + bh).astype(X.dtype)
    return coefs, hb, vb
