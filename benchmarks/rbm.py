"""Bernoulli RBM: fastnut against scikit-learn's BernoulliRBM.

Workloads (one thread, same process, alternating runs):

* fit: 20,000 x 784 structured binary images (a mixture of 20 blurred,
  thresholded 28 x 28 prototypes; "on" pixels fire with p = 0.9, "off" with
  0.03), 256 hidden units, learning rate 0.05, PCD-1 (both libraries' default
  training), 2 epochs, float32; batch 10 and batch 100; float64 at batch 10.
* transform: hidden probabilities of the 20,000 rows (rows per second).

Quality: mean full pseudo-likelihood (every coordinate, exact, float64) of
the first 500 rows under each fitted model, computed by one function for
both, so the figures are comparable.  GFLOP/s counts the
5 GEMM-shaped products of a PCD-1 step (10 N n_v n_h FLOP per epoch).
"""
import numpy as np
from scipy.ndimage import gaussian_filter

from ._common import one_thread, perf, time_alternating, try_import


def synthetic_binary(n, side=28, n_protos=20, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    protos = np.empty((n_protos, side * side))
    for k in range(n_protos):
        f = gaussian_filter(rng.standard_normal((side, side)), sigma=2.0)
        protos[k] = np.where((f > np.quantile(f, 0.75)).ravel(), 0.9, 0.03)
    z = rng.integers(0, n_protos, size=n)
    return (rng.random((n, side * side)) < protos[z]).astype(dtype)


def pseudo_likelihood(X, W, bh, bv):
    """Mean full log pseudo-likelihood, sum_i log P(x_i | x_-i), in float64.

    Exact (every coordinate flipped in turn, not scikit-learn's one random
    coordinate): flipping x_i moves the hidden pre-activations by +-W[:, i].
    """
    X = np.asarray(X, np.float64)
    W, bh, bv = (np.asarray(a, np.float64) for a in (W, bh, bv))
    A = X @ W.T + bh
    F = -X @ bv - np.logaddexp(0, A).sum(1)
    total = np.zeros(len(X))
    for i in range(X.shape[1]):
        s = 1.0 - 2.0 * X[:, i]                     # +1 turns a 0 on, -1 turns a 1 off
        Ff = -(X @ bv + s * bv[i]) - np.logaddexp(0, A + s[:, None] * W[:, i]).sum(1)
        total += -np.logaddexp(0, -(Ff - F))       # log sigmoid(F(x~) - F(x))
    return float(total.mean())


def _params(m):
    return m.components_, m.intercept_hidden_, m.intercept_visible_


def run(args, peak):
    sk_nn = try_import("sklearn.neural_network")
    from fastnut import BernoulliRBM

    n = 4000 if args.quick else 20000
    epochs = 2
    n_hid = 256
    X32 = synthetic_binary(n)
    X64 = X32.astype(np.float64)
    Xq = X64[:500]
    rows = []
    configs = [("fit bs10 f32", X32, 10), ("fit bs100 f32", X32, 100), ("fit bs10 f64", X64, 10)]
    with one_thread():
        for name, X, bs in configs:
            kw = dict(n_components=n_hid, learning_rate=0.05, batch_size=bs, n_iter=epochs,
                      random_state=0)
            fits = {}

            def fn_fast():
                fits["fastnut"] = BernoulliRBM(**kw).fit(X)

            fns = {"fastnut": fn_fast}
            if sk_nn is not None:
                def fn_sk():
                    fits["sklearn"] = sk_nn.BernoulliRBM(**kw).fit(X)
                fns["sklearn"] = fn_sk
            t = time_alternating(fns, reps=3, min_time=0.0, warmup=0)
            flop = 10.0 * n * X.shape[1] * n_hid * epochs
            row = {"name": f"{name} ({n}x784->256, {epochs} epochs)",
                   "fastnut_s": t["fastnut"],
                   "fastnut_gflops": flop / t["fastnut"] / 1e9,
                   "peak_frac": flop / t["fastnut"] / 1e9 / peak,
                   "fastnut_PL": pseudo_likelihood(Xq, *_params(fits["fastnut"]))}
            if "sklearn" in t:
                row.update(sklearn_s=t["sklearn"], speedup=t["sklearn"] / t["fastnut"],
                           sklearn_PL=pseudo_likelihood(Xq, *_params(fits["sklearn"])))
            rows.append(row)
            print("  " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else str(v)
                                   for k, v in row.items()), flush=True)

        # transform throughput on the fitted float32 models
        fast = BernoulliRBM(n_components=n_hid, n_iter=1, batch_size=100,
                            random_state=0).fit(X32)
        fns = {"fastnut": lambda: fast.transform(X32)}
        if sk_nn is not None:
            sk = sk_nn.BernoulliRBM(n_components=n_hid, n_iter=1, batch_size=100,
                                    random_state=0).fit(X32)
            fns["sklearn"] = lambda: sk.transform(X32)
        t = time_alternating(fns, reps=5, min_time=0.2)
        row = {"name": f"transform f32 ({n}x784->256)",
               "fastnut_rows_per_s": n / t["fastnut"],
               "fastnut_gflops": 2.0 * n * 784 * n_hid / t["fastnut"] / 1e9}
        if "sklearn" in t:
            row.update(sklearn_rows_per_s=n / t["sklearn"], speedup=t["sklearn"] / t["fastnut"])
        rows.append(row)

        # partial_fit on chunks of 100 rows with batch_size 10 (scikit-learn's saturates)
        chunk_rows = {}
        for lib, cls in (("fastnut", BernoulliRBM),
                         ("sklearn", sk_nn.BernoulliRBM if sk_nn else None)):
            if cls is None:
                continue
            m = cls(n_components=n_hid, learning_rate=0.05, batch_size=10, random_state=0)
            t0 = perf()
            for s in range(0, min(n, 5000), 100):
                m.partial_fit(X32[s:s + 100])
            chunk_rows[lib] = (perf() - t0, pseudo_likelihood(Xq, *_params(m)),
                               float(m.transform(X32[:2000]).mean()))
        row = {"name": "partial_fit, 5000 rows in chunks of 100, batch_size 10"}
        for lib, (ts, pl, h) in chunk_rows.items():
            row[f"{lib}_s"] = ts
            row[f"{lib}_PL"] = pl
            row[f"{lib}_mean_P(h)"] = h
        rows.append(row)
    return rows
