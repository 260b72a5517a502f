"""A refit racing predictions never corrupts memory (fitted state swaps atomically).

scikit-learn does not promise that ``fit`` and ``predict`` may overlap on one
object; fastnut promises that the overlap is safe: every prediction uses one
consistent fitted model (the old one or the new one) or raises a clear error.
The race runs in a subprocess so that a crash fails the test instead of
killing the test run.
"""
import subprocess
import sys
import textwrap

import pytest

_PRELUDE = """
import threading, time
import numpy as np
import fastnut
rng = np.random.default_rng(0)
errors, bad, calls = [], [], [0]
stop = threading.Event()

def refit(est, datasets, seconds):
    t0 = time.time(); i = 0
    while time.time() - t0 < seconds:
        X, y = datasets[i % len(datasets)]
        est.fit(X, y) if y is not None else est.fit(X)
        i += 1
    stop.set()

def reader(fn, inputs, check):
    i = 0
    while not stop.is_set():
        X = inputs[i % len(inputs)]; i += 1
        try:
            out = fn(X)
        except ValueError as exc:      # the other model's input shape: a clear error
            if "feature" not in str(exc) and "shape" not in str(exc):
                errors.append(repr(exc))
            continue
        except Exception as exc:
            errors.append(repr(exc)); continue
        calls[0] += 1
        if not check(X, out):
            bad.append(X.shape)

def race(est, datasets, fn, inputs, check, seconds=1.5):
    threads = [threading.Thread(target=reader, args=(fn, inputs, check)) for _ in range(2)]
    for t in threads: t.start()
    refit(est, datasets, seconds)
    for t in threads: t.join()
    print("calls", calls[0], "errors", errors[:3], "bad", bad[:3])
    assert not errors and not bad and calls[0] > 0
"""


def _run(body):
    code = _PRELUDE + textwrap.dedent(body)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=240)
    assert proc.returncode == 0, (
        f"race crashed or failed (return code {proc.returncode}):\n"
        f"{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")


@pytest.mark.parametrize("family", ["CNNRegressor", "CNNClassifier"])
def test_cnn_refit_between_channel_counts_while_predicting(family):
    _run(f"""
    est = fastnut.{family}(conv_layers=[(4, 3)], hidden_layer_sizes=(8,), max_iter=1,
                           batch_size=64, random_state=0)
    X1 = rng.random((64, 1, 12, 12), dtype=np.float32)
    X3 = rng.random((64, 3, 12, 12), dtype=np.float32)
    y = (rng.random(64) > 0.5).astype(int)
    est.fit(X1, y)
    def check(X, out):
        return out.shape[0] == X.shape[0] and np.isfinite(np.asarray(out, float)).all()
    race(est, [(X3, y), (X1, y)], est.predict, [X1, X3], check)
    """)


def test_conv_autoencoder_refit_while_transforming():
    _run("""
    est = fastnut.ConvAutoencoder(max_iter=1, random_state=0)
    X1 = rng.random((32, 1, 8, 8), dtype=np.float32)
    X3 = rng.random((32, 3, 8, 8), dtype=np.float32)
    est.fit(X1)
    def check(X, out):
        return out.shape[0] == X.shape[0] and np.isfinite(out).all()
    race(est, [(X3, None), (X1, None)], est.transform, [X1, X3], check)
    """)


def test_rbm_refit_while_transforming():
    _run("""
    est = fastnut.BernoulliRBM(n_components=32, n_iter=2, random_state=0)
    Xa = rng.random((200, 30))
    Xb = rng.random((200, 50))
    est.fit(Xa)
    def check(X, out):
        return out.shape == (X.shape[0], 32) and np.isfinite(out).all() and \
            (out >= 0).all() and (out <= 1).all()
    race(est, [(Xb, None), (Xa, None)], est.transform, [Xa, Xb], check)
    """)


def test_mlp_partial_fit_while_predicting_uses_one_model():
    # partial_fit continues the model: the reader sees the weights before or
    # after a call, both finite, never a half-built state
    _run("""
    est = fastnut.MLPRegressor(hidden_layer_sizes=(16,), random_state=0, solver="sgd")
    X = rng.random((256, 10)); y = X.sum(axis=1)
    est.partial_fit(X, y)
    def check(X_, out):
        return out.shape == (X_.shape[0],) and np.isfinite(out).all()
    t = [threading.Thread(target=reader, args=(est.predict, [X], check)) for _ in range(2)]
    for th in t: th.start()
    t0 = time.time()
    while time.time() - t0 < 1.5:
        est.partial_fit(X, y)
    stop.set()
    for th in t: th.join()
    assert not errors and not bad and calls[0] > 0, (errors, bad)
    """)
