"""Drivers of the Boltzmann machines: free functions over arrays, no estimator state.

The estimators (``rbm.py``, ``dbn.py``, ``dbm.py``) validate input and keep
fitted state; everything numeric between them and the kernels lives here, in
functions that take arrays and return arrays (or update the arrays they are
given, as documented), the way ``KMeans.fit`` hands its loop to
``_kmeans_single_lloyd``:

* RBM: ``batch_starts``, ``rbm_scratch``, ``rbm_epoch`` (one epoch of CD-k /
  PCD-k, one kernel call), ``train_rbm`` (an RBM fit from a seed, exactly
  ``BernoulliRBM.fit``'s) and ``greedy_pretrain`` (a stack of them);
* DBN: ``propagate``, ``dbn_down``, ``up_down_epoch`` (one epoch of up-down
  fine-tuning, one kernel call) and ``dbn_sample``;
* DBM: ``dbm_mean_field``, ``dbm_gibbs`` (sweeps of persistent chains),
  ``dbm_epoch`` (one epoch of joint training, one kernel call),
  ``dbm_init_chains``, ``dbm_reconstruction_error`` and ``dbm_sample``;
* ``Sampler`` and ``seed_key``: the kernels' counter-based generator seen from
  Python.

Each has a slow NumPy twin in ``tests/_reference/boltzmann.py``, and the tests
check that a driver gives its twin's numbers for the same key.  Epoch kernels
are in ``src_c/rbm.pyx`` (one RBM) and ``src_c/boltzmann.pyx`` (DBN, DBM).
"""
import time
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_random_state
from sklearn.utils.validation import _assert_all_finite, validate_data

from ._kernels import boltzmann as _kb
from ._kernels import rbm as _k

BERNOULLI = _k.UnitType.BERNOULLI
from ._threads import _NO_STEP, StepThreads, blas_single_thread, map_row_chunks, threads_for
from .nn import DivergenceError
from .nn._linalg import matmul
from ._validation import predict_dtypes

#: rows used for the per-epoch reconstruction error
MONITOR_ROWS = 1000


# -- shared pieces ------------------------------------------------------------------
def batch_starts(n_samples, batch_size):
    """Boundaries of ``ceil(n / batch_size)`` batches of near-equal size.

    Same slicing as scikit-learn's BernoulliRBM (``gen_even_slices``): the
    first ``n % n_batches`` batches get one more row.
    """
    n_batches = max(1, -(-n_samples // batch_size))
    sizes = np.full(n_batches, n_samples // n_batches, dtype=np.intp)
    sizes[: n_samples % n_batches] += 1
    starts = np.zeros(n_batches + 1, dtype=np.intp)
    np.cumsum(sizes, out=starts[1:])
    return starts


def consecutive_starts(n_samples, batch_size):
    """Boundaries of batches of ``batch_size`` rows in order, the last one shorter."""
    return np.append(np.arange(0, n_samples, batch_size, dtype=np.intp),
                     np.intp(n_samples)).astype(np.intp)


def blas_limit():
    """BLAS on one thread for a training run: BLAS threads on the epoch's
    mini-batch GEMMs made fit 24x slower with the machine's other core busy
    (``python -m benchmarks threads``), and their results depend on the BLAS
    thread count, where fit must give the same parameters for any."""
    return blas_single_thread()


def clip_unit_interval(X, estimator_name):
    """X (dense, C-contiguous), checked finite, clipped to [0, 1] on a copy if needed."""
    if _k.outside_unit_interval(X):      # one pass; the rare path checks in detail
        _assert_all_finite(X, input_name="X", estimator_name=estimator_name)
        X = np.clip(X, 0, 1)
    return X


def check_unit_interval_X(est, X, reset, dtype, predict=False):
    """Validated dense C-contiguous X in ``dtype``, clipped to [0, 1] on a copy if needed.

    ``predict=True``: only validated (float32 / float64 kept, sparse kept), for
    :func:`unit_rows` to convert, check and clip one row chunk at a time, so
    prediction memory stays flat in the number of rows.
    """
    if predict:
        return validate_data(est, X, accept_sparse="csr", dtype=predict_dtypes(dtype),
                             reset=False, ensure_all_finite=False)
    X = validate_data(est, X, accept_sparse="csr", dtype=dtype, order="C", reset=reset,
                      ensure_all_finite=False)   # checked with the range, in one pass
    if sp.issparse(X):
        X = np.ascontiguousarray(X.toarray())
    return clip_unit_interval(X, type(est).__name__)


def unit_rows(est, Xc, dtype):
    """A row chunk of ``check_unit_interval_X(..., predict=True)`` output as fit sees X."""
    if sp.issparse(Xc):
        Xc = Xc.toarray()
    with np.errstate(over="ignore"):
        Xc = np.ascontiguousarray(Xc, dtype=dtype)
    return clip_unit_interval(Xc, type(est).__name__)


def check_layer_sizes(hidden_layer_sizes):
    """``hidden_layer_sizes`` as a non-empty list of positive ints, or a ValueError."""
    sizes = [hidden_layer_sizes] if isinstance(hidden_layer_sizes, Integral) \
        else list(hidden_layer_sizes)
    if not sizes or any(not isinstance(s, Integral) or s < 1 for s in sizes):
        raise ValueError("hidden_layer_sizes must be a non-empty sequence of positive "
                         f"integers, got {hidden_layer_sizes!r}")
    return [int(s) for s in sizes]


def check_sample_args(n_samples, n_steps):
    if not isinstance(n_samples, Integral) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
    if not isinstance(n_steps, Integral) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}")


def seed_key(rng):
    """A 64-bit generator key drawn from a NumPy RandomState."""
    hi = int(rng.randint(0, 2**32, dtype=np.uint64))
    lo = int(rng.randint(0, 2**32, dtype=np.uint64))
    return (hi << 32) | lo


def monitor_rows(X):
    """Up to ``MONITOR_ROWS`` evenly spaced rows of X (a C-contiguous copy)."""
    return np.ascontiguousarray(X[:: max(1, X.shape[0] // MONITOR_ROWS)][:MONITOR_ROWS])


class Sampler:
    """Bernoulli sampling with the kernels' counter-based generator.

    ``key`` names the generator, ``stream`` is the next unused stream; every
    sampling step of ``n`` rows uses ``n`` streams and advances it.
    """

    def __init__(self, key, stream=0):
        self.key = key
        self.stream = stream

    def bernoulli(self, A, b, sample=True):
        """A (pre-activations, owned) -> (probabilities ``sigmoid(A + b)``, samples)."""
        S = np.empty_like(A) if sample else A
        self.stream = _k.layer_conditional(A, b, S, unit_type=BERNOULLI, do_sample=sample,
                                           key=self.key, stream=self.stream,
                                           n_threads=threads_for(A.size, "rbm"))
        return A, S

    def sample_probabilities(self, P):
        """A Bernoulli sample of the probabilities P (P is not modified)."""
        U = np.empty_like(P)
        _k.random_uniform(U, key=self.key, stream=self.stream,
                          n_threads=threads_for(U.size, "rbm"))
        self.stream += P.shape[0]
        return (U < P).astype(P.dtype)


def _mean_field(A, b):
    """A <- sigmoid(A + b) in place (Bernoulli units, no sampling)."""
    _k.layer_conditional(A, b, A, unit_type=BERNOULLI, do_sample=False, key=0, stream=0,
                         n_threads=threads_for(A.size, "rbm"))


def propagate(H, W, b):
    """sigmoid(H @ W + b) with W of shape (n_in, n_out), through the fused kernel."""
    out = matmul(H, W)
    _mean_field(out, b)
    return out


def _finite(arrays):
    return all(np.isfinite(a).all() for a in arrays)


# -- one RBM ------------------------------------------------------------------------
def rbm_scratch(starts, n_chains, n_visible, n_hidden, dtype):
    """The scratch of ``rbm_epoch`` for these batches: ``(Hcat, Vcat, Hs)``, of the
    shapes the kernel states (``rbm.fit_epoch_workspace``)."""
    ws = _k.fit_epoch_workspace(max_batch=max(1, int(np.max(np.diff(starts)))),
                                n_chains=n_chains, n_visible=n_visible, n_hidden=n_hidden)
    return tuple(np.empty(ws[name], dtype) for name in ("Hcat", "Vcat", "Hs"))


#: multiply-adds of one ``fit_epoch`` call (~30-100 ms on one core): an epoch is
#: cut into calls over consecutive batches of about this size, so that Ctrl-C
#: lands between them; the random stream and the updates carry over unchanged
_EPOCH_CALL_WORK = 1 << 28


def _batch_groups(starts, chains, n_vis, n_hid, k):
    """Batch boundaries of each ``fit_epoch`` call: slices of ``starts``."""
    n_batches = len(starts) - 1
    rows = int(np.max(np.diff(starts))) + chains if n_batches else 1
    per_batch = max(1, (k + 2) * rows * n_vis * n_hid)
    step = max(1, _EPOCH_CALL_WORK // per_batch)
    return [starts[g:g + step + 1] for g in range(0, max(n_batches, 1), step)]


def rbm_epoch(X, starts, Wt, bh, bv, VW, Vh, Vv, chains, scratch, *, learning_rate,
              momentum, weight_decay, k, persistent, visible_type, input_scales=(1.0, 1.0),
              key, stream, tuner=None):
    """One epoch of CD-k / PCD-k over the batches ``X[starts[b]:starts[b + 1]]``.

    ``Wt`` (n_visible, n_hidden), the biases, the velocities and the
    persistent ``chains`` are updated in place (``src_c/rbm.pyx``,
    ``fit_epoch``, states the update).  Returns the advanced random stream.

    The epoch runs as kernel calls over groups of consecutive batches; with
    a ``StepThreads`` (one per fit, ``tuner``) each call is one of its steps,
    so a float32 epoch uses the free cores when they are faster (its
    products are fastnut's GEMM, the same bits on any thread count).
    """
    Hcat, Vcat, Hs = scratch
    n_vis, n_hid = Wt.shape
    hs, vs = input_scales
    groups = _batch_groups(starts, chains.shape[0], n_vis, n_hid, int(k))
    full = int(groups[0][-1] - groups[0][0])
    rows = Hcat.shape[0]  # a batch's positive and negative rows
    for group in groups:
        # one kernel call per group of batches: Ctrl-C is honoured between
        # them; only groups of the first one's size are timed
        with tuner.step(timed=int(group[-1] - group[0]) == full) if tuner else _NO_STEP:
            nt = max(threads_for(rows * max(n_hid, n_vis), "rbm"),
                     threads_for(rows * n_vis * n_hid, "gemm"))
            stream = _k.fit_epoch(X, group, Wt, bh, bv, VW, Vh, Vv, chains, Hcat, Vcat, Hs,
                                  learning_rate=float(learning_rate), momentum=float(momentum),
                                  weight_decay=float(weight_decay), k=int(k),
                                  persistent=bool(persistent), visible_type=visible_type,
                                  hidden_scale=float(hs), visible_scale=float(vs),
                                  key=key, stream=stream, n_threads=nt)
    return stream


def rbm_reconstruction_error(X, Wt, bh, bv):
    """Mean over rows of the squared error of a Bernoulli RBM's mean-field reconstruction."""
    if X.shape[0] == 0:
        return 0.0
    H = np.empty((X.shape[0], Wt.shape[1]), X.dtype)
    _k.hidden_probs(X, Wt, bh, H, n_threads=threads_for(H.size, "rbm"))
    R = H @ Wt.T
    _mean_field(R, bv)
    R -= X
    return float(np.einsum("ij,ij->", R, R, dtype=np.float64) / X.shape[0])


def train_rbm(X, n_hidden, *, seed, learning_rate, batch_size, n_iter, k, method, momentum,
              weight_decay, input_scales=(1.0, 1.0), verbose=0, name="BernoulliRBM"):
    """Fit a Bernoulli RBM to X (C-contiguous, in [0, 1]): ``BernoulliRBM.fit``'s numbers.

    The same initial weights, generator key and epochs as
    ``BernoulliRBM(n_components=n_hidden, random_state=seed, ...).fit(X)``.
    Returns ``(W, bh, bv)`` with ``W`` of shape ``(n_visible, n_hidden)``
    (C-contiguous).
    """
    rng = check_random_state(seed)
    dtype = X.dtype
    n_visible = X.shape[1]
    Wt = np.ascontiguousarray(rng.normal(0, 0.01, (n_hidden, n_visible)).T, dtype=dtype)
    bh = np.zeros(n_hidden, dtype)
    bv = np.zeros(n_visible, dtype)
    chains = np.zeros((batch_size, n_hidden), dtype)
    VW, Vh, Vv = np.zeros_like(Wt), np.zeros_like(bh), np.zeros_like(bv)
    key, stream = seed_key(rng), 0
    starts = batch_starts(X.shape[0], batch_size)
    scratch = rbm_scratch(starts, batch_size, n_visible, n_hidden, dtype)
    monitor = monitor_rows(X)
    tuner = StepThreads()
    with blas_limit():
        for epoch in range(n_iter):
            t0 = time.time()
            stream = rbm_epoch(X, starts, Wt, bh, bv, VW, Vh, Vv, chains, scratch,
                               learning_rate=learning_rate, momentum=momentum,
                               weight_decay=weight_decay, k=k, persistent=method == "pcd",
                               visible_type=BERNOULLI, input_scales=input_scales, key=key,
                               stream=stream, tuner=tuner)
            loss = rbm_reconstruction_error(monitor, Wt, bh, bv)
            if not (np.isfinite(loss) and np.isfinite(Wt).all()):
                raise DivergenceError(
                    f"{name} diverged (weights or reconstruction error no longer finite); "
                    f"lower learning_rate (now {learning_rate}) or momentum (now {momentum}).")
            if verbose:
                print(f"[{name}] Iteration {epoch + 1}, time = {time.time() - t0:.2f}s, "
                      f"reconstruction error = {loss:.4f}")
    return Wt, bh, bv


def greedy_pretrain(X, sizes, *, learning_rate, batch_size, n_iter, k, method, momentum,
                    weight_decay, rng, verbose=0, input_scales=None):
    """Train a stack of Bernoulli RBMs bottom-up, each on the previous layer's means.

    Layer ``i`` is ``train_rbm`` seeded with ``rng.randint(2**31 - 1)``, so it
    equals a ``BernoulliRBM`` with that ``random_state``.  ``input_scales``
    gives per layer the (hidden, visible) multipliers of the weight input
    (default all ``(1, 1)``; see ``DeepBoltzmannMachine``).  Returns
    ``(coefs, hidden_biases, visible_biases)``: per layer the weights
    ``(n_in, n_out)`` (C-contiguous), the hidden and the visible biases.
    """
    coefs, hb, vb = [], [], []
    H = X
    for i, size in enumerate(sizes):
        hs, vs = input_scales[i] if input_scales is not None else (1.0, 1.0)
        if verbose:
            print(f"[pre-training] layer {i + 1}/{len(sizes)}: {H.shape[1]} -> {size}")
        W, bh, bv = train_rbm(
            H, size, seed=int(rng.randint(np.iinfo(np.int32).max)), learning_rate=learning_rate,
            batch_size=batch_size, n_iter=n_iter, k=k, method=method, momentum=momentum,
            weight_decay=weight_decay, input_scales=(float(hs), float(vs)), verbose=verbose)
        coefs.append(W)
        hb.append(bh)
        vb.append(bv)
        if i < len(sizes) - 1:
            H = propagate(H, W if hs == 1 else W * W.dtype.type(hs), bh)
    return coefs, hb, vb


# -- deep belief network ------------------------------------------------------------
def dbn_up(X, coefs, intercepts, rows=None):
    """Mean activations of the top layer (recognition weights), row chunks in parallel.

    ``rows(X_chunk)``, if given, turns a chunk of X into the model's input
    (conversion and checks one chunk at a time).
    """
    out = np.empty((X.shape[0], coefs[-1].shape[1]), dtype=coefs[-1].dtype)

    def chunk(a, c):  # the whole up pass of a row chunk, on one thread
        H = X[a:c] if rows is None else rows(X[a:c])
        for W, b in zip(coefs, intercepts):
            H = propagate(H, W, b)
        out[a:c] = H
    map_row_chunks(chunk, X.shape[0])
    return out


def dbn_down(H, coefs, generative_coefs, generative_intercepts):
    """Mean-field top-down pass: the top RBM's weights, then the generative ones."""
    V = H
    L = len(coefs)
    for i in reversed(range(L)):
        W = coefs[-1] if i == L - 1 else generative_coefs[i]
        A = matmul(V, W.T)
        _mean_field(A, generative_intercepts[i])
        V = A
    return V


def dbn_reconstruction_error(X, coefs, intercepts, generative_coefs, generative_intercepts):
    """Squared error of an up pass to the top and a mean-field down pass, per row."""
    H = X
    for W, b in zip(coefs, intercepts):
        H = propagate(H, W, b)
    V = dbn_down(H, coefs, generative_coefs, generative_intercepts)
    return float(((V - X) ** 2).sum() / max(X.shape[0], 1))


def _check_layers(name, arrays, shapes, dtype):
    for i, (a, shape) in enumerate(zip(arrays, shapes)):
        if not (isinstance(a, np.ndarray) and a.dtype == dtype and a.shape == shape
                and a.flags.c_contiguous and a.flags.writeable):
            raise ValueError(f"{name}[{i}] must be a writeable C-contiguous {dtype} array of "
                             f"shape {shape}, got {getattr(a, 'shape', type(a))}")


def up_down_epoch(X, R, r, G, g, *, batch_size, learning_rate, k, key, stream):
    """One epoch of up-down fine-tuning over X in consecutive batches of ``batch_size``.

    ``R``/``r`` are the recognition weights and biases (L layers), ``G``
    the generative weights (L - 1) and ``g`` the generative biases (L; the
    last is the top RBM's visible bias); all are updated in place
    (``src_c/boltzmann.pyx``, ``up_down_epoch``, states the update).
    Returns the advanced random stream.
    """
    L = len(R)
    n = [X.shape[1]] + [W.shape[1] for W in R]
    _check_layers("R", R, [(n[i], n[i + 1]) for i in range(L)], X.dtype)
    _check_layers("r", r, [(n[i + 1],) for i in range(L)], X.dtype)
    _check_layers("G", G, [(n[i], n[i + 1]) for i in range(L - 1)], X.dtype)
    _check_layers("g", g, [(n[i],) for i in range(L)], X.dtype)
    starts = consecutive_starts(X.shape[0], batch_size)
    nt = threads_for(2 * batch_size * max(n), "rbm")
    return _kb.up_down_epoch(X, starts, list(R), list(r), list(G), list(g),
                             learning_rate=float(learning_rate), k=int(k), key=key,
                             stream=stream, n_threads=nt)


def up_down(X, R, r, G, g, *, n_epochs, batch_size, learning_rate, k, key, stream,
            monitor, loss_curve, verbose=0):
    """``n_epochs`` epochs of ``up_down_epoch``; appends each epoch's reconstruction
    error of ``monitor`` to ``loss_curve``.  Returns the advanced stream."""
    with blas_limit():
        for epoch in range(n_epochs):
            t0 = time.time()
            stream = up_down_epoch(X, R, r, G, g, batch_size=batch_size,
                                   learning_rate=learning_rate, k=k, key=key, stream=stream)
            if not _finite(list(R) + list(G)):
                raise DivergenceError("up-down fine-tuning diverged; lower "
                                      "fine_tune_learning_rate")
            loss_curve.append(dbn_reconstruction_error(monitor, R, r, G, g))
            if verbose:
                print(f"[DeepBeliefNetwork] up-down epoch {epoch + 1}, reconstruction error = "
                      f"{loss_curve[-1]:.4f}, time = {time.time() - t0:.2f}s")
    return stream


def dbn_sample(coefs, intercepts, generative_coefs, generative_intercepts, n_samples,
               n_steps, key, stream=0):
    """Gibbs sampling in the top RBM from ``v ~ p(v | h = 0)``, then a sampled top-down pass.

    Returns ``(V, stream)``: binary visible samples and the advanced stream.
    """
    sampler = Sampler(key, stream)
    W, bh, bv = coefs[-1], intercepts[-1], generative_intercepts[-1]
    dtype = W.dtype
    V = sampler.bernoulli(np.zeros((n_samples, W.shape[0]), dtype), bv)[1]
    H = np.empty((n_samples, W.shape[1]), dtype)
    P = np.empty_like(V)
    sampler.stream = _k.gibbs_chain(V, W, bh, bv, H, P, n_steps=int(n_steps),
                                    visible_type=BERNOULLI, key=sampler.key,
                                    stream=sampler.stream,
                                    n_threads=threads_for(n_samples * max(W.shape), "rbm"))
    for i in reversed(range(len(coefs) - 1)):
        V = sampler.bernoulli(matmul(V, generative_coefs[i].T), generative_intercepts[i])[1]
    return V, sampler.stream


# -- deep Boltzmann machine ---------------------------------------------------------
def dbm_mean_field(V, coefs, biases, n_iter):
    """Mean-field posteriors ``[V, mu_1, ..., mu_L]`` of a DBM's hidden layers given V.

    ``biases`` is ``[visible bias, b_1, ..., b_L]``.  One kernel call
    (``src_c/boltzmann.pyx``, ``dbm_mean_field``).
    """
    V = np.ascontiguousarray(V)
    mu = [np.empty((V.shape[0], W.shape[1]), V.dtype) for W in coefs]
    nt = threads_for(V.shape[0] * max(W.shape[1] for W in coefs), "rbm")
    _kb.dbm_mean_field(V, mu, list(coefs), list(biases), n_iter=int(n_iter), n_threads=nt)
    return [V] + mu


def dbm_gibbs(chains, coefs, biases, n_sweeps, key, stream):
    """``n_sweeps`` Gibbs sweeps of the chains (a list ``[v, h_1, ..., h_L]``, updated in
    place): odd layers given even ones, then even given odd.  Returns the stream."""
    nt = threads_for(chains[0].shape[0] * max(c.shape[1] for c in chains), "rbm")
    return _kb.dbm_gibbs(chains[0], list(chains[1:]), list(coefs), list(biases),
                         n_sweeps=int(n_sweeps), key=key, stream=stream, n_threads=nt)


def dbm_init_chains(X, coefs, biases, n_chains, n_mean_field, rng, sampler):
    """Persistent chains started from ``n_chains`` rows of X drawn by ``rng``: the rows,
    then a sample of their mean-field hidden states."""
    start = np.ascontiguousarray(X[rng.randint(X.shape[0], size=n_chains)])
    chains = [start]
    for m in dbm_mean_field(start, coefs, biases, n_mean_field)[1:]:
        chains.append(sampler.sample_probabilities(m))
    return chains


def dbm_epoch(X, coefs, biases, vel_W, vel_b, chains, *, batch_size, learning_rate, momentum,
              weight_decay, n_mean_field, n_gibbs_steps, key, stream):
    """One epoch of DBM training over X in consecutive batches of ``batch_size``.

    ``coefs``, ``biases`` (visible first), their velocities and the chains
    are updated in place (``src_c/boltzmann.pyx``, ``dbm_epoch``, states the
    update).  Returns the advanced random stream.
    """
    L = len(coefs)
    n = [X.shape[1]] + [W.shape[1] for W in coefs]
    C = chains[0].shape[0]
    _check_layers("coefs", coefs, [(n[i], n[i + 1]) for i in range(L)], X.dtype)
    _check_layers("vel_W", vel_W, [(n[i], n[i + 1]) for i in range(L)], X.dtype)
    _check_layers("biases", biases, [(w,) for w in n], X.dtype)
    _check_layers("vel_b", vel_b, [(w,) for w in n], X.dtype)
    _check_layers("chains", chains, [(C, w) for w in n], X.dtype)
    starts = consecutive_starts(X.shape[0], batch_size)
    nt = threads_for(max(batch_size, C) * max(n), "rbm")
    return _kb.dbm_epoch(X, starts, list(coefs), list(biases), list(vel_W), list(vel_b),
                         list(chains), learning_rate=float(learning_rate),
                         momentum=float(momentum), weight_decay=float(weight_decay),
                         n_mean_field=int(n_mean_field), n_gibbs_steps=int(n_gibbs_steps),
                         key=key, stream=stream, n_threads=nt)


def dbm_reconstruction_error(X, coefs, biases, n_mean_field):
    """Squared error of the visible units' mean-field reconstruction from mu_1, per row."""
    if X.shape[0] == 0:
        return 0.0
    mu = dbm_mean_field(X, coefs, biases, n_mean_field)
    A = matmul(mu[1], coefs[0].T)
    _mean_field(A, biases[0])
    return float(((A - X) ** 2).sum() / X.shape[0])


def dbm_train(X, coefs, biases, vel_W, vel_b, chains, *, n_epochs, batch_size, learning_rate,
              momentum, weight_decay, n_mean_field, n_gibbs_steps, key, stream, monitor,
              loss_curve, verbose=0):
    """``n_epochs`` epochs of ``dbm_epoch``; appends each epoch's reconstruction error of
    ``monitor`` to ``loss_curve``.  Returns the advanced stream."""
    with blas_limit():
        for epoch in range(n_epochs):
            t0 = time.time()
            stream = dbm_epoch(X, coefs, biases, vel_W, vel_b, chains, batch_size=batch_size,
                               learning_rate=learning_rate, momentum=momentum,
                               weight_decay=weight_decay, n_mean_field=n_mean_field,
                               n_gibbs_steps=n_gibbs_steps, key=key, stream=stream)
            loss = dbm_reconstruction_error(monitor, coefs, biases, n_mean_field)
            if not (np.isfinite(loss) and _finite(coefs)):
                raise DivergenceError("DeepBoltzmannMachine diverged; lower learning_rate "
                                      f"(now {learning_rate})")
            loss_curve.append(loss)
            if verbose:
                print(f"[DeepBoltzmannMachine] Iteration {len(loss_curve)}, reconstruction "
                      f"error = {loss:.4f}, time = {time.time() - t0:.2f}s")
    return stream


def dbm_sample(coefs, biases, n_samples, n_steps, key, stream=0):
    """Visible samples of a DBM: ``n_steps`` Gibbs sweeps of new chains started at zero.

    A pure function of the weights and ``(key, stream)``: nothing it is given
    is modified.  Returns ``(V, stream)``.
    """
    dtype = coefs[0].dtype
    widths = [coefs[0].shape[0]] + [W.shape[1] for W in coefs]
    chains = [np.zeros((n_samples, w), dtype) for w in widths]
    stream = dbm_gibbs(chains, coefs, biases, n_steps, key, stream)
    return chains[0], stream
