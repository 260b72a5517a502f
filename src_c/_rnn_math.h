/* Vectorised single-precision sigmoid and tanh for the recurrent cell loops
 * (rnn.pyx).
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
