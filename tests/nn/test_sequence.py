"""Sequence helpers and shape layers: RepeatSteps, TimeDistributedDense and Reshape
gradients, sequence_lengths and the NaN-padding rule."""
import numpy as np
import pytest

from fastnut._validation import to_sequences
from fastnut.nn._sequence import sequence_lengths
from fastnut.nn import RepeatSteps, Reshape, TimeDistributedDense
from tests._reference.gradcheck import check_layer_gradients

@pytest.mark.parametrize("layer, shape", [
    (RepeatSteps(4), (3,)),
    (TimeDistributedDense(2, activation="tanh"), (4, 3)),
    (Reshape((2, 3)), (6,)),
])
def test_sequence_and_reshape_layers_gradients(layer, shape):
    layer.build(shape, random_state=0, dtype=np.float64)
    X = np.random.default_rng(3).standard_normal((2,) + shape)
    check_layer_gradients(layer, X)


# -- sequence validation helpers ------------------------------------------------------

def test_sequence_lengths_and_reshaping():
    X = np.ones((3, 4, 2))
    X[1, 2:] = np.nan
    X[2, 1:] = np.nan
    lengths, pad = sequence_lengths(X)
    np.testing.assert_array_equal(lengths, [4, 2, 1])
    np.testing.assert_array_equal(pad.sum(axis=1), [0, 2, 3])
    lengths, pad = sequence_lengths(np.ones((2, 3, 1)))
    assert pad is None and list(lengths) == [3, 3]
    flat = np.arange(24.0).reshape(2, 12)
    assert to_sequences(flat).shape == (2, 12, 1)
    assert to_sequences(flat, input_shape=(4, 3)).shape == (2, 4, 3)
    np.testing.assert_array_equal(to_sequences(flat, input_shape=(4, 3))[1, 1], [15, 16, 17])
    assert to_sequences(flat, n_step_features=6).shape == (2, 2, 6)
    assert to_sequences(np.ones((2, 5, 3)), input_shape=(4, 3)).shape == (2, 5, 3)
    with pytest.raises(ValueError, match=r"input_shape=\(5, 3\) needs 15"):
        to_sequences(flat, input_shape=(5, 3))
    with pytest.raises(ValueError, match="not a multiple"):
        to_sequences(flat, n_step_features=5)
    with pytest.raises(ValueError, match=r"\(n, T, 2\)"):
        to_sequences(np.ones((2, 5, 3)), input_shape=(5, 2))
    with pytest.raises(ValueError, match="must have shape"):
        to_sequences(np.ones(5))
    with pytest.raises(ValueError, match="empty"):
        to_sequences(np.ones((0, 5)))
