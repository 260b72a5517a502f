"""The estimator base shared by every gradient-trained fastnut model.

``BaseNetwork`` turns an estimator's parameters into a ``fastnut.nn`` network
and runs the engine's ``Trainer``.  A family subclasses ``NetworkClassifier``
or ``NetworkRegressor`` and supplies two hooks:

``_check_X(X, reset)``
    validate and reshape ``X`` into a C-contiguous array of the compute dtype,
    shape ``(n, *sample_shape)``; ``reset=True`` at fit time (sets
    ``n_features_in_``), ``False`` afterwards.  The default accepts tabular
    ``(n_samples, n_features)`` input.
``_hidden_layers(sample_shape)``
    the layers before the output ``Dense``.

Training parameters are read with ``getattr(self, name, default)``, so a
family's ``__init__`` lists only those it exposes.
"""
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.multiclass import (_check_partial_fit_first_call, type_of_target,
                                      unique_labels)
from sklearn.utils.validation import (_check_sample_weight, check_is_fitted,
                                      column_or_1d, validate_data)
from numbers import Integral, Real

from . import nn
from ._threads import blas_single_thread, map_row_chunks
from ._validation import resolve_dtype

#: defaults of the training parameters a subclass may leave out of __init__
TRAIN_DEFAULTS = dict(
    solver="adam", alpha=1e-4, batch_size="auto", learning_rate="constant",
    learning_rate_init=1e-3, power_t=0.5, max_iter=200, shuffle=True, random_state=None,
    tol=1e-4, verbose=False, warm_start=False, momentum=0.9, nesterovs_momentum=True,
    early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999,
    epsilon=1e-8, n_iter_no_change=10, max_fun=15000, clip_norm=None, dtype=np.float32,
)

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
                         Options(Real, {np.inf})],
    "max_fun": [Interval(Integral, 1, None, closed="left")],
    "clip_norm": [Interval(Real, 0, None, closed="neither"), None],
    "dtype": [Options(type, {np.float32, np.float64}), StrOptions({"float32", "float64"})],
}

def _stochastic_solver(est):
    if est._p("solver") not in ("sgd", "adam"):
        raise AttributeError(
            f"partial_fit is only available for stochastic optimizers. "
            f"{est._p('solver')} is not stochastic.")
    return True


#: numpydoc text of the training parameters: (type, default, description)
_TRAIN_PARAM_DOCS = {
    "solver": ('{"adam", "sgd", "lbfgs"}', '"adam"', ""),
    "alpha": ("float", "1e-4",
              "L2 penalty strength on the weights (divided by the batch's\n"
              "sample-weight sum)."),
    "batch_size": ('int or "auto"', '"auto"', '``min(200, n_samples)`` when "auto".'),
    "learning_rate": ('{"constant", "invscaling", "adaptive"}', '"constant"',
                      'Schedule for ``solver="sgd"``.'),
    "learning_rate_init": ("float", "1e-3", ""),
    "power_t": ("float", "0.5", ""),
    "max_iter": ("int", "200", "Maximum number of epochs (iterations for lbfgs)."),
    "shuffle": ("bool", "True", ""),
    "random_state": ("int, RandomState instance or None", "None",
                     "Seeds the initial weights, shuffling and the validation split."),
    "tol": ("float", "1e-4", ""),
    "verbose": ("bool", "False",
                "One line per epoch: loss, validation score (with early stopping), seconds."),
    "warm_start": ("bool", "False", ""),
    "momentum": ("float", "0.9", ""),
    "nesterovs_momentum": ("bool", "True", ""),
    "early_stopping": ("bool", "False",
                       "Hold out ``validation_fraction`` of the data, stop when its score\n"
                       "stalls for ``n_iter_no_change`` epochs, and keep the best weights."),
    "validation_fraction": ("float", "0.1", ""),
    "beta_1": ("float", "0.9", "Adam's decay rate of the first moment."),
    "beta_2": ("float", "0.999", "Adam's decay rate of the second moment."),
    "epsilon": ("float", "1e-8", "Adam's numerical-stability term."),
    "n_iter_no_change": ("int", "10", ""),
    "max_fun": ("int", "15000", "Maximum loss evaluations for lbfgs."),
    "clip_norm": ("float or None", "None",
                  "Rescale each batch's gradient to at most this global L2 norm;\n"
                  "None disables it."),
    "dtype": ("{np.float32, np.float64}", "np.float32", "Compute dtype."),
}


def train_params_doc(names, **overrides):
    """numpydoc entries for the training parameters ``names``, in that order.

    One text for every family; ``overrides`` maps a name to a dict with any
    of ``type``, ``default`` and ``text`` where a family differs.
    """
    out = []
    for name in names:
        typ, default, text = _TRAIN_PARAM_DOCS[name]
        o = overrides.get(name, {})
        typ, default, text = o.get("type", typ), o.get("default", default), o.get("text", text)
        out.append(f"    {name} : {typ}, default={default}\n")
        out.extend(f"        {line}\n" for line in text.splitlines() if line)
    return "".join(out)


#: rows per forward pass at prediction time: memory stays flat in n_samples
PREDICT_CHUNK = 2048


class BaseNetwork(BaseEstimator):
    """Shared fit / partial_fit / predict machinery (see the module docstring)."""

    _accept_sparse = False

    # -- hooks ------------------------------------------------------------------
    def _check_X(self, X, reset):
        if not reset and type(X) is np.ndarray and self._fast_path_ok(X):
            # predict-time fast path for plain arrays: the checks validate_data
            # would make, without its fixed ~40 µs (single-sample latency)
            X = np.ascontiguousarray(X, dtype=self.network_.dtype)
            if np.isfinite(X).all():
                return X
        return validate_data(
            self, X, reset=reset, dtype=self._compute_dtype(), order="C",
            accept_sparse=["csr"] if self._accept_sparse else False,
        )

    def _fast_path_ok(self, X):
        return (X.ndim == 2 and X.shape[0] > 0 and X.shape[1] == self.n_features_in_
                and X.dtype.kind in "fiu" and not hasattr(self, "feature_names_in_"))

    def _hidden_layers(self, sample_shape):
        raise NotImplementedError

    def _init_factor(self):
        """Glorot bound factor of the output Dense (6, or 2 for logistic nets)."""
        return 6.0

    # -- helpers --------------------------------------------------------------
    def _p(self, name):
        return getattr(self, name, TRAIN_DEFAULTS[name])

    def _compute_dtype(self):
        return resolve_dtype(self._p("dtype"))

    def _make_optimizer(self):
        if self._p("solver") == "sgd":
            return nn.SGD(self._p("learning_rate_init"), self._p("learning_rate"),
                          self._p("momentum"), self._p("nesterovs_momentum"), self._p("power_t"))
        return nn.Adam(self._p("learning_rate_init"), self._p("beta_1"), self._p("beta_2"),
                       self._p("epsilon"))

    def _build(self, sample_shape, n_outputs, rng):
        layers = list(self._hidden_layers(sample_shape))
        layers.append(nn.Dense(n_outputs, init_factor=self._init_factor()))
        net = nn.Sequential(layers)
        net.build(sample_shape, random_state=rng, dtype=self._compute_dtype())
        return net

    # -- fitting ----------------------------------------------------------------
    def _fit(self, X, y, sample_weight=None, incremental=False, classes=None):
        # Training GEMMs have a mini-batch of rows: BLAS threads gain ~15% on an
        # idle machine and lose 10-40x when another process holds a core
        # (every step waits for a descheduled thread), so training keeps BLAS
        # on one thread.  Prediction, with its large chunks, keeps the default.
        with blas_single_thread():
            return self._fit_one_blas_thread(X, y, sample_weight, incremental, classes)

    def _fit_one_blas_thread(self, X, y, sample_weight, incremental, classes):
        first_pass = not hasattr(self, "network_") or (
            not self._p("warm_start") and not incremental)
        if incremental and self._p("early_stopping"):
            raise ValueError("partial_fit does not support early_stopping=True")
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, "
                             "but the target y is None.")
        X = self._check_X(X, reset=first_pass)
        y = self._check_y(y, X.shape[0], incremental, first_pass, classes)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype)
        rng = check_random_state(self._p("random_state"))
        self._random_state = rng
        if first_pass:
            self.network_ = self._build(X.shape[1:], y.shape[1], rng)
            self.n_outputs_ = y.shape[1]
            self.n_layers_ = 2 + sum(isinstance(l, nn.Dense) for l in self.network_.layers[:-1])
            self._trainer = None
        solver = self._p("solver")
        if solver == "lbfgs":
            if incremental:
                raise ValueError("partial_fit is only available for stochastic optimizers; "
                                 f"solver={solver!r} is not stochastic.")
            trainer = self._new_trainer(rng)
            self.loss_ = trainer.fit_lbfgs(X, y, sample_weight, max_iter=self._p("max_iter"),
                                           max_fun=self._p("max_fun"), tol=self._p("tol"))
            self.n_iter_ = trainer.n_iter
            self.t_ = 0
            for stale in ("loss_curve_", "best_loss_", "validation_scores_",
                          "best_validation_score_"):
                self.__dict__.pop(stale, None)  # as scikit-learn: lbfgs has no curve
            self._trainer = trainer
            return self
        trainer = self._trainer
        if trainer is None or not incremental and not self._p("warm_start"):
            trainer = self._new_trainer(rng)
            self._trainer = trainer
        else:
            trainer.rng = rng if not incremental else trainer.rng
        validation = None
        X_train, y_train, sw_train = X, y, sample_weight
        if self._p("early_stopping"):
            X_train, y_train, sw_train, validation = self._split_validation(X, y, sample_weight, rng)
        n = X_train.shape[0]
        bs = self._p("batch_size")
        if bs == "auto":
            bs = min(200, n)
        elif bs > n:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. "
                          "It is going to be clipped")
        trainer.batch_size = int(np.clip(bs, 1, n))
        if not incremental:
            trainer.n_iter = 0
        converged = trainer.fit_epochs(
            X_train, y_train, sw_train, max_iter=self._p("max_iter"), incremental=incremental,
            validation=validation, score=self._validation_score)
        self._sync_from(trainer)
        if not converged and not incremental and self.n_iter_ == self._p("max_iter"):
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self._p('max_iter')}) reached "
                "and the optimization hasn't converged yet.", ConvergenceWarning)
        return self

    def _new_trainer(self, rng):
        solver = self._p("solver")
        return nn.Trainer(
            self.network_, nn.get_loss(self._loss_name()),
            None if solver == "lbfgs" else self._make_optimizer(),
            alpha=self._p("alpha"), shuffle=self._p("shuffle"), tol=self._p("tol"),
            n_iter_no_change=self._p("n_iter_no_change") if np.isfinite(self._p("n_iter_no_change")) else 2 ** 62,
            early_stopping=self._p("early_stopping"), verbose=self._p("verbose"),
            clip_norm=self._p("clip_norm"), random_state=rng)

    def _sync_from(self, trainer):
        self.n_iter_ = trainer.n_iter
        self.t_ = trainer.t
        self.loss_ = trainer.last_loss
        self.loss_curve_ = trainer.loss_curve
        self.best_loss_ = trainer.best_loss
        self.validation_scores_ = trainer.validation_scores
        self.best_validation_score_ = trainer.best_validation_score

    def _split_validation(self, X, y, sample_weight, rng):
        stratify = y if (self._is_classifier() and y.shape[1] == 1) else None
        if stratify is not None and self._label_binarizer.y_type_ == "multiclass":
            stratify = y.argmax(axis=1)
        arrays = [X, y] + ([sample_weight] if sample_weight is not None else [])
        parts = train_test_split(*arrays, random_state=rng,
                                 test_size=self._p("validation_fraction"), stratify=stratify)
        X_tr, X_val, y_tr, y_val = parts[:4]
        sw_tr, sw_val = (parts[4], parts[5]) if sample_weight is not None else (None, None)
        if X_val.shape[0] < 2:
            raise ValueError("The validation set is too small. Increase 'validation_fraction' "
                             "or the size of your dataset.")
        return X_tr, y_tr, sw_tr, (X_val, y_val, sw_val)

    def _is_classifier(self):
        return isinstance(self, NetworkClassifier)

    # -- prediction -------------------------------------------------------------
    def _forward_raw(self, X, link=True):
        """Network output for checked ``X``, in chunks (memory flat in n_samples).

        ``link=False`` skips the loss's output link (softmax, logistic, exp):
        class decisions only need the logits.
        """
        net = self.network_
        loss = self._predict_loss() if link else None
        n = X.shape[0]
        out = np.empty((n, self.n_outputs_), dtype=net.dtype)

        def chunk(start, stop):
            Xc = X[start:stop]
            if sp.issparse(Xc):
                Xc = Xc.toarray()
            Z = net.forward(Xc, training=False)
            if link:
                loss.predict(Z, out=out[start:stop])
            else:
                out[start:stop] = Z

        map_row_chunks(chunk, n, PREDICT_CHUNK)  # the free cores take chunks
        return out

    def _predict_loss(self):
        return nn.get_loss(self._loss_name())

    def _predict_X(self, X):
        if "network_" not in self.__dict__:
            check_is_fitted(self, "network_")  # raises NotFittedError
        return self._check_X(X, reset=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = self._accept_sparse
        return tags

    def _common_check_xfails(self):
        """Common checks that cannot hold as written, with the reason."""
        if self._compute_dtype() == np.float32:
            why = ("float32 compute: weighted and repeated-row fits agree to ~1e-7 "
                   "relative, the check asks 1e-7 absolute; the equivalence is tested in "
                   "float64 in the family's own tests")
            return {"check_sample_weight_equivalence_on_dense_data": why,
                    "check_sample_weight_equivalence_on_sparse_data": why}
        return {}


class NetworkClassifier(ClassifierMixin, BaseNetwork):
    """Classification on top of ``BaseNetwork``: softmax for multiclass,
    logistic for binary and multilabel targets; labels of any type."""

    def _loss_name(self):
        return "log_loss" if self.out_activation_ == "softmax" else "binary_log_loss"

    def _init_factor(self):
        return 2.0 if getattr(self, "activation", None) == "logistic" else 6.0

    def _check_y(self, y, n_samples, incremental, first_pass, classes):
        y = np.asarray(y) if not sp.issparse(y) else y.toarray()
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if y.shape[0] != n_samples:
            raise ValueError(f"X and y have inconsistent numbers of samples: "
                             f"{n_samples} and {y.shape[0]}")
        target = type_of_target(y, input_name="y")
        if target not in ("binary", "multiclass", "multilabel-indicator"):
            raise ValueError(f"Unknown label type: {target}. {type(self).__name__} takes "
                             "class labels (binary, multiclass or a multilabel indicator matrix).")
        if incremental and _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y if target.startswith("multilabel") else self.classes_)
            self.classes_ = self._label_binarizer.classes_
        elif not hasattr(self, "classes_") or (not self._p("warm_start") and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            seen = unique_labels(y)
            if self._p("warm_start") and not incremental:
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
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            Class labels, or a multilabel indicator matrix.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
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
        return accuracy_score(self._label_binarizer.inverse_transform(y),
                              self._predict_checked(X), sample_weight=sample_weight)

    def _predict_checked(self, X):
        # decisions from the logits: argmax of softmax(Z) is argmax of Z, and
        # logistic(Z) > 0.5 is Z > 0, so the link is never computed
        Z = self._forward_raw(X, link=False)
        if self.out_activation_ == "softmax":
            return self.classes_[Z.argmax(axis=1)]
        positive = (Z > 0).astype(np.intp)
        if self.n_outputs_ == 1 and len(self.classes_) == 2:
            return self.classes_[positive.ravel()]
        return self._label_binarizer.inverse_transform(
            positive.ravel() if self.n_outputs_ == 1 else positive)

    def predict(self, X):
        """Predicted class labels, shape (n_samples,) or (n_samples, n_classes)."""
        return self._predict_checked(self._predict_X(X))

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes)."""
        P = self._forward_raw(self._predict_X(X))
        if self.n_outputs_ == 1:
            P = P.ravel()
            return np.vstack([1 - P, P]).T
        return P

    def predict_log_proba(self, X):
        """Logarithm of ``predict_proba``."""
        return np.log(self.predict_proba(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class NetworkRegressor(RegressorMixin, BaseNetwork):
    """Regression on top of ``BaseNetwork``: identity output with squared
    error, or exp output with Poisson loss; one or several targets."""

    def _loss_name(self):
        return "poisson" if getattr(self, "loss", "squared_error") == "poisson" else "squared_error"

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
        """Fit the network to ``X`` and targets ``y`` (n_samples,) or (n_samples, n_targets)."""
        return self._fit(X, y, sample_weight, incremental=False)

    @available_if(_stochastic_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over ``X`` (continues training)."""
        return self._fit(X, y, sample_weight, incremental=True)

    def _validation_score(self, X, y, sample_weight):
        return r2_score(y, self._forward_raw(X), sample_weight=sample_weight)

    def predict(self, X):
        """Predicted values, shape (n_samples,) or (n_samples, n_targets)."""
        P = self._forward_raw(self._predict_X(X))
        return P.ravel() if P.shape[1] == 1 else P
