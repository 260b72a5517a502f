/* Vectorisable single-precision exp for the recurrent cell loops (rnn.pyx).
 *
 * libm's expf is a function call the compiler cannot vectorise without
 * -ffast-math, and the gate activations (sigmoid, tanh) of an LSTM cost more
 * than its recurrent GEMM when evaluated one scalar call at a time.  This is
 * the classic Cody-Waite range reduction + degree-6 minimax polynomial
 * (relative error about 2e-7 on the clamped range), written branch-free so
 * that gcc -O3 turns a loop calling it into SIMD code.  Double precision keeps
 * libm (accuracy first: the finite-difference tests run in float64).
 */
#ifndef FASTNUT_RNN_MATH_H
#define FASTNUT_RNN_MATH_H
#include <stdint.h>

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

#endif
