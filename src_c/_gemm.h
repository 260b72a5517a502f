/* Single-precision GEMM for the engine's float32 layers (AVX-512).
 *
 * Why fastnut has its own: the engine multiplies a mini-batch (tens to a few
 * hundred rows) by a weight matrix that fits in L2.  At those shapes BLAS
 * reaches ~120 GFLOP/s on one core here; this kernel, blocked for exactly that
 * case, reaches ~150 (benchmarks/RESULTS.md, "GEMM kernel").  For float64, or
 * without AVX-512, callers use BLAS.
 *
 *   C (M x N, row-major, row stride ldc) = op(A) op(B)  (+ C when beta)
 *
 * Operands are given by strides, which is how the transposes are expressed:
 * A(i, k) = A[i * a_row + k * a_col] and B(k, j) = B[k * b_row + j * b_col].
 * So Y = X W is (a_row=K, a_col=1), dW = X^T D is (a_row=1, a_col=ldX), and
 * dX = D W^T reads B with (b_row=1, b_col=ldW).
 *
 * Blocking: B is copied into panels of 64 columns by KC rows (32 KB, stays in
 * L1 while every row block of A passes over it); the register block is R <= 6
 * rows x 64 columns (24 zmm accumulators, 4 loads and R broadcasts per k).
 * Columns left over after the 64-wide panels go through 16-wide panels; the
 * last, narrower one is zero-padded and its result copied out through a small
 * tile.  Everything runs on the calling thread; dense.pyx splits rows over
 * threads.
 *
 * The RNN kernels pack their recurrent weights once per sequence in the same
 * panel layout (fastnut_packed_index) and call fastnut_sgemm_prepacked.
 */
#ifndef FASTNUT_GEMM_H
#define FASTNUT_GEMM_H
#include <stddef.h>
#include <string.h>
#include "_simd.h"

enum { FASTNUT_KC = 128 };

/* floats of scratch fastnut_sgemm needs for a product of depth K (the
   packed panel, a 6 x 16 tile, and slack to align the panel to 64 bytes:
   unaligned, every vector load of it straddles two cache lines, ~15% slower) */
static inline ptrdiff_t fastnut_sgemm_scratch(ptrdiff_t K)
{
    ptrdiff_t panel = K * 16 > FASTNUT_KC * 64 ? K * 16 : FASTNUT_KC * 64;
    return panel + 16 * 6 + 16;
}

/* Where element (k, j) of a K x N matrix goes in the prepacked layout: panels
   of 64 columns, then of 16, each stored k-major and contiguous (panel j0
   starts at j0 * K).  N must be a multiple of 16. */
static inline ptrdiff_t fastnut_packed_index(ptrdiff_t K, ptrdiff_t N, ptrdiff_t k, ptrdiff_t j)
{
    ptrdiff_t n64 = N / 64 * 64;
    if (j < n64)
        return (j / 64) * 64 * K + k * 64 + j % 64;
    return n64 * K + ((j - n64) / 16) * 16 * K + k * 16 + (j - n64) % 16;
}

#if FASTNUT_HAVE_AVX512
#include <immintrin.h>

/* C[R x 16 NV] (+)= sum_k A(r, k) Bp[k, :], Bp a packed panel of width 16 NV */
#define FASTNUT_MICRO(R, NV)                                                        \
__attribute__((target("avx512f,fma"))) static inline void                            \
fastnut_micro_##R##_##NV(ptrdiff_t K, const float *A, ptrdiff_t a_row,               \
                         ptrdiff_t a_col, const float *Bp, float *C, ptrdiff_t ldc, \
                         int beta)                                                  \
{                                                                                   \
    fastnut_v16 acc[R][NV];                                                         \
    ptrdiff_t k;                                                                    \
    int r, v;                                                                       \
    for (r = 0; r < R; r++)                                                         \
        for (v = 0; v < NV; v++)                                                    \
            acc[r][v] = (fastnut_v16){0};                                           \
    for (k = 0; k < K; k++) {                                                       \
        const float *bk = Bp + k * (16 * NV), *ak = A + k * a_col;                  \
        fastnut_v16 b[NV];                                                          \
        for (v = 0; v < NV; v++)                                                    \
            b[v] = *(const fastnut_v16 *)(bk + 16 * v);                             \
        for (r = 0; r < R; r++) {                                                   \
            fastnut_v16 a = ak[r * a_row] - (fastnut_v16){0};                       \
            for (v = 0; v < NV; v++)                                                \
                acc[r][v] += a * b[v];                                              \
        }                                                                           \
    }                                                                               \
    for (r = 0; r < R; r++)                                                         \
        for (v = 0; v < NV; v++) {                                                  \
            fastnut_v16 *c = (fastnut_v16 *)(C + r * ldc + 16 * v);                 \
            *c = beta ? *c + acc[r][v] : acc[r][v];                                 \
        }                                                                           \
}

FASTNUT_MICRO(6, 4)
FASTNUT_MICRO(4, 4)
FASTNUT_MICRO(2, 4)
FASTNUT_MICRO(1, 4)
FASTNUT_MICRO(6, 1)
FASTNUT_MICRO(4, 1)
FASTNUT_MICRO(2, 1)
FASTNUT_MICRO(1, 1)

/* all row blocks of A (rows [0, M)) against one packed panel */
#define FASTNUT_PANEL_ROWS(NV, KC_, A0, a_row, a_col, Bp, C0, ldc, beta)            \
    do {                                                                            \
        ptrdiff_t i_ = 0;                                                           \
        for (; i_ + 6 <= M; i_ += 6)                                                \
            fastnut_micro_6_##NV(KC_, (A0) + i_ * (a_row), a_row, a_col, Bp,        \
                                 (C0) + i_ * (ldc), ldc, beta);                     \
        for (; i_ + 4 <= M; i_ += 4)                                                \
            fastnut_micro_4_##NV(KC_, (A0) + i_ * (a_row), a_row, a_col, Bp,        \
                                 (C0) + i_ * (ldc), ldc, beta);                     \
        for (; i_ + 2 <= M; i_ += 2)                                                \
            fastnut_micro_2_##NV(KC_, (A0) + i_ * (a_row), a_row, a_col, Bp,        \
                                 (C0) + i_ * (ldc), ldc, beta);                     \
        for (; i_ < M; i_++)                                                        \
            fastnut_micro_1_##NV(KC_, (A0) + i_ * (a_row), a_row, a_col, Bp,        \
                                 (C0) + i_ * (ldc), ldc, beta);                     \
    } while (0)

/* dst[k * W + jj] = B(k0 + k, j0 + jj) for jj < w, zero for w <= jj < W */
__attribute__((target("avx512f"))) static inline void
fastnut_pack_panel(ptrdiff_t kc, ptrdiff_t w, ptrdiff_t W, const float *B, ptrdiff_t b_row,
                   ptrdiff_t b_col, ptrdiff_t k0, ptrdiff_t j0, float *dst)
{
    ptrdiff_t k, jj;
    if (b_col == 1) {
        for (k = 0; k < kc; k++) {
            memcpy(dst + k * W, B + (k0 + k) * b_row + j0, (size_t)w * sizeof(float));
            for (jj = w; jj < W; jj++)
                dst[k * W + jj] = 0;
        }
        return;
    }
    if (w == W && 16 * b_col < 0x7fffffff) {
        /* B read transposed (dX = D W^T): gather 16 columns at a time; a
           scalar copy costs ~20% of the product */
        const __m512i idx = _mm512_mullo_epi32(
            _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
            _mm512_set1_epi32((int)b_col));
        for (k = 0; k < kc; k++)
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

/* C = op(A) op(B) (+ C); work: fastnut_sgemm_scratch(K) floats.  Needs
   fastnut_have_avx512(). */
__attribute__((target("avx512f,fma")))
static void fastnut_sgemm(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,
                          const float *A, ptrdiff_t a_row, ptrdiff_t a_col,
                          const float *B, ptrdiff_t b_row, ptrdiff_t b_col,
                          float *C, ptrdiff_t ldc, int beta, float *work)
{
    ptrdiff_t j0 = 0, k0, i, jj;
    float *tile = work + fastnut_sgemm_scratch(K) - 16 * 6;
    work = (float *)(((size_t)work + 63) & ~(size_t)63);
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) {
        if (!beta)
            for (i = 0; i < M; i++)
                memset(C + i * ldc, 0, (size_t)N * sizeof(float));
        return;
    }
    for (; j0 + 64 <= N; j0 += 64)
        for (k0 = 0; k0 < K; k0 += FASTNUT_KC) {
            ptrdiff_t kc = K - k0 < FASTNUT_KC ? K - k0 : FASTNUT_KC;
            fastnut_pack_panel(kc, 64, 64, B, b_row, b_col, k0, j0, work);
            FASTNUT_PANEL_ROWS(4, kc, A + k0 * a_col, a_row, a_col, work, C + j0, ldc,
                               beta || k0 > 0);
        }
    for (; j0 + 16 <= N; j0 += 16)
        for (k0 = 0; k0 < K; k0 += FASTNUT_KC) {
            ptrdiff_t kc = K - k0 < FASTNUT_KC ? K - k0 : FASTNUT_KC;
            fastnut_pack_panel(kc, 16, 16, B, b_row, b_col, k0, j0, work);
            FASTNUT_PANEL_ROWS(1, kc, A + k0 * a_col, a_row, a_col, work, C + j0, ldc,
                               beta || k0 > 0);
        }
    if (j0 < N) {
        /* the last w < 16 columns: one zero-padded panel of the whole depth,
           each row computed into a 16-wide tile and copied out */
        ptrdiff_t w = N - j0;
        fastnut_pack_panel(K, w, 16, B, b_row, b_col, 0, j0, work);
        for (i = 0; i < M; i++) {
            fastnut_micro_1_1(K, A + i * a_row, a_row, a_col, work, tile, 16, 0);
            for (jj = 0; jj < w; jj++)
                C[i * ldc + j0 + jj] = beta ? C[i * ldc + j0 + jj] + tile[jj] : tile[jj];
        }
    }
}

/* C (M x N) = A (M x K, row stride lda) Bp (+ C when beta), Bp packed once by
   the caller with fastnut_packed_index; N a multiple of 16.  Needs
   fastnut_have_avx512(). */
__attribute__((target("avx512f,fma")))
static void fastnut_sgemm_prepacked(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,
                                    const float *A, ptrdiff_t lda, const float *Bp,
                                    int beta, float *C, ptrdiff_t ldc)
{
    ptrdiff_t j0 = 0;
    for (; j0 + 64 <= N; j0 += 64)
        FASTNUT_PANEL_ROWS(4, K, A, lda, 1, Bp + j0 * K, C + j0, ldc, beta);
    for (; j0 < N; j0 += 16)
        FASTNUT_PANEL_ROWS(1, K, A, lda, 1, Bp + j0 * K, C + j0, ldc, beta);
}

#else  /* no AVX-512 GEMM: callers check fastnut_have_avx512() and use BLAS */

static void fastnut_sgemm(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,
                          const float *A, ptrdiff_t a_row, ptrdiff_t a_col,
                          const float *B, ptrdiff_t b_row, ptrdiff_t b_col,
                          float *C, ptrdiff_t ldc, int beta, float *work)
{
    (void)M; (void)N; (void)K; (void)A; (void)a_row; (void)a_col; (void)B;
    (void)b_row; (void)b_col; (void)C; (void)ldc; (void)beta; (void)work;
}

static void fastnut_sgemm_prepacked(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,
                                    const float *A, ptrdiff_t lda, const float *Bp,
                                    int beta, float *C, ptrdiff_t ldc)
{
    (void)M; (void)N; (void)K; (void)A; (void)lda; (void)Bp; (void)beta; (void)C;
    (void)ldc;
}
#endif

#endif
