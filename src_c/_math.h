/* The exponential, sigmoid and tanh of every kernel, in one place.
 *
 * Two families of functions, each used on purpose:
 *
 * - fastnut_expf / fastnut_sigmoidf / fastnut_tanhf: float32 without a libm
 *   call, so that loops over them vectorise (libm's expf is a call gcc cannot
 *   vectorise without -ffast-math).  Used by the float32 paths of the
 *   Boltzmann kernels (rbm.pyx, boltzmann.pyx) and of the recurrent cells
 *   (_rnn_math.h).  exp(x) = 2^n exp(r), n = round(x / ln 2), |r| <= ln(2)/2
 *   (Cody-Waite reduction in two constants), exp(r) by the Cephes degree-6
 *   polynomial: relative error below 8e-8 (about 2 ulp) on the clamped range.
 *
 *   The argument is clamped to [-87, 87]: exp(87) = 6.1e37 keeps
 *   1 / (1 + exp(-x)) at or above 1.6e-38, a normal float (FLT_MIN is
 *   1.18e-38), so no sigmoid is ever subnormal (subnormals are slow) or 0,
 *   and no exp is infinite.  Consequences, pinned by
 *   tests/kernels/test_math.py: sigmoid(x) = 1.6458e-38 for every x <= -87
 *   (-inf included), 1 for x >= 17; tanh(x) = -1 / 1 exactly beyond about
 *   +-9; NaN in gives NaN out (the clamps are written so that a NaN passes
 *   through both).
 *
 * - fastnut_logistic_exact_{f,d} and libm's tanh: the dense engine's
 *   activations (_dense_math.h), libm at both precisions.  The float64 MLP
 *   must give scikit-learn's numbers bit for bit (tested), and its logistic
 *   is written exactly as scipy's expit evaluates it; the float32 path keeps
 *   libm too, so that a float32 MLP's outputs do not change.  (The price,
 *   measured on one core here: libm's logistic costs 10.3 ns and tanh 18.2 ns
 *   an element, the polynomial sigmoid 0.9 ns; see benchmarks/RESULTS.md.)
 *
 * Double-precision cells and Boltzmann kernels use libm (accuracy first: the
 * finite-difference tests run in float64).
 *
 * The compare-and-select clamps vectorise only if gcc may assume the
 * comparisons do not trap: the functions here are compiled with
 * -fno-trapping-math (they never rely on floating-point exceptions); gcc
 * inlines such a function into callers compiled with the default.
 */
#ifndef FASTNUT_MATH_H
#define FASTNUT_MATH_H
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <stddef.h>
#include "_simd.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-trapping-math")
#endif

#define FASTNUT_EXPF_LO (-87.0f)
#define FASTNUT_EXPF_HI 87.0f

static inline float fastnut_expf(float x)
{
    float t, r, p, s;
    int32_t n, bits;
    /* NaN fails both comparisons and is kept */
    x = x < FASTNUT_EXPF_LO ? FASTNUT_EXPF_LO : x;
    x = x > FASTNUT_EXPF_HI ? FASTNUT_EXPF_HI : x;
    /* round to nearest without a libm call: adding 1.5 * 2^23 pushes the
       fraction bits out (valid for |t| < 2^22; the clamp keeps |t| < 126) */
    t = x * 1.44269504088896341f + 12582912.0f;
    t = t - 12582912.0f;
    n = (int32_t) t;
    r = x - t * 0.693359375f;
    r = r + t * 2.12194440e-4f;
    p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    bits = (n + 127) << 23;
    memcpy(&s, &bits, 4);
    return p * s;
}

static inline float fastnut_sigmoidf(float x)
{
    return 1.0f / (1.0f + fastnut_expf(-x));
}

/* tanh(x) = 2 sigmoid(2x) - 1: absolute error about 1e-7 */
static inline float fastnut_tanhf(float x)
{
    return 2.0f / (1.0f + fastnut_expf(-2.0f * x)) - 1.0f;
}

static inline double fastnut_sigmoid(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

/* a[j] = sigmoid(a[j] + b[j]) over one row: the loop the Boltzmann kernels'
   conditionals spend their time in (vectorised, AVX2 / AVX-512 clones) */
#if defined(__GNUC__)
__attribute__((unused))   /* not every module that includes this calls it */
#endif
FASTNUT_CLONES
static void fastnut_bias_sigmoid_f(float *restrict a, const float *restrict b, ptrdiff_t n)
{
    ptrdiff_t j;
    for (j = 0; j < n; j++)
        a[j] = fastnut_sigmoidf(a[j] + b[j]);
}

/* The dense engine's logistic, libm at either precision: exp(-|z|) never
   overflows, and the result is s or e s, as scipy.special.expit. */
static inline float fastnut_logistic_exact_f(float z)
{
    float e = expf(-fabsf(z));
    float s = 1 / (1 + e);
    return z >= 0 ? s : e * s;
}

static inline double fastnut_logistic_exact_d(double z)
{
    double e = exp(-fabs(z));
    double s = 1 / (1 + e);
    return z >= 0 ? s : e * s;
}

/* The same exp, sigmoid and tanh eight lanes at a time, for hand-written
   AVX2 + FMA loops (the recurrent cells of _rnn_math.h): the reduction and
   the polynomial above, each multiply-add one FMA (a scalar loop compiled
   for plain AVX2 rounds the product first, so the last bit can differ from
   fastnut_expf; within the same 2 ulp).  Call only after
   fastnut_have_avx2(). */
#if FASTNUT_HAVE_AVX2
#include <immintrin.h>
#define FASTNUT_FMA_TARGET __attribute__((target("avx2,fma")))

FASTNUT_FMA_TARGET static inline __m256 fastnut_expf8(__m256 x)
{
    const __m256 shift = _mm256_set1_ps(12582912.0f);
    __m256 t, r, p;
    __m256i bits;
    /* max/min return their second operand for a NaN: NaN is kept */
    x = _mm256_max_ps(_mm256_set1_ps(FASTNUT_EXPF_LO), x);
    x = _mm256_min_ps(_mm256_set1_ps(FASTNUT_EXPF_HI), x);
    t = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), shift);
    t = _mm256_sub_ps(t, shift);
    r = _mm256_fnmadd_ps(t, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fmadd_ps(t, _mm256_set1_ps(2.12194440e-4f), r);
    p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(t),
                                              _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

FASTNUT_FMA_TARGET static inline __m256 fastnut_sigmoidf8(__m256 x)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    return _mm256_div_ps(one, _mm256_add_ps(one, fastnut_expf8(
        _mm256_sub_ps(_mm256_setzero_ps(), x))));
}

FASTNUT_FMA_TARGET static inline __m256 fastnut_tanhf8(__m256 x)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256 e = fastnut_expf8(_mm256_mul_ps(_mm256_set1_ps(-2.0f), x));
    return _mm256_sub_ps(_mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(one, e)), one);
}
#endif

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

#endif
