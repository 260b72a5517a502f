/* Single-precision GEMM for CPUs with AVX2 + FMA but without AVX-512 (8-wide
 * vectors, 16 ymm registers), and for the products the AVX-512 kernel leaves
 * out (under 8 rows or 16 columns).  Included by _gemm.h; same operand
 * convention (strides, see there).
 *
 * The result of every element is defined by one summation order, the same as
 * the AVX-512 kernel's: depth blocks of FASTNUT_KC in order, each an FMA
 * chain k = k0, k0 + 1, ... started from zero, added to C block by block
 * (C = b_0, then C = C + b_1, ...); the prepacked entry sums all of K in one
 * chain.  Every register-block shape, packed or direct, masked or not,
 * AVX2 or AVX-512, computes exactly that, with explicit FMAs (gcc does not
 * contract at -O0), so a row's result never depends on the batch it comes in,
 * its position in it, nor on which of the two kernels ran.
 *
 * Blocking: B is copied into panels of 16 columns by KC rows (8 KB, stays in
 * L1 while every row block of A passes over it); the register block is 6 rows
 * x 16 columns (12 accumulators, 2 loads and 6 broadcasts per k).  Columns
 * left after the 16-wide panels go in one panel of 16 (9 to 15 left, the last
 * vector masked) or of 8 with 12-row blocks.  With few rows (see
 * FASTNUT2_DIRECT_ROWS) and a row-major B, packing would cost more than it
 * saves: blocks of 4 x 24, 2 x 48 or 1 x 64 read B in place (masked loads on
 * the last vector of a partial panel), like BLAS's matrix-vector path.
 */
#ifndef FASTNUT_GEMM_AVX2_H
#define FASTNUT_GEMM_AVX2_H
#include <stddef.h>
#include <string.h>
#include "_simd.h"

/* a row-major B is read in place (no packing) for products of fewer than
   FASTNUT2_DIRECT_ROWS rows, or of fewer than FASTNUT2_DIRECT_MAX_ROWS rows
   and at least 24 columns: the 4 x 24 block keeps B's lines in L2 and is as
   fast as the packed 6 x 16 there (16 x 784 x 256: ~80 vs ~67 GFLOP/s, a
   convolution's 16 x 400 x 196: ~84 vs ~67 here), and packing costs a pass
   over B that few rows do not amortise */
enum { FASTNUT2_DIRECT_ROWS = 8, FASTNUT2_DIRECT_MAX_ROWS = 32 };

#if FASTNUT_HAVE_AVX2
#include <immintrin.h>

#define FASTNUT2_TARGET __attribute__((target("avx2,fma")))

/* lanes 0 .. n-1 set (1 <= n <= 8) */
FASTNUT2_TARGET static inline __m256i fastnut2_mask(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* vector v of B's row at p; the last of NV under the mask when MB */
#define FASTNUT2_LOADB(p, v, NV, MB)                                                \
    ((MB) && (v) == (NV) - 1 ? _mm256_maskload_ps((p) + 8 * (v), bmask)            \
                             : _mm256_loadu_ps((p) + 8 * (v)))

/* the k loop of a micro-kernel, A(r, k) = A[r * AR + k * AC] */
#define FASTNUT2_MICRO_LOOP(R, NV, AR, AC, MB)                                      \
    for (k = 0; k < K; k++) {                                                       \
        const float *bk = Bp + k * ldb, *ak = A + k * (AC);                         \
        __m256 b[NV];                                                               \
        for (v = 0; v < NV; v++)                                                    \
            b[v] = FASTNUT2_LOADB(bk, v, NV, MB);                                   \
        for (r = 0; r < R; r++) {                                                   \
            const __m256 a = _mm256_set1_ps(ak[r * (AR)]);                          \
            for (v = 0; v < NV; v++)                                                \
                acc[r][v] = _mm256_fmadd_ps(a, b[v], acc[r][v]);                    \
        }                                                                           \
    }

/* C[R x 8 NV] (+)= sum_k A(r, k) B(k, :), B(k, :) at Bp + k * ldb; only the
   first ``lastn`` lanes of the last vector are read (when maskb) and stored
   (partial panels).  The loop is compiled once per layout of A (unit stride a
   literal) and with / without masked loads of B. */
#define FASTNUT2_MICRO(R, NV)                                                       \
FASTNUT2_TARGET static inline void                                                  \
fastnut2_micro_##R##_##NV(ptrdiff_t K, const float *A, ptrdiff_t a_row,             \
                          ptrdiff_t a_col, const float *Bp, ptrdiff_t ldb, float *C, \
                          ptrdiff_t ldc, int beta, int lastn, int maskb)            \
{                                                                                   \
    __m256 acc[R][NV];                                                              \
    const __m256i bmask = fastnut2_mask(lastn);                                     \
    ptrdiff_t k;                                                                    \
    int r, v;                                                                       \
    for (r = 0; r < R; r++)                                                         \
        for (v = 0; v < NV; v++)                                                    \
            acc[r][v] = _mm256_setzero_ps();                                        \
    if (maskb) {                                                                    \
        if (a_col == 1)                                                             \
            FASTNUT2_MICRO_LOOP(R, NV, a_row, 1, 1)                                 \
        else                                                                        \
            FASTNUT2_MICRO_LOOP(R, NV, a_row, a_col, 1)                             \
    } else if (a_col == 1)                                                          \
        FASTNUT2_MICRO_LOOP(R, NV, a_row, 1, 0)                                     \
    else if (a_row == 1)                                                            \
        FASTNUT2_MICRO_LOOP(R, NV, 1, a_col, 0)                                     \
    else                                                                            \
        FASTNUT2_MICRO_LOOP(R, NV, a_row, a_col, 0)                                 \
    for (r = 0; r < R; r++)                                                         \
        for (v = 0; v < NV; v++) {                                                  \
            float *c = C + r * ldc + 8 * v;                                         \
            if (v == NV - 1 && lastn < 8)                                           \
                _mm256_maskstore_ps(c, bmask, beta ? _mm256_add_ps(                 \
                    _mm256_maskload_ps(c, bmask), acc[r][v]) : acc[r][v]);          \
            else                                                                    \
                _mm256_storeu_ps(c, beta ? _mm256_add_ps(_mm256_loadu_ps(c),        \
                                                         acc[r][v]) : acc[r][v]);   \
        }                                                                           \
}

/* The main register block, 6 rows x 16 columns, with 12 named accumulators
   (through arrays gcc may shuffle accumulators between registers). */
#define FASTNUT2_ROW(a, c0, c1)                                                     \
    do {                                                                            \
        __m256 s_ = _mm256_set1_ps(a);                                              \
        c0 = _mm256_fmadd_ps(s_, b0, c0); c1 = _mm256_fmadd_ps(s_, b1, c1);         \
    } while (0)
#define FASTNUT2_LOOP6x16(AR, AC, MB)                                               \
    for (k = 0; k < K; k++) {                                                       \
        const float *bk = Bp + k * ldb;                                             \
        const __m256 b0 = _mm256_loadu_ps(bk);                                      \
        const __m256 b1 = (MB) ? _mm256_maskload_ps(bk + 8, bmask)                  \
                               : _mm256_loadu_ps(bk + 8);                           \
        const float *ak = A + k * (AC);                                             \
        FASTNUT2_ROW(ak[0], c00, c01);                                              \
        FASTNUT2_ROW(ak[(AR)], c10, c11);                                           \
        FASTNUT2_ROW(ak[2 * (AR)], c20, c21);                                       \
        FASTNUT2_ROW(ak[3 * (AR)], c30, c31);                                       \
        FASTNUT2_ROW(ak[4 * (AR)], c40, c41);                                       \
        FASTNUT2_ROW(ak[5 * (AR)], c50, c51);                                       \
    }
#define FASTNUT2_STORE2(row, c0, c1)                                                \
    do {                                                                            \
        float *p_ = C + (row) * ldc;                                                \
        if (beta) {                                                                 \
            c0 = _mm256_add_ps(_mm256_loadu_ps(p_), c0);                            \
            c1 = _mm256_add_ps(lastn < 8 ? _mm256_maskload_ps(p_ + 8, bmask)        \
                                         : _mm256_loadu_ps(p_ + 8), c1);            \
        }                                                                           \
        _mm256_storeu_ps(p_, c0);                                                   \
        if (lastn < 8)                                                              \
            _mm256_maskstore_ps(p_ + 8, bmask, c1);                                 \
        else                                                                        \
            _mm256_storeu_ps(p_ + 8, c1);                                           \
    } while (0)

FASTNUT2_TARGET static inline void
fastnut2_micro_6_2(ptrdiff_t K, const float *A, ptrdiff_t a_row, ptrdiff_t a_col,
                   const float *Bp, ptrdiff_t ldb, float *C, ptrdiff_t ldc, int beta,
                   int lastn, int maskb)
{
    const __m256i bmask = fastnut2_mask(lastn);
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00;
    __m256 c21 = c00, c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    ptrdiff_t k;
    if (maskb)
        FASTNUT2_LOOP6x16(a_row, a_col, 1)
    else if (a_col == 1)
        FASTNUT2_LOOP6x16(a_row, 1, 0)
    else if (a_row == 1)
        FASTNUT2_LOOP6x16(1, a_col, 0)
    else
        FASTNUT2_LOOP6x16(a_row, a_col, 0)
    FASTNUT2_STORE2(0, c00, c01);
    FASTNUT2_STORE2(1, c10, c11);
    FASTNUT2_STORE2(2, c20, c21);
    FASTNUT2_STORE2(3, c30, c31);
    FASTNUT2_STORE2(4, c40, c41);
    FASTNUT2_STORE2(5, c50, c51);
}
FASTNUT2_MICRO(4, 3)
FASTNUT2_MICRO(2, 6)
FASTNUT2_MICRO(1, 8)
FASTNUT2_MICRO(4, 2)
FASTNUT2_MICRO(2, 2)
FASTNUT2_MICRO(1, 2)
FASTNUT2_MICRO(12, 1)
FASTNUT2_MICRO(8, 1)
FASTNUT2_MICRO(4, 1)
FASTNUT2_MICRO(2, 1)
FASTNUT2_MICRO(1, 1)

/* Rows of the next register block for a panel of 8 nv columns: 12
   accumulators while the rows last (6 x 16, 12 x 8), then 8 (8-wide only),
   4, 2, 1.  Eight rows left of a 16-wide panel go as 4 + 4, not 6 + 2: a
   2-row block has 4 accumulators, too few to hide the FMA latency (a batch
   of 32 or 128 rows ends that way). */
static inline ptrdiff_t fastnut2_block_rows(int nv, ptrdiff_t left)
{
    const ptrdiff_t main = nv == 2 ? 6 : 12;
    if (nv == 2 && left == 8)
        return 4;
    if (left >= main)
        return main;
    if (nv == 1 && left >= 8)
        return 8;
    return left >= 4 ? 4 : left >= 2 ? 2 : 1;
}

/* the register block of R rows (from fastnut2_block_rows) x 8 nv columns */
FASTNUT2_TARGET static inline void
fastnut2_micro(int nv, ptrdiff_t R, ptrdiff_t K, const float *A, ptrdiff_t a_row,
               ptrdiff_t a_col, const float *Bp, ptrdiff_t ldb, float *C, ptrdiff_t ldc,
               int beta, int lastn, int maskb)
{
#define FASTNUT2_CASE(R_, NV_)                                                      \
    case R_:                                                                        \
        fastnut2_micro_##R_##_##NV_(K, A, a_row, a_col, Bp, ldb, C, ldc, beta, lastn, \
                                    maskb);                                         \
        return;
    if (nv == 2) {
        switch (R) { FASTNUT2_CASE(6, 2) FASTNUT2_CASE(4, 2) FASTNUT2_CASE(2, 2)
                     default: fastnut2_micro_1_2(K, A, a_row, a_col, Bp, ldb, C, ldc, beta,
                                                 lastn, maskb); }
        return;
    }
    switch (R) { FASTNUT2_CASE(12, 1) FASTNUT2_CASE(8, 1) FASTNUT2_CASE(4, 1)
                 FASTNUT2_CASE(2, 1)
                 default: fastnut2_micro_1_1(K, A, a_row, a_col, Bp, ldb, C, ldc, beta,
                                             lastn, maskb); }
#undef FASTNUT2_CASE
}

/* The direct path (few rows, B read in place): blocks of 4 x 24, 2 x 48 or
   1 x 64 (8 to 12 independent accumulators: with fewer, the FMA latency
   bounds a single row's product), columns left over in 16s, then the last 1
   to 16 under a mask. */
FASTNUT2_TARGET static inline void
fastnut2_sgemm_direct(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const float *A, ptrdiff_t a_row,
                      ptrdiff_t a_col, const float *B, ptrdiff_t b_row, float *C,
                      ptrdiff_t ldc, int beta)
{
    ptrdiff_t k0, i, j, R, w;
    for (k0 = 0; k0 < K; k0 += FASTNUT_KC) {
        const ptrdiff_t kc = K - k0 < FASTNUT_KC ? K - k0 : FASTNUT_KC;
        const float *Ak = A + k0 * a_col, *Bk = B + k0 * b_row;
        const int bb = beta || k0 > 0;
        for (i = 0; i < M; i += R) {
            const float *Ai = Ak + i * a_row;
            float *Ci = C + i * ldc;
            R = M - i >= 4 ? 4 : M - i >= 2 ? 2 : 1;
            const ptrdiff_t wide = R == 4 ? 24 : R == 2 ? 48 : 64;
            for (j = 0; j < N; j += w) {
                const ptrdiff_t left = N - j;
                if (left >= wide) {
                    w = wide;
                    if (R == 4)
                        fastnut2_micro_4_3(kc, Ai, a_row, a_col, Bk + j, b_row, Ci + j, ldc,
                                           bb, 8, 0);
                    else if (R == 2)
                        fastnut2_micro_2_6(kc, Ai, a_row, a_col, Bk + j, b_row, Ci + j, ldc,
                                           bb, 8, 0);
                    else
                        fastnut2_micro_1_8(kc, Ai, a_row, a_col, Bk + j, b_row, Ci + j, ldc,
                                           bb, 8, 0);
                } else {
                    const int nv = left > 8 ? 2 : 1;
                    w = left > 16 ? 16 : left;
                    fastnut2_micro(nv, R, kc, Ai, a_row, a_col, Bk + j, b_row, Ci + j, ldc,
                                   bb, (int)(w - 8 * (nv - 1)), w < 8 * nv);
                }
            }
        }
    }
}

/* dst[c * ld_dst + r] = src[r * ld_src + c] for r, c < 8: an 8 x 8 block
   transposed in registers (unpack, shuffle, then swap 128-bit halves) */
FASTNUT2_TARGET static inline void
fastnut2_transpose8(const float *src, ptrdiff_t ld_src, float *dst, ptrdiff_t ld_dst)
{
    __m256 r[8], t[8];
    int i;
    for (i = 0; i < 8; i++)
        r[i] = _mm256_loadu_ps(src + i * ld_src);
    for (i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (i = 0; i < 8; i += 4) {
        r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    /* r[c] (c < 4): column c of rows 0-3 in the low half, of column c + 4 in
       the high half; r[4 + c] likewise for rows 4-7 */
    for (i = 0; i < 4; i++) {
        _mm256_storeu_ps(dst + i * ld_dst, _mm256_permute2f128_ps(r[i], r[4 + i], 0x20));
        _mm256_storeu_ps(dst + (4 + i) * ld_dst,
                         _mm256_permute2f128_ps(r[i], r[4 + i], 0x31));
    }
}

/* dst[k * W + jj] = B(k0 + k, j0 + jj) for jj < w, zero for w <= jj < W */
FASTNUT2_TARGET static inline void
fastnut2_pack_panel(ptrdiff_t kc, ptrdiff_t w, ptrdiff_t W, const float *B, ptrdiff_t b_row,
                    ptrdiff_t b_col, ptrdiff_t k0, ptrdiff_t j0, float *dst)
{
    ptrdiff_t k, jj;
    if (b_col == 1 && w == W) {
        if (W == 16)
            for (k = 0; k < kc; k++) {
                const float *s = B + (k0 + k) * b_row + j0;
                _mm256_store_ps(dst + k * 16, _mm256_loadu_ps(s));
                _mm256_store_ps(dst + k * 16 + 8, _mm256_loadu_ps(s + 8));
            }
        else
            for (k = 0; k < kc; k++)
                _mm256_store_ps(dst + k * 8, _mm256_loadu_ps(B + (k0 + k) * b_row + j0));
        return;
    }
    if (b_col == 1) {
        for (k = 0; k < kc; k++) {
            memcpy(dst + k * W, B + (k0 + k) * b_row + j0, (size_t)w * sizeof(float));
            for (jj = w; jj < W; jj++)
                dst[k * W + jj] = 0;
        }
        return;
    }
    k = 0;
    if (b_row == 1 && w == W)
        /* B read transposed (dX = D W^T): 8 x 8 blocks transposed in registers */
        for (; k + 8 <= kc; k += 8)
            for (jj = 0; jj < W; jj += 8)
                fastnut2_transpose8(B + (j0 + jj) * b_col + k0 + k, b_col, dst + k * W + jj, W);
    for (jj = 0; jj < w; jj++) {
        const float *src = B + (j0 + jj) * b_col + k0 * b_row;
        ptrdiff_t q;
        for (q = k; q < kc; q++)
            dst[q * W + jj] = src[q * b_row];
    }
    for (; k < kc; k++)
        for (jj = w; jj < W; jj++)
            dst[k * W + jj] = 0;
}

/* fastnut2_sgemm on at most FASTNUT_MC rows */
FASTNUT2_TARGET static inline void
fastnut2_sgemm_rows(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const float *A, ptrdiff_t a_row,
                    ptrdiff_t a_col, const float *B, ptrdiff_t b_row, ptrdiff_t b_col,
                    float *C, ptrdiff_t ldc, int beta, float *work)
{
    ptrdiff_t j0, k0, i, R;
    float *panel = (float *)(((size_t)work + 63) & ~(size_t)63);
    if (b_col == 1 && (M < FASTNUT2_DIRECT_ROWS || (M < FASTNUT2_DIRECT_MAX_ROWS && N >= 24))) {
        fastnut2_sgemm_direct(M, N, K, A, a_row, a_col, B, b_row, C, ldc, beta);
        return;
    }
    /* depth blocks outermost (the order of the per-element sum is by k0
       anyway): a block of A (rows x KC) stays in L2 while every panel of B
       passes over it, instead of all of A once per panel */
    for (k0 = 0; k0 < K; k0 += FASTNUT_KC) {
        const ptrdiff_t kc = K - k0 < FASTNUT_KC ? K - k0 : FASTNUT_KC;
        const float *Ak = A + k0 * a_col;
        const int bb = beta || k0 > 0;
        for (j0 = 0; j0 < N; ) {
            /* panels of 16 columns; 9 to 15 left: one of 16, the last vector
               partial; 8 or fewer: one of 8 */
            const ptrdiff_t W = N - j0 > 8 ? 16 : 8, w = N - j0 < W ? N - j0 : W;
            const int nv = (int)(W / 8), lastn = (int)(w - (W - 8));
            fastnut2_pack_panel(kc, w, W, B, b_row, b_col, k0, j0, panel);
            /* row-major B: the next panel's lines start loading while this
               one is used (the weights come from L3 at every training step),
               spread over the row blocks */
            const ptrdiff_t n_next = b_col == 1 && j0 + w < N ? kc : 0;
            const ptrdiff_t per = n_next / ((M + 5) / 6) + 1;
            ptrdiff_t next = 0, q;
            for (i = 0; i < M; i += R) {
                R = fastnut2_block_rows(nv, M - i);
                for (q = 0; q < per && next < n_next; q++, next++)
                    __builtin_prefetch(B + (k0 + next) * b_row + j0 + w, 0, 3);
                fastnut2_micro(nv, R, kc, Ak + i * a_row, a_row, a_col, panel, W,
                               C + i * ldc + j0, ldc, bb, lastn, 0);
            }
            j0 += w;
        }
    }
}

/* C = op(A) op(B) (+ C when beta), any M, N, K >= 0; work:
   fastnut_sgemm_scratch(K) floats.  Needs fastnut_have_avx2(). */
static inline void fastnut2_sgemm(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,
                                  const float *A, ptrdiff_t a_row, ptrdiff_t a_col,
                                  const float *B, ptrdiff_t b_row, ptrdiff_t b_col,
                                  float *C, ptrdiff_t ldc, int beta, float *work)
{
    ptrdiff_t n_chunks = (M + FASTNUT_MC - 1) / FASTNUT_MC, i0, mc;
    mc = n_chunks > 1 ? ((M + n_chunks - 1) / n_chunks + 5) / 6 * 6 : M;
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) {   /* an empty sum */
        if (!beta)
            for (i0 = 0; i0 < M; i0++)
                memset(C + i0 * ldc, 0, (size_t)N * sizeof(float));
        return;
    }
    for (i0 = 0; i0 < M; i0 += mc)
        fastnut2_sgemm_rows(M - i0 < mc ? M - i0 : mc, N, K, A + i0 * a_row, a_row, a_col,
                            B, b_row, b_col, C + i0 * ldc, ldc, beta, work);
}

/* C (M x N) = A (M x K, row stride lda) Bp (+ C when beta), Bp packed once by
   the caller with fastnut_packed_index (any N).  Needs fastnut_have_avx2(). */
FASTNUT2_TARGET static inline void
fastnut2_sgemm_prepacked(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const float *A, ptrdiff_t lda,
                         const float *Bp, int beta, float *C, ptrdiff_t ldc)
{
    ptrdiff_t j0 = 0, i, R, s;
    for (; j0 + 64 <= N; j0 += 64)
        for (s = 0; s < 64; s += 16)
            for (i = 0; i < M; i += R) {
                R = fastnut2_block_rows(2, M - i);
                fastnut2_micro(2, R, K, A + i * lda, lda, 1, Bp + j0 * K + s, 64,
                               C + i * ldc + j0 + s, ldc, beta, 8, 0);
            }
    for (; j0 + 16 <= N; j0 += 16)
        for (i = 0; i < M; i += R) {
            R = fastnut2_block_rows(2, M - i);
            fastnut2_micro(2, R, K, A + i * lda, lda, 1, Bp + j0 * K, 16, C + i * ldc + j0,
                           ldc, beta, 8, 0);
        }
    if (j0 < N) {   /* the last N % 16 columns, packed w wide */
        const ptrdiff_t w = N - j0;
        const int nv = w > 8 ? 2 : 1, lastn = (int)(w - 8 * (nv - 1));
        for (i = 0; i < M; i += R) {
            R = fastnut2_block_rows(nv, M - i);
            fastnut2_micro(nv, R, K, A + i * lda, lda, 1, Bp + j0 * K, w, C + i * ldc + j0,
                           ldc, beta, lastn, lastn < 8);
        }
    }
}

#endif  /* FASTNUT_HAVE_AVX2 */
#endif
