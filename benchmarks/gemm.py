"""fastnut's float32 GEMM kernel (src_c/_gemm.h, AVX-512 or AVX2 + FMA) against
numpy's BLAS.

The shapes are the products of a dense layer's training step (Y = X W,
dW = X^T D, dX = D W^T) for the MLP workload of issue 2 (784 -> 256 -> 128,
batch 128) and scikit-learn's default batch of 200, the 10-class output
layer, a prediction chunk (2048 rows), small batches and a single sample (the
kernel's direct path, B read in place), and a convolution's lowered product
(16 filters x 400 x 196 pixels).  One thread, both called through the same
Python entry (``fastnut.nn._linalg.matmul`` vs ``np.matmul``), alternating
in every repetition.  ``*_us`` are medians; ``best_*_us`` the fastest
repetition (the figure least disturbed by other jobs on a shared machine) and
``spread`` the slowest over the fastest fastnut repetition.
"""
import statistics
import time

import numpy as np

from ._common import one_thread

# (label, M, K, N, trans_a, trans_b): C (M x N) = op(A) op(B)
SHAPES = [
    ("Y = X W, 128x784 . 784x256", 128, 784, 256, False, False),
    ("dW = X^T D, 784x128 . 128x256", 784, 128, 256, True, False),
    ("dX = D W^T, 128x256 . 256x784", 128, 256, 784, False, True),
    ("Y = X W, 128x256 . 256x128", 128, 256, 128, False, False),
    ("Y = X W, 200x784 . 784x256", 200, 784, 256, False, False),
    ("dW = X^T D, 784x200 . 200x256", 784, 200, 256, True, False),
    ("Y = X W, 200x784 . 784x100", 200, 784, 100, False, False),
    ("Y = X W, 128x128 . 128x10 (output layer)", 128, 128, 10, False, False),
    ("predict chunk 2048x784 . 784x256", 2048, 784, 256, False, False),
    ("small batch 7x784 . 784x256", 7, 784, 256, False, False),
    ("small batch 16x784 . 784x256", 16, 784, 256, False, False),
    ("single sample 1x784 . 784x256", 1, 784, 256, False, False),
    ("single sample 1x64 . 64x32", 1, 64, 32, False, False),
    ("conv lowered 16x400 . 400x196", 16, 400, 196, False, False),
]


def _time(fns, reps, min_time):
    """Per-call seconds of each function, every repetition (A B, then B A)."""
    for fn in fns.values():
        fn()
    inner = {}
    for k, fn in fns.items():
        t0 = time.perf_counter()
        fn()
        one = time.perf_counter() - t0
        inner[k] = max(1, int(min_time / one)) if one > 0 else 1000
    samples = {k: [] for k in fns}
    for r in range(reps):
        for k in (list(fns) if r % 2 == 0 else list(fns)[::-1]):
            t0 = time.perf_counter()
            for _ in range(inner[k]):
                fns[k]()
            samples[k].append((time.perf_counter() - t0) / inner[k])
    return samples


def run(args, peak):
    from fastnut._kernels import dense
    from fastnut.nn._linalg import matmul
    rng = np.random.default_rng(0)
    rows = [{"name": "fastnut kernel in use", "kernel": dense.gemm_kernel()}]
    shapes = SHAPES[:3] if args.quick else SHAPES
    with one_thread():
        for label, M, K, N, ta, tb in shapes:
            A = rng.standard_normal((K, M) if ta else (M, K)).astype(np.float32)
            B = rng.standard_normal((N, K) if tb else (K, N)).astype(np.float32)
            a, b = (A.T if ta else A), (B.T if tb else B)
            C = np.empty((M, N), np.float32)
            s = _time({"fastnut": lambda: matmul(a, b, C),
                       "numpy": lambda: np.matmul(a, b, out=C)}, reps=9, min_time=0.03)
            f, n = statistics.median(s["fastnut"]), statistics.median(s["numpy"])
            bf, bn = min(s["fastnut"]), min(s["numpy"])
            flops = 2.0 * M * N * K
            rows.append({"name": label,
                         "fastnut_us": f * 1e6, "numpy_us": n * 1e6,
                         "best_fastnut_us": bf * 1e6, "best_numpy_us": bn * 1e6,
                         "best_fastnut_gflops": flops / bf / 1e9,
                         "best_numpy_gflops": flops / bn / 1e9,
                         "pct_peak": 100 * flops / bf / 1e9 / peak,
                         "ratio": n / f, "best_ratio": bn / bf,
                         "spread": max(s["fastnut"]) / bf})
    return rows
