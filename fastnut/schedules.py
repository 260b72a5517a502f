"""Learning-rate schedules for the ``lr_schedule`` parameter of every
gradient-trained fastnut estimator (``solver="sgd"`` or ``"adam"``).

A schedule gives the learning rate of each epoch,
``schedule.learning_rate_at(epoch, base_lr, history)``: ``epoch`` counts from
0 over the model's life (it continues across ``warm_start`` and
``partial_fit``), ``base_lr`` is the estimator's ``learning_rate_init`` and
``history`` the records of the epochs done so far (``history_``).  For SGD
the rate is the step size; for Adam it is ``η`` before the bias correction.

Schedules hold only their parameters (no state): a rate is a function of the
epoch and the history, so ``clone``, pickling and resuming from a checkpoint
give the same rates.  Any callable ``epoch -> learning rate`` works as well.

>>> from fastnut.schedules import CosineAnnealing, StepDecay
>>> [StepDecay(step_size=2, gamma=0.5).learning_rate_at(e, 0.1, []) for e in range(5)]
[0.1, 0.1, 0.05, 0.05, 0.025]
>>> s = CosineAnnealing(n_epochs=4, warmup_epochs=2)
>>> [round(s.learning_rate_at(e, 1.0, []), 3) for e in range(7)]
[0.5, 1.0, 1.0, 0.854, 0.5, 0.146, 0.0]
"""
import math
from numbers import Integral, Real

from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions, validate_parameter_constraints

__all__ = ["Schedule", "StepDecay", "CosineAnnealing", "ReduceLROnPlateau"]


class Schedule(BaseEstimator):
    """Base of the schedules: ``learning_rate_at(epoch, base_lr, history) -> float``."""

    _parameter_constraints = {}

    def learning_rate_at(self, epoch, base_lr, history):
        """Compute the learning rate of one epoch.

        Parameters
        ----------
        epoch : int
            The epoch, counted from 0 over the model's life.
        base_lr : float
            The estimator's ``learning_rate_init``.
        history : list of dict
            The records of the epochs done so far (the estimator's
            ``history_``: ``"epoch"``, ``"loss"``, ``"validation_score"``,
            ``"learning_rate"``, ``"seconds"``).

        Returns
        -------
        float
            The learning rate of ``epoch``.
        """
        validate_parameter_constraints(self._parameter_constraints,
                                       self.get_params(deep=False), type(self).__name__)
        return float(self._rate(int(epoch), float(base_lr), history))

    def _rate(self, epoch, base_lr, history):
        raise NotImplementedError


class StepDecay(Schedule):
    """``base_lr · gamma ** (epoch // step_size)``.

    Parameters
    ----------
    step_size : int, default=10
        Epochs between two decays.
    gamma : float, default=0.1
        Factor applied at each decay.
    """

    _parameter_constraints = {"step_size": [Interval(Integral, 1, None, closed="left")],
                              "gamma": [Interval(Real, 0, None, closed="neither")]}

    def __init__(self, step_size=10, gamma=0.1):
        self.step_size = step_size
        self.gamma = gamma

    def _rate(self, epoch, base_lr, history):
        return base_lr * self.gamma ** (epoch // self.step_size)


class CosineAnnealing(Schedule):
    """Cosine annealing from ``base_lr`` to ``min_lr``, after an optional linear warm-up.

    Epochs ``0 .. warmup_epochs - 1`` ramp linearly:
    ``base_lr · (epoch + 1) / warmup_epochs``.  Then, with
    ``e = epoch - warmup_epochs``:
    ``min_lr + (base_lr - min_lr) · (1 + cos(π · min(e, n_epochs) / n_epochs)) / 2``,
    so the rate is ``base_lr`` at the first epoch after warm-up, ``min_lr``
    after ``n_epochs`` more, and stays there.

    Parameters
    ----------
    n_epochs : int, default=100
        Length of the cosine half-period, in epochs.
    min_lr : float, default=0.0
        The rate at the end of the cosine and after it.
    warmup_epochs : int, default=0
        Epochs of linear warm-up before the cosine; 0 starts at ``base_lr``.
    """

    _parameter_constraints = {"n_epochs": [Interval(Integral, 1, None, closed="left")],
                              "min_lr": [Interval(Real, 0, None, closed="left")],
                              "warmup_epochs": [Interval(Integral, 0, None, closed="left")]}

    def __init__(self, n_epochs=100, min_lr=0.0, warmup_epochs=0):
        self.n_epochs = n_epochs
        self.min_lr = min_lr
        self.warmup_epochs = warmup_epochs

    def _rate(self, epoch, base_lr, history):
        if epoch < self.warmup_epochs:
            return base_lr * (epoch + 1) / self.warmup_epochs
        e = min(epoch - self.warmup_epochs, self.n_epochs)
        cosine = (1 + math.cos(math.pi * e / self.n_epochs)) / 2
        return self.min_lr + (base_lr - self.min_lr) * cosine


class ReduceLROnPlateau(Schedule):
    """Multiply the rate by ``factor`` when the monitored value stalls.

    After each epoch the monitored value (``"loss"``: training loss, lower is
    better; ``"validation_score"``: the ``early_stopping`` validation score,
    higher is better) counts as an improvement when it beats the best so far
    by more than ``threshold``.  After more than ``patience`` epochs in a row
    without one, the rate is multiplied by ``factor`` (not below ``min_lr``)
    and the count restarts (PyTorch's rule; the rate changes from the epoch
    after the ``patience + 1``-th stalled one).  The rate is recomputed from
    ``history`` (a replay, linear in the number of epochs), so it survives
    clone, pickle and resume.

    Parameters
    ----------
    monitor : {"loss", "validation_score"}, default="loss"
        The value watched for improvement.
    factor : float, default=0.1
        Multiplier of the rate at each reduction, in (0, 1).
    patience : int, default=10
        Stalled epochs tolerated before a reduction.
    threshold : float, default=1e-4
        The margin by which a value must beat the best to count as an improvement.
    min_lr : float, default=0.0
        The rate is never reduced below this.
    """

    _parameter_constraints = {"monitor": [StrOptions({"loss", "validation_score"})],
                              "factor": [Interval(Real, 0, 1, closed="neither")],
                              "patience": [Interval(Integral, 0, None, closed="left")],
                              "threshold": [Interval(Real, 0, None, closed="left")],
                              "min_lr": [Interval(Real, 0, None, closed="left")]}

    def __init__(self, monitor="loss", factor=0.1, patience=10, threshold=1e-4, min_lr=0.0):
        self.monitor = monitor
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
        self.min_lr = min_lr

    def _rate(self, epoch, base_lr, history):
        lr, best, wait = base_lr, math.inf, 0
        sign = 1.0 if self.monitor == "loss" else -1.0
        for record in history[:epoch]:
            value = record[self.monitor]
            if value is None:
                raise ValueError("ReduceLROnPlateau(monitor='validation_score') needs "
                                 "early_stopping=True (the epochs have no validation score).")
            value = sign * value
            if value < best - self.threshold:
                best, wait = value, 0
            else:
                wait += 1
                if wait > self.patience:
                    lr, wait = max(lr * self.factor, self.min_lr), 0
        return lr
