"""Losses paired with their canonical output link.

A loss takes the network's raw output ``Z`` (no output activation), turns it
into a prediction with its link (identity, softmax, logistic, exp), and gives
``dL/dZ`` — which for every canonical pair is ``(P - y) * w / Σw``.

Values follow scikit-learn's MLP definitions exactly (so ``loss_curve_`` of
the drop-in MLPs matches theirs): per-sample losses are averaged with the
sample weights over the batch.
"""
import numpy as np
from scipy.special import xlogy

from .._kernels import dense as _k
from ._activations import logistic, softmax


class Loss:
    name = None
    link = "identity"

    def predict(self, Z, out=None):
        """The prediction ``P = link(Z)``."""
        if out is None:
            return Z
        out[...] = Z
        return out

    def value(self, P, y, sample_weight=None):
        raise NotImplementedError

    def gradient(self, P, y, sample_weight, weight_sum, out):
        """``dL/dZ`` into ``out``: ``(P - y) * w / weight_sum``."""
        np.subtract(P, y, out=out)
        if sample_weight is not None:
            out *= sample_weight[:, None]
        out *= 1.0 / weight_sum
        return out

    def evaluate(self, Z, y, sample_weight, weight_sum, P, dZ):
        """One training batch: ``P = link(Z)`` and ``dL/dZ`` into the given
        buffers; returns the loss value."""
        P = self.predict(Z, out=P)
        value = self.value(P, y, sample_weight)
        self.gradient(P, y, sample_weight, weight_sum, out=dZ)
        return value


class SquaredError(Loss):
    """``0.5 · mean_outputs(avg_w (y - P)²)``, identity link."""
    name = "squared_error"

    def value(self, P, y, sample_weight=None):
        return float(0.5 * np.average((y - P) ** 2, weights=sample_weight, axis=0).mean())


class Poisson(Loss):
    """Half Poisson deviance ``avg_w(y log(y/P) - y + P)`` summed over outputs, exp link."""
    name = "poisson"
    link = "exp"

    def predict(self, Z, out=None):
        return np.exp(Z, out=out)

    def value(self, P, y, sample_weight=None):
        return float(np.average(xlogy(y, y / P) - y + P, weights=sample_weight, axis=0).sum())


class SoftmaxCrossEntropy(Loss):
    """``-avg_w Σ_k y_k log P_k`` with ``P = softmax(Z)``."""
    name = "log_loss"
    link = "softmax"

    def predict(self, Z, out=None):
        return softmax(Z, out=out)

    def value(self, P, y, sample_weight=None):
        eps = np.finfo(P.dtype).eps
        P = np.clip(P, eps, 1 - eps)
        return float(-np.average(xlogy(y, P), weights=sample_weight, axis=0).sum())

    def evaluate(self, Z, y, sample_weight, weight_sum, P, dZ):
        # float32: one C pass instead of a dozen NumPy calls on a small array
        # (~100 us a step in a training loop); float64 keeps NumPy's exact
        # arithmetic (the scikit-learn-identical path)
        if (Z.dtype == y.dtype == P.dtype == dZ.dtype == np.float32
                and (sample_weight is None or sample_weight.dtype == np.float32)
                and Z.flags.c_contiguous and y.flags.c_contiguous):
            sw = sample_weight if sample_weight is not None else _EMPTY_F32
            return _k.softmax_cross_entropy(Z, y, sw, weight_sum, P, dZ)
        return super().evaluate(Z, y, sample_weight, weight_sum, P, dZ)


_EMPTY_F32 = np.empty(0, np.float32)


class BinaryLogLoss(Loss):
    """``-avg_w Σ_k [y_k log P_k + (1-y_k) log(1-P_k)]``, ``P = logistic(Z)``
    (binary and multilabel classification)."""
    name = "binary_log_loss"
    link = "logistic"

    def predict(self, Z, out=None):
        return logistic(Z, out=out)

    def value(self, P, y, sample_weight=None):
        eps = np.finfo(P.dtype).eps
        P = np.clip(P, eps, 1 - eps)
        return float(-np.average(xlogy(y, P) + xlogy(1 - y, 1 - P),
                                 weights=sample_weight, axis=0).sum())


class SumSquaredError(Loss):
    """Reconstruction error ``0.5 · avg_w Σ_outputs (y - P)²``, identity link.

    Unlike ``SquaredError`` (scikit-learn's MLP value, a mean over outputs)
    the value is a sum over outputs, so value and gradient ``(P - y) w / Σw``
    describe the same objective and penalties can be added to it exactly.

    Parameters
    ----------
    masked : bool, default=False
        Targets that are NaN (padded steps of NaN-padded sequences) are left
        out of the value and get a zero gradient.
    """
    name = "sum_squared_error"

    def __init__(self, masked=False):
        self.masked = bool(masked)

    def _diff(self, P, y, out):
        np.subtract(P, y, out=out)
        if self.masked:
            out[np.isnan(y)] = 0.0  # from y: a NaN prediction must still show
        return out

    def value(self, P, y, sample_weight=None):
        d = self._diff(P, y, np.empty_like(P))
        per_sample = np.einsum("ij,ij->i", d.reshape(len(d), -1), d.reshape(len(d), -1))
        return float(0.5 * np.average(per_sample, weights=sample_weight))

    def gradient(self, P, y, sample_weight, weight_sum, out):
        self._diff(P, y, out)
        if sample_weight is not None:
            out *= sample_weight.reshape((-1,) + (1,) * (out.ndim - 1))
        out *= 1.0 / weight_sum
        return out


LOSSES = {cls.name: cls for cls in (SquaredError, Poisson, SoftmaxCrossEntropy, BinaryLogLoss)}


def get_loss(name):
    try:
        return LOSSES[name]()
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; expected one of {sorted(LOSSES)}") from None
