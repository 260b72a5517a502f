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

    starts = B.batch_starts(X.shape[0], 50)
    scratch = B.rbm_scratch(starts, 50, 784, 256, np.float32)   # the new module's plan
    Wt0 = rng.normal(0, 0.01, (784, 256)).astype(np.float32)

    def rbm_fit():
        Wt = Wt0.copy()
        bh, bv = np.zeros(256, np.float32), np.zeros(784, np.float32)
        B.rbm_epoch(X, starts, Wt, bh, bv, np.zeros_like(Wt), np.zeros_like(bh),
                    np.zeros_like(bv), np.zeros((50, 256), np.float32), scratch,
                    learning_rate=0.05, momentum=0.5, weight_decay=0.0, k=1,
                    persistent=True, visible_type=0, key=1, stream=0)

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

    def rnn(cell, n=64, T=50, F=16, H=64):
        """forward + backward kernel calls of one direction, called directly (the
        signature changed: the old module takes the code first, positionally)."""
        ws = R._k.workspace(cell=cell, n=n, T=T, F=F, H=H, keep_gates=True, keep_states=True)
        a = {k: np.zeros(v, np.float32) for k, v in ws.items()}
        GH = ws["G"][1]
        X = rng.standard_normal((n * T, F)).astype(np.float32)
        Wi, Wh = (rng.standard_normal((GH, F)) * 0.3).astype(np.float32), \
            (rng.standard_normal((GH, H)) * 0.3).astype(np.float32)
        bi, bh = np.zeros(GH, np.float32), np.zeros(GH, np.float32)
        lengths = np.full(n, T, np.int32)
        h, c = np.zeros((n, H), np.float32), np.zeros((n, H), np.float32)
        dseq = np.ones((n * T, H), np.float32)
        out = [np.empty((GH, F), np.float32), np.empty((GH, H), np.float32),
               np.empty(GH, np.float32), np.empty(GH, np.float32)]
        dX, dh, dc = np.empty_like(X), np.empty_like(h), np.empty_like(c)
        empty = np.empty((0, H), np.float32)

        def run():
            mod = R._k
            h[...] = 0
            c[...] = 0
            if hasattr(mod, "workspace"):
                mod.forward(X, Wi, Wh, bi, bh, lengths, h, c, a["G"], a["Hs"], a["Cs"],
                            a["TC"], a["work"], a["Bcat"], a["A"], cell=cell, reverse=False,
                            keep_gates=True, keep_states=True, n_threads=1)
                mod.backward(X, Wi, Wh, lengths, h, c, a["G"], a["Hs"], a["Cs"], a["TC"],
                             dseq, empty, *out, dX, dh, dc, a["dGs"], a["Z"], a["dWcat"],
                             a["Wp"], cell=cell, reverse=False, has_seq=True,
                             has_last=False, need_dx=True, accumulate_dx=False, n_threads=1)
            else:
                mod.forward(cell, X, Wi, Wh, bi, bh, lengths, False, h, c, a["G"], a["Hs"],
                            a["Cs"], a["TC"], True, True, a["work"], a["Bcat"], a["A"], 1)
                mod.backward(cell, X, Wi, Wh, lengths, False, h, c, a["G"], a["Hs"],
                             a["Cs"], a["TC"], dseq, True, empty, False, *out, dX, True,
                             False, dh, dc, a["dGs"], a["Z"], a["dWcat"], a["Wp"], 1)
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
        ("rnn: LSTM 64x50x16 -> 64 fwd+bwd", ("rnn", R, "_k"), rnn(R._k.Cell.LSTM)),
        ("rnn: GRU 64x50x16 -> 64 fwd+bwd", ("rnn", R, "_k"), rnn(R._k.Cell.GRU)),
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
