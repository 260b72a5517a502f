/* Single-precision GEMM for the engine's float32 layers: the AVX-512 kernel
 * (this file) and the AVX2 + FMA kernel (_gemm_avx2.h), picked at run time.
 *
 * Why fastnut has its own: the engine multiplies a mini-batch (tens to a few
 * hundred rows) by a weight matrix that fits in L2.  At those shapes BLAS
 * reaches 115-140 GFLOP/s on one core of an AVX-512 machine; this kernel,
 * blocked for exactly that case, reaches 150-170 of the core's ~200
 * (`python -m benchmarks gemm`, benchmarks/RESULTS.md).  And BLAS's result
 * for a row depends on the batch it comes in and its position there (its
 * edge blocks sum in another order), so a sample's prediction would too.
 *
 * The contract, shared by both kernels: every element is the same sum in the
 * same order (depth blocks of FASTNUT_KC, each an FMA chain from zero, added
 * to C in order), whatever the register block, the batch or the ISA; see
 * _gemm_avx2.h.  fastnut_sgemm / fastnut_sgemm_prepacked dispatch: the
 * AVX-512 kernel for products of at least 8 rows and 16 columns on a CPU
 * with it, else the AVX2 kernel (which has a direct path for few rows); the
 * caller uses BLAS when fastnut_gemm_kernel() is 0 (no AVX2 + FMA, or
 * FASTNUT_DISABLE_AVX2) and for float64.
 *
 *   C (M x N, row-major, row stride ldc) = op(A) op(B)  (+ C when beta)
 *
 * Operands are given by strides, which is how the transposes are expressed:
 * A(i, k) = A[i * a_row + k * a_col] and B(k, j) = B[k * b_row + j * b_col].
 * So Y = X W is (a_row=K, a_col=1), dW = X^T D is (a_row=1, a_col=ldX), and
 * dX = D W^T reads B with (b_row=1, b_col=ldW).
 *
 * AVX-512 blocking: B is copied into panels of 64 columns by KC rows (32 KB,
 * stays in L1 while every row block of A passes over it); the register block
 * is 6 rows x 64 columns (24 zmm accumulators, 4 loads and 6 broadcasts per
 * k).  The columns left after the 64-wide panels (a hidden layer of 100: 36)
 * go in one panel of 16, 32 or 48, zero-padded to it, with blocks of 24 x 16,
 * 12 x 32 or 8 x 48 (still 24 accumulators); the padding is never stored
 * (masked stores).  Everything runs on the calling thread; dense.pyx splits
 * rows over threads.
 *
 * The RNN kernels pack their recurrent weights once per sequence in one
 * panel layout (fastnut_packed_index) and call fastnut_sgemm_prepacked.
 */
#ifndef FASTNUT_GEMM_H
#define FASTNUT_GEMM_H
#include <stddef.h>
#include <string.h>
#include "_simd.h"

/* depth block; rows per chunk of A kept in L2 while the panels of B pass */
enum { FASTNUT_KC = 128, FASTNUT_MC = 240 };

/* floats of scratch fastnut_sgemm needs (the packed panel and slack to align
   it to 64 bytes: unaligned, every vector load of it straddles two cache
   lines, ~15% slower) */
static inline ptrdiff_t fastnut_sgemm_scratch(ptrdiff_t K)
{
    (void)K;
    return FASTNUT_KC * 64 + 16;
}

/* Where element (k, j) of a K x N matrix goes in the prepacked layout: panels
   of 64 columns, then of 16, then one of the N % 16 columns left, each
   stored k-major and contiguous (panel j0 starts at j0 * K); K * N floats. */
static inline ptrdiff_t fastnut_packed_index(ptrdiff_t K, ptrdiff_t N, ptrdiff_t k, ptrdiff_t j)
{
    ptrdiff_t n64 = N / 64 * 64, n16 = N / 16 * 16;
    if (j < n64)
        return (j / 64) * 64 * K + k * 64 + j % 64;
    if (j < n16)
        return n64 * K + ((j - n64) / 16) * 16 * K + k * 16 + (j - n64) % 16;
    return n16 * K + k * (N - n16) + (j - n16);
}

#if FASTNUT_HAVE_AVX512
#include <immintrin.h>

/* the k loop of a micro-kernel, A(r, k) = A[r * AR + k * AC] */
#define FASTNUT_MICRO_LOOP(R, NV, AR, AC)                                           \
    for (k = 0; k < K; k++) {                                                       \
        const float *bk = Bp + k * (16 * NV), *ak = A + k * (AC);                   \
        __m512 b[NV];                                                               \
        for (v = 0; v < NV; v++)                                                    \
            b[v] = _mm512_loadu_ps(bk + 16 * v);                                    \
        for (r = 0; r < R; r++) {                                                   \
            const __m512 a = _mm512_set1_ps(ak[r * (AR)]);                          \
            for (v = 0; v < NV; v++)                                                \
                acc[r][v] = _mm512_fmadd_ps(a, b[v], acc[r][v]);                    \
        }                                                                           \
    }

/* C[R x 16 NV] (+)= sum_k A(r, k) Bp[k, :], Bp a packed panel of width 16 NV;
   only the lanes of ``last`` are stored in the last 16 columns (a panel
   zero-padded past the end of C's rows).
   The loop is compiled once per layout of A with its unit stride a literal.
   Every block shape uses explicit FMAs (never a compiler's contraction, which
   -O0 debug builds skip), so a row's result does not depend on the block it
   falls in, that is on the batch it is predicted in. */
#define FASTNUT_MICRO(R, NV)                                                        \
__attribute__((target("avx512f,fma"))) static inline void                            \
fastnut_micro_##R##_##NV(ptrdiff_t K, const float *A, ptrdiff_t a_row,               \
                         ptrdiff_t a_col, const float *Bp, float *C, ptrdiff_t ldc, \
                         int beta, __mmask16 last)                                  \
{                                                                                   \
    __m512 acc[R][NV];                                                              \
    ptrdiff_t k;                                                                    \
    int r, v;                                                                       \
    for (r = 0; r < R; r++)                                                         \
        for (v = 0; v < NV; v++)                                                    \
            acc[r][v] = _mm512_setzero_ps();                                        \
    if (a_col == 1)                                                                 \
        FASTNUT_MICRO_LOOP(R, NV, a_row, 1)                                         \
    else if (a_row == 1)                                                            \
        FASTNUT_MICRO_LOOP(R, NV, 1, a_col)                                         \
    else                                                                            \
        FASTNUT_MICRO_LOOP(R, NV, a_row, a_col)                                     \
    for (r = 0; r < R; r++)                                                         \
        for (v = 0; v < NV; v++) {                                                  \
            float *c = C + r * ldc + 16 * v;                                        \
            const __mmask16 m_ = v == NV - 1 ? last : (__mmask16)0xFFFF;            \
            _mm512_mask_storeu_ps(c, m_, beta ? _mm512_add_ps(                      \
                _mm512_maskz_loadu_ps(m_, c), acc[r][v]) : acc[r][v]);              \
        }                                                                           \
}

/* The main register block, 6 rows x 64 columns, with 24 named accumulators:
   through arrays as above, gcc shuffles accumulators between registers inside
   the loop (~10% slower). */
#define FASTNUT_ROW6x64(a, c0, c1, c2, c3)                                         \
    do {                                                                            \
        __m512 s_ = _mm512_set1_ps(a);                                              \
        c0 = _mm512_fmadd_ps(s_, b0, c0); c1 = _mm512_fmadd_ps(s_, b1, c1);         \
        c2 = _mm512_fmadd_ps(s_, b2, c2); c3 = _mm512_fmadd_ps(s_, b3, c3);         \
    } while (0)
#define FASTNUT_LOOP6x64(AC)                                                        \
    for (k = 0; k < K; k++, Bp += 64) {                                             \
        const __m512 b0 = _mm512_load_ps(Bp), b1 = _mm512_load_ps(Bp + 16);         \
        const __m512 b2 = _mm512_load_ps(Bp + 32), b3 = _mm512_load_ps(Bp + 48);    \
        const ptrdiff_t o_ = k * (AC);                                              \
        FASTNUT_ROW6x64(a0[o_], c00, c01, c02, c03);                                \
        FASTNUT_ROW6x64(a1[o_], c10, c11, c12, c13);                                \
        FASTNUT_ROW6x64(a2[o_], c20, c21, c22, c23);                                \
        FASTNUT_ROW6x64(a3[o_], c30, c31, c32, c33);                                \
        FASTNUT_ROW6x64(a4[o_], c40, c41, c42, c43);                                \
        FASTNUT_ROW6x64(a5[o_], c50, c51, c52, c53);                                \
    }
#define FASTNUT_STORE4(row, c0, c1, c2, c3)                                         \
    do {                                                                            \
        float *p_ = C + (row) * ldc;                                                \
        if (beta) {                                                                 \
            c0 = _mm512_add_ps(c0, _mm512_loadu_ps(p_));                            \
            c1 = _mm512_add_ps(c1, _mm512_loadu_ps(p_ + 16));                       \
            c2 = _mm512_add_ps(c2, _mm512_loadu_ps(p_ + 32));                       \
            c3 = _mm512_add_ps(c3, _mm512_maskz_loadu_ps(last, p_ + 48));           \
        }                                                                           \
        _mm512_storeu_ps(p_, c0); _mm512_storeu_ps(p_ + 16, c1);                    \
        _mm512_storeu_ps(p_ + 32, c2); _mm512_mask_storeu_ps(p_ + 48, last, c3);    \
    } while (0)

__attribute__((target("avx512f,fma"))) static inline void
fastnut_micro_6_4(ptrdiff_t K, const float *A, ptrdiff_t a_row, ptrdiff_t a_col,
                  const float *Bp, float *C, ptrdiff_t ldc, int beta, __mmask16 last)
{
    const float *a0 = A, *a1 = A + a_row, *a2 = A + 2 * a_row, *a3 = A + 3 * a_row;
    const float *a4 = A + 4 * a_row, *a5 = A + 5 * a_row;
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c02 = c00, c03 = c00;
    __m512 c10 = c00, c11 = c00, c12 = c00, c13 = c00, c20 = c00, c21 = c00, c22 = c00;
    __m512 c23 = c00, c30 = c00, c31 = c00, c32 = c00, c33 = c00, c40 = c00, c41 = c00;
    __m512 c42 = c00, c43 = c00, c50 = c00, c51 = c00, c52 = c00, c53 = c00;
    ptrdiff_t k;
    if (a_col == 1)
        FASTNUT_LOOP6x64(1)
    else
        FASTNUT_LOOP6x64(a_col)
    FASTNUT_STORE4(0, c00, c01, c02, c03);
    FASTNUT_STORE4(1, c10, c11, c12, c13);
    FASTNUT_STORE4(2, c20, c21, c22, c23);
    FASTNUT_STORE4(3, c30, c31, c32, c33);
    FASTNUT_STORE4(4, c40, c41, c42, c43);
    FASTNUT_STORE4(5, c50, c51, c52, c53);
}
FASTNUT_MICRO(4, 4)
FASTNUT_MICRO(2, 4)
FASTNUT_MICRO(1, 4)
FASTNUT_MICRO(8, 3)
FASTNUT_MICRO(4, 3)
FASTNUT_MICRO(2, 3)
FASTNUT_MICRO(1, 3)
FASTNUT_MICRO(12, 2)
FASTNUT_MICRO(4, 2)
FASTNUT_MICRO(2, 2)
FASTNUT_MICRO(1, 2)
FASTNUT_MICRO(24, 1)
FASTNUT_MICRO(8, 1)
FASTNUT_MICRO(4, 1)
FASTNUT_MICRO(2, 1)
FASTNUT_MICRO(1, 1)

/* Rows of the next register block for a panel of 16 nv columns: 24
   accumulators whatever the width (6 x 64, 8 x 48, 12 x 32, 24 x 16) while
   the rows last, then 8 (16-wide only), 4, 2, 1. */
static inline ptrdiff_t fastnut_block_rows(int nv, ptrdiff_t left)
{
    const ptrdiff_t main = nv == 4 ? 6 : nv == 3 ? 8 : nv == 2 ? 12 : 24;
    if (left >= main)
        return main;
    if (nv == 1 && left >= 8)
        return 8;
    return left >= 4 ? 4 : left >= 2 ? 2 : 1;
}

/* the register block of R rows (from fastnut_block_rows) x 16 nv columns, the
   last 16 stored under the mask ``last`` */
__attribute__((target("avx512f,fma"))) static inline void
fastnut_micro(int nv, ptrdiff_t R, ptrdiff_t K, const float *A, ptrdiff_t a_row,
              ptrdiff_t a_col, const float *Bp, float *C, ptrdiff_t ldc, int beta,
              __mmask16 last)
{
#define FASTNUT_CASE(R_, NV_)                                                       \
    case R_:                                                                        \
        fastnut_micro_##R_##_##NV_(K, A, a_row, a_col, Bp, C, ldc, beta, last);     \
        return;
    switch (nv) {
    case 4:
        switch (R) { FASTNUT_CASE(6, 4) FASTNUT_CASE(4, 4) FASTNUT_CASE(2, 4)
                     default: fastnut_micro_1_4(K, A, a_row, a_col, Bp, C, ldc, beta, last); }
        return;
    case 3:
        switch (R) { FASTNUT_CASE(8, 3) FASTNUT_CASE(4, 3) FASTNUT_CASE(2, 3)
                     default: fastnut_micro_1_3(K, A, a_row, a_col, Bp, C, ldc, beta, last); }
        return;
    case 2:
        switch (R) { FASTNUT_CASE(12, 2) FASTNUT_CASE(4, 2) FASTNUT_CASE(2, 2)
                     default: fastnut_micro_1_2(K, A, a_row, a_col, Bp, C, ldc, beta, last); }
        return;
    default:
        switch (R) { FASTNUT_CASE(24, 1) FASTNUT_CASE(8, 1) FASTNUT_CASE(4, 1)
                     FASTNUT_CASE(2, 1)
                     default: fastnut_micro_1_1(K, A, a_row, a_col, Bp, C, ldc, beta, last); }
        return;
    }
#undef FASTNUT_CASE
}

/* dst[c * ld_dst + r] = src[r * ld_src + c] for r, c < 16: a 16 x 16 block
   transposed in registers (64 shuffles, four stages of 2x2 block swaps) */
__attribute__((target("avx512f"))) static inline void
fastnut_transpose16(const float *src, ptrdiff_t ld_src, float *dst, ptrdiff_t ld_dst)
{
    __m512 r[16], t[16];
    int i, c;
    for (i = 0; i < 16; i++)
        r[i] = _mm512_loadu_ps(src + i * ld_src);
    for (i = 0; i < 16; i += 2) {   /* pairs of rows interleaved per 128-bit lane */
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (i = 0; i < 16; i += 4) {   /* r[i + c]: rows i..i+3 of column 4L + c in lane L */
        r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i]),
                                                   _mm512_castps_pd(t[i + 2])));
        r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i]),
                                                       _mm512_castps_pd(t[i + 2])));
        r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i + 1]),
                                                       _mm512_castps_pd(t[i + 3])));
        r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i + 1]),
                                                       _mm512_castps_pd(t[i + 3])));
    }
    for (c = 0; c < 4; c++) {       /* gather lane L of the four row groups */
        __m512 x = _mm512_shuffle_f32x4(r[c], r[4 + c], 0x44);
        __m512 y = _mm512_shuffle_f32x4(r[c], r[4 + c], 0xEE);
        __m512 x2 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0x44);
        __m512 y2 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0xEE);
        _mm512_storeu_ps(dst + c * ld_dst, _mm512_shuffle_f32x4(x, x2, 0x88));
        _mm512_storeu_ps(dst + (4 + c) * ld_dst, _mm512_shuffle_f32x4(x, x2, 0xDD));
        _mm512_storeu_ps(dst + (8 + c) * ld_dst, _mm512_shuffle_f32x4(y, y2, 0x88));
        _mm512_storeu_ps(dst + (12 + c) * ld_dst, _mm512_shuffle_f32x4(y, y2, 0xDD));
    }
}

/* dst[k * W + jj] = B(k0 + k, j0 + jj) for jj < w, zero for w <= jj < W */
__attribute__((target("avx512f"))) static inline void
fastnut_pack_panel(ptrdiff_t kc, ptrdiff_t w, ptrdiff_t W, const float *B, ptrdiff_t b_row,
                   ptrdiff_t b_col, ptrdiff_t k0, ptrdiff_t j0, float *dst)
{
    ptrdiff_t k, jj;
    if (b_col == 1 && w == W) {
        /* fixed-size copies compile to a few vector moves; a memcpy call per
           256-byte row costs ~15% of the forward product */
#define FASTNUT_COPY_ROWS(W_)                                                       \
        for (k = 0; k < kc; k++)                                                    \
            memcpy(dst + k * (W_), B + (k0 + k) * b_row + j0, (W_) * sizeof(float));
        switch (W) {
        case 64: FASTNUT_COPY_ROWS(64) break;
        case 48: FASTNUT_COPY_ROWS(48) break;
        case 32: FASTNUT_COPY_ROWS(32) break;
        default: FASTNUT_COPY_ROWS(16) break;
        }
#undef FASTNUT_COPY_ROWS
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
    if (w == W && 16 * b_col < 0x7fffffff) {
        /* B read transposed (dX = D W^T): 16 x 16 blocks transposed in
           registers, the depth left over gathered 16 columns at a time (a
           scalar copy costs ~20% of the product, gathers ~10%) */
        const __m512i idx = _mm512_mullo_epi32(
            _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
            _mm512_set1_epi32((int)b_col));
        k = 0;
        if (b_row == 1)
            for (; k + 16 <= kc; k += 16)
                for (jj = 0; jj < W; jj += 16)
                    fastnut_transpose16(B + (j0 + jj) * b_col + k0 + k, b_col,
                                        dst + k * W + jj, W);
        for (; k < kc; k++)
            for (jj = 0; jj < W; jj += 16)
                _mm512_storeu_ps(dst + k * W + jj,
                                 _mm512_i32gather_ps(idx, B + (k0 + k) * b_row
                                                     + (j0 + jj) * b_col, 4));
        return;
    }
    for (jj = 0; jj < w; jj++) {
        const float *src = B + (j0 + jj) * b_col + k0 * b_row;
        for (k = 0; k < kc; k++)
            dst[k * W + jj] = src[k * b_row];
    }
    for (k = 0; k < kc; k++)
        for (jj = w; jj < W; jj++)
            dst[k * W + jj] = 0;
}

/* fastnut512_sgemm on at most FASTNUT_MC rows */
__attribute__((target("avx512f,fma")))
static inline void fastnut512_sgemm_rows(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,
                               const float *A, ptrdiff_t a_row, ptrdiff_t a_col,
                               const float *B, ptrdiff_t b_row, ptrdiff_t b_col,
                               float *C, ptrdiff_t ldc, int beta, float *work)
{
    ptrdiff_t j0, k0, i, r, R;
    float *panel = (float *)(((size_t)work + 63) & ~(size_t)63);
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) {   /* an empty sum */
        if (!beta)
            for (i = 0; i < M; i++)
                memset(C + i * ldc, 0, (size_t)N * sizeof(float));
        return;
    }
    for (j0 = 0; j0 < N; ) {
        /* panels of 64 columns; what is left (under 64) in one panel of 16,
           32 or 48, zero-padded to that width */
        ptrdiff_t W = N - j0 >= 64 ? 64 : (N - j0 + 15) / 16 * 16;
        ptrdiff_t w = N - j0 < W ? N - j0 : W;
        const int nv = (int)(W / 16);
        const __mmask16 last = (__mmask16)((1u << (w - (W - 16))) - 1);
        for (k0 = 0; k0 < K; k0 += FASTNUT_KC) {
            ptrdiff_t kc = K - k0 < FASTNUT_KC ? K - k0 : FASTNUT_KC;
            const float *Ak = A + k0 * a_col;
            int bb = beta || k0 > 0;
            fastnut_pack_panel(kc, w, W, B, b_row, b_col, k0, j0, panel);
            /* the next block's rows of B (row-major B: the weights in Y = X W)
               start loading while this one is used: a layer's weights come
               from L3 at every step (the optimizer's streams evict them from
               L2), ~8% of the forward product when not hidden */
            ptrdiff_t nk0 = k0 + kc < K ? k0 + kc : 0, nj0 = k0 + kc < K ? j0 : j0 + w;
            ptrdiff_t n_next = nj0 < N && b_col == 1 ? (K - nk0 < FASTNUT_KC ? K - nk0
                                                                           : FASTNUT_KC) : 0;
            ptrdiff_t per = n_next / ((M + 5) / 6) + 1, next = 0, q, a_next = 16;
            for (i = 0; i < M; i += R) {
                R = fastnut_block_rows(nv, M - i);
                for (r = 0; r < per && next < n_next; r++, next++)
                    for (q = 0; q < 64 && nj0 + q < N; q += 16)
                        __builtin_prefetch(B + (nk0 + next) * b_row + nj0 + q, 0, 3);
                /* transposed A (dW = X^T D): a cache line holds 16 rows of the
                   product, read once per k; on the first panel, load the next
                   16 rows' lines (one per k) before the blocks reach them */
                if (a_row == 1 && j0 == 0 && i + 8 >= a_next && a_next < M) {
                    for (q = 0; q < kc; q++)
                        __builtin_prefetch(Ak + a_next + q * a_col, 0, 3);
                    a_next += 16;
                }
                fastnut_micro(nv, R, kc, Ak + i * a_row, a_row, a_col, panel,
                              C + i * ldc + j0, ldc, bb, last);
            }
        }
        j0 += w;
    }
}

/* C = op(A) op(B) (+ C when beta); work: fastnut_sgemm_scratch(K) floats.
   Needs fastnut_have_avx512().  Rows go in chunks of FASTNUT_MC so that a
   chunk of A stays in L2 while every panel of B passes over it (B is packed
   again per chunk, ~5% of the chunk's arithmetic). */
static inline void fastnut512_sgemm(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,
                                 const float *A, ptrdiff_t a_row, ptrdiff_t a_col,
                                 const float *B, ptrdiff_t b_row, ptrdiff_t b_col,
                                 float *C, ptrdiff_t ldc, int beta, float *work)
{
    /* equal chunks of whole register blocks, none above FASTNUT_MC rows */
    ptrdiff_t n_chunks = (M + FASTNUT_MC - 1) / FASTNUT_MC, i0, mc;
    mc = n_chunks > 1 ? ((M + n_chunks - 1) / n_chunks + 5) / 6 * 6 : M;
    if (M <= 0 || N <= 0)
        return;
    for (i0 = 0; i0 < M; i0 += mc)
        fastnut512_sgemm_rows(M - i0 < mc ? M - i0 : mc, N, K, A + i0 * a_row, a_row, a_col,
                           B, b_row, b_col, C + i0 * ldc, ldc, beta, work);
}

/* C (M x N) = A (M x K, row stride lda) Bp (+ C when beta), Bp packed once by
   the caller with fastnut_packed_index; N a multiple of 16.  Needs
   fastnut_have_avx512(). */
__attribute__((target("avx512f,fma")))
static inline void fastnut512_sgemm_prepacked(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,
                                    const float *A, ptrdiff_t lda, const float *Bp,
                                    int beta, float *C, ptrdiff_t ldc)
{
    ptrdiff_t j0 = 0, i, R;
    for (; j0 + 64 <= N; j0 += 64)
        for (i = 0; i < M; i += R) {
            R = fastnut_block_rows(4, M - i);
            fastnut_micro(4, R, K, A + i * lda, lda, 1, Bp + j0 * K, C + i * ldc + j0, ldc,
                          beta, 0xFFFF);
        }
    for (; j0 < N; j0 += 16)
        for (i = 0; i < M; i += R) {
            R = fastnut_block_rows(1, M - i);
            fastnut_micro(1, R, K, A + i * lda, lda, 1, Bp + j0 * K, C + i * ldc + j0, ldc,
                          beta, 0xFFFF);
        }
}

#endif  /* FASTNUT_HAVE_AVX512 */

#include "_gemm_avx2.h"

/* Which GEMM kernel runs float32 products here: 2 AVX-512 (with the AVX2
   kernel for products under 8 rows or 16 columns), 1 AVX2 + FMA, 0 none (the
   callers use BLAS).  FASTNUT_DISABLE_AVX512 / FASTNUT_DISABLE_AVX2 step
   down (_simd.h). */
static inline int fastnut_gemm_kernel(void)
{
    return fastnut_have_avx512() ? 2 : fastnut_have_avx2() ? 1 : 0;
}

/* C = op(A) op(B) (+ C when beta), any shape; work: fastnut_sgemm_scratch(K)
   floats.  Needs fastnut_gemm_kernel() > 0.  Both kernels give the same
   bits, so the split by shape does not show in the results. */
static inline void fastnut_sgemm(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,
                                 const float *A, ptrdiff_t a_row, ptrdiff_t a_col,
                                 const float *B, ptrdiff_t b_row, ptrdiff_t b_col,
                                 float *C, ptrdiff_t ldc, int beta, float *work)
{
#if FASTNUT_HAVE_AVX512
    if (fastnut_have_avx512() && M >= 8 && N >= 16) {
        fastnut512_sgemm(M, N, K, A, a_row, a_col, B, b_row, b_col, C, ldc, beta, work);
        return;
    }
#endif
#if FASTNUT_HAVE_AVX2
    fastnut2_sgemm(M, N, K, A, a_row, a_col, B, b_row, b_col, C, ldc, beta, work);
#else
    (void)M; (void)N; (void)K; (void)A; (void)a_row; (void)a_col; (void)B;
    (void)b_row; (void)b_col; (void)C; (void)ldc; (void)beta; (void)work;
#endif
}

/* fastnut_sgemm with its scratch on the stack (callers without a buffer,
   e.g. inside OpenMP loops) */
static inline void fastnut_sgemm_auto(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,
                                      const float *A, ptrdiff_t a_row, ptrdiff_t a_col,
                                      const float *B, ptrdiff_t b_row, ptrdiff_t b_col,
                                      float *C, ptrdiff_t ldc, int beta)
{
    float work[FASTNUT_KC * 64 + 16];
    fastnut_sgemm(M, N, K, A, a_row, a_col, B, b_row, b_col, C, ldc, beta, work);
}

/* fastnut_sgemm over n_threads OpenMP threads (scratch on each thread's
   stack).  C is split by column panels (each thread packs only its own
   panels of B) or by blocks of 6 rows (each packs all of B), whichever gives
   the smaller largest share: a 100-column layer cuts into 64 + 36 columns
   but 102 + 98 of 200 rows; columns on a near tie.  Every element is the
   same fixed-order sum either way, so the result does not depend on
   n_threads.  The one split of the engine: dense.pyx's sgemm and the RBM
   epoch (rbm.pyx) call it. */
static inline void fastnut_sgemm_threads(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,
                                         const float *A, ptrdiff_t a_row, ptrdiff_t a_col,
                                         const float *B, ptrdiff_t b_row, ptrdiff_t b_col,
                                         float *C, ptrdiff_t ldc, int beta, int n_threads)
{
    ptrdiff_t nt = n_threads > 1 ? n_threads : 1, cols, rows, t;
    int by_cols;
    cols = ((N + nt - 1) / nt + 15) / 16 * 16;   /* whole panels */
    rows = ((M + nt - 1) / nt + 5) / 6 * 6;      /* whole register blocks */
    by_cols = nt > 1 && N >= 32 * nt && cols * M <= rows * N + (rows * N) / 20;
    if (!by_cols) {
        const ptrdiff_t blocks = (M + 5) / 6;
        nt = nt < blocks ? nt : blocks;
        if (nt < 1)
            nt = 1;
        rows = ((M + nt - 1) / nt + 5) / 6 * 6;
    }
    if (nt == 1) {
        fastnut_sgemm_auto(M, N, K, A, a_row, a_col, B, b_row, b_col, C, ldc, beta);
        return;
    }
#pragma omp parallel for num_threads(nt) schedule(static)
    for (t = 0; t < nt; t++) {
        if (by_cols) {
            const ptrdiff_t j0 = t * cols;
            if (j0 < N)
                fastnut_sgemm_auto(M, N - j0 < cols ? N - j0 : cols, K, A, a_row, a_col,
                                   B + j0 * b_col, b_row, b_col, C + j0, ldc, beta);
        } else {
            const ptrdiff_t i0 = t * rows;
            if (i0 < M)
                fastnut_sgemm_auto(M - i0 < rows ? M - i0 : rows, N, K, A + i0 * a_row, a_row,
                                   a_col, B, b_row, b_col, C + i0 * ldc, ldc, beta);
        }
    }
}

/* C (M x N) = A (M x K, row stride lda) Bp (+ C when beta), Bp packed once by
   the caller with fastnut_packed_index (any N).  Needs
   fastnut_gemm_kernel() > 0. */
static inline void fastnut_sgemm_prepacked(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,
                                           const float *A, ptrdiff_t lda, const float *Bp,
                                           int beta, float *C, ptrdiff_t ldc)
{
#if FASTNUT_HAVE_AVX512
    if (fastnut_have_avx512() && N % 16 == 0) {
        fastnut512_sgemm_prepacked(M, N, K, A, lda, Bp, beta, C, ldc);
        return;
    }
#endif
#if FASTNUT_HAVE_AVX2
    fastnut2_sgemm_prepacked(M, N, K, A, lda, Bp, beta, C, ldc);
#else
    (void)M; (void)N; (void)K; (void)A; (void)lda; (void)Bp; (void)beta; (void)C;
    (void)ldc;
#endif
}

#endif
