"""Kernels of the network engine: the float32 GEMM of the dense layers, fused
bias + activation, its derivative, and the optimizers' parameter updates.

Each is one pass over memory where NumPy would make three or four.  The loops
live in ``_dense_math.h`` (restrict pointers, so they vectorise); this module
splits the rows or elements over the ``n_threads`` OpenMP threads it is
given (whether an array is large enough to pay for threads is decided in
Python: ``fastnut._threads.THRESHOLDS``).  Activation codes: the ``Activation``
enum below (0 identity, 1 relu, 2 tanh, 3 logistic), read by
``fastnut/nn/_activations.py``.
"""
from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.stdlib cimport free, malloc
from libc.math cimport exp, expf, log, logf
from libc.string cimport memcpy, memset

from _blas cimport axpy, blas_int, gemm

cdef extern from "_gemm.h" nogil:
    int fastnut_gemm_kernel()
    Py_ssize_t fastnut_sgemm_scratch(Py_ssize_t K)
    void fastnut_sgemm(Py_ssize_t M, Py_ssize_t N, Py_ssize_t K,
                       const float *A, Py_ssize_t a_row, Py_ssize_t a_col,
                       const float *B, Py_ssize_t b_row, Py_ssize_t b_col,
                       float *C, Py_ssize_t ldc, int beta, float *work)
    void fastnut_sgemm_threads(Py_ssize_t M, Py_ssize_t N, Py_ssize_t K,
                               const float *A, Py_ssize_t a_row, Py_ssize_t a_col,
                               const float *B, Py_ssize_t b_row, Py_ssize_t b_col,
                               float *C, Py_ssize_t ldc, int beta, int n_threads)

cdef extern from "_dense_math.h" nogil:
    void fn_bias_act_f(Py_ssize_t n, Py_ssize_t m, float *Z, const float *b, int act)
    void fn_bias_act_d(Py_ssize_t n, Py_ssize_t m, double *Z, const double *b, int act)
    void fn_act_backward_f(Py_ssize_t n, float *d, const float *y, int act)
    void fn_act_backward_d(Py_ssize_t n, double *d, const double *y, int act)
    void fn_act_backward_sum_f(Py_ssize_t n, Py_ssize_t m, float *d, const float *y, int act,
                               float *col)
    void fn_act_backward_sum_d(Py_ssize_t n, Py_ssize_t m, double *d, const double *y,
                               int act, double *col)
    double fn_adam_f(Py_ssize_t n, float *p, const float *g, float *m, float *v,
                     float lr, float b1, float b2, float eps, float l2)
    double fn_adam_d(Py_ssize_t n, double *p, const double *g, double *m, double *v,
                     double lr, double b1, double b2, double eps, double l2)
    double fn_sgd_f(Py_ssize_t n, float *p, const float *g, float *vel, float lr, float mu,
                    int nesterov, float l2)
    double fn_sgd_d(Py_ssize_t n, double *p, const double *g, double *vel, double lr,
                    double mu, int nesterov, double l2)

cdef enum:
    CHUNK = 16384      # elements per parallel task of the 1-D loops

# activation codes, shared with Python (fastnut/nn/_activations.py reads this
# enum); the fused loops of _dense_math.h test the same values
cpdef enum Activation:
    IDENTITY = 0
    RELU = 1
    TANH = 2
    LOGISTIC = 3


def has_gemm_kernel():
    """Whether ``sgemm`` runs one of fastnut's GEMM kernels here (else BLAS)."""
    return fastnut_gemm_kernel() != 0


def gemm_kernel():
    """Which kernel ``sgemm`` runs here: ``"avx512"``, ``"avx2"`` (AVX2 + FMA)
    or ``"blas"`` (none: CPU without AVX2, or ``FASTNUT_DISABLE_AVX2=1``)."""
    return ("blas", "avx2", "avx512")[fastnut_gemm_kernel()]


def sgemm(const float[:, ::1] A,   # IN (M, K), or (K, M) when trans_a
          const float[:, ::1] B,   # IN (K, N), or (N, K) when trans_b
          float[:, ::1] C,         # OUT (M, N), overwritten
          bint trans_a, bint trans_b, int n_threads):
    """C = op(A) @ op(B) in float32, op a transpose when asked.

    fastnut's kernel (``_gemm.h``: AVX-512, or AVX2 + FMA, by CPU) for every
    shape, so that a row's result never depends on the batch it comes in or
    its position there (a single-sample prediction equals the same row
    predicted in a batch); BLAS on a CPU without AVX2 + FMA.  Column panels
    of C (at least two of 16 columns a thread), else blocks of 6 rows, are
    split over ``n_threads`` threads (the caller decides how many:
    ``THRESHOLDS`` and ``TUNED_THRESHOLDS["gemm"]`` in ``fastnut._threads``);
    the bits do not depend on it.
    """
    cdef Py_ssize_t M = C.shape[0], N = C.shape[1]
    cdef Py_ssize_t K = A.shape[0] if trans_a else A.shape[1]
    cdef Py_ssize_t a_rows = A.shape[1] if trans_a else A.shape[0]
    cdef Py_ssize_t b_rows = B.shape[1] if trans_b else B.shape[0]
    cdef Py_ssize_t b_cols = B.shape[0] if trans_b else B.shape[1]
    cdef Py_ssize_t a_row, a_col, b_row, b_col
    if a_rows != M or b_rows != K or b_cols != N:
        raise ValueError(
            f"sgemm: op(A) is ({a_rows}, {K}) and op(B) is ({b_rows}, {b_cols}); "
            f"their product does not fit C of shape ({M}, {N})"
        )
    if M == 0 or N == 0:
        return
    if K == 0:
        memset(&C[0, 0], 0, M * N * sizeof(float))
        return
    if fastnut_gemm_kernel() == 0:
        with nogil:
            gemm(trans_a, trans_b, <blas_int> M, <blas_int> N, <blas_int> K, 1,
                 &A[0, 0], <blas_int> A.shape[1], &B[0, 0], <blas_int> B.shape[1],
                 0, &C[0, 0], <blas_int> N)
        return
    # element (i, k) of op(A) is A[i * a_row + k * a_col]; likewise op(B)
    a_row = 1 if trans_a else A.shape[1]
    a_col = A.shape[1] if trans_a else 1
    b_row = 1 if trans_b else B.shape[1]
    b_col = B.shape[1] if trans_b else 1
    # split over threads by fastnut_sgemm_threads (_gemm.h): column panels or
    # row blocks, each element the same fixed-order sum on any thread count
    with nogil:
        fastnut_sgemm_threads(M, N, K, &A[0, 0], a_row, a_col, &B[0, 0], b_row, b_col,
                              &C[0, 0], N, 0, n_threads)


cdef enum:
    SYRK_PANEL = 32   # columns of the Gram matrix a task computes


def ssyrk(const float[:, ::1] A,   # IN (K, N)
          float[:, ::1] C,         # OUT (N, N), overwritten
          int n_threads):
    """C = Aᵀ A in float32 with fastnut's kernel, about half of ``sgemm``'s work.

    Only the upper triangle is multiplied, one task per panel of
    ``SYRK_PANEL`` columns of C (panel p: rows 0 .. its last column; the
    panels go to ``n_threads`` threads largest first), and the lower triangle
    is mirrored from it, so C is exactly symmetric.  Each element is the
    kernel's fixed-order sum: the upper triangle equals ``sgemm(A, A,
    trans_a=True)``'s bit for bit, whatever ``n_threads``.  Needs the GEMM
    kernel (``has_gemm_kernel()``); the caller takes NumPy without it.
    """
    cdef Py_ssize_t K = A.shape[0], N = A.shape[1]
    cdef Py_ssize_t n_panels = (N + SYRK_PANEL - 1) // SYRK_PANEL
    cdef Py_ssize_t scratch, p, t, j0, w, i, j
    cdef float *work
    if C.shape[0] != N or C.shape[1] != N:
        raise ValueError(f"ssyrk: A has {N} columns; C must be ({N}, {N}), got "
                         f"({C.shape[0]}, {C.shape[1]})")
    if fastnut_gemm_kernel() == 0:
        raise RuntimeError("ssyrk needs fastnut's GEMM kernel (AVX2 + FMA)")
    if N == 0:
        return
    if K == 0:
        memset(&C[0, 0], 0, N * N * sizeof(float))
        return
    n_threads = max(1, min(n_threads, n_panels))
    scratch = fastnut_sgemm_scratch(K)
    work = <float *> malloc(n_threads * scratch * sizeof(float))
    if work == NULL:
        raise MemoryError("ssyrk: cannot allocate the packing buffer")
    try:
        with nogil:
            # op(A)(i, k) = A[k, i]: a_row 1, a_col N; B is A's column panel
            for p in prange(n_panels, num_threads=n_threads, schedule="dynamic"):
                t = threadid()
                j0 = (n_panels - 1 - p) * SYRK_PANEL
                w = min(<Py_ssize_t> SYRK_PANEL, N - j0)
                fastnut_sgemm(j0 + w, w, K, &A[0, 0], 1, N, &A[0, 0] + j0, N, 1,
                              &C[0, j0], N, 0, work + t * scratch)
            for i in range(1, N):
                for j in range(i):
                    C[i, j] = C[j, i]
    finally:
        free(work)


cdef extern from *:
    void __builtin_prefetch(const void *addr, int rw, int locality) nogil


cdef enum:
    GATHER_AHEAD = 4   # rows prefetched ahead of the one being copied


def gather_rows(const floating[:, ::1] X,      # IN (n, d)
                const Py_ssize_t[::1] idx,     # IN (m,) row numbers in [0, n)
                floating[:, ::1] out):         # OUT (m, d)
    """out[r] = X[idx[r]]: a mini-batch gathered from a shuffled data set.

    With the data set in L3 or memory, each row is a cold stream that the
    hardware prefetcher picks up late; copying row r while row r + 4 is being
    prefetched keeps a few rows in flight (~1.7x np.take here).
    """
    cdef Py_ssize_t m = idx.shape[0], n = X.shape[0], d = X.shape[1], r, j, row
    cdef Py_ssize_t line = 64 // sizeof(floating)
    if out.shape[0] != m or out.shape[1] != d:
        raise ValueError(f"gather_rows: out has shape ({out.shape[0]}, {out.shape[1]}), "
                         f"expected ({m}, {d})")
    for r in range(m):
        if idx[r] < 0 or idx[r] >= n:
            raise IndexError(f"gather_rows: row {idx[r]} out of range for {n} rows")
    if m == 0 or d == 0:
        return
    with nogil:
        for r in range(-GATHER_AHEAD, m):
            if r + GATHER_AHEAD < m:
                row = idx[r + GATHER_AHEAD]
                for j in range((d + line - 1) // line):
                    __builtin_prefetch(&X[row, 0] + j * line, 0, 3)
            if r >= 0:
                memcpy(&out[r, 0], &X[idx[r], 0], d * sizeof(floating))


def softmax_cross_entropy(const floating[:, ::1] Z,   # IN (n, k) logits
                          const floating[:, ::1] Y,   # IN (n, k) targets (one-hot)
                          const floating[::1] sw,     # IN (n,) sample weights, or empty
                          double weight_sum,          # Σ sw (n without weights)
                          floating[:, ::1] P,         # OUT (n, k) softmax(Z)
                          floating[:, ::1] dZ):       # OUT (n, k) dL/dZ
    """Softmax, cross-entropy and its gradient in one pass over the batch.

    ``L = -Σ_i w_i Σ_k y_ik log(clip(P_ik, eps, 1 - eps)) / Σ w`` (eps the
    dtype's machine epsilon, as scikit-learn's MLP), ``dZ = (P - Y) w / Σ w``.
    Returns L.
    """
    cdef Py_ssize_t n = Z.shape[0], k = Z.shape[1], i, j
    cdef bint weighted = sw.shape[0] > 0
    cdef double total = 0.0, row_loss, w, scale = 1.0 / weight_sum
    cdef floating zmax, s, p, eps = 1.1920928955078125e-07 if floating is float else 2.220446049250313e-16
    if (Y.shape[0] != n or Y.shape[1] != k or P.shape[0] != n or P.shape[1] != k
            or dZ.shape[0] != n or dZ.shape[1] != k):
        raise ValueError(f"softmax_cross_entropy: Y, P and dZ must have Z's shape ({n}, {k})")
    if weighted and sw.shape[0] != n:
        raise ValueError(f"softmax_cross_entropy: {sw.shape[0]} sample weights for {n} rows")
    if k == 0:
        return 0.0
    with nogil:
        for i in range(n):
            zmax = Z[i, 0]
            for j in range(1, k):
                if Z[i, j] > zmax:
                    zmax = Z[i, j]
            s = 0
            for j in range(k):
                if floating is float:
                    p = expf(Z[i, j] - zmax)
                else:
                    p = exp(Z[i, j] - zmax)
                P[i, j] = p
                s = s + p
            s = 1 / s
            w = sw[i] if weighted else 1.0
            row_loss = 0.0
            for j in range(k):
                p = P[i, j] * s
                P[i, j] = p
                dZ[i, j] = <floating> ((p - Y[i, j]) * (w * scale))
                if Y[i, j] != 0:
                    p = min(max(p, eps), 1 - eps)
                    if floating is float:
                        row_loss = row_loss + Y[i, j] * logf(p)
                    else:
                        row_loss = row_loss + Y[i, j] * log(p)
            total = total + w * row_loss
    return -total * scale


def bias_act_forward(floating[:, ::1] Z,          # IN/OUT (n, m): pre-activation -> output
                     const floating[::1] bias,    # IN (m,) or empty for no bias
                     int act,
                     int n_threads):
    """Z[i, j] = act(Z[i, j] + bias[j]) in place."""
    cdef Py_ssize_t n = Z.shape[0], m = Z.shape[1], i, rows, start
    cdef Py_ssize_t n_blocks
    if n == 0 or m == 0:
        return
    cdef const floating *b = &bias[0] if bias.shape[0] > 0 else NULL
    rows = max(1, CHUNK // m)
    n_blocks = (n + rows - 1) // rows
    with nogil:
        for i in prange(n_blocks, num_threads=n_threads, schedule="static"):
            start = i * rows
            if floating is float:
                fn_bias_act_f(min(rows, n - start), m, &Z[start, 0], b, act)
            else:
                fn_bias_act_d(min(rows, n - start), m, &Z[start, 0], b, act)


def act_backward(floating[:, ::1] dY,         # IN/OUT (n, m): dL/dY -> dL/dZ
                 const floating[:, ::1] Y,    # IN (n, m): the activation's output
                 int act,
                 int n_threads):
    """dY *= act'(Z), the derivative written through Y = act(Z)."""
    cdef Py_ssize_t size = dY.shape[0] * dY.shape[1], i, start, n_blocks
    if act == 0 or size == 0:
        return
    n_blocks = (size + CHUNK - 1) // CHUNK
    with nogil:
        for i in prange(n_blocks, num_threads=n_threads, schedule="static"):
            start = i * CHUNK
            if floating is float:
                fn_act_backward_f(min(CHUNK, size - start), &dY[0, 0] + start,
                                  &Y[0, 0] + start, act)
            else:
                fn_act_backward_d(min(CHUNK, size - start), &dY[0, 0] + start,
                                  &Y[0, 0] + start, act)


def act_backward_bias(floating[:, ::1] dY,         # IN/OUT (n, m): dL/dY -> dL/dZ
                      const floating[:, ::1] Y,    # IN (n, m): the activation's output
                      int act,
                      floating[::1] bias_grad):    # OUT (m,): sum of dL/dZ over rows
    """``act_backward`` and the bias gradient (column sums) in one pass over a
    mini-batch (one thread: a batch-sized array is a few microseconds)."""
    cdef Py_ssize_t n = dY.shape[0], m = dY.shape[1]
    if Y.shape[0] != n or Y.shape[1] != m or bias_grad.shape[0] != m:
        raise ValueError(f"act_backward_bias: dY is ({n}, {m}), Y ({Y.shape[0]}, "
                         f"{Y.shape[1]}), bias_grad ({bias_grad.shape[0]},)")
    if m == 0:
        return
    if n == 0:
        memset(&bias_grad[0], 0, m * sizeof(floating))
        return
    with nogil:
        if floating is float:
            fn_act_backward_sum_f(n, m, &dY[0, 0], &Y[0, 0], act, &bias_grad[0])
        else:
            fn_act_backward_sum_d(n, m, &dY[0, 0], &Y[0, 0], act, &bias_grad[0])


def adam_update(floating[::1] param,       # IN/OUT
                const floating[::1] grad,  # IN
                floating[::1] m,           # IN/OUT first moment
                floating[::1] v,           # IN/OUT second moment
                double lr_t, double beta_1, double beta_2, double epsilon,
                double l2, int n_threads):
    """One Adam step with the bias correction folded into ``lr_t``:

    g += l2 p;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g²;  p -= lr_t m / (sqrt(v) + eps)

    Returns Σ p² over the parameters before the step (the L2 penalty's value),
    summed per block of ``CHUNK`` elements, then in block order: neither the
    parameters nor this value depend on ``n_threads``.
    """
    cdef Py_ssize_t size = param.shape[0], i, start, n_blocks
    cdef double *part
    if size == 0:
        return 0.0
    n_blocks = (size + CHUNK - 1) // CHUNK
    part = _block_sums(n_blocks)
    with nogil:
        for i in prange(n_blocks, num_threads=n_threads, schedule="static"):
            start = i * CHUNK
            if floating is float:
                part[i] = fn_adam_f(min(CHUNK, size - start), &param[start], &grad[start],
                                    &m[start], &v[start], lr_t, beta_1, beta_2, epsilon, l2)
            else:
                part[i] = fn_adam_d(min(CHUNK, size - start), &param[start], &grad[start],
                                    &m[start], &v[start], lr_t, beta_1, beta_2, epsilon, l2)
    return _sum_blocks(part, n_blocks)


def sgd_update(floating[::1] param,       # IN/OUT
               const floating[::1] grad,  # IN
               floating[::1] velocity,    # IN/OUT
               double lr, double momentum, bint nesterov,
               double l2, int n_threads):
    """SGD with (Nesterov) momentum, the L2 term added on the fly:

    g += l2 p;  v = mu v - lr g;  p += v   (plain)   or   p += mu v - lr g   (Nesterov)

    Returns Σ p² over the parameters before the step (the L2 penalty's value),
    summed as in ``adam_update``: the same on any ``n_threads``.
    """
    cdef Py_ssize_t size = param.shape[0], i, start, n_blocks
    cdef double *part
    if size == 0:
        return 0.0
    n_blocks = (size + CHUNK - 1) // CHUNK
    part = _block_sums(n_blocks)
    with nogil:
        for i in prange(n_blocks, num_threads=n_threads, schedule="static"):
            start = i * CHUNK
            if floating is float:
                part[i] = fn_sgd_f(min(CHUNK, size - start), &param[start], &grad[start],
                                   &velocity[start], lr, momentum, nesterov, l2)
            else:
                part[i] = fn_sgd_d(min(CHUNK, size - start), &param[start], &grad[start],
                                   &velocity[start], lr, momentum, nesterov, l2)
    return _sum_blocks(part, n_blocks)


cdef double *_block_sums(Py_ssize_t n_blocks) except NULL:
    """Scratch for one partial sum per block (freed by ``_sum_blocks``)."""
    cdef double *part = <double *> malloc(n_blocks * sizeof(double))
    if part == NULL:
        raise MemoryError("cannot allocate the update's partial sums")
    return part


cdef double _sum_blocks(double *part, Py_ssize_t n_blocks) noexcept:
    """The partial sums added in block order; frees them."""
    cdef double ss = 0.0
    cdef Py_ssize_t i
    for i in range(n_blocks):
        ss += part[i]
    free(part)
    return ss


def axpy_inplace(floating[::1] y,          # IN/OUT
                 const floating[::1] x,    # IN
                 double alpha):
    """y += alpha * x through BLAS (no temporary: adds the L2 term to a gradient)."""
    cdef blas_int n = <blas_int> y.shape[0]
    if n == 0:
        return
    with nogil:
        axpy(n, <floating> alpha, &x[0], 1, &y[0], 1)
