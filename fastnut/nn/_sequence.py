"""Sequence helpers of the engine: the NaN-padding rule and time-axis layers.

Variable-length sequences are padded at the end with NaN: a padded step is
NaN in every feature (``sequence_lengths``).  Recurrent layers skip padded
steps, and ``SumSquaredError(masked=True)`` leaves them out of the loss.
``RepeatSteps`` and ``TimeDistributedDense`` are a sequence decoder's
"repeat the code over time" and "the same dense layer at every step".
"""
import numpy as np

from ._base import Layer
from ._layers import Dense


def sequence_lengths(X):
    """Valid length of each NaN-padded sequence of a batch ``X`` (n, T, F).

    Trailing steps that are NaN in every feature are padding.  Returns
    ``(lengths, pad)``: ``lengths`` an int32 array of shape (n,), ``pad`` the
    boolean (n, T) mask of padded steps, or None when nothing is padded.

    Raises ``ValueError`` for infinity, for NaN anywhere but trailing
    all-NaN steps, and for a sequence with no valid step.
    """
    n, T = X.shape[0], X.shape[1]
    nan = np.isnan(X)
    if not nan.any():
        if not np.isfinite(X).all():
            raise ValueError("sequences contain infinity; only trailing all-NaN steps "
                             "(padding) may be non-finite")
        return np.full(n, T, dtype=np.int32), None
    step_nan = nan.reshape(n, T, -1).all(axis=2)
    # length = T minus the number of trailing all-NaN steps
    valid_rev = ~step_nan[:, ::-1]
    if not valid_rev.any(axis=1).all():
        bad = int(np.flatnonzero(~valid_rev.any(axis=1))[0])
        raise ValueError(f"sequence {bad} is all NaN: every sequence needs at least one "
                         "valid step (NaN marks padding at the end)")
    lengths = (T - np.argmax(valid_rev, axis=1)).astype(np.int32)
    pad = np.arange(T)[None, :] >= lengths[:, None]
    inside = nan.reshape(n, T, -1)[~pad]
    if inside.any():
        bad = int(np.flatnonzero(nan.reshape(n, T, -1).any(axis=2) & ~pad)[0] // T)
        raise ValueError(
            f"sequence {bad} has NaN inside its valid steps: NaN is only allowed as "
            "padding, i.e. whole steps (all features NaN) at the end of a sequence")
    if np.isinf(X).any():
        raise ValueError("sequences contain infinity; only trailing all-NaN steps "
                         "(padding) may be non-finite")
    return lengths, pad


class RepeatSteps(Layer):
    """Repeat a vector over time: ``(n, k) -> (n, T, k)``.

    ``forward(X, n_steps=T)`` overrides the built length (a sequence
    decoder reconstructs inputs of any length).  Backward sums over time.

    Parameters
    ----------
    n_steps : int
        The number of steps ``T`` of the output, at least 1.
    """

    def __init__(self, n_steps):
        super().__init__()
        self.n_steps = int(n_steps)
        if self.n_steps < 1:
            raise ValueError(f"n_steps must be >= 1, got {n_steps!r}")

    def get_config(self):
        return {"n_steps": self.n_steps}

    def _build(self, input_shape, rng):
        if len(input_shape) != 1:
            raise ValueError(f"RepeatSteps expects inputs of shape (n, k); got per-sample "
                             f"shape {input_shape}")
        return (self.n_steps, input_shape[0])

    def _forward(self, X, training=False, n_steps=None):
        T = self.n_steps if n_steps is None else int(n_steps)
        if T < 1:
            raise ValueError(f"RepeatSteps n_steps must be >= 1, got {n_steps!r}")
        Y = self._buffer("Y", (X.shape[0], T, X.shape[1]))
        np.copyto(Y, X[:, None, :])
        return Y

    def _backward(self, dY):
        if not self.needs_input_grad:
            return None
        dX = self._buffer("dX", (dY.shape[0], dY.shape[2]))
        np.sum(dY, axis=1, out=dX)
        return dX


class TimeDistributedDense(Dense):
    """The same ``Dense`` applied at every step: ``(n, T, H) -> (n, T, units)``.

    ``weight (H, units)``, ``bias (units,)``.  The batch and time axes are
    merged into one GEMM.

    Parameters
    ----------
    units : int
        Output width at every step.
    activation : {"identity", "relu", "tanh", "logistic"}, default="identity"
        Applied in the same pass as the bias.
    use_bias : bool, default=True
        Add a learned bias ``params["bias"]``.
    init_factor : float, default=6.0
        Glorot-uniform bound factor, as for ``Dense``.
    """

    variable_axes = (0,)  # any number of steps T
    axis_names = ("T",)

    def _build(self, input_shape, rng):
        if len(input_shape) != 2:
            raise ValueError(f"TimeDistributedDense expects inputs of shape (n, T, features); "
                             f"got per-sample shape {input_shape}")
        Dense._build(self, (input_shape[1],), rng)
        return (input_shape[0], self.units)

    def _forward(self, X, training=False):
        n, T, H = X.shape
        Y = super()._forward(np.ascontiguousarray(X).reshape(n * T, H), training=training)
        return Y.reshape(n, T, self.units)

    def _backward(self, dY):
        n, T, U = dY.shape
        dX = super()._backward(np.ascontiguousarray(dY).reshape(n * T, U))
        return None if dX is None else dX.reshape(n, T, -1)
