"""The float32 exp, sigmoid and tanh of ``src_c/_math.h``, shared by every kernel.

``rbm.shared_math`` evaluates them element by element (the sigmoid through the
vectorised row loop the Boltzmann conditionals use); the recurrent cells inline
the same functions.  Pinned against float64 references over the whole float32
range (a strided walk over every bit pattern), at the clamp edges, and for
+-inf and NaN.
"""
import numpy as np
import pytest

from fastnut._kernels import rbm

LO, HI = -87.0, 87.0          # the clamp of fastnut_expf (see _math.h)


def _eval(x):
    x = np.ascontiguousarray(x, dtype=np.float32)
    e, s, t = (np.empty_like(x) for _ in range(3))
    rbm.shared_math(x, e, s, t)
    return e, s, t


@pytest.fixture(scope="module")
def walk():
    """Every 997th float32 bit pattern, both signs: about 4.3 million values."""
    bits = np.arange(0, 2**32, 997, dtype=np.uint64).astype(np.uint32)
    x = bits.view(np.float32)
    return x[np.isfinite(x)]


def test_against_float64_over_the_whole_range(walk):
    e, s, t = _eval(walk)
    x = walk.astype(np.float64)
    xc = np.clip(x, LO, HI)
    ref_e = np.exp(xc)
    ref_s = 1.0 / (1.0 + np.exp(-xc))
    # about 2 ulp (2^-24 is half an ulp at 1)
    assert np.max(np.abs(e - ref_e) / ref_e) < 1.5 * 2.0**-24
    assert np.max(np.abs(s - ref_s) / ref_s) < 2.6 * 2.0**-24
    # tanh = 2 sigmoid(2x) - 1: an absolute error, relative only away from 0
    assert np.max(np.abs(t - np.tanh(x))) < 1.8e-7


def test_clamp_edges():
    e87, s87, _ = _eval(np.array([HI, LO], np.float32))
    floor = np.float32(1.0) / (np.float32(1.0) + e87[0])
    assert np.isclose(e87[0], np.exp(87.0), rtol=1e-7)
    assert e87[1] == s87[1]            # sigmoid(-87) is exp(-87) rounded the same way
    below = np.array([-87.0, np.nextafter(np.float32(-87), np.float32(-100)), -87.5,
                      -88.0, -100.0, -1e30, -np.inf], np.float32)
    e, s, t = _eval(below)
    # no sigmoid is subnormal or 0: it stops at 1 / (1 + exp(87)) = 1.6458e-38
    assert s[0] == pytest.approx(1.6458e-38, rel=1e-4)
    assert np.all(s == s[0]) and s[0] == floor and s[0] >= np.finfo(np.float32).tiny
    assert np.all(e == e[0]) and e[0] > 0
    assert np.all(t == -1.0)
    above = np.array([87.0, np.nextafter(np.float32(87), np.float32(100)), 88.0, 1e30,
                      np.inf], np.float32)
    e, s, t = _eval(above)
    # exp never overflows: it stops at exp(87) = 6.076e37
    assert np.all(e == e87[0]) and np.all(np.isfinite(e))
    assert np.all(s == 1.0) and np.all(t == 1.0)
    # just inside the clamp the functions still move
    inside = np.array([-86.9, 86.9], np.float32)
    e, s, _ = _eval(inside)
    assert s[0] > s87[1] and e[1] < e87[0]


def test_saturation_and_symmetry():
    x = np.linspace(-30, 30, 60001, dtype=np.float32)
    e, s, t = _eval(x)
    assert np.all(np.diff(s) >= 0) and np.all(np.diff(t) >= 0)
    assert s[x == 0][0] == 0.5 and t[x == 0][0] == 0.0 and e[x == 0][0] == 1.0
    assert np.all(s[x >= 17] == 1.0)
    assert np.all(np.abs(t[np.abs(x) >= 10]) == 1.0)
    # sigmoid(x) + sigmoid(-x) = 1 to rounding
    assert np.max(np.abs(s + s[::-1] - 1.0)) <= 2.0**-23


def test_nan_passes_through():
    e, s, t = _eval(np.array([np.nan, 1.0, -np.nan], np.float32))
    assert np.isnan(e[[0, 2]]).all() and np.isnan(s[[0, 2]]).all() and np.isnan(t[[0, 2]]).all()
    assert np.isfinite(e[1]) and np.isfinite(s[1]) and np.isfinite(t[1])


def test_the_conditionals_use_it(walk):
    """rbm's layer conditional (Bernoulli, mean field) is the shared sigmoid."""
    x = walk[(walk > -120) & (walk < 120)][:100_000].copy()
    _, s, _ = _eval(x)
    A = x.reshape(1, -1).copy()
    rbm.layer_conditional(A, np.zeros(A.shape[1], np.float32), A, rbm.UnitType.BERNOULLI,
                          do_sample=False, key=0, stream=0, n_threads=1)
    np.testing.assert_array_equal(A[0], s)


def test_shared_math_checks_lengths():
    x = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match="x's length"):
        rbm.shared_math(x, np.empty(3, np.float32), np.empty(2, np.float32),
                        np.empty(3, np.float32))
