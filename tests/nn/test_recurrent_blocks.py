"""Inference over long sequences runs in blocks of steps (so that Ctrl-C lands
between kernel calls): the outputs are bitwise those of one kernel call."""
import numpy as np
import pytest

from fastnut import nn
from fastnut.nn import _recurrent


@pytest.mark.parametrize("cell", ["LSTM", "GRU", "SimpleRNN"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_blocked_inference_is_bitwise_one_call(monkeypatch, cell, bidirectional,
                                               return_sequences, dtype):
    rng = np.random.RandomState(0)
    n, T, F, H = 5, 53, 3, 4
    X = rng.randn(n, T, F).astype(dtype)
    for b, L in enumerate([53, 1, 17, 40, 52]):   # NaN padding at the end
        X[b, L:] = np.nan
    layer = getattr(nn, cell)(H, return_sequences=return_sequences,
                              bidirectional=bidirectional)
    layer.build((T, F), random_state=1, dtype=dtype)
    whole = layer.forward(X).copy()
    def states():  # h_n (and c_n for LSTM), copied out of the layer's buffers
        fs = layer.final_state
        return [a.copy() for a in (fs if isinstance(fs, tuple) else (fs,))]
    state = states()
    # tiny blocks: 16 steps a call (the minimum), so 4 calls with a ragged last one
    monkeypatch.setattr(_recurrent, "_BLOCK_WORK", 1)
    assert _recurrent._time_block(n, T, 4 * H, F, H) == 16
    blocked = layer.forward(X)
    np.testing.assert_array_equal(blocked, whole)
    for a, b in zip(states(), state, strict=True):
        np.testing.assert_array_equal(a, b)
    # training keeps one call (backward needs the whole workspace)
    layer.forward(X, training=True)
