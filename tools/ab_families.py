"""Before/after timing of every family's fit and predict between two built checkouts.

    git worktree add --detach /tmp/before <commit>
    (cd /tmp/before && python setup.py build_ext --inplace -j 2)
    python tools/ab_families.py /tmp/before . [--reps 5] [--only mlp,som]

One worker process per checkout (``PYTHONPATH`` points at it, one thread:
``OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=1``), both alive for the whole run; the
cases alternate A B B A ... so that a drifting machine load hits both alike.
Only the public API and parameters that both checkouts accept are used, and
every fit runs a fixed number of epochs (``tol=0`` and a patience longer than
``max_iter`` where the family has a stopping rule), so the figures compare the
engine, not a changed default.  Each row prints the best time of A and of B,
their spreads (slowest / best) and ``B/A`` (below 1: B is faster).
"""
import argparse
import json
import os
import subprocess
import sys
import time

NO_STOP = dict(tol=0.0, n_iter_no_change=10 ** 6)


def _data():
    import numpy as np
    rng = np.random.default_rng(0)
    d = {}
    centers = rng.standard_normal((10, 784)).astype(np.float32)
    y = rng.integers(0, 10, 20000)
    d["X784"] = centers[y] + 2.0 * rng.standard_normal((20000, 784)).astype(np.float32)
    d["y10"] = y
    d["B784"] = (rng.random((10000, 784)) < 0.2).astype(np.float32)
    d["U784"] = rng.random((10000, 784)).astype(np.float32)
    c64 = rng.standard_normal((10, 64)).astype(np.float32)
    y64 = rng.integers(0, 10, 20000)
    d["X64"] = c64[y64] + rng.standard_normal((20000, 64)).astype(np.float32)
    d["y64"] = y64
    d["img"] = rng.random((4096, 28, 28, 1)).astype(np.float32)
    d["yimg"] = rng.integers(0, 10, 4096)
    d["seq"] = rng.standard_normal((1024, 100, 8)).astype(np.float32)
    d["yseq"] = rng.integers(0, 4, 1024)
    return d


def _cases(d):
    """{name: (build, call)}: build() returns a fitted or unfitted estimator, call(est) is timed."""
    import fastnut as fn
    X784, y10, X64, y64 = d["X784"], d["y10"], d["X64"], d["y64"]
    img, yimg, seq, yseq = d["img"], d["yimg"], d["seq"], d["yseq"]
    B784, U784 = d["B784"], d["U784"]

    def fitted(est, *args):
        return lambda: est.fit(*args)

    mlp_big = dict(hidden_layer_sizes=(256, 128), batch_size=128, random_state=0, **NO_STOP)
    mlp_def = dict(random_state=0, **NO_STOP)
    cnn = dict(input_shape=(28, 28, 1), batch_size=64, random_state=0, **NO_STOP)
    rnn = dict(hidden_size=128, batch_size=32, random_state=0, **NO_STOP)
    ae = dict(n_components=32, encoder_layer_sizes=(256,), batch_size=128, random_state=0,
              **NO_STOP)
    c = {}
    c["mlp fit (256,128) b128, 1 ep"] = (
        lambda: fn.MLPClassifier(max_iter=1, **mlp_big), lambda e: e.fit(X784, y10))
    c["mlp fit defaults (100,) b200, 3 ep"] = (
        lambda: fn.MLPClassifier(max_iter=3, **mlp_def), lambda e: e.fit(X64, y64))
    c["mlp predict_proba 20k x 784"] = (
        fitted(fn.MLPClassifier(max_iter=1, **mlp_big), X784[:2000], y10[:2000]),
        lambda e: e.predict_proba(X784))
    c["mlp regressor fit (100,) 3 ep"] = (
        lambda: fn.MLPRegressor(max_iter=3, **mlp_def), lambda e: e.fit(X64, X64[:, 0]))
    c["cnn fit 4096 imgs, 1 ep"] = (
        lambda: fn.CNNClassifier(max_iter=1, **cnn), lambda e: e.fit(img, yimg))
    c["cnn predict 4096 imgs"] = (
        fitted(fn.CNNClassifier(max_iter=1, **cnn), img[:256], yimg[:256]),
        lambda e: e.predict_proba(img))
    for cell in ("lstm", "gru", "rnn"):
        c[f"rnn {cell} fit h128 T100 1024 seqs, 1 ep"] = (
            lambda cell=cell: fn.RNNClassifier(cell=cell, max_iter=1, **rnn),
            lambda e: e.fit(seq, yseq))
    c["rnn lstm predict 1024 seqs"] = (
        fitted(fn.RNNClassifier(cell="lstm", max_iter=1, **rnn), seq[:64], yseq[:64]),
        lambda e: e.predict_proba(seq))
    som = dict(n_rows=20, n_cols=20, random_state=0)
    c["som fit batch 20x20 20k x 64, 5 ep"] = (
        lambda: fn.SelfOrganizingMap(max_iter=5, **som), lambda e: e.fit(X64))
    c["som fit online 20x20 5k x 64, 2 ep"] = (
        lambda: fn.SelfOrganizingMap(max_iter=2, algorithm="online", **som),
        lambda e: e.fit(X64[:5000]))
    c["som transform 20k x 64"] = (
        fitted(fn.SelfOrganizingMap(max_iter=2, **som), X64), lambda e: e.transform(X64))
    c["som predict 20k x 64"] = (
        fitted(fn.SelfOrganizingMap(max_iter=2, **som), X64), lambda e: e.predict(X64))
    rbm = dict(n_components=256, batch_size=100, random_state=0)
    c["rbm fit 10k x 784, 2 ep"] = (
        lambda: fn.BernoulliRBM(n_iter=2, **rbm), lambda e: e.fit(B784))
    c["rbm pcd fit 10k x 784, 2 ep"] = (
        lambda: fn.BernoulliRBM(n_iter=2, method="pcd", **rbm), lambda e: e.fit(B784))
    c["rbm transform 10k x 784"] = (
        fitted(fn.BernoulliRBM(n_iter=1, **rbm), B784), lambda e: e.transform(B784))
    c["gaussian rbm fit 10k x 784, 1 ep"] = (
        lambda: fn.GaussianBernoulliRBM(n_iter=1, **rbm), lambda e: e.fit(X784[:10000]))
    dbn = dict(hidden_layer_sizes=(256, 64), batch_size=100, random_state=0)
    c["dbn fit 10k x 784, 1+1 ep"] = (
        lambda: fn.DeepBeliefNetwork(n_iter=1, fine_tune_iter=1, **dbn),
        lambda e: e.fit(U784))
    c["dbn transform 10k x 784"] = (
        fitted(fn.DeepBeliefNetwork(n_iter=1, fine_tune_iter=0, **dbn), U784),
        lambda e: e.transform(U784))
    c["dbn classifier fit 5k, 1+2 ep"] = (
        lambda: fn.DBNClassifier(hidden_layer_sizes=(256, 64), rbm_n_iter=1, max_iter=2,
                                 random_state=0, **NO_STOP),
        lambda e: e.fit(U784[:5000], y10[:5000]))
    c["dbm fit 5k x 784, 1 ep (+1 pretrain)"] = (
        lambda: fn.DeepBoltzmannMachine(n_iter=1, pretrain_iter=1, **dbn),
        lambda e: e.fit(B784[:5000]))
    c["dbm transform 10k x 784"] = (
        fitted(fn.DeepBoltzmannMachine(n_iter=1, pretrain_iter=1, **dbn), B784[:2000]),
        lambda e: e.transform(B784))
    for name in ("Autoencoder", "SparseAutoencoder", "ContractiveAutoencoder",
                 "DenoisingAutoencoder"):
        cls = getattr(fn, name)
        c[f"{name} fit 10k x 784, 1 ep"] = (
            lambda cls=cls: cls(max_iter=1, **ae), lambda e: e.fit(U784))
    c["Autoencoder transform 20k x 784"] = (
        fitted(fn.Autoencoder(max_iter=1, **ae), U784[:2000]), lambda e: e.transform(X784))
    c["ConvAutoencoder fit 1024 imgs, 1 ep"] = (
        lambda: fn.ConvAutoencoder(input_shape=(28, 28, 1), max_iter=1, batch_size=64,
                                   random_state=0, **NO_STOP),
        lambda e: e.fit(img[:1024]))
    c["LSTMAutoencoder fit 512 seqs T100, 1 ep"] = (
        lambda: fn.LSTMAutoencoder(n_components=32, max_iter=1, batch_size=32,
                                   random_state=0, **NO_STOP),
        lambda e: e.fit(seq[:512]))
    return c


def worker():
    import warnings
    warnings.simplefilter("ignore")
    d = _data()
    cases = _cases(d)
    built = {}
    for line in sys.stdin:
        name = json.loads(line)
        if name == "__list__":
            print(json.dumps(list(cases)), flush=True)
            continue
        build, call = cases[name]
        try:
            if name not in built:  # warm-up: thread pools, buffers, first-call imports
                est = build()
                call(est)
                built[name] = est
            est = build() if " fit " in f" {name} " else built[name]
            clock = time.process_time if os.environ.get("AB_CPU_TIME") else time.perf_counter
            t0 = clock()
            call(est)
            print(json.dumps(clock() - t0), flush=True)
        except Exception as exc:  # a case one checkout cannot run
            print(json.dumps(f"{type(exc).__name__}: {exc}"[:200]), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("a", help="checkout A (before)")
    p.add_argument("b", nargs="?", default=".", help="checkout B (after; default .)")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--only", default="", help="comma-separated substrings of case names")
    p.add_argument("--cpu-time", action="store_true",
                   help="time with each worker's process CPU clock (a shared machine)")
    args = p.parse_args()
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               MKL_NUM_THREADS="1")
    if args.cpu_time:
        env["AB_CPU_TIME"] = "1"
    procs = []
    for tree in (args.a, args.b):
        e = dict(env, PYTHONPATH=os.path.abspath(tree))
        procs.append(subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker"],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                      env=e, cwd="/"))

    def ask(proc, msg):
        proc.stdin.write(json.dumps(msg) + "\n")
        proc.stdin.flush()
        out = proc.stdout.readline()
        if not out:
            raise RuntimeError(f"worker died on {msg!r}")
        return json.loads(out)

    names = [n for n in ask(procs[0], "__list__") if n in set(ask(procs[1], "__list__"))]
    if args.only:
        keys = args.only.split(",")
        names = [n for n in names if any(k in n for k in keys)]
    clock = "process CPU time" if args.cpu_time else "wall time"
    print(f"A = {args.a}\nB = {args.b}\none thread, {clock}, best of {args.reps}, alternating\n")
    print(f"| case | A (s) | B (s) | spread A / B | B/A |\n|---|---|---|---|---|", flush=True)
    for name in names:
        t = ([], [])
        for r in range(args.reps):
            for i in ((0, 1) if r % 2 == 0 else (1, 0)):
                t[i].append(ask(procs[i], name))
        failed = [x for x in t[0] + t[1] if isinstance(x, str)]
        if failed:
            print(f"| {name} | failed: {failed[0]} | | | |", flush=True)
            continue
        a, b = min(t[0]), min(t[1])
        print(f"| {name} | {a:.3f} | {b:.3f} | {max(t[0]) / a:.2f} / {max(t[1]) / b:.2f} "
              f"| **{b / a:.2f}** |", flush=True)
    for proc in procs:
        proc.stdin.close()
        proc.wait()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        sys.path.insert(0, os.environ["PYTHONPATH"])
        worker()
    else:
        main()
