"""Noise layers, active at training time only: Dropout and Corruption.

Both draw from a generator seeded by ``build``'s ``random_state`` (the trainer
rebuilds the network from the estimator's ``random_state``), so training is
reproducible, and both are the identity at inference.
"""
import numpy as np

from ._base import Layer


class Dropout(Layer):
    """Inverted dropout: at training time zero each unit with probability
    ``rate`` and scale the rest by ``1 / (1 - rate)``; identity at inference.

    The mask is drawn from the generator given to ``build`` (reseeded by the
    trainer from ``random_state``), so training is reproducible.

    Parameters
    ----------
    rate : float
        Probability of zeroing a unit, in [0, 1).
    """

    elementwise = True


    def __init__(self, rate):
        super().__init__()
        self.rate = float(rate)
        if not 0.0 <= self.rate < 1.0:
            raise ValueError(f"Dropout rate must be in [0, 1), got {rate!r}")

    def get_config(self):
        return {"rate": self.rate}

    def _build(self, input_shape, rng):
        self._rng = np.random.default_rng(rng.randint(2 ** 31))
        return input_shape

    def _forward(self, X, training=False):
        if not training or self.rate == 0.0:
            self._mask = None
            return X
        mask = self._buffer("mask", X.shape)
        u = self._rng.random(X.shape, dtype=self.dtype)
        np.greater_equal(u, self.rate, out=mask, casting="unsafe")
        mask *= 1.0 / (1.0 - self.rate)
        self._mask = mask
        Y = self._buffer("Y", X.shape)
        np.multiply(X, mask, out=Y)
        return Y

    def _backward(self, dY):
        if self._mask is None:
            return dY
        dX = self._buffer("dX", dY.shape)
        np.multiply(dY, self._mask, out=dX)
        return dX


class Corruption(Layer):
    """Input corruption at training time (denoising); identity at inference.

    Parameters
    ----------
    kind : {"gaussian", "masking"}, default="gaussian"
        ``gaussian`` adds ``level · N(0, 1)`` noise; ``masking`` sets each
        value to 0 with probability ``level``.
    level : float, default=0.1
        Standard deviation of the Gaussian noise, or the masking probability.

    Notes
    -----
    Fresh noise is drawn for every batch from a generator seeded by
    ``build``'s ``random_state``, so training is reproducible.
    """

    elementwise = True


    def __init__(self, kind="gaussian", level=0.1):
        super().__init__()
        if kind not in ("gaussian", "masking"):
            raise ValueError(f"noise must be 'gaussian' or 'masking', got {kind!r}")
        self.kind = kind
        self.level = float(level)
        if self.level < 0 or (kind == "masking" and self.level >= 1):
            raise ValueError(f"noise level must be >= 0 (and < 1 for masking), got {level!r}")

    def get_config(self):
        return {"kind": self.kind, "level": self.level}

    def _build(self, input_shape, rng):
        self._rng = np.random.default_rng(rng.randint(2 ** 31))
        return input_shape

    def _forward(self, X, training=False):
        if not training or self.level == 0.0:
            if training:
                self._mask = None
            return X  # inference stores nothing on self (thread safety)
        Y = self._buffer("Y", X.shape)
        if self.kind == "gaussian":
            self._rng.standard_normal(X.shape, dtype=self.dtype, out=Y)
            Y *= self.level
            Y += X
            self._mask = None
        else:
            mask = self._buffer("mask", X.shape)
            np.greater_equal(self._rng.random(X.shape, dtype=self.dtype), self.level,
                             out=mask, casting="unsafe")
            np.multiply(X, mask, out=Y)
            self._mask = mask
        return Y

    def _backward(self, dY):
        if not self.needs_input_grad:
            return None
        if self._mask is None:
            return dY
        dX = self._buffer("dX", dY.shape)
        np.multiply(dY, self._mask, out=dX)
        return dX
