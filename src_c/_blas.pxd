# cython: language_level=3
"""Row-major BLAS wrappers over scipy.linalg.cython_blas (header-only).

Every kernel reaches BLAS through these ``noexcept nogil`` inline helpers, so the
row-major -> column-major swap and the ``blas_int`` type live in one place.
A row-major C (m x n) = op(A) op(B) is the column-major C^T = op(B)^T op(A)^T,
hence the swapped operands below.
"""
from cython cimport floating
from scipy.linalg.cython_blas cimport sgemm, dgemm, sgemv, dgemv, saxpy, daxpy
from scipy.linalg.cython_blas cimport sdot, ddot, sscal, dscal

ctypedef int blas_int


cdef inline void gemm(bint trans_a, bint trans_b, blas_int m, blas_int n, blas_int k,
                      floating alpha, const floating *A, blas_int lda,
                      const floating *B, blas_int ldb,
                      floating beta, floating *C, blas_int ldc) noexcept nogil:
    """C (m x n, row-major) = alpha * op(A) @ op(B) + beta * C.

    op(A) is (m x k), op(B) is (k x n); ``lda``/``ldb``/``ldc`` are row strides
    (in elements) of A, B and C as stored.
    """
    cdef char ta = b'T' if trans_b else b'N'
    cdef char tb = b'T' if trans_a else b'N'
    if m == 0 or n == 0:
        return
    if floating is float:
        sgemm(&ta, &tb, &n, &m, &k, &alpha, <float *> B, &ldb, <float *> A, &lda,
              &beta, C, &ldc)
    else:
        dgemm(&ta, &tb, &n, &m, &k, &alpha, <double *> B, &ldb, <double *> A, &lda,
              &beta, C, &ldc)


cdef inline void gemv(bint trans_a, blas_int m, blas_int n, floating alpha,
                      const floating *A, blas_int lda, const floating *x, blas_int incx,
                      floating beta, floating *y, blas_int incy) noexcept nogil:
    """y = alpha * op(A) @ x + beta * y with A (m x n, row-major)."""
    # row-major A is column-major A^T (n x m): flip the transpose flag
    cdef char t = b'N' if trans_a else b'T'
    if floating is float:
        sgemv(&t, &n, &m, &alpha, <float *> A, &lda, <float *> x, &incx, &beta, y, &incy)
    else:
        dgemv(&t, &n, &m, &alpha, <double *> A, &lda, <double *> x, &incx, &beta, y, &incy)


cdef inline void axpy(blas_int n, floating alpha, const floating *x, blas_int incx,
                      floating *y, blas_int incy) noexcept nogil:
    """y += alpha * x."""
    if floating is float:
        saxpy(&n, &alpha, <float *> x, &incx, y, &incy)
    else:
        daxpy(&n, &alpha, <double *> x, &incx, y, &incy)


cdef inline floating dot(blas_int n, const floating *x, blas_int incx,
                         const floating *y, blas_int incy) noexcept nogil:
    if floating is float:
        return sdot(&n, <float *> x, &incx, <float *> y, &incy)
    else:
        return ddot(&n, <double *> x, &incx, <double *> y, &incy)


cdef inline void scal(blas_int n, floating alpha, floating *x, blas_int incx) noexcept nogil:
    if floating is float:
        sscal(&n, &alpha, x, &incx)
    else:
        dscal(&n, &alpha, x, &incx)
