"""Profile one MLP epoch (the issue-2 workload) and time each engine op on one thread.

    python tools/profile_mlp.py            # op timings
    python tools/profile_mlp.py --cprofile # cProfile of a 1-epoch fit, top 25
"""
import cProfile
import pstats
import sys
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, ".")
from benchmarks.mlp import _data  # noqa: E402
from fastnut import MLPClassifier  # noqa: E402
from fastnut._kernels.dense import gather_rows  # noqa: E402
from fastnut import nn  # noqa: E402
from fastnut.nn._linalg import matmul  # noqa: E402


def op(label, fn, reps=200):
    fn()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    print(f"{label:<40s} {1e6 * (time.perf_counter() - t0) / reps:8.1f} us")


def main():
    X, y = _data(20000)
    kw = dict(hidden_layer_sizes=(256, 128), batch_size=128, max_iter=1, random_state=0)
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if "--cprofile" in sys.argv:
            pr = cProfile.Profile()
            pr.enable()
            MLPClassifier(**kw).fit(X, y)
            pr.disable()
            pstats.Stats(pr).sort_stats("tottime").print_stats(25)
            return
        clf = MLPClassifier(**kw).fit(X[:1000], y[:1000])
        tr = nn.Trainer(clf.network_, clf._make_loss(), clf._train_config(1000),
                        optimizer=clf._optimizer)
        xb, yb = X[:128].copy(), np.eye(10, dtype=np.float32)[y[:128]]
        net = clf.network_
        op("loss_and_grad (fwd+bwd+loss)", lambda: tr.loss_and_grad(xb, yb))
        op("network forward", lambda: net.forward(xb, training=True))
        op("adam update", lambda: tr.optimizer.update(net.params, net.grads))
        W = net.params["0.weight"]
        out = np.empty((128, 256), np.float32)
        op("gemm 128x784x256 (fastnut)", lambda: matmul(xb, W, out))
        op("gemm 128x784x256 (numpy)", lambda: np.matmul(xb, W, out=out))
        g = np.empty_like(W)
        op("gemm X^T D 784x128x256 (fastnut)", lambda: matmul(xb.T, out, g))
        idx = np.random.default_rng(0).permutation(len(X))[:128]
        op("batch gather (fastnut)", lambda: gather_rows(X, idx, xb))
        op("batch gather (np.take)", lambda: np.take(X, idx, axis=0, out=xb))
        P = np.random.rand(128, 10).astype(np.float32)
        op("loss value", lambda: tr.loss.value(P, yb))


if __name__ == "__main__":
    main()
