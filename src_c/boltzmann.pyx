"""Epoch kernels of the deep Boltzmann family: DBN up-down fine-tuning and
deep Boltzmann machine training, mean-field inference and Gibbs sweeps.

Each ``def`` runs a whole epoch (or a whole inference) in one ``nogil`` call,
as ``rbm.fit_epoch`` does for one RBM: the drivers in ``fastnut/_boltzmann.py``
check every array and call these once per epoch.  Layers are passed as Python
lists of C-contiguous arrays (weights ``(n_in, n_out)``, as
``fastnut.nn.Dense``); the kernel reads their data pointers once, before it
releases the GIL, and updates them in place.

Products: float32 ones with a unit scale go through fastnut's GEMM
(``_gemm.h``, the kernel ``fastnut.nn._linalg.matmul`` uses, so a row's result
does not depend on its batch and equals the NumPy path's); the scaled
gradient products (``W += lr / B * A^T D``) and float64 go to BLAS
(``_blas.pxd``).  The caller limits BLAS to one thread.

Randomness: the counter-based generator of ``_random.pxd``, as in ``rbm.pyx``:
a sampling step of ``n`` rows uses the streams ``stream .. stream + n - 1``
(row ``i`` the stream ``stream + i``, column ``j`` the counter ``j``) and
advances ``stream`` by ``n``; each ``def`` returns the advanced stream.  The
steps draw in the order of the NumPy twins (``tests/_reference/boltzmann.py``),
so a seed gives the same samples whatever the thread count.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport exp
from libc.stdint cimport uint64_t
from libc.stdlib cimport malloc, calloc, free
from libc.string cimport memcpy, memset

from _blas cimport gemm, blas_int
from _random cimport stream_key, uniform

cdef extern from "_gemm.h" nogil:
    int fastnut_gemm_kernel()
    Py_ssize_t fastnut_sgemm_scratch(Py_ssize_t K)
    void fastnut_sgemm(Py_ssize_t M, Py_ssize_t N, Py_ssize_t K,
                       const float *A, Py_ssize_t a_row, Py_ssize_t a_col,
                       const float *B, Py_ssize_t b_row, Py_ssize_t b_col,
                       float *C, Py_ssize_t ldc, int beta, float *work)

# exp / sigmoid shared by every kernel (clamp and accuracy explained there)
cdef extern from "_math.h" nogil:
    double fastnut_sigmoid(double x)
    void fastnut_bias_sigmoid_f(float *a, const float *b, Py_ssize_t n)

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    #if defined(__GNUC__) && !defined(__clang__)
    #define FASTNUT_BZ_VECTOR_FN __attribute__((optimize("no-trapping-math")))
    #else
    #define FASTNUT_BZ_VECTOR_FN
    #endif
    #if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    #define FASTNUT_BZ_AVX2 __attribute__((target("avx2")))
    #else
    #define FASTNUT_BZ_AVX2
    #endif
    /* 1 if each of x[0:n] is 0 or 1 */
    FASTNUT_BZ_VECTOR_FN FASTNUT_BZ_AVX2 static int fastnut_bz_binary(const float *x,
                                                                     Py_ssize_t n) {
        Py_ssize_t i; int bad = 0;
        for (i = 0; i < n; i++) bad |= (x[i] != 0.0f) & (x[i] != 1.0f);
        return !bad;
    }
    #include <immintrin.h>
    /* sum of the rows W[idx[s]] for the s in [*s, ...) with idx[s] < kend, 32 columns at
       j (4 vectors), into a0..a3; returns whether there was one */
    #define FASTNUT_BZ_BLOCK_SUM(W, ldw, j, idx, s, nsel, kend, a0, a1, a2, a3, any)     \
        any = 0;                                                                        \
        if (s < nsel && idx[s] < kend) {                                                \
            const float *w_ = W + (ptrdiff_t) idx[s] * ldw + j;                          \
            a0 = _mm256_loadu_ps(w_); a1 = _mm256_loadu_ps(w_ + 8);                      \
            a2 = _mm256_loadu_ps(w_ + 16); a3 = _mm256_loadu_ps(w_ + 24);                \
            any = 1; s++;                                                               \
            while (s < nsel && idx[s] < kend) {                                         \
                w_ = W + (ptrdiff_t) idx[s] * ldw + j;                                   \
                a0 = _mm256_add_ps(a0, _mm256_loadu_ps(w_));                            \
                a1 = _mm256_add_ps(a1, _mm256_loadu_ps(w_ + 8));                        \
                a2 = _mm256_add_ps(a2, _mm256_loadu_ps(w_ + 16));                       \
                a3 = _mm256_add_ps(a3, _mm256_loadu_ps(w_ + 24));                       \
                s++;                                                                    \
            }                                                                           \
        }
    /* c[j:j+32] (+)= the blocked sum of the rows W[idx[0:nsel]] (sorted; blocks of
       FASTNUT_KC of the depth index, each summed from zero, added in order):
       fastnut_sgemm's order, the 32 columns in registers */
    FASTNUT_BZ_AVX2 static inline void fastnut_bz_panel_sum(Py_ssize_t j, Py_ssize_t K,
            const int *idx, Py_ssize_t nsel, const float *W, Py_ssize_t ldw, float *c,
            int beta) {
        Py_ssize_t s = 0, k0, kend;
        int any, have = beta;
        __m256 a0, a1, a2, a3, t0, t1, t2, t3;
        if (beta) {
            t0 = _mm256_loadu_ps(c + j); t1 = _mm256_loadu_ps(c + j + 8);
            t2 = _mm256_loadu_ps(c + j + 16); t3 = _mm256_loadu_ps(c + j + 24);
        } else {
            t0 = t1 = t2 = t3 = _mm256_setzero_ps();
        }
        for (k0 = 0; k0 < K && s < nsel; k0 += FASTNUT_KC) {
            kend = k0 + FASTNUT_KC;
            FASTNUT_BZ_BLOCK_SUM(W, ldw, j, idx, s, nsel, kend, a0, a1, a2, a3, any)
            if (!any) continue;
            if (have) {
                t0 = _mm256_add_ps(t0, a0); t1 = _mm256_add_ps(t1, a1);
                t2 = _mm256_add_ps(t2, a2); t3 = _mm256_add_ps(t3, a3);
            } else {
                t0 = a0; t1 = a1; t2 = a2; t3 = a3; have = 1;
            }
        }
        _mm256_storeu_ps(c + j, t0); _mm256_storeu_ps(c + j + 8, t1);
        _mm256_storeu_ps(c + j + 16, t2); _mm256_storeu_ps(c + j + 24, t3);
    }
    /* the same for 64 columns (8 independent add chains: the adds' latency is hidden) */
    FASTNUT_BZ_AVX2 static inline void fastnut_bz_panel64_sum(Py_ssize_t j, Py_ssize_t K,
            const int *idx, Py_ssize_t nsel, const float *W, Py_ssize_t ldw, float *c,
            int beta) {
        Py_ssize_t s = 0, k0, kend, v;
        int have = beta;
        __m256 a[8], t[8];
        for (v = 0; v < 8; v++)
            t[v] = beta ? _mm256_loadu_ps(c + j + 8 * v) : _mm256_setzero_ps();
        for (k0 = 0; k0 < K && s < nsel; k0 += FASTNUT_KC) {
            const float *w_;
            kend = k0 + FASTNUT_KC;
            if (!(idx[s] < kend)) continue;
            w_ = W + (ptrdiff_t) idx[s] * ldw + j;
            for (v = 0; v < 8; v++) a[v] = _mm256_loadu_ps(w_ + 8 * v);
            s++;
            while (s < nsel && idx[s] < kend) {
                w_ = W + (ptrdiff_t) idx[s] * ldw + j;
                for (v = 0; v < 8; v++) a[v] = _mm256_add_ps(a[v], _mm256_loadu_ps(w_ + 8 * v));
                s++;
            }
            if (have) for (v = 0; v < 8; v++) t[v] = _mm256_add_ps(t[v], a[v]);
            else for (v = 0; v < 8; v++) t[v] = a[v];
            have = 1;
        }
        for (v = 0; v < 8; v++) _mm256_storeu_ps(c + j + 8 * v, t[v]);
    }
    /* the same for one column j */
    static inline void fastnut_bz_column_sum(Py_ssize_t j, Py_ssize_t K, const int *idx,
            Py_ssize_t nsel, const float *W, Py_ssize_t ldw, float *c, int beta) {
        Py_ssize_t s = 0, k0, kend;
        float t = beta ? c[j] : 0.0f, a;
        int h = beta;
        for (k0 = 0; k0 < K && s < nsel; k0 += FASTNUT_KC) {
            kend = k0 + FASTNUT_KC;
            if (!(idx[s] < kend)) continue;
            a = W[(ptrdiff_t) idx[s] * ldw + j]; s++;
            while (s < nsel && idx[s] < kend) { a += W[(ptrdiff_t) idx[s] * ldw + j]; s++; }
            t = h ? t + a : a; h = 1;
        }
        c[j] = t;
    }
    /* C (M x N) = X W (+ C when beta) for X (M x K, row stride ldx) of zeros and ones and
       W (K x N, row stride ldw): per row of C, the rows of W where x is 1, added in
       fastnut_sgemm's order, so the result is fastnut_sgemm's to the bit (x w is w or 0
       exactly) at the cost of the ones only.  Panels of 32 columns outside, rows inside,
       so a panel of W stays in cache for every row.  idx: M (K + 1) ints. */
    /* the ones of each row of X (M x K): row i's count at idx[i (K + 1)], their columns
       after it; returns the total */
    static Py_ssize_t fastnut_bz_index(Py_ssize_t M, Py_ssize_t K, const float *X,
                                       Py_ssize_t ldx, int *idx) {
        Py_ssize_t i, k, nsel, total = 0;
        int *ix;
        for (i = 0; i < M; i++) {
            const float *x = X + i * ldx;
            ix = idx + i * (K + 1) + 1;
            nsel = 0;
            for (k = 0; k < K; k++) {
                ix[nsel] = (int) k;
                nsel += x[k] != 0.0f;
            }
            ix[-1] = (int) nsel;
            total += nsel;
        }
        return total;
    }
    /* fastnut_bz_binary_mm with idx filled by fastnut_bz_index */
    FASTNUT_BZ_AVX2 static void fastnut_bz_binary_mm(Py_ssize_t M, Py_ssize_t N, Py_ssize_t K,
            const float *X, Py_ssize_t ldx, const float *W, Py_ssize_t ldw,
            float *C, Py_ssize_t ldc, int beta, const int *idx) {
        Py_ssize_t i, j;
        const int *ix;
        (void) X; (void) ldx;
        for (j = 0; j + 64 <= N; j += 64)
            for (i = 0; i < M; i++) {
                ix = idx + i * (K + 1) + 1;
                fastnut_bz_panel64_sum(j, K, ix, ix[-1], W, ldw, C + i * ldc, beta);
            }
        for (; j + 32 <= N; j += 32)
            for (i = 0; i < M; i++) {
                ix = idx + i * (K + 1) + 1;
                fastnut_bz_panel_sum(j, K, ix, ix[-1], W, ldw, C + i * ldc, beta);
            }
        for (; j < N; j++)
            for (i = 0; i < M; i++) {
                ix = idx + i * (K + 1) + 1;
                fastnut_bz_column_sum(j, K, ix, ix[-1], W, ldw, C + i * ldc, beta);
            }
    }
    /* C (Ka x N) += A^T D for A (R x Ka, row stride lda) of zeros and ones and D (R x N,
       row stride ldd): row a of C gets the rows of D where column a of A is 1, summed in
       blocks of FASTNUT_KC rows from zero and added to C block by block (fastnut_sgemm's
       order for C += op(A) D).  idx: R ints. */
    FASTNUT_BZ_AVX2 static void fastnut_bz_binary_tmm(Py_ssize_t Ka, Py_ssize_t N,
            Py_ssize_t R, const float *A, Py_ssize_t lda, const float *D, Py_ssize_t ldd,
            float *C, Py_ssize_t ldc, int *idx) {
        Py_ssize_t a, r, nsel;
        for (a = 0; a < Ka; a++) {
            nsel = 0;
            for (r = 0; r < R; r++) {
                idx[nsel] = (int) r;
                nsel += A[r * lda + a] != 0.0f;
            }
            if (nsel) {
                Py_ssize_t j;
                for (j = 0; j + 64 <= N; j += 64)
                    fastnut_bz_panel64_sum(j, R, idx, nsel, D, ldd, C + a * ldc, 1);
                for (; j + 32 <= N; j += 32)
                    fastnut_bz_panel_sum(j, R, idx, nsel, D, ldd, C + a * ldc, 1);
                for (; j < N; j++)
                    fastnut_bz_column_sum(j, R, idx, nsel, D, ldd, C + a * ldc, 1);
            }
        }
    }
    """
    int fastnut_bz_binary(const float *x, Py_ssize_t n) noexcept nogil
    void fastnut_bz_binary_mm(Py_ssize_t M, Py_ssize_t N, Py_ssize_t K,
                              const float *X, Py_ssize_t ldx, const float *W, Py_ssize_t ldw,
                              float *C, Py_ssize_t ldc, int beta, const int *idx) noexcept nogil
    Py_ssize_t fastnut_bz_index(Py_ssize_t M, Py_ssize_t K, const float *X, Py_ssize_t ldx,
                                int *idx) noexcept nogil
    void fastnut_bz_binary_tmm(Py_ssize_t Ka, Py_ssize_t N, Py_ssize_t R,
                               const float *A, Py_ssize_t lda, const float *D, Py_ssize_t ldd,
                               float *C, Py_ssize_t ldc, int *idx) noexcept nogil


# -- helpers ----------------------------------------------------------------------
cdef inline void _mm(bint ta, bint tb, Py_ssize_t M, Py_ssize_t N, Py_ssize_t K,
                     floating alpha, const floating *A, Py_ssize_t lda,
                     const floating *B, Py_ssize_t ldb, floating beta,
                     floating *C, Py_ssize_t ldc, float *work) noexcept nogil:
    """C (M x N, row-major) = alpha op(A) op(B) + beta C; lda/ldb/ldc row strides as stored.

    float32 with alpha 1 and beta 0 or 1 runs fastnut's GEMM when ``work`` is
    given (the engine's ``matmul``); everything else runs BLAS.
    """
    if M == 0 or N == 0:
        return
    if floating is float:
        if work != NULL and alpha == 1 and (beta == 0 or beta == 1) and K > 0:
            fastnut_sgemm(M, N, K, A, 1 if ta else lda, lda if ta else 1,
                          B, 1 if tb else ldb, ldb if tb else 1, C, ldc, beta != 0, work)
            return
    gemm(ta, tb, <blas_int> M, <blas_int> N, <blas_int> K, alpha, A, <blas_int> lda,
         B, <blas_int> ldb, beta, C, <blas_int> ldc)


cdef inline int *_blk(float *work) noexcept nogil:
    """The part of the GEMM scratch the binary products keep their row indices in."""
    return <int *> (work + fastnut_sgemm_scratch(0))


cdef inline bint _is_binary(const floating *x, Py_ssize_t n, float *work) noexcept nogil:
    """Whether x[0:n] is all zeros and ones (float32 with fastnut's GEMM only: the
    binary products are that GEMM's numbers)."""
    if floating is float:
        return work != NULL and fastnut_bz_binary(x, n)
    return False


cdef inline void _mm_bin(bint binary, Py_ssize_t M, Py_ssize_t N, Py_ssize_t K,
                         const floating *A, Py_ssize_t lda, const floating *B, Py_ssize_t ldb,
                         floating beta, floating *C, Py_ssize_t ldc, float *work) noexcept nogil:
    """C = A B + beta C; A of zeros and ones when ``binary``.

    Binary and sparse enough (float32), the product adds the rows of B its
    ones select (``fastnut_bz_binary_mm``): the same numbers as fastnut's GEMM,
    so the choice never shows in the results.  Sparse enough: up to 50% ones
    for up to 16 rows, 25% above (measured on 784 x 256 weights: 1.5-1.7x at 10
    rows and 25-50%, 1.15x at 100 rows and 25%; fastnut's GEMM reuses each
    weight for several rows, the row sums cannot).
    """
    cdef Py_ssize_t ones
    if floating is float:
        if binary and work != NULL and (beta == 0 or beta == 1) and M > 0 and K > 0:
            ones = fastnut_bz_index(M, K, A, lda, _blk(work))
            if ones * (4 if M > 16 else 2) <= M * K:
                fastnut_bz_binary_mm(M, N, K, A, lda, B, ldb, C, ldc, beta != 0, _blk(work))
                return
    _mm(False, False, M, N, K, <floating> 1, A, lda, B, ldb, beta, C, ldc, work)


cdef inline void _tmm_add(bint binary, Py_ssize_t M, Py_ssize_t N, Py_ssize_t K,
                          const floating *A, Py_ssize_t lda, const floating *D, Py_ssize_t ldd,
                          floating *C, Py_ssize_t ldc, float *work) noexcept nogil:
    """C (M x N) += A^T D with A (K x M) (of zeros and ones when ``binary``), D (K x N).

    Binary and sparse enough (float32: under 40% ones for up to 16 rows of A,
    25% above), row a of C adds the rows of D that column a of A selects
    (``fastnut_bz_binary_tmm``, fastnut's GEMM's numbers).
    """
    cdef Py_ssize_t i, j, ones = 0
    if floating is float:
        if binary and work != NULL and M > 0 and K > 0:
            for i in range(K):
                for j in range(M):
                    ones += A[i * lda + j] != 0
            if ones * (4 if K > 16 else 5) <= M * K * (1 if K > 16 else 2):
                fastnut_bz_binary_tmm(M, N, K, A, lda, D, ldd, C, ldc, _blk(work))
                return
    _mm(True, False, M, N, K, <floating> 1, A, lda, D, ldd, <floating> 1, C, ldc, work)


cdef inline void _scale(floating *A, Py_ssize_t n, floating alpha) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(n):
        A[j] *= alpha


cdef void _transpose(const floating *A, Py_ssize_t rows, Py_ssize_t cols,
                     floating *T) noexcept nogil:
    """T (cols x rows) = A^T (A rows x cols), in tiles."""
    cdef Py_ssize_t i0, j0, i, j, i1, j1
    for i0 in range(0, rows, 32):
        i1 = min(i0 + 32, rows)
        for j0 in range(0, cols, 32):
            j1 = min(j0 + 32, cols)
            for i in range(i0, i1):
                for j in range(j0, j1):
                    T[j * rows + i] = A[i * cols + j]


cdef inline void _bernoulli_row(const floating *p, floating *s, Py_ssize_t n,
                                uint64_t skey) noexcept nogil:
    """s[j] = (uniform(skey, j) < p[j]) for one row (rbm.pyx's draws, bit for bit): one
    64-bit draw per sample at either precision, compared in the working dtype."""
    cdef Py_ssize_t j
    cdef floating dummy = 0
    for j in range(n):
        s[j] = 1.0 if uniform(skey, j, dummy) < p[j] else 0.0


cdef inline void _sigmoid_row(floating *a, const floating *b, floating *s, Py_ssize_t n_cols,
                              bint do_sample, uint64_t skey) noexcept nogil:
    cdef Py_ssize_t j
    if floating is float:
        fastnut_bias_sigmoid_f(a, b, n_cols)
    else:
        for j in range(n_cols):
            a[j] = fastnut_sigmoid(a[j] + b[j])
    if do_sample:
        _bernoulli_row(a, s, n_cols, skey)


cdef void _sigmoid_layer(floating *A, const floating *b, floating *S,
                         Py_ssize_t n_rows, Py_ssize_t n_cols, bint do_sample,
                         uint64_t key, uint64_t stream, int n_threads) noexcept nogil:
    """A <- sigmoid(A + b); if do_sample, S <- (uniform < A) (S may be A)."""
    cdef Py_ssize_t i
    if n_rows == 0 or n_cols == 0:
        return
    if n_threads <= 1:      # no parallel region for the training batches
        for i in range(n_rows):
            _sigmoid_row(A + i * n_cols, b, S + i * n_cols, n_cols, do_sample,
                         stream_key(key, stream + i))
        return
    for i in prange(n_rows, schedule="static", num_threads=n_threads):
        _sigmoid_row(A + i * n_cols, b, S + i * n_cols, n_cols, do_sample,
                     stream_key(key, stream + i))


cdef inline void _add_column_sums(const floating *A, Py_ssize_t n_rows, Py_ssize_t n_cols,
                                  floating alpha, floating *out) noexcept nogil:
    """out += alpha * A.sum(axis=0)."""
    cdef Py_ssize_t i, j
    cdef const floating *a
    for i in range(n_rows):
        a = A + i * n_cols
        for j in range(n_cols):
            out[j] += alpha * a[j]


cdef inline void _sub_from(const floating *A, floating *D, Py_ssize_t n) noexcept nogil:
    """D <- A - D."""
    cdef Py_ssize_t j
    for j in range(n):
        D[j] = A[j] - D[j]


cdef inline void _add_into(floating *A, const floating *B, Py_ssize_t n) noexcept nogil:
    """A += B."""
    cdef Py_ssize_t j
    for j in range(n):
        A[j] += B[j]


cdef inline Py_ssize_t _max_batch(const Py_ssize_t[::1] starts) noexcept nogil:
    cdef Py_ssize_t b, m = 0
    for b in range(starts.shape[0] - 1):
        if starts[b + 1] - starts[b] > m:
            m = starts[b + 1] - starts[b]
    return m


cdef float *_gemm_work(Py_ssize_t n_index, bint is_float) except? NULL:
    """Scratch of fastnut's GEMM and of the binary products (``n_index``: the row
    indices they keep, ``rows (depth + 1)``); NULL: use BLAS."""
    cdef float *w
    if not is_float or fastnut_gemm_kernel() == 0:
        return NULL
    w = <float *> malloc((fastnut_sgemm_scratch(0) + n_index) * sizeof(float))
    if w == NULL:
        raise MemoryError("boltzmann: cannot allocate the GEMM scratch")
    return w


# -- deep Boltzmann machine: the shared steps ----------------------------------------
cdef void _dbm_input(floating **x, Py_ssize_t l, Py_ssize_t L, const Py_ssize_t *n,
                     floating **W, Py_ssize_t rows, floating *A, floating *A2,
                     float *work, bint binary) noexcept nogil:
    """A <- the weight input of layer l from its neighbours' states x[l - 1], x[l + 1].

    ``x[1] W[0]^T`` for the visible layer; ``x[l-1] W[l-1]`` plus, below the
    top, ``x[l+1] W[l]^T`` (computed apart and added, as NumPy's ``A += B``).
    """
    if l == 0:
        _mm(False, True, rows, n[0], n[1], <floating> 1, x[1], n[1], W[0], n[1],
            <floating> 0, A, n[0], work)
        return
    _mm_bin(binary, rows, n[l], n[l - 1], x[l - 1], n[l - 1], W[l - 1], n[l],
            <floating> 0, A, n[l], work)
    if l < L:
        _mm(False, True, rows, n[l], n[l + 1], <floating> 1, x[l + 1], n[l + 1], W[l], n[l + 1],
            <floating> 0, A2, n[l], work)
        _add_into(A, A2, rows * n[l])


cdef void _dbm_mean_field(floating **mu, Py_ssize_t rows, Py_ssize_t L, const Py_ssize_t *n,
                          floating **W, floating **b, int n_iter, floating *A, floating *A2,
                          float *work, int n_threads) noexcept nogil:
    """mu[1..L] <- the mean-field posteriors of the hidden layers given mu[0] (rows x n[0]).

    Starts from a bottom-up pass with doubled weights below the top layer
    (standing in for the missing top-down input), then ``n_iter`` sweeps
    ``mu_l <- sigmoid(mu_{l-1} W_l + mu_{l+1} W_{l+1}^T + b_l)``, bottom to top.
    The data's input to the first layer, ``mu_0 W_1``, does not change: it is
    computed once (in A) and reused by every sweep, the same numbers as
    recomputing it.
    """
    cdef Py_ssize_t l, j, m
    cdef int it
    cdef floating *a
    _mm_bin(_is_binary(mu[0], rows * n[0], work), rows, n[1], n[0], mu[0], n[0], W[0], n[1],
            <floating> 0, A, n[1], work)
    for l in range(1, L + 1):
        if l == 1:
            memcpy(mu[1], A, rows * n[1] * sizeof(floating))
        else:
            _mm(False, False, rows, n[l], n[l - 1], <floating> 1, mu[l - 1], n[l - 1],
                W[l - 1], n[l], <floating> 0, mu[l], n[l], work)
        if l < L:
            a = mu[l]
            m = rows * n[l]
            for j in range(m):
                a[j] = a[j] + a[j]       # 2 x: exact, the product with 2 W
        _sigmoid_layer(mu[l], b[l], mu[l], rows, n[l], False, 0, 0, n_threads)
    for it in range(n_iter):
        for l in range(1, L + 1):
            if l == 1:
                memcpy(mu[1], A, rows * n[1] * sizeof(floating))
                if L > 1:
                    _mm(False, True, rows, n[1], n[2], <floating> 1, mu[2], n[2], W[1], n[2],
                        <floating> 0, A2, n[1], work)
                    _add_into(mu[1], A2, rows * n[1])
            else:
                _dbm_input(mu, l, L, n, W, rows, mu[l], A2, work, False)   # reads mu[l -+ 1]
            _sigmoid_layer(mu[l], b[l], mu[l], rows, n[l], False, 0, 0, n_threads)


cdef uint64_t _dbm_gibbs_sweep(floating **x, Py_ssize_t rows, Py_ssize_t L,
                               const Py_ssize_t *n, floating **W, floating **b,
                               floating *A, floating *A2, float *work,
                               uint64_t key, uint64_t stream, int n_threads) noexcept nogil:
    """One sweep of the chains x[0..L] (rows each): odd layers given even ones, then even."""
    cdef Py_ssize_t parity, l
    for parity in range(1, -1, -1):
        l = parity
        while l <= L:
            _dbm_input(x, l, L, n, W, rows, A, A2, work, True)   # chains are samples
            _sigmoid_layer(A, b[l], x[l], rows, n[l], True, key, stream, n_threads)
            stream += rows
            l += 2
    return stream


cdef class _Layers:
    """Data pointers of a list of C-contiguous arrays (the GIL-free view of a layer list)."""
    cdef void **ptr
    cdef Py_ssize_t n

    def __cinit__(self):
        self.ptr = NULL
        self.n = 0

    def __dealloc__(self):
        free(self.ptr)


cdef _Layers _layers(list arrays, floating dummy, bint writable, str name):
    """Pointers to the arrays of ``arrays`` (C-contiguous, ``dummy``'s dtype; read-only
    ones accepted unless ``writable``).  The list keeps the arrays alive."""
    cdef _Layers out = _Layers()
    cdef floating[:, ::1] w2
    cdef floating[::1] w1
    cdef const floating[:, ::1] r2
    cdef const floating[::1] r1
    cdef Py_ssize_t i
    out.n = len(arrays)
    out.ptr = <void **> calloc(max(out.n, 1), sizeof(void *))
    if out.ptr == NULL:
        raise MemoryError(f"boltzmann: cannot allocate the {name} table")
    for i in range(out.n):
        a = arrays[i]
        if a is None:       # filled in by the caller
            continue
        if a.ndim == 2 and writable:
            w2 = a
            out.ptr[i] = <void *> &w2[0, 0] if w2.shape[0] * w2.shape[1] else NULL
        elif a.ndim == 2:
            r2 = a
            out.ptr[i] = <void *> &r2[0, 0] if r2.shape[0] * r2.shape[1] else NULL
        elif writable:
            w1 = a
            out.ptr[i] = <void *> &w1[0] if w1.shape[0] else NULL
        else:
            r1 = a
            out.ptr[i] = <void *> &r1[0] if r1.shape[0] else NULL
    return out


# -- DBN up-down fine-tuning ------------------------------------------------------------
def up_down_epoch(const floating[:, ::1] X,       # IN  (n_samples, n_0) data in [0, 1]
                  const Py_ssize_t[::1] starts,   # IN  (n_batches + 1,) batch boundaries
                  list R,                         # INOUT L x (n_l, n_{l+1}) recognition weights
                  list r,                         # INOUT L x (n_{l+1},) recognition biases
                  list G,                         # INOUT L-1 x (n_l, n_{l+1}) generative weights
                  list g,                         # INOUT L x (n_l,) generative biases
                  double learning_rate, int k,
                  uint64_t key, uint64_t stream, int n_threads):
    """One epoch of up-down (contrastive wake-sleep) fine-tuning of a DBN.

    Per batch ``v`` of ``B`` rows, with samples ``~`` drawn in this order::

        wake_0 = v;  wake_{i+1} ~ sigmoid(wake_i R_i + r_i)          i < L-1
        pen = wake_{L-1};  top+ = sigmoid(pen R_top + r_top);  h ~ top+
        k times: neg ~ sigmoid(h R_top^T + g_top);  top- = sigmoid(neg R_top + r_top);  h ~ top-
        sleep_{L-1} = neg;  sleep_i ~ sigmoid(sleep_{i+1} G_i^T + g_i)   i = L-2 .. 0
        G_i += lr/B (wake_i - sigmoid(wake_{i+1} G_i^T + g_i))^T wake_{i+1}   (g_i: column sums)
        R_i += lr/B sleep_i^T (sleep_{i+1} - sigmoid(sleep_i R_i + r_i))      (r_i: column sums)
        R_top += lr/B (pen^T top+ - neg^T top-);  r_top, g_top likewise

    ``R_top = R[L-1]``, ``r_top = r[L-1]``, ``g_top = g[L-1]``.  Returns the
    advanced random stream.

    The states are samples (zeros and ones), so in float32 their products
    only add the weight rows their ones select (``fastnut_bz_binary_mm``: the
    numbers of fastnut's GEMM, at the cost of the ones); for that the
    generative weights are held transposed during the epoch.
    """
    cdef Py_ssize_t L = len(R), n_batches = starts.shape[0] - 1
    cdef Py_ssize_t Bmax = _max_batch(starts), B, bi, i, j, step, width = X.shape[1]
    cdef floating lrB, dummy = 0
    cdef bint vbin
    cdef _Layers Rl = _layers(R, dummy, True, "R"), rl = _layers(r, dummy, True, "r")
    cdef _Layers Gl = _layers(G, dummy, True, "G"), gl = _layers(g, dummy, True, "g")
    cdef floating **Rp = <floating **> Rl.ptr
    cdef floating **rp = <floating **> rl.ptr
    cdef floating **Gp = <floating **> Gl.ptr
    cdef floating **gp = <floating **> gl.ptr
    cdef Py_ssize_t *n = NULL
    cdef floating **wake = NULL
    cdef floating **sleep = NULL
    cdef floating **GT = NULL
    cdef floating *buf = NULL
    cdef floating *P
    cdef floating *topV
    cdef floating *topH
    cdef floating *hS
    cdef floating *neg
    cdef floating *topneg
    cdef Py_ssize_t total, off
    cdef float *work = NULL
    if L < 1 or len(r) != L or len(G) != L - 1 or len(g) != L:
        raise ValueError("up_down_epoch: R, r, g need L entries and G L - 1")
    if Bmax == 0:
        return stream
    try:
        n = <Py_ssize_t *> malloc((L + 1) * sizeof(Py_ssize_t))
        wake = <floating **> calloc(L, sizeof(floating *))
        sleep = <floating **> calloc(L, sizeof(floating *))
        GT = <floating **> calloc(L, sizeof(floating *))
        if n == NULL or wake == NULL or sleep == NULL or GT == NULL:
            raise MemoryError("up_down_epoch: cannot allocate the layer tables")
        n[0] = X.shape[1]
        for i in range(L):
            n[i + 1] = R[i].shape[1]
            if n[i + 1] > width:
                width = n[i + 1]
        # P; pen and neg stacked in topV, top+ and top- in topH; h; wake_1 .. wake_{L-2};
        # sleep_0 .. sleep_{L-2}; the transposed generative weights
        total = Bmax * width + 2 * Bmax * n[L - 1] + 2 * Bmax * n[L] + Bmax * n[L]
        for i in range(1, L - 1):
            total += Bmax * n[i]
        for i in range(L - 1):
            total += Bmax * n[i] + n[i] * n[i + 1]
        buf = <floating *> malloc(total * sizeof(floating))
        if buf == NULL:
            raise MemoryError("up_down_epoch: cannot allocate the scratch")
        P = buf
        topV = P + Bmax * width
        topH = topV + 2 * Bmax * n[L - 1]
        hS = topH + 2 * Bmax * n[L]
        off = Bmax * n[L]
        for i in range(1, L - 1):
            wake[i] = hS + off
            off += Bmax * n[i]
        for i in range(L - 1):
            sleep[i] = hS + off
            off += Bmax * n[i]
        for i in range(L - 1):
            GT[i] = hS + off
            off += n[i] * n[i + 1]
        work = _gemm_work(2 * Bmax * (width + 1), floating is float)
        with nogil:
            for i in range(L - 1):
                _transpose(Gp[i], n[i], n[i + 1], GT[i])      # GT_i (n_{i+1}, n_i)
            for bi in range(n_batches):
                B = starts[bi + 1] - starts[bi]
                if B <= 0:
                    continue
                lrB = <floating> (learning_rate / B)
                wake[0] = <floating *> &X[starts[bi], 0]
                vbin = _is_binary(wake[0], B * n[0], work)
                if L == 1:
                    memcpy(topV, wake[0], B * n[0] * sizeof(floating))
                wake[L - 1] = topV
                neg = topV + B * n[L - 1]
                topneg = topH + B * n[L]
                sleep[L - 1] = neg
                # up pass: sampled states with the recognition weights
                for i in range(L - 1):
                    _mm_bin(i > 0 or vbin, B, n[i + 1], n[i], wake[i], n[i], Rp[i], n[i + 1],
                            <floating> 0, P, n[i + 1], work)
                    _sigmoid_layer(P, rp[i], wake[i + 1], B, n[i + 1], True, key, stream,
                                   n_threads)
                    stream += B
                # top RBM: CD-k from the penultimate state
                _mm_bin(L > 1 or vbin, B, n[L], n[L - 1], topV, n[L - 1], Rp[L - 1], n[L],
                        <floating> 0, topH, n[L], work)
                _sigmoid_layer(topH, rp[L - 1], hS, B, n[L], True, key, stream, n_threads)
                stream += B
                for step in range(k):
                    _mm(False, True, B, n[L - 1], n[L], <floating> 1, hS, n[L], Rp[L - 1],
                        n[L], <floating> 0, P, n[L - 1], work)
                    _sigmoid_layer(P, gp[L - 1], neg, B, n[L - 1], True, key, stream,
                                   n_threads)
                    stream += B
                    _mm_bin(True, B, n[L], n[L - 1], neg, n[L - 1], Rp[L - 1], n[L],
                            <floating> 0, topneg, n[L], work)
                    _sigmoid_layer(topneg, rp[L - 1], hS, B, n[L], True, key, stream,
                                   n_threads)
                    stream += B
                # down pass: sampled states with the generative weights
                for i in range(L - 2, -1, -1):
                    _mm_bin(True, B, n[i], n[i + 1], sleep[i + 1], n[i + 1], GT[i], n[i],
                            <floating> 0, P, n[i], work)
                    _sigmoid_layer(P, gp[i], sleep[i], B, n[i], True, key, stream, n_threads)
                    stream += B
                for i in range(L - 1):
                    # generative weights learn to reconstruct the wake states:
                    # GT_i += wake_{i+1}^T (lr/B err)
                    _mm_bin(True, B, n[i], n[i + 1], wake[i + 1], n[i + 1], GT[i], n[i],
                            <floating> 0, P, n[i], work)
                    _sigmoid_layer(P, gp[i], P, B, n[i], False, 0, 0, n_threads)
                    _sub_from(wake[i], P, B * n[i])
                    _scale(P, B * n[i], lrB)
                    _add_column_sums(P, B, n[i], <floating> 1, gp[i])
                    _tmm_add(True, n[i + 1], n[i], B, wake[i + 1], n[i + 1], P, n[i],
                             GT[i], n[i], work)
                    # recognition weights learn to invert the generative model
                    _mm_bin(True, B, n[i + 1], n[i], sleep[i], n[i], Rp[i], n[i + 1],
                            <floating> 0, P, n[i + 1], work)
                    _sigmoid_layer(P, rp[i], P, B, n[i + 1], False, 0, 0, n_threads)
                    _sub_from(sleep[i + 1], P, B * n[i + 1])
                    _scale(P, B * n[i + 1], lrB)
                    _add_column_sums(P, B, n[i + 1], <floating> 1, rp[i])
                    _tmm_add(True, n[i], n[i + 1], B, sleep[i], n[i], P, n[i + 1],
                             Rp[i], n[i + 1], work)
                # top RBM: [pen; neg]^T [lr/B top+; -lr/B top-] in one product
                _add_column_sums(topV, B, n[L - 1], lrB, gp[L - 1])
                _add_column_sums(neg, B, n[L - 1], -lrB, gp[L - 1])
                _scale(topH, B * n[L], lrB)
                _scale(topneg, B * n[L], -lrB)
                _add_column_sums(topH, 2 * B, n[L], <floating> 1, rp[L - 1])
                _tmm_add(L > 1 or vbin, n[L - 1], n[L], 2 * B, topV, n[L - 1], topH, n[L],
                         Rp[L - 1], n[L], work)
            for i in range(L - 1):
                _transpose(GT[i], n[i + 1], n[i], Gp[i])
    finally:
        free(n)
        free(wake)
        free(sleep)
        free(GT)
        free(buf)
        free(work)
    return stream


# -- deep Boltzmann machine ------------------------------------------------------------
cdef Py_ssize_t *_dbm_widths(list W, Py_ssize_t n0, Py_ssize_t *width) except NULL:
    cdef Py_ssize_t L = len(W), l
    cdef Py_ssize_t *n = <Py_ssize_t *> malloc((L + 1) * sizeof(Py_ssize_t))
    if n == NULL:
        raise MemoryError("boltzmann: cannot allocate the layer table")
    n[0] = n0
    width[0] = n0
    for l in range(L):
        if W[l].shape[0] != n[l]:
            free(n)
            raise ValueError(f"boltzmann: weight {l} has {W[l].shape[0]} rows, "
                             f"the layer below has {n[l]} units")
        n[l + 1] = W[l].shape[1]
        if n[l + 1] > width[0]:
            width[0] = n[l + 1]
    return n


def dbm_mean_field(const floating[:, ::1] V,   # IN  (rows, n_0) visible data
                   list mu,                     # OUT L x (rows, n_l) hidden posteriors
                   list W,                      # IN  L x (n_l, n_{l+1}) weights
                   list b,                      # IN  L+1 x (n_l,) biases, visible first
                   int n_iter, int n_threads):
    """Mean-field posteriors ``mu`` of a DBM's hidden layers given V (overwritten).

    A bottom-up pass with doubled weights below the top layer (standing in for
    the missing top-down input), then ``n_iter`` sweeps
    ``mu_l <- sigmoid(mu_{l-1} W_l + mu_{l+1} W_{l+1}^T + b_l)``, bottom to top.
    """
    cdef Py_ssize_t L = len(W), rows = V.shape[0], width = 0
    cdef floating dummy = 0
    cdef _Layers Ml, Wl, bl
    cdef Py_ssize_t *n = NULL
    cdef floating *A = NULL
    cdef float *work = NULL
    if rows == 0:
        return
    if len(mu) != L or len(b) != L + 1:
        raise ValueError("dbm_mean_field: mu needs L entries, b L + 1")
    Ml = _layers([None] + mu, dummy, True, "mu")
    Wl = _layers(W, dummy, False, "W")
    bl = _layers(b, dummy, False, "b")
    Ml.ptr[0] = <void *> &V[0, 0]
    try:
        n = _dbm_widths(W, V.shape[1], &width)
        A = <floating *> malloc(2 * rows * width * sizeof(floating))
        if A == NULL:
            raise MemoryError("dbm_mean_field: cannot allocate the scratch")
        work = _gemm_work(rows * (width + 1), floating is float)
        with nogil:
            _dbm_mean_field(<floating **> Ml.ptr, rows, L, n, <floating **> Wl.ptr,
                            <floating **> bl.ptr, n_iter, A, A + rows * width, work, n_threads)
    finally:
        free(n)
        free(A)
        free(work)


def dbm_gibbs(floating[:, ::1] V,          # INOUT (n_chains, n_0) visible states
              list H,                       # INOUT L x (n_chains, n_l) hidden states
              list W,                       # IN    L x (n_l, n_{l+1})
              list b,                       # IN    L+1 x (n_l,) biases, visible first
              int n_sweeps, uint64_t key, uint64_t stream, int n_threads):
    """``n_sweeps`` Gibbs sweeps of the chains ``[V] + H``: odd layers given even ones,
    then even layers given odd ones, each layer sampled.  Returns the advanced stream."""
    cdef Py_ssize_t L = len(W), rows = V.shape[0], width = 0
    cdef int s
    cdef floating dummy = 0
    cdef _Layers Xl, Wl, bl
    cdef Py_ssize_t *n = NULL
    cdef floating *A = NULL
    cdef float *work = NULL
    if rows == 0:
        return stream
    if len(H) != L or len(b) != L + 1:
        raise ValueError("dbm_gibbs: H needs L entries, b L + 1")
    Xl = _layers([None] + H, dummy, True, "x")
    Wl = _layers(W, dummy, False, "W")
    bl = _layers(b, dummy, False, "b")
    Xl.ptr[0] = <void *> &V[0, 0]
    try:
        n = _dbm_widths(W, V.shape[1], &width)
        A = <floating *> malloc(2 * rows * width * sizeof(floating))
        if A == NULL:
            raise MemoryError("dbm_gibbs: cannot allocate the scratch")
        work = _gemm_work(rows * (width + 1), floating is float)
        with nogil:
            for s in range(n_sweeps):
                stream = _dbm_gibbs_sweep(<floating **> Xl.ptr, rows, L, n,
                                          <floating **> Wl.ptr, <floating **> bl.ptr,
                                          A, A + rows * width, work, key, stream, n_threads)
    finally:
        free(n)
        free(A)
        free(work)
    return stream


def dbm_epoch(const floating[:, ::1] X,     # IN    (n_samples, n_0) data in [0, 1]
              const Py_ssize_t[::1] starts, # IN    (n_batches + 1,) batch boundaries
              list W,                       # INOUT L x (n_l, n_{l+1}) weights
              list b,                       # INOUT L+1 x (n_l,) biases, visible first
              list VW,                      # INOUT L x (n_l, n_{l+1}) weight velocities
              list Vb,                      # INOUT L+1 x (n_l,) bias velocities
              list x,                       # INOUT L+1 x (n_chains, n_l) persistent chains
              double learning_rate, double momentum, double weight_decay,
              int n_mean_field, int n_gibbs_steps,
              uint64_t key, uint64_t stream, int n_threads):
    """One epoch of DBM training (Salakhutdinov & Hinton 2009) over the batches of X.

    Per batch of ``B`` rows, with ``C`` chains::

        mu = mean field of the batch (n_mean_field sweeps)
        n_gibbs_steps sweeps of the chains x
        VW_l = momentum VW_l + lr (mu_l^T mu_{l+1} / B - x_l^T x_{l+1} / C - weight_decay W_l)
        Vb_l = momentum Vb_l + lr (mean(mu_l) - mean(x_l));  W += VW;  b += Vb

    Returns the advanced random stream.
    """
    cdef Py_ssize_t L = len(W), C = x[0].shape[0], n_batches = starts.shape[0] - 1
    cdef Py_ssize_t Bmax = _max_batch(starts), rows, width = 0, B, bi, l, j, m, total
    cdef bint xbin
    cdef floating lr = learning_rate, mom = momentum, wd = weight_decay
    cdef floating lrwd = <floating> (learning_rate * weight_decay), lrB, lrC
    cdef floating dummy = 0
    cdef _Layers Wl = _layers(W, dummy, True, "W"), bl = _layers(b, dummy, True, "b")
    cdef _Layers VWl = _layers(VW, dummy, True, "VW"), Vbl = _layers(Vb, dummy, True, "Vb")
    cdef _Layers xl = _layers(x, dummy, True, "x")
    cdef floating **Wp = <floating **> Wl.ptr
    cdef floating **bp = <floating **> bl.ptr
    cdef floating **VWp = <floating **> VWl.ptr
    cdef floating **Vbp = <floating **> Vbl.ptr
    cdef floating **xp = <floating **> xl.ptr
    cdef floating **mu = NULL
    cdef Py_ssize_t *n = NULL
    cdef floating *buf = NULL
    cdef floating *A
    cdef floating *A2
    cdef floating *w
    cdef floating *vw
    cdef float *work = NULL
    if len(b) != L + 1 or len(VW) != L or len(Vb) != L + 1 or len(x) != L + 1:
        raise ValueError("dbm_epoch: b, Vb and x need L + 1 entries, VW L")
    if Bmax == 0:
        return stream
    rows = Bmax if Bmax > C else C
    try:
        n = _dbm_widths(W, X.shape[1], &width)
        mu = <floating **> calloc(L + 1, sizeof(floating *))
        if mu == NULL:
            raise MemoryError("dbm_epoch: cannot allocate the layer table")
        total = 2 * rows * width
        for l in range(1, L + 1):
            total += Bmax * n[l]
        buf = <floating *> malloc(total * sizeof(floating))
        if buf == NULL:
            raise MemoryError("dbm_epoch: cannot allocate the scratch")
        A = buf
        A2 = A + rows * width
        m = 2 * rows * width
        for l in range(1, L + 1):
            mu[l] = buf + m
            m += Bmax * n[l]
        work = _gemm_work(rows * (width + 1), floating is float)
        with nogil:
            for bi in range(n_batches):
                B = starts[bi + 1] - starts[bi]
                if B <= 0:
                    continue
                mu[0] = <floating *> &X[starts[bi], 0]
                _dbm_mean_field(mu, B, L, n, Wp, bp, n_mean_field, A, A2, work, n_threads)
                for j in range(n_gibbs_steps):
                    stream = _dbm_gibbs_sweep(xp, C, L, n, Wp, bp, A, A2, work, key, stream,
                                              n_threads)
                lrB = <floating> (learning_rate / B)
                lrC = <floating> (learning_rate / C)
                xbin = _is_binary(mu[0], B * n[0], work)
                for l in range(L):
                    w = Wp[l]
                    vw = VWp[l]
                    m = n[l] * n[l + 1]
                    for j in range(m):
                        vw[j] = mom * vw[j] - lrwd * w[j]
                    # VW += mu_l^T (lr/B mu_{l+1}) + x_l^T (-lr/C x_{l+1})
                    memcpy(A, mu[l + 1], B * n[l + 1] * sizeof(floating))
                    _scale(A, B * n[l + 1], lrB)
                    _tmm_add(l == 0 and xbin, n[l], n[l + 1], B, mu[l], n[l], A, n[l + 1],
                             vw, n[l + 1], work)
                    memcpy(A2, xp[l + 1], C * n[l + 1] * sizeof(floating))
                    _scale(A2, C * n[l + 1], -lrC)
                    _tmm_add(True, n[l], n[l + 1], C, xp[l], n[l], A2, n[l + 1], vw, n[l + 1],
                             work)
                    _add_into(w, vw, m)
                for l in range(L + 1):
                    vw = Vbp[l]
                    for j in range(n[l]):
                        vw[j] *= mom
                    _add_column_sums(mu[l], B, n[l], lrB, vw)
                    _add_column_sums(xp[l], C, n[l], -lrC, vw)
                    _add_into(bp[l], vw, n[l])
    finally:
        free(n)
        free(mu)
        free(buf)
        free(work)
    return stream


# -- the binary products, for the tests --------------------------------------------------
def binary_matmul(const float[:, ::1] X,    # IN    (M, K) zeros and ones
                  const float[:, ::1] W,    # IN    (K, N)
                  float[:, ::1] C,          # INOUT (M, N)
                  bint beta):
    """C = X W (+ C when beta) by ``fastnut_bz_binary_mm`` (needs fastnut's GEMM kernel)."""
    cdef float *work = _gemm_work(max(C.shape[0] * (X.shape[1] + 1), 1), True)
    if work == NULL:
        raise RuntimeError("binary_matmul needs fastnut's GEMM kernel (AVX2 + FMA)")
    try:
        with nogil:
            fastnut_bz_index(C.shape[0], X.shape[1], &X[0, 0], X.shape[1], _blk(work))
            fastnut_bz_binary_mm(C.shape[0], C.shape[1], X.shape[1], &X[0, 0], X.shape[1],
                                 &W[0, 0], W.shape[1], &C[0, 0], C.shape[1], beta, _blk(work))
    finally:
        free(work)


def binary_tmatmul_add(const float[:, ::1] A,   # IN    (K, M) zeros and ones
                       const float[:, ::1] D,   # IN    (K, N)
                       float[:, ::1] C):        # INOUT (M, N)
    """C += A^T D by ``fastnut_bz_binary_tmm`` (needs fastnut's GEMM kernel)."""
    cdef float *work = _gemm_work(max(A.shape[0], 1), True)
    if work == NULL:
        raise RuntimeError("binary_tmatmul_add needs fastnut's GEMM kernel (AVX2 + FMA)")
    try:
        with nogil:
            fastnut_bz_binary_tmm(C.shape[0], C.shape[1], A.shape[0], &A[0, 0], A.shape[1],
                                  &D[0, 0], D.shape[1], &C[0, 0], C.shape[1], _blk(work))
    finally:
        free(work)
