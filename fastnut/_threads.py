"""fastnut's thread policy, in one place.

Three things live here, and nowhere else:

``THRESHOLDS`` and ``threads_for(work, kind)``
    Whether a piece of work is worth more than one thread, and how many it
    gets.  Kernels take ``n_threads`` at face value (their last argument);
    every decision is made here, in Python, from the table below.

``effective_n_threads()``
    The threads fastnut may use at all, resolved as scikit-learn's OpenMP
    estimators do (``sklearn.utils._openmp_helpers._openmp_effective_n_threads``):
    an active ``threadpoolctl.threadpool_limits(k)`` (or
    ``limits=k, user_api="openmp"``) in the calling thread, else
    ``OMP_NUM_THREADS``, else the CPUs this process may run on (cgroup quotas
    and affinity masks included, via ``joblib.cpu_count``).

``TUNED_THRESHOLDS`` and ``StepThreads``
    Training on free cores.  A training step is a few milliseconds of kernel
    calls, each one a parallel region whose closing barrier waits for every
    thread: on idle cores two threads run a 128 x 784 x 256 product 1.8x
    faster, on a core another process holds they run it 10-20x slower (the
    barrier waits a scheduler slice for the descheduled thread).  No fixed
    threshold is right on both machines, so the trainer measures: a
    ``StepThreads`` tries one thread and all allowed ones on a few steps,
    keeps the faster, and checks again at growing intervals.  Only kernels
    whose results do not depend on the thread count get the lower
    ``TUNED_THRESHOLDS`` (the GEMM, which splits C into whole column panels
    or row blocks, each element the same fixed-order sum; the 1-D and 2-D
    convolutions, whose weight gradients add partial sums in an order fixed
    by the batch; the recurrent layers, whose sequences are independent rows;
    the RBM epoch, whose products are that GEMM; the optimizers' updates,
    element by element): a fit gives the same bits on one thread and on many.

``blas_single_thread()`` and ``map_row_chunks(fn, n)``
    The one BLAS limiter (re-entrant, shared by every thread of the process),
    and the one way fastnut spreads a large prediction over cores: the rows
    are cut into chunks, and each thread runs the *whole* computation (every
    layer) on its chunk, with BLAS and the OpenMP kernels on one thread.

Why prediction is threaded by row chunks, not inside each layer
---------------------------------------------------------------
Until this policy, a large ``predict`` alternated two thread pools chunk
after chunk: OpenBLAS's pthreads for each GEMM (with AVX-512: for the
10-column output layer) and fastnut's OpenMP team (libgomp) for each fused
bias + activation pass (with AVX-512: also fastnut's GEMM, split by rows).  Both pools busy-wait after
their work (libgomp spins ``GOMP_SPINCOUNT`` = 300,000 times, OpenBLAS polls
its queue), so on a 2-core machine the spinning workers of one pool held the
cores the other pool needed next, and every region's closing barrier waited
for a thread the scheduler had not run: ``MLPClassifier((256, 128))
.predict_proba`` on 100,000 x 784 float32 took 4-10 s with the default
threads against 1.4-1.6 s on one thread (this 2-core EPYC, shared); a
200-row batch 10-38 ms against 3-4 ms (BLAS threads on a small GEMM).
Row chunks have no barrier per layer, only one pool is ever awake, its
workers sleep (a condition variable, not a spin) between calls, and chunks
are claimed one at a time, so a worker the scheduler holds back delays the
call by at most the chunk it has started, never by the chunks it has not.
(scikit-learn's own copy of libgomp is loaded beside fastnut's, but runs no
parallel region during a fastnut call: it is not part of the cause.)
"""
import contextlib
import os
import threading
import time
from collections import namedtuple
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ._kernels import _build_info

Threshold = namedtuple("Threshold", "min_work unit evidence")

#: When one kernel call is worth more than one thread: ``threads_for(work,
#: kind)`` gives one thread below ``min_work``.  The rule behind every entry:
#: a parallel region must carry at least ~20 ms of one-core work, because its
#: closing barrier waits for every thread, and on a machine whose cores are
#: shared one of them is descheduled for a scheduler slice (milliseconds) at
#: a time -- a stall of at most ~5-10% at that size.  The one-core rates are
#: the best of 20 calls on this 2-core EPYC (AVX2, float32, shared with other
#: jobs: load average 12-14 while measured).  Below these sizes -- every
#: training mini-batch step of the benchmarks -- the kernels run on one
#: thread: with 2 threads, LeNet training at batch 64 (3.2e8 FLOPs a
#: convolution) ran 0.67x, an RBM epoch with BLAS threads 0.04x, PyTorch's
#: own MLP, LeNet and LSTM training 0.06-0.16x of one thread on that machine
#: (``python -m benchmarks threads``).  Prediction does not go through these:
#: its rows are split into chunks (``map_row_chunks``), which has no barrier
#: per layer.
THRESHOLDS = {
    "elementwise": Threshold(
        1 << 26, "elements",
        "fused bias + activation, its derivative and the Adam/SGD steps "
        "(src_c/dense.pyx): 0.26 ns an element on one core, 2**26 = 17 ms"),
    "gemm": Threshold(
        1 << 30, "multiply-adds",
        "fastnut's float32 GEMM (src_c/_gemm.h) splits the rows of C over "
        "threads: at ~70 GFLOP/s a core, 2**30 multiply-adds = 31 ms (a "
        "training product, 128 x 784 x 256 = 2.6e7, stays on one thread)"),
    "optimizer": Threshold(
        1 << 26, "elements",
        "the Adam/SGD parameter updates (src_c/dense.pyx), as \"elementwise\"; "
        "a tuned kind: each element's update and the L2 value's block sums "
        "do not depend on the thread count"),
    "conv": Threshold(
        3e9, "FLOPs",
        "a convolution call over its images (src_c/conv.pyx): 13.5 GFLOP/s "
        "on one core for LeNet's second layer at batch 64 (3.2e8 FLOPs, 24 ms, "
        "0.67x on 2 threads of the busy machine); 3e9 is ~25 ms on an idle "
        "core"),
    "conv1d": Threshold(
        3e9, "FLOPs",
        "a 1-D convolution call over its chunks of sequences "
        "(src_c/conv1d.pyx), as \"conv\""),
    "pool": Threshold(
        1 << 25, "input values",
        "pooling, upsampling and a convolution's separate activation pass: "
        "memory-bound, 0.46 ns a value on one core, 2**25 = 15 ms"),
    "recurrent": Threshold(
        1 << 20, "batch rows x gate width per step",
        "an RNN time step (gate GEMM + cell update, src_c/rnn.pyx) ends in a "
        "barrier: 33 ns per row x gate unit at h128 (543 us a step at batch "
        "32), so a step needs 2**20 of them (~35 ms) and >= 16 rows a thread"),
    "rbm": Threshold(
        1 << 23, "elements per pass",
        "the RBM kernels' sigmoid and sampling passes (src_c/rbm.pyx), "
        "~2 ns an element with the exponential and the counter-based "
        "generator: 2**23 = 17 ms; an epoch's passes are batch-sized"),
    "bmu": Threshold(
        1.4e9, "FLOPs (2 n units features)",
        "the SOM's best-matching-unit search in fit: one OpenMP region per "
        "epoch, one GEMM per block of samples (src_c/som.pyx block_rows) with "
        "BLAS on one thread, a thread per block at most; at ~70 GFLOP/s 1.4e9 "
        "is 20 ms (fit of 5,000 x 64 on 20 x 20, 2.6e8 a search, ran 0.53x on "
        "2 threads of the busy machine); transform and predict use row chunks"),
    "predict": Threshold(
        2e-3, "seconds of work left after the first chunk",
        "prediction by row chunks (map_row_chunks): the first chunk runs on "
        "the calling thread and times the rest; below ~2 ms of work left, "
        "waking a worker (~50 us) and sharing the GIL between chunks gain "
        "nothing measurable; chunks are claimed one at a time, so a worker "
        "the scheduler holds back costs at most the chunk it has started"),
}

#: Lower thresholds for kernel calls inside a training step that a
#: ``StepThreads`` watches (it falls back to one thread wherever threads turn
#: out slower, so these are the idle-core break-even points).  Only kinds whose
#: results are the same bits on any thread count belong here.
TUNED_THRESHOLDS = {
    "gemm": Threshold(
        1 << 21, "multiply-adds",
        "fastnut's float32 GEMM on 2 idle cores of this EPYC: 128 x 784 x 256 "
        "(2.6e7) 1.8x, 128 x 256 x 128 (4.2e6) 1.6x, 32 x 256 x 512 (4.2e6) "
        "1.5x faster than one thread; a parallel region costs ~5 us, 2**21 "
        "multiply-adds are ~30 us of one core"),
    "conv": Threshold(
        1e7, "FLOPs",
        "a 2-D convolution's forward or backward over its image groups "
        "(src_c/conv.pyx; the weight gradient is summed in slots fixed by the "
        "batch, conv2d_acc_rows): LeNet's layers at batch 64 are 2.9e7 and "
        "1.05e8 FLOPs, 2-8 ms of one core; 1e7 is ~0.7 ms"),
    "optimizer": Threshold(
        1 << 15, "elements",
        "an Adam step over two blocks of 16,384 parameters on 2 idle cores of "
        "this EPYC: 32,768 1.57x, 235,146 (the (256, 128) MLP on 784 "
        "features) 1.52x, 2**20 1.98x faster than one thread (19 us of one "
        "core at 2**15); one block stays on one thread"),
    "conv1d": Threshold(
        1e7, "FLOPs",
        "a 1-D convolution's forward or backward over its chunks of sequences "
        "(src_c/conv1d.pyx; the weight gradient is summed in slots fixed by "
        "the batch, conv1d_acc_rows): forward + backward on 2 idle cores of "
        "this EPYC 1.53x at 64 x 100 steps, 16 -> 32 channels, k 5 (3.3e7 "
        "forward FLOPs), 1.21-1.23x at 16 x 150 steps, 128 -> 256 and "
        "256 -> 128 channels (4.7e8-7.9e8); a call with one chunk of "
        "sequences stays on one thread"),
    "recurrent": Threshold(
        1 << 13, "batch rows x gate width per step",
        "a recurrent layer's forward or backward (src_c/rnn.pyx): in float32 "
        "each thread runs a block of >= 16 rows through every step, no "
        "barrier per step, and the weight-gradient product splits its rows; "
        "LSTM h128 at batch 32 (16,384 a step, ~45 ms a batch over 200 steps "
        "forward and backward) is the size of the benchmark"),
}

_state = threading.local()  # .serial: inside a map_row_chunks chunk; .step: a StepThreads count
_cpus = None


def _cpu_count():
    global _cpus
    if _cpus is None:
        try:
            from joblib import cpu_count  # cgroup quotas and affinity
            _cpus = max(1, int(cpu_count()))
        except Exception:  # pragma: no cover - joblib comes with scikit-learn
            _cpus = os.cpu_count() or 1
    return _cpus


def effective_n_threads(n_jobs=None):
    """Threads fastnut may use for one call, from the environment.

    Parameters
    ----------
    n_jobs : int or None, default=None
        ``None`` or ``-1``: all the environment allows; a positive int is
        capped by that (the SOM's ``n_jobs`` parameter).

    Returns
    -------
    n : int
        1 without OpenMP; else ``omp_get_max_threads()`` of fastnut's OpenMP
        runtime (it reflects ``OMP_NUM_THREADS`` and threadpoolctl's OpenMP
        limits in this thread), capped by the usable CPUs.
    """
    if n_jobs is not None and (n_jobs < -1 or n_jobs == 0):
        raise ValueError(f"n_jobs must be a positive int, -1 or None; got {n_jobs!r}")
    if not _build_info.openmp_enabled():
        return 1
    allowed = max(1, min(int(_build_info.omp_max_threads()), _cpu_count()))
    if n_jobs is None or n_jobs == -1:
        return allowed
    return min(int(n_jobs), allowed)


#: the former name, kept for callers that want the allowed count itself
n_threads = effective_n_threads


def threads_for(work, kind, n_jobs=None, cap=None):
    """Threads a kernel call of ``work`` units of ``kind`` should get.

    Parameters
    ----------
    work : int or float
        Size of the call in the unit of ``THRESHOLDS[kind]``.
    kind : str
        A key of ``THRESHOLDS``.
    n_jobs : int or None, default=None
        See ``effective_n_threads``.
    cap : int or None, default=None
        At most this many (e.g. no more threads than images or blocks).

    Returns
    -------
    n : int
        1 below the threshold, inside a ``map_row_chunks`` chunk (the
        chunks are the parallelism), or when the environment allows one;
        else the allowed count, capped.  Inside a ``StepThreads`` step, the
        step's count for the kinds of ``TUNED_THRESHOLDS`` above their
        threshold, else 1.
    """
    tuned = TUNED_THRESHOLDS.get(kind)
    if work < THRESHOLDS[kind].min_work and (tuned is None or work < tuned.min_work):
        return 1  # below every threshold of its kind (most calls): no state to read
    if getattr(_state, "serial", False):
        return 1
    step = getattr(_state, "step", None)
    if step is not None:  # inside a StepThreads step: its count, for the tuned kinds
        if step == 1 or tuned is None or work < tuned.min_work:
            return 1
        if time.perf_counter() > _state.step_deadline:
            _state.step = 1  # a probing step already too slow: finish it on one thread
            return 1
        _state.step_wide = True
        return max(1, min(step, int(cap)) if cap is not None else step)
    if work < THRESHOLDS[kind].min_work:
        return 1
    nt = effective_n_threads(n_jobs)
    if cap is not None:
        nt = min(nt, int(cap))
    return max(1, nt)


# -- training steps on free cores ------------------------------------------------
_NO_STEP = contextlib.nullcontext()

class StepThreads:
    """Thread count for the steps of one fit, chosen by timing the steps.

    ``with tuner.step(): ...`` runs one training step (forward, backward and
    the parameter update) with the count the tuner picks; kernel calls in it
    ask ``threads_for``, which gives that count to the kinds of
    ``TUNED_THRESHOLDS``.  The schedule:

    * the environment allows one thread (``OMP_NUM_THREADS=1``,
      ``threadpool_limits(1)``, a joblib worker): always 1, nothing timed;
    * the first step runs on one thread, untimed (it allocates buffers);
    * a probe: one step on one thread, then two on ``n``, the first of them
      untimed (after single-thread steps the other core's vCPU is asleep and
      its first regions wait for it to wake: measured here, such a step of
      the (256, 128) MLP took 1.9 ms where the next took 1.0); the faster of
      the timed steps wins.  A threaded step that has run 1.5x the
      single-thread step finishes on one thread; if the timed one does (a
      busy core), the probe chose one thread, at a cost of about 1.5 steps
      and one scheduler slice per threaded step;
    * the choice holds for ``interval`` steps, then another probe checks it;
      the interval doubles while the choice stands (32 steps up to 4096)
      and drops back to 32 when it changes.  One pair per probe keeps short
      fits (an LSTM epoch of 8 steps) mostly on the better count, and the
      probes that follow correct a choice that noise got wrong;
    * every threaded step has a deadline, 1.5x the last probe's best
      single-thread step: a step past it finishes on one thread, and the
      fit goes back to one thread until the next probe (another process
      took a core in the middle of the fit).

    On a machine whose other core is busy, the threaded steps of the probes
    are the whole cost: one step in 32, then in 64, ...  Step times compare
    like with like: the steps of a fit have the same shapes except the last,
    short batch of an epoch, which is never timed.
    """

    FIRST_INTERVAL, MAX_INTERVAL, BAIL = 32, 4096, 1.5

    def __init__(self, n_jobs=None):
        self.n = effective_n_threads(n_jobs)
        self.choice = 1
        self.interval = self.FIRST_INTERVAL
        # a plan entry -n is a warm-up step on n threads: not timed, and its
        # running out of time is not taken as a busy core
        self._plan = [] if self.n == 1 else [None, 1, -self.n, self.n]
        self._times = {}
        self._left = 0          # steps before the next probe
        self._ref1 = None       # best single-thread step time of the last probe
        self.history = []       # the choice after each probe or bail-out (tests read it)
        self.narrow = False     # a threaded step found nothing to thread: stop timing

    def stale(self):
        """True when the environment now allows another thread count."""
        return self.n != effective_n_threads()

    def _next(self):
        if self._plan:
            return self._plan[0]
        if self.n > 1 and self._left <= 0:
            self._plan = [1, -self.n, self.n]
            self._times = {}
            return 1
        return self.choice

    def _record(self, nt, seconds, timed):
        if nt is not None and nt < 0:   # the warm-up step of a probe
            self._plan.pop(0)
            return
        if nt is not None and nt > 1 and _state.step == 1:
            # a threaded step that ran out of time (see step): a core is busy.
            # Failing again in a probe backs off; failing while threaded (the
            # machine changed under the fit) starts the intervals again.
            self.interval = (min(2 * self.interval, self.MAX_INTERVAL) if self._plan
                             else self.FIRST_INTERVAL)
            self.choice, self._plan = 1, []
            self._left = self.interval
            self.history.append(1)
            return
        if not self._plan:
            self._left -= 1
            return
        self._plan.pop(0)
        if nt is None or not timed:
            return
        self._times.setdefault(nt, []).append(seconds)
        best1 = min(self._times.get(1, [np.inf]))
        if nt == 1:
            self._ref1 = best1
        if self._plan:
            return
        best_n = min(self._times.get(self.n, [np.inf]))
        choice = self.n if best_n < best1 else 1
        if self.history:
            self.interval = (min(2 * self.interval, self.MAX_INTERVAL)
                             if choice == self.choice else self.FIRST_INTERVAL)
        self.choice = choice
        self._left = self.interval
        self.history.append(choice)

    def step(self, timed=True):
        """Run one training step; ``timed=False`` for a step of another shape.

        With one thread allowed there is nothing to choose, nor once a
        threaded step has made no call big enough for a thread (a small
        model: the steps of a fit have the same shapes): a shared no-op
        context, so such a step pays nothing for the tuner.
        """
        return _NO_STEP if self.n == 1 or self.narrow else self._step(timed)

    @contextlib.contextmanager
    def _step(self, timed):
        nt = self._next()
        count = 1 if nt is None else abs(nt)
        outer = (getattr(_state, "step", None), getattr(_state, "step_deadline", None),
                 getattr(_state, "step_wide", False))
        _state.step = count
        _state.step_wide = False
        t0 = time.perf_counter()
        guarded = count == self.n and count > 1 and self._ref1 is not None and timed
        _state.step_deadline = t0 + self.BAIL * self._ref1 if guarded else np.inf
        try:
            yield
            if count > 1 and _state.step > 1 and not _state.step_wide:
                self.narrow = True   # no bail-out, and nothing asked for the threads
            else:
                self._record(nt, time.perf_counter() - t0, timed)
        finally:
            _state.step, _state.step_deadline, _state.step_wide = outer


# -- the BLAS limiter -----------------------------------------------------------
def _openblas_thread_count(lib):
    """A reader of OpenBLAS's thread count.  Its ``blas_cpu_number`` variable
    when exported (what ``openblas_get_num_threads`` returns: the function
    costs ~30 us in scipy's OpenBLAS 0.3.30, as much as a one-sample
    prediction), else the function."""
    import ctypes
    try:
        var = ctypes.c_int.in_dll(lib.dynlib, "blas_cpu_number")
    except ValueError:
        return lib._get_symbol("openblas_get_num_threads")
    return lambda: var.value


class _BlasLimiter:
    """Process-wide "BLAS on one thread" with a depth count (see blas_single_thread)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.depth = 0
        self.libs = None    # [(get, set)] per BLAS library loaded in the process
        self.saved = None

    def _discover(self):
        from threadpoolctl import ThreadpoolController
        libs = []
        for lib in ThreadpoolController().select(user_api="blas").lib_controllers:
            get = set_ = None
            if lib.internal_api == "openblas" and lib.threading_layer != "openmp":
                # the C entry points themselves: threadpoolctl's set_num_threads
                # silently ignores calls from a thread other than the first one
                # that limited OpenBLAS, and the last thread to leave here may
                # be another thread than the first one in
                get = _openblas_thread_count(lib)
                set_ = lib._get_symbol("openblas_set_num_threads")
            if get is None or set_ is None:
                get, set_ = lib.get_num_threads, lib.set_num_threads
            libs.append((get, set_))
        return libs

    def enter(self):
        with self.lock:
            if self.depth == 0:
                if self.libs is None:
                    self.libs = self._discover()
                self.saved = [get() for get, _ in self.libs]
                for (_, set_), old in zip(self.libs, self.saved):
                    if old != 1:
                        set_(1)
            self.depth += 1

    def exit(self):
        with self.lock:
            self.depth -= 1
            if self.depth == 0:
                for (_, set_), old in zip(self.libs, self.saved):
                    if old is not None and old != 1:
                        set_(old)
                self.saved = None


_blas = _BlasLimiter()


@contextlib.contextmanager
def blas_single_thread():
    """Keep BLAS on one thread inside this context (re-entrant, thread-safe).

    fastnut owns its parallelism: BLAS runs single-threaded inside every
    ``fit`` and ``predict`` (inside OpenMP regions and row chunks it must; on
    a mini-batch its threads gain ~15% on idle cores and lose 10-40x when
    another process holds one).  The limit is process-wide, so concurrent
    callers share one depth count: the first thread in saves the libraries'
    settings and sets 1, the last one out (whichever thread it is) restores
    them.  Entering and leaving cost a few microseconds.
    """
    _blas.enter()
    try:
        yield
    finally:
        _blas.exit()


#: the former name
blas_one_thread = blas_single_thread


# -- prediction by row chunks ---------------------------------------------------
_pool = None
_pool_size = 0
_pool_lock = threading.Lock()


def _reset_pool_after_fork():
    # the child has no pool threads, and no thread of its own inside the
    # limiter: give BLAS back the settings a parent thread had saved
    global _pool, _pool_size, _pool_lock
    _pool, _pool_size, _pool_lock = None, 0, threading.Lock()
    if _blas.depth and _blas.saved is not None:
        for (_, set_), old in zip(_blas.libs, _blas.saved):
            if old is not None and old != 1:
                set_(old)
    _blas.lock, _blas.depth, _blas.saved = threading.Lock(), 0, None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_pool_after_fork)


def _get_pool(n_workers):
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size < n_workers:
            old = _pool
            _pool = ThreadPoolExecutor(max_workers=n_workers,
                                       thread_name_prefix="fastnut-rows")
            _pool_size = n_workers
            if old is not None:
                old.shutdown(wait=False)
        return _pool


def chunk_bounds(n, chunk=2048, min_chunk=256, min_chunks=4, align=1):
    """Row ranges ``[(start, stop), ...]`` covering ``range(n)``.

    At most ``chunk`` rows each (memory stays flat in ``n``), and from
    ``min_chunks * min_chunk`` rows on at least ``min_chunks`` of them, so
    two threads have work to share.  The cut depends on ``n`` only, never
    on the thread count or the timing: a row's result is the same whichever
    thread predicts its chunk.  Chunks start at multiples of ``align`` (a
    kernel's own block size, so its blocks do not move).
    """
    if n <= 0:
        return []
    k = max(-(-n // chunk), min(min_chunks, n // min_chunk), 1)
    size = -(-(-(-n // k)) // align) * align
    return [(a, min(a + size, n)) for a in range(0, n, size)]


def map_row_chunks(fn, n, chunk=2048, n_jobs=None, align=1):
    """Run ``fn(start, stop)`` over row chunks of ``range(n)``, on free cores.

    The first chunk runs alone on the calling thread, before any other (it
    may allocate the output), and is timed; when the rest
    is worth it (``THRESHOLDS["predict"]``) and the environment allows more
    than one thread, the remaining chunks are claimed one at a time by the
    calling thread and ``threads - 1`` pooled workers.  Inside ``fn`` every
    fastnut kernel gets one thread (``threads_for`` returns 1) and BLAS is
    on one thread: the chunks are the only parallelism.  ``fn`` must write
    its results into preallocated output rows; exceptions propagate.
    ``n_jobs`` caps the threads (see ``effective_n_threads``), ``align`` is
    passed to ``chunk_bounds``.
    """
    bounds = chunk_bounds(n, chunk, align=align)
    if not bounds:
        return
    outer = getattr(_state, "serial", False)
    with blas_single_thread():
        _state.serial = True
        try:
            t0 = time.perf_counter()
            fn(*bounds[0])
            left = (time.perf_counter() - t0) * (len(bounds) - 1)
        finally:
            _state.serial = outer
        nt = 1 if outer or len(bounds) < 2 else min(effective_n_threads(n_jobs),
                                                     len(bounds) - 1)
        if nt < 2 or left < THRESHOLDS["predict"].min_work:
            _state.serial = True
            try:
                for a, b in bounds[1:]:
                    fn(a, b)
            finally:
                _state.serial = outer
            return
        _run_shared(fn, bounds[1:], nt)


class _Cancelled(BaseException):
    """Raised in a worker's chunk when the call it belongs to has already failed."""


def raise_if_cancelled():
    """Stop a long chunk early when its ``map_row_chunks`` call has failed.

    A chunk that runs many compiled calls (an RNN over a long sequence) calls
    this between them: when another chunk of the same call has raised -- a
    ``KeyboardInterrupt`` in the calling thread, say -- the worker stops at
    once instead of finishing its chunk, so Ctrl-C ends a threaded prediction
    as soon as one compiled call returns.  A no-op outside worker chunks (the
    calling thread gets the interrupt itself).
    """
    errors = getattr(_state, "errors", None)
    if errors:
        raise _Cancelled()


def _run_shared(fn, bounds, nt):
    nxt = iter(range(len(bounds)))
    claim = threading.Lock()
    errors = []

    def work():
        _state.serial = True
        _state.errors = errors
        try:
            while not errors:
                with claim:
                    i = next(nxt, None)
                if i is None:
                    return
                try:
                    fn(*bounds[i])
                except BaseException as exc:  # re-raised in the caller
                    errors.append(exc)
                    return
        finally:
            _state.serial = False
            _state.errors = None

    pool = _get_pool(nt - 1)
    futures = [pool.submit(work) for _ in range(nt - 1)]
    outer = getattr(_state, "serial", False)
    outer_errors = getattr(_state, "errors", None)
    try:
        work()
    except BaseException as exc:  # an interrupt between chunks: the workers stop too
        errors.append(exc)
    finally:
        _state.serial = outer
        _state.errors = outer_errors
        for f in futures:
            # a worker that has not started finds nothing left: never wait for it
            if not f.cancel():
                f.result()
    if errors:
        raise errors[0]
