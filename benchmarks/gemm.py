"""fastnut's float32 GEMM kernel (src_c/_gemm.h) against numpy's BLAS.

The shapes are the products of a dense layer's training step (Y = X W,
dW = X^T D, dX = D W^T) for the MLP workload of issue 2 (784 -> 256 -> 128,
batch 128) and scikit-learn's default batch of 200, plus a prediction chunk
(2048 rows) and a single sample (which goes to BLAS by design).  One thread,
both called through the same Python entry (``fastnut.nn._linalg.matmul`` vs
``np.matmul``), alternating.
"""
import numpy as np

from ._common import one_thread, time_alternating

# (label, M, K, N, trans_a, trans_b): C (M x N) = op(A) op(B)
SHAPES = [
    ("Y = X W, 128x784 . 784x256", 128, 784, 256, False, False),
    ("dW = X^T D, 784x128 . 128x256", 784, 128, 256, True, False),
    ("dX = D W^T, 128x256 . 256x784", 128, 256, 784, False, True),
    ("Y = X W, 128x256 . 256x128", 128, 256, 128, False, False),
    ("Y = X W, 200x784 . 784x256", 200, 784, 256, False, False),
    ("dW = X^T D, 784x200 . 200x256", 784, 200, 256, True, False),
    ("Y = X W, 128x128 . 128x10", 128, 128, 10, False, False),
    ("predict chunk 2048x784 . 784x256", 2048, 784, 256, False, False),
    ("single sample 1x784 . 784x256 (BLAS path)", 1, 784, 256, False, False),
]


def run(args, peak):
    from fastnut._kernels import dense
    from fastnut.nn._linalg import matmul
    rng = np.random.default_rng(0)
    rows = [{"name": "fastnut kernel in use", "avx512": str(dense.has_gemm_kernel())}]
    shapes = SHAPES[:3] if args.quick else SHAPES
    with one_thread():
        for label, M, K, N, ta, tb in shapes:
            A = rng.standard_normal((K, M) if ta else (M, K)).astype(np.float32)
            B = rng.standard_normal((N, K) if tb else (K, N)).astype(np.float32)
            a, b = (A.T if ta else A), (B.T if tb else B)
            C = np.empty((M, N), np.float32)
            t = time_alternating({"fastnut": lambda: matmul(a, b, C),
                                  "numpy": lambda: np.matmul(a, b, out=C)},
                                 reps=5, min_time=0.05)
            flops = 2.0 * M * N * K
            rows.append({"name": label,
                         "fastnut_us": t["fastnut"] * 1e6, "numpy_us": t["numpy"] * 1e6,
                         "fastnut_gflops": flops / t["fastnut"] / 1e9,
                         "numpy_gflops": flops / t["numpy"] / 1e9,
                         "pct_peak": 100 * flops / t["fastnut"] / 1e9 / peak,
                         "ratio": t["numpy"] / t["fastnut"]})
    return rows
