"""Token-sequence input and per-step outputs, shared by the sequence estimators.

A sequence estimator family (``RNNClassifier``/``RNNRegressor``; any family
whose body maps ``(n, T, F)`` sequences to features) gets two options from
:class:`SequenceEstimatorMixin` (:class:`SequenceClassifierMixin` for
classifiers, with ``predict_proba``), placed first among its bases::

    class RNNClassifier(SequenceClassifierMixin, _RNNMixin, NetworkClassifier): ...
    class RNNRegressor(SequenceEstimatorMixin, _RNNMixin, NetworkRegressor): ...

with the constructor parameters of :data:`SEQUENCE_CONSTRAINTS` (merge it
into ``_parameter_constraints``; ``__init__`` stores ``vocab_size=None``,
``embedding_dim=32``, ``output="last"``):

``vocab_size`` (None, an int ``V >= 2``, or ``"auto"``) and ``embedding_dim``
    ``X`` is integer token ids of shape ``(n, T)``; the network starts with
    ``nn.Embedding(V, embedding_dim, padding_idx=0)``.  Id 0 is padding:
    trailing zeros make a sequence shorter, exactly as ``nn.Embedding``
    treats them (a 0 inside a sequence is an ordinary step whose vector is
    the zero padding row).  ``"auto"`` takes ``V`` = the largest id of the
    first training ``X`` + 1, which is a ``SequenceTokenizer``'s vocabulary
    size (every id it assigns occurs in its own training output).
``output`` ("last" or "sequence")
    ``"sequence"``: one output per step from a ``TimeDistributedDense`` head
    (targets ``y`` of shape ``(n, T)``, or ``(n, T, k)`` for a regressor),
    trained with ``nn.MaskedStepLoss`` so that missing targets and padded
    steps are left out of the loss and of ``score``.

The family (a ``NetworkClassifier``/``NetworkRegressor`` subclass, whose
``_init_factor``, ``_compute_dtype`` and training loop the mixin uses)
supplies what it already has: ``_check_X`` for numeric
sequences, and ``_hidden_layers(sample_shape)``, the body from
``(T, F)`` sequences (``sample_shape``; ``(T, embedding_dim)`` after an
embedding) to features; with ``self.output == "sequence"`` the body must keep
the time axis, i.e. return ``(n, T, H)`` with all-NaN rows at padded steps
(recurrent layers with ``return_sequences=True``, ``TimeDistributedDense``,
and the padding-aware ``Conv1D``/``BatchNorm1D`` all do).  The mixin builds
``[Embedding] + body + head``, validates the targets, and provides
``predict``, ``predict_proba``, ``score`` and the early-stopping score for
per-step outputs; with ``vocab_size=None`` and ``output="last"`` everything
goes to the family's own code unchanged.

Rules, documented once here and in the estimators' docstrings:

* Valid steps: for token ids, the positions up to a sequence's last non-zero
  id; for numeric sequences, the steps before the trailing all-NaN ones.
* Classifier targets per step: labels of shape ``(n, T)``; a missing label
  is NaN (float ``y``) or None (object ``y``), and labels at padded steps of
  ``X`` are ignored whatever they hold.  ``classes_`` are the labels of the
  counted steps.  ``predict`` returns ``(n, T)``: a float array with NaN at
  padded steps when the classes are numbers (or booleans), an object array
  with None there otherwise; either form is a valid ``y`` again.
  ``predict_proba`` returns ``(n, T, n_classes)``, NaN at padded steps.
* Regressor targets: ``(n, T)`` or ``(n, T, k)``, NaN where missing (each
  value on its own); ``predict`` has the same shape (``(n, T)`` for one
  target), NaN at padded steps.  ``score`` is R² over the present values
  (per target, averaged uniformly), classifiers' ``score`` the accuracy
  over the counted steps; ``sample_weight`` weighs each sequence's steps.

Functions for a family that needs the parts without the mixin:
:func:`check_tokens`, :func:`token_lengths`, :func:`valid_steps`,
:func:`embedding_front`, :func:`step_head`.
"""
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.utils import check_array
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight

from . import nn
from ._network import PREDICT_CHUNK, check_finite_prediction
from ._threads import map_row_chunks
from ._validation import check_sequences, predict_dtypes
from .nn._sequence import sequence_lengths

#: the padding id of token input (trailing runs of it shorten a sequence)
PADDING_ID = 0

#: constructor parameters of the options (merge into ``_parameter_constraints``)
SEQUENCE_CONSTRAINTS = {
    "vocab_size": [Interval(Integral, 2, None, closed="left"), StrOptions({"auto"}), None],
    "embedding_dim": [Interval(Integral, 1, None, closed="left")],
    "output": [StrOptions({"last", "sequence"})],
}


# -- token ids ----------------------------------------------------------------------

def _where(mask):
    i, t = (int(v) for v in np.argwhere(mask)[0])
    return f"X[{i}, {t}]"


def check_tokens(X, vocab_size=None, *, auto=False):
    """Validate token ids and return them as a C-contiguous int64 ``(n, T)`` array.

    Parameters
    ----------
    X : array-like of shape (n_samples, T)
        Integer ids (any integer dtype, or floats holding integers).  Id 0
        is padding; trailing zeros shorten a sequence.
    vocab_size : int or None
        Ids must be below it; None accepts any non-negative id (the caller
        then takes ``max + 1``).
    auto : bool, default=False
        Only for the message: ``vocab_size`` came from ``"auto"``.

    Raises ``TypeError`` for sparse, string, object or boolean input and
    ``ValueError`` for the wrong number of axes, empty input, NaN,
    infinity, fractional values, negative ids, ids ``>= vocab_size`` and
    sequences that are all padding; the message names the first offending
    entry.
    """
    if sp.issparse(X):
        raise TypeError("token input (vocab_size set) takes a dense array of token ids; got "
                        f"a sparse {type(X).__name__} (convert it with .toarray())")
    X = np.asarray(X)
    if X.dtype.kind in "OUS":
        raise TypeError(f"token input (vocab_size set) takes integer token ids; got X of "
                        f"dtype {X.dtype}. Turn text into token ids with "
                        "fastnut.SequenceTokenizer (e.g. make_pipeline(SequenceTokenizer(), "
                        "RNNClassifier(vocab_size='auto'))).")
    if X.dtype.kind not in "iuf":
        raise TypeError(f"token input (vocab_size set) takes integer token ids; got X of "
                        f"dtype {X.dtype}")
    if X.ndim != 2:
        raise ValueError(f"token input (vocab_size set) takes token ids of shape "
                         f"(n_samples, T); got an array of shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"token input needs at least one sequence and one step; got shape "
                         f"{X.shape}")
    if X.dtype.kind == "f":
        nan = np.isnan(X)
        if nan.any():
            raise ValueError(f"token ids contain NaN ({_where(nan)}): token sequences are "
                             f"padded with the padding id {PADDING_ID}, not NaN")
        if not np.isfinite(X).all():
            raise ValueError(f"token ids contain infinity ({_where(~np.isfinite(X))})")
        frac = X != np.floor(X)
        if frac.any():
            raise ValueError(f"token ids must be integers; {_where(frac)} = "
                             f"{float(X[frac][0])!r} has a fractional part")
    neg = X < 0
    if neg.any():
        raise ValueError(f"token ids must be >= 0 ({PADDING_ID} is padding); "
                         f"{_where(neg)} = {X[neg][0]}")
    if vocab_size is not None:
        big = X >= vocab_size
        if big.any():
            how = (" (vocab_size='auto': the largest id of the training data + 1)"
                   if auto else "")
            raise ValueError(
                f"token id {X[big][0]} at {_where(big)} is out of range: the model's "
                f"vocabulary has ids 0..{vocab_size - 1}{how}; {PADDING_ID} is padding. "
                "Map unknown tokens to an out-of-vocabulary id (SequenceTokenizer does).")
    elif X.dtype.kind in "f" and X.max() >= 2 ** 62:
        raise ValueError(f"token id {X.max()} is too large")
    ids = np.ascontiguousarray(X, dtype=np.int64)
    empty = ~(ids != PADDING_ID).any(axis=1)
    if empty.any():
        raise ValueError(f"sequence {int(np.flatnonzero(empty)[0])} is all padding (id "
                         f"{PADDING_ID}): every sequence needs at least one token")
    return ids


def token_lengths(ids):
    """Valid length of each token sequence: up to its last non-padding id (int32, (n,))."""
    nonpad = ids[:, ::-1] != PADDING_ID
    return (ids.shape[1] - np.argmax(nonpad, axis=1)).astype(np.int32)


def valid_steps(X):
    """Boolean ``(n, T)`` mask of the valid steps of checked input ``X``.

    Integer token ids ``(n, T)``: steps up to the last non-padding id.
    NaN-padded sequences ``(n, T, F)``: steps before the trailing all-NaN ones.
    """
    if X.dtype.kind in "iu":
        lengths = token_lengths(X)
        T = X.shape[1]
    else:
        lengths, _ = sequence_lengths(X)
        T = X.shape[1]
    return np.arange(T)[None, :] < lengths[:, None]


def embedding_front(vocab_size, embedding_dim):
    """The layers that turn token ids into sequences: ``[nn.Embedding(..., padding_idx=0)]``."""
    return [nn.Embedding(int(vocab_size), int(embedding_dim), padding_idx=PADDING_ID)]


def step_head(n_outputs, init_factor=6.0):
    """The per-step output layer: ``nn.TimeDistributedDense(n_outputs)``.

    Its output at padded steps is 0, not NaN: the loss (``MaskedStepLoss``)
    ignores those steps, the finiteness checks of training see finite
    numbers, and prediction marks them from the input's padding.
    """
    return nn.TimeDistributedDense(n_outputs, init_factor=init_factor, padding_value=0.0)


def _missing(y):
    """Boolean mask of missing per-step labels: NaN (float) or None/NaN (object)."""
    if y.dtype.kind == "f":
        return np.isnan(y)
    if y.dtype.kind == "O":
        return np.frompyfunc(
            lambda v: v is None or (isinstance(v, float) and v != v), 1, 1)(y).astype(bool)
    return np.zeros(y.shape, bool)


# -- the estimator side ---------------------------------------------------------------

class NumericSequenceInput:
    """The numeric input rules of every sequence family (``check_sequences``):
    ``(n, T, F)``, ``(n, T)`` or flat rows with ``input_shape``, NaN-padded."""

    _allow_nan_input = True  # NaN-padded sequences

    def _check_X(self, X, reset, predict=False):
        if reset:
            shape, F, dtype = self.input_shape, None, self._compute_dtype()
        else:
            shape, F, dtype = None, self.sequence_shape_[1], self.network_.dtype
        if shape is not None:
            shape = tuple(shape)
        X = check_sequences(self, X, input_shape=shape, n_step_features=F, reset=reset,
                            dtype=predict_dtypes(dtype) if predict else dtype,
                            predict=predict)
        if reset:
            self.sequence_shape_ = tuple(int(s) for s in X.shape[1:])
        return X


class SequenceEstimatorMixin:
    """Token input (``vocab_size``) and per-step outputs (``output="sequence"``).

    See the module docstring for the contract with the family it is mixed into.
    """

    # -- which mode ------------------------------------------------------------
    def _token_input(self, fitted):
        if fitted:
            return "vocab_size_" in self.__dict__
        return self.vocab_size is not None

    def _step_output(self, fitted):
        if fitted:
            return isinstance(self.network_.layers[-1], nn.TimeDistributedDense)
        return self.output == "sequence"

    # -- input ------------------------------------------------------------------
    def _check_X(self, X, reset, predict=False):
        if not self._token_input(fitted=not reset):
            if reset:
                self.__dict__.pop("vocab_size_", None)
            return super()._check_X(X, reset, predict=predict)
        if reset:
            if getattr(self, "input_shape", None) is not None:
                raise ValueError("input_shape describes numeric sequences; with vocab_size "
                                 "set, X is token ids of shape (n, T): leave input_shape=None")
            auto = self.vocab_size == "auto"
            ids = check_tokens(X, None if auto else self.vocab_size)
            self.vocab_size_ = int(ids.max()) + 1 if auto else int(self.vocab_size)
            if self.vocab_size_ < 2:
                raise ValueError("vocab_size='auto' found no token id above the padding id 0")
            self.n_features_in_ = ids.shape[1]
            self.__dict__.pop("feature_names_in_", None)
            self.sequence_shape_ = (int(ids.shape[1]),)
            return ids
        return check_tokens(X, self.vocab_size_, auto=self.vocab_size == "auto")

    def _model_rows(self, Xc):
        """A row chunk of checked prediction input: token ids go to the embedding as
        they are (``check_tokens`` checked them); numbers as the base converts them."""
        if self._token_input(fitted=True):
            return np.ascontiguousarray(Xc)
        return super()._model_rows(Xc)

    # -- network ----------------------------------------------------------------
    def _make_network(self, X, Y, rng):
        tokens, steps = self._token_input(False), self._step_output(False)
        if not tokens and not steps:
            return super()._make_network(X, Y, rng)
        front, shape = [], tuple(X.shape[1:])
        if tokens:
            front = embedding_front(self.vocab_size_, self.embedding_dim)
            shape = (X.shape[1], int(self.embedding_dim))
        n_out = Y.shape[-1]
        head = (step_head(n_out, self._init_factor()) if steps
                else nn.Dense(n_out, init_factor=self._init_factor()))
        net = nn.Sequential(front + list(self._hidden_layers(shape)) + [head])
        net.build(X.shape[1:], random_state=rng, dtype=self._compute_dtype())
        self.n_outputs_ = n_out
        self.n_layers_ = 2 + sum(isinstance(layer, nn.Dense) for layer in net.layers[:-1])
        return net

    def _make_loss(self):
        # (during a fit network_ is already the network being trained)
        if self._step_output(fitted="network_" in self.__dict__):
            if self._is_classifier():
                base = "log_loss" if self.out_activation_ == "softmax" else "binary_log_loss"
            else:
                base = "squared_error"
            return nn.MaskedStepLoss(base)
        return super()._make_loss()

    # -- targets -----------------------------------------------------------------
    def _validate_fit(self, X, y, sample_weight, *, reset, incremental, classes=None):
        if not self._step_output(fitted=False):
            return super()._validate_fit(X, y, sample_weight, reset=reset,
                                         incremental=incremental, classes=classes)
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, "
                             "but the target y is None.")
        if getattr(self, "class_weight", None) is not None:
            raise ValueError("class_weight is not supported with output='sequence' (the "
                             "weights are per sequence, the labels per step); pass "
                             "sample_weight per sequence instead, or class_weight=None.")
        X = self._check_X(X, reset=reset)
        valid = valid_steps(X)
        if self._is_classifier():
            Y = self._step_labels_to_targets(y, valid, incremental, reset, classes)
        else:
            Y = self._step_values_to_targets(y, valid, reset)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, np.empty((X.shape[0], 0)),
                                                 dtype=self._compute_dtype())
        return X, Y, sample_weight

    def _read_step_labels(self, y, valid):
        """(labels array, mask of counted steps) of per-step class labels ``y``."""
        y = y.toarray() if sp.issparse(y) else np.asarray(y)
        if y.shape != valid.shape:
            raise ValueError(
                f"output='sequence' takes y of shape (n_samples, T) = {valid.shape}, one "
                f"label per step of X (NaN or None where a label is missing); got y of "
                f"shape {y.shape}")
        counted = valid & ~_missing(y)
        return y, counted

    def _step_labels_to_targets(self, y, valid, incremental, first_pass, classes):
        y, counted = self._read_step_labels(y, valid)
        labels = y[counted]
        if labels.size == 0:
            raise ValueError("y has no label at a valid step of X: every label is missing "
                             "(NaN/None) or on a padded step")
        if labels.dtype.kind == "f" and not np.isfinite(labels).all():
            raise ValueError("y contains infinity; missing per-step labels are NaN or None")
        # the labels of the counted steps go through the classifier's own checks
        # (label types, classes_, partial_fit's classes, warm_start's classes)
        Yc = super()._check_y(labels, labels.shape[0], incremental, first_pass, classes)
        if self._label_binarizer.y_type_ not in ("binary", "multiclass"):
            raise ValueError(f"output='sequence' takes one class label per step; got "
                             f"{self._label_binarizer.y_type_} labels")
        if len(self.classes_) < 2:
            raise ValueError(f"output='sequence' needs at least two classes among the "
                             f"labels; got only {self.classes_[0]!r}")
        Y = np.full(valid.shape + (Yc.shape[1],), np.nan, self._compute_dtype())
        Y[counted] = Yc
        return Y

    def _read_step_values(self, y, valid):
        y = check_array(y, ensure_2d=False, allow_nd=True, dtype=self._compute_dtype(),
                        ensure_all_finite="allow-nan", input_name="y")
        if y.shape[:2] != valid.shape or y.ndim not in (2, 3):
            raise ValueError(
                f"output='sequence' takes y of shape (n_samples, T) = {valid.shape} or "
                f"(n_samples, T, n_targets), one value per step of X (NaN where missing); "
                f"got y of shape {y.shape}")
        y = np.array(y.reshape(y.shape[0], y.shape[1], -1), copy=True)
        y[~valid] = np.nan  # targets at padded steps of X do not count
        return y

    def _step_values_to_targets(self, y, valid, first_pass):
        Y = self._read_step_values(y, valid)
        if not (~np.isnan(Y)).any():
            raise ValueError("y has no target value at a valid step of X: every value is "
                             "NaN or on a padded step")
        if not first_pass and Y.shape[2] != self.n_outputs_:
            raise ValueError(f"y has {Y.shape[2]} targets per step but the model was fitted "
                             f"with {self.n_outputs_}.")
        return np.ascontiguousarray(Y)

    def _split_validation(self, X, y, sample_weight, rng):
        # per-step targets: the rows are not stratified by class
        if not self._step_output(fitted=False):
            return super()._split_validation(X, y, sample_weight, rng)
        arrays = [X, y] + ([sample_weight] if sample_weight is not None else [])
        parts = train_test_split(*arrays, random_state=rng,
                                 test_size=self.validation_fraction)
        X_tr, X_val, y_tr, y_val = parts[:4]
        sw_tr, sw_val = (parts[4], parts[5]) if sample_weight is not None else (None, None)
        if X_val.shape[0] < 2:
            raise ValueError("The validation set is too small. Increase 'validation_fraction' "
                             "or the size of your dataset.")
        return X_tr, y_tr, sw_tr, (X_val, y_val, sw_val)

    # -- per-step prediction ------------------------------------------------------
    def _forward_steps(self, X, link=True, check=True):
        """Network output ``(n, T, n_outputs_)`` for checked ``X``, in row chunks."""
        net = self.network_
        loss = self._make_loss() if link else None
        n, T = X.shape[:2]
        out = np.empty((n, T, self.n_outputs_), dtype=net.dtype)

        def chunk(start, stop):
            Xc = self._model_rows(X[start:stop])
            Z = net.forward(Xc, training=False)
            if check:
                check_finite_prediction(self, Z, Xc)
            if link:
                loss.predict(Z, out=out[start:stop])
            else:
                out[start:stop] = Z

        map_row_chunks(chunk, n, PREDICT_CHUNK)
        return out

    def _step_class_index(self, Z):
        if self.out_activation_ == "softmax":
            return Z.argmax(axis=2)
        return (Z[:, :, 0] > 0).astype(np.intp)

    def _step_labels(self, index, valid):
        numeric = self.classes_.dtype.kind in "biuf"
        out = np.full(valid.shape, np.nan if numeric else None,
                      dtype=np.float64 if numeric else object)
        out[valid] = self.classes_[index[valid]]
        return out

    def _step_weights(self, sample_weight, shape):
        if sample_weight is None:
            return None
        sw = _check_sample_weight(sample_weight, np.empty((shape[0], 0)))
        return np.broadcast_to(sw.reshape((-1,) + (1,) * (len(shape) - 1)), shape)

    def _validation_score(self, X, y, sample_weight):
        if not self._step_output(fitted=True):
            return super()._validation_score(X, y, sample_weight)
        Z = self._forward_steps(X, link=not self._is_classifier(), check=False)
        if not np.isfinite(Z).all():
            return np.nan  # diverged weights score NaN (scikit-learn's rule)
        if self._is_classifier():
            counted = ~np.isnan(y[:, :, 0])
            truth = y.argmax(axis=2) if y.shape[2] > 1 else (y[:, :, 0] > 0.5)
            w = self._step_weights(sample_weight, counted.shape)
            return accuracy_score(truth[counted], self._step_class_index(Z)[counted],
                                  sample_weight=None if w is None else w[counted])
        return self._step_r2(y, Z, sample_weight)

    def _step_r2(self, Y, P, sample_weight):
        """R² over the present values of ``Y`` (n, T, k), per target, averaged."""
        w = self._step_weights(sample_weight, Y.shape)
        scores = []
        for j in range(Y.shape[2]):
            present = ~np.isnan(Y[:, :, j])
            scores.append(r2_score(Y[:, :, j][present], P[:, :, j][present],
                                   sample_weight=None if w is None else w[:, :, j][present]))
        return float(np.mean(scores))

    def predict(self, X):
        """Predict with the fitted network.

        Parameters
        ----------
        X : array-like of shape (n_samples, T, F) or (n_samples, T*F)
            Sequences, NaN-padded at the end (token ids of shape
            ``(n_samples, T)`` with ``vocab_size``).

        Returns
        -------
        y : ndarray
            One prediction per sequence, of shape ``(n_samples,)`` (or
            ``(n_samples, n_outputs)``); with ``output="sequence"`` one per
            step, of shape ``(n_samples, T)``, marked at padded steps as the
            class Notes say.
        """
        if "network_" not in self.__dict__ or not self._step_output(fitted=True):
            return super().predict(X)
        X = self._predict_X(X)
        valid = valid_steps(X)
        if self._is_classifier():
            Z = self._forward_steps(X, link=False)
            return self._step_labels(self._step_class_index(Z), valid)
        P = self._forward_steps(X)
        P[~valid] = np.nan
        return P[:, :, 0] if P.shape[2] == 1 else P

    def score(self, X, y, sample_weight=None):
        """Accuracy (classifiers) or R² (regressors) of ``predict(X)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, T, F) or (n_samples, T*F)
            Sequences, NaN-padded at the end.
        y : array-like
            True targets; with ``output="sequence"`` one per step, NaN (or
            None) where missing.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sequence (with ``output="sequence"``, of each of
            its counted steps).

        Returns
        -------
        score : float
            With ``output="sequence"``, over the valid steps that have a
            target.
        """
        if "network_" not in self.__dict__ or not self._step_output(fitted=True):
            return super().score(X, y, sample_weight=sample_weight)
        X = self._predict_X(X)
        valid = valid_steps(X)
        if self._is_classifier():
            y, counted = self._read_step_labels(y, valid)
            pred = self._step_labels(self._step_class_index(self._forward_steps(X, link=False)),
                                     valid)
            w = self._step_weights(sample_weight, counted.shape)
            truth, guess = y[counted], pred[counted]
            if self.classes_.dtype.kind in "biuf":
                truth = truth.astype(np.float64)
            return float(accuracy_score(truth, guess.astype(truth.dtype),
                                        sample_weight=None if w is None else w[counted]))
        Y = self._read_step_values(y, valid)
        return self._step_r2(Y, self._forward_steps(X), sample_weight)


class SequenceClassifierMixin(SequenceEstimatorMixin):
    """:class:`SequenceEstimatorMixin` with per-step ``predict_proba``."""

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, T, F) or (n_samples, T*F)
            Sequences, NaN-padded at the end.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            With ``output="sequence"``, of shape ``(n_samples, T, n_classes)``,
            NaN at padded steps.
        """
        if "network_" not in self.__dict__ or not self._step_output(fitted=True):
            return super().predict_proba(X)
        X = self._predict_X(X)
        valid = valid_steps(X)
        P = self._forward_steps(X)
        if self.n_outputs_ == 1:
            P = np.concatenate([1 - P, P], axis=2)
        P[~valid] = np.nan
        return P

    def predict_log_proba(self, X):
        """Logarithm of ``predict_proba``.

        Parameters
        ----------
        X : array-like of shape (n_samples, T, F) or (n_samples, T*F)
            Sequences, NaN-padded at the end.

        Returns
        -------
        log_proba : ndarray
            ``log(predict_proba(X))``, of the same shape.
        """
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(self.predict_proba(X))
