# cython: language_level=3
"""Embedding lookup kernels: gather rows of a table, scatter-add their gradient.

``ids (n, T)`` are int64 row indices into ``W (V, D)``, checked by the caller
to lie in ``[0, V)`` at the valid steps ``t < lengths[i]``; steps past a
sequence's length are padding (NaN rows in the output, nothing in the
gradient).

The gradient is ``dW[ids[i, t]] += dY[i, t]``.  Several steps may hit one row,
so threads split the embedding *columns* (each thread owns a contiguous slice
of ``D`` for every row): no two threads write the same value, nothing needs
a lock, and the result does not depend on the thread count.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport NAN
from libc.string cimport memcpy, memset
from libc.stdint cimport int64_t

cdef extern from *:
    """
    #if defined(__GNUC__) && !defined(__clang__)
    #pragma GCC optimize ("no-wrapv")
    #endif
    """


def embedding_forward(const floating[:, ::1] W,     # IN  (V, D)
                      const int64_t[:, ::1] ids,    # IN  (n, T)
                      const int[::1] lengths,       # IN  (n,)
                      floating[:, :, ::1] Y,        # OUT (n, T, D)
                      int n_threads):
    """Y[i, t] = W[ids[i, t]] for t < lengths[i], NaN after."""
    cdef int n = ids.shape[0], T = ids.shape[1], D = W.shape[1]
    cdef int i, t, c
    for i in prange(n, nogil=True, schedule="static", num_threads=n_threads):
        for t in range(T):
            if t < lengths[i]:
                memcpy(&Y[i, t, 0], &W[ids[i, t], 0], D * sizeof(floating))
            else:
                for c in range(D):
                    Y[i, t, c] = NAN


def embedding_backward(const floating[:, :, ::1] dY,  # IN  (n, T, D)
                       const int64_t[:, ::1] ids,     # IN  (n, T)
                       const int[::1] lengths,        # IN  (n,)
                       floating[:, ::1] dW,           # OUT (V, D), overwritten
                       int64_t skip,                  # a row that gets no gradient (-1: none)
                       int n_threads):
    """dW = Σ over valid steps of dY[i, t] added into row ids[i, t] (row ``skip`` stays 0)."""
    cdef int n = ids.shape[0], T = ids.shape[1], D = dW.shape[1]
    cdef Py_ssize_t V = dW.shape[0]
    cdef int nb, blk, c0, c1, i, t, c
    cdef int64_t r
    cdef floating *dst
    cdef const floating *src
    if V == 0 or D == 0:
        return
    with nogil:
        memset(&dW[0, 0], 0, V * D * sizeof(floating))
    # column blocks of at least 16 values (a cache line of float32) per thread
    nb = n_threads if n_threads < D // 16 else D // 16
    if nb < 1:
        nb = 1
    for blk in prange(nb, nogil=True, schedule="static", num_threads=nb):
        c0 = <int> ((<Py_ssize_t> D * blk) // nb)
        c1 = <int> ((<Py_ssize_t> D * (blk + 1)) // nb)
        for i in range(n):
            for t in range(lengths[i]):
                r = ids[i, t]
                if r == skip:
                    continue
                dst = &dW[r, 0]
                src = &dY[i, t, 0]
                for c in range(c0, c1):
                    dst[c] += src[c]
