# cython: language_level=3
"""Gibbs sampling kernels for restricted Boltzmann machines.

Every kernel trusts its arguments: shapes, dtypes and contiguity are checked
by ``fastnut/rbm.py`` before the call.  Matrices are row-major; the weight
matrix ``Wt`` is ``(n_visible, n_hidden)``, i.e. scikit-learn's
``components_`` transposed (``components_`` is kept in Fortran order so that
``components_.T`` is this C-contiguous array): with OpenBLAS, small-batch
products whose large operand is not transposed are markedly faster.

Randomness comes from the counter-based generator of ``_random.pxd``: the
uniform for element ``(i, j)`` of a sampling step is a function of
``(key, stream + i, j)``, and each step advances ``stream`` by its number of
rows.  Kernels return the advanced stream so the caller can continue the
sequence; results never depend on the thread count.

Unit types (``visible_type``, ``unit_type``) are the ``UnitType`` enum:
Bernoulli (sampled), Gaussian with unit variance (sampled), Gaussian mean-field
(the mean is used as the state).  Python names them ``rbm.UnitType.BERNOULLI``
and so on, never by number.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport exp, expf, log, log1p, fabs
from libc.stdint cimport uint64_t, uint32_t
from libc.string cimport memcpy

from _blas cimport axpy, gemm
from _gemm cimport product
from _random cimport stream_key, uniform, normal_double, mix64

import numpy as np

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    /* Loops over comparisons only vectorise when the compiler may assume
       comparisons do not trap (IEEE default): allow that for these few
       functions only, not for the whole module. */
    #if defined(__GNUC__) && !defined(__clang__)
    #define FASTNUT_VECTOR_FN __attribute__((optimize("no-trapping-math")))
    #else
    #define FASTNUT_VECTOR_FN
    #endif
    /* whether any of p[0:n] is outside [0, 1] or NaN (branch-free, vectorised) */
    FASTNUT_VECTOR_FN static int fastnut_outside01_f(const float *p, Py_ssize_t n) {
        Py_ssize_t i; int bad = 0;
        for (i = 0; i < n; i++) bad |= (p[i] < 0.0f) | (p[i] > 1.0f) | (p[i] != p[i]);
        return bad;
    }
    FASTNUT_VECTOR_FN static int fastnut_outside01_d(const double *p, Py_ssize_t n) {
        Py_ssize_t i; int bad = 0;
        for (i = 0; i < n; i++) bad |= (p[i] < 0.0) | (p[i] > 1.0) | (p[i] != p[i]);
        return bad;
    }
    """
    int fastnut_outside01_f(const float *p, Py_ssize_t n) noexcept nogil
    int fastnut_outside01_d(const double *p, Py_ssize_t n) noexcept nogil


cpdef enum UnitType:
    """Unit type of a layer's conditional (``visible_type`` / ``unit_type``)."""
    BERNOULLI = 0               # sigmoid means, sampled 0/1
    GAUSSIAN = 1                # unit-variance Gaussian, sampled
    GAUSSIAN_MEAN_FIELD = 2     # unit-variance Gaussian, the mean is the state


# exp / sigmoid shared by every kernel (clamp and accuracy explained there)
cdef extern from "_math.h" nogil:
    float fastnut_expf(float x)
    float fastnut_sigmoidf(float x)
    float fastnut_tanhf(float x)
    double fastnut_sigmoid(double x)
    void fastnut_bias_sigmoid_f(float *a, const float *b, Py_ssize_t n)


cdef inline floating _sigmoid(floating x) noexcept nogil:
    if floating is float:
        return fastnut_sigmoidf(x)
    else:
        return fastnut_sigmoid(x)


cdef inline double _softplus(double x) noexcept nogil:
    """log(1 + exp(x)) without overflow."""
    if x > 0:
        return x + log1p(exp(-x))
    return log1p(exp(x))


cdef inline void _bernoulli_row(const floating *p, floating *s, Py_ssize_t n,
                                uint64_t skey) noexcept nogil:
    """s[j] = (uniform(skey, j) < p[j]) for one row; s may be p.

    One 64-bit draw per sample at either precision (the float32 uniform is the
    float64 one rounded down to 24 bits), compared in the working dtype: a
    float32 and a float64 fit with the same seed draw the same numbers.
    """
    cdef Py_ssize_t j
    cdef floating dummy = 0
    for j in range(n):
        s[j] = 1.0 if uniform(skey, j, dummy) < p[j] else 0.0


cdef void _hidden_layer(floating *A, const floating *b, floating *S,
                        Py_ssize_t n_rows, Py_ssize_t n_cols, bint do_sample,
                        uint64_t key, uint64_t stream, int n_threads) noexcept nogil:
    """A <- sigmoid(A + b); if do_sample, S <- (uniform < A) (S may be A)."""
    cdef Py_ssize_t i, j
    cdef floating *a
    for i in prange(n_rows, schedule="static",
                    num_threads=n_threads):
        a = A + i * n_cols
        # two passes: the sigmoid vectorises (float32), the sampling cannot
        if floating is float:
            fastnut_bias_sigmoid_f(a, b, n_cols)
        else:
            for j in range(n_cols):
                a[j] = _sigmoid(a[j] + b[j])
        if do_sample:
            _bernoulli_row(a, S + i * n_cols, n_cols, stream_key(key, stream + i))


cdef void _visible_layer(floating *A, const floating *b, floating *S,
                         Py_ssize_t n_rows, Py_ssize_t n_cols, int visible_type, bint do_sample,
                         uint64_t key, uint64_t stream, int n_threads) noexcept nogil:
    """Conditional of the visible units given the hidden pre-activations ``A = h W``.

    A <- E[v | h] (sigmoid(A + b) or A + b); if do_sample, S <- a sample of v
    (for mean-field Gaussian units, S <- the mean).  S may be A.
    """
    cdef Py_ssize_t i, j
    cdef uint64_t skey
    cdef floating p, dummy = 0
    cdef floating *a
    cdef floating *s
    if visible_type == BERNOULLI:
        _hidden_layer(A, b, S, n_rows, n_cols, do_sample, key, stream, n_threads)
        return
    for i in prange(n_rows, schedule="static",
                    num_threads=n_threads):
        a = A + i * n_cols
        s = S + i * n_cols
        skey = stream_key(key, stream + i)
        for j in range(n_cols):
            p = a[j] + b[j]
            a[j] = p
            if do_sample:
                if visible_type == GAUSSIAN:
                    s[j] = p + <floating> normal_double(skey, j)
                else:
                    s[j] = p


cdef void _column_sums(const floating *A, Py_ssize_t n_rows, Py_ssize_t n_cols,
                       floating alpha, floating *out) noexcept nogil:
    """out += alpha * A.sum(axis=0)."""
    cdef Py_ssize_t i, j
    cdef const floating *a
    for i in range(n_rows):
        a = A + i * n_cols
        for j in range(n_cols):
            out[j] += alpha * a[j]


def fit_epoch_workspace(Py_ssize_t max_batch, Py_ssize_t n_chains, Py_ssize_t n_visible,
                        Py_ssize_t n_hidden):
    """The scratch shapes of ``fit_epoch``, as a dict ``{"Hcat", "Vcat", "Hs"}``.

    For batches of at most ``max_batch`` rows and ``n_chains`` persistent
    chains, CD or PCD alike: ``R = max(max_batch, n_chains)`` negative rows,
    ``Hcat (max_batch + R, n_hidden)``, ``Vcat (max_batch + R, n_visible)``,
    ``Hs (R, n_hidden)``.  ``fit_epoch`` refuses smaller ones, naming this function.
    """
    if max_batch < 1 or n_chains < 0 or n_visible < 1 or n_hidden < 1:
        raise ValueError(f"fit_epoch_workspace: sizes must be positive, got max_batch="
                         f"{max_batch}, n_chains={n_chains}, n_visible={n_visible}, "
                         f"n_hidden={n_hidden}")
    cdef Py_ssize_t rows = max(max_batch, n_chains)
    return {"Hcat": (max_batch + rows, n_hidden), "Vcat": (max_batch + rows, n_visible),
            "Hs": (rows, n_hidden)}


cdef int _check_scratch(str kernel, str name, Py_ssize_t rows, Py_ssize_t cols,
                        Py_ssize_t need_rows, Py_ssize_t need_cols, str plan) except -1:
    """Rows are addressed with the row width as stride: the width must be exact,
    the number of rows at least the need."""
    if rows < need_rows or cols != need_cols:
        raise ValueError(f"{kernel}: scratch {name} has shape {(rows, cols)}, needs at least "
                         f"{(need_rows, need_cols)} (see {plan})")
    return 0


def fit_epoch(const floating[:, ::1] X,        # IN  (n_samples, n_visible) training data
              const Py_ssize_t[::1] starts,    # IN  (n_batches + 1,) batch boundaries in X
              floating[:, ::1] Wt,             # INOUT (n_visible, n_hidden)
              floating[::1] bh,                # INOUT (n_hidden,)
              floating[::1] bv,                # INOUT (n_visible,)
              floating[:, ::1] VW,             # INOUT (n_visible, n_hidden) momentum buffer
              floating[::1] Vh,                # INOUT (n_hidden,)
              floating[::1] Vv,                # INOUT (n_visible,)
              floating[:, ::1] chains,         # INOUT (n_chains, n_hidden) persistent hidden states
              floating[:, ::1] Hcat,           # SCRATCH (max batch + R, n_hidden)
              floating[:, ::1] Vcat,           # SCRATCH (max batch + R, n_visible)
              floating[:, ::1] Hs,             # SCRATCH (R, n_hidden): fit_epoch_workspace
              double learning_rate, double momentum, double weight_decay,
              int k, bint persistent, int visible_type,
              double hidden_scale, double visible_scale,
              uint64_t key, uint64_t stream,
              int n_threads):
    """One epoch of CD-k or PCD-k over the batches ``X[starts[b]:starts[b+1]]``.

    Per batch of ``B`` rows, with ``R = B`` negative rows (CD) or
    ``R = n_chains`` (PCD)::

        h+ = sigmoid(v+ W^T + bh)                 (mean field)
        h  = sample(h+)  (CD)  |  chains  (PCD)
        k times: v- = sample(v | h);  h- = sigmoid(v- W^T + bh);  h = sample(h-)
        VW = momentum VW + lr (h+^T v+ / B - h-^T v- / R - weight_decay W)
        W += VW      (same for the biases, without weight decay)

    PCD stores the last ``h`` back into ``chains``.  Returns the advanced
    random stream.

    ``hidden_scale`` and ``visible_scale`` multiply the weight input of the
    hidden and visible conditionals (``sigmoid(hidden_scale v W^T + bh)``,
    ``visible_scale h W``); 1 for an RBM, 2 for the doubled directions of
    deep Boltzmann machine pre-training (Salakhutdinov & Hinton 2009).

    The weight matrix is the memory traffic that matters at small batch
    sizes, so the products are stacked: ``Vcat = [v+; v-]`` and
    ``Hcat = [h+ / B; -h- / R]`` make the gradient one GEMM
    (``Wt += lr Vcat^T Hcat`` with ``beta = 1 - lr * weight_decay``, or into
    ``VW`` with ``beta = momentum``), and for PCD, whose last ``v-`` does not
    depend on the batch, ``[v+; v-] W^T`` is one GEMM too.
    """
    cdef Py_ssize_t n_batches = starts.shape[0] - 1
    cdef Py_ssize_t n_vis = X.shape[1], n_hid = Wt.shape[1]
    cdef Py_ssize_t n_chains = chains.shape[0]
    cdef Py_ssize_t bi, B, R, step, i, j
    cdef floating lr = learning_rate, mom = momentum, wd = weight_decay
    cdef floating a_pos, a_neg, alpha
    cdef floating hs = hidden_scale, vs = visible_scale
    cdef const floating *vpos
    cdef floating *hcur
    cdef floating *hneg
    cdef floating *vneg
    cdef floating *row
    cdef Py_ssize_t max_b = 0
    if visible_type < BERNOULLI or visible_type > GAUSSIAN_MEAN_FIELD:
        raise ValueError(f"visible_type must be a UnitType, got {visible_type!r}")
    if Wt.shape[0] != n_vis or bh.shape[0] != n_hid or bv.shape[0] != n_vis:
        raise ValueError(f"fit_epoch: Wt {tuple(Wt.shape)[:2]} and the biases do not fit "
                         f"{n_vis} visible units")
    for bi in range(n_batches):
        B = starts[bi + 1] - starts[bi]
        if starts[bi] < 0 or starts[bi + 1] > X.shape[0]:
            raise ValueError(f"fit_epoch: batch {bi} [{starts[bi]}, {starts[bi + 1]}) is "
                             f"outside X's {X.shape[0]} rows")
        max_b = max(max_b, B)
    if persistent and chains.shape[1] != n_hid:
        raise ValueError(f"fit_epoch: chains have {chains.shape[1]} columns, need {n_hid}")
    if max_b > 0:
        R = n_chains if persistent else max_b
        _check_scratch("fit_epoch", "Hcat", Hcat.shape[0], Hcat.shape[1], max_b + R, n_hid,
                       "fit_epoch_workspace")
        _check_scratch("fit_epoch", "Vcat", Vcat.shape[0], Vcat.shape[1], max_b + R, n_vis,
                       "fit_epoch_workspace")
        _check_scratch("fit_epoch", "Hs", Hs.shape[0], Hs.shape[1], R, n_hid,
                       "fit_epoch_workspace")
    with nogil:
        for bi in range(n_batches):
            B = starts[bi + 1] - starts[bi]
            if B <= 0:
                continue
            vpos = &X[starts[bi], 0]
            R = n_chains if persistent else B
            hneg = &Hcat[B, 0]
            vneg = &Vcat[B, 0]
            memcpy(&Vcat[0, 0], vpos, B * n_vis * sizeof(floating))
            if persistent:
                hcur = &chains[0, 0]
            else:
                # positive phase first: CD chains start from a sample of h+
                product(False, False, B, n_hid, n_vis, hs, vpos, n_vis,
                         &Wt[0, 0], n_hid, <floating> 0.0, &Hcat[0, 0], n_hid, n_threads)
                hcur = &Hs[0, 0]
                _hidden_layer(&Hcat[0, 0], &bh[0], hcur, B, n_hid, True, key, stream, n_threads)
                stream += B
            # negative phase: k steps of block Gibbs sampling
            for step in range(k):
                product(False, True, R, n_vis, n_hid, vs, hcur, n_hid,
                         &Wt[0, 0], n_hid, <floating> 0.0, vneg, n_vis, n_threads)
                _visible_layer(vneg, &bv[0], vneg, R, n_vis, visible_type, True,
                               key, stream, n_threads)
                stream += R
                if step < k - 1:
                    product(False, False, R, n_hid, n_vis, hs, vneg, n_vis,
                             &Wt[0, 0], n_hid, <floating> 0.0, hneg, n_hid, n_threads)
                    hcur = &Hs[0, 0]
                    _hidden_layer(hneg, &bh[0], hcur, R, n_hid, True, key, stream, n_threads)
                    stream += R
            if persistent:
                # [v+; v-] W^T in one GEMM, then h+ (mean field) and h- (+ chain sample)
                product(False, False, B + R, n_hid, n_vis, hs, &Vcat[0, 0], n_vis,
                         &Wt[0, 0], n_hid, <floating> 0.0, &Hcat[0, 0], n_hid, n_threads)
                _hidden_layer(&Hcat[0, 0], &bh[0], &Hcat[0, 0], B, n_hid, False,
                              key, stream, n_threads)
                _hidden_layer(hneg, &bh[0], &chains[0, 0], R, n_hid, True,
                              key, stream, n_threads)
                stream += R
            else:
                product(False, False, R, n_hid, n_vis, hs, vneg, n_vis,
                         &Wt[0, 0], n_hid, <floating> 0.0, hneg, n_hid, n_threads)
                _hidden_layer(hneg, &bh[0], hneg, R, n_hid, False, key, stream, n_threads)
            # scale the hidden rows by +lr/B and -lr/R: the gradient is then Hcat^T Vcat
            a_pos = lr / B
            a_neg = -lr / R
            for i in range(B + R):
                alpha = a_pos if i < B else a_neg
                row = &Hcat[i, 0]
                for j in range(n_hid):
                    row[j] *= alpha
            if mom == 0:
                product(True, False, n_vis, n_hid, B + R, <floating> 1.0, &Vcat[0, 0], n_vis,
                         &Hcat[0, 0], n_hid, <floating> 1.0 - lr * wd, &Wt[0, 0], n_hid, n_threads)
            else:
                product(True, False, n_vis, n_hid, B + R, <floating> 1.0, &Vcat[0, 0], n_vis,
                         &Hcat[0, 0], n_hid, mom, &VW[0, 0], n_hid, n_threads)
                if wd != 0:
                    axpy(<int> (n_hid * n_vis), -lr * wd, &Wt[0, 0], 1, &VW[0, 0], 1)
                axpy(<int> (n_hid * n_vis), <floating> 1.0, &VW[0, 0], 1, &Wt[0, 0], 1)
            for j in range(n_hid):
                Vh[j] *= mom
            for j in range(n_vis):
                Vv[j] *= mom
            _column_sums(&Hcat[0, 0], B + R, n_hid, <floating> 1.0, &Vh[0])
            _column_sums(&Vcat[0, 0], B, n_vis, a_pos, &Vv[0])
            _column_sums(vneg, R, n_vis, a_neg, &Vv[0])
            for j in range(n_hid):
                bh[j] += Vh[j]
            for j in range(n_vis):
                bv[j] += Vv[j]
    return stream


def hidden_probs(const floating[:, ::1] X,    # IN  (n, n_visible)
                 const floating[:, ::1] Wt,   # IN  (n_visible, n_hidden)
                 const floating[::1] bh,      # IN  (n_hidden,)
                 floating[:, ::1] out,        # OUT (n, n_hidden)
                 int n_threads):
    """out = sigmoid(X W^T + bh): one GEMM, then bias and sigmoid fused in one pass."""
    cdef Py_ssize_t n = X.shape[0], n_vis = X.shape[1], n_hid = Wt.shape[1]
    if n == 0:
        return
    with nogil:
        gemm(False, False, n, n_hid, n_vis, <floating> 1.0, &X[0, 0], n_vis, &Wt[0, 0], n_hid,
             <floating> 0.0, &out[0, 0], n_hid)
        _hidden_layer(&out[0, 0], &bh[0], &out[0, 0], n, n_hid, False, 0, 0, n_threads)


def layer_conditional(floating[:, ::1] A,       # INOUT (n, m) pre-activations -> means
                      const floating[::1] b,    # IN    (m,)
                      floating[:, ::1] S,       # OUT   (n, m) samples (may be A)
                      int unit_type, bint do_sample,
                      uint64_t key, uint64_t stream, int n_threads):
    """A <- E[units | input] from pre-activations A (without bias); optionally sample into S.

    ``unit_type`` is a ``UnitType`` (Bernoulli, Gaussian, Gaussian
    mean-field).  Returns the advanced stream (``stream + n`` if sampled).
    """
    cdef Py_ssize_t n = A.shape[0], m = A.shape[1]
    if unit_type < BERNOULLI or unit_type > GAUSSIAN_MEAN_FIELD:
        raise ValueError(f"unit_type must be a UnitType, got {unit_type!r}")
    if n == 0 or m == 0:
        return stream
    with nogil:
        _visible_layer(&A[0, 0], &b[0], &S[0, 0], n, m, unit_type, do_sample,
                       key, stream, n_threads)
    return stream + n if do_sample else stream


def gibbs_chain(floating[:, ::1] V,           # INOUT (n, n_visible) chain states
                const floating[:, ::1] Wt,    # IN    (n_visible, n_hidden)
                const floating[::1] bh,       # IN    (n_hidden,)
                const floating[::1] bv,       # IN    (n_visible,)
                floating[:, ::1] H,           # OUT   (n, n_hidden) last hidden sample
                floating[:, ::1] P,           # OUT   (n, n_visible) last visible means
                int n_steps, int visible_type,
                uint64_t key, uint64_t stream, int n_threads):
    """``n_steps`` of block Gibbs sampling v -> h -> v on ``n`` chains at once."""
    cdef Py_ssize_t n = V.shape[0], n_vis = V.shape[1], n_hid = Wt.shape[1], step
    if n == 0:
        return stream
    with nogil:
        for step in range(n_steps):
            gemm(False, False, n, n_hid, n_vis, <floating> 1.0, &V[0, 0], n_vis, &Wt[0, 0], n_hid,
                 <floating> 0.0, &H[0, 0], n_hid)
            _hidden_layer(&H[0, 0], &bh[0], &H[0, 0], n, n_hid, True, key, stream, n_threads)
            stream += n
            gemm(False, True, n, n_vis, n_hid, <floating> 1.0, &H[0, 0], n_hid, &Wt[0, 0], n_hid,
                 <floating> 0.0, &P[0, 0], n_vis)
            _visible_layer(&P[0, 0], &bv[0], &V[0, 0], n, n_vis, visible_type, True,
                           key, stream, n_threads)
            stream += n
    return stream


#: rows per GEMM in free_energy (bounds its scratch memory)
cdef Py_ssize_t FREE_ENERGY_CHUNK = 4096


def free_energy_workspace(Py_ssize_t n_rows, Py_ssize_t n_hidden):
    """The scratch shape of ``free_energy`` for ``n_rows`` rows, as a dict ``{"scratch"}``.

    ``(min(n_rows, 4096), n_hidden)`` (at least one row): the rows go through
    the GEMM in chunks of the scratch's height.
    """
    if n_rows < 0 or n_hidden < 1:
        raise ValueError(f"free_energy_workspace: sizes must be positive, got n_rows="
                         f"{n_rows}, n_hidden={n_hidden}")
    return {"scratch": (min(max(n_rows, 1), FREE_ENERGY_CHUNK), n_hidden)}


def free_energy(const floating[:, ::1] X,     # IN  (n, n_visible)
                const floating[:, ::1] Wt,    # IN  (n_visible, n_hidden)
                const floating[::1] bh,       # IN  (n_hidden,)
                const floating[::1] bv,       # IN  (n_visible,)
                floating[:, ::1] scratch,     # SCRATCH (chunk, n_hidden): free_energy_workspace
                double[::1] out,              # OUT (n,)
                bint gaussian, int n_threads):
    """Free energy ``F(v) = -log sum_h exp(-E(v, h))`` of each row, chunk by chunk.

    Bernoulli visible: ``F = -v.bv - sum_j softplus(v W_j + bh_j)``;
    Gaussian visible (unit variance): ``F = |v - bv|^2 / 2 - sum_j softplus(...)``.
    """
    cdef Py_ssize_t n = X.shape[0], n_vis = X.shape[1], n_hid = Wt.shape[1]
    cdef Py_ssize_t chunk = scratch.shape[0], s, c, i, j
    cdef double acc, d
    if out.shape[0] != n or Wt.shape[0] != n_vis or bh.shape[0] != n_hid:
        raise ValueError("free_energy: out, Wt and bh do not fit X")
    if n > 0:
        _check_scratch("free_energy", "scratch", scratch.shape[0], scratch.shape[1], 1, n_hid,
                       "free_energy_workspace")
    with nogil:
        s = 0
        while s < n:
            c = min(chunk, n - s)
            gemm(False, False, c, n_hid, n_vis, <floating> 1.0, &X[s, 0], n_vis, &Wt[0, 0], n_hid,
                 <floating> 0.0, &scratch[0, 0], n_hid)
            for i in prange(c, schedule="static",
                            num_threads=n_threads):
                acc = 0.0
                for j in range(n_hid):
                    acc = acc - _softplus(scratch[i, j] + bh[j])
                if gaussian:
                    for j in range(n_vis):
                        d = X[s + i, j] - bv[j]
                        acc = acc + 0.5 * d * d
                else:
                    for j in range(n_vis):
                        acc = acc - X[s + i, j] * bv[j]
                out[s + i] = acc
            s = s + c


def row_hash_index(const floating[:, ::1] X,   # IN  (n, m)
                   uint64_t key,
                   Py_ssize_t[::1] out):       # OUT (n,) values in [0, m)
    """A column index per row that depends only on the row's values and ``key``.

    Used to choose the coordinate the pseudo-likelihood flips: the same sample
    gets the same coordinate whatever batch, order or subset it comes in.
    """
    cdef Py_ssize_t n = X.shape[0], m = X.shape[1], i, j
    cdef uint64_t h, bits
    cdef uint32_t b32
    with nogil:
        for i in range(n):
            h = mix64(key)
            for j in range(m):
                if floating is float:
                    memcpy(&b32, &X[i, j], 4)
                    bits = b32
                else:
                    memcpy(&bits, &X[i, j], 8)
                h = mix64(h ^ bits)
            out[i] = <Py_ssize_t> (h % <uint64_t> m)


def random_uniform(floating[:, ::1] out,      # OUT (n, m)
                   uint64_t key, uint64_t stream, int n_threads):
    """out[i, j] = the uniform of (key, stream + i, j): the numbers sampling uses."""
    cdef Py_ssize_t n = out.shape[0], m = out.shape[1], i, j
    cdef uint64_t skey
    cdef floating dummy = 0
    for i in prange(n, nogil=True, schedule="static", num_threads=n_threads):
        skey = stream_key(key, stream + i)
        for j in range(m):
            out[i, j] = uniform(skey, j, dummy)


def random_normal(double[:, ::1] out,         # OUT (n, m)
                  uint64_t key, uint64_t stream, int n_threads):
    """out[i, j] = the standard normal of (key, stream + i, j) used by Gaussian units."""
    cdef Py_ssize_t n = out.shape[0], m = out.shape[1], i, j
    cdef uint64_t skey
    for i in prange(n, nogil=True, schedule="static", num_threads=n_threads):
        skey = stream_key(key, stream + i)
        for j in range(m):
            out[i, j] = normal_double(skey, j)


def outside_unit_interval(const floating[:, ::1] X):   # IN (n, m)
    """Whether any value of X is outside [0, 1] or NaN (inf is outside).

    One pass, stopping at the first 4096-value block with a hit: the usual
    input (probabilities) is validated and found finite in a single sweep.
    """
    cdef Py_ssize_t size = X.shape[0] * X.shape[1], start, stop
    cdef const floating *p
    cdef int bad = 0
    if size == 0:
        return False
    p = &X[0, 0]
    with nogil:
        start = 0
        while start < size and not bad:
            stop = min(start + 4096, size)
            if floating is float:
                bad = fastnut_outside01_f(p + start, stop - start)
            else:
                bad = fastnut_outside01_d(p + start, stop - start)
            start = stop
    return bool(bad)


def shared_math(const float[::1] x,          # IN  (n,)
                float[::1] exp_out,          # OUT (n,) fastnut_expf(x)
                float[::1] sigmoid_out,      # OUT (n,) sigmoid through the row loop
                float[::1] tanh_out):        # OUT (n,) fastnut_tanhf(x)
    """Test hook: the float32 exp, sigmoid and tanh of ``_math.h`` element by element.

    The sigmoid goes through ``fastnut_bias_sigmoid_f``, the vectorised row loop
    of the conditionals (with a zero bias); tests/kernels/test_math.py pins all
    three against float64 references.
    """
    cdef Py_ssize_t i, n = x.shape[0]
    if exp_out.shape[0] != n or sigmoid_out.shape[0] != n or tanh_out.shape[0] != n:
        raise ValueError("shared_math: every output must have x's length")
    cdef float[::1] zero = np.zeros(n, np.float32)
    if n == 0:
        return
    with nogil:
        for i in range(n):
            exp_out[i] = fastnut_expf(x[i])
            tanh_out[i] = fastnut_tanhf(x[i])
            sigmoid_out[i] = x[i]
        fastnut_bias_sigmoid_f(&sigmoid_out[0], &zero[0], n)
