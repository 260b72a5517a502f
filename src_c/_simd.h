/* SIMD plumbing shared by the C headers of the kernels.
 *
 * The package is built for the baseline x86-64 target (SSE2), so that one
 * wheel runs everywhere.  Hot element-wise loops are marked FASTNUT_CLONES:
 * gcc builds an AVX-512, an AVX2 and a baseline copy and picks one at load
 * time (ifunc), so they run 16 lanes wide on a machine that has AVX-512.
 * Clones must be out-of-line functions (``static``, not ``static inline``).
 *
 * Hand-written AVX-512 code (the GEMM of _gemm.h, in intrinsics) is compiled
 * under FASTNUT_HAVE_AVX512 with a target attribute and called only after
 * fastnut_have_avx512() said yes.
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
/* Whether the hand-written AVX-512 kernels may run: the CPU has AVX-512F and
   FASTNUT_DISABLE_AVX512 is unset (or 0) when first asked.  The switch runs
   the BLAS paths of a machine without AVX-512, so that they are tested too. */
static inline int fastnut_have_avx512(void)
{
    static int have = -1;
    if (have < 0) {
        const char *off = getenv("FASTNUT_DISABLE_AVX512");
        __builtin_cpu_init();
        have = __builtin_cpu_supports("avx512f") && (off == NULL || off[0] == '\0'
                                                      || (off[0] == '0' && off[1] == '\0'));
    }
    return have;
}
#else
#define FASTNUT_HAVE_AVX512 0
static inline int fastnut_have_avx512(void) { return 0; }
#endif

#endif
