"""Callbacks for the ``callbacks`` parameter of every gradient-trained fastnut
estimator (``solver="sgd"`` or ``"adam"``).

A callback is an object with three methods, called by ``fit`` and
``partial_fit``:

``on_train_begin(estimator)``
    at the start of each call (reset your state here);
``on_epoch_end(estimator, epoch, logs) -> bool``
    after each epoch; ``epoch`` counts from 1 over the model's life and
    ``logs`` is the epoch's ``history_`` record (``epoch``, ``loss``,
    ``validation_score``, ``learning_rate``, ``seconds``).  At that moment
    the estimator is whole: it predicts, and pickling it gives a model that
    resumes training.  Returning True stops training;
``on_train_end(estimator)``
    after the last epoch of the call.

Subclass ``Callback`` (a scikit-learn ``BaseEstimator``: parameters in
``__init__``, state created in ``on_train_begin``), so that ``clone`` gives
fresh callbacks and estimators holding them pickle.
"""
import csv
import os
import pickle
import sys

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.metrics import check_scoring

__all__ = ["Callback", "EarlyStopping", "Checkpoint", "ProgressBar", "CSVLogger"]


class Callback(BaseEstimator):
    """Base class: every method does nothing.

    A subclass overrides the hooks it needs; the estimator calls them with
    itself as ``estimator``.
    """

    def on_train_begin(self, estimator):
        """Prepare for a call of ``fit`` or ``partial_fit``, before its first epoch.

        Parameters
        ----------
        estimator : estimator
            The estimator being trained.
        """

    def on_epoch_end(self, estimator, epoch, logs):
        """Act on the end of an epoch and say whether training stops here.

        Parameters
        ----------
        estimator : estimator
            The estimator being trained; its weights are this epoch's.
        epoch : int
            The number of epochs run so far (1 after the first).
        logs : dict
            This epoch's figures: ``"epoch"``, ``"loss"``, ``"validation_score"``
            (``None`` without ``early_stopping``), ``"learning_rate"`` and
            ``"seconds"``.

        Returns
        -------
        bool
            ``True`` to stop training after this epoch.
        """
        return False

    def on_train_end(self, estimator):
        """Finish after the last epoch of a call of ``fit`` or ``partial_fit``.

        Parameters
        ----------
        estimator : estimator
            The estimator that was trained.
        """


def _monitored(callback, estimator, logs):
    """``(value, higher_is_better)`` of ``callback.monitor`` for this epoch."""
    monitor = callback.monitor
    if monitor == "loss":
        return logs["loss"], False
    if monitor == "validation_score":
        if logs["validation_score"] is None:
            raise ValueError(f"{type(callback).__name__}(monitor='validation_score') needs "
                             "the estimator's early_stopping=True.")
        return logs["validation_score"], True
    if callback.validation_data is None:
        raise ValueError(f"{type(callback).__name__}(monitor={monitor!r}) scores a held-out "
                         "set: pass validation_data=(X_val, y_val).")
    X_val, y_val = callback.validation_data
    scorer = check_scoring(estimator, scoring=None if monitor == "score" else monitor)
    return float(scorer(estimator, X_val, y_val)), True


class EarlyStopping(Callback):
    """Stop when the monitored value has not improved for ``patience`` epochs.

    Parameters
    ----------
    monitor : str or callable, default="loss"
        ``"loss"`` (training loss, lower is better), ``"validation_score"``
        (the estimator's own ``early_stopping`` split), ``"score"`` (the
        estimator's ``score``) or any scikit-learn scorer name or callable
        ``scorer(estimator, X, y)`` (higher is better), computed on
        ``validation_data``.
    validation_data : tuple (X_val, y_val) or None, default=None
        The held-out rows scored by ``monitor`` (required unless it is
        ``"loss"`` or ``"validation_score"``).
    patience : int, default=5
        Stop after this many epochs in a row without improvement.
    min_delta : float, default=0.0
        Smallest change that counts as an improvement.
    restore_best_weights : bool, default=True
        At the end of training, put back the weights of the best epoch (and the
        layers' buffers, e.g. batch normalisation's running statistics, of
        that epoch).

    Attributes
    ----------
    best_score_ : float
        Best monitored value (for the loss: the lowest).
    best_epoch_ : int
    stopped_epoch_ : int or None
        Epoch at which this callback stopped training.
    """

    def __init__(self, monitor="loss", *, validation_data=None, patience=5, min_delta=0.0,
                 restore_best_weights=True):
        self.monitor = monitor
        self.validation_data = validation_data
        self.patience = patience
        self.min_delta = min_delta
        self.restore_best_weights = restore_best_weights

    def on_train_begin(self, estimator):
        self.best_score_ = None
        self.best_epoch_ = None
        self.stopped_epoch_ = None
        self._wait = 0
        self._best_params = None

    def on_epoch_end(self, estimator, epoch, logs):
        value, higher = _monitored(self, estimator, logs)
        improved = self.best_score_ is None or (
            value > self.best_score_ + self.min_delta if higher
            else value < self.best_score_ - self.min_delta)
        if improved:
            self.best_score_, self.best_epoch_, self._wait = value, epoch, 0
            if self.restore_best_weights:
                net = estimator.network_
                # the buffers (running statistics) go with the weights they fit
                self._best_params = ({k: v.copy() for k, v in net.params.items()},
                                     {k: v.copy() for k, v in
                                      getattr(net, "buffers", {}).items()})
            return False
        self._wait += 1
        if self._wait >= self.patience:
            self.stopped_epoch_ = epoch
            return True
        return False

    def on_train_end(self, estimator):
        if self.restore_best_weights and self._best_params is not None:
            params, buffers = self._best_params
            net = estimator.network_
            for k, v in net.params.items():
                v[...] = params[k]
            for k, v in buffers.items():
                net.buffers[k][...] = v
        self._best_params = None  # a fitted model holds weights once


class Checkpoint(Callback):
    """Save the estimator to a file: at its best epoch and/or every ``every`` epochs.

    The file holds the whole estimator mid-training (weights, optimizer
    state, progress, shuffling generator): ``pickle.load`` (or
    ``skops.io.load``) gives a model that predicts and that continues with
    ``partial_fit`` exactly where it stopped (see the README, "Training
    control").

    Parameters
    ----------
    path : str, default="checkpoint.pkl"
        File name; may contain ``{epoch}`` (e.g. ``"model-{epoch:03d}.pkl"``)
        to keep one file per saved epoch.
    monitor : str, callable or None, default="loss"
        As for ``EarlyStopping``; the file is written when it improves.
        None saves on ``every`` only.
    validation_data : tuple (X_val, y_val) or None, default=None
        The held-out rows scored by ``monitor``, as for ``EarlyStopping``.
    every : int or None, default=None
        Also save every ``every`` epochs.
    format : {"pickle", "skops"}, default="pickle"

    Attributes
    ----------
    best_score_ : float or None
    saved_ : list of (epoch, path)
        What was written, in order.
    """

    def __init__(self, path="checkpoint.pkl", *, monitor="loss", validation_data=None,
                 every=None, format="pickle"):
        self.path = path
        self.monitor = monitor
        self.validation_data = validation_data
        self.every = every
        self.format = format

    def on_train_begin(self, estimator):
        if self.format not in ("pickle", "skops"):
            raise ValueError(f"format must be 'pickle' or 'skops', got {self.format!r}")
        if self.monitor is None and not self.every:
            raise ValueError("Checkpoint saves nothing: give monitor or every.")
        self.best_score_ = None
        self.saved_ = []

    def on_epoch_end(self, estimator, epoch, logs):
        save = bool(self.every) and epoch % self.every == 0
        if self.monitor is not None:
            value, higher = _monitored(self, estimator, logs)
            if self.best_score_ is None or (value > self.best_score_ if higher
                                            else value < self.best_score_):
                self.best_score_ = value
                save = True
        if save:
            path = os.fspath(self.path).format(epoch=epoch)
            self._save(estimator, path)
            self.saved_.append((epoch, path))
        return False

    def _save(self, estimator, path):
        estimator.network_.clear_forward_state()
        tmp = path + ".tmp"
        if self.format == "skops":
            import skops.io
            skops.io.dump(estimator, tmp)
        else:
            with open(tmp, "wb") as f:
                pickle.dump(estimator, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)  # a crash mid-write never leaves a torn checkpoint


class ProgressBar(Callback):
    """A progress bar over the epochs: tqdm when installed, else one text line per epoch.

    Parameters
    ----------
    use_tqdm : bool or None, default=None
        None uses tqdm if it can be imported.
    file : file object or None, default=None
        Where the text goes (None: ``sys.stderr``).
    """

    def __init__(self, use_tqdm=None, file=None):
        self.use_tqdm = use_tqdm
        self.file = file

    def on_train_begin(self, estimator):
        self._bar = None
        self._total = estimator.max_iter
        use = self.use_tqdm
        if use is None or use:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                if use:
                    raise
            else:
                self._bar = tqdm(total=self._total, file=self.file, unit="epoch",
                                 desc=type(estimator).__name__)

    def on_epoch_end(self, estimator, epoch, logs):
        text = f"loss={logs['loss']:.6g}"
        if logs["validation_score"] is not None:
            text += f", validation_score={logs['validation_score']:.6g}"
        text += f", lr={logs['learning_rate']:.3g}"
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix_str(text)
        else:
            out = self.file if self.file is not None else sys.stderr
            print(f"{type(estimator).__name__} epoch {epoch}: {text}, "
                  f"{logs['seconds']:.3f}s", file=out, flush=True)
        return False

    def on_train_end(self, estimator):
        if self._bar is not None:
            self._bar.close()
        self._bar = None


class CSVLogger(Callback):
    """Write each epoch's record (``history_`` fields) as a CSV row.

    Parameters
    ----------
    path : str, default="history.csv"
        File the rows are written to, one per epoch after a header.
    append : bool, default=False
        Add to an existing file (resuming) instead of starting it afresh.
    """

    FIELDS = ("epoch", "loss", "validation_score", "learning_rate", "seconds")

    def __init__(self, path="history.csv", append=False):
        self.path = path
        self.append = append

    def on_train_begin(self, estimator):
        fresh = not (self.append and os.path.exists(self.path))
        if fresh:
            with open(self.path, "w", newline="") as f:
                csv.writer(f).writerow(self.FIELDS)

    def on_epoch_end(self, estimator, epoch, logs):
        with open(self.path, "a", newline="") as f:
            csv.writer(f).writerow(["" if logs[k] is None else logs[k] for k in self.FIELDS])
        return False
