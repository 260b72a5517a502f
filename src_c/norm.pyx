# cython: language_level=3
"""Batch normalisation kernels: per-channel sums, the affine map and its gradient.

Two layouts:

``rows``  ``X (n, T, F)``, channels last (fastnut's sequences; a batch of
          vectors is ``(n, 1, F)``).  Row ``(i, t)`` counts only when
          ``t < lengths[i]``: padded steps never enter the statistics, are NaN
          in the output and get a zero input gradient.  Samples are spread over
          threads; each thread sums into its own row of ``part`` and the caller
          reduces the rows in a fixed order.
``planes`` ``X (n, C, P)``, channels first (images, ``P = H*W``).  Channels
          are spread over threads; each channel's sum runs in one thread.

Sums are accumulated in double.  The statistics are two-pass (the mean first,
then the squared deviations from it), so a large mean does not cost the
variance its precision.  The layer (``fastnut.nn._normalization``) turns the
sums into means, variances and the per-channel coefficients these kernels
apply:

forward   ``y = act((x - mu) * a + b)``, ``act`` the identity or a fused ReLU
          (which, unlike a separate ``Activation("relu")``, keeps padded
          rows NaN)
backward  ``dx = k * (g - mdy - (x - mu) * cc)`` with ``g = dy`` (times
          ``y > 0`` for the ReLU)
"""
from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.math cimport NAN
from libc.string cimport memset

cdef extern from *:
    """
    #if defined(__GNUC__) && !defined(__clang__)
    #pragma GCC optimize ("no-wrapv")
    #endif
    """


# -- rows: (n, T, F), channels last ---------------------------------------------------

def rows_sums(const floating[:, :, ::1] X,  # IN  (n, T, F)
              const int[::1] lengths,       # IN  (n,) valid steps
              const double[::1] mu,         # IN  (F,) centre (zeros for plain sums)
              double[:, ::1] part,          # OUT (>= nt, F) per-thread sums
              bint square, int n_threads):
    """part[t, f] = Σ over this thread's valid rows of (x - mu[f]) (squared if ``square``)."""
    cdef int n = X.shape[0], F = X.shape[2]
    cdef int i, s, f, th, nt = n_threads if n_threads < n else n
    cdef double v
    cdef double *p
    cdef const floating *x
    if nt < 1:
        nt = 1
    for th in range(nt):
        memset(&part[th, 0], 0, F * sizeof(double))
    if n == 0:
        return
    for i in prange(n, nogil=True, schedule="static", num_threads=nt):
        p = &part[threadid(), 0]
        for s in range(lengths[i]):
            x = &X[i, s, 0]
            if square:
                for f in range(F):
                    v = x[f] - mu[f]
                    p[f] += v * v
            else:
                for f in range(F):
                    p[f] += x[f] - mu[f]


def rows_grad_sums(const floating[:, :, ::1] dY,  # IN  (n, T, F)
                   const floating[:, :, ::1] X,   # IN  (n, T, F)
                   const floating[:, :, ::1] Y,   # IN  (n, T, F) forward output if relu
                   const int[::1] lengths,        # IN  (n,)
                   const double[::1] mu,          # IN  (F,) batch mean
                   double[:, ::1] part,           # OUT (>= nt, 2F): Σ dy, Σ dy (x - mu)
                   bint relu, int n_threads):
    """Per-thread sums of dy and dy*(x - mu) over valid rows (dy masked by Y > 0 if relu)."""
    cdef int n = X.shape[0], F = X.shape[2]
    cdef int i, s, f, th, nt = n_threads if n_threads < n else n
    cdef double g
    cdef double *p
    cdef const floating *x
    cdef const floating *dy
    cdef const floating *y
    if nt < 1:
        nt = 1
    for th in range(nt):
        memset(&part[th, 0], 0, 2 * F * sizeof(double))
    if n == 0:
        return
    for i in prange(n, nogil=True, schedule="static", num_threads=nt):
        p = &part[threadid(), 0]
        for s in range(lengths[i]):
            x = &X[i, s, 0]
            dy = &dY[i, s, 0]
            y = &Y[i, s, 0]
            for f in range(F):
                g = dy[f]
                if relu and not y[f] > 0:
                    g = 0
                p[f] += g
                p[F + f] += g * (x[f] - mu[f])


def rows_affine(const floating[:, :, ::1] X,  # IN  (n, T, F)
                const int[::1] lengths,       # IN  (n,)
                const floating[::1] mu,       # IN  (F,)
                const floating[::1] a,        # IN  (F,)
                const floating[::1] b,        # IN  (F,)
                floating[:, :, ::1] Y,        # OUT (n, T, F)
                bint relu, int n_threads):
    """Y = act((X - mu) * a + b) at valid rows, NaN at padded rows."""
    cdef int n = X.shape[0], T = X.shape[1], F = X.shape[2]
    cdef int i, s, f, L
    cdef floating v
    cdef const floating *x
    cdef floating *y
    for i in prange(n, nogil=True, schedule="static", num_threads=n_threads):
        L = lengths[i]
        for s in range(T):
            y = &Y[i, s, 0]
            if s >= L:
                for f in range(F):
                    y[f] = NAN
                continue
            x = &X[i, s, 0]
            if relu:
                for f in range(F):
                    v = (x[f] - mu[f]) * a[f] + b[f]
                    y[f] = v if v > 0 else 0
            else:
                for f in range(F):
                    y[f] = (x[f] - mu[f]) * a[f] + b[f]


def rows_backward(const floating[:, :, ::1] dY,  # IN  (n, T, F)
                  const floating[:, :, ::1] X,   # IN  (n, T, F)
                  const floating[:, :, ::1] Y,   # IN  (n, T, F) forward output if relu
                  const int[::1] lengths,        # IN  (n,)
                  const floating[::1] mu,        # IN  (F,)
                  const floating[::1] k,         # IN  (F,)
                  const floating[::1] mdy,       # IN  (F,)
                  const floating[::1] cc,        # IN  (F,)
                  floating[:, :, ::1] dX,        # OUT (n, T, F)
                  bint relu, int n_threads):
    """dX = k * (G - mdy - (X - mu) * cc) at valid rows, 0 at padded rows.

    ``G`` is dY, masked by ``Y > 0`` if ``relu``.
    """
    cdef int n = X.shape[0], T = X.shape[1], F = X.shape[2]
    cdef int i, s, f, L
    cdef floating g
    cdef const floating *x
    cdef const floating *dy
    cdef const floating *y
    cdef floating *dx
    for i in prange(n, nogil=True, schedule="static", num_threads=n_threads):
        L = lengths[i]
        for s in range(T):
            dx = &dX[i, s, 0]
            if s >= L:
                for f in range(F):
                    dx[f] = 0
                continue
            x = &X[i, s, 0]
            dy = &dY[i, s, 0]
            y = &Y[i, s, 0]
            for f in range(F):
                g = dy[f]
                if relu and not y[f] > 0:
                    g = 0
                dx[f] = k[f] * (g - mdy[f] - (x[f] - mu[f]) * cc[f])


# -- planes: (n, C, P), channels first ------------------------------------------------

def planes_sums(const floating[:, :, ::1] X,  # IN  (n, C, P)
                const double[::1] mu,         # IN  (C,) centre
                double[::1] out,              # OUT (C,)
                bint square, int n_threads):
    """out[c] = Σ_{i,p} (x - mu[c]) (squared if ``square``)."""
    cdef int n = X.shape[0], C = X.shape[1], P = X.shape[2]
    cdef int c, i, q
    cdef double acc, v, m
    cdef const floating *x
    for c in prange(C, nogil=True, schedule="static", num_threads=n_threads):
        acc = 0
        m = mu[c]
        for i in range(n):
            x = &X[i, c, 0]
            if square:
                for q in range(P):
                    v = x[q] - m
                    acc = acc + v * v
            else:
                for q in range(P):
                    acc = acc + (x[q] - m)
        out[c] = acc


def planes_grad_sums(const floating[:, :, ::1] dY,  # IN  (n, C, P)
                     const floating[:, :, ::1] X,   # IN  (n, C, P)
                     const floating[:, :, ::1] Y,   # IN  (n, C, P) forward output if relu
                     const double[::1] mu,          # IN  (C,)
                     double[:, ::1] out,            # OUT (2, C): Σ dy, Σ dy (x - mu)
                     bint relu, int n_threads):
    cdef int n = X.shape[0], C = X.shape[1], P = X.shape[2]
    cdef int c, i, q
    cdef double s1, s2, m, g
    cdef const floating *x
    cdef const floating *dy
    cdef const floating *y
    for c in prange(C, nogil=True, schedule="static", num_threads=n_threads):
        s1 = 0
        s2 = 0
        m = mu[c]
        for i in range(n):
            x = &X[i, c, 0]
            dy = &dY[i, c, 0]
            y = &Y[i, c, 0]
            for q in range(P):
                g = dy[q]
                if relu and not y[q] > 0:
                    g = 0
                s1 = s1 + g
                s2 = s2 + g * (x[q] - m)
        out[0, c] = s1
        out[1, c] = s2


def planes_affine(const floating[:, :, ::1] X,  # IN  (n, C, P)
                  const floating[::1] mu,       # IN  (C,)
                  const floating[::1] a,        # IN  (C,)
                  const floating[::1] b,        # IN  (C,)
                  floating[:, :, ::1] Y,        # OUT (n, C, P)
                  bint relu, int n_threads):
    """Y[i, c] = act((X[i, c] - mu[c]) * a[c] + b[c])."""
    cdef int n = X.shape[0], C = X.shape[1], P = X.shape[2]
    cdef Py_ssize_t plane, nplanes = <Py_ssize_t> n * C
    cdef int c, q
    cdef floating m, aa, bb, v
    cdef const floating *x
    cdef floating *y
    for plane in prange(nplanes, nogil=True, schedule="static", num_threads=n_threads):
        c = plane % C
        m = mu[c]
        aa = a[c]
        bb = b[c]
        x = &X[0, 0, 0] + plane * P
        y = &Y[0, 0, 0] + plane * P
        if relu:
            for q in range(P):
                v = (x[q] - m) * aa + bb
                y[q] = v if v > 0 else 0
        else:
            for q in range(P):
                y[q] = (x[q] - m) * aa + bb


def planes_backward(const floating[:, :, ::1] dY,  # IN  (n, C, P)
                    const floating[:, :, ::1] X,   # IN  (n, C, P)
                    const floating[:, :, ::1] Y,   # IN  (n, C, P) forward output if relu
                    const floating[::1] mu,        # IN  (C,)
                    const floating[::1] k,         # IN  (C,)
                    const floating[::1] mdy,       # IN  (C,)
                    const floating[::1] cc,        # IN  (C,)
                    floating[:, :, ::1] dX,        # OUT (n, C, P)
                    bint relu, int n_threads):
    """dX[i, c] = k[c] * (G[i, c] - mdy[c] - (X[i, c] - mu[c]) * cc[c]), G = dY (masked by Y > 0 if relu)."""
    cdef int n = X.shape[0], C = X.shape[1], P = X.shape[2]
    cdef Py_ssize_t plane, nplanes = <Py_ssize_t> n * C
    cdef int c, q
    cdef floating m, kk, md, cq, g
    cdef const floating *x
    cdef const floating *dy
    cdef const floating *y
    cdef floating *dx
    for plane in prange(nplanes, nogil=True, schedule="static", num_threads=n_threads):
        c = plane % C
        m = mu[c]
        kk = k[c]
        md = mdy[c]
        cq = cc[c]
        x = &X[0, 0, 0] + plane * P
        dy = &dY[0, 0, 0] + plane * P
        dx = &dX[0, 0, 0] + plane * P
        y = &Y[0, 0, 0] + plane * P
        if relu:
            for q in range(P):
                g = dy[q] if y[q] > 0 else 0
                dx[q] = kk * (g - md - (x[q] - m) * cq)
        else:
            for q in range(P):
                dx[q] = kk * (dy[q] - md - (x[q] - m) * cq)
