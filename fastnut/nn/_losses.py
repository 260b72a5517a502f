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
    """Base class of the losses: a value, its link and ``dL/dZ``.

    A subclass sets ``name`` (the estimators' ``loss`` string), ``link`` (the
    output function: ``"identity"``, ``"softmax"``, ``"logistic"`` or ``"exp"``)
    and implements ``value``; ``predict`` and ``gradient`` are overridden
    when the link or the gradient differ from the identity pair's.
    """
    name = None
    link = "identity"

    def predict(self, Z, out=None):
        """Turn raw outputs into predictions, ``P = link(Z)``.

        Parameters
        ----------
        Z : ndarray of shape (n, n_outputs)
            The network's raw output.
        out : ndarray of shape (n, n_outputs) or None, default=None
            Buffer for the result; None returns a new array (or ``Z`` itself
            for the identity link).

        Returns
        -------
        P : ndarray of shape (n, n_outputs)
            The predictions.
        """
        if out is None:
            return Z
        out[...] = Z
        return out

    def value(self, P, y, sample_weight=None):
        """Compute the loss of predictions ``P`` against targets ``y``.

        Parameters
        ----------
        P : ndarray of shape (n, n_outputs)
            Predictions, ``predict(Z)``.
        y : ndarray of shape (n, n_outputs)
            Targets (one-hot or indicator columns for the classification losses).
        sample_weight : ndarray of shape (n,) or None, default=None
            Weights of the per-sample losses in their average; None weighs
            them equally.

        Returns
        -------
        float
            The weighted average of the per-sample losses.
        """
        raise NotImplementedError

    def gradient(self, P, y, sample_weight, weight_sum, out):
        """Write ``dL/dZ = (P - y) * w / weight_sum`` into ``out``.

        Parameters
        ----------
        P : ndarray of shape (n, n_outputs)
            Predictions, ``predict(Z)``.
        y : ndarray of shape (n, n_outputs)
            Targets.
        sample_weight : ndarray of shape (n,) or None
            Per-sample weights ``w``; None means all ones.
        weight_sum : float
            The sum of the weights of the whole batch (its size when unweighted).
        out : ndarray of shape (n, n_outputs)
            Buffer for the gradient.

        Returns
        -------
        dZ : ndarray of shape (n, n_outputs)
            ``out``, holding the gradient with respect to the raw output ``Z``.
        """
        np.subtract(P, y, out=out)
        if sample_weight is not None:
            out *= sample_weight[:, None]
        out *= 1.0 / weight_sum
        return out

    def evaluate(self, Z, y, sample_weight, weight_sum, P, dZ):
        """Evaluate one training batch: prediction, value and gradient.

        Parameters
        ----------
        Z : ndarray of shape (n, n_outputs)
            The network's raw output.
        y : ndarray of shape (n, n_outputs)
            Targets.
        sample_weight : ndarray of shape (n,) or None
            Per-sample weights; None means all ones.
        weight_sum : float
            The sum of the weights of the batch.
        P : ndarray of shape (n, n_outputs)
            Buffer for the predictions ``link(Z)``.
        dZ : ndarray of shape (n, n_outputs)
            Buffer for ``dL/dZ``.

        Returns
        -------
        float
            The loss value of the batch.
        """
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
            return _k.softmax_cross_entropy(Z, y, sw, P=P, dZ=dZ, weight_sum=weight_sum)
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
    """Make the loss called ``name``.

    Parameters
    ----------
    name : {"squared_error", "poisson", "log_loss", "binary_log_loss"}
        The loss, by the name the estimators use.

    Returns
    -------
    Loss
        A new instance of that loss.
    """
    try:
        return LOSSES[name]()
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; expected one of {sorted(LOSSES)}") from None
