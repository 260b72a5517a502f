/* Vectorised single-precision sigmoid and tanh for the recurrent cell loops
 * (rnn.pyx).
 *
 * libm's expf is a call the compiler cannot vectorise without -ffast-math, and
 * the gate activations of an LSTM cost more than its recurrent GEMM when
 * evaluated one scalar call at a time.  exp is computed with the classic
 * Cody-Waite range reduction and a degree-6 polynomial (relative error about
 * 2e-7 on the clamped range).  Two details make gcc -O3 emit SIMD code:
 *
 * - the clamps are compare-and-select; with the default -ftrapping-math gcc
 *   refuses to if-convert a float comparison (it might trap), so these few
 *   functions are compiled with -fno-trapping-math (they never rely on FP
 *   exceptions);
 * - the loops live in out-of-line functions with restrict pointers, and on
 *   x86-64 gcc builds AVX-512 / AVX2 clones picked at load time (ifunc), so a
 *   generic build still runs 16 lanes wide on a machine that has them.
 *
 * Double precision keeps libm in rnn.pyx (accuracy first: the
 * finite-difference tests run in float64).
 */
#ifndef FASTNUT_RNN_MATH_H
#define FASTNUT_RNN_MATH_H
#include <math.h>
#include <stdint.h>
#include <stddef.h>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-trapping-math")
#endif

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define FASTNUT_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define FASTNUT_CLONES
#endif

static inline float fastnut_expf(float x)
{
    union { float f; int32_t i; } u;
    float t, fn, r, r2, p;
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    t = x * 1.44269504088896341f;
    /* round to nearest without a libm call: adding 1.5 * 2^23 pushes the
       fraction bits out (valid for |t| < 2^22; the clamp keeps |t| < 128) */
    fn = (t + 12582912.0f) - 12582912.0f;
    r = x - fn * 0.693359375f;
    r = r - fn * -2.12194440e-4f;
    r2 = r * r;
    p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r2 + r + 1.0f;
    u.i = ((int32_t)fn + 127) << 23;
    return p * u.f;
}

/* Backward gate arithmetic of one sequence at one step, float and double from
 * one body.  The arrays are distinct rows (restrict), which lets gcc vectorise
 * loops touching five arrays without run-time alias checks.
 *
 * LSTM: g = (i, f, g, o) in, pre-activation gradients out; dh = dL/dh_t in,
 * 0 out; dc = dL/dc_t (without the dh path) in, dL/dc_{t-1} out.
 * GRU: g = (r, z, n) in, input-side pre-activation gradients out; hn =
 * W_hn h + b_hn in, gradient of it out; dh = dL/dh_t in, z * dh out.
 */
#define FASTNUT_DEFINE_BWD(T, SFX)                                                  \
FASTNUT_CLONES                                                                      \
static void fastnut_lstm_bwd_##SFX(ptrdiff_t H, T *restrict g,                      \
                                   const T *restrict cprev, const T *restrict tc,   \
                                   T *restrict dh, T *restrict dc)                  \
{                                                                                   \
    ptrdiff_t j;                                                                    \
    for (j = 0; j < H; j++) {                                                       \
        T i = g[j], f = g[H + j], gg = g[2 * H + j], o = g[3 * H + j];              \
        T t = tc[j], d = dh[j];                                                     \
        T dcj = dc[j] + d * o * (1 - t * t);                                        \
        g[j] = dcj * gg * i * (1 - i);                                              \
        g[H + j] = dcj * cprev[j] * f * (1 - f);                                    \
        g[2 * H + j] = dcj * i * (1 - gg * gg);                                     \
        g[3 * H + j] = d * t * o * (1 - o);                                         \
        dc[j] = dcj * f;                                                            \
        dh[j] = 0;                                                                  \
    }                                                                               \
}                                                                                   \
FASTNUT_CLONES                                                                      \
static void fastnut_gru_bwd_##SFX(ptrdiff_t H, T *restrict g, T *restrict hn,       \
                                  const T *restrict hprev, T *restrict dh)          \
{                                                                                   \
    ptrdiff_t j;                                                                    \
    for (j = 0; j < H; j++) {                                                       \
        T r = g[j], z = g[H + j], nn = g[2 * H + j], d = dh[j];                     \
        T dn = d * (1 - z) * (1 - nn * nn);                                         \
        g[j] = dn * hn[j] * r * (1 - r);                                            \
        g[H + j] = d * (hprev[j] - nn) * z * (1 - z);                               \
        g[2 * H + j] = dn;                                                          \
        hn[j] = dn * r;                                                             \
        dh[j] = d * z;                                                              \
    }                                                                               \
}

FASTNUT_DEFINE_BWD(float, f)
FASTNUT_DEFINE_BWD(double, d)

/* Forward gate arithmetic of one sequence at one step (float and double from
 * one body; restrict rows, SIMD clones).  pre: the step's GEMM row
 * [x_t | h] [W_ih^T ; W_hh^T] without biases (GRU: 4H wide, r z summed, then
 * the n gate's input and recurrent parts apart); g: the activated gates
 * (saved for backward); h, c: running state, updated; hs, cs, tc: the rows
 * saved for backward (GRU: cs = W_hn h + b_hn). */
static inline float fastnut_sigm_f(float x) { return 1.0f / (1.0f + fastnut_expf(-x)); }
static inline float fastnut_tanh1_f(float x)
{
    return 2.0f / (1.0f + fastnut_expf(-2.0f * x)) - 1.0f;  /* abs. error ~1e-7 */
}
static inline double fastnut_sigm_d(double x) { return 1.0 / (1.0 + exp(-x)); }
static inline double fastnut_tanh1_d(double x) { return tanh(x); }

#define FASTNUT_DEFINE_FWD(T, SFX)                                                  \
FASTNUT_CLONES                                                                      \
static void fastnut_lstm_fwd_##SFX(ptrdiff_t H, T *restrict g, const T *restrict pre, \
        const T *restrict b_ih, const T *restrict b_hh, T *restrict h,              \
        T *restrict c, T *restrict hs, T *restrict cs, T *restrict tc)              \
{                                                                                   \
    ptrdiff_t j;                                                                    \
    for (j = 0; j < 2 * H; j++)                                                     \
        g[j] = fastnut_sigm_##SFX(pre[j] + b_ih[j] + b_hh[j]);                      \
    for (j = 2 * H; j < 3 * H; j++)                                                 \
        g[j] = fastnut_tanh1_##SFX(pre[j] + b_ih[j] + b_hh[j]);                     \
    for (j = 3 * H; j < 4 * H; j++)                                                 \
        g[j] = fastnut_sigm_##SFX(pre[j] + b_ih[j] + b_hh[j]);                      \
    for (j = 0; j < H; j++) {                                                       \
        T cj = g[H + j] * c[j] + g[j] * g[2 * H + j];                               \
        T t = fastnut_tanh1_##SFX(cj);                                              \
        T hj = g[3 * H + j] * t;                                                    \
        c[j] = cj; cs[j] = cj; tc[j] = t; h[j] = hj; hs[j] = hj;                    \
    }                                                                               \
}                                                                                   \
FASTNUT_CLONES                                                                      \
static void fastnut_gru_fwd_##SFX(ptrdiff_t H, T *restrict g, const T *restrict pre, \
        const T *restrict b_ih, const T *restrict b_hh, T *restrict h,              \
        T *restrict hs, T *restrict cs)                                             \
{                                                                                   \
    ptrdiff_t j;                                                                    \
    for (j = 0; j < 2 * H; j++)                                                     \
        g[j] = fastnut_sigm_##SFX(pre[j] + b_ih[j] + b_hh[j]);                      \
    for (j = 0; j < H; j++) {                                                       \
        T hn = pre[3 * H + j] + b_hh[2 * H + j];                                    \
        T n = fastnut_tanh1_##SFX(pre[2 * H + j] + b_ih[2 * H + j] + g[j] * hn);    \
        T z = g[H + j];                                                             \
        T hj = (1 - z) * n + z * h[j];                                              \
        cs[j] = hn; g[2 * H + j] = n; h[j] = hj; hs[j] = hj;                        \
    }                                                                               \
}                                                                                   \
FASTNUT_CLONES                                                                      \
static void fastnut_rnn_fwd_##SFX(ptrdiff_t H, T *restrict g, const T *restrict pre, \
        const T *restrict b_ih, const T *restrict b_hh, T *restrict h,              \
        T *restrict hs)                                                             \
{                                                                                   \
    ptrdiff_t j;                                                                    \
    for (j = 0; j < H; j++) {                                                       \
        T v = fastnut_tanh1_##SFX(pre[j] + b_ih[j] + b_hh[j]);                      \
        g[j] = v; h[j] = v; hs[j] = v;                                              \
    }                                                                               \
}

FASTNUT_DEFINE_FWD(float, f)
FASTNUT_DEFINE_FWD(double, d)

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif


/* Small row-major SGEMM for the per-step recurrent products (M = batch):
 * C (M x N) = A (M x K) B (K x N) (+ C when beta).
 *
 * BLAS repacks the weight matrix on every call, which at batch 32 costs about
 * as much as the product itself.  Here B is packed once per sequence call
 * (fastnut_packed_index): column panels of 64 (then 16), each K x width and
 * contiguous, so a panel stays in L1 across the row blocks (a power-of-two
 * row stride would map a whole panel onto a few cache sets).  The register
 * block is 6 rows x 64 columns (24 AVX-512 accumulators).  Built only for
 * AVX-512 and N a multiple of 16 (fastnut_small_gemm_available); otherwise
 * the caller uses BLAS on the unpacked matrix.
 */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define FASTNUT_HAVE_SMALL_GEMM 1
typedef float fastnut_v16 __attribute__((vector_size(64), aligned(4)));

#define FASTNUT_ROWS_BLOCK(R, NV)                                                      \
    for (; i + R <= M; i += R) {                                                      \
        fastnut_v16 acc[R][NV];                                                       \
        ptrdiff_t k;                                                                  \
        int r, v;                                                                     \
        for (r = 0; r < R; r++)                                                       \
            for (v = 0; v < NV; v++)                                                  \
                acc[r][v] = (fastnut_v16){0};                                         \
        for (k = 0; k < K; k++) {                                                     \
            const float *bk = B + j0 * K + k * (16 * NV);                             \
            fastnut_v16 b[NV];                                                        \
            for (v = 0; v < NV; v++)                                                  \
                b[v] = *(const fastnut_v16 *)(bk + 16 * v);                           \
            for (r = 0; r < R; r++) {                                                 \
                fastnut_v16 a = A[(i + r) * lda + k] - (fastnut_v16){0};              \
                for (v = 0; v < NV; v++)                                              \
                    acc[r][v] += a * b[v];                                            \
            }                                                                         \
        }                                                                             \
        for (r = 0; r < R; r++)                                                       \
            for (v = 0; v < NV; v++) {                                                \
                fastnut_v16 *c = (fastnut_v16 *)(C + (i + r) * ldc + j0 + 16 * v);   \
                *c = beta ? *c + acc[r][v] : acc[r][v];                               \
            }                                                                         \
    }

__attribute__((target("avx512f,fma")))
static void fastnut_sgemm_small_avx512(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,
                                       const float *A, ptrdiff_t lda,
                                       const float *B, int beta,
                                       float *C, ptrdiff_t ldc)
{
    ptrdiff_t j0 = 0, i;
    while (j0 < N) {
        i = 0;
        if (N - j0 >= 64 && j0 % 64 == 0) {
            FASTNUT_ROWS_BLOCK(6, 4)
            FASTNUT_ROWS_BLOCK(2, 4)
            FASTNUT_ROWS_BLOCK(1, 4)
            j0 += 64;
        } else {
            FASTNUT_ROWS_BLOCK(6, 1)
            FASTNUT_ROWS_BLOCK(1, 1)
            j0 += 16;
        }
    }
}

static int fastnut_small_gemm_available(ptrdiff_t N)
{
    static int have_avx512 = -1;
    if (have_avx512 < 0) {
        __builtin_cpu_init();
        have_avx512 = __builtin_cpu_supports("avx512f") ? 1 : 0;
    }
    return have_avx512 && N > 0 && N % 16 == 0;
}

/* C = A Bp (+ C): Bp packed with fastnut_packed_index; needs
   fastnut_small_gemm_available(N) */
static void fastnut_sgemm_small(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,
                                const float *A, ptrdiff_t lda, const float *Bp, int beta,
                                float *C, ptrdiff_t ldc)
{
    fastnut_sgemm_small_avx512(M, N, K, A, lda, Bp, beta, C, ldc);
}
#else
#define FASTNUT_HAVE_SMALL_GEMM 0
static int fastnut_small_gemm_available(ptrdiff_t N) { (void)N; return 0; }
static void fastnut_sgemm_small(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,
                                const float *A, ptrdiff_t lda, const float *Bp, int beta,
                                float *C, ptrdiff_t ldc)
{
    (void)M; (void)N; (void)K; (void)A; (void)lda; (void)Bp; (void)beta; (void)C;
    (void)ldc;
}
#endif

/* Where element (k, j) of a K x N matrix goes in the packed layout: panels of
   64 columns, then of 16, each stored k-major and contiguous (panel j0 starts
   at j0 * K). */
static inline ptrdiff_t fastnut_packed_index(ptrdiff_t K, ptrdiff_t N, ptrdiff_t k, ptrdiff_t j)
{
    ptrdiff_t n64 = N / 64 * 64;
    if (j < n64)
        return (j / 64) * 64 * K + k * 64 + j % 64;
    return n64 * K + ((j - n64) / 16) * 16 * K + k * 16 + (j - n64) % 16;
}

#endif
