"""Array helpers of the engine: the matrix-product dispatch and aligned buffers."""
import numpy as np

from .._kernels import dense as _k
from .._threads import n_threads

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


def matmul(A, B, out):
    """``out[...] = A @ B`` for 2-D arrays; returns ``out``.

    float32 goes through fastnut's GEMM kernel (``src_c/_gemm.h``, AVX-512),
    where transposed views (``W.T``) cost nothing.  NumPy takes the rest: other
    dtypes (float64 stays bit-for-bit what BLAS gives), other CPUs, and
    products under 8 rows or 16 columns (a single sample, a 10-class output),
    where BLAS's matrix-vector paths win.  Every layer multiplies through
    this function, so the choice is made in one place.
    """
    if (_GEMM_KERNEL and out.dtype == A.dtype == B.dtype == np.float32
            and out.shape[0] >= 8 and out.shape[1] >= 16 and out.flags.c_contiguous):
        ta, tb = not A.flags.c_contiguous, not B.flags.c_contiguous
        if (not ta or A.T.flags.c_contiguous) and (not tb or B.T.flags.c_contiguous):
            _k.sgemm(A.T if ta else A, B.T if tb else B, out, ta, tb, n_threads())
            return out
    return np.matmul(A, B, out=out)
