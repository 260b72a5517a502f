"""Convolutional networks for sequences: ``SequenceCNNClassifier`` and ``SequenceCNNRegressor``.

The default network is the fully convolutional network (FCN) of Wang, Yan and
Oates (2017), "Time series classification from scratch with deep neural
networks: a strong baseline" (IJCNN 2017), the standard baseline of deep
time-series classification::

    [Conv1D(128, 8) -> BatchNorm -> ReLU] -> [Conv1D(256, 5) -> BatchNorm -> ReLU]
        -> [Conv1D(128, 3) -> BatchNorm -> ReLU] -> global average pooling -> Dense

(``"same"`` padding, so every block keeps the sequence's length).
``architecture="resnet"`` is the same paper's residual network: three
residual blocks of three such convolutions (kernels 8, 5, 3; 64, 128 and 128
filters), the last without its ReLU, added to a shortcut (a 1x1 convolution
and batch normalisation where the width changes, batch normalisation
otherwise), then a ReLU; global average pooling and the output layer.

Sequences are read exactly as ``RNNClassifier`` reads them
(``fastnut._validation.check_sequences``): ``(n, T, F)``, ``(n, T)`` (one
feature per step) or flat ``(n, T*F)`` with ``input_shape``, shorter ones
NaN-padded at the end.  Every layer honours the padding (``fastnut.nn``'s
sequence rule): a padded step is the zero padding after the sequence's end
for the convolutions, it enters no batch statistics, and global pooling
averages the valid steps only, so a padded sequence gets exactly the
prediction it gets alone.  The convolutions, batch normalisation and pooling
run in fastnut's Cython kernels (``fastnut.nn.Conv1D``, ``BatchNorm1D``,
``GlobalAvgPool1D``).
"""
from numbers import Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from . import nn
from ._network import (CLASS_WEIGHT_CONSTRAINT, TRAIN_CONSTRAINTS, NetworkClassifier,
                       NetworkRegressor)
from ._sequence_estimator import (SEQUENCE_CONSTRAINTS, NumericSequenceInput,
                                  SequenceClassifierMixin, SequenceEstimatorMixin)

_TRAIN_NAMES = ("solver", "alpha", "batch_size", "learning_rate_init", "max_iter", "shuffle",
                "random_state", "tol", "verbose", "warm_start", "early_stopping",
                "validation_fraction", "n_iter_no_change", "momentum", "nesterovs_momentum",
                "beta_1", "beta_2", "epsilon", "dtype", "lr_schedule", "callbacks")

#: Wang et al.'s widths: one entry per block (FCN) or per residual block (ResNet)
DEFAULT_FILTERS = {"fcn": (128, 256, 128), "resnet": (64, 128, 128)}


def _positive_ints(value, name):
    try:
        values = [value] if np.isscalar(value) else list(value)
        ok = len(values) > 0 and all(
            not isinstance(v, (bool, np.bool_)) and float(v) == int(v) and v >= 1
            for v in values)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"{name} must be a non-empty sequence of positive ints; got {value!r}")
    return [int(v) for v in values]


def _conv_bn(filters, kernel, relu=True):
    """``Conv1D -> BatchNorm1D (-> ReLU, fused)``; no convolution bias (the
    normalisation's shift replaces it)."""
    return [nn.Conv1D(filters, kernel, padding="same", use_bias=False),
            nn.BatchNorm1D(activation="relu" if relu else "identity")]


class _SequenceCNNMixin(NumericSequenceInput):
    _parameter_constraints = {
        "architecture": [StrOptions({"fcn", "resnet"})],
        "n_filters": ["array-like", None],
        "kernel_sizes": ["array-like"],
        "hidden_layer_sizes": ["array-like"],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "input_shape": ["array-like", None],
        **{k: v for k, v in TRAIN_CONSTRAINTS.items() if k in _TRAIN_NAMES},
        "solver": [StrOptions({"sgd", "adam"})],
        **SEQUENCE_CONSTRAINTS,
    }

    #: training values this family does not expose (TrainConfig fields)
    _FIXED_TRAIN_PARAMS = {"learning_rate": "constant", "power_t": 0.5, "max_fun": 15000,
                           "clip_norm": None}

    def _widths(self):
        """(filters per block, kernel sizes) after checking the parameters."""
        filters = (DEFAULT_FILTERS[self.architecture] if self.n_filters is None
                   else self.n_filters)
        filters = _positive_ints(filters, "n_filters")
        kernels = _positive_ints(self.kernel_sizes, "kernel_sizes")
        if self.architecture == "fcn" and len(kernels) != len(filters):
            raise ValueError(
                f"architecture='fcn' takes one kernel size per block: n_filters={filters} "
                f"has {len(filters)} blocks, kernel_sizes={kernels} {len(kernels)}")
        return filters, kernels

    def _feature_layers(self):
        """The convolutional part, from the input to the global pooling."""
        filters, kernels = self._widths()
        layers = []
        if self.architecture == "fcn":
            for f, k in zip(filters, kernels):
                layers += _conv_bn(f, k)
        else:
            width = None  # the input's features, known at build: the first block projects
            for f in filters:
                body = []
                for i, k in enumerate(kernels):
                    body += _conv_bn(f, k, relu=i < len(kernels) - 1)
                if width == f:
                    shortcut = nn.BatchNorm1D()
                else:
                    shortcut = nn.Sequential([nn.Conv1D(f, 1, use_bias=False),
                                              nn.BatchNorm1D()])
                layers += [nn.Residual(body, shortcut=shortcut), nn.Activation("relu")]
                width = f
        if self.output != "sequence":  # per-step outputs keep the time axis
            layers.append(nn.GlobalAvgPool1D())
        return layers

    def _hidden_layers(self, sample_shape):
        layers = self._feature_layers()
        dense = nn.TimeDistributedDense if self.output == "sequence" else nn.Dense
        for h in self._hidden_sizes():
            if self.dropout:
                layers.append(nn.Dropout(self.dropout))
            layers.append(dense(h, activation="relu"))
        if self.dropout:
            layers.append(nn.Dropout(self.dropout))
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


_PARAMS_DOC = """
    Parameters
    ----------
    architecture : {"fcn", "resnet"}, default="fcn"
        ``"fcn"``: Wang et al.'s fully convolutional network, one
        ``Conv1D -> BatchNorm -> ReLU`` block per entry of ``n_filters``.
        ``"resnet"``: their residual network, one residual block per entry
        of ``n_filters``, each of ``len(kernel_sizes)`` such convolutions
        (the last without ReLU) plus a shortcut (1x1 convolution and batch
        normalisation where the width changes, batch normalisation
        otherwise), followed by a ReLU.  Both end in global average pooling.
    n_filters : sequence of int or None, default=None
        Filters of each block: None is the paper's, ``(128, 256, 128)`` for
        fcn and ``(64, 128, 128)`` for resnet.  Fewer or narrower blocks
        (e.g. ``(32, 64, 32)``) train faster on small data sets.
    kernel_sizes : sequence of int, default=(8, 5, 3)
        Kernel size of each block's convolution (fcn: one per block, as many
        as ``n_filters``) or of the convolutions inside every residual block
        (resnet).  All convolutions use ``"same"`` padding and stride 1.
    hidden_layer_sizes : sequence of int, default=()
        Widths of ReLU dense layers between the global pooling and the
        output (the paper has none).
    dropout : float, default=0.0
        Dropout rate before every dense layer (training only).
    input_shape : tuple (T, F) or None, default=None
        Shape of one sequence, needed when ``X`` comes flat as ``(n, T*F)``
        (what a ``Pipeline`` with a scaler passes on).  With ``None``, ``X``
        of shape ``(n, T, F)`` gives the shape itself and 2-D ``X`` of shape
        ``(n, T)`` is one feature per step.
    solver : {"adam", "sgd"}, default="adam"
        Optimizer: Adam or stochastic gradient descent (with momentum).
    alpha : float, default=1e-4
        L2 penalty strength on the weights (divided by the batch's
        sample-weight sum).
    batch_size : int or "auto", default=16
        Rows per mini-batch (the paper's 16; clipped to the number of rows);
        "auto" is ``min(200, n_samples)``.
    learning_rate_init : float, default=1e-3
        Initial step size (the paper's Adam rate).
    max_iter : int, default=200
        Maximum number of epochs.  The paper trains 2000 (fcn) and 1500
        (resnet); on the UCR/UEA sets of benchmarks/RESULTS.md 200 epochs
        gave the FCN 0.95-1.0 test accuracy on four of five sets, mostly
        reached by epoch 100, while ArrowHead was still improving (more
        epochs, or ``lr_schedule``, for such sets).
    shuffle : bool, default=True
        Shuffle the rows before every epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, shuffling and the validation split.
    tol : float, default=1e-4
        Improvement of the loss (or validation score) that counts as progress
        for ``n_iter_no_change``.
    verbose : bool, default=False
        One line per epoch: loss, validation score (with early stopping), seconds.
    warm_start : bool, default=False
        Continue from the fitted weights, running statistics, optimizer state
        and random streams at the next fit, for ``max_iter`` more epochs: two
        warm-started halves equal one run, also across a save and load.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, stop when its score
        stalls for ``n_iter_no_change`` epochs, and keep the best weights
        (and the running statistics of that epoch).
    validation_fraction : float, default=0.1
        Share of the rows held out for ``early_stopping``.
    n_iter_no_change : int or None, default=None
        None runs all ``max_iter`` epochs (with ``early_stopping``, keeping the
        best epoch's weights).  An int stops training when the training loss
        (the validation score with ``early_stopping``) has not improved by
        ``tol`` for more than this many epochs.
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
%(class_weight)s    lr_schedule : Schedule, callable or None, default=None
        Learning rate per epoch: a ``fastnut.schedules`` object (the paper
        halves the rate when the training loss stalls for 50 epochs:
        ``ReduceLROnPlateau(factor=0.5, patience=50, min_lr=1e-4)``) or a
        callable ``epoch -> learning rate``.  None keeps
        ``learning_rate_init``.  The rate of each epoch is in ``history_``.
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
        through ``nn.Embedding(vocab_size, embedding_dim, padding_idx=0)``
        before the convolutions.  ``"auto"`` takes the largest id of the
        training ``X`` + 1, the vocabulary size of a ``SequenceTokenizer``
        before this estimator in a pipeline.  None: numeric sequences.
    embedding_dim : int, default=32
        Vector size of the token embedding (with ``vocab_size``).
    output : {"last", "sequence"}, default="last"
        ``"last"``: one output per sequence, after global average pooling.
        ``"sequence"``: one output per step (tagging, per-step regression):
        no pooling, ``hidden_layer_sizes`` and the output layer are applied
        at every step, and missing targets (NaN, or None in an object ``y``)
        and padded steps are left out of the loss and of ``score``.  The
        ``"same"`` convolutions see past and future steps.

    Attributes
    ----------
    sequence_shape_ : tuple (T, F)
        Shape of the training sequences (after padding).  Prediction accepts
        any number of steps ``T`` with the same ``F``.
    vocab_size_ : int
        Only with ``vocab_size``: the number of token ids the embedding has
        (``vocab_size``, or what ``"auto"`` found); ``sequence_shape_`` is
        then ``(T,)``.
    network_ : fastnut.nn.Sequential
        The network; ``network_.layers[0].params["weight"]`` holds the first
        convolution's filters in PyTorch's layout ``(C_out, F, k)``, and
        ``network_.buffers`` the running statistics.
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
%(classes)s
%(see_also)s
    Notes
    -----
    Sequences of different lengths are padded at the end with NaN: trailing
    steps that are NaN in every feature are padding.  The convolutions read
    them as the zeros after the sequence's end, batch normalisation leaves
    them out of its statistics and global average pooling averages the
    valid steps only, so a padded sequence gets the prediction it gets
    alone.  NaN anywhere else, or infinity, is a ``ValueError``.  With 2-D
    ``X`` and one feature per step, a trailing NaN is a padded step.

    Batch normalisation uses batch statistics in training and its running
    statistics (fitted state, in ``network_.buffers``) in prediction, so a
    row's prediction never depends on the other rows.

    References
    ----------
    Z. Wang, W. Yan and T. Oates, "Time series classification from scratch
    with deep neural networks: A strong baseline", IJCNN 2017.
"""

_CLASS_WEIGHT_DOC = """    class_weight : dict, "balanced" or None, default=None
        Class weights ``{label: weight}`` (labels not listed weigh 1), or
        ``"balanced"``: ``n_samples / (n_classes * np.bincount(y))``, as in
        scikit-learn. Multiplied with ``sample_weight``, in training and in
        the early-stopping validation score. ``partial_fit`` takes a dict, not
        ``"balanced"`` (the class frequencies of one batch are not the data's).
"""


class SequenceCNNClassifier(SequenceClassifierMixin, _SequenceCNNMixin, NetworkClassifier):
    __doc__ = """Convolutional neural network classifier for sequences (time series).

    Wang et al.'s fully convolutional network (default) or residual network:
    ``[Conv1D -> BatchNorm -> ReLU] * 3 -> global average pooling -> softmax``
    (logistic output for binary and multilabel targets), trained on the
    log-loss with Adam.  ``X`` may be sequences ``(n, T, F)``, ``(n, T)``
    (one feature per step), or flat rows ``(n, T*F)`` with ``input_shape``;
    variable lengths are NaN-padded at the end (the input rules of
    ``RNNClassifier``).
""" + _PARAMS_DOC % {"class_weight": _CLASS_WEIGHT_DOC,
                     "classes": "    classes_ : ndarray of shape (n_classes,)\n",
                     "see_also": "    See Also\n    --------\n"
                                 "    RNNClassifier : recurrent networks on the same input.\n"} + """
    Examples
    --------
    >>> import numpy as np
    >>> from fastnut import SequenceCNNClassifier
    >>> rng = np.random.default_rng(0)
    >>> t = np.linspace(0, 1, 40)
    >>> y = rng.integers(0, 2, 120)
    >>> X = np.sin(2 * np.pi * (2 + 3 * y)[:, None] * t) + 0.3 * rng.normal(size=(120, 40))
    >>> clf = SequenceCNNClassifier(n_filters=(16, 32, 16), max_iter=10, random_state=0)
    >>> clf.fit(X[:80], y[:80]).score(X[80:], y[80:]) > 0.9
    True
"""

    _parameter_constraints = {**_SequenceCNNMixin._parameter_constraints,
                              **CLASS_WEIGHT_CONSTRAINT}

    def __init__(self, architecture="fcn", n_filters=None, kernel_sizes=(8, 5, 3), *,
                 hidden_layer_sizes=(), dropout=0.0, input_shape=None, solver="adam",
                 alpha=1e-4, batch_size=16, learning_rate_init=1e-3, max_iter=200,
                 shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 early_stopping=False, validation_fraction=0.1, n_iter_no_change=None,
                 momentum=0.9, nesterovs_momentum=True, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, class_weight=None, lr_schedule=None, callbacks=None,
                 dtype=np.float32, vocab_size=None, embedding_dim=32, output="last"):
        self.architecture = architecture
        self.n_filters = n_filters
        self.kernel_sizes = kernel_sizes
        self.hidden_layer_sizes = hidden_layer_sizes
        self.dropout = dropout
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


class SequenceCNNRegressor(SequenceEstimatorMixin, _SequenceCNNMixin, NetworkRegressor):
    __doc__ = """Convolutional neural network regressor for sequences (time series).

    Wang et al.'s fully convolutional network (default) or residual network
    with an identity output: ``[Conv1D -> BatchNorm -> ReLU] * 3 -> global
    average pooling -> Dense``, trained on the squared error with Adam; one
    or several targets per sequence.  ``X`` may be sequences ``(n, T, F)``,
    ``(n, T)`` (one feature per step), or flat rows ``(n, T*F)`` with
    ``input_shape``; variable lengths are NaN-padded at the end (the input
    rules of ``RNNRegressor``).
""" + _PARAMS_DOC % {"class_weight": "", "classes": "",
                     "see_also": "    See Also\n    --------\n"
                                 "    RNNRegressor : recurrent networks on the same input.\n"} + """
    Examples
    --------
    >>> import numpy as np
    >>> from fastnut import SequenceCNNRegressor
    >>> rng = np.random.default_rng(0)
    >>> t = np.linspace(0, 1, 40)
    >>> freq = rng.uniform(1, 4, 200)
    >>> X = np.sin(2 * np.pi * freq[:, None] * t)       # y: each series' frequency
    >>> reg = SequenceCNNRegressor(n_filters=(16, 32, 16), max_iter=30, random_state=0)
    >>> reg.fit(X[:150], freq[:150]).score(X[150:], freq[150:]) > 0.8
    True
"""

    def __init__(self, architecture="fcn", n_filters=None, kernel_sizes=(8, 5, 3), *,
                 hidden_layer_sizes=(), dropout=0.0, input_shape=None, solver="adam",
                 alpha=1e-4, batch_size=16, learning_rate_init=1e-3, max_iter=200,
                 shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 early_stopping=False, validation_fraction=0.1, n_iter_no_change=None,
                 momentum=0.9, nesterovs_momentum=True, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, lr_schedule=None, callbacks=None, dtype=np.float32,
                 vocab_size=None, embedding_dim=32, output="last"):
        self.architecture = architecture
        self.n_filters = n_filters
        self.kernel_sizes = kernel_sizes
        self.hidden_layer_sizes = hidden_layer_sizes
        self.dropout = dropout
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
