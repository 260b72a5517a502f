# cython: language_level=3
"""OpenMP helpers (header-only), safe when fastnut is built without OpenMP.

Thread counts are resolved in Python (``fastnut._threads.n_threads``) and passed
to kernels as their last argument; kernels only use them in ``prange``.
"""
cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define FASTNUT_OPENMP 1
    static inline int fastnut_omp_max_threads(void) { return omp_get_max_threads(); }
    static inline int fastnut_omp_thread_num(void) { return omp_get_thread_num(); }
    #else
    #define FASTNUT_OPENMP 0
    static inline int fastnut_omp_max_threads(void) { return 1; }
    static inline int fastnut_omp_thread_num(void) { return 0; }
    #endif
    """
    bint FASTNUT_OPENMP
    int fastnut_omp_max_threads() noexcept nogil
    int fastnut_omp_thread_num() noexcept nogil
