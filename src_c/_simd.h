/* SIMD plumbing shared by the C headers of the kernels.
 *
 * The package is built for the baseline x86-64 target (SSE2), so that one
 * wheel runs everywhere.  Hot element-wise loops are marked FASTNUT_CLONES:
 * gcc builds an AVX-512, an AVX2 and a baseline copy and picks one at load
 * time (ifunc), so they run 16 lanes wide on a machine that has AVX-512.
 * Clones must be out-of-line functions (``static``, not ``static inline``).
 *
 * Hand-written AVX-512 and AVX2 + FMA code (the GEMM of _gemm.h and
 * _gemm_avx2.h, in intrinsics) is compiled under FASTNUT_HAVE_AVX512 /
 * FASTNUT_HAVE_AVX2 with per-function target attributes (any x86-64 gcc
 * builds it) and called only after fastnut_have_avx512() /
 * fastnut_have_avx2() said yes.
 */
#ifndef FASTNUT_SIMD_H
#define FASTNUT_SIMD_H

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define FASTNUT_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define FASTNUT_CLONES
#endif

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#include <stdlib.h>
#define FASTNUT_HAVE_AVX512 1
#define FASTNUT_HAVE_AVX2 1
/* whether the environment variable ``name`` is set to something other than
   "" or "0" */
static inline int fastnut_env_flag(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' && !(v[0] == '0' && v[1] == '\0');
}
/* Whether the hand-written AVX2 + FMA kernels may run: the CPU has both and
   FASTNUT_DISABLE_AVX2 is unset (or 0) when first asked.  The switch runs
   what a CPU without AVX2 runs (BLAS for every float32 product, no AVX-512
   kernel either), so that those paths are tested too. */
static inline int fastnut_have_avx2(void)
{
    static int have = -1;
    if (have < 0) {
        __builtin_cpu_init();
        have = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
               && !fastnut_env_flag("FASTNUT_DISABLE_AVX2");
    }
    return have;
}
/* Whether the hand-written AVX-512 kernels may run: the CPU has AVX-512F, the
   AVX2 kernels may run, and FASTNUT_DISABLE_AVX512 is unset (or 0) when first
   asked.  The switch runs what a CPU without AVX-512 runs (the AVX2 kernels),
   so that those paths are tested on an AVX-512 machine too. */
static inline int fastnut_have_avx512(void)
{
    static int have = -1;
    if (have < 0) {
        __builtin_cpu_init();
        have = __builtin_cpu_supports("avx512f") && fastnut_have_avx2()
               && !fastnut_env_flag("FASTNUT_DISABLE_AVX512");
    }
    return have;
}
#else
#define FASTNUT_HAVE_AVX512 0
#define FASTNUT_HAVE_AVX2 0
static inline int fastnut_have_avx2(void) { return 0; }
static inline int fastnut_have_avx512(void) { return 0; }
#endif

#endif
