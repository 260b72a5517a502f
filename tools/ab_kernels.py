"""In-process before/after timing of the kernels that use ``src_c/_math.h``.

    mkdir /tmp/old && cp <old checkout>/fastnut/_kernels/*.so /tmp/old/
    python tools/ab_kernels.py /tmp/old [--reps 15]

The old extension modules are loaded from the given folder under their own
names next to the current ones; each case swaps the module a Python driver
calls (``fastnut._boltzmann``, ``fastnut.nn._recurrent``, ``fastnut.nn._layers``)
and times old and new alternately, one thread, best of ``--reps``.  Prints the
best times, the spread (slowest / best) and new/old (below 1: the new build is
faster).  Also checks that old and new give the same numbers where they must.
"""
import argparse
import glob
import importlib.util
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from fastnut import _boltzmann as B  # noqa: E402
from fastnut import nn  # noqa: E402
from fastnut.nn import _layers as L, _recurrent as R  # noqa: E402


def _load(folder, stem):
    path = glob.glob(os.path.join(folder, f"{stem}.cpython*.so"))[0]
    spec = importlib.util.spec_from_file_location(stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _cases(rng):
    X = (rng.random((2000, 784)) < 0.2).astype(np.float32)

    def rbm_fit():
        B.train_rbm(X, 256, seed=0, learning_rate=0.05, batch_size=50, n_iter=1, k=1,
                    method="pcd", momentum=0.5, weight_decay=0.0)

    A0 = rng.standard_normal((512, 1024)).astype(np.float32) * 4
    b0 = rng.standard_normal(1024).astype(np.float32)

    def rbm_conditional():
        A = A0.copy()
        for _ in range(5):
            B.Sampler(1, 0).bernoulli(A, b0)

    Xd = X[:1000]
    sizes = [784, 256, 128]
    W0 = [rng.normal(0, 0.01, (sizes[i], sizes[i + 1])).astype(np.float32) for i in range(2)]

    def dbm_fit():
        coefs = [w.copy() for w in W0]
        biases = [np.zeros(s, np.float32) for s in sizes]
        vW = [np.zeros_like(w) for w in coefs]
        vb = [np.zeros_like(b) for b in biases]
        chains = [np.ascontiguousarray(Xd[:50])] + [np.zeros((50, s), np.float32)
                                                     for s in sizes[1:]]
        B.dbm_epoch(Xd, coefs, biases, vW, vb, chains, batch_size=50, learning_rate=0.01,
                    momentum=0.5, weight_decay=0.0, n_mean_field=5, n_gibbs_steps=1,
                    key=3, stream=0)

    def up_down():
        Rw = [w.copy() for w in W0]
        r = [np.zeros(s, np.float32) for s in sizes[1:]]
        G = [W0[0].copy()]
        g = [np.zeros(s, np.float32) for s in sizes[:-1]]
        B.up_down_epoch(Xd, Rw, r, G, g, batch_size=50, learning_rate=0.01, k=1, key=3,
                        stream=0)

    Xs = rng.standard_normal((64, 50, 16)).astype(np.float32)

    def rnn(cell):
        layer = cell(64, return_sequences=True)
        layer.build(Xs.shape[1:], random_state=0, dtype=np.float32)

        def run():
            Y = layer.forward(Xs, training=True)
            layer.backward(np.ones_like(Y))
        return run

    Xm = rng.standard_normal((256, 512)).astype(np.float32)

    def dense(act):
        layer = nn.Dense(512, activation=act)
        layer.build(Xm.shape[1:], random_state=0, dtype=np.float32)

        def run():
            for _ in range(5):
                layer.forward(Xm, training=True)
        return run

    return [
        ("rbm: 1 PCD epoch 2000x784 -> 256", ("rbm", B, "_k"), rbm_fit),
        ("rbm: bernoulli conditional 512x1024 x5", ("rbm", B, "_k"), rbm_conditional),
        ("boltzmann: dbm_epoch 1000x784-256-128", ("boltzmann", B, "_kb"), dbm_fit),
        ("boltzmann: up_down_epoch 1000x784-256-128", ("boltzmann", B, "_kb"), up_down),
        ("rnn: LSTM 64x50x16 -> 64 fwd+bwd", ("rnn", R, "_k"), rnn(nn.LSTM)),
        ("rnn: GRU 64x50x16 -> 64 fwd+bwd", ("rnn", R, "_k"), rnn(nn.GRU)),
        ("dense: logistic 256x512 x5", ("dense", L, "_k"), dense("logistic")),
        ("dense: tanh 256x512 x5", ("dense", L, "_k"), dense("tanh")),
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("--reps", type=int, default=15)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    old = {}
    print(f"{'case':44s} {'old ms':>8s} {'new ms':>8s} {'spread o/n':>11s} {'new/old':>8s}")
    for name, (stem, holder, attr), fn in _cases(rng):
        if stem not in old:
            old[stem] = _load(args.old, stem)
        new_mod = getattr(holder, attr)
        mods = {"old": old[stem], "new": new_mod}
        times = {"old": [], "new": []}
        try:
            for rep in range(args.reps):
                for which in (("old", "new") if rep % 2 == 0 else ("new", "old")):
                    setattr(holder, attr, mods[which])
                    t0 = time.perf_counter()
                    fn()
                    times[which].append(time.perf_counter() - t0)
        finally:
            setattr(holder, attr, new_mod)
        bo, bn = min(times["old"]), min(times["new"])
        so, sn = max(times["old"]) / bo, max(times["new"]) / bn
        print(f"{name:44s} {bo * 1e3:8.2f} {bn * 1e3:8.2f} {so:5.2f}/{sn:<5.2f} {bn / bo:8.3f}",
              flush=True)


if __name__ == "__main__":
    main()
