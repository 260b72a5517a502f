"""Array helpers of the engine: the matrix-product dispatch and aligned buffers."""
import numpy as np

from .._kernels import dense as _k
from .._threads import threads_for

_GEMM_KERNEL = _k.has_gemm_kernel()


def aligned_empty(shape, dtype, align=64):
    """``np.empty`` starting on an ``align``-byte boundary (a cache line).

    The GEMM kernel's vector stores into an output row that straddles cache
    lines cost ~5% more; NumPy only promises 16 bytes.
    """
    dtype = np.dtype(dtype)
    n = int(np.prod(shape, dtype=np.int64))
    raw = np.empty(n * dtype.itemsize + align, np.uint8)
    start = -raw.ctypes.data % align
    return raw[start:start + n * dtype.itemsize].view(dtype).reshape(shape)


def matmul(A, B, out=None):
    """``out[...] = A @ B`` for 2-D arrays; returns ``out`` (allocated when None).

    float32 goes through fastnut's GEMM kernel (``src_c/_gemm.h``: AVX-512 or
    AVX2 + FMA, picked at run time) at every shape, so a row's result never
    depends on the batch it comes in or its position there; transposed views
    (``W.T``) cost nothing.  NumPy takes the rest: other dtypes (float64 stays
    bit-for-bit what BLAS gives), CPUs without AVX2 + FMA, and operands that
    are neither C-contiguous nor transposed C-contiguous.  Every layer
    multiplies through this function, so the choice is made in one place.
    """
    if out is None:
        out = np.empty((A.shape[0], B.shape[1]), np.result_type(A, B))
    if (_GEMM_KERNEL and out.dtype == A.dtype == B.dtype == np.float32
            and out.flags.c_contiguous):
        ta, tb = not A.flags.c_contiguous, not B.flags.c_contiguous
        if (not ta or A.T.flags.c_contiguous) and (not tb or B.T.flags.c_contiguous):
            M, K, N = out.shape[0], A.shape[1], out.shape[1]
            nt = threads_for(M * N * K, "gemm", cap=max(M // 6, N // 32))
            _k.sgemm(A.T if ta else A, B.T if tb else B, out, trans_a=ta, trans_b=tb, n_threads=nt)
            return out
    return np.matmul(A, B, out=out)


def gram(A, out=None):
    """``out[...] = A.T @ A`` for a 2-D array; returns ``out`` (allocated when None).

    float32 goes through the kernel's ``ssyrk``: only the upper triangle is
    multiplied (about half of a GEMM's work) and mirrored, and it equals
    ``matmul(A.T, A)``'s upper triangle bit for bit.  NumPy (which also
    detects the symmetric product) takes the rest, as in ``matmul``.
    """
    N = A.shape[1]
    if out is None:
        out = np.empty((N, N), A.dtype)
    if (_GEMM_KERNEL and out.dtype == A.dtype == np.float32 and A.flags.c_contiguous
            and out.flags.c_contiguous):
        K = A.shape[0]
        nt = threads_for(N * N * K // 2, "gemm", cap=max(1, N // 32))
        _k.ssyrk(A, out, n_threads=nt)
        return out
    return np.matmul(A.T, A, out=out)
