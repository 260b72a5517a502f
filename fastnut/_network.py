"""The estimator base shared by every gradient-trained fastnut model.

``BaseNetwork.fit`` validates the data once, builds the network from it and
trains it; the data flows down as arguments and nothing is parked on ``self``
in between.  A family (``NetworkClassifier``/``NetworkRegressor`` subclasses,
the autoencoders) supplies three hooks:

``_validate_fit(X, y, sample_weight, *, reset, incremental, classes) -> (X, Y, sample_weight)``
    the checked input (C-contiguous, compute dtype, shape
    ``(n, *sample_shape)``), the training target ``Y`` as the network's
    output should match it (for autoencoders ``Y is X``) and the checked
    sample weights.  ``reset=True`` on a first fit (sets ``n_features_in_``
    and the family's shape attributes).  The default is supervised: ``X``
    through ``_check_X`` and ``y`` through ``_check_y``.
``_make_network(X, Y, rng) -> nn.Layer``
    a built network for this data; free to pre-train on ``X`` (DBN).
``_make_loss() -> nn.Loss``
    the training loss, whose link is also the prediction's.

The base owns one ``_train(network, X, Y, sample_weight, rng, incremental)``:
early-stopping split, one ``nn.TrainConfig`` built from the constructor
parameters (``_train_config``) and one ``nn.Trainer`` per call.  What carries
over to ``warm_start`` and ``partial_fit`` calls is the optimizer, the
training progress and the shuffling generator (``_optimizer``,
``_progress``, ``_random_state``; where the row order stands is in
``_progress.shuffle_order``, from which ``warm_start`` resumes it), never data.

Every ``TrainConfig`` field is either a constructor parameter of the family
(so ``get_params()`` shows it) or a value in the family's
``_FIXED_TRAIN_PARAMS`` (visible in the class, documented as fixed); a field
that is neither is an error, not a silent default.  Every family has the
parameters ``solver``, ``batch_size``, ``warm_start``, ``early_stopping``,
``validation_fraction``, ``random_state`` and ``dtype``.
"""
import dataclasses
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils.class_weight import compute_class_weight, compute_sample_weight
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import HasMethods, Interval, Options, StrOptions
from sklearn.utils.multiclass import (_check_partial_fit_first_call, type_of_target,
                                      unique_labels)
from sklearn.utils.validation import (_check_sample_weight, check_is_fitted,
                                      column_or_1d, validate_data)
from numbers import Integral, Real

from . import nn
from ._doc_link import DocLinkMixin
from ._state import AtomicState
from ._threads import blas_single_thread, map_row_chunks
from ._validation import resolve_dtype

#: TrainConfig fields read from the estimator (or its _FIXED_TRAIN_PARAMS)
_CONFIG_FIELDS = tuple(f.name for f in dataclasses.fields(nn.TrainConfig)
                       if f.name != "batch_size")

#: constraints of the training parameters, for subclasses' _parameter_constraints
TRAIN_CONSTRAINTS = {
    "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
    "alpha": [Interval(Real, 0, None, closed="left")],
    "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
    "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
    "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
    "power_t": [Interval(Real, 0, None, closed="left")],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "shuffle": ["boolean"],
    "random_state": ["random_state"],
    "tol": [Interval(Real, 0, None, closed="left")],
    "verbose": ["verbose"],
    "warm_start": ["boolean"],
    "momentum": [Interval(Real, 0, 1, closed="both")],
    "nesterovs_momentum": ["boolean"],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="left")],
    "beta_1": [Interval(Real, 0, 1, closed="left")],
    "beta_2": [Interval(Real, 0, 1, closed="left")],
    "epsilon": [Interval(Real, 0, None, closed="neither")],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left"),
                         Options(Real, {np.inf}), None],
    "max_fun": [Interval(Integral, 1, None, closed="left")],
    "clip_norm": [Interval(Real, 0, None, closed="neither"), None],
    "dtype": [Options(type, {np.float32, np.float64}), StrOptions({"float32", "float64"})],
    "lr_schedule": [HasMethods(["learning_rate_at"]), callable, None],
    "callbacks": [list, tuple, None],
}

#: constraint of the classifiers' ``class_weight`` parameter
CLASS_WEIGHT_CONSTRAINT = {"class_weight": [dict, StrOptions({"balanced"}), None]}

def _stochastic_solver(est):
    if est.solver not in ("sgd", "adam"):
        raise AttributeError(
            f"partial_fit is only available for stochastic optimizers. "
            f"{est.solver} is not stochastic.")
    return True


def _finite64(X):
    try:
        return bool(np.isfinite(np.asarray(X, dtype=np.float64)).all())
    except (TypeError, ValueError):
        return False


#: rows per forward pass at prediction time: memory stays flat in n_samples
PREDICT_CHUNK = 2048

#: training rows a fitted network must map to finite outputs
_PROBE_ROWS = 64


def check_finite_prediction(est, Z, X):
    """Raise a clear ``ValueError`` when a prediction overflowed (never return inf/NaN)."""
    if not np.isfinite(Z).all():
        raise ValueError(
            f"{type(est).__name__}: the network's output for X is not finite: the input "
            f"overflows {np.dtype(Z.dtype).name} arithmetic (largest |value| in X: "
            f"{float(np.max(np.abs(X))) if X.size and not sp.issparse(X) else 'n/a'}). "
            "Scale the inputs like the training data, e.g. with StandardScaler.")
    return Z


def _check_finite_output(net, X, forward=True):
    """Raise ``DivergenceError`` when the trained ``net`` overflows on training rows.

    A finite but huge loss (1e24, say) leaves weights that overflow float32 at
    prediction time: the fit reports it instead of returning a model that
    predicts inf.
    """
    probe = X[:_PROBE_ROWS]
    if sp.issparse(probe):
        probe = probe.toarray()
    params_ok = all(np.isfinite(p).all() for p in net.params.values())
    out_ok = params_ok
    if params_ok and forward:
        with np.errstate(over="ignore", invalid="ignore"):
            out_ok = bool(np.isfinite(net.forward(probe, training=False)).all())
    if not out_ok:
        raise nn.DivergenceError(
            "Solver produced non-finite parameter weights. The input data may contain "
            "large values and need to be preprocessed. (Training diverged: the "
            + ("weights are" if not params_ok else "network's outputs on training rows are")
            + " no longer finite. Lower learning_rate_init, scale the inputs (e.g. "
            "StandardScaler) or raise alpha.)")


class BaseNetwork(DocLinkMixin, AtomicState, BaseEstimator):
    """Shared fit / partial_fit / predict machinery (see the module docstring)."""

    _accept_sparse = False

    #: TrainConfig fields this family does not expose, with the value it trains with
    _FIXED_TRAIN_PARAMS = {}

    #: True: scikit-learn's MLP warm_start (a new optimizer, the shuffling
    #: re-seeded from random_state).  False: a warm_start fit continues the
    #: optimizer, the row order and the shuffling generator of the previous
    #: fit (``_progress.shuffle_order``): N/2 + N/2 epochs equal N, across a
    #: save and load too
    _SKLEARN_WARM_START = False

    # -- hooks ------------------------------------------------------------------
    def _check_X(self, X, reset):
        """Checked input: ``reset=True`` at a first fit, False afterwards."""
        if not reset and type(X) is np.ndarray and self._fast_path_ok(X):
            # predict-time fast path for plain arrays: the checks validate_data
            # would make, without its fixed ~40 µs (single-sample latency)
            X = np.ascontiguousarray(X, dtype=self.network_.dtype)
            if np.isfinite(X).all():
                return X
        try:
            return validate_data(
                self, X, reset=reset, dtype=self._compute_dtype(), order="C",
                accept_sparse=["csr"] if self._accept_sparse else False,
            )
        except ValueError as exc:
            if reset and "too large for dtype('float32')" in str(exc) and _finite64(X):
                # finite data that float32 cannot hold: scikit-learn (float64) fails
                # in training with this message; say why here
                raise ValueError(
                    "Solver produced non-finite parameter weights. The input data may "
                    "contain large values and need to be preprocessed. (X holds finite "
                    "values beyond float32's range, about 3.4e38, and this model "
                    "computes in float32: scale X, e.g. with StandardScaler, or use "
                    "dtype='float64'.)") from exc
            raise

    def _fast_path_ok(self, X):
        return (X.ndim == 2 and X.shape[0] > 0 and X.shape[1] == self.n_features_in_
                and X.dtype.kind in "fiu" and not hasattr(self, "feature_names_in_"))

    def _validate_fit(self, X, y, sample_weight, *, reset, incremental, classes=None):
        """``(X, Y, sample_weight)`` checked for training (supervised default)."""
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, "
                             "but the target y is None.")
        X = self._check_X(X, reset=reset)
        Y = self._check_y(y, X.shape[0], incremental, reset, classes)
        if sample_weight is not None:
            # (integer token ids as X: the weights still take the compute dtype)
            dtype = X.dtype if X.dtype.kind == "f" else self._compute_dtype()
            sample_weight = _check_sample_weight(sample_weight, X, dtype=dtype)
        return X, Y, sample_weight

    def _make_network(self, X, Y, rng):
        """The built network for training data ``X`` and targets ``Y``."""
        raise NotImplementedError

    def _make_loss(self):
        raise NotImplementedError

    # -- helpers --------------------------------------------------------------
    def _compute_dtype(self):
        return resolve_dtype(self.dtype)

    def _train_config(self, n_train, resolve_batch=True):
        """The ``nn.TrainConfig`` of this estimator's parameters for ``n_train`` rows.

        ``batch_size`` is resolved here, once: ``"auto"`` is ``min(200, n)``
        and a larger value warns and is clipped (scikit-learn's rule).
        """
        params = self.get_params(deep=False)
        values = {}
        for name in _CONFIG_FIELDS:
            if name in params:
                values[name] = params[name]
            elif name in self._FIXED_TRAIN_PARAMS:
                values[name] = self._FIXED_TRAIN_PARAMS[name]
            else:
                raise TypeError(f"{type(self).__name__} neither has a parameter {name!r} "
                                "nor fixes it in _FIXED_TRAIN_PARAMS")
        if values["n_iter_no_change"] is not None and not np.isfinite(values["n_iter_no_change"]):
            values["n_iter_no_change"] = None
        values["verbose"] = bool(values["verbose"])
        bs = n_train
        if resolve_batch:
            bs = self.batch_size
            if bs == "auto":
                bs = min(200, n_train)
            elif bs > n_train:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. "
                              "It is going to be clipped")
            bs = int(np.clip(bs, 1, n_train))
        return nn.TrainConfig(batch_size=bs, **values)

    def _dense_net(self, sample_shape, n_outputs, hidden, rng, out_init_factor=6.0):
        layers = list(hidden) + [nn.Dense(n_outputs, init_factor=out_init_factor)]
        net = nn.Sequential(layers)
        net.build(sample_shape, random_state=rng, dtype=self._compute_dtype())
        return net

    # -- fitting ----------------------------------------------------------------
    def _fit(self, X, y, sample_weight=None, *, incremental=False, classes=None):
        # Training GEMMs have a mini-batch of rows: BLAS threads gain ~15% on an
        # idle machine and lose 10-40x when another process holds a core
        # (every step waits for a descheduled thread), so training keeps BLAS
        # on one thread.  Prediction, with its large chunks, keeps the default.
        with blas_single_thread():
            first_pass = "network_" not in self.__dict__ or (
                not self.warm_start and not incremental)
            if incremental and self.early_stopping:
                raise ValueError("partial_fit does not support early_stopping=True")
            X, Y, sample_weight = self._validate_fit(
                X, y, sample_weight, reset=first_pass, incremental=incremental,
                classes=classes)
            rng = check_random_state(self.random_state)
            if first_pass:
                self.network_ = self._make_network(X, Y, rng)
                self._optimizer = self._progress = None
            try:
                self._train(self.network_, X, Y, sample_weight, rng, incremental)
            finally:
                # a fitted model holds weights, not its last training batch
                self.network_.clear_forward_state()
        return self

    def _train(self, net, X, Y, sample_weight, rng, incremental):
        """Train ``net`` on checked data: one ``TrainConfig``, one ``Trainer``."""
        callbacks = list(self.callbacks or [])
        if self.solver == "lbfgs" and (callbacks or self.lr_schedule is not None):
            raise ValueError("lr_schedule and callbacks act per epoch: they need "
                             f"solver='sgd' or 'adam', got solver={self.solver!r}.")
        sgd_rule = getattr(self, "learning_rate", "constant")
        if self.lr_schedule is not None and sgd_rule != "constant":
            raise ValueError("lr_schedule replaces learning_rate's schedule: use "
                             "learning_rate='constant' with an lr_schedule, got "
                             f"learning_rate={sgd_rule!r}.")
        for cb in callbacks:
            if not hasattr(cb, "on_epoch_end"):
                raise TypeError(f"callbacks takes objects with on_train_begin, on_epoch_end "
                                f"and on_train_end (fastnut.callbacks), got {cb!r}")
        if self.solver == "lbfgs":
            if incremental:
                raise ValueError("partial_fit is only available for stochastic optimizers; "
                                 f"solver={self.solver!r} is not stochastic.")
            trainer = nn.Trainer(net, self._make_loss(),
                                 self._train_config(X.shape[0], resolve_batch=False),
                                 random_state=rng)
            self.loss_ = trainer.fit_lbfgs(X, Y, sample_weight)
            _check_finite_output(net, X)
            self.n_iter_ = trainer.n_iter
            self.t_ = 0
            for stale in ("loss_curve_", "best_loss_", "validation_scores_",
                          "best_validation_score_", "history_"):
                self.__dict__.pop(stale, None)  # as scikit-learn: lbfgs has no curve
            self._optimizer = self._progress = None
            self._random_state = rng
            return
        previous = self.__dict__.get("_progress")
        continuing = previous is not None and (incremental or self.warm_start)
        validation = None
        X_train, Y_train, sw_train = X, Y, sample_weight
        if self.early_stopping:
            X_train, Y_train, sw_train, validation = self._split_validation(
                X, Y, sample_weight, rng)
        config = self._train_config(X_train.shape[0])
        if continuing:
            # warm_start restarts the epoch count (scikit-learn's n_iter_) and
            # runs max_iter more epochs; partial_fit continues it
            progress = previous if incremental else dataclasses.replace(previous, n_iter=0)
            optimizer = (None if self._SKLEARN_WARM_START and not incremental
                         else self._optimizer)
            # (warm_start: the trainer resumes the shuffling from progress
            # unless _SKLEARN_WARM_START; partial_fit continues the generator)
            shuffle_rng = self._random_state if incremental else rng
        else:
            progress, optimizer, shuffle_rng = None, None, rng
        trainer = nn.Trainer(net, self._make_loss(), config, optimizer=optimizer,
                             progress=progress, random_state=shuffle_rng,
                             resumable_shuffles=not self._SKLEARN_WARM_START)

        def sync():
            self._optimizer, self._progress, self._random_state = (
                trainer.optimizer, trainer.progress, trainer.rng)
            self._sync_from(trainer.progress)

        epoch_end = None
        if callbacks:
            def epoch_end(record):
                # the estimator is whole at each epoch end: callbacks may
                # predict with it, or save it and resume from the file
                sync()
                stop = False
                for cb in callbacks:
                    stop = bool(cb.on_epoch_end(self, record["epoch"], dict(record))) or stop
                return stop

            for cb in callbacks:
                cb.on_train_begin(self)
        converged = trainer.fit_epochs(X_train, Y_train, sw_train, incremental=incremental,
                                       validation=validation, score=self._validation_score,
                                       epoch_end=epoch_end)
        # (partial_fit: weights only, a forward pass would cost a third of a small call)
        _check_finite_output(net, X_train, forward=not incremental)
        sync()
        for cb in callbacks:
            cb.on_train_end(self)
        # the plateau rule as the user set it (n_iter_no_change=np.inf still warns,
        # as scikit-learn's MLPs do; None means no rule)
        plateau_rule = self.__dict__.get(
            "n_iter_no_change", self._FIXED_TRAIN_PARAMS.get("n_iter_no_change"))
        if (not converged and not incremental and self.n_iter_ == config.max_iter
                and plateau_rule is not None):
            # (without a plateau rule, running all max_iter epochs is the plan)
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({config.max_iter}) reached "
                "and the optimization hasn't converged yet.", ConvergenceWarning)

    def _sync_from(self, progress):
        self.n_iter_ = progress.n_iter
        self.t_ = progress.t
        self.loss_ = progress.loss_curve[-1] if progress.loss_curve else None
        self.loss_curve_ = progress.loss_curve
        self.best_loss_ = progress.best_loss
        self.validation_scores_ = progress.validation_scores
        self.best_validation_score_ = progress.best_validation_score
        self.history_ = progress.history
        self._no_improvement_count = progress.no_improvement_count

    def _split_validation(self, X, y, sample_weight, rng):
        stratify = None
        if self._is_classifier():
            # labels a too-small-class error can name: the user's for multiclass,
            # the binary indicator (True/False, as scikit-learn's) for two classes
            if self._label_binarizer.y_type_ == "multiclass":
                stratify = self.classes_[y.argmax(axis=1)]
            elif y.shape[1] == 1:
                stratify = y.astype(bool)  # 2-D: train_test_split names rows 'True'/'False'
        arrays = [X, y] + ([sample_weight] if sample_weight is not None else [])
        parts = train_test_split(*arrays, random_state=rng,
                                 test_size=self.validation_fraction, stratify=stratify)
        X_tr, X_val, y_tr, y_val = parts[:4]
        sw_tr, sw_val = (parts[4], parts[5]) if sample_weight is not None else (None, None)
        if X_val.shape[0] < 2:
            raise ValueError("The validation set is too small. Increase 'validation_fraction' "
                             "or the size of your dataset.")
        return X_tr, y_tr, sw_tr, (X_val, y_val, sw_val)

    def _is_classifier(self):
        return isinstance(self, NetworkClassifier)

    # -- prediction -------------------------------------------------------------
    def _forward_raw(self, X, link=True, check=True):
        """Network output for checked ``X``, in chunks (memory flat in n_samples).

        ``link=False`` skips the loss's output link (softmax, logistic, exp):
        class decisions only need the logits.  ``check=True`` refuses an output
        that overflowed (a clear ``ValueError`` instead of inf or NaN).
        """
        net = self.network_
        loss = self._make_loss() if link else None
        n = X.shape[0]
        out = np.empty((n, self.n_outputs_), dtype=net.dtype)

        def chunk(start, stop):
            Xc = X[start:stop]
            if sp.issparse(Xc):
                Xc = Xc.toarray()
            Z = net.forward(Xc, training=False)
            if check:
                check_finite_prediction(self, Z, Xc)
            if link:
                loss.predict(Z, out=out[start:stop])
            else:
                out[start:stop] = Z

        map_row_chunks(chunk, n, PREDICT_CHUNK)  # the free cores take chunks
        return out

    def _predict_X(self, X):
        if "network_" not in self.__dict__:
            check_is_fitted(self, "network_")  # raises NotFittedError
        return self._check_X(X, reset=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = self._accept_sparse
        return tags


class NetworkClassifier(ClassifierMixin, BaseNetwork):
    """Classification on top of ``BaseNetwork``: softmax for multiclass,
    logistic for binary and multilabel targets; labels of any type."""

    def _validate_fit(self, X, y, sample_weight, *, reset, incremental, classes=None):
        """The supervised default, with ``class_weight`` multiplied into the weights."""
        class_weight = getattr(self, "class_weight", None)
        if incremental and isinstance(class_weight, str) and class_weight == "balanced":
            raise ValueError(
                "class_weight 'balanced' is not supported for partial_fit. In order to use "
                "'balanced' weights, use compute_class_weight('balanced', classes=classes, "
                "y=y). In place of y you can use a large enough sample of the full training "
                "set target to properly estimate the class frequency distributions. Pass "
                "the resulting weights as the class_weight parameter.")
        X, Y, sample_weight = super()._validate_fit(
            X, y, sample_weight, reset=reset, incremental=incremental, classes=classes)
        if class_weight is not None:
            w = self._class_sample_weight(class_weight, y, Y).astype(X.dtype, copy=False)
            sample_weight = w if sample_weight is None else sample_weight * w
        return X, Y, sample_weight

    def _class_sample_weight(self, class_weight, y, Y):
        """Per-row weights of ``class_weight`` (scikit-learn's semantics)."""
        if self._label_binarizer.y_type_.startswith("multilabel"):
            # one output per label: scikit-learn's multi-output rule (a list of dicts)
            return compute_sample_weight(class_weight, Y)
        labels = np.asarray(y).reshape(-1)
        if isinstance(class_weight, str):
            return compute_sample_weight(class_weight, labels)
        # a dict weighs the labels of classes_ (partial_fit batches may lack some)
        per_class = compute_class_weight(class_weight, classes=self.classes_, y=labels)
        return per_class[np.searchsorted(self.classes_, labels)]

    def _make_loss(self):
        return (nn.SoftmaxCrossEntropy() if self.out_activation_ == "softmax"
                else nn.BinaryLogLoss())

    def _init_factor(self):
        """Glorot bound factor of the output Dense (6, or 2 for logistic nets)."""
        return 6.0

    def _hidden_layers(self, sample_shape):
        raise NotImplementedError

    def _make_network(self, X, Y, rng):
        net = self._dense_net(X.shape[1:], Y.shape[1], self._hidden_layers(X.shape[1:]), rng,
                              self._init_factor())
        self.n_outputs_ = Y.shape[1]
        self.n_layers_ = 2 + sum(isinstance(l, nn.Dense) for l in net.layers[:-1])
        return net

    def _check_y(self, y, n_samples, incremental, first_pass, classes):
        y = np.asarray(y) if not sp.issparse(y) else y.toarray()
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if y.shape[0] != n_samples:
            raise ValueError(f"X and y have inconsistent numbers of samples: "
                             f"{n_samples} and {y.shape[0]}")
        if y.dtype == object:
            kinds = {type(v).__name__ for v in y.ravel()
                     if not isinstance(v, (str, bytes))} | (
                {"str"} if any(isinstance(v, (str, bytes)) for v in y.ravel()) else set())
            if "str" in kinds and len(kinds) > 1:
                raise ValueError(
                    f"y mixes string labels with labels of type "
                    f"{', '.join(sorted(kinds - {'str'}))}: labels must be all strings or "
                    "all numbers (convert them, e.g. y.astype(str)).")
        target = type_of_target(y, input_name="y")
        if target not in ("binary", "multiclass", "multilabel-indicator"):
            raise ValueError(f"Unknown label type: {target}. {type(self).__name__} takes "
                             "class labels (binary, multiclass or a multilabel indicator matrix).")
        if incremental and _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y if target.startswith("multilabel") else self.classes_)
            self.classes_ = self._label_binarizer.classes_
            if not target.startswith("multilabel"):
                unknown = np.setdiff1d(unique_labels(y), self.classes_)
                if len(unknown):
                    raise ValueError(f"`y` has classes not in `classes`: {unknown}. "
                                     f"`classes` has {self.classes_}.")
        elif not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            seen = unique_labels(y)
            if self.warm_start and not incremental:
                if set(seen) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in the "
                        f"previous call to fit. Previously got {self.classes_}, `y` has {seen}")
            elif len(np.setdiff1d(seen, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has "
                                 f"{self.classes_}. 'y' has {seen}.")
        if first_pass:
            self.out_activation_ = ("softmax" if self._label_binarizer.y_type_ == "multiclass"
                                    else "logistic")
        Y = self._label_binarizer.transform(y).astype(self._compute_dtype())
        return np.ascontiguousarray(Y)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the network to ``X`` and class labels ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Training samples, in the form the family takes (rows, images or
            sequences; see the class docstring).
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            Class labels, or a multilabel indicator matrix.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample in the loss; ``None`` weighs all samples equally.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    @available_if(_stochastic_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over ``X`` (continues training).

        ``classes`` (all labels that will ever appear) is required on the
        first call, as for scikit-learn's incremental classifiers.
        """
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def _validation_score(self, X, y, sample_weight):
        Z = self._forward_raw(X, link=False, check=False)
        if not np.isfinite(Z).all():
            return np.nan  # diverged weights score NaN (scikit-learn's rule)
        return accuracy_score(self._label_binarizer.inverse_transform(y),
                              self._decisions(Z), sample_weight=sample_weight)

    def _predict_checked(self, X):
        # decisions from the logits: argmax of softmax(Z) is argmax of Z, and
        # logistic(Z) > 0.5 is Z > 0, so the link is never computed
        return self._decisions(self._forward_raw(X, link=False))

    def _decisions(self, Z):
        if self.out_activation_ == "softmax":
            return self.classes_[Z.argmax(axis=1)]
        positive = (Z > 0).astype(np.intp)
        if self.n_outputs_ == 1 and len(self.classes_) == 2:
            return self.classes_[positive.ravel()]
        return self._label_binarizer.inverse_transform(
            positive.ravel() if self.n_outputs_ == 1 else positive)

    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Samples, in the form the model was fitted on.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_classes)
            Predicted labels (a label indicator matrix for multilabel targets).
        """
        return self._predict_checked(self._predict_X(X))

    def predict_proba(self, X):
        """Predict class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Samples, in the form the model was fitted on.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probability of each class, in the order of ``classes_``.
        """
        P = self._forward_raw(self._predict_X(X))
        if self.n_outputs_ == 1:
            P = P.ravel()
            return np.vstack([1 - P, P]).T
        return P

    def predict_log_proba(self, X):
        """Predict the logarithm of the class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Samples, in the form the model was fitted on.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            ``log(predict_proba(X))``.
        """
        return np.log(self.predict_proba(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class NetworkRegressor(RegressorMixin, BaseNetwork):
    """Regression on top of ``BaseNetwork``: identity output with squared
    error, or exp output with Poisson loss; one or several targets."""

    def _loss_name(self):
        """``"squared_error"``; ``MLPRegressor`` also offers ``"poisson"``."""
        return "squared_error"

    def _make_loss(self):
        return nn.get_loss(self._loss_name())

    _init_factor = NetworkClassifier._init_factor
    _hidden_layers = NetworkClassifier._hidden_layers
    _make_network = NetworkClassifier._make_network

    @property
    def out_activation_(self):
        check_is_fitted(self, "network_")
        return "exp" if self._loss_name() == "poisson" else "identity"

    def _check_y(self, y, n_samples, incremental, first_pass, classes):
        from sklearn.utils import check_array
        y = check_array(y, ensure_2d=False, dtype=self._compute_dtype(), input_name="y")
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if y.shape[0] != n_samples:
            raise ValueError(f"X and y have inconsistent numbers of samples: "
                             f"{n_samples} and {y.shape[0]}")
        if self._loss_name() == "poisson" and np.any(y < 0):
            raise ValueError("loss='poisson' requires non-negative y.")
        if y.ndim == 1:
            y = y.reshape(-1, 1)
        if not first_pass and y.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {y.shape[1]} targets but the model was fitted "
                             f"with {self.n_outputs_}.")
        return np.ascontiguousarray(y)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the network to ``X`` and targets ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Training samples, in the form the family takes (rows, images or
            sequences; see the class docstring).
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample in the loss; ``None`` weighs all samples equally.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    @available_if(_stochastic_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over ``X`` (continues training)."""
        return self._fit(X, y, sample_weight, incremental=True)

    def _validation_score(self, X, y, sample_weight):
        with np.errstate(over="ignore", invalid="ignore"):
            P = self._forward_raw(X, check=False)
        if not np.isfinite(P).all():
            return np.nan  # diverged weights score NaN (scikit-learn's rule)
        return r2_score(y, P, sample_weight=sample_weight)

    def predict(self, X):
        """Predict target values.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Samples, in the form the model was fitted on.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_targets)
            Predicted values.
        """
        P = self._forward_raw(self._predict_X(X))
        return P.ravel() if P.shape[1] == 1 else P
