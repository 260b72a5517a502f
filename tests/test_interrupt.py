"""Ctrl-C: honoured within a fraction of a second, and the estimator stays as it was.

Each case runs in a subprocess (an interrupt must never reach pytest itself):
the child fits a model, snapshots its fitted state, starts a long call, and a
timer thread interrupts the main thread (``_thread.interrupt_main``, what
SIGINT does) after a moment.  The child reports how long the
``KeyboardInterrupt`` took to arrive after the interrupt and whether the
estimator still holds exactly the state it had before the call.
"""
import json
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import fastnut._threads as T

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHILD = textwrap.dedent('''
    import _thread, json, pickle, sys, threading, time, warnings
    import numpy as np
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted
    import fastnut

    case = sys.argv[1]
    warnings.simplefilter("ignore")
    rng = np.random.RandomState(0)

    def state(est):
        d = {k: v for k, v in vars(est).items() if k.endswith("_") and not k.startswith("_")}
        return pickle.dumps(d)

    if case == "rnn_predict":
        est = fastnut.RNNRegressor(hidden_size=16, max_iter=1, random_state=0)
        est.fit(rng.rand(8, 20, 1), rng.rand(8))
        X = rng.rand(2, 3_000_000, 1).astype(np.float32)   # ~3-10 s in one kernel call
        call = lambda: est.predict(X)
    elif case == "rbm_fit":
        est = fastnut.BernoulliRBM(n_components=256, n_iter=1, random_state=0)
        est.fit(rng.rand(50, 784))
        X = (rng.rand(20000, 784) < 0.3).astype(np.float32)  # one epoch: ~4-10 s
        call = lambda: est.fit(X)
    elif case == "mlp_fit":
        est = fastnut.MLPClassifier(hidden_layer_sizes=(256,), max_iter=2, random_state=0)
        est.fit(rng.rand(100, 64), rng.randint(0, 3, 100))
        X, y = rng.rand(100000, 64), rng.randint(0, 3, 100000)
        est.set_params(max_iter=200)
        call = lambda: est.fit(X, y)
    elif case in ("dbm_fit", "dbm_fresh"):
        est = fastnut.DeepBoltzmannMachine(hidden_layer_sizes=(256, 128), n_iter=1,
                                           random_state=0)
        if case == "dbm_fit":
            est.fit(rng.rand(50, 784))
        X = (rng.rand(20000, 784) < 0.3).astype(np.float32)
        est.set_params(n_iter=50)
        call = lambda: est.fit(X)
    before = state(est) if case != "dbm_fresh" else None

    sent = []
    def interrupt():
        sent.append(time.perf_counter())
        _thread.interrupt_main()
    threading.Timer(float(sys.argv[2]), interrupt).start()
    t0 = time.perf_counter()
    try:
        call()
        out = {"finished": True, "elapsed": time.perf_counter() - t0}
    except KeyboardInterrupt:
        out = {"finished": False, "delay": time.perf_counter() - sent[0]}
    if before is not None:
        out["unchanged"] = state(est) == before
        est.transform(X[:5]) if hasattr(est, "transform") else est.predict(X[:5])
    else:
        try:
            check_is_fitted(est)
            out["unfitted"] = False
        except NotFittedError:
            out["unfitted"] = True
    print(json.dumps(out))
''')


def run_child(case, after=0.5):
    proc = subprocess.run([sys.executable, "-c", CHILD, case, str(after)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, PYTHONPATH=ROOT))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


#: seconds an interrupt may take to land: the longest compiled call is ~0.1 s
#: (without the machine's other load); before, the RNN waited for the whole
#: prediction (one call, 3-10 s) and the RBM for an epoch (4-10 s)
MAX_DELAY = 1.5


@pytest.mark.parametrize("case", [
    "rnn_predict", "rbm_fit",
    # training loops that were interruptible between batches already
    pytest.param("mlp_fit", marks=pytest.mark.slow),
    pytest.param("dbm_fit", marks=pytest.mark.slow),
])
def test_interrupt_is_prompt_and_keeps_the_fitted_state(case):
    out = run_child(case)
    assert not out["finished"], f"{case} finished before the interrupt: {out}"
    assert out["delay"] < MAX_DELAY, out
    assert out["unchanged"], f"{case}: the fitted state changed after the interrupt"


def test_interrupted_first_fit_leaves_the_estimator_unfitted():
    out = run_child("dbm_fresh")
    assert not out["finished"] and out["delay"] < MAX_DELAY, out
    assert out["unfitted"]


def test_failed_call_stops_the_other_workers():
    """When one chunk raises, a worker inside a long chunk stops at its next
    ``raise_if_cancelled`` instead of finishing it."""
    if T.effective_n_threads() < 2:
        pytest.skip("needs two threads")
    started = threading.Event()
    stopped = []

    def chunk(a, b):
        if a == 0:          # the first chunk runs alone and is timed: make it "slow"
            time.sleep(0.05)
            return
        if threading.current_thread() is threading.main_thread():
            started.wait(5)
            raise ValueError("boom")
        started.set()
        t0 = time.perf_counter()
        try:
            while time.perf_counter() - t0 < 30:
                time.sleep(0.005)
                T.raise_if_cancelled()
        finally:
            stopped.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    with pytest.raises(ValueError, match="boom"):
        T.map_row_chunks(chunk, 8192, chunk=2048)
    assert time.perf_counter() - t0 < 5
    assert stopped and max(stopped) < 5
