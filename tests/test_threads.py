"""fastnut's thread policy (fastnut/_threads.py): the thresholds, the thread
count of a call, the one BLAS limiter and prediction by row chunks."""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from fastnut import _threads
from fastnut._threads import (THRESHOLDS, blas_single_thread, chunk_bounds,
                              effective_n_threads, map_row_chunks, threads_for)


def _blas_threads():
    return sorted(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")


def _run(code, **env):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, **env}, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


# -- one limiter ------------------------------------------------------------------
def test_every_module_uses_the_one_limiter():
    from fastnut import _boltzmann, som
    from fastnut.nn import _conv, _recurrent
    assert som._blas_single_thread is blas_single_thread
    assert _conv.blas_single_thread is blas_single_thread
    assert _recurrent.blas_single_thread is blas_single_thread
    # the Boltzmann family's training runs (RBM, DBN, DBM) go through its drivers
    assert _boltzmann.blas_single_thread is blas_single_thread


@pytest.mark.parametrize("last_out", ["first_in", "second_in"])
def test_interleaved_limiters_restore_blas_threads(last_out):
    """A enters (saves N, sets 1), B enters, one leaves while the other is still
    inside: BLAS must stay at 1 until the last one leaves, then be N again --
    whichever thread leaves last (the two-limiter bug left BLAS at 1 for good)."""
    if not _blas_threads():
        pytest.skip("no BLAS library found by threadpoolctl")
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        assert before and all(n == 2 for n in before)
        a_in, b_in, a_may_leave, b_may_leave = (threading.Event() for _ in range(4))
        a_out, b_out = threading.Event(), threading.Event()
        seen = {}
        errors = []

        def thread_a():
            try:
                with blas_single_thread():
                    a_in.set()
                    b_in.wait(10)
                    a_may_leave.wait(10)
                a_out.set()
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        def thread_b():
            try:
                a_in.wait(10)
                with blas_single_thread():
                    seen["b inside"] = _blas_threads()
                    b_in.set()
                    b_may_leave.wait(10)
                b_out.set()
            except BaseException as exc:  # pragma: no cover
                errors.append(exc)

        ta, tb = threading.Thread(target=thread_a), threading.Thread(target=thread_b)
        ta.start()
        tb.start()
        assert b_in.wait(10)
        seen["both inside"] = _blas_threads()
        first, second = (a_may_leave, b_may_leave) if last_out == "second_in" else \
            (b_may_leave, a_may_leave)
        first_out = a_out if last_out == "second_in" else b_out
        first.set()
        assert first_out.wait(10)
        seen["one left"] = _blas_threads()
        second.set()
        ta.join(10)
        tb.join(10)
        assert not errors
        assert all(n == 1 for n in seen["b inside"])
        assert all(n == 1 for n in seen["both inside"])
        assert all(n == 1 for n in seen["one left"]), "BLAS restored while a thread was inside"
        assert _blas_threads() == before, "BLAS not restored by the last thread out"
    assert _blas_limiter_idle()


def _blas_limiter_idle():
    return _threads._blas.depth == 0


def test_limiter_is_reentrant_and_survives_exceptions():
    if not _blas_threads():
        pytest.skip("no BLAS library found by threadpoolctl")
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        with pytest.raises(RuntimeError, match="inside"):
            with blas_single_thread():
                with blas_single_thread():
                    assert all(n == 1 for n in _blas_threads())
                assert all(n == 1 for n in _blas_threads())
                raise RuntimeError("inside")
        assert _blas_threads() == before
    assert _blas_limiter_idle()


# -- thread counts ----------------------------------------------------------------
def test_every_threshold_says_what_it_measures():
    for kind, t in THRESHOLDS.items():
        assert t.min_work > 0 and t.unit and len(t.evidence) > 40, kind


def test_threads_for_follows_the_table_and_the_environment():
    allowed = effective_n_threads()
    assert 1 <= allowed <= (os.cpu_count() or 1)
    for kind, t in THRESHOLDS.items():
        assert threads_for(t.min_work / 2, kind) == 1
        assert threads_for(t.min_work, kind) == allowed
        assert threads_for(t.min_work, kind, cap=1) == 1
        assert threads_for(t.min_work, kind, n_jobs=1) == 1
    with threadpool_limits(limits=1):
        assert effective_n_threads() == 1
        assert threads_for(1e30, "gemm") == 1
    with threadpool_limits(limits=1, user_api="openmp"):
        assert threads_for(1e30, "conv") == 1
    with pytest.raises(KeyError):
        threads_for(1, "no such kind")
    with pytest.raises(ValueError, match="n_jobs must be a positive int"):
        effective_n_threads(0)


def test_omp_num_threads_is_honoured():
    code = ("from fastnut._threads import effective_n_threads, threads_for;"
            "print(effective_n_threads(), threads_for(1e30, 'gemm'))")
    assert _run(code, OMP_NUM_THREADS="1") == "1 1"


# -- row chunks -------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 255, 256, 1000, 1024, 2048, 2049, 8192, 100_000])
def test_chunk_bounds_cover_the_rows_once(n):
    b = chunk_bounds(n)
    assert b[0][0] == 0 and b[-1][1] == n
    assert all(s1 == t0 for (_, s1), (t0, _) in zip(b[:-1], b[1:]))
    assert all(0 < stop - start <= 2048 for start, stop in b)
    if n >= 4 * 256:
        assert len(b) >= 4
    assert chunk_bounds(n) == b  # depends on n only
    assert chunk_bounds(0) == []


def test_map_row_chunks_runs_each_chunk_once_with_one_kernel_thread():
    n = 10_000
    out = np.zeros(n)
    inside = []

    def fn(a, b):
        inside.append(threads_for(1e30, "gemm"))
        out[a:b] += np.arange(a, b)

    map_row_chunks(fn, n)
    np.testing.assert_array_equal(out, np.arange(n))
    assert inside and set(inside) == {1}
    assert threads_for(1e30, "gemm") == effective_n_threads()  # reset after the call
    assert _blas_limiter_idle()


def test_map_row_chunks_uses_a_second_thread_when_allowed():
    if effective_n_threads() < 2:
        pytest.skip("the environment allows one thread")
    meet = threading.Barrier(2, timeout=30)
    names = set()
    blas_inside = []

    def fn(a, b):
        if a == 0:  # the first chunk runs alone and is timed: make it look expensive
            threading.Event().wait(0.01)
            return
        names.add(threading.current_thread().name)
        blas_inside.append(_blas_threads())
        if len(names) < 2:
            meet.wait()  # only passes once a second thread runs a chunk at the same time

    map_row_chunks(fn, 8 * 256)
    assert len(names) == 2
    assert any(name.startswith("fastnut-rows") for name in names)
    assert all(n == 1 for threads in blas_inside for n in threads)


def test_map_row_chunks_stays_on_the_caller_under_a_limit():
    names = set()

    def fn(a, b):
        threading.Event().wait(0.005)
        names.add(threading.current_thread().name)

    with threadpool_limits(limits=1):
        map_row_chunks(fn, 8 * 256)
    assert names == {threading.current_thread().name}


def test_map_row_chunks_propagates_errors_and_nests_serially():
    def bad(a, b):
        threading.Event().wait(0.005)
        if a > 0:
            raise ValueError(f"chunk at {a}")

    with pytest.raises(ValueError, match="chunk at"):
        map_row_chunks(bad, 8 * 256)
    assert _blas_limiter_idle()
    inner_names = set()

    def outer(a, b):
        threading.Event().wait(0.005)
        me = threading.current_thread().name
        map_row_chunks(lambda c, d: inner_names.add((me, threading.current_thread().name)),
                       4096)
    map_row_chunks(outer, 8 * 256)
    assert all(me == inner for me, inner in inner_names)  # no nested parallelism


# -- estimators -------------------------------------------------------------------
def _mlp(n_features=64, n=12_000, seed=0):
    from fastnut import MLPClassifier
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_features)).astype(np.float32)
    y = rng.integers(0, 3, n)
    clf = MLPClassifier((64, 32), max_iter=2, batch_size=256, random_state=0)
    with pytest.warns(Warning):
        clf.fit(X[:1000], y[:1000])
    return clf, X


def test_predictions_do_not_depend_on_the_thread_count():
    clf, X = _mlp()
    default = clf.predict_proba(X)
    with threadpool_limits(limits=1):
        one = clf.predict_proba(X)
    np.testing.assert_array_equal(default, one)
    assert _blas_limiter_idle()


def test_fit_and_predict_leave_blas_settings_alone():
    before = {(i["filepath"], i["num_threads"]) for i in threadpool_info()}
    clf, X = _mlp(n=3000)
    clf.predict(X)
    assert {(i["filepath"], i["num_threads"]) for i in threadpool_info()} == before


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_child_forked_inside_the_limiter_gets_blas_back():
    if not _blas_threads():
        pytest.skip("no BLAS library found by threadpoolctl")
    import multiprocessing
    ctx = multiprocessing.get_context("fork")
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        with blas_single_thread():
            q = ctx.Queue()
            p = ctx.Process(target=lambda: q.put((_blas_threads(), _threads._blas.depth)))
            p.start()
            child = q.get(timeout=60)
            p.join(60)
    assert child == (before, 0)


# -- training steps on free cores (StepThreads) ----------------------------------
class _FakeClock:
    """perf_counter for the tuner: a step advances it by the time its count costs."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _run_steps(monkeypatch, cost, n_steps, n=2):
    """Run n_steps steps of a StepThreads whose steps cost cost(count) seconds.

    Each step asks threads_for for a big tuned product twice, half-way through
    and at the end, as a training step's GEMMs do, and charges the clock for
    the count it got.  Returns (tuner, counts the steps started with).
    """
    clock = _FakeClock()
    monkeypatch.setattr(_threads.time, "perf_counter", clock)
    monkeypatch.setattr(_threads, "effective_n_threads", lambda n_jobs=None: n)
    tuner = _threads.StepThreads()
    big = _threads.TUNED_THRESHOLDS["gemm"].min_work * 4
    started = []
    for _ in range(n_steps):
        with tuner.step():
            started.append(_threads._state.step)
            for _half in range(2):
                clock.now += cost(threads_for(big, "gemm")) / 2
    return tuner, started


def test_step_threads_keeps_the_threads_when_they_are_faster(monkeypatch):
    tuner, started = _run_steps(monkeypatch, {1: 1.0, 2: 0.6}.get, 1000)
    assert started[0] == 1                       # the untimed first step
    assert started[1:4] == [1, 2, 2]             # the probe: one, warm-up, timed
    assert set(started[4:32]) == {2}             # the choice, until the next probe
    assert tuner.choice == 2 and set(tuner.history) == {2}
    assert started.count(2) > 980                # one single-thread step per probe
    assert tuner.interval > tuner.FIRST_INTERVAL  # doubling while the choice stands


def test_step_threads_falls_back_on_a_busy_core_at_little_cost(monkeypatch):
    # a threaded region waits a scheduler slice: 20x slower than one thread
    tuner, started = _run_steps(monkeypatch, {1: 1.0, 2: 20.0}.get, 2000)
    assert tuner.choice == 1 and set(tuner.history) == {1}
    # two threaded steps per probe (warm-up, timed), probes at doubling intervals
    assert started.count(2) <= 12
    # a bailed step finishes on one thread: it costs 1.5 steps plus one region
    threaded = [i for i, c in enumerate(started) if c == 2]
    assert threaded and threaded[0] == 2


def test_step_threads_leaves_the_threads_when_a_core_becomes_busy(monkeypatch):
    busy = {"on": False}
    clock = _FakeClock()
    monkeypatch.setattr(_threads.time, "perf_counter", clock)
    monkeypatch.setattr(_threads, "effective_n_threads", lambda n_jobs=None: 2)
    tuner = _threads.StepThreads()
    big = _threads.TUNED_THRESHOLDS["gemm"].min_work * 4
    for i in range(400):
        busy["on"] = i >= 200
        with tuner.step():
            for _half in range(2):
                nt = threads_for(big, "gemm")
                clock.now += ({1: 1.0, 2: 20.0} if busy["on"] else {1: 1.0, 2: 0.6})[nt] / 2
        if i == 199:
            assert tuner.choice == 2
    assert tuner.choice == 1 and tuner.history[-1] == 1


def test_step_threads_stops_timing_a_model_with_nothing_to_thread(monkeypatch):
    # a small model: no call of its threaded probe step reaches a tuned threshold
    tuner, started = _run_steps(monkeypatch, {1: 1.0, 2: 1.0}.get, 40)
    assert started[:4] == [1, 1, 2, 2]   # a tie keeps one thread
    assert set(started[4:36]) == {1}     # until the next probe
    small = _threads.TUNED_THRESHOLDS["gemm"].min_work / 2
    clock = _FakeClock()
    monkeypatch.setattr(_threads.time, "perf_counter", clock)
    tuner = _threads.StepThreads()
    for _ in range(10):
        with tuner.step():
            assert threads_for(small, "gemm") == 1
            clock.now += 1.0
    assert tuner.narrow and tuner.step() is _threads._NO_STEP
    assert tuner.history == []


def test_step_threads_does_nothing_on_one_thread(monkeypatch):
    monkeypatch.setattr(_threads, "effective_n_threads", lambda n_jobs=None: 1)
    tuner = _threads.StepThreads()
    for _ in range(10):
        with tuner.step():
            assert threads_for(1e30, "gemm") == 1
    assert tuner.history == []


def test_only_thread_count_independent_kinds_are_tuned(monkeypatch):
    monkeypatch.setattr(_threads, "effective_n_threads", lambda n_jobs=None: 2)
    for kind, t in _threads.TUNED_THRESHOLDS.items():
        assert t.min_work < THRESHOLDS[kind].min_work and len(t.evidence) > 40
    _threads._state.step, _threads._state.step_deadline = 2, np.inf
    try:
        assert threads_for(_threads.TUNED_THRESHOLDS["gemm"].min_work, "gemm") == 2
        assert threads_for(_threads.TUNED_THRESHOLDS["gemm"].min_work / 2, "gemm") == 1
        assert threads_for(1e30, "conv") == 2
        # per-thread partial sums (batch norms, pools share "pool") stay on one thread
        assert threads_for(1e30, "pool") == 1 and threads_for(1e30, "elementwise") == 1
        assert threads_for(1e30, "recurrent") == 2 and threads_for(1e30, "rbm") == 1
        assert threads_for(1e30, "conv1d") == 2 and threads_for(1e30, "optimizer") == 2
    finally:
        _threads._state.step = _threads._state.step_deadline = None


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_threaded_training_gives_the_same_bits(monkeypatch):
    """An MLP, an autoencoder, a CNN, the three recurrent cells and RBMs (CD,
    PCD with momentum and weight decay, a DBM's doubled pre-training) trained
    with two threads in every step's GEMMs, convolutions, recurrent loops and
    RBM epoch calls equal the one-thread fits bit for bit (the GEMM's column
    and row splits keep each element's summation order; the convolution's
    weight gradient is summed in slots fixed by the batch; each sequence is a
    row of its own)."""
    from fastnut import (Autoencoder, BernoulliRBM, CNNClassifier, DeepBoltzmannMachine,
                         MLPClassifier, RNNClassifier, SequenceCNNClassifier)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 200)).astype(np.float32)
    y = rng.integers(0, 3, 300)
    kw = dict(max_iter=2, batch_size=64, random_state=0, tol=0, n_iter_no_change=10 ** 6)

    imgs = rng.random((130, 1, 12, 12)).astype(np.float32)
    seqs = rng.standard_normal((96, 30, 3)).astype(np.float32)
    long_seqs = rng.standard_normal((40, 400, 3)).astype(np.float32)

    def fits():
        clf = MLPClassifier(hidden_layer_sizes=(96, 64), **kw).fit(X, y)
        ae = Autoencoder(n_components=8, encoder_layer_sizes=(64,), **kw).fit(X)
        cnn = CNNClassifier(conv_layers=((4, 3), (8, 3)), hidden_layer_sizes=(16,),
                            **kw).fit(imgs, y[:130])
        rnns = [RNNClassifier(cell=cell, hidden_size=24, **kw).fit(seqs, y[:96])
                for cell in ("lstm", "gru", "rnn")]
        rnns.append(SequenceCNNClassifier(n_filters=(8, 8), kernel_sizes=(5, 3),
                                          hidden_layer_sizes=(32,), **kw).fit(seqs, y[:96]))
        # long enough for several chunks of sequences per Conv1D call
        rnns.append(SequenceCNNClassifier(n_filters=(16, 16), kernel_sizes=(9, 9),
                                          hidden_layer_sizes=(8,), **dict(kw, batch_size=16))
                    .fit(long_seqs, y[:40]))
        B = (X[:, :96] > 0).astype(np.float32)
        rbms = [BernoulliRBM(n_components=40, batch_size=10, n_iter=2, random_state=0).fit(B),
                BernoulliRBM(n_components=40, batch_size=10, n_iter=2, method="pcd",
                             momentum=0.5, weight_decay=1e-3, random_state=0).fit(B)]
        dbm = DeepBoltzmannMachine(hidden_layer_sizes=(40, 20), n_iter=0, pretrain_iter=2,
                                   batch_size=10, random_state=0).fit(B)
        return clf, ae, cnn, rnns, rbms, dbm

    with threadpool_limits(limits=1):
        one = fits()
    counts = []
    real = _threads.threads_for

    def spy(work, kind, n_jobs=None, cap=None):
        nt = real(work, kind, n_jobs, cap)
        counts.append((kind, nt))
        return nt

    rbm_counts = []

    def rbm_spy(work, kind, n_jobs=None, cap=None):
        nt = real(work, kind, n_jobs, cap)
        rbm_counts.append((kind, nt))
        return nt

    monkeypatch.setattr(_threads, "effective_n_threads", lambda n_jobs=None: 2)
    monkeypatch.setattr(_threads.StepThreads, "_next", lambda self: self.n)
    for kind in _threads.TUNED_THRESHOLDS:
        monkeypatch.setitem(_threads.TUNED_THRESHOLDS, kind,
                            _threads.TUNED_THRESHOLDS[kind]._replace(min_work=1))
    import fastnut._boltzmann as boltzmann
    import fastnut.nn._conv as conv
    import fastnut.nn._conv1d as conv1d
    import fastnut.nn._linalg as linalg
    import fastnut.nn._optimizers as optimizers
    import fastnut.nn._recurrent as recurrent
    for module in (linalg, conv, conv1d, optimizers, recurrent):
        monkeypatch.setattr(module, "threads_for", spy)
    monkeypatch.setattr(boltzmann, "threads_for", rbm_spy)
    two = fits()
    assert {("gemm", 2), ("conv", 2), ("conv1d", 2), ("optimizer", 2),
            ("recurrent", 2)} <= set(counts)
    assert ("gemm", 2) in rbm_counts
    for a, b in zip(one[0].coefs_ + one[0].intercepts_, two[0].coefs_ + two[0].intercepts_):
        np.testing.assert_array_equal(a, b)
    assert one[0].loss_curve_ == two[0].loss_curve_
    np.testing.assert_array_equal(one[1].transform(X), two[1].transform(X))
    for m1, m2 in [(one[2], two[2])] + list(zip(one[3], two[3])):
        for a, b in zip(m1.network_.params.values(), m2.network_.params.values()):
            np.testing.assert_array_equal(a, b)
    for r1, r2 in zip(one[4], two[4]):
        np.testing.assert_array_equal(r1.components_, r2.components_)
        np.testing.assert_array_equal(r1.intercept_hidden_, r2.intercept_hidden_)
    for a, b in zip(one[5].coefs_, two[5].coefs_):
        np.testing.assert_array_equal(a, b)
