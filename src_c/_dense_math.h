/* Element-wise loops of the dense engine, written in C with restrict pointers
 * so the compiler vectorises them (Cython memoryview loops cannot promise
 * no-aliasing).  One definition per dtype through a macro; Cython picks
 * the float or double name in src_c/dense.pyx.
 * The optimizer steps take the L2 term as ``l2 * p`` added to the gradient
 * on the fly, sparing a pass over the parameters.
 * Activation codes: 0 identity, 1 relu, 2 tanh, 3 logistic.
 * Each loop is built in AVX-512 / AVX2 / baseline clones (_simd.h).  The
 * optimizer steps are bound by memory (~40 GB/s from L3 on one core here:
 * seven streams per parameter), not by their sqrt and division.
 */
#ifndef FASTNUT_DENSE_MATH_H
#define FASTNUT_DENSE_MATH_H
#include <math.h>
#include <stddef.h>
#include "_simd.h"
#include "_math.h"   /* the logistic (libm at both precisions, see there) */

/* compare-and-select (relu) may be if-converted: no loop here relies on
   floating-point exceptions.  relu keeps NaN (as PyTorch's): the padded
   steps of a NaN-padded sequence stay NaN through an Activation layer, and
   every activation's derivative is 0 where its output is NaN (a padded step
   gets no gradient, as in the sequence layers) */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-trapping-math")
#endif

/* The optimizer steps also return sum(p^2) of the weights before the step
   (the L2 penalty's value, read in the same pass), summed in double.  The sum
   is reassociated across SIMD lanes (an OpenMP simd reduction), or the loop
   would not vectorise. */
#if defined(_OPENMP)
#define FASTNUT_SIMD_SUM_SS _Pragma("omp simd reduction(+:ss)")
#else
#define FASTNUT_SIMD_SUM_SS
#endif

#define FASTNUT_DENSE_DEFS(T, SFX, SQRT, TANH, LOGISTIC)                               \
FASTNUT_CLONES                                                                   \
static void fn_bias_act_##SFX(ptrdiff_t n, ptrdiff_t m, T *restrict Z,           \
                              const T *restrict b, int act) {                    \
    for (ptrdiff_t i = 0; i < n; i++) {                                          \
        T *restrict z = Z + i * m;                                               \
        if (b) { for (ptrdiff_t j = 0; j < m; j++) z[j] += b[j]; }               \
        if (act == 1) {                                                          \
            for (ptrdiff_t j = 0; j < m; j++) z[j] = z[j] <= 0 ? 0 : z[j];       \
        } else if (act == 2) {                                                   \
            for (ptrdiff_t j = 0; j < m; j++) z[j] = TANH(z[j]);                 \
        } else if (act == 3) {                                                   \
            for (ptrdiff_t j = 0; j < m; j++) z[j] = LOGISTIC(z[j]);             \
        }                                                                        \
    }                                                                            \
}                                                                                \
FASTNUT_CLONES                                                                   \
static void fn_act_backward_##SFX(ptrdiff_t len, T *restrict d,                  \
                                  const T *restrict y, int act) {                \
    if (act == 1) {                                                              \
        for (ptrdiff_t i = 0; i < len; i++) d[i] = y[i] > 0 ? d[i] : 0;          \
    } else if (act == 2) {                                                       \
        for (ptrdiff_t i = 0; i < len; i++)                                      \
            d[i] = y[i] != y[i] ? 0 : d[i] * (1 - y[i] * y[i]);                  \
    } else if (act == 3) {                                                       \
        for (ptrdiff_t i = 0; i < len; i++)                                      \
            d[i] = y[i] != y[i] ? 0 : d[i] * (y[i] * (1 - y[i]));                \
    }                                                                            \
}                                                                                \
/* fn_act_backward on an n x m block, then col[j] = sum_i d[i, j] (the bias  \
   gradient), rows added in order as NumPy's sum over axis 0 does */           \
FASTNUT_CLONES                                                                   \
static void fn_act_backward_sum_##SFX(ptrdiff_t n, ptrdiff_t m, T *restrict d,   \
                                      const T *restrict y, int act,              \
                                      T *restrict col) {                         \
    for (ptrdiff_t j = 0; j < m; j++) col[j] = 0;                                \
    for (ptrdiff_t i = 0; i < n; i++) {                                          \
        T *restrict di = d + i * m;                                              \
        fn_act_backward_##SFX(m, di, y + i * m, act);                            \
        for (ptrdiff_t j = 0; j < m; j++) col[j] += di[j];                       \
    }                                                                            \
}                                                                                \
FASTNUT_CLONES                                                                   \
static double fn_adam_##SFX(ptrdiff_t len, T *restrict p,                        \
                            const T *restrict g, T *restrict m,                  \
                            T *restrict v, T lr, T b1, T b2, T eps, T l2) {      \
    const T c1 = 1 - b1, c2 = 1 - b2;                                            \
    double ss = 0;                                                               \
    FASTNUT_SIMD_SUM_SS                                                          \
    for (ptrdiff_t i = 0; i < len; i++) {                                        \
        T pi = p[i];                                                             \
        T gi = g[i] + l2 * pi;                                                   \
        T mi = b1 * m[i] + c1 * gi;                                              \
        T vi = b2 * v[i] + c2 * gi * gi;                                         \
        m[i] = mi; v[i] = vi;                                                    \
        p[i] = pi - lr * mi / (SQRT(vi) + eps);                                  \
        ss += (double)pi * pi;                                                   \
    }                                                                            \
    return ss;                                                                   \
}                                                                                \
FASTNUT_CLONES                                                                   \
static double fn_sgd_##SFX(ptrdiff_t len, T *restrict p,                         \
                           const T *restrict g, T *restrict vel,                 \
                           T lr, T mu, int nesterov, T l2) {                     \
    double ss = 0;                                                               \
    FASTNUT_SIMD_SUM_SS                                                          \
    for (ptrdiff_t i = 0; i < len; i++) {                                        \
        T pi = p[i];                                                             \
        T gi = g[i] + l2 * pi;                                                   \
        T vi = mu * vel[i] - lr * gi;                                            \
        vel[i] = vi;                                                             \
        p[i] = pi + (nesterov ? mu * vi - lr * gi : vi);                         \
        ss += (double)pi * pi;                                                   \
    }                                                                            \
    return ss;                                                                   \
}

FASTNUT_DENSE_DEFS(float, f, sqrtf, tanhf, fastnut_logistic_exact_f)
FASTNUT_DENSE_DEFS(double, d, sqrt, tanh, fastnut_logistic_exact_d)

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

#endif
