# cython: language_level=3
"""2-D convolution kernels: forward, gradient w.r.t. input, weights and bias.

Public layout: activations ``(n, C, H, W)`` (C-contiguous), weights
``(C_out, C_in, kh, kw)``, exactly as PyTorch.  Each image is lowered to a
column matrix and GEMMs do the arithmetic, one image at a time, so the
lowered image (a few hundred KiB at most) stays in L2.  float32 products run
on fastnut's GEMM kernel where the CPU has one (``_fwd_gemm``, ``_own_gemm``:
forward, weight and input gradients), float64 and older CPUs on BLAS.

Two lowerings, chosen by :func:`conv2d_plan` from the shapes:

``"rows"`` (stride 1 along the height, ``C_in*kw >= 32``)
    Only the kernel *width* is unrolled: ``R[(c, j), r*W_out + x] =
    X[c, r - ph, x*sw + j*dw - pw]`` for every padded input row ``r``.  The
    columns the kernel row ``i`` needs are then the contiguous slice that
    starts at ``i*dh*W_out``, so the convolution is ``kh`` GEMMs with
    ``K = C_in*kw`` reading straight from ``R``:
    ``Y[n] += W_i (C_out, C_in*kw) @ R[:, i*dh*W_out : i*dh*W_out + P]``.
    ``R`` is ``kh`` times smaller than a full im2col matrix, and so is the
    work to build it and to scatter its gradient back.
``"im2col"`` (everything else, e.g. one input channel or strided rows)
    The classic ``col (C_in*kh*kw, P)`` matrix, one GEMM per image.

In both, ``P = H_out*W_out``; the forward pass adds the bias and applies the
optional ReLU in one pass while ``Y[n]`` is in cache; the backward pass masks
the gradient by ``Y > 0`` (fused ReLU), gets the bias gradient from a GEMV
against a vector of ones, the weight gradient from GEMMs against the lowered
image (recomputed rather than stored for the whole batch) and the input
gradient by scattering ``W^T @ G`` back (col2im).

Images are spread over OpenMP threads, each with its own slice of the
caller-provided scratch; per-thread weight gradients are reduced at the end
in a fixed order, so results do not depend on scheduling.  Padding is given
as the top/left zero padding plus the output size; the bottom/right padding
is whatever the output size implies (symmetric, asymmetric or ``"same"``).
"""
from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.string cimport memset, memcpy

from _blas cimport gemm, gemv

cdef extern from "_gemm.h" nogil:
    int fastnut_gemm_kernel()
    void fastnut_sgemm_auto(Py_ssize_t M, Py_ssize_t N, Py_ssize_t K,
                            const float *A, Py_ssize_t a_row, Py_ssize_t a_col,
                            const float *B, Py_ssize_t b_row, Py_ssize_t b_col,
                            float *C, Py_ssize_t ldc, int beta)


cdef inline void _fwd_gemm(int M, int N, int K, const floating *A, int lda,
                           const floating *B, int ldb, bint beta, floating *C,
                           int ldc) noexcept nogil:
    """C (M x N) = A B (+ C when beta), all row-major: the forward products.

    float32 goes through fastnut's GEMM kernel (``_gemm.h``) where the CPU
    has one: each output is one fixed-order sum, so an image's feature maps do
    not depend on the batch or group of images it is lowered with (BLAS's do).
    """
    if floating is float:
        if fastnut_gemm_kernel() != 0:
            fastnut_sgemm_auto(M, N, K, A, lda, 1, B, ldb, 1, C, ldc, beta)
            return
    gemm(False, False, M, N, K, 1, A, lda, B, ldb, 1 if beta else 0, C, ldc)


cdef inline bint _own_kernel(floating *dummy) noexcept nogil:
    """Whether this call's products run on fastnut's GEMM kernel (float32 on a
    CPU with one), else BLAS."""
    if floating is float:
        return fastnut_gemm_kernel() != 0
    return False


cdef inline void _own_gemm(int M, int N, int K, const floating *A, int a_row, int a_col,
                           const floating *B, int b_row, int b_col, bint beta, floating *C,
                           int ldc) noexcept nogil:
    """C (M x N, row stride ldc) = op(A) op(B) (+ C when beta) on fastnut's kernel.

    Operands by strides as in ``_gemm.h``: ``A(i, k) = A[i*a_row + k*a_col]``,
    ``B(k, j) = B[k*b_row + j*b_col]``.  The kernel reads a transposed operand
    while it packs it, so the backward pass needs no transposed copy of the
    incoming gradient.  Only called when ``_own_kernel`` (float32).
    """
    if floating is float:
        fastnut_sgemm_auto(M, N, K, A, a_row, a_col, B, b_row, b_col, C, ldc, beta)


cdef extern from *:
    """
    /* FASTNUT_DEBUG=1 builds (setup.py) define FASTNUT_DEBUG and undefine
       NDEBUG: the helpers' preconditions abort with file and line there,
       and cost nothing in the release build. */
    #include <assert.h>
    #ifdef FASTNUT_DEBUG
    #define FASTNUT_DEBUG_BUILD 1
    #else
    #define FASTNUT_DEBUG_BUILD 0
    #endif
    #define fastnut_assert(cond) assert(cond)
    """
    const bint FASTNUT_DEBUG_BUILD
    void fastnut_assert(bint cond) noexcept nogil


cdef inline int _lo(int pad, int off, int s) noexcept nogil:
    """First output index o with o*s + off - pad >= 0."""
    cdef int a = pad - off
    if a <= 0:
        return 0
    return (a - 1) // s + 1  # ceil(a / s); a + s - 1 would overflow for a huge stride


cdef inline int _hi(int pad, int off, int s, int size, int out) noexcept nogil:
    """One past the last output index o with o*s + off - pad <= size - 1."""
    cdef int a = size - 1 + pad - off
    if a < 0:
        return 0
    a = a // s + 1
    return a if a < out else out


cdef inline (int, int) _span(int pad, int off, int s, int size, int out) noexcept nogil:
    """Output indices [lo, hi) whose tap at ``off`` lands inside the image.

    Always ``0 <= lo <= hi <= out``: a tap whose every position falls in the
    padding (a large dilation or padding on a small image) gives an empty
    span.  Unclamped, ``lo`` could exceed ``out`` and the zero fill before the
    span wrote past the row, into the next row or image of the column matrix.
    """
    cdef int lo = _lo(pad, off, s), hi = _hi(pad, off, s, size, out)
    if lo > out:
        lo = out
    if hi < lo:
        hi = lo
    return lo, hi


cdef inline void _check_taps(int ih, int H, int lo, int hi, int s, int off,
                             int W) noexcept nogil:
    """Debug build: the input row and the first/last input column read are inside."""
    if FASTNUT_DEBUG_BUILD:
        fastnut_assert(0 <= ih < H)
        fastnut_assert(0 <= lo * s + off and (hi - 1) * s + off < W)


cdef void _im2col(const floating *x, int C, int H, int W, int kh, int kw,
                  int sh, int sw, int ph, int pw, int dh, int dw, int Ho, int Wo,
                  floating *col, Py_ssize_t ld) noexcept nogil:
    """col[(c*kh + i)*kw + j, oh*Wo + ow] = x[c, oh*sh + i*dh - ph, ow*sw + j*dw - pw] (0 outside).

    ``ld`` is the row stride of ``col``: several images of a group sit side by
    side in one column matrix.  Rows are short, so plain loops (which the
    compiler vectorises) beat memcpy/memset calls here.
    """
    cdef int c, i, j, oh, ow, ih, olo, ohi, hlo, hhi
    cdef floating *row
    cdef floating *dst
    cdef const floating *src
    for c in range(C):
        for i in range(kh):
            hlo, hhi = _span(ph, i * dh, sh, H, Ho)
            for j in range(kw):
                row = col + ((c * kh + i) * kw + j) * ld
                olo, ohi = _span(pw, j * dw, sw, W, Wo)
                for oh in range(Ho):
                    dst = row + oh * Wo
                    if oh < hlo or oh >= hhi:
                        for ow in range(Wo):
                            dst[ow] = 0
                        continue
                    for ow in range(olo):
                        dst[ow] = 0
                    if ohi > olo:
                        ih = oh * sh + i * dh - ph
                        _check_taps(ih, H, olo, ohi, sw, j * dw - pw, W)
                        src = x + (<Py_ssize_t> c * H + ih) * W + olo * sw + j * dw - pw
                        if sw == 1:
                            for ow in range(ohi - olo):
                                dst[olo + ow] = src[ow]
                        else:
                            for ow in range(ohi - olo):
                                dst[olo + ow] = src[ow * sw]
                    for ow in range(ohi, Wo):
                        dst[ow] = 0


cdef void _col2im(const floating *col, int C, int H, int W, int kh, int kw,
                  int sh, int sw, int ph, int pw, int dh, int dw, int Ho, int Wo,
                  floating *x, Py_ssize_t ld) noexcept nogil:
    """Adjoint of _im2col: x (zeroed here) += scatter of col (row stride ``ld``)."""
    cdef int c, i, j, oh, ow, ih, iw0, olo, ohi, hlo, hhi
    cdef const floating *row
    cdef floating *dst
    memset(x, 0, <Py_ssize_t> C * H * W * sizeof(floating))
    for c in range(C):
        for i in range(kh):
            hlo, hhi = _span(ph, i * dh, sh, H, Ho)
            for j in range(kw):
                row = col + ((c * kh + i) * kw + j) * ld
                olo, ohi = _span(pw, j * dw, sw, W, Wo)
                if ohi == olo:
                    continue
                for oh in range(hlo, hhi):
                    ih = oh * sh + i * dh - ph
                    _check_taps(ih, H, olo, ohi, sw, j * dw - pw, W)
                    iw0 = olo * sw + j * dw - pw
                    dst = x + (<Py_ssize_t> c * H + ih) * W + iw0
                    if sw == 1:
                        for ow in range(ohi - olo):
                            dst[ow] += row[oh * Wo + olo + ow]
                    else:
                        for ow in range(ohi - olo):
                            dst[ow * sw] += row[oh * Wo + olo + ow]


cdef void _rows(const floating *x, int C, int H, int W, int kw, int sw, int ph, int pw,
                int dw, int Hr, int Wo, floating *R) noexcept nogil:
    """R[(c*kw + j), r*Wo + ow] = x[c, r - ph, ow*sw + j*dw - pw] (0 outside), r < Hr."""
    cdef int c, j, r, ih, ow, olo, ohi
    cdef Py_ssize_t L = <Py_ssize_t> Hr * Wo
    cdef floating *row
    cdef floating *dst
    cdef const floating *src
    for c in range(C):
        for j in range(kw):
            row = R + (c * kw + j) * L
            olo, ohi = _span(pw, j * dw, sw, W, Wo)
            for r in range(Hr):
                ih = r - ph
                dst = row + r * Wo
                if ih < 0 or ih >= H:
                    for ow in range(Wo):
                        dst[ow] = 0
                    continue
                for ow in range(olo):
                    dst[ow] = 0
                if ohi > olo:
                    _check_taps(ih, H, olo, ohi, sw, j * dw - pw, W)
                    src = x + (<Py_ssize_t> c * H + ih) * W + olo * sw + j * dw - pw
                    if sw == 1:
                        for ow in range(ohi - olo):
                            dst[olo + ow] = src[ow]
                    else:
                        for ow in range(ohi - olo):
                            dst[olo + ow] = src[ow * sw]
                for ow in range(ohi, Wo):
                    dst[ow] = 0


cdef void _rows_adj(const floating *R, int C, int H, int W, int kw, int sw, int ph, int pw,
                    int dw, int Hr, int Wo, floating *x) noexcept nogil:
    """Adjoint of _rows: x (zeroed here) += scatter of R."""
    cdef int c, j, r, ih, ow, olo, ohi, rlo, rhi
    cdef Py_ssize_t L = <Py_ssize_t> Hr * Wo
    cdef const floating *row
    cdef const floating *src
    cdef floating *dst
    memset(x, 0, <Py_ssize_t> C * H * W * sizeof(floating))
    rlo = ph
    rhi = H + ph if H + ph < Hr else Hr
    for c in range(C):
        for j in range(kw):
            row = R + (c * kw + j) * L
            olo, ohi = _span(pw, j * dw, sw, W, Wo)
            if ohi == olo:
                continue
            for r in range(rlo, rhi):
                ih = r - ph
                _check_taps(ih, H, olo, ohi, sw, j * dw - pw, W)
                src = row + r * Wo + olo
                dst = x + (<Py_ssize_t> c * H + ih) * W + olo * sw + j * dw - pw
                if sw == 1:
                    for ow in range(ohi - olo):
                        dst[ow] += src[ow]
                else:
                    for ow in range(ohi - olo):
                        dst[ow * sw] += src[ow]


#: lowered columns per GEMM the im2col path aims for: small images are
#: grouped so that one GEMM covers several of them
cdef enum:
    GROUP_COLUMNS = 512


cdef inline bint _use_rows(int C, int kw, int sh, Py_ssize_t P) noexcept nogil:
    return sh == 1 and C * kw >= 32 and P >= 128


cdef inline int _group(Py_ssize_t P, bint rows) noexcept nogil:
    if rows or P >= GROUP_COLUMNS or P < 1:  # P < 1: refused by _check_conv
        return 1
    return <int> min(64, GROUP_COLUMNS // P)


def conv2d_plan(int C, int kh, int kw, int sh, int dh, int Co, int Ho, int Wo):
    """Lowering and scratch sizes for one convolution, as a dict.

    ``mode`` is ``"rows"`` or ``"im2col"`` (see the module docstring), ``nb``
    the number of images per GEMM; ``col`` and ``g`` are per-thread lengths,
    ``acc`` the length of one partial weight gradient (``conv2d_backward``
    wants ``conv2d_acc_rows(n, plan)`` of them: at most ``slots``) and ``wr``
    a total length, for the scratch arrays that
    ``conv2d_forward``/``conv2d_backward`` take.
    """
    cdef Py_ssize_t P = <Py_ssize_t> Ho * Wo, K = <Py_ssize_t> C * kh * kw
    cdef Py_ssize_t Hr = Ho + (kh - 1) * dh
    cdef bint rows = _use_rows(C, kw, sh, P)
    cdef int nb = _group(P, rows)
    if rows:
        return {"mode": "rows", "nb": 1, "col": C * kw * Hr * Wo, "g": 2 * Co * P,
                "acc": Co * K + Co + P, "wr": Co * K, "slots": ACC_SLOTS}
    return {"mode": "im2col", "nb": nb, "col": K * nb * P, "g": 2 * Co * nb * P,
            "acc": Co * K + Co + nb * P, "wr": 1, "slots": ACC_SLOTS}


def conv2d_acc_rows(int n, dict plan):
    """Rows of ``acc`` that ``conv2d_backward`` needs for a batch of ``n``.

    The weight gradient is summed in ``min(ngroups, plan["slots"])`` partial
    sums over contiguous runs of image groups, then added in slot order:
    the bits depend on the batch, never on the thread count.
    """
    cdef int ngroups = (n + plan["nb"] - 1) // plan["nb"]
    return max(1, min(ngroups, plan["slots"]))


cdef enum:
    INT_MAX_ = 2147483647
    # partial weight gradients of conv2d_backward: threads share these, so the
    # sum's order is fixed by the batch alone (at most this many threads help)
    ACC_SLOTS = 16


cdef int _check_conv(str kernel, const Py_ssize_t *xs, const Py_ssize_t *ws, Py_ssize_t nbias,
                     const Py_ssize_t *ys, int sh, int sw, int ph, int pw, int dh,
                     int dw) except -1:
    """Raise ValueError unless X (``xs``), the weight (``ws``), the bias and the
    output or its gradient (``ys``) of a convolution agree.

    The helpers index raw pointers with 32-bit ints and trust these relations;
    checked here, in O(1), no shape mistake reaches them.
    """
    cdef Py_ssize_t n = xs[0], C = xs[1], H = xs[2], W = xs[3]
    cdef Py_ssize_t Co = ws[0], kh = ws[2], kw = ws[3], Ho = ys[2], Wo = ys[3]
    if min(sh, sw, dh, dw) < 1 or min(kh, kw) < 1 or min(ph, pw) < 0:
        raise ValueError(f"{kernel}: stride, dilation and kernel size must be >= 1 and "
                         f"padding >= 0; got stride ({sh}, {sw}), dilation ({dh}, {dw}), "
                         f"kernel ({kh}, {kw}), padding ({ph}, {pw})")
    if ws[1] != C:
        raise ValueError(f"{kernel}: the weight has {ws[1]} input channels, X has {C}")
    if nbias != 0 and nbias != Co:
        raise ValueError(f"{kernel}: bias has {nbias} values for {Co} filters")
    if ys[0] != n or ys[1] != Co:
        raise ValueError(f"{kernel}: the output (gradient) has shape "
                         f"{(ys[0], ys[1], Ho, Wo)} for {n} images and {Co} filters")
    # any output size is safe (the helpers clamp every tap to the image: the
    # bottom/right padding is what the output size implies), but not an empty one
    if Ho < 1 or Wo < 1:
        raise ValueError(f"{kernel}: empty output {Ho}x{Wo}")
    if C * kh * kw * Co > INT_MAX_ or H * W > INT_MAX_ or \
            (Ho + (kh - 1) * dh) * Wo * C * kw > INT_MAX_ or Ho * Wo * C * kh * kw > INT_MAX_:
        raise ValueError(f"{kernel}: the sizes exceed the kernel's 32-bit indices")
    return 0


cdef int _check_shape(str kernel, str name, const Py_ssize_t *got, Py_ssize_t n0,
                      Py_ssize_t n1, Py_ssize_t n2, Py_ssize_t n3) except -1:
    """Raise ValueError unless got[:4] == (n0, n1, n2, n3)."""
    if got[0] != n0 or got[1] != n1 or got[2] != n2 or got[3] != n3:
        raise ValueError(f"{kernel}: {name} has shape {(got[0], got[1], got[2], got[3])}, "
                         f"expected {(n0, n1, n2, n3)}")
    return 0


cdef int _check_scratch(str kernel, str name, Py_ssize_t rows, Py_ssize_t length,
                        Py_ssize_t nt, Py_ssize_t need) except -1:
    """Raise ValueError unless a scratch array of shape (rows, length) has room."""
    if rows < nt or length < need:
        raise ValueError(f"{kernel}: scratch {name} has shape {(rows, length)}, needs at "
                         f"least {(nt, need)} (see conv2d_plan"
                         + (" and conv2d_acc_rows)" if name == "acc" else ")"))
    return 0


cdef inline void _bias_act(floating *y, const floating *b, int has_bias, int relu,
                           int Co, Py_ssize_t P) noexcept nogil:
    """y[c, p] = act(y[c, p] + b[c]) in place."""
    cdef int c
    if not has_bias and not relu:
        return
    for c in range(Co):
        if floating is float:
            fastnut_bias_act_f(y + c * P, b[c] if has_bias else 0, relu, P)
        else:
            fastnut_bias_act_d(y + c * P, b[c] if has_bias else 0, relu, P)


cdef extern from *:
    """
    /* Python builds extensions with -fwrapv (signed overflow wraps), which
       stops gcc from vectorising loops with int indices -- the lowering
       loops, the elementwise passes.  Neither Cython's code nor these
       kernels rely on wrapping, so lift it for the rest of this file. */
    #if defined(__GNUC__) && !defined(__clang__)
    #pragma GCC optimize ("no-wrapv")
    #endif
    /* Branch-free elementwise passes with restrict pointers so that the
       compiler vectorises them: a ReLU mask is data-dependent and random,
       and a branch per element costs more than the GEMMs around it.  dy is
       read unconditionally, otherwise gcc keeps the branch. */
    static void fastnut_relu_mask_f(const float *__restrict dy, const float *__restrict y,
                                    Py_ssize_t m, float *__restrict g) {
        for (Py_ssize_t q = 0; q < m; q++) { float a = dy[q]; g[q] = y[q] > 0.0f ? a : 0.0f; }
    }
    static void fastnut_relu_mask_d(const double *__restrict dy, const double *__restrict y,
                                    Py_ssize_t m, double *__restrict g) {
        for (Py_ssize_t q = 0; q < m; q++) { double a = dy[q]; g[q] = y[q] > 0.0 ? a : 0.0; }
    }
    /* b (cols x rows) = a^T for a (rows x cols), in 16 x 16 tiles */
    #define FASTNUT_TRANSPOSE(NAME, T) \
    static void NAME(const T *__restrict a, Py_ssize_t rows, Py_ssize_t cols, T *__restrict b) { \
        for (Py_ssize_t i0 = 0; i0 < rows; i0 += 16) { \
            Py_ssize_t i1 = i0 + 16 < rows ? i0 + 16 : rows; \
            for (Py_ssize_t j0 = 0; j0 < cols; j0 += 16) { \
                Py_ssize_t j1 = j0 + 16 < cols ? j0 + 16 : cols; \
                for (Py_ssize_t j = j0; j < j1; j++) \
                    for (Py_ssize_t i = i0; i < i1; i++) b[j * rows + i] = a[i * cols + j]; \
            } \
        } \
    }
    FASTNUT_TRANSPOSE(fastnut_transpose_f, float)
    /* y[c*P + p] = act(z[p*Co + c] + b[c]) (no add without a bias): the
       bias + activation pass of the forward products computed pixel-major,
       transposing to the (C_out, P) planes on the way, in blocks of 8 pixels
       (their 8 rows of z stay in L1 while every channel is written) */
    static void fastnut_bias_act_t_f(float *__restrict y, const float *__restrict z,
                                     const float *__restrict b, int relu, Py_ssize_t Co,
                                     Py_ssize_t P) {
        for (Py_ssize_t p0 = 0; p0 < P; p0 += 8) {
            Py_ssize_t p1 = p0 + 8 < P ? p0 + 8 : P;
            for (Py_ssize_t c = 0; c < Co; c++) {
                float *__restrict yc = y + c * P;
                if (b) {
                    float bc = b[c];
                    if (relu) { for (Py_ssize_t p = p0; p < p1; p++) { float v = z[p * Co + c] + bc; yc[p] = v > 0.0f ? v : 0.0f; } }
                    else { for (Py_ssize_t p = p0; p < p1; p++) yc[p] = z[p * Co + c] + bc; }
                } else if (relu) {
                    for (Py_ssize_t p = p0; p < p1; p++) { float v = z[p * Co + c]; yc[p] = v > 0.0f ? v : 0.0f; }
                } else {
                    for (Py_ssize_t p = p0; p < p1; p++) yc[p] = z[p * Co + c];
                }
            }
        }
    }
    FASTNUT_TRANSPOSE(fastnut_transpose_d, double)
    static void fastnut_bias_act_copy_f(float *__restrict y, const float *__restrict z, float b,
                                        int relu, Py_ssize_t m) {
        if (relu) { for (Py_ssize_t q = 0; q < m; q++) { float v = z[q] + b; y[q] = v > 0.0f ? v : 0.0f; } }
        else { for (Py_ssize_t q = 0; q < m; q++) y[q] = z[q] + b; }
    }
    static void fastnut_bias_act_copy_d(double *__restrict y, const double *__restrict z, double b,
                                        int relu, Py_ssize_t m) {
        if (relu) { for (Py_ssize_t q = 0; q < m; q++) { double v = z[q] + b; y[q] = v > 0.0 ? v : 0.0; } }
        else { for (Py_ssize_t q = 0; q < m; q++) y[q] = z[q] + b; }
    }
    static void fastnut_bias_act_f(float *__restrict y, float b, int relu, Py_ssize_t m) {
        if (relu) { for (Py_ssize_t q = 0; q < m; q++) { float v = y[q] + b; y[q] = v > 0.0f ? v : 0.0f; } }
        else { for (Py_ssize_t q = 0; q < m; q++) y[q] += b; }
    }
    static void fastnut_bias_act_d(double *__restrict y, double b, int relu, Py_ssize_t m) {
        if (relu) { for (Py_ssize_t q = 0; q < m; q++) { double v = y[q] + b; y[q] = v > 0.0 ? v : 0.0; } }
        else { for (Py_ssize_t q = 0; q < m; q++) y[q] += b; }
    }
    """
    void fastnut_transpose_f(const float *a, Py_ssize_t rows, Py_ssize_t cols, float *b) noexcept nogil
    void fastnut_transpose_d(const double *a, Py_ssize_t rows, Py_ssize_t cols, double *b) noexcept nogil
    void fastnut_bias_act_copy_f(float *y, const float *z, float b, int relu, Py_ssize_t m) noexcept nogil
    void fastnut_bias_act_t_f(float *y, const float *z, const float *b, int relu, Py_ssize_t Co,
                              Py_ssize_t P) noexcept nogil
    void fastnut_bias_act_copy_d(double *y, const double *z, double b, int relu, Py_ssize_t m) noexcept nogil
    void fastnut_relu_mask_f(const float *dy, const float *y, Py_ssize_t m, float *g) noexcept nogil
    void fastnut_relu_mask_d(const double *dy, const double *y, Py_ssize_t m, double *g) noexcept nogil
    void fastnut_bias_act_f(float *y, float b, int relu, Py_ssize_t m) noexcept nogil
    void fastnut_bias_act_d(double *y, double b, int relu, Py_ssize_t m) noexcept nogil


cdef inline void _bias_act_copy(floating *y, const floating *z, floating b, int relu,
                                Py_ssize_t m) noexcept nogil:
    """y = act(z + b)."""
    if floating is float:
        fastnut_bias_act_copy_f(y, z, b, relu, m)
    else:
        fastnut_bias_act_copy_d(y, z, b, relu, m)


cdef inline void _bias_act_t(floating *y, const floating *z, const floating *b, int relu,
                             int Co, Py_ssize_t P) noexcept nogil:
    """y[c, p] = act(z[p, c] + b[c]): z pixel-major (P, Co).  float32 only (the
    pixel-major products run on fastnut's kernel)."""
    if floating is float:
        fastnut_bias_act_t_f(y, z, b, relu, Co, P)


cdef inline void _transpose(const floating *a, Py_ssize_t rows, Py_ssize_t cols,
                            floating *b) noexcept nogil:
    """b (cols x rows) = a^T."""
    if floating is float:
        fastnut_transpose_f(a, rows, cols, b)
    else:
        fastnut_transpose_d(a, rows, cols, b)


cdef inline void _relu_mask(const floating *dy, const floating *y, Py_ssize_t m,
                            floating *g) noexcept nogil:
    """g = dy * (y > 0)."""
    if floating is float:
        fastnut_relu_mask_f(dy, y, m, g)
    else:
        fastnut_relu_mask_d(dy, y, m, g)


cdef void _reorder_w(const floating *w, int Co, int C, int kh, int kw,
                     floating *wr) noexcept nogil:
    """wr[i, co, c*kw + j] = w[co, c, i, j] (one (C_out, C_in*kw) block per kernel row)."""
    cdef int co, c, i, j
    cdef Py_ssize_t Ck = <Py_ssize_t> C * kw
    for co in range(Co):
        for c in range(C):
            for i in range(kh):
                for j in range(kw):
                    wr[(i * Co + co) * Ck + c * kw + j] = w[((co * C + c) * kh + i) * kw + j]


def conv2d_forward(const floating[:, :, :, ::1] X,   # IN  (n, C_in, H, W)
                   const floating[:, :, :, ::1] Wt,  # IN  (C_out, C_in, kh, kw)
                   const floating[::1] bias,         # IN  (C_out,) or (0,) for no bias
                   floating[:, :, :, ::1] Y,         # OUT (n, C_out, H_out, W_out)
                   floating[:, ::1] col,             # SCRATCH (>= nt, plan["col"])
                   floating[:, ::1] g,               # SCRATCH (>= nt, plan["g"])
                   floating[::1] wr,                 # SCRATCH (plan["wr"],)
                   int sh, int sw, int ph, int pw, int dh, int dw,
                   bint relu, int n_threads):
    """Y = act(conv(X, W) + b); ``relu`` fuses max(0, .) into the bias pass.

    ``ph``/``pw`` are the top/left paddings; the output size is read from Y.
    Scratch sizes come from :func:`conv2d_plan`; ``nt`` is the number of
    threads actually used, ``min(n_threads, number of image groups)``.
    """
    cdef int n = X.shape[0], C = X.shape[1], H = X.shape[2], W = X.shape[3]
    cdef int Co = Wt.shape[0], kh = Wt.shape[2], kw = Wt.shape[3]
    cdef int Ho = Y.shape[2], Wo = Y.shape[3]
    cdef int K = C * kh * kw, Ck = C * kw, Hr = Ho + (kh - 1) * dh
    cdef Py_ssize_t P = <Py_ssize_t> Ho * Wo, L = <Py_ssize_t> Hr * Wo, ld
    cdef int has_bias = bias.shape[0] > 0
    cdef bint rows = _use_rows(C, kw, sh, P)
    cdef int nb = _group(P, rows)
    cdef bint direct = (nb == 1 and kh == 1 and kw == 1 and sh == 1 and sw == 1 and ph == 0
                        and pw == 0 and Ho == H and Wo == W)
    cdef int grp, ngroups, i0, m, t, r, b, c
    cdef const floating *colp
    cdef floating *tmp
    cdef bint own = False   # set once the arguments are checked (Y may be empty)
    if n_threads < 1:
        n_threads = 1
    ngroups = (n + nb - 1) // nb
    _check_conv("conv2d_forward", X.shape, Wt.shape, bias.shape[0], Y.shape,
                sh, sw, ph, pw, dh, dw)
    plan = conv2d_plan(C, kh, kw, sh, dh, Co, Ho, Wo)
    t = min(n_threads, ngroups) if ngroups > 0 else 1
    _check_scratch("conv2d_forward", "col", col.shape[0], col.shape[1], t, plan["col"])
    _check_scratch("conv2d_forward", "g", g.shape[0], g.shape[1], t, plan["g"])
    _check_scratch("conv2d_forward", "wr", 1, wr.shape[0], 1, plan["wr"])
    if n == 0:
        return
    own = _own_kernel(&Y[0, 0, 0, 0])
    if rows:
        with nogil:
            _reorder_w(&Wt[0, 0, 0, 0], Co, C, kh, kw, &wr[0])
    for grp in prange(ngroups, nogil=True, schedule="static", num_threads=n_threads):
        t = threadid()
        i0 = grp * nb
        m = n - i0 if n - i0 < nb else nb
        if rows:
            _rows(&X[i0, 0, 0, 0], C, H, W, kw, sw, ph, pw, dw, Hr, Wo, &col[t, 0])
            if own:
                # pixel-major, Y^T (P, C_out) += R_r^T (P, C_in*kw) W_r^T: the
                # lowered image is the left operand, read in place (its P pixels
                # make the long side of the product), and only the small weight
                # block is packed; then bias + activation transpose it into Y.
                # Per output the same sum in the same order as below.
                tmp = &g[t, 0]
                for r in range(kh):
                    _own_gemm(<int> P, Co, Ck, &col[t, 0] + r * dh * Wo, 1, <int> L,
                              &wr[r * Co * Ck], 1, Ck, r > 0, tmp, Co)
                _bias_act_t(&Y[i0, 0, 0, 0], tmp, &bias[0] if has_bias else NULL, relu, Co, P)
                continue
            for r in range(kh):
                _fwd_gemm(Co, <int> P, Ck, &wr[r * Co * Ck], Ck, &col[t, 0] + r * dh * Wo,
                          <int> L, r > 0, &Y[i0, 0, 0, 0], <int> P)
            _bias_act(&Y[i0, 0, 0, 0], &bias[0] if has_bias else NULL, has_bias, relu, Co, P)
            continue
        ld = m * P
        if direct:
            colp = &X[i0, 0, 0, 0]
        else:
            for b in range(m):
                _im2col(&X[i0 + b, 0, 0, 0], C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo,
                        &col[t, 0] + b * P, ld)
            colp = &col[t, 0]
        if m == 1:
            _fwd_gemm(Co, <int> P, K, &Wt[0, 0, 0, 0], K, colp, <int> P, False,
                      &Y[i0, 0, 0, 0], <int> P)
            _bias_act(&Y[i0, 0, 0, 0], &bias[0] if has_bias else NULL, has_bias, relu, Co, P)
        else:
            # one GEMM for the whole group, then scatter to NCHW with bias + act
            tmp = &g[t, 0]
            _fwd_gemm(Co, <int> ld, K, &Wt[0, 0, 0, 0], K, colp, <int> ld, False, tmp,
                      <int> ld)
            for b in range(m):
                for c in range(Co):
                    _bias_act_copy(&Y[i0 + b, c, 0, 0], tmp + c * ld + b * P,
                                   bias[c] if has_bias else 0, relu, P)


def conv2d_backward(const floating[:, :, :, ::1] X,   # IN  (n, C_in, H, W)
                    const floating[:, :, :, ::1] Wt,  # IN  (C_out, C_in, kh, kw)
                    const floating[:, :, :, ::1] dY,  # IN  (n, C_out, H_out, W_out)
                    const floating[:, :, :, ::1] Y,   # IN  forward output (ReLU mask) if relu
                    floating[:, :, :, ::1] dX,        # OUT (n, C_in, H, W) if need_dx
                    floating[:, :, :, ::1] dW,        # OUT (C_out, C_in, kh, kw)
                    floating[::1] db,                 # OUT (C_out,) or (0,)
                    floating[:, ::1] col,             # SCRATCH (>= nt, plan["col"])
                    floating[:, ::1] g,               # SCRATCH (>= nt, plan["g"])
                    floating[:, ::1] acc,             # SCRATCH (>= nt, plan["acc"])
                    floating[::1] wr,                 # SCRATCH (plan["wr"],)
                    int sh, int sw, int ph, int pw, int dh, int dw,
                    bint relu, bint need_dx, int n_threads):
    """Gradients of ``Y = act(conv(X, W) + b)`` given dL/dY.

    dW and db are overwritten with the sums over the batch; dX (when
    ``need_dx``) is overwritten.  With ``relu``, the incoming gradient is
    masked by ``Y > 0``.
    """
    cdef int n = X.shape[0], C = X.shape[1], H = X.shape[2], W = X.shape[3]
    cdef int Co = Wt.shape[0], kh = Wt.shape[2], kw = Wt.shape[3]
    cdef int Ho = dY.shape[2], Wo = dY.shape[3]
    cdef int K = C * kh * kw, Ck = C * kw, Hr = Ho + (kh - 1) * dh
    cdef Py_ssize_t P = <Py_ssize_t> Ho * Wo, L = <Py_ssize_t> Hr * Wo, ld
    cdef int has_bias = db.shape[0] > 0
    cdef bint rows = _use_rows(C, kw, sh, P)
    cdef int nb = _group(P, rows)
    cdef bint direct = (nb == 1 and kh == 1 and kw == 1 and sh == 1 and sw == 1 and ph == 0
                        and pw == 0 and Ho == H and Wo == W)
    cdef int grp, ngroups, i0, m, t, c, nt, r, j, co, b, s, nslots, g0, g1
    cdef Py_ssize_t q, KW = <Py_ssize_t> Co * K
    cdef const floating *colp
    cdef const floating *gp
    cdef floating *gtp
    cdef floating *gw
    cdef floating *dwp
    cdef floating *ones
    cdef bint own = False   # set once the arguments are checked
    if n_threads < 1:
        n_threads = 1
    ngroups = (n + nb - 1) // nb
    nslots = ngroups if ngroups < ACC_SLOTS else ACC_SLOTS
    if nslots < 1:
        nslots = 1
    nt = n_threads if n_threads < nslots else nslots
    _check_conv("conv2d_backward", X.shape, Wt.shape, db.shape[0], dY.shape,
                sh, sw, ph, pw, dh, dw)
    _check_shape("conv2d_backward", "dW", dW.shape, Co, C, kh, kw)
    if relu:
        _check_shape("conv2d_backward", "Y", Y.shape, n, Co, Ho, Wo)
    if need_dx:
        _check_shape("conv2d_backward", "dX", dX.shape, n, C, H, W)
    plan = conv2d_plan(C, kh, kw, sh, dh, Co, Ho, Wo)
    _check_scratch("conv2d_backward", "col", col.shape[0], col.shape[1], nt, plan["col"])
    _check_scratch("conv2d_backward", "g", g.shape[0], g.shape[1], nt, plan["g"])
    _check_scratch("conv2d_backward", "acc", acc.shape[0], acc.shape[1], nslots, plan["acc"])
    _check_scratch("conv2d_backward", "wr", 1, wr.shape[0], 1, plan["wr"])
    if dW.shape[0] > 0 and dW.shape[1] > 0 and dW.shape[2] > 0 and dW.shape[3] > 0:
        own = _own_kernel(&dW[0, 0, 0, 0])
    with nogil:
        for s in range(nslots):
            memset(&acc[s, 0], 0, (KW + Co) * sizeof(floating))
        ones = &acc[0, KW + Co]   # read-only once set: shared by the threads
        for q in range(nb * P):
            ones[q] = 1
        if rows:
            _reorder_w(&Wt[0, 0, 0, 0], Co, C, kh, kw, &wr[0])
    if n > 0:
        # slot s sums the groups [s * ngroups / nslots, (s + 1) * ngroups / nslots)
        # in order; a thread runs whole slots, so the thread count changes no bit
        for s in prange(nslots, nogil=True, schedule="static", num_threads=nt):
          t = threadid()
          g0 = <int> ((<Py_ssize_t> s * ngroups) // nslots)
          g1 = <int> ((<Py_ssize_t> (s + 1) * ngroups) // nslots)
          for grp in range(g0, g1):
            i0 = grp * nb
            m = n - i0 if n - i0 < nb else nb
            ld = m * P
            # G (Co, m*P): the incoming gradient of the group, ReLU-masked
            if m == 1 and not relu:
                gp = &dY[i0, 0, 0, 0]
            else:
                gw = &g[t, 0]
                for b in range(m):
                    for c in range(Co):
                        if relu:
                            _relu_mask(&dY[i0 + b, c, 0, 0], &Y[i0 + b, c, 0, 0], P,
                                       gw + c * ld + b * P)
                        else:
                            memcpy(gw + c * ld + b * P, &dY[i0 + b, c, 0, 0],
                                   P * sizeof(floating))
                gp = gw
            # BLAS: G^T (m*P, Co), the weight-gradient GEMMs run ~1.5x faster on it
            # than on a transposed operand (measured with OpenBLAS on these shapes).
            # (Masking straight into G^T was tried: 3x slower, strided and unvectorised.)
            # fastnut's kernel reads G transposed while packing it: no copy.
            gtp = &g[t, 0] + Co * ld
            if not own:
                _transpose(gp, Co, ld, gtp)
            if has_bias:
                # db_t += G @ ones
                gemv(False, Co, <int> ld, 1, gp, <int> ld, &acc[0, KW + Co], 1,
                     1, &acc[s, KW], 1)
            if rows:
                _rows(&X[i0, 0, 0, 0], C, H, W, kw, sw, ph, pw, dw, Hr, Wo, &col[t, 0])
                for r in range(kh):
                    # dW_t[r] (Ck, Co) += R_r (Ck, P) @ G^T (P, Co)
                    if own:
                        _own_gemm(Ck, Co, <int> P, &col[t, 0] + r * dh * Wo, <int> L, 1,
                                  gp, 1, <int> ld, True, &acc[s, 0] + r * Ck * Co, Co)
                    else:
                        gemm(False, False, Ck, Co, <int> P, 1, &col[t, 0] + r * dh * Wo,
                             <int> L, gtp, Co, 1, &acc[s, 0] + r * Ck * Co, Co)
                if need_dx:
                    # kernel row 0 overwrites columns [0, P) of dR; only the
                    # columns [P, L) that it does not reach start from zero
                    if L > P:
                        for j in range(Ck):
                            memset(&col[t, 0] + j * L + P, 0, (L - P) * sizeof(floating))
                    for r in range(kh):
                        # dR_r (Ck, P) += W_r^T (Ck, Co) @ G (Co, P)
                        if own:
                            _own_gemm(Ck, <int> P, Co, &wr[r * Co * Ck], 1, Ck, gp,
                                      <int> ld, 1, r > 0, &col[t, 0] + r * dh * Wo, <int> L)
                        else:
                            gemm(True, False, Ck, <int> P, Co, 1, &wr[r * Co * Ck], Ck,
                                 gp, <int> P, 0 if r == 0 else 1, &col[t, 0] + r * dh * Wo,
                                 <int> L)
                    _rows_adj(&col[t, 0], C, H, W, kw, sw, ph, pw, dw, Hr, Wo,
                              &dX[i0, 0, 0, 0])
                continue
            if direct:
                colp = &X[i0, 0, 0, 0]
            else:
                for b in range(m):
                    _im2col(&X[i0 + b, 0, 0, 0], C, H, W, kh, kw, sh, sw, ph, pw, dh, dw,
                            Ho, Wo, &col[t, 0] + b * P, ld)
                colp = &col[t, 0]
            # dW_t^T (K, Co) += col (K, m*P) @ G^T (m*P, Co)
            if own:
                _own_gemm(K, Co, <int> ld, colp, <int> ld, 1, gp, 1, <int> ld, True,
                          &acc[s, 0], Co)
            else:
                gemm(False, False, K, Co, <int> ld, 1, colp, <int> ld, gtp, Co,
                     1, &acc[s, 0], Co)
            if need_dx:
                if direct:
                    if own:
                        _own_gemm(K, <int> P, Co, &Wt[0, 0, 0, 0], 1, K, gp, <int> P, 1,
                                  False, &dX[i0, 0, 0, 0], <int> P)
                    else:
                        gemm(True, False, K, <int> P, Co, 1, &Wt[0, 0, 0, 0], K, gp,
                             <int> P, 0, &dX[i0, 0, 0, 0], <int> P)
                else:
                    # dcol (K, m*P) = W^T (K, Co) @ G (Co, m*P), reusing the column buffer
                    if own:
                        _own_gemm(K, <int> ld, Co, &Wt[0, 0, 0, 0], 1, K, gp, <int> ld, 1,
                                  False, &col[t, 0], <int> ld)
                    else:
                        gemm(True, False, K, <int> ld, Co, 1, &Wt[0, 0, 0, 0], K, gp,
                             <int> ld, 0, &col[t, 0], <int> ld)
                    for b in range(m):
                        _col2im(&col[t, 0] + b * P, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw,
                                Ho, Wo, &dX[i0 + b, 0, 0, 0], ld)
    # fixed-order reduction of the slots' partial sums
    with nogil:
        for s in range(1, nslots):
            for q in range(KW + Co):
                acc[0, q] += acc[s, q]
        dwp = &dW[0, 0, 0, 0]
        if rows:
            # acc holds dW^T per kernel row: [i, c*kw + j, co]
            for co in range(Co):
                for c in range(C):
                    for r in range(kh):
                        for j in range(kw):
                            dwp[((co * C + c) * kh + r) * kw + j] = \
                                acc[0, (r * Ck + c * kw + j) * Co + co]
        else:
            # acc holds dW^T: [(c*kh + i)*kw + j, co]
            _transpose(&acc[0, 0], K, Co, dwp)
        if has_bias:
            memcpy(&db[0], &acc[0, KW], Co * sizeof(floating))
