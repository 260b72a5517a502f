"""Thread count for fastnut's OpenMP kernels, resolved in Python.

Kernels take ``n_threads`` as their last argument.  The default honours, in
order: an active ``threadpoolctl.threadpool_limits(limits=k, user_api="openmp")``
(or ``limits=k`` for all APIs), ``OMP_NUM_THREADS``, then the CPU count.
"""
import contextlib
import os
import threading

from ._kernels import _build_info

_CPU_COUNT = os.cpu_count() or 1


def n_threads(n_jobs=None):
    """Number of OpenMP threads a kernel call should use.

    Parameters
    ----------
    n_jobs : int or None, default=None
        ``None`` means "what the environment allows"; a positive int is
        capped by that; ``-1`` means all allowed threads.
    """
    if not _build_info.openmp_enabled():
        return 1
    # omp_get_max_threads() reflects OMP_NUM_THREADS and threadpoolctl's
    # openmp limit (threadpoolctl calls omp_set_num_threads on our libgomp)
    allowed = max(1, int(_build_info.omp_max_threads()))
    allowed = min(allowed, _CPU_COUNT)
    if n_jobs is None or n_jobs == -1:
        return allowed
    if n_jobs < -1 or n_jobs == 0:
        raise ValueError(f"n_jobs must be a positive int, -1 or None; got {n_jobs!r}")
    return min(int(n_jobs), allowed)


_blas_lock = threading.Lock()
_blas_state = {"controller": None, "depth": 0, "limiter": None}


@contextlib.contextmanager
def blas_one_thread():
    """Keep BLAS single-threaded inside this context (re-entrant, thread-safe).

    Kernels that make many small GEMMs (a recurrent step, one image's
    convolution, an RBM mini-batch) gain nothing from BLAS threads and lose
    10-40x when another process holds a core: every call waits at a barrier
    for a descheduled thread, and BLAS threads inside an OpenMP region
    oversubscribe the cores.  The limit is process-wide, so concurrent callers
    share it: the first thread in sets it, the last one out restores the
    original setting.  Entering costs ~40 us (threadpoolctl), so wrap a whole
    fit or predict call, not a step.
    """
    with _blas_lock:
        st = _blas_state
        if st["depth"] == 0:
            if st["controller"] is None:
                from threadpoolctl import ThreadpoolController
                st["controller"] = ThreadpoolController()
            st["limiter"] = st["controller"].limit(limits=1, user_api="blas")
        st["depth"] += 1
    try:
        yield
    finally:
        with _blas_lock:
            st["depth"] -= 1
            if st["depth"] == 0:
                st["limiter"].restore_original_limits()
                st["limiter"] = None
