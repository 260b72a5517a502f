"""The float32 convolution backward pass on each GEMM path: fastnut's kernel
(default on a CPU with AVX2 + FMA) and BLAS (``FASTNUT_DISABLE_AVX2=1``, what a
CPU without it runs), both against the NumPy oracle of tests/_reference/conv.py
for every lowering of tests/test_conv.py."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from fastnut._kernels import dense
from tests.kernels.test_conv import CONV_CASES, _out_hw, _run_conv

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

_SCRIPT = r"""
import json, sys
import numpy as np
sys.path.insert(0, ".")
from fastnut._kernels import dense
from tests._reference import conv as ref
from tests.kernels.test_conv import CONV_CASES, _out_hw, _run_conv
worst = 0.0
for case in CONV_CASES:
    n, C, H, W, Co, k, s, p, d = case
    rng = np.random.default_rng(7)
    Ho, Wo = _out_hw(H, W, k, s, p, d)
    X = rng.standard_normal((n, C, H, W)).astype(np.float32)
    Wt = rng.standard_normal((Co, C) + k).astype(np.float32)
    b = rng.standard_normal(Co).astype(np.float32)
    dY = rng.standard_normal((n, Co, Ho, Wo)).astype(np.float32)
    for relu in (False, True):
        Y, dX, dW, db, _ = _run_conv(X, Wt, b, dY, s, p, d, relu, 1)
        Yr = ref.conv2d(X.astype(np.float64), Wt.astype(np.float64), b.astype(np.float64),
                        s, p, d, (Ho, Wo))
        G = dY * (Yr > 0) if relu else dY
        dXr, dWr, dbr = ref.conv2d_backward(X.astype(np.float64), Wt.astype(np.float64),
                                            G.astype(np.float64), s, p, d)
        scale = np.sqrt(C * k[0] * k[1] * n * Ho * Wo)
        for got, want in ((dX, dXr), (dW, dWr), (db, dbr)):
            worst = max(worst, float(np.abs(got - want).max() / scale))
json.dump({"kernel": dense.gemm_kernel(), "worst": worst}, sys.stdout)
"""


def _run(**env):
    res = subprocess.run([sys.executable, "-c", _SCRIPT], cwd=ROOT,
                         env=dict(os.environ, **env), capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_float32_backward_is_right_on_the_kernel_and_on_blas():
    own = _run(FASTNUT_DISABLE_AVX2="0")
    blas = _run(FASTNUT_DISABLE_AVX2="1")
    assert blas["kernel"] == "blas"
    assert own["kernel"] == dense.gemm_kernel()
    # errors relative to sqrt(terms): float32 rounding, whatever the path
    assert own["worst"] < 2e-6
    assert blas["worst"] < 2e-6


@pytest.mark.skipif(dense.gemm_kernel() == "blas", reason="no AVX2 + FMA: BLAS runs")
@pytest.mark.parametrize("case", [c for c in CONV_CASES if c[0] > 1])
def test_float32_input_gradient_of_an_image_does_not_depend_on_its_batch(case):
    """On fastnut's kernel every element of dX is one fixed-order sum, so an
    image's input gradient is the same bits alone as inside its batch."""
    n, C, H, W, Co, k, s, p, d = case
    rng = np.random.default_rng(3)
    Ho, Wo = _out_hw(H, W, k, s, p, d)
    X = rng.standard_normal((n, C, H, W)).astype(np.float32)
    Wt = rng.standard_normal((Co, C) + k).astype(np.float32)
    b = rng.standard_normal(Co).astype(np.float32)
    dY = rng.standard_normal((n, Co, Ho, Wo)).astype(np.float32)
    for relu in (False, True):
        _, dX, _, _, _ = _run_conv(X, Wt, b, dY, s, p, d, relu, 1)
        for i in range(n):
            _, dXi, _, _, _ = _run_conv(X[i:i + 1], Wt, b, dY[i:i + 1], s, p, d, relu, 1)
            np.testing.assert_array_equal(dXi[0], dX[i])
