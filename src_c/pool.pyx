# cython: language_level=3
"""Pooling and nearest-neighbour upsampling kernels on ``(n, C, H, W)`` arrays.

Every kernel works plane by plane (one ``(H, W)`` image of one channel) and
spreads the ``n*C`` planes over OpenMP threads.  Windows have no padding;
the output size is ``(H - kh) // sh + 1`` (read from the output array), so a
trailing strip that does not fill a window is ignored, as in PyTorch.

* max pooling stores, for each output, the flat index ``ih*W + iw`` of the
  maximum inside its input plane (first maximum on ties); the backward pass
  scatters the gradient there (adding, so overlapping windows are right);
* average pooling divides by the window size ``kh*kw``;
* global average pooling maps ``(n, C, H, W)`` to ``(n, C)``;
* nearest upsampling repeats every pixel ``sh x sw`` times; its backward pass
  sums each block.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.string cimport memset

cdef enum:
    INT_MAX_ = 2147483647


cdef extern from *:
    """
    /* FASTNUT_DEBUG=1 builds (setup.py) define FASTNUT_DEBUG. */
    #ifdef FASTNUT_DEBUG
    #define FASTNUT_DEBUG_BUILD 1
    #else
    #define FASTNUT_DEBUG_BUILD 0
    #endif
    """
    const bint FASTNUT_DEBUG_BUILD


cdef int _check_planes(str kernel, const Py_ssize_t *xs, const Py_ssize_t *ys, int ynd,
                       int kh, int kw, int sh, int sw, const Py_ssize_t *ids) except -1:
    """Raise ValueError unless ``Y`` (shape ``ys``) is the window grid of ``X`` (``xs``).

    The kernels walk raw pointers plane by plane with 32-bit in-plane
    offsets: these O(1) checks are all that stands between a wrong shape and
    an out-of-bounds access.  ``kh == 0`` means "global" (Y is (n, C)) and
    ``kh < 0`` upsampling by ``(sh, sw)``; ``ids`` is the shape of the
    argmax array (max pooling) or NULL.
    """
    cdef Py_ssize_t n = xs[0], C = xs[1], H = xs[2], W = xs[3], Ho, Wo
    if kh == 0:
        Ho = Wo = 1
        ok = ys[0] == n and ys[1] == C
        want = (n, C)
    else:
        if kh < 0:
            if sh < 1 or sw < 1:
                raise ValueError(f"{kernel}: upsampling factors must be >= 1, got ({sh}, {sw})")
            Ho, Wo = H * sh, W * sw
        else:
            if min(kw, sh, sw) < 1 or kh > H or kw > W:
                raise ValueError(f"{kernel}: window ({kh}, {kw}) with stride ({sh}, {sw}) "
                                 f"does not fit {H}x{W} planes")
            Ho, Wo = (H - kh) // sh + 1, (W - kw) // sw + 1
        ok = ys[0] == n and ys[1] == C and ys[2] == Ho and ys[3] == Wo
        if ids != NULL:
            ok = ok and ids[0] == n and ids[1] == C and ids[2] == Ho and ids[3] == Wo
        want = (n, C, Ho, Wo)
    if not ok:
        got = tuple([ys[i] for i in range(ynd)])
        raise ValueError(f"{kernel}: output (or argmax) shape {got} does not match "
                         f"{want} for input {(n, C, H, W)}")
    if Ho * Wo > INT_MAX_ or H * W > INT_MAX_:
        raise ValueError(f"{kernel}: planes larger than 2**31 - 1 values are not supported")
    return 0


cdef extern from *:
    """
    /* Python builds extensions with -fwrapv, which stops gcc from
       vectorising loops with int indices (measured 7x slower on the 2x2 max
       pooling); neither Cython's code nor these kernels rely on wrapping,
       so lift it for the rest of this file. */
    #if defined(__GNUC__) && !defined(__clang__)
    #pragma GCC optimize ("no-wrapv")
    #define FASTNUT_NOWRAPV __attribute__((optimize("no-wrapv")))
    #else
    #define FASTNUT_NOWRAPV
    #endif
    /* 2x2, stride-2 max pooling of one plane, branch-free (the comparisons
       are data-dependent and random): pairwise maxima keep the first maximum
       in row-major order on ties. */
    #define FASTNUT_MAXPOOL22(NAME, T) \
    static FASTNUT_NOWRAPV void NAME(const T *__restrict x, int W, int Ho, int Wo, T *__restrict y, \
                     int *__restrict ix) { \
        for (int oh = 0; oh < Ho; oh++) { \
            const T *r0 = x + (Py_ssize_t)(2 * oh) * W, *r1 = r0 + W; \
            for (int ow = 0; ow < Wo; ow++) { \
                T a = r0[2 * ow], b = r0[2 * ow + 1], c = r1[2 * ow], d = r1[2 * ow + 1]; \
                int p = 2 * oh * W + 2 * ow; \
                T m1 = b > a ? b : a; int i1 = b > a ? p + 1 : p; \
                T m2 = d > c ? d : c; int i2 = d > c ? p + W + 1 : p + W; \
                y[oh * Wo + ow] = m2 > m1 ? m2 : m1; \
                ix[oh * Wo + ow] = m2 > m1 ? i2 : i1; \
            } \
        } \
    }
    FASTNUT_MAXPOOL22(fastnut_maxpool22_f, float)
    FASTNUT_MAXPOOL22(fastnut_maxpool22_d, double)
    /* its backward: every 2x2 window is written whole (gradient at the
       argmax, 0 elsewhere), so only rows/columns outside all windows need
       zeroing -- no memset pass over the plane */
    #define FASTNUT_MAXPOOL22_BWD(NAME, T) \
    static FASTNUT_NOWRAPV void NAME(const T *__restrict dy, const int *__restrict ix, int H, int W, \
                     int Ho, int Wo, T *__restrict dx) { \
        for (int oh = 0; oh < Ho; oh++) { \
            T *r0 = dx + (Py_ssize_t)(2 * oh) * W, *r1 = r0 + W; \
            for (int ow = 0; ow < Wo; ow++) { \
                T g = dy[oh * Wo + ow]; int k = ix[oh * Wo + ow], p = 2 * oh * W + 2 * ow; \
                r0[2 * ow] = k == p ? g : (T)0; r0[2 * ow + 1] = k == p + 1 ? g : (T)0; \
                r1[2 * ow] = k == p + W ? g : (T)0; r1[2 * ow + 1] = k == p + W + 1 ? g : (T)0; \
            } \
            for (int w = 2 * Wo; w < W; w++) { r0[w] = 0; r1[w] = 0; } \
        } \
        for (Py_ssize_t q = (Py_ssize_t)(2 * Ho) * W; q < (Py_ssize_t)H * W; q++) dx[q] = 0; \
    }
    FASTNUT_MAXPOOL22_BWD(fastnut_maxpool22_bwd_f, float)
    FASTNUT_MAXPOOL22_BWD(fastnut_maxpool22_bwd_d, double)
    """
    void fastnut_maxpool22_f(const float *x, int W, int Ho, int Wo, float *y, int *ix) noexcept nogil
    void fastnut_maxpool22_d(const double *x, int W, int Ho, int Wo, double *y, int *ix) noexcept nogil
    void fastnut_maxpool22_bwd_f(const float *dy, const int *ix, int H, int W, int Ho, int Wo,
                                 float *dx) noexcept nogil
    void fastnut_maxpool22_bwd_d(const double *dy, const int *ix, int H, int W, int Ho, int Wo,
                                 double *dx) noexcept nogil


def maxpool2d_forward(const floating[:, :, :, ::1] X,  # IN  (n, C, H, W)
                      floating[:, :, :, ::1] Y,        # OUT (n, C, Ho, Wo)
                      int[:, :, :, ::1] idx,           # OUT (n, C, Ho, Wo) argmax in plane
                      int kh, int kw, int sh, int sw, int n_threads):
    """Max pooling; ``idx`` remembers where each maximum came from."""
    cdef int n = X.shape[0], C = X.shape[1], H = X.shape[2], W = X.shape[3]
    cdef int Ho = Y.shape[2], Wo = Y.shape[3]
    cdef Py_ssize_t plane, nplanes = <Py_ssize_t> n * C
    cdef int oh, ow, i, j, best, pos
    cdef floating m, v
    cdef const floating *x
    cdef floating *y
    cdef int *ix
    _check_planes("maxpool2d_forward", X.shape, Y.shape, 4, kh, kw, sh, sw, idx.shape)
    if nplanes == 0:
        return
    for plane in prange(nplanes, nogil=True, schedule="static", num_threads=n_threads):
        x = &X[0, 0, 0, 0] + plane * H * W
        y = &Y[0, 0, 0, 0] + plane * Ho * Wo
        ix = &idx[0, 0, 0, 0] + plane * Ho * Wo
        if kh == 2 and kw == 2 and sh == 2 and sw == 2:
            if floating is float:
                fastnut_maxpool22_f(x, W, Ho, Wo, y, ix)
            else:
                fastnut_maxpool22_d(x, W, Ho, Wo, y, ix)
        else:
            for oh in range(Ho):
                for ow in range(Wo):
                    pos = oh * sh * W + ow * sw
                    best = pos
                    m = x[pos]
                    for i in range(kh):
                        for j in range(kw):
                            v = x[pos + i * W + j]
                            if v > m:
                                m = v
                                best = pos + i * W + j
                    y[oh * Wo + ow] = m
                    ix[oh * Wo + ow] = best


def maxpool2d_backward(const floating[:, :, :, ::1] dY,  # IN  (n, C, Ho, Wo)
                       const int[:, :, :, ::1] idx,      # IN  (n, C, Ho, Wo) from forward
                       floating[:, :, :, ::1] dX,        # OUT (n, C, H, W)
                       int kh, int kw, int sh, int sw, int n_threads):
    """dX = scatter-add of dY at the remembered argmax positions."""
    cdef bint pool22 = kh == 2 and kw == 2 and sh == 2 and sw == 2
    cdef int n = dX.shape[0], C = dX.shape[1], H = dX.shape[2], W = dX.shape[3]
    cdef int Ho = dY.shape[2], Wo = dY.shape[3]
    cdef Py_ssize_t plane, nplanes = <Py_ssize_t> n * C
    cdef int q
    cdef floating *dx
    cdef const floating *dy
    cdef const int *ix
    cdef Py_ssize_t k, HW = <Py_ssize_t> H * W
    _check_planes("maxpool2d_backward", dX.shape, dY.shape, 4, kh, kw, sh, sw, idx.shape)
    if FASTNUT_DEBUG_BUILD and not pool22:
        # the scatter writes at dX[plane, idx]: every index must be in its plane
        for plane in range(nplanes):
            for q in range(Ho * Wo):
                k = (&idx[0, 0, 0, 0])[plane * Ho * Wo + q]
                if k < 0 or k >= HW:
                    raise ValueError(f"maxpool2d_backward: idx {k} outside a {H}x{W} plane")
    if nplanes == 0:
        return
    for plane in prange(nplanes, nogil=True, schedule="static", num_threads=n_threads):
        dx = &dX[0, 0, 0, 0] + plane * H * W
        dy = &dY[0, 0, 0, 0] + plane * Ho * Wo
        ix = &idx[0, 0, 0, 0] + plane * Ho * Wo
        if pool22:
            if floating is float:
                fastnut_maxpool22_bwd_f(dy, ix, H, W, Ho, Wo, dx)
            else:
                fastnut_maxpool22_bwd_d(dy, ix, H, W, Ho, Wo, dx)
        else:
            memset(dx, 0, H * W * sizeof(floating))
            for q in range(Ho * Wo):
                dx[ix[q]] += dy[q]


def avgpool2d_forward(const floating[:, :, :, ::1] X,  # IN  (n, C, H, W)
                      floating[:, :, :, ::1] Y,        # OUT (n, C, Ho, Wo)
                      int kh, int kw, int sh, int sw, int n_threads):
    """Mean over each ``kh x kw`` window."""
    cdef int n = X.shape[0], C = X.shape[1], H = X.shape[2], W = X.shape[3]
    cdef int Ho = Y.shape[2], Wo = Y.shape[3]
    cdef Py_ssize_t plane, nplanes = <Py_ssize_t> n * C
    cdef int oh, ow, i, j, pos
    cdef floating s, inv = 1.0 / (kh * kw)
    cdef const floating *x
    cdef floating *y
    _check_planes("avgpool2d_forward", X.shape, Y.shape, 4, kh, kw, sh, sw, NULL)
    if nplanes == 0:
        return
    for plane in prange(nplanes, nogil=True, schedule="static", num_threads=n_threads):
        x = &X[0, 0, 0, 0] + plane * H * W
        y = &Y[0, 0, 0, 0] + plane * Ho * Wo
        for oh in range(Ho):
            for ow in range(Wo):
                pos = oh * sh * W + ow * sw
                s = 0
                for i in range(kh):
                    for j in range(kw):
                        s = s + x[pos + i * W + j]
                y[oh * Wo + ow] = s * inv


def avgpool2d_backward(const floating[:, :, :, ::1] dY,  # IN  (n, C, Ho, Wo)
                       floating[:, :, :, ::1] dX,        # OUT (n, C, H, W)
                       int kh, int kw, int sh, int sw, int n_threads):
    """dX[window] += dY / (kh*kw) for every window."""
    cdef int n = dX.shape[0], C = dX.shape[1], H = dX.shape[2], W = dX.shape[3]
    cdef int Ho = dY.shape[2], Wo = dY.shape[3]
    cdef Py_ssize_t plane, nplanes = <Py_ssize_t> n * C
    cdef int oh, ow, i, j, pos
    cdef floating v, inv = 1.0 / (kh * kw)
    cdef floating *dx
    cdef const floating *dy
    _check_planes("avgpool2d_backward", dX.shape, dY.shape, 4, kh, kw, sh, sw, NULL)
    if nplanes == 0:
        return
    for plane in prange(nplanes, nogil=True, schedule="static", num_threads=n_threads):
        dx = &dX[0, 0, 0, 0] + plane * H * W
        dy = &dY[0, 0, 0, 0] + plane * Ho * Wo
        memset(dx, 0, H * W * sizeof(floating))
        for oh in range(Ho):
            for ow in range(Wo):
                pos = oh * sh * W + ow * sw
                v = dy[oh * Wo + ow] * inv
                for i in range(kh):
                    for j in range(kw):
                        dx[pos + i * W + j] += v


def global_avgpool_forward(const floating[:, :, :, ::1] X,  # IN  (n, C, H, W)
                           floating[:, ::1] Y,              # OUT (n, C)
                           int n_threads):
    """Y[n, c] = mean of X[n, c]."""
    cdef int n = X.shape[0], C = X.shape[1], H = X.shape[2], W = X.shape[3]
    cdef Py_ssize_t plane, nplanes = <Py_ssize_t> n * C
    cdef int q
    cdef floating s, inv = 1.0 / (H * W)
    cdef const floating *x
    _check_planes("global_avgpool_forward", X.shape, Y.shape, 2, 0, 0, 0, 0, NULL)
    if nplanes == 0 or H * W == 0:
        return
    for plane in prange(nplanes, nogil=True, schedule="static", num_threads=n_threads):
        x = &X[0, 0, 0, 0] + plane * H * W
        s = 0
        for q in range(H * W):
            s = s + x[q]
        (&Y[0, 0])[plane] = s * inv


def global_avgpool_backward(const floating[:, ::1] dY,  # IN  (n, C)
                            floating[:, :, :, ::1] dX,  # OUT (n, C, H, W)
                            int n_threads):
    """dX[n, c, :, :] = dY[n, c] / (H*W)."""
    cdef int n = dX.shape[0], C = dX.shape[1], H = dX.shape[2], W = dX.shape[3]
    cdef Py_ssize_t plane, nplanes = <Py_ssize_t> n * C
    cdef int q
    cdef floating v, inv = 1.0 / (H * W)
    cdef floating *dx
    _check_planes("global_avgpool_backward", dX.shape, dY.shape, 2, 0, 0, 0, 0, NULL)
    if nplanes == 0 or H * W == 0:
        return
    for plane in prange(nplanes, nogil=True, schedule="static", num_threads=n_threads):
        dx = &dX[0, 0, 0, 0] + plane * H * W
        v = (&dY[0, 0])[plane] * inv
        for q in range(H * W):
            dx[q] = v


def upsample_nearest_forward(const floating[:, :, :, ::1] X,  # IN  (n, C, H, W)
                             floating[:, :, :, ::1] Y,        # OUT (n, C, H*sh, W*sw)
                             int sh, int sw, int n_threads):
    """Y[.., h, w] = X[.., h // sh, w // sw]."""
    cdef int n = X.shape[0], C = X.shape[1], H = X.shape[2], W = X.shape[3]
    cdef int Ho = H * sh, Wo = W * sw
    cdef Py_ssize_t plane, nplanes = <Py_ssize_t> n * C
    cdef int oh, ow
    cdef const floating *x
    cdef floating *y
    _check_planes("upsample_nearest_forward", X.shape, Y.shape, 4, -1, 0, sh, sw, NULL)
    if nplanes == 0:
        return
    for plane in prange(nplanes, nogil=True, schedule="static", num_threads=n_threads):
        x = &X[0, 0, 0, 0] + plane * H * W
        y = &Y[0, 0, 0, 0] + plane * Ho * Wo
        for oh in range(Ho):
            for ow in range(Wo):
                y[oh * Wo + ow] = x[(oh // sh) * W + ow // sw]


def upsample_nearest_backward(const floating[:, :, :, ::1] dY,  # IN  (n, C, H*sh, W*sw)
                              floating[:, :, :, ::1] dX,        # OUT (n, C, H, W)
                              int sh, int sw, int n_threads):
    """dX[.., h, w] = sum of dY over the ``sh x sw`` block it was copied to."""
    cdef int n = dX.shape[0], C = dX.shape[1], H = dX.shape[2], W = dX.shape[3]
    cdef int Ho = H * sh, Wo = W * sw
    cdef Py_ssize_t plane, nplanes = <Py_ssize_t> n * C
    cdef int oh, ow
    cdef floating *dx
    cdef const floating *dy
    _check_planes("upsample_nearest_backward", dX.shape, dY.shape, 4, -1, 0, sh, sw, NULL)
    if nplanes == 0:
        return
    for plane in prange(nplanes, nogil=True, schedule="static", num_threads=n_threads):
        dx = &dX[0, 0, 0, 0] + plane * H * W
        dy = &dY[0, 0, 0, 0] + plane * Ho * Wo
        memset(dx, 0, H * W * sizeof(floating))
        for oh in range(Ho):
            for ow in range(Wo):
                dx[(oh // sh) * W + ow // sw] += dy[oh * Wo + ow]
