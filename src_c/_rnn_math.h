/* The gate arithmetic of the recurrent cells (rnn.pyx), one sequence and one
 * step per call: vectorised loops for every precision, and AVX2 + FMA
 * intrinsics for the float32 forward cells.
 *
 * libm's expf is a call the compiler cannot vectorise without -ffast-math, and
 * the gate activations of an LSTM cost more than its recurrent GEMM when
 * evaluated one scalar call at a time: the float32 gates use the polynomial
 * exp, sigmoid and tanh of _math.h (shared with the Boltzmann kernels; its
 * clamp and accuracy are explained there).  Two details make gcc -O3 emit
 * SIMD code:
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
#include "_simd.h"
#include "_math.h"
#include "_gemm.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-trapping-math")
#endif



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
static inline float fastnut_sigm_f(float x) { return fastnut_sigmoidf(x); }
static inline float fastnut_tanh1_f(float x) { return fastnut_tanhf(x); }
static inline double fastnut_sigm_d(double x) { return fastnut_sigmoid(x); }
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

/* The float32 forward cells in AVX2 + FMA intrinsics (fastnut_sigmoidf8 /
   fastnut_tanhf8 of _math.h), for widths that are a multiple of 8 on CPUs
   with AVX2 but not AVX-512 (the compiler's AVX2 clone of the loops above
   has no FMA; its AVX-512 clone has, 16 lanes wide, and is kept there).
   The same formulas in the same order; rnn.pyx calls fastnut_*_fwd_cell. */
#if FASTNUT_HAVE_AVX2
#define FASTNUT_LD(p) _mm256_loadu_ps(p)
#define FASTNUT_ST(p, v) _mm256_storeu_ps((p), (v))
#define FASTNUT_PRE(j) _mm256_add_ps(_mm256_add_ps(FASTNUT_LD(pre + (j)), FASTNUT_LD(b_ih + (j))), \
                                     FASTNUT_LD(b_hh + (j)))

FASTNUT_FMA_TARGET static void
fastnut_lstm_fwd_f8(ptrdiff_t H, float *restrict g, const float *restrict pre,
                    const float *restrict b_ih, const float *restrict b_hh, float *restrict h,
                    float *restrict c, float *restrict hs, float *restrict cs,
                    float *restrict tc)
{
    ptrdiff_t j;
    for (j = 0; j < 2 * H; j += 8)
        FASTNUT_ST(g + j, fastnut_sigmoidf8(FASTNUT_PRE(j)));
    for (j = 2 * H; j < 3 * H; j += 8)
        FASTNUT_ST(g + j, fastnut_tanhf8(FASTNUT_PRE(j)));
    for (j = 3 * H; j < 4 * H; j += 8)
        FASTNUT_ST(g + j, fastnut_sigmoidf8(FASTNUT_PRE(j)));
    for (j = 0; j < H; j += 8) {
        const __m256 cj = _mm256_fmadd_ps(FASTNUT_LD(g + H + j), FASTNUT_LD(c + j),
                                          _mm256_mul_ps(FASTNUT_LD(g + j),
                                                        FASTNUT_LD(g + 2 * H + j)));
        const __m256 t = fastnut_tanhf8(cj);
        const __m256 hj = _mm256_mul_ps(FASTNUT_LD(g + 3 * H + j), t);
        FASTNUT_ST(c + j, cj); FASTNUT_ST(cs + j, cj); FASTNUT_ST(tc + j, t);
        FASTNUT_ST(h + j, hj); FASTNUT_ST(hs + j, hj);
    }
}

FASTNUT_FMA_TARGET static void
fastnut_gru_fwd_f8(ptrdiff_t H, float *restrict g, const float *restrict pre,
                   const float *restrict b_ih, const float *restrict b_hh, float *restrict h,
                   float *restrict hs, float *restrict cs)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    ptrdiff_t j;
    for (j = 0; j < 2 * H; j += 8)
        FASTNUT_ST(g + j, fastnut_sigmoidf8(FASTNUT_PRE(j)));
    for (j = 0; j < H; j += 8) {
        const __m256 hn = _mm256_add_ps(FASTNUT_LD(pre + 3 * H + j),
                                        FASTNUT_LD(b_hh + 2 * H + j));
        const __m256 n = fastnut_tanhf8(_mm256_fmadd_ps(
            FASTNUT_LD(g + j), hn, _mm256_add_ps(FASTNUT_LD(pre + 2 * H + j),
                                                 FASTNUT_LD(b_ih + 2 * H + j))));
        const __m256 z = FASTNUT_LD(g + H + j);
        const __m256 hj = _mm256_fmadd_ps(z, FASTNUT_LD(h + j),
                                          _mm256_mul_ps(_mm256_sub_ps(one, z), n));
        FASTNUT_ST(cs + j, hn); FASTNUT_ST(g + 2 * H + j, n);
        FASTNUT_ST(h + j, hj); FASTNUT_ST(hs + j, hj);
    }
}

FASTNUT_FMA_TARGET static void
fastnut_rnn_fwd_f8(ptrdiff_t H, float *restrict g, const float *restrict pre,
                   const float *restrict b_ih, const float *restrict b_hh, float *restrict h,
                   float *restrict hs)
{
    ptrdiff_t j;
    for (j = 0; j < H; j += 8) {
        const __m256 v = fastnut_tanhf8(FASTNUT_PRE(j));
        FASTNUT_ST(g + j, v); FASTNUT_ST(h + j, v); FASTNUT_ST(hs + j, v);
    }
}
#undef FASTNUT_PRE
#undef FASTNUT_ST
#undef FASTNUT_LD
#endif

/* whether the AVX2 + FMA cells above run for width H */
static inline int fastnut_rnn_cells_avx2(ptrdiff_t H)
{
    return H % 8 == 0 && fastnut_have_avx2() && !fastnut_have_avx512();
}

static inline void fastnut_lstm_fwd_cell(ptrdiff_t H, float *g, const float *pre,
        const float *b_ih, const float *b_hh, float *h, float *c, float *hs, float *cs,
        float *tc)
{
#if FASTNUT_HAVE_AVX2
    if (fastnut_rnn_cells_avx2(H)) {
        fastnut_lstm_fwd_f8(H, g, pre, b_ih, b_hh, h, c, hs, cs, tc);
        return;
    }
#endif
    fastnut_lstm_fwd_f(H, g, pre, b_ih, b_hh, h, c, hs, cs, tc);
}

static inline void fastnut_gru_fwd_cell(ptrdiff_t H, float *g, const float *pre,
        const float *b_ih, const float *b_hh, float *h, float *hs, float *cs)
{
#if FASTNUT_HAVE_AVX2
    if (fastnut_rnn_cells_avx2(H)) {
        fastnut_gru_fwd_f8(H, g, pre, b_ih, b_hh, h, hs, cs);
        return;
    }
#endif
    fastnut_gru_fwd_f(H, g, pre, b_ih, b_hh, h, hs, cs);
}

static inline void fastnut_rnn_fwd_cell(ptrdiff_t H, float *g, const float *pre,
        const float *b_ih, const float *b_hh, float *h, float *hs)
{
#if FASTNUT_HAVE_AVX2
    if (fastnut_rnn_cells_avx2(H)) {
        fastnut_rnn_fwd_f8(H, g, pre, b_ih, b_hh, h, hs);
        return;
    }
#endif
    fastnut_rnn_fwd_f(H, g, pre, b_ih, b_hh, h, hs);
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif


/* The per-step recurrent products use the prepacked GEMM of _gemm.h
 * (fastnut_sgemm_prepacked: AVX-512 or AVX2 + FMA): BLAS repacks the weight
 * matrix on every call, which at batch 32 costs about as much as the product
 * itself, so the recurrent weights are packed once per sequence call.  Any
 * width: a sequence's outputs must not depend on the batch it is predicted
 * in, which BLAS does not promise. */
static int fastnut_small_gemm_available(ptrdiff_t N)
{
    return fastnut_gemm_kernel() != 0 && N > 0;
}

#endif
