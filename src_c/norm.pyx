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
    #include "_simd.h"
    /* The element-wise passes over one row of F channels (rows layout) or one
       plane of P values (planes layout), with restrict pointers so that the
       compiler vectorises them (through memoryviews it cannot rule out
       aliasing between the output and the coefficient vectors), in AVX-512,
       AVX2 and baseline clones (_simd.h). */
    #define FASTNUT_BN(T, S) \
    static FASTNUT_CLONES void fastnut_bn_affine_row_##S(const T *__restrict x, const T *__restrict mu, \
            const T *__restrict a, const T *__restrict b, T *__restrict y, Py_ssize_t F, \
            int relu) { \
        if (relu) { for (Py_ssize_t f = 0; f < F; f++) { \
            T v = (x[f] - mu[f]) * a[f] + b[f]; y[f] = v > 0 ? v : (T)0; } } \
        else { for (Py_ssize_t f = 0; f < F; f++) y[f] = (x[f] - mu[f]) * a[f] + b[f]; } \
    } \
    static FASTNUT_CLONES void fastnut_bn_backward_row_##S(const T *__restrict dy, const T *__restrict x, \
            const T *__restrict y, const T *__restrict mu, const T *__restrict k, \
            const T *__restrict mdy, const T *__restrict cc, T *__restrict dx, Py_ssize_t F, \
            int relu) { \
        if (relu) { for (Py_ssize_t f = 0; f < F; f++) { T g = dy[f]; g = y[f] > 0 ? g : (T)0; \
            dx[f] = k[f] * (g - mdy[f] - (x[f] - mu[f]) * cc[f]); } } \
        else { for (Py_ssize_t f = 0; f < F; f++) \
            dx[f] = k[f] * (dy[f] - mdy[f] - (x[f] - mu[f]) * cc[f]); } \
    } \
    static FASTNUT_CLONES void fastnut_bn_sums_row_##S(const T *__restrict x, const double *__restrict mu, \
            double *__restrict p, Py_ssize_t F, int square) { \
        if (square) { for (Py_ssize_t f = 0; f < F; f++) { double v = x[f] - mu[f]; p[f] += v * v; } } \
        else { for (Py_ssize_t f = 0; f < F; f++) p[f] += x[f] - mu[f]; } \
    } \
    static FASTNUT_CLONES void fastnut_bn_grad_sums_row_##S(const T *__restrict dy, const T *__restrict x, \
            const T *__restrict y, const double *__restrict mu, double *__restrict p1, \
            double *__restrict p2, Py_ssize_t F, int relu) { \
        for (Py_ssize_t f = 0; f < F; f++) { double g = dy[f]; \
            if (relu) g = y[f] > 0 ? g : 0.0; p1[f] += g; p2[f] += g * (x[f] - mu[f]); } \
    } \
    static FASTNUT_CLONES void fastnut_bn_affine_plane_##S(const T *__restrict x, T m, T a, T b, \
            T *__restrict y, Py_ssize_t P, int relu) { \
        if (relu) { for (Py_ssize_t q = 0; q < P; q++) { T v = (x[q] - m) * a + b; \
            y[q] = v > 0 ? v : (T)0; } } \
        else { for (Py_ssize_t q = 0; q < P; q++) y[q] = (x[q] - m) * a + b; } \
    } \
    static FASTNUT_CLONES void fastnut_bn_backward_plane_##S(const T *__restrict dy, const T *__restrict x, \
            const T *__restrict y, T m, T k, T md, T c, T *__restrict dx, Py_ssize_t P, \
            int relu) { \
        if (relu) { for (Py_ssize_t q = 0; q < P; q++) { T g = dy[q]; g = y[q] > 0 ? g : (T)0; \
            dx[q] = k * (g - md - (x[q] - m) * c); } } \
        else { for (Py_ssize_t q = 0; q < P; q++) dx[q] = k * (dy[q] - md - (x[q] - m) * c); } \
    }
    FASTNUT_BN(float, f)
    FASTNUT_BN(double, d)
    /* Sums over one plane in double with four independent accumulators: one
       chain of dependent additions would run at the add latency (4 cycles a
       value); four chains keep the adder busy.  (Vectorising a reduction
       would need -ffast-math.) */
    #define FASTNUT_BN_PLANE_SUMS(T, S) \
    static double fastnut_bn_plane_sum_##S(const T *__restrict x, Py_ssize_t P, double m, \
                                           int square) { \
        double a0 = 0, a1 = 0, a2 = 0, a3 = 0; Py_ssize_t q = 0; \
        if (square) { \
            for (; q + 4 <= P; q += 4) { double v0 = x[q] - m, v1 = x[q + 1] - m, \
                v2 = x[q + 2] - m, v3 = x[q + 3] - m; \
                a0 += v0 * v0; a1 += v1 * v1; a2 += v2 * v2; a3 += v3 * v3; } \
            for (; q < P; q++) { double v = x[q] - m; a0 += v * v; } \
        } else { \
            for (; q + 4 <= P; q += 4) { a0 += x[q] - m; a1 += x[q + 1] - m; \
                a2 += x[q + 2] - m; a3 += x[q + 3] - m; } \
            for (; q < P; q++) a0 += x[q] - m; \
        } \
        return (a0 + a1) + (a2 + a3); \
    } \
    static void fastnut_bn_plane_grad_sums_##S(const T *__restrict dy, const T *__restrict x, \
            const T *__restrict y, Py_ssize_t P, double m, int relu, double *s1, double *s2) { \
        double a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0; \
        Py_ssize_t q = 0; \
        for (; q + 4 <= P; q += 4) { \
            double g0 = dy[q], g1 = dy[q + 1], g2 = dy[q + 2], g3 = dy[q + 3]; \
            if (relu) { g0 = y[q] > 0 ? g0 : 0.0; g1 = y[q + 1] > 0 ? g1 : 0.0; \
                        g2 = y[q + 2] > 0 ? g2 : 0.0; g3 = y[q + 3] > 0 ? g3 : 0.0; } \
            a0 += g0; a1 += g1; a2 += g2; a3 += g3; \
            b0 += g0 * (x[q] - m); b1 += g1 * (x[q + 1] - m); \
            b2 += g2 * (x[q + 2] - m); b3 += g3 * (x[q + 3] - m); } \
        for (; q < P; q++) { double g = dy[q]; if (relu) g = y[q] > 0 ? g : 0.0; \
            a0 += g; b0 += g * (x[q] - m); } \
        *s1 += (a0 + a1) + (a2 + a3); *s2 += (b0 + b1) + (b2 + b3); \
    }
    FASTNUT_BN_PLANE_SUMS(float, f)
    FASTNUT_BN_PLANE_SUMS(double, d)
    """
    double fastnut_bn_plane_sum_f(const float *x, Py_ssize_t P, double m, int square) noexcept nogil
    double fastnut_bn_plane_sum_d(const double *x, Py_ssize_t P, double m, int square) noexcept nogil
    void fastnut_bn_plane_grad_sums_f(const float *dy, const float *x, const float *y, Py_ssize_t P,
                                      double m, int relu, double *s1, double *s2) noexcept nogil
    void fastnut_bn_plane_grad_sums_d(const double *dy, const double *x, const double *y,
                                      Py_ssize_t P, double m, int relu, double *s1,
                                      double *s2) noexcept nogil
    void fastnut_bn_affine_row_f(const float *x, const float *mu, const float *a, const float *b,
                                 float *y, Py_ssize_t F, int relu) noexcept nogil
    void fastnut_bn_affine_row_d(const double *x, const double *mu, const double *a,
                                 const double *b, double *y, Py_ssize_t F, int relu) noexcept nogil
    void fastnut_bn_backward_row_f(const float *dy, const float *x, const float *y,
                                   const float *mu, const float *k, const float *mdy,
                                   const float *cc, float *dx, Py_ssize_t F, int relu) noexcept nogil
    void fastnut_bn_backward_row_d(const double *dy, const double *x, const double *y,
                                   const double *mu, const double *k, const double *mdy,
                                   const double *cc, double *dx, Py_ssize_t F, int relu) noexcept nogil
    void fastnut_bn_sums_row_f(const float *x, const double *mu, double *p, Py_ssize_t F,
                               int square) noexcept nogil
    void fastnut_bn_sums_row_d(const double *x, const double *mu, double *p, Py_ssize_t F,
                               int square) noexcept nogil
    void fastnut_bn_grad_sums_row_f(const float *dy, const float *x, const float *y,
                                    const double *mu, double *p1, double *p2, Py_ssize_t F,
                                    int relu) noexcept nogil
    void fastnut_bn_grad_sums_row_d(const double *dy, const double *x, const double *y,
                                    const double *mu, double *p1, double *p2, Py_ssize_t F,
                                    int relu) noexcept nogil
    void fastnut_bn_affine_plane_f(const float *x, float m, float a, float b, float *y,
                                   Py_ssize_t P, int relu) noexcept nogil
    void fastnut_bn_affine_plane_d(const double *x, double m, double a, double b, double *y,
                                   Py_ssize_t P, int relu) noexcept nogil
    void fastnut_bn_backward_plane_f(const float *dy, const float *x, const float *y, float m,
                                     float k, float md, float c, float *dx, Py_ssize_t P,
                                     int relu) noexcept nogil
    void fastnut_bn_backward_plane_d(const double *dy, const double *x, const double *y,
                                     double m, double k, double md, double c, double *dx,
                                     Py_ssize_t P, int relu) noexcept nogil


# -- rows: (n, T, F), channels last ---------------------------------------------------

def rows_workspace(Py_ssize_t n, Py_ssize_t F, int n_threads):
    """The per-thread sums ``rows_sums``/``rows_grad_sums`` write, as a dict.

    For ``n`` sequences of ``F`` features on ``n_threads`` threads: ``threads``
    rows are written (one per thread that gets work), ``part`` is the shape
    of ``rows_sums``'s output and ``gpart`` of ``rows_grad_sums``'s; the caller
    adds up their first ``threads`` rows.  The kernels refuse smaller arrays,
    naming this function.
    """
    if n < 0 or F < 1:
        raise ValueError(f"rows_workspace: sizes must be positive, got n={n}, F={F}")
    cdef Py_ssize_t rows = max(min(<Py_ssize_t> n_threads, n), 1)
    return {"threads": rows, "part": (rows, F), "gpart": (rows, 2 * F)}


cdef int _check_part(str kernel, Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t nt,
                     Py_ssize_t width) except -1:
    if rows < nt or cols != width:
        raise ValueError(f"{kernel}: part has shape {(rows, cols)}, needs at least "
                         f"{(nt, width)} (see rows_workspace)")
    return 0


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
    _check_part("rows_sums", part.shape[0], part.shape[1], nt, F)
    if lengths.shape[0] != n or mu.shape[0] != F:
        raise ValueError("rows_sums: lengths or mu do not fit X")
    for th in range(nt):
        memset(&part[th, 0], 0, F * sizeof(double))
    if n == 0:
        return
    for i in prange(n, nogil=True, schedule="static", num_threads=nt):
        p = &part[threadid(), 0]
        for s in range(lengths[i]):
            if floating is float:
                fastnut_bn_sums_row_f(&X[i, s, 0], &mu[0], p, F, square)
            else:
                fastnut_bn_sums_row_d(&X[i, s, 0], &mu[0], p, F, square)


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
    _check_part("rows_grad_sums", part.shape[0], part.shape[1], nt, 2 * F)
    if lengths.shape[0] != n or mu.shape[0] != F:
        raise ValueError("rows_grad_sums: lengths or mu do not fit X")
    for th in range(nt):
        memset(&part[th, 0], 0, 2 * F * sizeof(double))
    if n == 0:
        return
    for i in prange(n, nogil=True, schedule="static", num_threads=nt):
        p = &part[threadid(), 0]
        for s in range(lengths[i]):
            if floating is float:
                fastnut_bn_grad_sums_row_f(&dY[i, s, 0], &X[i, s, 0], &Y[i, s, 0], &mu[0],
                                           p, p + F, F, relu)
            else:
                fastnut_bn_grad_sums_row_d(&dY[i, s, 0], &X[i, s, 0], &Y[i, s, 0], &mu[0],
                                           p, p + F, F, relu)


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
            if floating is float:
                fastnut_bn_affine_row_f(&X[i, s, 0], &mu[0], &a[0], &b[0], y, F, relu)
            else:
                fastnut_bn_affine_row_d(&X[i, s, 0], &mu[0], &a[0], &b[0], y, F, relu)


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
            if floating is float:
                fastnut_bn_backward_row_f(&dY[i, s, 0], &X[i, s, 0], &Y[i, s, 0], &mu[0],
                                          &k[0], &mdy[0], &cc[0], dx, F, relu)
            else:
                fastnut_bn_backward_row_d(&dY[i, s, 0], &X[i, s, 0], &Y[i, s, 0], &mu[0],
                                          &k[0], &mdy[0], &cc[0], dx, F, relu)


# -- planes: (n, C, P), channels first ------------------------------------------------

def planes_sums(const floating[:, :, ::1] X,  # IN  (n, C, P)
                const double[::1] mu,         # IN  (C,) centre
                double[::1] out,              # OUT (C,)
                bint square, int n_threads):
    """out[c] = Σ_{i,p} (x - mu[c]) (squared if ``square``)."""
    cdef int n = X.shape[0], C = X.shape[1], P = X.shape[2]
    cdef int c, i
    cdef double acc, m
    for c in prange(C, nogil=True, schedule="static", num_threads=n_threads):
        acc = 0
        m = mu[c]
        for i in range(n):
            if floating is float:
                acc = acc + fastnut_bn_plane_sum_f(&X[i, c, 0], P, m, square)
            else:
                acc = acc + fastnut_bn_plane_sum_d(&X[i, c, 0], P, m, square)
        out[c] = acc


def planes_grad_sums(const floating[:, :, ::1] dY,  # IN  (n, C, P)
                     const floating[:, :, ::1] X,   # IN  (n, C, P)
                     const floating[:, :, ::1] Y,   # IN  (n, C, P) forward output if relu
                     const double[::1] mu,          # IN  (C,)
                     double[:, ::1] out,            # OUT (2, C): Σ dy, Σ dy (x - mu)
                     bint relu, int n_threads):
    cdef int n = X.shape[0], C = X.shape[1], P = X.shape[2]
    cdef int c, i
    cdef double s1, s2, m
    for c in prange(C, nogil=True, schedule="static", num_threads=n_threads):
        s1 = 0
        s2 = 0
        m = mu[c]
        for i in range(n):
            if floating is float:
                fastnut_bn_plane_grad_sums_f(&dY[i, c, 0], &X[i, c, 0], &Y[i, c, 0], P, m,
                                             relu, &s1, &s2)
            else:
                fastnut_bn_plane_grad_sums_d(&dY[i, c, 0], &X[i, c, 0], &Y[i, c, 0], P, m,
                                             relu, &s1, &s2)
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
        if floating is float:
            fastnut_bn_affine_plane_f(x, m, aa, bb, y, P, relu)
        else:
            fastnut_bn_affine_plane_d(x, m, aa, bb, y, P, relu)


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
        if floating is float:
            fastnut_bn_backward_plane_f(dy, x, y, m, kk, md, cq, dx, P, relu)
        else:
            fastnut_bn_backward_plane_d(dy, x, y, m, kk, md, cq, dx, P, relu)
