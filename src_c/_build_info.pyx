"""Compiled sentinel: importing it proves the kernels were built."""
from _openmp cimport FASTNUT_OPENMP, fastnut_omp_max_threads


def openmp_enabled():
    """True when fastnut's kernels were compiled with OpenMP."""
    return bool(FASTNUT_OPENMP)


def omp_max_threads():
    """What OpenMP itself would use (``OMP_NUM_THREADS`` or the core count)."""
    return fastnut_omp_max_threads()
