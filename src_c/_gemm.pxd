# cython: language_level=3
"""fastnut's float32 GEMM (``_gemm.h``) for kernels that multiply from C:
``product`` is ``_blas.gemm``'s call (row-major, alpha, beta) that takes the
kernel for float32 and BLAS for the rest.  dense.pyx's ``sgemm`` is the
Python entry point of the same kernel."""
from cython cimport floating

from _blas cimport blas_int, gemm

cdef extern from "_gemm.h" nogil:
    int fastnut_gemm_kernel()
    void fastnut_sgemm_threads(Py_ssize_t M, Py_ssize_t N, Py_ssize_t K,
                               const float *A, Py_ssize_t a_row, Py_ssize_t a_col,
                               const float *B, Py_ssize_t b_row, Py_ssize_t b_col,
                               float *C, Py_ssize_t ldc, int beta, int n_threads)


cdef inline void scale_rows(floating *C, Py_ssize_t m, Py_ssize_t n, Py_ssize_t ldc,
                            floating alpha) noexcept nogil:
    """C[:m, :n] *= alpha (row stride ldc)."""
    cdef Py_ssize_t i, j
    cdef floating *c
    for i in range(m):
        c = C + i * ldc
        for j in range(n):
            c[j] *= alpha


cdef inline void product(bint trans_a, bint trans_b, Py_ssize_t m, Py_ssize_t n,
                         Py_ssize_t k, floating alpha, const floating *A, Py_ssize_t lda,
                         const floating *B, Py_ssize_t ldb, floating beta, floating *C,
                         Py_ssize_t ldc, int n_threads) noexcept nogil:
    """C = alpha op(A) op(B) + beta C, as ``_blas.gemm`` (row-major, row strides).

    float32 on a CPU with AVX2 + FMA goes through fastnut's GEMM kernel, split
    over ``n_threads`` (``fastnut_sgemm_threads``: the same bits on any
    count); alpha then scales the product (beta 0) or beta scales C first
    (alpha 1).  float64, float32 without the kernel, and the one case
    neither covers (alpha and beta both other than 0 and 1) call BLAS, on
    one thread in training (``fastnut._boltzmann.blas_limit``).
    """
    if m <= 0 or n <= 0:
        return
    if floating is float:
        if fastnut_gemm_kernel() != 0 and (beta == 0 or alpha == 1):
            if beta != 0 and beta != 1:
                scale_rows(C, m, n, ldc, beta)
            fastnut_sgemm_threads(m, n, k, A, 1 if trans_a else lda, lda if trans_a else 1,
                                  B, 1 if trans_b else ldb, ldb if trans_b else 1,
                                  C, ldc, beta != 0, n_threads)
            if beta == 0 and alpha != 1:
                scale_rows(C, m, n, ldc, alpha)
            return
    gemm(trans_a, trans_b, <blas_int> m, <blas_int> n, <blas_int> k, alpha, A,
         <blas_int> lda, B, <blas_int> ldb, beta, C, <blas_int> ldc)
