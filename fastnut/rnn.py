"""Recurrent networks for sequences: ``RNNClassifier`` and ``RNNRegressor``.

The network is ``num_layers`` recurrent layers (LSTM, GRU or tanh RNN, each
optionally bidirectional, dropout between them), the last one returning its
final state, then an optional dense head (``hidden_layer_sizes``) and the
output ``Dense``.  The time loops run in fastnut's Cython kernel
(``fastnut.nn.LSTM`` / ``GRU`` / ``SimpleRNN``).
"""
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from . import nn
from ._network import (CLASS_WEIGHT_CONSTRAINT, TRAIN_CONSTRAINTS, NetworkClassifier,
                       NetworkRegressor)
from ._sequence_estimator import (SEQUENCE_CONSTRAINTS, NumericSequenceInput,
                                  SequenceClassifierMixin, SequenceEstimatorMixin)

_TRAIN_NAMES = ("solver", "alpha", "batch_size", "learning_rate_init", "max_iter", "shuffle",
                "random_state", "tol", "verbose", "warm_start", "early_stopping",
                "validation_fraction", "n_iter_no_change", "clip_norm", "momentum",
                "nesterovs_momentum", "beta_1", "beta_2", "epsilon", "dtype",
                "lr_schedule", "callbacks")

_CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.SimpleRNN}

class _RNNMixin(NumericSequenceInput):
    _parameter_constraints = {
        "cell": [StrOptions(set(_CELLS))],
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "num_layers": [Interval(Integral, 1, None, closed="left")],
        "bidirectional": ["boolean"],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "hidden_layer_sizes": ["array-like"],
        "input_shape": ["array-like", None],
        **{k: v for k, v in TRAIN_CONSTRAINTS.items() if k in _TRAIN_NAMES},
        "solver": [StrOptions({"sgd", "adam"})],
        **SEQUENCE_CONSTRAINTS,
    }

    #: training values this family does not expose (TrainConfig fields)
    _FIXED_TRAIN_PARAMS = {"learning_rate": "constant", "power_t": 0.5, "max_fun": 15000}

    def _hidden_layers(self, sample_shape):
        cls = _CELLS[self.cell]
        steps = self.output == "sequence"  # every layer keeps the time axis
        layers = []
        for i in range(self.num_layers):
            last = i == self.num_layers - 1
            layers.append(cls(self.hidden_size, return_sequences=steps or not last,
                              bidirectional=self.bidirectional))
            if self.dropout and not last:
                layers.append(nn.Dropout(self.dropout))
        for h in self._hidden_sizes():
            if self.dropout:
                layers.append(nn.Dropout(self.dropout))
            layers.append((nn.TimeDistributedDense if steps else nn.Dense)(h, activation="relu"))
        return layers

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
        if any(int(s) != s or s < 1 for s in sizes):
            raise ValueError(f"hidden_layer_sizes must be positive ints, got {sizes}")
        return [int(s) for s in sizes]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        # allow_nan stays False: NaN is accepted only as trailing padding, not
        # as the missing values scikit-learn's checks put anywhere
        return tags



class RNNClassifier(SequenceClassifierMixin, _RNNMixin, NetworkClassifier):
    """Recurrent neural network classifier for sequences.

    ``[LSTM | GRU | RNN] * num_layers -> dense head -> softmax`` (logistic
    output for binary and multilabel targets), trained on the log-loss with
    Adam or SGD and gradient clipping.  ``X`` may be sequences ``(n, T, F)``,
    ``(n, T)`` (one feature per step), or flat rows ``(n, T*F)`` with
    ``input_shape``; variable lengths are NaN-padded at the end.

    Parameters
    ----------
    cell : {"lstm", "gru", "rnn"}, default="lstm"
        Recurrent cell: LSTM, GRU, or the tanh (Elman) RNN.
    hidden_size : int, default=64
        State width of every recurrent layer.
    num_layers : int, default=1
        Stacked recurrent layers; all but the last pass every step's state on.
    bidirectional : bool, default=False
        Run every recurrent layer in both directions and concatenate them.
    dropout : float, default=0.0
        Dropout rate between stacked recurrent layers and before every dense
        layer (training only).
    hidden_layer_sizes : sequence of int, default=()
        Widths of ReLU dense layers between the last recurrent layer and the
        output.
    input_shape : tuple (T, F) or None, default=None
        Shape of one sequence, needed when ``X`` comes flat as ``(n, T*F)``
        (what a ``Pipeline`` with a scaler passes on).  With ``None``, ``X``
        of shape ``(n, T, F)`` gives the shape itself and 2-D ``X`` of shape
        ``(n, T)`` is one feature per step.
    solver : {"adam", "sgd"}, default="adam"
        Optimizer: Adam, stochastic gradient descent (with momentum) or
        full-batch L-BFGS.
    alpha : float, default=1e-4
        L2 penalty strength on the weights (divided by the batch's
        sample-weight sum).  Under Adam even this small penalty keeps moving
        the weights once the data's gradient is small: it got the GRU off the
        initial plateau of GunPoint (test accuracy 0.92 against 0.72 with
        ``alpha=0``) and cost the digits read as rows about 2 points (0.96
        against 0.98), see ``benchmarks/RESULTS.md``.
    batch_size : int or "auto", default="auto"
        ``min(200, n_samples)`` when "auto".
    learning_rate_init : float, default=1e-2
        Initial step size (sgd and adam).
    max_iter : int, default=200
        Maximum number of epochs.
    shuffle : bool, default=True
        Shuffle the rows before every epoch (sgd and adam).
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, shuffling and the validation split.
    tol : float, default=1e-4
        Improvement of the loss (or validation score) that counts as progress
        for ``n_iter_no_change``; gradient tolerance of lbfgs.
    verbose : bool, default=False
        One line per epoch: loss, validation score (with early stopping), seconds.
    warm_start : bool, default=False
        Continue from the fitted weights, optimizer state and random streams
        (shuffling, noise) at the next fit, for ``max_iter`` more epochs: two
        warm-started halves equal one run, also across a save and load.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, stop when its score
        stalls for ``n_iter_no_change`` epochs, and keep the best weights.
    validation_fraction : float, default=0.1
        Share of the rows held out for ``early_stopping``.
    n_iter_no_change : int or None, default=None
        None runs all ``max_iter`` epochs (with ``early_stopping``, keeping the
        best epoch's weights).  An int stops training when the training loss
        (the validation score with ``early_stopping``) has not improved by
        ``tol`` for more than this many epochs.  Deep and recurrent nets often
        sit on a plateau for their first epochs, which such a rule mistakes for
        convergence, hence no rule unless asked.
    clip_norm : float or None, default=5.0
        Rescale each batch's gradient to at most this global L2 norm
        (recurrent nets are prone to exploding gradients); None disables it.
    momentum : float, default=0.9
        Momentum of the updates (``solver="sgd"``).
    nesterovs_momentum : bool, default=True
        Nesterov's momentum (``solver="sgd"``).
    beta_1 : float, default=0.9
        Adam's decay rate of the first moment.
    beta_2 : float, default=0.999
        Adam's decay rate of the second moment.
    epsilon : float, default=1e-8
        Adam's numerical-stability term.
    class_weight : dict, "balanced" or None, default=None
        Class weights ``{label: weight}`` (labels not listed weigh 1), or
        ``"balanced"``: ``n_samples / (n_classes * np.bincount(y))``, as in
        scikit-learn. Multiplied with ``sample_weight``, in training and in
        the early-stopping validation score. ``partial_fit`` takes a dict, not
        ``"balanced"`` (the class frequencies of one batch are not the data's).
    lr_schedule : Schedule, callable or None, default=None
        Learning rate per epoch for sgd and adam: a ``fastnut.schedules``
        object (``StepDecay``, ``CosineAnnealing``, ``ReduceLROnPlateau``) or
        a callable ``epoch -> learning rate`` (epochs count from 0 over the
        model's life). None keeps ``learning_rate_init`` (and SGD's
        ``learning_rate`` rule where there is one). The rate of each epoch is
        in ``history_``.
    callbacks : list of Callback or None, default=None
        Objects of ``fastnut.callbacks`` (``EarlyStopping``, ``Checkpoint``,
        ``ProgressBar``, ``CSVLogger``) or your own, called at the start of
        each ``fit``/``partial_fit``, after each epoch (returning True stops
        training) and at the end.
    dtype : {np.float32, np.float64}, default=np.float32
        Compute dtype.
    vocab_size : int, "auto" or None, default=None
        Set it for token input: ``X`` is integer token ids of shape ``(n, T)``
        (id 0 is padding: trailing zeros make a sequence shorter), fed
        through ``nn.Embedding(vocab_size, embedding_dim, padding_idx=0)``.
        ``"auto"`` takes the largest id of the training ``X`` + 1, which is
        the vocabulary size of a ``SequenceTokenizer`` before this estimator
        in a pipeline.  None: numeric sequences.
    embedding_dim : int, default=32
        Vector size of the token embedding (with ``vocab_size``).
    output : {"last", "sequence"}, default="last"
        ``"last"``: one output per sequence, from the last recurrent layer's
        final state.  ``"sequence"``: one output per step (tagging, per-step
        regression), see Notes.

    Attributes
    ----------
    sequence_shape_ : tuple (T, F)
        Shape of the training sequences (after padding).  Prediction accepts
        any number of steps ``T`` with the same ``F``.
    vocab_size_ : int
        Only with ``vocab_size``: the number of token ids the embedding has
        (``vocab_size``, or what ``"auto"`` found); ``sequence_shape_`` is
        then ``(T,)`` and ``n_features_in_`` is ``T``.
    network_ : fastnut.nn.Sequential
        The network; ``network_.layers[0].params["weight_ih"]`` holds the
        first layer's input weights in PyTorch's layout.
    loss_ : float
    loss_curve_ : list of float
        Training loss per epoch.
    best_loss_ : float or None
    validation_scores_ : list of float or None
        Validation score per epoch with early stopping.
    best_validation_score_ : float or None
    n_iter_ : int
    t_ : int
        Number of training samples seen.
    n_features_in_ : int
        ``T*F`` of the training sequences.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only for 2-D input with string column names.
    n_outputs_ : int
    n_layers_ : int
    classes_ : ndarray of shape (n_classes,)

    Notes
    -----
    Sequences of different lengths are padded at the end with NaN: trailing
    steps that are NaN in every feature are padding, skipped by the recurrent
    layers (the state at each sequence's last valid step is what the head
    sees; the reverse direction starts there).  NaN anywhere else, or
    infinity, is a ``ValueError``.  With 2-D ``X`` and one feature per step,
    a trailing NaN is a padded step.

    Token input (``vocab_size`` set): ``X`` holds integer ids, as ints or as
    floats without fractional part; padding is id 0 at the end of a
    sequence, and a padded sequence gets exactly the prediction it gets
    alone.  NaN, fractional values, negative ids, ids ``>= vocab_size`` and
    all-padding sequences are a ``ValueError``; strings a ``TypeError``
    (``SequenceTokenizer`` turns text into ids).  Prediction accepts any
    number of steps ``T``.

    With ``output="sequence"``, ``y`` has shape ``(n, T)``: one label per
    step of ``X``.  A missing label is NaN (float ``y``) or None (object
    ``y``); labels at padded steps of ``X`` are ignored whatever they hold.
    The loss is the mean log-loss over the counted steps
    (``nn.MaskedStepLoss``).  ``predict`` returns ``(n, T)`` labels, with
    NaN at padded steps in a float array when the classes are numbers or
    booleans, and None in an object array otherwise (either is a valid
    ``y``); ``predict_proba`` returns ``(n, T, n_classes)``, NaN at padded
    steps; ``score`` is the accuracy over the counted steps, each weighted
    by its sequence's ``sample_weight``.  ``class_weight`` is not available
    in this mode.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from fastnut import RNNClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = RNNClassifier(input_shape=(8, 8), hidden_size=16, batch_size=20,
    ...                     learning_rate_init=1e-2, max_iter=10, random_state=0)
    >>> clf.fit(X[::2] / 16, y[::2]).score(X[1::2] / 16, y[1::2]) > 0.9  # rows as steps
    True
"""

    _parameter_constraints = {**_RNNMixin._parameter_constraints, **CLASS_WEIGHT_CONSTRAINT}

    def __init__(self, cell="lstm", hidden_size=64, num_layers=1, bidirectional=False,
                 dropout=0.0, hidden_layer_sizes=(), input_shape=None, *, solver="adam",
                 alpha=1e-4, batch_size="auto", learning_rate_init=1e-2, max_iter=200,
                 shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 early_stopping=False, validation_fraction=0.1, n_iter_no_change=None,
                 clip_norm=5.0, momentum=0.9, nesterovs_momentum=True, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-8,
                 class_weight=None,
                 lr_schedule=None, callbacks=None, dtype=np.float32, vocab_size=None,
                 embedding_dim=32, output="last"):
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.hidden_layer_sizes = hidden_layer_sizes
        self.input_shape = input_shape
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.clip_norm = clip_norm
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.class_weight = class_weight
        self.lr_schedule = lr_schedule
        self.callbacks = callbacks
        self.dtype = dtype
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.output = output


class RNNRegressor(SequenceEstimatorMixin, _RNNMixin, NetworkRegressor):
    """Recurrent neural network regressor for sequences.

    ``[LSTM | GRU | RNN] * num_layers -> dense head -> identity output``,
    trained on the squared error with Adam or SGD and gradient clipping; one
    or several targets per sequence (e.g. the next values of a series from a
    window).  ``X`` may be sequences ``(n, T, F)``, ``(n, T)`` (one feature
    per step), or flat rows ``(n, T*F)`` with ``input_shape``; variable
    lengths are NaN-padded at the end.

    Parameters
    ----------
    cell : {"lstm", "gru", "rnn"}, default="lstm"
        Recurrent cell: LSTM, GRU, or the tanh (Elman) RNN.
    hidden_size : int, default=64
        State width of every recurrent layer.
    num_layers : int, default=1
        Stacked recurrent layers; all but the last pass every step's state on.
    bidirectional : bool, default=False
        Run every recurrent layer in both directions and concatenate them.
    dropout : float, default=0.0
        Dropout rate between stacked recurrent layers and before every dense
        layer (training only).
    hidden_layer_sizes : sequence of int, default=()
        Widths of ReLU dense layers between the last recurrent layer and the
        output.
    input_shape : tuple (T, F) or None, default=None
        Shape of one sequence, needed when ``X`` comes flat as ``(n, T*F)``
        (what a ``Pipeline`` with a scaler passes on).  With ``None``, ``X``
        of shape ``(n, T, F)`` gives the shape itself and 2-D ``X`` of shape
        ``(n, T)`` is one feature per step.
    solver : {"adam", "sgd"}, default="adam"
        Optimizer: Adam, stochastic gradient descent (with momentum) or
        full-batch L-BFGS.
    alpha : float, default=1e-4
        L2 penalty strength on the weights (divided by the batch's
        sample-weight sum).  Under Adam even this small penalty keeps moving
        the weights once the data's gradient is small (for ``RNNClassifier``
        it got a GRU off GunPoint's initial plateau and cost the digits read
        as rows about 2 points, see ``benchmarks/RESULTS.md``).
    batch_size : int or "auto", default="auto"
        ``min(200, n_samples)`` when "auto".
    learning_rate_init : float, default=1e-2
        Initial step size (sgd and adam).
    max_iter : int, default=200
        Maximum number of epochs.
    shuffle : bool, default=True
        Shuffle the rows before every epoch (sgd and adam).
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, shuffling and the validation split.
    tol : float, default=1e-4
        Improvement of the loss (or validation score) that counts as progress
        for ``n_iter_no_change``; gradient tolerance of lbfgs.
    verbose : bool, default=False
        One line per epoch: loss, validation score (with early stopping), seconds.
    warm_start : bool, default=False
        Continue from the fitted weights, optimizer state and random streams
        (shuffling, noise) at the next fit, for ``max_iter`` more epochs: two
        warm-started halves equal one run, also across a save and load.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, stop when its score
        stalls for ``n_iter_no_change`` epochs, and keep the best weights.
    validation_fraction : float, default=0.1
        Share of the rows held out for ``early_stopping``.
    n_iter_no_change : int or None, default=None
        None runs all ``max_iter`` epochs (with ``early_stopping``, keeping the
        best epoch's weights).  An int stops training when the training loss
        (the validation score with ``early_stopping``) has not improved by
        ``tol`` for more than this many epochs.  Deep and recurrent nets often
        sit on a plateau for their first epochs, which such a rule mistakes for
        convergence, hence no rule unless asked.
    clip_norm : float or None, default=5.0
        Rescale each batch's gradient to at most this global L2 norm
        (recurrent nets are prone to exploding gradients); None disables it.
    momentum : float, default=0.9
        Momentum of the updates (``solver="sgd"``).
    nesterovs_momentum : bool, default=True
        Nesterov's momentum (``solver="sgd"``).
    beta_1 : float, default=0.9
        Adam's decay rate of the first moment.
    beta_2 : float, default=0.999
        Adam's decay rate of the second moment.
    epsilon : float, default=1e-8
        Adam's numerical-stability term.
    lr_schedule : Schedule, callable or None, default=None
        Learning rate per epoch for sgd and adam: a ``fastnut.schedules``
        object (``StepDecay``, ``CosineAnnealing``, ``ReduceLROnPlateau``) or
        a callable ``epoch -> learning rate`` (epochs count from 0 over the
        model's life). None keeps ``learning_rate_init`` (and SGD's
        ``learning_rate`` rule where there is one). The rate of each epoch is
        in ``history_``.
    callbacks : list of Callback or None, default=None
        Objects of ``fastnut.callbacks`` (``EarlyStopping``, ``Checkpoint``,
        ``ProgressBar``, ``CSVLogger``) or your own, called at the start of
        each ``fit``/``partial_fit``, after each epoch (returning True stops
        training) and at the end.
    dtype : {np.float32, np.float64}, default=np.float32
        Compute dtype.
    vocab_size : int, "auto" or None, default=None
        Set it for token input: ``X`` is integer token ids of shape ``(n, T)``
        (id 0 is padding: trailing zeros make a sequence shorter), fed
        through ``nn.Embedding(vocab_size, embedding_dim, padding_idx=0)``.
        ``"auto"`` takes the largest id of the training ``X`` + 1, which is
        the vocabulary size of a ``SequenceTokenizer`` before this estimator
        in a pipeline.  None: numeric sequences.
    embedding_dim : int, default=32
        Vector size of the token embedding (with ``vocab_size``).
    output : {"last", "sequence"}, default="last"
        ``"last"``: one output per sequence, from the last recurrent layer's
        final state.  ``"sequence"``: one output per step (tagging, per-step
        regression), see Notes.

    Attributes
    ----------
    sequence_shape_ : tuple (T, F)
        Shape of the training sequences (after padding).  Prediction accepts
        any number of steps ``T`` with the same ``F``.
    vocab_size_ : int
        Only with ``vocab_size``: the number of token ids the embedding has
        (``vocab_size``, or what ``"auto"`` found); ``sequence_shape_`` is
        then ``(T,)`` and ``n_features_in_`` is ``T``.
    network_ : fastnut.nn.Sequential
        The network; ``network_.layers[0].params["weight_ih"]`` holds the
        first layer's input weights in PyTorch's layout.
    loss_ : float
    loss_curve_ : list of float
        Training loss per epoch.
    best_loss_ : float or None
    validation_scores_ : list of float or None
        Validation score per epoch with early stopping.
    best_validation_score_ : float or None
    n_iter_ : int
    t_ : int
        Number of training samples seen.
    n_features_in_ : int
        ``T*F`` of the training sequences.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only for 2-D input with string column names.
    n_outputs_ : int
    n_layers_ : int

    Notes
    -----
    Sequences of different lengths are padded at the end with NaN: trailing
    steps that are NaN in every feature are padding, skipped by the recurrent
    layers (the state at each sequence's last valid step is what the head
    sees; the reverse direction starts there).  NaN anywhere else, or
    infinity, is a ``ValueError``.  With 2-D ``X`` and one feature per step,
    a trailing NaN is a padded step.

    Token input (``vocab_size`` set): ``X`` holds integer ids, as ints or as
    floats without fractional part; padding is id 0 at the end of a
    sequence, and a padded sequence gets exactly the prediction it gets
    alone.  NaN, fractional values, negative ids, ids ``>= vocab_size`` and
    all-padding sequences are a ``ValueError``; strings a ``TypeError``
    (``SequenceTokenizer`` turns text into ids).  Prediction accepts any
    number of steps ``T``.

    With ``output="sequence"``, ``y`` has shape ``(n, T)`` or ``(n, T, k)``:
    values per step of ``X``, NaN where missing (each value on its own);
    targets at padded steps of ``X`` are ignored.  The loss is half the mean
    squared error over the present values (``nn.MaskedStepLoss``).
    ``predict`` returns the shape of ``y`` (``(n, T)`` for one target) with
    NaN at padded steps, and ``score`` is R² over the present values (per
    target, averaged), each weighted by its sequence's ``sample_weight``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnut import RNNRegressor
    >>> t = np.arange(1200) * 0.1
    >>> series = np.sin(t) + 0.5 * np.sin(0.31 * t)
    >>> X = np.lib.stride_tricks.sliding_window_view(series[:-1], 20)  # (n, 20) windows
    >>> y = series[20:]                                               # the next value
    >>> reg = RNNRegressor(hidden_size=16, max_iter=10, random_state=0).fit(X[:900], y[:900])
    >>> reg.score(X[900:], y[900:]) > 0.9
    True
"""

    def __init__(self, cell="lstm", hidden_size=64, num_layers=1, bidirectional=False,
                 dropout=0.0, hidden_layer_sizes=(), input_shape=None, *, solver="adam",
                 alpha=1e-4, batch_size="auto", learning_rate_init=1e-2, max_iter=200,
                 shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 early_stopping=False, validation_fraction=0.1, n_iter_no_change=None,
                 clip_norm=5.0, momentum=0.9, nesterovs_momentum=True, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-8,
                 lr_schedule=None, callbacks=None, dtype=np.float32, vocab_size=None,
                 embedding_dim=32, output="last"):
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.hidden_layer_sizes = hidden_layer_sizes
        self.input_shape = input_shape
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.clip_norm = clip_norm
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.lr_schedule = lr_schedule
        self.callbacks = callbacks
        self.dtype = dtype
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.output = output
