"""A/B timing of the convolution kernels of two builds in one process, one thread.

    python tools/ab_conv.py OTHER/fastnut/_kernels/conv.cpython-*.so

loads that build's ``conv`` module beside this checkout's and times
``conv2d_forward`` / ``conv2d_backward`` of both on LeNet's two convolutions
(batch 64), alternating call by call with the process's CPU clock, so a
machine shared with other busy processes hits both alike.  Prints the best
times and the speed-up of this checkout (best and first-quartile ratios).
"""
import importlib.util
import os
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fastnut._kernels import conv as new  # noqa: E402

clock = time.process_time


def _load(path):
    spec = importlib.util.spec_from_file_location("other.conv", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _case(rng, n, C, hw, Co, k, p):
    f = np.float32
    X = rng.standard_normal((n, C, hw, hw)).astype(f)
    Wt = (0.1 * rng.standard_normal((Co, C, k, k))).astype(f)
    b = rng.standard_normal(Co).astype(f)
    Ho = hw + 2 * p - k + 1
    plan = new.conv2d_plan(C, k, k, 1, 1, Co, Ho, Ho)
    Y = np.empty((n, Co, Ho, Ho), f)
    col, g = np.empty((1, plan["col"]), f), np.empty((1, plan["g"]), f)
    # 16 rows of acc: enough for the per-group partial sums of either build
    acc, wr = np.empty((16, plan["acc"]), f), np.empty(plan["wr"], f)
    dY = rng.standard_normal(Y.shape).astype(f)
    dX, dW, db = np.empty_like(X), np.empty_like(Wt), np.empty_like(b)
    need_dx = C > 1  # a first layer's input needs no gradient

    def fwd(mod):
        mod.conv2d_forward(X, Wt, b, Y, col, g, wr, 1, 1, p, p, 1, 1, True, 1)

    def bwd(mod):
        mod.conv2d_backward(X, Wt, dY, Y, dX, dW, db, col, g, acc, wr, 1, 1, p, p, 1, 1,
                            True, need_dx, 1)
    return fwd, bwd


def _ab(label, other, fn, reps=41):
    t_other, t_new = [], []
    fn(other)
    fn(new)
    for r in range(reps):
        for mod, out in ((other, t_other), (new, t_new))[::1 if r % 2 else -1]:
            t0 = clock()
            fn(mod)
            out.append(clock() - t0)
    t_other.sort()
    t_new.sort()
    q = reps // 4
    print(f"{label:28s} other {t_other[0] * 1e3:6.2f} ms  this {t_new[0] * 1e3:6.2f} ms  "
          f"speed-up best {t_other[0] / t_new[0]:.3f}  q25 {t_other[q] / t_new[q]:.3f}",
          flush=True)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    other = _load(sys.argv[1])
    rng = np.random.default_rng(0)
    with threadpool_limits(1):
        for name, args in [("conv2 16->32 5x5 14x14", (64, 16, 14, 32, 5, 2)),
                           ("conv1 1->16 5x5 28x28", (64, 1, 28, 16, 5, 2))]:
            fwd, bwd = _case(rng, *args)
            _ab(name + " fwd", other, fwd)
            _ab(name + " bwd", other, bwd)


if __name__ == "__main__":
    main()
