# cython: language_level=3
"""Self-organizing map kernels: best-matching-unit search, batch-map
accumulation and smoothing, online (sequential) updates.

The estimator (``fastnut/som.py``) validates every array before calling in:
shapes agree, arrays are C-contiguous in one floating dtype, indices are in
range.  Kernels trust their arguments (bounds checks are off).

Metrics (``metric`` argument):

* ``EUCLIDEAN`` (0): the BMU minimises ``||w||^2 - 2 x.w`` (``||x||^2`` is a
  per-sample constant), computed for a block of samples by one GEMM whose
  output rows start as ``||w||^2``; the winner's distance ``||x - w||`` is
  then recomputed exactly in double.
  ``w_aux[u] = ||w_u||^2``.
* ``COSINE`` (1): the BMU maximises ``x.w / ||w||`` (same GEMM);
  distance ``1 - cos(x, w)``.  ``w_aux[u] = 1 / ||w_u||`` (0 for a zero unit).
* ``MANHATTAN`` (2): direct loop, distance ``sum |x - w|``; ``w_aux`` unused.

Ties go to the lowest unit index, for the best and for the second-best unit.
"""
from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.math cimport sqrt, exp, pow, fabs, INFINITY
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy, memset
from cpython.exc cimport PyErr_CheckSignals

from _blas cimport gemm, gemv

cdef extern from "_gemm.h" nogil:
    int fastnut_gemm_kernel()
    void fastnut_sgemm_auto(Py_ssize_t M, Py_ssize_t N, Py_ssize_t K,
                            const float *A, Py_ssize_t a_row, Py_ssize_t a_col,
                            const float *B, Py_ssize_t b_row, Py_ssize_t b_col,
                            float *C, Py_ssize_t ldc, int beta)

cdef extern from *:
    """
    #include <math.h>
    #include "_simd.h"
    #if FASTNUT_HAVE_AVX2
    #include <immintrin.h>
    #define FASTNUT_SOM_AVX2 __attribute__((target("avx2,fma")))
    FASTNUT_SOM_AVX2 static inline float fastnut_som_hmin(__m256 v)
    {
        __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        m = _mm_min_ps(m, _mm_movehl_ps(m, m));
        m = _mm_min_ss(m, _mm_shuffle_ps(m, m, 1));
        return _mm_cvtss_f32(m);
    }
    /* lowest index u with s[u] == v, or -1 */
    FASTNUT_SOM_AVX2 static inline ptrdiff_t fastnut_som_find(const float *s, ptrdiff_t U, float v)
    {
        ptrdiff_t u = 0;
        __m256 vv = _mm256_set1_ps(v);
        for (; u + 8 <= U; u += 8) {
            int mask = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(s + u), vv, _CMP_EQ_OQ));
            if (mask)
                return u + __builtin_ctz(mask);
        }
        for (; u < U; u++)
            if (s[u] == v)
                return u;
        return -1;
    }
    /* Euclidean scores of one sample in place, s[u] = aux[u] - (p[u] + p[u])
       for the products p = x.w_u held in s (the same float operations as the
       scalar loop), then the best and second-best unit (ties: lowest index)
       by two vector minima.  Returns 0 when a minimum is not found again
       (NaN scores): the caller then scans the scores itself. */
    FASTNUT_SOM_AVX2 static int fastnut_som_top2_l2(float *s, const float *aux, ptrdiff_t U,
                                                    ptrdiff_t *best, ptrdiff_t *second)
    {
        ptrdiff_t u = 0, b1, b2;
        float m1, m2, keep;
        __m256 vmin = _mm256_set1_ps(INFINITY);
        for (; u + 8 <= U; u += 8) {
            __m256 p = _mm256_loadu_ps(s + u);
            __m256 v = _mm256_sub_ps(_mm256_loadu_ps(aux + u), _mm256_add_ps(p, p));
            _mm256_storeu_ps(s + u, v);
            vmin = _mm256_min_ps(vmin, v);
        }
        m1 = fastnut_som_hmin(vmin);
        for (; u < U; u++) {
            s[u] = aux[u] - (s[u] + s[u]);
            if (s[u] < m1)
                m1 = s[u];
        }
        b1 = fastnut_som_find(s, U, m1);
        if (b1 < 0)
            return 0;
        keep = s[b1];
        s[b1] = INFINITY;
        vmin = _mm256_set1_ps(INFINITY);
        for (u = 0; u + 8 <= U; u += 8)
            vmin = _mm256_min_ps(vmin, _mm256_loadu_ps(s + u));
        m2 = fastnut_som_hmin(vmin);
        for (; u < U; u++)
            if (s[u] < m2)
                m2 = s[u];
        b2 = U > 1 ? fastnut_som_find(s, U, m2) : b1;
        s[b1] = keep;
        if (b2 < 0)
            return 0;
        *best = b1;
        *second = b2;
        return 1;
    }
    /* The same scores in place and the best unit only (ties: lowest index):
       one pass with two independent vector minima (no dependency chain
       across consecutive blocks), then the first index holding the minimum.
       Returns 0 on NaN scores: the caller then scans the scores itself, as
       after fastnut_som_top2_l2. */
    FASTNUT_SOM_AVX2 static int fastnut_som_top1_l2(float *s, const float *aux, ptrdiff_t U,
                                                    ptrdiff_t *best)
    {
        ptrdiff_t u = 0, b;
        float m;
        __m256 va = _mm256_set1_ps(INFINITY), vb = va, bad = _mm256_setzero_ps();
        for (; u + 16 <= U; u += 16) {
            __m256 p = _mm256_loadu_ps(s + u), q = _mm256_loadu_ps(s + u + 8);
            __m256 v = _mm256_sub_ps(_mm256_loadu_ps(aux + u), _mm256_add_ps(p, p));
            __m256 w = _mm256_sub_ps(_mm256_loadu_ps(aux + u + 8), _mm256_add_ps(q, q));
            _mm256_storeu_ps(s + u, v);
            _mm256_storeu_ps(s + u + 8, w);
            va = _mm256_min_ps(va, v);
            vb = _mm256_min_ps(vb, w);
            bad = _mm256_or_ps(bad, _mm256_cmp_ps(v, w, _CMP_UNORD_Q));
        }
        for (; u + 8 <= U; u += 8) {
            __m256 p = _mm256_loadu_ps(s + u);
            __m256 v = _mm256_sub_ps(_mm256_loadu_ps(aux + u), _mm256_add_ps(p, p));
            _mm256_storeu_ps(s + u, v);
            va = _mm256_min_ps(va, v);
            bad = _mm256_or_ps(bad, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
        }
        m = fastnut_som_hmin(_mm256_min_ps(va, vb));
        for (; u < U; u++) {
            s[u] = aux[u] - (s[u] + s[u]);
            if (s[u] != s[u])
                return 0;
            if (s[u] < m)
                m = s[u];
        }
        if (_mm256_movemask_ps(bad))
            return 0;
        b = fastnut_som_find(s, U, m);
        if (b < 0)
            return 0;
        *best = b;
        return 1;
    }
    static inline int fastnut_som_simd(void) { return fastnut_have_avx2(); }
    #else
    static inline int fastnut_som_top2_l2(float *s, const float *aux, ptrdiff_t U,
                                          ptrdiff_t *best, ptrdiff_t *second)
    { (void)s; (void)aux; (void)U; (void)best; (void)second; return 0; }
    static inline int fastnut_som_top1_l2(float *s, const float *aux, ptrdiff_t U,
                                          ptrdiff_t *best)
    { (void)s; (void)aux; (void)U; (void)best; return 0; }
    static inline int fastnut_som_simd(void) { return 0; }
    #endif
    """
    int fastnut_som_simd() nogil
    int fastnut_som_top2_l2(float *s, const float *aux, Py_ssize_t U,
                            Py_ssize_t *best, Py_ssize_t *second) nogil
    int fastnut_som_top1_l2(float *s, const float *aux, Py_ssize_t U, Py_ssize_t *best) nogil


# codes shared with Python (fastnut/som.py reads them from these enums)
cpdef enum Metric:
    EUCLIDEAN = 0
    COSINE = 1
    MANHATTAN = 2

cpdef enum Neighborhood:
    GAUSSIAN = 0
    BUBBLE = 1
    MEXICAN_HAT = 2
    TRIANGLE = 3

cpdef enum Decay:
    LINEAR = 0
    EXPONENTIAL = 1

# Tolerance on squared grid distances (hexagonal coordinates carry sqrt(3)/2,
# so a grid distance of exactly 1 can come out as 1 + 2e-16).
cdef double GRID_EPS = 1e-9


def block_rows(Py_ssize_t n_units):
    """Samples per block of the BMU search for a map of ``n_units`` units.

    A block's distance scratch (rows x units) is kept around 128k values
    (512 kB in float32) so it stays in cache; the block size depends only on
    the map size, never on the thread count.
    """
    cdef Py_ssize_t rows = (1 << 17) // max(n_units, 1)
    return int(min(256, max(8, rows)))


def online_workspace(Py_ssize_t n_units):
    """The scratch ``online_epoch`` takes for a map of ``n_units`` units, as a dict.

    ``scratch``: its length (the kernel refuses a shorter one, naming this
    function).
    """
    if n_units < 1:
        raise ValueError(f"online_workspace: n_units must be >= 1, got {n_units}")
    return {"scratch": 2 * n_units}


# --------------------------------------------------------------------------
# neighbourhood functions (the single definition used by batch and online)
# --------------------------------------------------------------------------
cdef inline double _cutoff2(int kind, double sigma) noexcept nogil:
    """Squared grid distance beyond which the neighbourhood is zero."""
    cdef double s2 = sigma * sigma
    if kind == GAUSSIAN:
        return 9.0 * s2          # 3 sigma: h = exp(-4.5) ~ 0.011 at the edge
    elif kind == MEXICAN_HAT:
        return 16.0 * s2         # 4 sigma: |h| = 15 exp(-8) ~ 0.005 at the edge
    return s2 + GRID_EPS         # bubble, triangle: sigma itself


cdef inline double _neighborhood(int kind, double g2, double sigma) noexcept nogil:
    """h(g2; sigma) for a squared grid distance g2 (0 beyond the cut-off)."""
    if g2 > _cutoff2(kind, sigma):
        return 0.0
    return _neighborhood_full(kind, g2, sigma)


cdef inline double _neighborhood_full(int kind, double g2, double sigma) noexcept nogil:
    """h(g2; sigma) without a cut-off (bubble and triangle still end at sigma)."""
    cdef double s2 = sigma * sigma
    if kind == BUBBLE or kind == TRIANGLE:
        if g2 > s2 + GRID_EPS:
            return 0.0
    if kind == GAUSSIAN:
        return exp(-g2 / (2.0 * s2))
    elif kind == BUBBLE:
        return 1.0
    elif kind == MEXICAN_HAT:
        return (1.0 - g2 / s2) * exp(-g2 / (2.0 * s2))
    else:  # TRIANGLE
        return max(0.0, 1.0 - sqrt(g2) / sigma)


def neighborhood_matrix(const double[:, ::1] G2,   # IN  (a, b) squared grid distances
                        int kind, double sigma,
                        double[:, ::1] H,           # OUT (a, b)
                        bint cutoff=True):
    """H[i, j] = h(G2[i, j]; sigma), zero beyond the neighbourhood's cut-off.

    ``cutoff=False`` keeps the gaussian's and mexican hat's tails (the batch
    map: a unit with no data within the cut-off would otherwise never move).
    """
    cdef Py_ssize_t i, j
    with nogil:
        for i in range(G2.shape[0]):
            for j in range(G2.shape[1]):
                if cutoff:
                    H[i, j] = _neighborhood(kind, G2[i, j], sigma)
                else:
                    H[i, j] = _neighborhood_full(kind, G2[i, j], sigma)


cdef inline double _schedule(int decay, double start, double end, double p) noexcept nogil:
    """Value at progress p in [0, 1] of a linear or exponential decay."""
    if decay == LINEAR:
        return start + (end - start) * p
    return start * pow(end / start, p)


cdef inline Py_ssize_t _grid_class(const Py_ssize_t *a, const Py_ssize_t *b,
                                   Py_ssize_t n_rows, Py_ssize_t width,
                                   bint periodic) noexcept nogil:
    """Distance class of two units from their (row, x) cells (``Grid.cells``).

    ``x`` counts half units on hexagonal grids; the class is
    ``|row offset| * width + |x offset|``, both wrapped on a torus, as in
    ``Grid.distance_classes``.
    """
    cdef Py_ssize_t dr = a[0] - b[0], dx = a[1] - b[1]
    if dr < 0:
        dr = -dr
    if dx < 0:
        dx = -dx
    if periodic:
        dr = min(dr, n_rows - dr)
        dx = min(dx, width - dx)
    return dr * width + dx


# --------------------------------------------------------------------------
# best-matching-unit search
# --------------------------------------------------------------------------
cdef inline double _sq_dist(const floating *x, const floating *w, Py_ssize_t d) noexcept nogil:
    """||x - w||^2 in double, with four partial sums to shorten the add chain."""
    cdef double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0, t0, t1, t2, t3
    cdef Py_ssize_t j = 0
    while j + 4 <= d:
        t0 = <double> x[j] - w[j]
        t1 = <double> x[j + 1] - w[j + 1]
        t2 = <double> x[j + 2] - w[j + 2]
        t3 = <double> x[j + 3] - w[j + 3]
        a0 += t0 * t0
        a1 += t1 * t1
        a2 += t2 * t2
        a3 += t3 * t3
        j += 4
    while j < d:
        t0 = <double> x[j] - w[j]
        a0 += t0 * t0
        j += 1
    return (a0 + a1) + (a2 + a3)


cdef inline void _top2(const floating *sc, Py_ssize_t U,
                       Py_ssize_t *best, Py_ssize_t *second) noexcept nogil:
    """Lowest and second-lowest score (ties: lowest index) of one sample.

    On a trained map the scores fall smoothly towards the winner, so a plain
    running-minimum scan keeps updating (and mispredicting) on the way.
    First an upper bound of the second-best score is taken from every 16th
    unit (any two scores bound it); then units are scanned four at a time
    and a group whose minimum is above that bound, or not below the running
    second-best, is skipped with one test.
    """
    cdef Py_ssize_t u = 0, b1 = 0, b2 = 0, k
    cdef floating v1 = INFINITY, v2 = INFINITY, s, lo, hi
    cdef floating bound1 = INFINITY, bound = INFINITY
    if U >= 64:
        for u in range(0, U, 16):
            s = sc[u]
            if s < bound:
                if s < bound1:
                    bound = bound1
                    bound1 = s
                else:
                    bound = s
        u = 0
    while u < U:
        if u + 4 <= U:
            lo = sc[u] if sc[u] < sc[u + 1] else sc[u + 1]
            hi = sc[u + 2] if sc[u + 2] < sc[u + 3] else sc[u + 3]
            lo = lo if lo < hi else hi
            # ties with the bound must be looked at (the lowest index wins)
            if not (lo < v2 and lo <= bound):
                u += 4
                continue
            k = u + 4
        else:
            k = U
        while u < k:
            s = sc[u]
            if s < v2:
                if s < v1:
                    b2 = b1
                    v2 = v1
                    b1 = u
                    v1 = s
                else:
                    b2 = u
                    v2 = s
            u += 1
    best[0] = b1
    second[0] = b2 if U > 1 else b1


cdef void _bmu_block(const floating *X, Py_ssize_t m, Py_ssize_t d,
                     const floating *W, Py_ssize_t U, const floating *w_aux,
                     int metric, floating *scratch, floating *scores,
                     Py_ssize_t *bmu, Py_ssize_t *second, double *dist,
                     bint want_second=True) noexcept nogil:
    """BMU, second-best unit and exact BMU distance of m samples.

    ``want_second=False``: ``second`` is not written (training needs the
    best unit only; the float32 AVX2 scan is then a single pass).

    ``scores == NULL``: the scores are built in ``scratch`` (m * U values);
    for euclidean maps the GEMM itself produces them, ``||w||^2 - 2 X W^T``,
    from rows pre-filled with ``||w||^2`` (``beta = 1``, which also spares
    BLAS zeroing its output).  Otherwise (m == 1) ``scratch`` receives the
    products ``X W^T``, which the caller keeps, and the scores go to
    ``scores`` (U values).
    """
    cdef Py_ssize_t i, u, j, b1, b2
    cdef floating s
    cdef const floating *x
    cdef const floating *w
    cdef floating *row
    cdef floating *sc
    cdef double acc, xx, ww, xw
    cdef bint fused = scores == NULL and metric == EUCLIDEAN
    # float32 with AVX2: fastnut's GEMM (each product one fixed-order sum, so
    # a sample's scores do not depend on its block) and vector scans
    cdef bint simd = False
    if floating is float:
        simd = scores == NULL and metric != MANHATTAN and fastnut_gemm_kernel() != 0
        if simd:
            fastnut_sgemm_auto(m, U, d, X, d, 1, W, 1, d, scratch, U, 0)
            fused = False
    if simd:
        pass
    elif fused:
        for i in range(m):
            memcpy(scratch + i * U, w_aux, U * sizeof(floating))
        if m == 1:  # one sample (online steps, tiny predicts): GEMV is cheaper to call
            gemv(False, <int> U, <int> d, <floating> -2.0, W, <int> d, X, 1,
                 <floating> 1.0, scratch, 1)
        else:
            gemm(False, True, <int> m, <int> U, <int> d, <floating> -2.0, X, <int> d,
                 W, <int> d, <floating> 1.0, scratch, <int> U)
    elif metric != MANHATTAN:
        # scratch = X_block @ W^T: the only O(m U d) work
        if m == 1:
            gemv(False, <int> U, <int> d, <floating> 1.0, W, <int> d, X, 1,
                 <floating> 0.0, scratch, 1)
        else:
            gemm(False, True, <int> m, <int> U, <int> d, <floating> 1.0, X, <int> d,
                 W, <int> d, <floating> 0.0, scratch, <int> U)
    for i in range(m):
        x = X + i * d
        row = scratch + i * U
        sc = scores if scores != NULL else row
        # scores, lower is better; simple element-wise loops the compiler
        # vectorises (no 2.0 literal: the arithmetic stays in floating)
        if fused:
            pass
        elif metric == EUCLIDEAN:
            if floating is float:
                if (simd and not want_second and fastnut_som_simd()
                        and fastnut_som_top1_l2(sc, w_aux, U, &b1)):
                    bmu[i] = b1
                    dist[i] = sqrt(_sq_dist(x, W + b1 * d, d))
                    continue
                if (simd and want_second and fastnut_som_simd()
                        and fastnut_som_top2_l2(sc, w_aux, U, &b1, &b2)):
                    bmu[i] = b1
                    second[i] = b2
                    dist[i] = sqrt(_sq_dist(x, W + b1 * d, d))
                    continue
                if simd and fastnut_som_simd():  # NaN scores: already computed in place
                    _top2(sc, U, &b1, &b2)
                    bmu[i] = b1
                    if want_second:
                        second[i] = b2
                    dist[i] = sqrt(_sq_dist(x, W + b1 * d, d))
                    continue
            for u in range(U):
                sc[u] = w_aux[u] - (row[u] + row[u])
        elif metric == COSINE:
            for u in range(U):
                sc[u] = -row[u] * w_aux[u]
        else:
            for u in range(U):
                w = W + u * d
                s = 0
                for j in range(d):
                    s = s + fabs(x[j] - w[j])
                sc[u] = s
        _top2(sc, U, &b1, &b2)
        bmu[i] = b1
        if want_second:
            second[i] = b2
        # exact distance of the winner, accumulated in double
        w = W + b1 * d
        if metric == EUCLIDEAN:
            dist[i] = sqrt(_sq_dist(x, w, d))
        elif metric == COSINE:
            xx = 0.0
            ww = 0.0
            xw = 0.0
            for j in range(d):
                xx = xx + <double> x[j] * x[j]
                ww = ww + <double> w[j] * w[j]
                xw = xw + <double> x[j] * w[j]
            if xx > 0.0 and ww > 0.0:
                dist[i] = max(0.0, 1.0 - xw / sqrt(xx * ww))
            else:
                dist[i] = 1.0
        else:
            acc = 0.0
            for j in range(d):
                acc = acc + fabs(<double> x[j] - <double> w[j])
            dist[i] = acc


def bmu_search(const floating[:, ::1] X,       # IN  (n, d) samples
               const floating[:, ::1] W,       # IN  (U, d) codebook
               const floating[::1] w_aux,      # IN  (U,) see module docstring
               int metric,
               Py_ssize_t[::1] bmu,            # OUT (n,) best unit
               Py_ssize_t[::1] second,         # OUT (n,) second-best unit
               double[::1] dist,               # OUT (n,) distance to the best unit
               int n_threads,
               double[:, ::1] sums=None,       # OUT (U, d) optional Voronoi sums
               double[::1] counts=None,        # OUT (U,) optional hit counts
               bint accumulate=False,
               bint second_best=True):
    """Best and second-best unit of every sample, in blocks of samples.

    Samples are split into fixed blocks of ``block_rows(U)`` rows; threads
    take whole blocks and each owns one block-sized scratch, so no
    ``n x U`` matrix is ever built and every sample's result is the same
    for any thread count.  BLAS must be single-threaded during the call.

    With ``sums``/``counts`` (one thread only) the batch-map accumulation of
    :func:`batch_accumulate` is done block by block while the block is in
    cache, in the same sample order, hence with the same result;
    ``accumulate=True`` adds to ``sums``/``counts`` instead of overwriting
    them (the estimator calls this chunk by chunk, so that Ctrl-C is seen
    between chunks).  ``second_best=False`` leaves ``second`` unwritten (the
    batch epochs need the best unit only); ``bmu`` and ``dist`` are the same.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], U = W.shape[0]
    cdef Py_ssize_t chunk = block_rows(U)
    cdef Py_ssize_t n_chunks = (n + chunk - 1) // chunk
    cdef Py_ssize_t c, start, m, i, j
    cdef double *srow
    cdef const floating *xrow
    # one block-sized scratch per thread, allocated here with the GIL held so
    # that a failed allocation is a MemoryError rather than a NULL write
    cdef int nt = max(1, n_threads)
    cdef floating *work
    if sums is not None:
        if n_threads != 1 or counts is None:
            raise ValueError("bmu_search accumulates sums only on one thread, with counts")
        work = <floating *> malloc(chunk * U * sizeof(floating))
        if work == NULL:
            raise MemoryError(f"bmu_search: cannot allocate {chunk} x {U} scratch")
        try:
            with nogil:
                if not accumulate:
                    sums[:, :] = 0.0
                    counts[:] = 0.0
                for c in range(n_chunks):
                    start = c * chunk
                    m = min(chunk, n - start)
                    _bmu_block(&X[start, 0], m, d, &W[0, 0], U, &w_aux[0], metric,
                               work, NULL, &bmu[start], &second[start], &dist[start],
                               second_best)
                    for i in range(start, start + m):
                        counts[bmu[i]] += 1.0
                        srow = &sums[bmu[i], 0]
                        xrow = &X[i, 0]
                        for j in range(d):
                            srow[j] += xrow[j]
        finally:
            free(work)
        return
    if n == 0:
        return
    work = <floating *> malloc(nt * chunk * U * sizeof(floating))
    if work == NULL:
        raise MemoryError(f"bmu_search: cannot allocate {nt} x {chunk} x {U} scratch")
    try:
        for c in prange(n_chunks, nogil=True, schedule="dynamic", num_threads=nt):
            start = c * chunk
            m = min(chunk, n - start)
            _bmu_block(&X[start, 0], m, d, &W[0, 0], U, &w_aux[0], metric,
                       work + threadid() * chunk * U, NULL,
                       &bmu[start], &second[start], &dist[start], second_best)
    finally:
        free(work)


cdef void _unit_aux(const floating *w, Py_ssize_t d, int metric,
                    floating *out) noexcept nogil:
    cdef Py_ssize_t j
    cdef double acc = 0.0
    for j in range(d):
        acc = acc + <double> w[j] * w[j]
    if metric == COSINE:
        out[0] = <floating> (1.0 / sqrt(acc) if acc > 0.0 else 0.0)
    else:
        out[0] = <floating> acc


def unit_aux(const floating[:, ::1] W,   # IN  (U, d)
             int metric,
             floating[::1] w_aux):       # OUT (U,)
    """Per-unit term of the BMU search: ||w||^2 (euclidean), 1/||w|| (cosine)."""
    cdef Py_ssize_t u, d = W.shape[1]
    with nogil:
        for u in range(W.shape[0]):
            _unit_aux(&W[u, 0], d, metric, &w_aux[u])


# --------------------------------------------------------------------------
# batch map
# --------------------------------------------------------------------------
def batch_accumulate(const floating[:, ::1] X,     # IN  (n, d)
                     const Py_ssize_t[::1] bmu,    # IN  (n,)
                     double[:, ::1] sums,          # OUT (U, d) per-unit sums
                     double[::1] counts):          # OUT (U,) per-unit hits
    """Voronoi sums S[u] = sum of the samples whose BMU is u, and counts.

    Accumulated in double in sample order, so the result does not depend on
    the thread count (O(n d), small next to the BMU search).
    """
    cdef Py_ssize_t i, j, u, d = X.shape[1]
    cdef double *srow
    cdef const floating *xrow
    with nogil:
        sums[:, :] = 0.0
        counts[:] = 0.0
        for i in range(X.shape[0]):
            u = bmu[i]
            counts[u] += 1.0
            srow = &sums[u, 0]
            xrow = &X[i, 0]
            for j in range(d):
                srow[j] += xrow[j]


# Batch smoothing over the neighbourhood's support.  The sums and counts of
# an (R x C) map are held as R rows of C items, each item e = d + 1 values
# (the d Voronoi sums, then the count), so that one pass smooths numerators
# and denominators together.  Every pass is made of "shifted AXPYs": item c
# of a destination row receives h * item (c - k) of a source row, which for
# a whole row is one contiguous AXPY (two when the row wraps on a torus).
# The tap lists (k, h), one per row offset and row parities, are built by
# the estimator from the neighbourhood and hold only its support.

cdef extern from *:
    """
    #include "_simd.h"
    /* dst += h src: the smoothing passes' only loop (cloned for AVX2 / AVX-512) */
    FASTNUT_CLONES static void fastnut_som_axpy(double *dst, const double *src,
                                                ptrdiff_t n, double h)
    {
        for (ptrdiff_t j = 0; j < n; j++)
            dst[j] += h * src[j];
    }
    """
    void fastnut_som_axpy(double *dst, const double *src, Py_ssize_t n, double h) nogil


cdef inline void _axpy(double *dst, const double *src, Py_ssize_t n,
                       double h) noexcept nogil:
    fastnut_som_axpy(dst, src, n, h)


cdef inline void _shift_axpy(double *dst, const double *src, Py_ssize_t C, Py_ssize_t e,
                             Py_ssize_t k, double h, bint periodic) noexcept nogil:
    """dst item c += h * src item (c - k), for the C items of one row.

    Planar rows drop the items shifted out of the row; periodic rows wrap.
    """
    if periodic:
        k = k % C
        if k < 0:
            k = k + C
        _axpy(dst + k * e, src, (C - k) * e, h)
        _axpy(dst, src + (C - k) * e, k * e, h)
    elif k >= 0:
        if k < C:
            _axpy(dst + k * e, src, (C - k) * e, h)
    elif -k < C:
        _axpy(dst, src - k * e, (C + k) * e, h)


cdef inline Py_ssize_t _source_row(Py_ssize_t r, Py_ssize_t dr, Py_ssize_t R,
                                   bint periodic) noexcept nogil:
    """Row r - dr, wrapped on a torus; -1 when it is off a planar map."""
    cdef Py_ssize_t v = r - dr
    if periodic:
        v = v % R
        if v < 0:
            v = v + R
        return v
    if v < 0 or v >= R:
        return -1
    return v


def smooth_x(const double[:, ::1] src,        # IN  (R, C * e) rows of C items
             double[:, ::1] dst,              # OUT (P * R, C * e), P = 2 if hexagonal else 1
             Py_ssize_t C, bint periodic, bint hexagonal,
             const Py_ssize_t[::1] tap_ptr,   # IN  (T + 1,) table t: taps tap_ptr[t]:tap_ptr[t+1]
             const Py_ssize_t[::1] tap_k,     # IN  item shift of each tap
             const double[::1] tap_h):        # IN  weight of each tap
    """Along the rows: ``dst[p R + r, c] = sum_taps h src[r, c - k]``.

    Rectangular maps have one table (T = 1).  On hexagonal maps the column
    offset in half units, ``2 k + p - r % 2``, depends on the parity p of the
    destination row and on the parity of the source row r: table
    ``2 p + r % 2`` (T = 4), and ``dst`` holds one block of R rows per
    destination parity.  O(R P C e) per tap; Ctrl-C is honoured between rows.
    """
    cdef Py_ssize_t R = src.shape[0], L = src.shape[1], e = L // C
    cdef Py_ssize_t P = 2 if hexagonal else 1, p, r, t, j
    cdef double *out
    with nogil:
        for p in range(P):
            for r in range(R):
                out = &dst[p * R + r, 0]
                memset(out, 0, L * sizeof(double))
                t = 2 * p + r % 2 if hexagonal else 0
                for j in range(tap_ptr[t], tap_ptr[t + 1]):
                    _shift_axpy(out, &src[r, 0], C, e, tap_k[j], tap_h[j], periodic)
                with gil:
                    PyErr_CheckSignals()


def smooth_y(const double[:, ::1] src,        # IN  (P * R, L) output of smooth_x
             double[:, ::1] dst,              # IN/OUT (R, L)
             bint periodic, bint hexagonal,
             const Py_ssize_t[::1] dr,        # IN  (n_taps,) row offsets
             const double[::1] h,             # IN  (n_taps,) their weights
             bint accumulate=False):
    """Across the rows: ``dst[r] (+)= sum_taps h src[p R + r - dr]``, p = r % 2 (hexagonal).

    With ``accumulate`` the sums are added to ``dst`` (a second separable
    term), otherwise ``dst`` is overwritten.  Ctrl-C is honoured between rows.
    """
    cdef Py_ssize_t R = dst.shape[0], L = dst.shape[1], r, v, j, base
    cdef double *out
    with nogil:
        for r in range(R):
            out = &dst[r, 0]
            if not accumulate:
                memset(out, 0, L * sizeof(double))
            base = (r % 2) * R if hexagonal else 0
            for j in range(dr.shape[0]):
                v = _source_row(r, dr[j], R, periodic)
                if v >= 0:
                    _axpy(out, &src[base + v, 0], L, h[j])
            with gil:
                PyErr_CheckSignals()


def smooth_2d(const double[:, ::1] src,       # IN  (R, C * e)
              double[:, ::1] dst,             # OUT (R, C * e)
              Py_ssize_t C, bint periodic, bint hexagonal,
              const Py_ssize_t[::1] dr,       # IN  (n_dr,) row offsets within the support
              const Py_ssize_t[::1] tap_ptr,  # IN  (n_dr * T + 1,)
              const Py_ssize_t[::1] tap_k,    # IN  item shift of each tap
              const double[::1] tap_h):       # IN  weight of each tap
    """A non-separable neighbourhood over its support:
    ``dst[r, c] = sum_{dr, taps} h src[r - dr, c - k]``.

    Row offset ``dr[i]`` uses table ``i T + t`` with ``t = 2 (r % 2) +
    (source row % 2)`` on hexagonal maps (T = 4), ``t = 0`` otherwise
    (T = 1).  O(R C e K) for K units in the support.
    """
    cdef Py_ssize_t R = src.shape[0], L = src.shape[1], e = L // C
    cdef Py_ssize_t T = 4 if hexagonal else 1, r, v, i, t, j
    cdef double *out
    with nogil:
        for r in range(R):
            out = &dst[r, 0]
            memset(out, 0, L * sizeof(double))
            for i in range(dr.shape[0]):
                v = _source_row(r, dr[i], R, periodic)
                if v < 0:
                    continue
                t = i * T + (2 * (r % 2) + v % 2 if hexagonal else 0)
                for j in range(tap_ptr[t], tap_ptr[t + 1]):
                    _shift_axpy(out, &src[v, 0], C, e, tap_k[j], tap_h[j], periodic)
            with gil:
                PyErr_CheckSignals()


def batch_finish(const double[:, ::1] numden,   # IN  (U, d + 1) smoothed sums, then counts
                 floating[:, ::1] W,            # IN/OUT (U, d)
                 int metric,
                 floating[::1] w_aux):          # OUT (U,)
    """``W[u] = numden[u, :d] / numden[u, d]``; a unit whose denominator is not
    above 1e-12 (no sample within its neighbourhood) keeps its weights."""
    cdef Py_ssize_t u, j, U = W.shape[0], d = W.shape[1]
    cdef double inv
    with nogil:
        for u in range(U):
            if numden[u, d] > 1e-12:
                inv = 1.0 / numden[u, d]
                for j in range(d):
                    W[u, j] = <floating> (numden[u, j] * inv)
            _unit_aux(&W[u, 0], d, metric, &w_aux[u])


# --------------------------------------------------------------------------
# online (sequential) map
# --------------------------------------------------------------------------
def online_epoch(const floating[:, ::1] X,      # IN  (n, d)
                 const Py_ssize_t[::1] order,   # IN  (m,) sample visited at each step
                 floating[:, ::1] W,            # IN/OUT (U, d)
                 floating[::1] w_aux,           # IN/OUT (U,)
                 const Py_ssize_t[:, ::1] cells,  # IN  (U, 2) (row, x) per unit
                 Py_ssize_t n_rows, Py_ssize_t width, bint periodic,
                 const double[::1] class_sq,    # IN  (n_classes,) squared distance per class
                 int metric, int kind, int decay,
                 double sigma_start, double sigma_end,
                 double lr_start, double lr_end,
                 double p_first, double p_last,
                 floating[::1] scratch):        # SCRATCH (2 U,)
    """One pass of sequential updates; returns the sum of BMU distances.

    Step t visits ``x = X[order[t]]`` at schedule progress
    ``p = p_first + (p_last - p_first) t / m``, finds its BMU b against the
    current map and moves every unit u within the neighbourhood's cut-off:
    ``w_u += lr(p) h(r(b, u)^2; sigma(p)) (x - w_u)``, with the squared grid
    distance looked up by distance class (``Grid.cells``,
    ``Grid.distance_classes``), so memory stays O(U d).  Only those units and
    their ``w_aux`` are touched.  ``w_aux`` is updated in closed form from the
    ``w.x`` products of the BMU search,
    ``||(1-c) w + c x||^2 = (1-c)^2 ||w||^2 + 2 c (1-c) w.x + c^2 ||x||^2``,
    so the caller should recompute it exactly (``unit_aux``) every epoch.
    Ctrl-C is honoured every few steps (about 2**22 multiply-adds of BMU
    search apart); the weights are then left part-way through the epoch.
    """
    cdef Py_ssize_t m = order.shape[0], U = W.shape[0], d = W.shape[1]
    cdef Py_ssize_t t, u, j, b, b2
    cdef double p, sigma, lr, h, cut2, dist, c, a, xx, n2, total = 0.0
    cdef floating coef
    cdef const floating *x
    cdef floating *wu
    cdef double g2
    cdef Py_ssize_t check = max(1, min(256, (1 << 22) // max(U * d, 1)))
    if scratch.shape[0] < 2 * U:
        raise ValueError(f"online_epoch: scratch must hold 2 * n_units = {2 * U} values, got "
                         f"{scratch.shape[0]} (see online_workspace)")
    with nogil:
        for t in range(m):
            x = &X[order[t], 0]
            p = p_first + (p_last - p_first) * (<double> t / m)
            sigma = _schedule(decay, sigma_start, sigma_end, p)
            lr = _schedule(decay, lr_start, lr_end, p)
            # scratch[u] = w_u . x (euclidean, cosine)
            _bmu_block(x, 1, d, &W[0, 0], U, &w_aux[0], metric, &scratch[0],
                       &scratch[U], &b, &b2, &dist)
            total += dist
            xx = 0.0
            if metric != MANHATTAN:
                for j in range(d):
                    xx += <double> x[j] * x[j]
            cut2 = _cutoff2(kind, sigma)
            for u in range(U):
                g2 = class_sq[_grid_class(&cells[b, 0], &cells[u, 0], n_rows, width, periodic)]
                if g2 > cut2:
                    continue
                h = _neighborhood(kind, g2, sigma)
                if h == 0.0:
                    continue
                c = lr * h
                coef = <floating> c
                wu = &W[u, 0]
                for j in range(d):
                    wu[j] = wu[j] + coef * (x[j] - wu[j])
                a = 1.0 - c
                if metric == EUCLIDEAN:
                    n2 = a * a * w_aux[u] + 2.0 * a * c * scratch[u] + c * c * xx
                    w_aux[u] = <floating> max(n2, 0.0)
                elif metric == COSINE:
                    n2 = 1.0 / (<double> w_aux[u] * w_aux[u]) if w_aux[u] > 0 else 0.0
                    n2 = a * a * n2 + 2.0 * a * c * scratch[u] + c * c * xx
                    w_aux[u] = <floating> (1.0 / sqrt(n2) if n2 > 0.0 else 0.0)
            if (t + 1) % check == 0:
                with gil:
                    PyErr_CheckSignals()
    return total
